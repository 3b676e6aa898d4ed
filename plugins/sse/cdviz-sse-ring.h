/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "cdviz-sse-query.h"

G_BEGIN_DECLS

/* The ring of the last formatted frames of an SSE sink, and the cursor
 * arithmetic of its clients. Every frame gets the next sequence number
 * (0, 1, 2…); the ring holds [oldest, next). It is bounded twice: at most
 * `capacity` frames and at most `max_bytes` bytes of frames (0: no byte
 * bound); the oldest frames are dropped when either bound is exceeded, but
 * the newest frame is always kept. A client is a cursor: the sequence
 * number of the next frame it will be sent; whichever bound dropped the
 * frames it had not read, cdviz_sse_ring_catch_up() says how many. Beside
 * each frame the ring keeps what a client's filter looks at (the event's
 * type and subject id), computed once per event, so that filtering never
 * parses nor formats anything per client. Not thread-safe: the sink
 * serialises calls with its mutex. */

typedef struct _CdvizSseRing CdvizSseRing;

CdvizSseRing *cdviz_sse_ring_new            (guint          capacity,
                                             guint64        max_bytes);
void          cdviz_sse_ring_free           (CdvizSseRing  *ring);

guint         cdviz_sse_ring_get_capacity   (CdvizSseRing  *ring);
guint64       cdviz_sse_ring_get_max_bytes  (CdvizSseRing  *ring);
guint         cdviz_sse_ring_get_length     (CdvizSseRing  *ring);
guint64       cdviz_sse_ring_get_bytes      (CdvizSseRing  *ring);
guint64       cdviz_sse_ring_get_oldest     (CdvizSseRing  *ring);
guint64       cdviz_sse_ring_get_next       (CdvizSseRing  *ring);

guint64       cdviz_sse_ring_push           (CdvizSseRing  *ring,
                                             const char    *id,
                                             GBytes        *frame);
guint64       cdviz_sse_ring_push_event     (CdvizSseRing  *ring,
                                             const char    *id,
                                             const char    *type,
                                             const char    *subject,
                                             GBytes        *frame);
GBytes       *cdviz_sse_ring_peek           (CdvizSseRing  *ring,
                                             guint64        seq);

guint64       cdviz_sse_ring_resume_cursor  (CdvizSseRing  *ring,
                                             const char    *last_event_id,
                                             gboolean      *found);
guint64       cdviz_sse_ring_replay_cursor  (CdvizSseRing  *ring,
                                             guint64        n,
                                             const CdvizSseFilter *filter);
guint64       cdviz_sse_ring_catch_up       (CdvizSseRing  *ring,
                                             guint64       *cursor);
guint         cdviz_sse_ring_collect        (CdvizSseRing  *ring,
                                             guint64       *cursor,
                                             GBytes       **frames,
                                             guint          max_frames,
                                             gsize          max_bytes,
                                             gsize         *out_bytes);
guint         cdviz_sse_ring_collect_filtered (CdvizSseRing  *ring,
                                             guint64       *cursor,
                                             const CdvizSseFilter *filter,
                                             GBytes       **frames,
                                             guint          max_frames,
                                             gsize          max_bytes,
                                             gsize         *out_bytes);
guint         cdviz_sse_ring_collect_skipping (CdvizSseRing  *ring,
                                             guint64       *cursor,
                                             const CdvizSseFilter *filter,
                                             GBytes       **frames,
                                             guint          max_frames,
                                             gsize          max_bytes,
                                             gsize         *out_bytes,
                                             guint64       *out_trailing);
GBytes       *cdviz_sse_ring_id_frame       (CdvizSseRing  *ring,
                                             guint64        seq);

/* At most this many frames are looked at by one collect: a client whose
 * filter skips everything does not hold the lock for the whole ring. */
#define CDVIZ_SSE_RING_MAX_SCAN 1024

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizSseRing, cdviz_sse_ring_free)

G_END_DECLS
