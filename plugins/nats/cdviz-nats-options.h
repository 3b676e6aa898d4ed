/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>
#include <nats/nats.h>

G_BEGIN_DECLS

/* The NATS keys as the cdviz-collector documentation site spells them
 * (docs/cdviz-collector/sinks/nats.md, sources/nats.md), shared by the
 * source and the sink: `url` (cdviz-collector's code says `servers`),
 * `credentials` (a .creds file), `token`, `queue_group` (source) and a
 * `[… .jetstream]` table (sink: `enabled`, `stream`; source: `enabled`,
 * `stream`, `durable`, `deliver_policy`, `ack_policy`). They install as
 * properties of the component's class from @first_prop_id on, and
 * cdviz_nats_options_resolve() folds them onto the native keys at init.
 * Plugin-private; called on the thread that builds the pipeline. */

typedef enum {
  CDVIZ_NATS_OPTION_URL,
  CDVIZ_NATS_OPTION_CREDENTIALS,
  CDVIZ_NATS_OPTION_TOKEN,
  CDVIZ_NATS_OPTION_JETSTREAM,
  CDVIZ_NATS_OPTION_QUEUE_GROUP,   /* source only */
  CDVIZ_NATS_N_OPTIONS
} CdvizNatsOption;

typedef struct {
  char *url;
  char *credentials;
  char *token;
  JsonNode *jetstream;
  char *queue_group;
  /* by cdviz_nats_options_resolve () */
  jsDeliverPolicy deliver_policy;
  gboolean deliver_policy_set;
} CdvizNatsOptions;

/* The native keys the options fold onto; NULL members are not set. */
typedef struct {
  char **servers;
  int *mode;          /* CdvizNatsMode */
  char **stream;
  char **consumer;    /* source only: NULL for the sink */
} CdvizNatsNativeKeys;

void      cdviz_nats_options_install      (GObjectClass            *klass,
                                           guint                    first_prop_id,
                                           gboolean                 source);
/* Return FALSE when @prop_id is not an option's. */
gboolean  cdviz_nats_options_get_property (const CdvizNatsOptions  *options,
                                           guint                    first_prop_id,
                                           guint                    prop_id,
                                           GValue                  *value);
gboolean  cdviz_nats_options_set_property (CdvizNatsOptions        *options,
                                           guint                    first_prop_id,
                                           guint                    prop_id,
                                           const GValue            *value);
void      cdviz_nats_options_clear        (CdvizNatsOptions        *options);

gboolean  cdviz_nats_options_resolve      (CdvizNatsOptions        *options,
                                           const CdvizNatsNativeKeys *native,
                                           GError                 **error);

/* Applies `credentials`, `token` and, for tls:// servers, TLS to @opts. */
natsStatus cdviz_nats_options_apply       (const CdvizNatsOptions  *options,
                                           char                   **servers,
                                           natsOptions             *opts);

G_END_DECLS
