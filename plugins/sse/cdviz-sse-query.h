/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The query string of a stream request (`GET /sse/<id>?…`), parsed: what
 * an EventSource polyfill sends instead of the Last-Event-ID header
 * (`lastEventId`), the history a new client asks for (`replay`), and the
 * client's filter (`type`, `subject`: shell-style globs, repeatable). Other
 * keys are ignored. Pure: no I/O; a filter is immutable once parsed, so
 * any thread may match with it. */

#define CDVIZ_SSE_QUERY_ERROR (cdviz_sse_query_error_quark ())

typedef enum {
  CDVIZ_SSE_QUERY_ERROR_INVALID,
} CdvizSseQueryError;

GQuark cdviz_sse_query_error_quark (void);

#define CDVIZ_SSE_FILTER_MAX_PATTERNS 32
#define CDVIZ_SSE_FILTER_MAX_PATTERN_LENGTH 256

/* Which events a client is sent: those whose context.type matches one of
 * @types (when given) and whose subject.id matches one of @subjects (when
 * given). OR within a key, AND across keys. */
typedef struct {
  GPtrArray *types;      /* nullable: GPatternSpec, any type when NULL */
  GPtrArray *subjects;   /* nullable: GPatternSpec, any subject when NULL */
} CdvizSseFilter;

gboolean cdviz_sse_filter_match (const CdvizSseFilter *filter,
                                 const char           *type,
                                 gsize                 type_length,
                                 const char           *subject,
                                 gsize                 subject_length);
void     cdviz_sse_filter_free  (CdvizSseFilter       *filter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseFilter, cdviz_sse_filter_free)

typedef struct {
  CdvizSseFilter *filter;  /* nullable: no `type` nor `subject` key */
  char *last_event_id;   /* nullable: `lastEventId`, decoded */
  gboolean has_replay;
  guint64 replay;        /* `replay`: saturates at G_MAXUINT64 */
} CdvizSseQuery;

CdvizSseQuery *cdviz_sse_query_parse (const char     *query,
                                      GError        **error);
void           cdviz_sse_query_free  (CdvizSseQuery  *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseQuery, cdviz_sse_query_free)

G_END_DECLS
