/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_HTTP_STREAM (cdviz_http_stream_get_type ())
G_DECLARE_FINAL_TYPE (CdvizHttpStream, cdviz_http_stream, CDVIZ, HTTP_STREAM, GIOStream)

/* Called on the HTTP thread when libsoup closes a stream whose last
 * request was refused with cdviz_http_stream_refuse(): the socket's write
 * side is shut down, and the caller drains and closes it (lingering close). */
typedef gboolean (*CdvizHttpStreamCloseFunc) (CdvizHttpStream *stream,
                                              gpointer         user_data);

CdvizHttpStream *cdviz_http_stream_new        (GIOStream                 *base,
                                               GSocket                   *socket,
                                               CdvizHttpStreamCloseFunc   closing,
                                               gpointer                   user_data);
GIOStream       *cdviz_http_stream_get_base   (CdvizHttpStream           *self);
GSocket         *cdviz_http_stream_get_socket (CdvizHttpStream           *self);
void             cdviz_http_stream_refuse     (CdvizHttpStream           *self,
                                               GBytes                    *response);
void             cdviz_http_stream_detach     (CdvizHttpStream           *self);
guint64          cdviz_http_stream_get_requests (CdvizHttpStream         *self);
gboolean         cdviz_http_stream_framing_failed (CdvizHttpStream       *self);
gboolean         cdviz_http_stream_is_refused (CdvizHttpStream           *self);

G_END_DECLS
