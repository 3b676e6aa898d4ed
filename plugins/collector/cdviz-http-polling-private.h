/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>

#include "cdviz-vrl-runtime.h"

G_BEGIN_DECLS

/* The http_polling source's parts that need no network
 * (cdviz-http-polling-driver.c): plugin-private, any thread. */

/* Where the first time window starts without `ts_after`. */
#define BEGINNING_OF_TIME "1970-01-01T00:00:00Z"

typedef enum {
  ROUTE_PIPELINE = 1,
  ROUTE_FEEDBACK = 2,
  ROUTE_BOTH = 3            /* both bits */
} CdvizPollRoute;
typedef enum {
  BEHAVIOR_SKIP,
  BEHAVIOR_HOLD,
  BEHAVIOR_RETRY,
  BEHAVIOR_ABORT
} CdvizPollBehavior;

typedef struct {
  char *url;          /* with the query */
  char *method;
  JsonObject *headers; /* (nullable) */
  char *body;         /* (nullable) */
  CdvizPollRoute route;
  char *parser;       /* (nullable): the source's */
  guint depth;
  JsonNode *state;    /* (nullable) */
} CdvizPollRequest;

void               _cdviz_poll_request_free         (gpointer                data);

/* Runs @driver on { metadata = { ts_after, ts_before }, state, request,
 * response } (@request and @response NULL at the start of a poll) and
 * appends the requests it sets to @worklist, each with the `.state` the
 * target holds afterwards (as upstream reads it back: a driver that does not
 * set it passes on the state it got) (depth: @request's + 1; none
 * past @max_depth, said in a warning). FALSE, with a warning, when the
 * program fails or sets no `.requests` array. */
gboolean           _cdviz_poll_run_driver           (CdvizVrlProgram        *driver,
                                                     const char             *ts_after,
                                                     const char             *ts_before,
                                                     guint                   max_depth,
                                                     const CdvizPollRequest *request,
                                                     JsonNode               *response,
                                                     GQueue                 *worklist);

/* What a non-2xx @status does: `on_status`'s code, then class, then
 * upstream's defaults (401/403 abort, 5xx hold, others skip). */
CdvizPollBehavior  _cdviz_poll_resolve_status       (JsonNode               *on_status,
                                                     guint                   status);

/* Now − 1 s, as RFC 3339 (the end of a poll's window). */
char              *_cdviz_poll_now_minus_one_second (void);
gint               _cdviz_poll_compare_timestamps   (const char             *a,
                                                     const char             *b);

/* Config checks; errors name the key. */
gboolean           _cdviz_poll_check_timestamp      (const char             *key,
                                                     const char             *value,
                                                     GError                **error);
gboolean           _cdviz_poll_check_on_status      (JsonNode               *on_status,
                                                     GError                **error);

/* The window's start saved by a previous run in the pipeline's state store
 * ([class@Cdviz.State]), as cdviz-collector's `[state]` (`kind = "fs"`)
 * keeps it: ROOT/SOURCE/checkpoint.json = { "ts_after" }. NULL when there
 * is none (a broken file: a warning). */
char              *_cdviz_poll_load_checkpoint      (CdvizState             *state,
                                                     const char             *source_name);
/* Saves it (atomically); a failure is a warning. */
void               _cdviz_poll_save_checkpoint      (CdvizState             *state,
                                                     const char             *source_name,
                                                     const char             *ts_after);

G_END_DECLS
