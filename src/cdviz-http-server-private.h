/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-header-validator.h"
#include "cdviz-http-connections-private.h"
#include "cdviz-http-server.h"

G_BEGIN_DECLS

/* Shared by cdviz-http-server.c (the object and its lifecycle) and
 * cdviz-http-routes.c (routes, built-in endpoints, dispatch). */

typedef struct {
  char *owner;
  SoupServerCallback callback;
  gpointer user_data;
  GDestroyNotify destroy;
  SoupServerCallback early_callback;
  gpointer early_user_data;
  GDestroyNotify early_destroy;
  guint64 max_body_size;
  CdvizHeaderValidator *validator;   /* nullable */
  guint64 rejected;                  /* by the validator; atomic */
  char **methods;                    /* allowed; NULL: any */
  char *allow;                       /* the Allow header for a 405 */
  gboolean thread_safe;              /* its handlers may run on any HTTP thread */
  int closed;                        /* atomic: answered 503 */
  char *closed_reason;               /* set before start */
} Route;

typedef struct {
  CdvizMetricsFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} MetricsEntry;

/* One HTTP thread: its context, its SoupServer and its connections. The
 * first one accepts for every thread. */
typedef struct {
  CdvizHttpServer *owner;
  guint index;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;
  CdvizHttpConnections *connections;
} HttpWorker;

struct _CdvizHttpServer
{
  GObject parent_instance;

  /* construct-only properties */
  char *host;
  char *root_url;
  guint port;
  GTlsCertificate *tls_certificate;
  GTlsProtocolVersion tls_min_version;
  CdvizHttpLimits limits;        /* timeouts, max_connections */
  guint max_headers;
  gsize max_header_size;

  guint n_threads;

  guint bound_port;
  GMainContext *context;          /* the first thread's = contexts[0] */
  GMainContext **contexts;        /* n_threads, made at construction */
  HttpWorker *workers;            /* n_threads, from start to stop */
  CdvizHttpConnections **all_connections;  /* each worker's, for /metrics */
  int running;                    /* atomic: between start and stop */
  GMutex metrics_lock;            /* one /metrics at a time */

  GHashTable *routes;     /* path → Route; frozen once started */
  GArray *metrics;        /* MetricsEntry; frozen once started */
  int ready;              /* atomic */
  gboolean started;

  guint64 refused_headers;  /* atomic */
};


#define DEFAULT_ROUTE_MAX_BODY_SIZE (1024 * 1024)

#define COUNTER_ADD(field, n) __atomic_fetch_add (&(field), (n), __ATOMIC_RELAXED)
#define COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

/* The worker whose thread calls, or NULL off the HTTP threads. */
HttpWorker *_cdviz_http_server_get_current_worker (void);
gboolean _cdviz_http_server_check_routes (CdvizHttpServer  *self,
                                          GError          **error);
/* Every HTTP thread's context ([0] = cdviz_http_server_get_context()). */
GMainContext **_cdviz_http_server_get_contexts (CdvizHttpServer *self,
                                                guint           *n_contexts);

void _cdviz_http_route_free          (gpointer data);
void _cdviz_http_metrics_entry_clear (gpointer data);
/* The libsoup handlers of the server (added at start). */
void _cdviz_http_server_callback     (SoupServer        *server,
                                      SoupServerMessage *msg,
                                      const char        *path,
                                      GHashTable        *query,
                                      gpointer           user_data);
void _cdviz_http_early_callback      (SoupServer        *server,
                                      SoupServerMessage *msg,
                                      const char        *path,
                                      GHashTable        *query,
                                      gpointer           user_data);

G_END_DECLS
