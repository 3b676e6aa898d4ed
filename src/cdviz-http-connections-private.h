/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * CdvizHttpConnections: the connections of a CdvizHttpServer, from accept()
 * to close, and everything libsoup 3.2.3 does not do for a server facing
 * untrusted clients. Private to the server; every function runs on the HTTP
 * thread, except new/free (before start, after stop).
 */
typedef struct _CdvizHttpConnections CdvizHttpConnections;

typedef struct {
  guint64 header_timeout_ms;
  guint64 idle_timeout_ms;
  guint64 body_timeout_ms;
  guint max_connections;           /* 0: only the descriptor limit */
  GTlsCertificate *tls_certificate; /* nullable */
} CdvizHttpLimits;

/* Set on a message while it counts as in flight (read, not answered). */
#define CDVIZ_HTTP_IN_FLIGHT_KEY "cdviz-in-flight"
/* RFC 6585; libsoup 3.2.3 knows neither the code nor its phrase. */
#define CDVIZ_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE 431

CdvizHttpConnections *_cdviz_http_connections_new   (GMainContext          *context,
                                                     const CdvizHttpLimits *limits);
void      _cdviz_http_connections_free              (CdvizHttpConnections  *self);
gboolean  _cdviz_http_connections_start             (CdvizHttpConnections  *self,
                                                     SoupServer            *server,
                                                     GSocket               *listener,
                                                     GError               **error);
void      _cdviz_http_connections_stop              (CdvizHttpConnections  *self);
guint     _cdviz_http_connections_get_limit         (CdvizHttpConnections  *self);
gboolean  _cdviz_http_connections_expects_body      (SoupServerMessage     *msg);
void      _cdviz_http_connections_got_headers       (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg);
void      _cdviz_http_connections_refuse_body       (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg);
GIOStream *_cdviz_http_connections_steal            (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg,
                                                     GSocket              **socket);
void      _cdviz_http_connections_append_metrics    (CdvizHttpConnections  *self,
                                                     GString               *out);

G_END_DECLS
