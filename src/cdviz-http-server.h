/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <libsoup/soup.h>

#include "cdviz-header-validator.h"
#include "cdviz-version.h"

G_BEGIN_DECLS

/**
 * CDVIZ_HTTP_SERVER_ERROR:
 *
 * Error domain of [class@HttpServer].
 */
#define CDVIZ_HTTP_SERVER_ERROR (cdviz_http_server_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_http_server_error_quark (void);

/**
 * CdvizHttpServerError:
 * @CDVIZ_HTTP_SERVER_ERROR_DUPLICATE_ROUTE: the path is already served
 * @CDVIZ_HTTP_SERVER_ERROR_LISTEN: the address cannot be listened on
 * @CDVIZ_HTTP_SERVER_ERROR_STATE: the call came at the wrong time (e.g. a
 *   route added after the server started)
 * @CDVIZ_HTTP_SERVER_ERROR_NOT_THREAD_SAFE: the server has several HTTP
 *   threads and a route's handlers may run on one only
 *
 * Errors of the HTTP server.
 */
typedef enum {
  CDVIZ_HTTP_SERVER_ERROR_DUPLICATE_ROUTE,
  CDVIZ_HTTP_SERVER_ERROR_LISTEN,
  CDVIZ_HTTP_SERVER_ERROR_STATE,
  CDVIZ_HTTP_SERVER_ERROR_NOT_THREAD_SAFE,
} CdvizHttpServerError;

/**
 * CdvizMetricsFunc:
 * @out: the Prometheus text being built; append to it
 * @user_data: the data given with the function
 *
 * Appends metrics in the Prometheus text exposition format. Called on an
 * HTTP thread for every `GET /metrics`, never by two threads at once.
 */
typedef void (*CdvizMetricsFunc) (GString  *out,
                                  gpointer  user_data);

#define CDVIZ_TYPE_HTTP_SERVER (cdviz_http_server_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizHttpServer, cdviz_http_server, CDVIZ, HTTP_SERVER, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizHttpServer *cdviz_http_server_new             (const char        *host,
                                                    guint              port);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_http_server_add_handler     (CdvizHttpServer   *self,
                                                    const char        *path,
                                                    const char        *owner,
                                                    SoupServerCallback callback,
                                                    gpointer           user_data,
                                                    GDestroyNotify     destroy,
                                                    GError           **error);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_early_handler (CdvizHttpServer    *self,
                                                      const char         *path,
                                                      SoupServerCallback  callback,
                                                      gpointer            user_data,
                                                      GDestroyNotify      destroy);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_max_body_size (CdvizHttpServer *self,
                                                      const char      *path,
                                                      guint64          max_body_size);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_header_validator (CdvizHttpServer      *self,
                                                         const char           *path,
                                                         CdvizHeaderValidator *validator);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_methods     (CdvizHttpServer    *self,
                                                    const char         *path,
                                                    const char * const *methods);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_route_open  (CdvizHttpServer   *self,
                                                    const char        *path,
                                                    gboolean           open,
                                                    const char        *reason);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_thread_safe (CdvizHttpServer   *self,
                                                    const char        *path,
                                                    gboolean           thread_safe);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_http_check_route_id         (const char        *kind,
                                                    const char        *id,
                                                    GError           **error);
CDVIZ_AVAILABLE_IN_1_0
guint64          cdviz_http_server_get_rejected    (CdvizHttpServer   *self,
                                                    const char        *path);
CDVIZ_AVAILABLE_IN_1_0
GIOStream       *cdviz_http_server_steal_connection (CdvizHttpServer    *self,
                                                     SoupServerMessage  *msg,
                                                     GSocket           **socket);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_add_metrics_func (CdvizHttpServer  *self,
                                                     CdvizMetricsFunc  func,
                                                     gpointer          user_data,
                                                     GDestroyNotify    destroy);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_add_shared_metrics (CdvizHttpServer  *self,
                                                       const char       *key,
                                                       CdvizMetricsFunc  func,
                                                       GObject          *component);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_http_server_is_tls          (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_http_server_start           (CdvizHttpServer   *self,
                                                    GError           **error);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_stop            (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_set_ready       (CdvizHttpServer   *self,
                                                    gboolean           ready);
CDVIZ_AVAILABLE_IN_1_0
guint            cdviz_http_server_get_port        (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
const char      *cdviz_http_server_get_host        (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
const char      *cdviz_http_server_get_root_url    (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
char            *cdviz_http_server_dup_default_source (CdvizHttpServer *self,
                                                       const char      *source_name);
CDVIZ_AVAILABLE_IN_1_0
GMainContext    *cdviz_http_server_get_context     (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_http_server_is_running      (CdvizHttpServer   *self);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_invoke_sync     (CdvizHttpServer   *self,
                                                    GSourceFunc        func,
                                                    gpointer           data);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_server_invoke_sync_all (CdvizHttpServer   *self,
                                                    GSourceFunc        func,
                                                    gpointer           data);

CDVIZ_AVAILABLE_IN_1_0
void             cdviz_http_respond_error          (SoupServerMessage *msg,
                                                    guint              status,
                                                    const char        *detail);

G_END_DECLS
