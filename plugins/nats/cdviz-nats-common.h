/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>
#include <nats/nats.h>

#include "cdviz-nats-options.h"

G_BEGIN_DECLS

/* What the NATS source and sink share: the `mode` enum, the connection
 * (every server of `servers`, reconnecting for ever with libnats'
 * reconnect logic), JetStream stream checks, subject matching, /metrics.
 * Plugin-private. */

typedef enum {
  CDVIZ_NATS_MODE_CORE,
  CDVIZ_NATS_MODE_JETSTREAM,
} CdvizNatsMode;

#define CDVIZ_TYPE_NATS_MODE (cdviz_nats_mode_get_type ())
GType cdviz_nats_mode_get_type (void);

/* Connection state and counters, updated by libnats' callbacks (its own
 * threads) and by the worker; read by /metrics on the HTTP thread. */
typedef struct {
  int connected;        /* atomic: 0 or 1 */
  int reconnects;       /* atomic */
  int disconnects;      /* atomic */
} CdvizNatsConnState;

/* @servers: comma-separated URLs, as cdviz-collector's `servers`. Returns
 * the trimmed, non-empty URLs, or NULL with @error set. */
char       **cdviz_nats_split_servers   (const char          *servers,
                                         GError             **error);

/* Connects to @servers (blocking for at most about @timeout_ms per server),
 * authenticating as @options say; afterwards libnats reconnects for ever,
 * trying every server. @label names the component in logs. */
natsConnection *cdviz_nats_connect      (char               **servers,
                                         const CdvizNatsOptions *options,
                                         const char          *label,
                                         guint64              timeout_ms,
                                         CdvizNatsConnState  *state,
                                         GError             **error);

/* Makes sure the JetStream stream @stream exists; creates it capturing
 * @subject when @create, with @replicas replicas. */
gboolean     cdviz_nats_ensure_stream   (jsCtx               *js,
                                         const char          *stream,
                                         const char          *subject,
                                         gboolean             create,
                                         int                  replicas,
                                         const char          *label,
                                         GError             **error);

/* Sets @error from a libnats status (and JetStream error code, 0 if none),
 * prefixed with @what; always returns FALSE. */
gboolean     cdviz_nats_set_error       (GError             **error,
                                         natsStatus           status,
                                         jsErrCode            jerr,
                                         const char          *what);

/* NATS subject matching: `*` matches one token, `>` one or more trailing
 * tokens. Pure. */
gboolean     cdviz_nats_subject_matches (const char          *filter,
                                         const char          *subject);

/* Validates a subject (publish: no wildcards) or a filter. Pure. */
gboolean     cdviz_nats_subject_is_valid (const char         *subject,
                                          gboolean            wildcards);

/* /metrics: one sample function per component, registered once per HTTP
 * server; @sample appends the component's lines. Families are declared by
 * cdviz-nats-common.c. */
typedef void (*CdvizNatsMetricsFunc) (gpointer  component,
                                      GString  *out,
                                      guint     family);

typedef enum {
  CDVIZ_NATS_METRIC_CONNECTED,
  CDVIZ_NATS_METRIC_RECONNECTS,
  CDVIZ_NATS_METRIC_MESSAGES,
  CDVIZ_NATS_METRIC_FAILURES,
  CDVIZ_NATS_METRIC_QUEUE,
  CDVIZ_NATS_METRIC_REPLAYED,
  CDVIZ_NATS_N_METRICS
} CdvizNatsMetric;

void         cdviz_nats_register_metrics (CdvizHttpServer    *http,
                                          GObject            *component,
                                          CdvizNatsMetricsFunc func);
/* Appends `family{kind="…",name="…"} value`. */
void         cdviz_nats_append_sample    (GString            *out,
                                          guint               family,
                                          const char         *kind,
                                          const char         *name,
                                          guint64             value);

G_END_DECLS
