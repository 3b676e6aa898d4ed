/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-sse-writer.h"

G_BEGIN_DECLS

/* A fan-out thread of the SSE sink: it owns the clients it adopted and
 * writes the ring's new frames to them. One GMainContext per thread, with
 * three sources: an epoll descriptor watching every client's socket (input
 * always, output only while bytes are pending), a wake-up source (new
 * frames, new clients, the end) and one keep-alive timer for all its
 * clients, armed for the client that wrote least recently. Every client
 * leaves through one door, with a CdvizSseWriterStatus counted in the
 * feed. Plugin-private.
 *
 * Threads: new() and free() on the thread that starts and stops the sink;
 * adopt() on the HTTP thread; wake() on any thread (the pipeline thread
 * calls it after each frame); finish_streams() and join() on the stopping
 * thread, once adopt() will no longer be called. */

typedef struct _CdvizSseFanout CdvizSseFanout;

CdvizSseFanout *cdviz_sse_fanout_new            (CdvizSseFeed    *feed,
                                                 guint            index,
                                                 const char      *id,
                                                 guint64          keep_alive_ms,
                                                 GError         **error);
void            cdviz_sse_fanout_free           (CdvizSseFanout  *self);

int             cdviz_sse_fanout_get_n_clients  (CdvizSseFanout  *self);
void            cdviz_sse_fanout_adopt          (CdvizSseFanout  *self,
                                                 CdvizSseWriter  *client);
void            cdviz_sse_fanout_wake           (CdvizSseFanout  *self);
void            cdviz_sse_fanout_finish_streams (CdvizSseFanout  *self,
                                                 gint64           deadline);
void            cdviz_sse_fanout_join           (CdvizSseFanout  *self);

G_END_DECLS
