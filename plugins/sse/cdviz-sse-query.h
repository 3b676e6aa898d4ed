/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The query string of a stream request (`GET /sse/<id>?…`), parsed: what
 * an EventSource polyfill sends instead of the Last-Event-ID header
 * (`lastEventId`) and the history a new client asks for (`replay`). Other
 * keys are ignored. Pure: no I/O, any thread. */

#define CDVIZ_SSE_QUERY_ERROR (cdviz_sse_query_error_quark ())

typedef enum {
  CDVIZ_SSE_QUERY_ERROR_INVALID,
} CdvizSseQueryError;

GQuark cdviz_sse_query_error_quark (void);

typedef struct {
  char *last_event_id;   /* nullable: `lastEventId`, decoded */
  gboolean has_replay;
  guint64 replay;        /* `replay`: saturates at G_MAXUINT64 */
} CdvizSseQuery;

CdvizSseQuery *cdviz_sse_query_parse (const char     *query,
                                      GError        **error);
void           cdviz_sse_query_free  (CdvizSseQuery  *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseQuery, cdviz_sse_query_free)

G_END_DECLS
