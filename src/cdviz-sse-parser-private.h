/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The parser of an SSE stream (WHATWG HTML, "Server-sent events", §9.2.6),
 * a pure unit: bytes in, events out, no I/O. CdvizSseClient feeds it what
 * it reads; tests/test-sse-parser.c and tests/fuzz/fuzz-sse-parser.c drive
 * it directly.
 *
 * - A UTF-8 byte order mark at the start of a stream is skipped (one, and
 *   only there); invalid UTF-8 becomes U+FFFD.
 * - Lines end with CRLF, LF or CR, also when a CRLF is split between two
 *   feeds.
 * - `:` starts a comment; `field: value` (one space after the colon is
 *   dropped); a line without a colon is a field with an empty value.
 * - `data` lines are joined with LF; `event` sets the type (default
 *   `message`); `id` sets the last event id unless the value holds a NUL
 *   (then the line is ignored), an empty `id:` resets it; `retry` takes
 *   ASCII digits only; other fields are ignored.
 * - A blank line dispatches: the last event id is updated even when there
 *   is no data (such an update is returned as an event with @data NULL,
 *   so that a reader that tracks ids sees it in order), and no event is
 *   dispatched without data.
 * - An event or line longer than @max_size bytes is discarded whole and
 *   counted (::n_oversized); the stream continues after it.
 * - A partial event at the end of a stream is discarded (_reset()). */

typedef struct {
  char *type;        /* (nullable): NULL only for an id-only update */
  char *id;          /* (nullable): the last event id at dispatch (spec) */
  char *data;        /* (nullable): NULL for an id-only update */
  gsize data_len;
} CdvizSseEvent;

typedef struct _CdvizSseParser CdvizSseParser;

CdvizSseParser *_cdviz_sse_parser_new          (gsize            max_size);
void            _cdviz_sse_parser_free         (CdvizSseParser  *parser);
/* A new connection: a BOM may come again, the partial event, the partial
 * line and the queued events are dropped; the last event id stays. */
void            _cdviz_sse_parser_reset        (CdvizSseParser  *parser);
/* Parses @length bytes and queues the events they complete. */
void            _cdviz_sse_parser_feed         (CdvizSseParser  *parser,
                                                const guint8    *data,
                                                gsize            length);
/* The oldest queued event (caller frees it), or NULL. */
CdvizSseEvent  *_cdviz_sse_parser_pop          (CdvizSseParser  *parser);
guint           _cdviz_sse_parser_n_queued     (CdvizSseParser  *parser);
/* The last `retry:` value received, in ms, or -1; then forgets it. */
gint64          _cdviz_sse_parser_take_retry   (CdvizSseParser  *parser);
/* The last event id string (spec: persists across connections). */
const char     *_cdviz_sse_parser_get_last_id  (CdvizSseParser  *parser);
void            _cdviz_sse_parser_set_last_id  (CdvizSseParser  *parser,
                                                const char      *id);
guint64         _cdviz_sse_parser_n_oversized  (CdvizSseParser  *parser);

void            _cdviz_sse_event_free          (CdvizSseEvent   *event);

/* `lagged: N messages skipped` (the SSE sink's and cdviz-collector's
 * notice): N, or 0 when @data is not such a notice. */
guint64         _cdviz_sse_parse_lagged        (const char      *data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseParser, _cdviz_sse_parser_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseEvent, _cdviz_sse_event_free)

G_END_DECLS
