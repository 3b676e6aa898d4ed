/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Server-Sent Events frames, byte for byte (design §5). Pure functions, no
 * I/O: every frame is formatted once and shared by every client. */

/**
 * CDVIZ_SSE_FRAME_KEEP_ALIVE:
 *
 * The comment frame sent after a period of silence.
 */
#define CDVIZ_SSE_FRAME_KEEP_ALIVE ": keep-alive\n\n"

gboolean  cdviz_sse_frame_id_is_valid (const char   *id);

GBytes   *cdviz_sse_frame_event       (const char   *id,
                                       const char   *data,
                                       gsize         length);

GBytes   *cdviz_sse_frame_id          (const char   *id);
GBytes   *cdviz_sse_frame_error       (const char   *message);

GBytes   *cdviz_sse_frame_lagged      (guint64       skipped);

GBytes   *cdviz_sse_frame_retry       (guint64       retry_ms);

gsize     cdviz_sse_chunk_header      (gsize         length,
                                       char         *buffer,
                                       gsize         buffer_size);

G_END_DECLS
