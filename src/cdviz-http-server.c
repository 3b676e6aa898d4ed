/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include <json-glib/json-glib.h>

#include "cdviz-http-server.h"
#include "cdviz-http-server-private.h"

/**
 * CdvizHttpServer:
 *
 * The one HTTP server of a pipeline (`[http]`), running on a thread and
 * #GMainContext of its own (or several: #CdvizHttpServer:threads).
 * Components register exact paths with [method@HttpServer.add_handler]
 * before the server starts; their callbacks run on the HTTP thread, and
 * nothing else touches libsoup objects.
 *
 * Built-in routes: `/healthz` (200 while the process runs), `/readyz` (200
 * while the pipeline accepts events, 503 while it starts or shuts down) and
 * `/metrics` (Prometheus text format). Any other unknown path is answered
 * 404 with a short JSON body.
 *
 * Hostile clients. A connection must deliver the complete headers of its
 * first request within the header timeout (a slow client, one byte a
 * second, is disconnected), and a kept-alive connection must start its
 * next request within the idle timeout and then deliver its headers within
 * the header timeout. Requests with more headers than the maximum, or
 * whose headers are larger than the maximum size, are answered 431 and the
 * connection is closed (libsoup 3.2.3 itself drops a connection whose
 * request head exceeds 64 KiB before it reaches the server). At most the maximum number of
 * connections are open at once (counting SSE streams); more are closed as
 * soon as they are accepted. With a TLS certificate the server speaks HTTPS
 * only.
 *
 * The server accepts connections itself, not through libsoup's listener
 * (which stops accepting for good after one failed accept, e.g. when the
 * process runs out of descriptors), and hands each to libsoup through a
 * #CdvizHttpStream that checks the framing of every request: ambiguous
 * framing (Content-Length with Transfer-Encoding, two Content-Lengths,
 * `Content-Length: -1`, chunk sizes such as `0x5`…) is answered 400 and the
 * connection closed before libsoup sees it. A request whose answer is known
 * from its head (an unknown path, a route that takes no body, a body over
 * the route's limit, a header rule that failed) is answered at once, and
 * its body is never read: the connection is closed after a short
 * lingering drain.
 */

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_TLS_CERTIFICATE,
  PROP_TLS_MIN_VERSION,
  PROP_HEADER_TIMEOUT,
  PROP_BODY_TIMEOUT,
  PROP_IDLE_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_HEADERS,
  PROP_MAX_HEADER_SIZE,
  PROP_ROOT_URL,
  PROP_REQUEST_TIMEOUT,
  PROP_ACCESS_LOG_FILTER,
  PROP_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 60000
#define DEFAULT_BODY_TIMEOUT_MS 60000
#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_MAX_HEADERS 100
#define DEFAULT_MAX_HEADER_SIZE (64 * 1024)
#define LISTEN_BACKLOG 4096
#define MAX_THREADS 64

/* The worker of the calling HTTP thread. */
static GPrivate current_worker;

G_DEFINE_FINAL_TYPE (CdvizHttpServer, cdviz_http_server, G_TYPE_OBJECT)
/**
 * cdviz_http_server_error_quark:
 *
 * The error domain of [enum@HttpServerError], also available as
 * %CDVIZ_HTTP_SERVER_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-http-server-error-quark, cdviz_http_server_error)

static void
cdviz_http_server_finalize (GObject *object)
{
  CdvizHttpServer *self = CDVIZ_HTTP_SERVER (object);

  /* Stopped by its owner, which may not drop its last reference on the
   * HTTP thread (that would join the thread from itself). */
  if (self->running)
    g_critical ("A CdvizHttpServer is finalized while it runs: call "
                "cdviz_http_server_stop() first");
  cdviz_http_server_stop (self);

  g_clear_pointer (&self->routes, g_hash_table_unref);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->metrics, g_array_unref);
  if (self->contexts != NULL)
    for (guint i = 0; i < self->n_threads; i++)
      g_main_context_unref (self->contexts[i]);
  g_clear_pointer (&self->contexts, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->metrics_lock);
  g_free (self->host);
  g_free (self->root_url);
  g_strfreev (self->limits.access_log_filter);

  G_OBJECT_CLASS (cdviz_http_server_parent_class)->finalize (object);
}

static void
cdviz_http_server_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdvizHttpServer *self = CDVIZ_HTTP_SERVER (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, cdviz_http_server_get_port (self));
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;
    case PROP_TLS_MIN_VERSION:
      g_value_set_enum (value, self->tls_min_version);
      break;
    case PROP_HEADER_TIMEOUT:
      g_value_set_uint64 (value, self->limits.header_timeout_ms);
      break;
    case PROP_BODY_TIMEOUT:
      g_value_set_uint64 (value, self->limits.body_timeout_ms);
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint64 (value, self->limits.idle_timeout_ms);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, self->limits.max_connections);
      break;
    case PROP_MAX_HEADERS:
      g_value_set_uint (value, self->max_headers);
      break;
    case PROP_MAX_HEADER_SIZE:
      g_value_set_uint (value, (guint) self->max_header_size);
      break;
    case PROP_ROOT_URL:
      g_value_set_string (value, self->root_url);
      break;
    case PROP_REQUEST_TIMEOUT:
      g_value_set_uint64 (value, self->limits.request_timeout_ms);
      break;
    case PROP_ACCESS_LOG_FILTER:
      g_value_set_boxed (value, self->limits.access_log_filter);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->n_threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_http_server_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  CdvizHttpServer *self = CDVIZ_HTTP_SERVER (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_free (self->host);
      self->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_TLS_CERTIFICATE:
      g_set_object (&self->tls_certificate, g_value_get_object (value));
      break;
    case PROP_TLS_MIN_VERSION:
      self->tls_min_version = g_value_get_enum (value);
      if (self->tls_min_version != G_TLS_PROTOCOL_VERSION_TLS_1_3)
        self->tls_min_version = G_TLS_PROTOCOL_VERSION_TLS_1_2;
      break;
    case PROP_HEADER_TIMEOUT:
      self->limits.header_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_BODY_TIMEOUT:
      self->limits.body_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_IDLE_TIMEOUT:
      self->limits.idle_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_MAX_CONNECTIONS:
      self->limits.max_connections = g_value_get_uint (value);
      break;
    case PROP_MAX_HEADERS:
      self->max_headers = g_value_get_uint (value);
      break;
    case PROP_MAX_HEADER_SIZE:
      self->max_header_size = g_value_get_uint (value);
      break;
    case PROP_ROOT_URL:
      g_free (self->root_url);
      self->root_url = g_value_dup_string (value);
      break;
    case PROP_REQUEST_TIMEOUT:
      self->limits.request_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_ACCESS_LOG_FILTER:
      g_strfreev (self->limits.access_log_filter);
      self->limits.access_log_filter = g_value_dup_boxed (value);
      break;
    case PROP_THREADS:
      self->n_threads = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void cdviz_http_server_constructed (GObject *object);

static void
cdviz_http_server_class_init (CdvizHttpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = cdviz_http_server_constructed;
  object_class->finalize = cdviz_http_server_finalize;
  object_class->get_property = cdviz_http_server_get_property;
  object_class->set_property = cdviz_http_server_set_property;

  /**
   * CdvizHttpServer:host:
   *
   * The address to listen on: an IP address (`127.0.0.1`, `0.0.0.0`, `::`)
   * or a host name.
   */
  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL,
                         "Address to listen on: an IP address (`0.0.0.0`, `::` for every interface) or a host name",
                         "127.0.0.1", flags);
  /**
   * CdvizHttpServer:port:
   *
   * The TCP port; 0 picks a free one. Once started, the port listened on.
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL,
                       "TCP port; 0 picks a free port (the log line “Listening on …” shows it)",
                       0, 65535, 8080, flags);
  /**
   * CdvizHttpServer:tls-certificate:
   *
   * The server's certificate with its private key (see
   * g_tls_certificate_new_from_files()); with one, the server speaks HTTPS
   * only.
   */
  properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL, "Certificate and key; HTTPS only when set",
                         G_TYPE_TLS_CERTIFICATE, flags);
  /**
   * CdvizHttpServer:tls-min-version:
   *
   * The oldest TLS version accepted: %G_TLS_PROTOCOL_VERSION_TLS_1_2 (with
   * forward-secret AEAD suites only) or %G_TLS_PROTOCOL_VERSION_TLS_1_3. It
   * goes through glib-networking's `G_TLS_GNUTLS_PRIORITY`, read once per
   * process when the first TLS connection is made; when the environment sets
   * it already, it wins.
   */
  properties[PROP_TLS_MIN_VERSION] =
    g_param_spec_enum ("tls-min-version", NULL, "Oldest TLS version accepted",
                       G_TYPE_TLS_PROTOCOL_VERSION, G_TLS_PROTOCOL_VERSION_TLS_1_2, flags);
  /**
   * CdvizHttpServer:header-timeout:
   *
   * How long, in milliseconds, a client may take to send the complete
   * headers of a request (for a new connection, from the moment it is
   * accepted, TLS handshake included; for a kept-alive one, from the first
   * byte of its next request). A slower client is disconnected. 0 disables
   * it.
   */
  properties[PROP_HEADER_TIMEOUT] =
    g_param_spec_uint64 ("header-timeout", NULL, "Milliseconds to send a request's headers; 0: none",
                         0, G_MAXUINT32, DEFAULT_HEADER_TIMEOUT_MS, flags);
  /**
   * CdvizHttpServer:body-timeout:
   *
   * How long, in milliseconds, a client may take to send the body of a
   * request once its headers are in. A slower client is disconnected and
   * its request not handled. 0 disables it.
   */
  properties[PROP_BODY_TIMEOUT] =
    g_param_spec_uint64 ("body-timeout", NULL, "Milliseconds to send a request's body; 0: none",
                         0, G_MAXUINT32, DEFAULT_BODY_TIMEOUT_MS, flags);
  /**
   * CdvizHttpServer:idle-timeout:
   *
   * How long, in milliseconds, a kept-alive connection may stay idle
   * between two requests. 0 disables it.
   */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_uint64 ("idle-timeout", NULL, "Milliseconds a kept-alive connection may idle; 0: none",
                         0, G_MAXUINT32, DEFAULT_IDLE_TIMEOUT_MS, flags);
  /**
   * CdvizHttpServer:max-connections:
   *
   * How many connections (SSE streams included) may be open at once; more
   * are closed as soon as they are accepted. At start it is lowered to fit
   * the descriptor limit. 0: only the descriptor limit.
   */
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL, "Open connections at most; 0: the descriptor limit",
                       0, 1048576, DEFAULT_MAX_CONNECTIONS, flags);
  /**
   * CdvizHttpServer:max-headers:
   *
   * Requests with more header fields are answered 431 and their
   * connection closed. 0: no limit.
   */
  properties[PROP_MAX_HEADERS] =
    g_param_spec_uint ("max-headers", NULL, "Header fields of a request at most; 0: no limit",
                       0, 100000, DEFAULT_MAX_HEADERS, flags);
  /**
   * CdvizHttpServer:max-header-size:
   *
   * Requests whose header fields are larger, in bytes, are answered 431 and
   * their connection closed. 0: no limit of the server's own (libsoup 3.2.3
   * drops a request head over 64 KiB whatever the setting).
   */
  properties[PROP_MAX_HEADER_SIZE] =
    g_param_spec_uint ("max-header-size", NULL, "Bytes of a request's header fields at most; 0: no limit",
                       0, 1048576, DEFAULT_MAX_HEADER_SIZE, flags);
  /**
   * CdvizHttpServer:root-url:
   *
   * The server's public URL (cdviz-collector's `[http] root_url`), or
   * %NULL; sources build their default `context.source` from it.
   */
  properties[PROP_ROOT_URL] =
    g_param_spec_string ("root-url", NULL,
                         "The server's public URL; the default context.source of a source's "
                         "events is ROOT_URL?source=NAME",
                         NULL, flags);
  /**
   * CdvizHttpServer:request-timeout:
   *
   * Milliseconds a request's body may take once its headers are in before
   * the request is answered 408 and the connection closed (cdviz-collector's
   * `request_timeout`); 0: none (then #CdvizHttpServer:body-timeout
   * disconnects slow clients without an answer).
   */
  properties[PROP_REQUEST_TIMEOUT] =
    g_param_spec_uint64 ("request-timeout", NULL,
                         "Milliseconds to send a request's body before a 408 answer; 0: none",
                         0, G_MAXUINT32, 0, flags);
  /**
   * CdvizHttpServer:access-log-filter:
   *
   * The answers logged, one line each (cdviz-collector's
   * `access_log.filter`): status codes (`"404"`) or classes (`"4xx"`);
   * %NULL or empty: none.
   */
  properties[PROP_ACCESS_LOG_FILTER] =
    g_param_spec_boxed ("access-log-filter", NULL,
                        "Statuses (\"404\") or classes (\"4xx\") of the answers logged, "
                        "one line each",
                        G_TYPE_STRV, flags);
  /**
   * CdvizHttpServer:threads:
   *
   * How many HTTP threads serve requests. The first accepts every
   * connection and hands each to the thread with the fewest; each thread
   * has its own #GMainContext and SoupServer. With more than one, every
   * route must be marked thread-safe ([method@HttpServer.set_thread_safe])
   * before the server starts.
   */
  properties[PROP_THREADS] =
    g_param_spec_uint ("threads", NULL,
                       "HTTP threads serving requests; more than one needs every route's "
                       "handlers to be thread-safe",
                       1, MAX_THREADS, 1, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_http_server_constructed (GObject *object)
{
  CdvizHttpServer *self = CDVIZ_HTTP_SERVER (object);

  G_OBJECT_CLASS (cdviz_http_server_parent_class)->constructed (object);
  self->contexts = g_new0 (GMainContext *, self->n_threads);
  self->contexts[0] = g_main_context_ref (self->context);
  for (guint i = 1; i < self->n_threads; i++)
    self->contexts[i] = g_main_context_new ();
}

static void
cdviz_http_server_init (CdvizHttpServer *self)
{
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, _cdviz_http_route_free);
  self->metrics = g_array_new (FALSE, TRUE, sizeof (MetricsEntry));
  g_array_set_clear_func (self->metrics, _cdviz_http_metrics_entry_clear);
  self->context = g_main_context_new ();
  self->n_threads = 1;
  g_mutex_init (&self->metrics_lock);
}

/**
 * cdviz_http_server_new:
 * @host: the address to listen on (`127.0.0.1`, `0.0.0.0`, `::1`,
 *   `localhost`…)
 * @port: the TCP port; 0 picks a free one (see [method@HttpServer.get_port])
 *
 * Creates a server with the default limits; g_object_new() sets the
 * others (see the properties). It listens only once started.
 *
 * Returns: (transfer full): a new server
 */
CdvizHttpServer *
cdviz_http_server_new (const char *host,
                       guint       port)
{
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (port <= 65535, NULL);

  return g_object_new (CDVIZ_TYPE_HTTP_SERVER, "host", host, "port", port, NULL);
}

/**
 * cdviz_http_server_steal_connection:
 * @self: a #CdvizHttpServer
 * @msg: a request of this server whose handler runs (on the calling HTTP
 *   thread)
 * @socket: (out) (transfer full) (optional) (nullable): its socket
 *
 * Takes the connection of @msg away from libsoup, for a component that
 * writes to it from then on (an SSE stream): libsoup forgets it, and the
 * request no longer counts as in flight. The connection still counts in
 * `max_connections` until it is closed.
 *
 * Returns: (transfer full) (nullable): the connection (a
 *   #GSocketConnection, or a #GTlsConnection over one), or %NULL when the
 *   client is gone already
 */
GIOStream *
cdviz_http_server_steal_connection (CdvizHttpServer    *self,
                                    SoupServerMessage  *msg,
                                    GSocket           **socket)
{
  HttpWorker *worker = _cdviz_http_server_get_current_worker ();

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), NULL);

  if (socket != NULL)
    *socket = NULL;
  /* Stopped: every connection is closed (or being closed) already. */
  if (!g_atomic_int_get (&self->running))
    return NULL;
  g_return_val_if_fail (worker != NULL && worker->owner == self, NULL);

  return _cdviz_http_connections_steal (worker->connections, msg, socket);
}

HttpWorker *
_cdviz_http_server_get_current_worker (void)
{
  return g_private_get (&current_worker);
}

GMainContext **
_cdviz_http_server_get_contexts (CdvizHttpServer *self,
                                 guint           *n_contexts)
{
  *n_contexts = self->n_threads;
  return self->contexts;
}

static gpointer
http_thread (gpointer data)
{
  HttpWorker *worker = data;

  g_private_set (&current_worker, worker);
  g_main_context_push_thread_default (worker->context);
  g_main_loop_run (worker->loop);
  g_main_context_pop_thread_default (worker->context);
  g_private_set (&current_worker, NULL);
  return NULL;
}

static GSocketAddress *
resolve_address (const char  *host,
                 guint        port,
                 GError     **error)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);
  g_autoptr(GResolver) resolver = NULL;
  GList *addresses;

  if (address != NULL)
    return g_inet_socket_address_new (address, port);

  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (addresses == NULL)
    return NULL;
  address = g_object_ref (addresses->data);
  g_resolver_free_addresses (addresses);
  return g_inet_socket_address_new (address, port);
}

/* GnuTLS priority strings (glib-networking's G_TLS_GNUTLS_PRIORITY). */
#define TLS_PRIORITY_1_2 "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-CIPHER-ALL:" \
                         "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:%SERVER_PRECEDENCE"
#define TLS_PRIORITY_1_3 "NORMAL:-VERS-ALL:+VERS-TLS1.3:%SERVER_PRECEDENCE"

static void
set_tls_priority (CdvizHttpServer *self)
{
  const char *wanted = self->tls_min_version == G_TLS_PROTOCOL_VERSION_TLS_1_3
                       ? TLS_PRIORITY_1_3 : TLS_PRIORITY_1_2;
  const char *current = g_getenv ("G_TLS_GNUTLS_PRIORITY");

  if (current == NULL || *current == '\0')
    g_setenv ("G_TLS_GNUTLS_PRIORITY", wanted, TRUE);
  else if (!g_str_equal (current, wanted))
    g_message (_("TLS: using G_TLS_GNUTLS_PRIORITY from the environment (%s), "
                 "not the one of tls_min_version"), current);
}

/**
 * cdviz_http_server_is_tls:
 * @self: a #CdvizHttpServer
 *
 * Tells whether the server speaks HTTPS.
 *
 * Returns: whether a TLS certificate was set
 */
gboolean
cdviz_http_server_is_tls (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);
  return self->tls_certificate != NULL;
}

/**
 * cdviz_http_server_start:
 * @self: a #CdvizHttpServer
 * @error: return location for a #GError
 *
 * Listens on the configured address (synchronously, so that a port in use
 * is reported here) and starts the HTTP thread.
 *
 * Returns: %TRUE on success
 */
/* With several threads, every route must be thread-safe (also checked by
 * `config --check`, which never starts the server). */
gboolean
_cdviz_http_server_check_routes (CdvizHttpServer  *self,
                                 GError          **error)
{
  GHashTableIter iter;
  const char *path;
  Route *route;

  if (self->n_threads < 2)
    return TRUE;
  g_hash_table_iter_init (&iter, self->routes);
  while (g_hash_table_iter_next (&iter, (gpointer *) &path, (gpointer *) &route))
    if (!route->thread_safe)
      {
        g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_NOT_THREAD_SAFE,
                     _("[http] threads = %u, but %s serves %s on one HTTP thread only: "
                       "set threads = 1"), self->n_threads, route->owner, path);
        return FALSE;
      }
  return TRUE;
}

gboolean
cdviz_http_server_start (CdvizHttpServer  *self,
                         GError          **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GSocket) listener = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);

  if (self->started && self->running)
    return TRUE;
  if (self->started)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_STATE,
                   _("The HTTP server on %s:%u was stopped: a server runs once, make a new one"),
                   self->host, self->port);
      return FALSE;
    }

  if (!_cdviz_http_server_check_routes (self, error))
    return FALSE;

  address = resolve_address (self->host, self->port, &local_error);
  if (address == NULL)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_LISTEN,
                   _("Cannot listen on %s:%u: %s"), self->host, self->port,
                   local_error->message);
      return FALSE;
    }

  if (self->tls_certificate != NULL)
    set_tls_priority (self);
  self->limits.tls_certificate = self->tls_certificate;
  self->limits.threads = self->n_threads;

  /* Our own listening socket: soup_server_listen() keeps GLib's backlog
   * of 10, and a burst of connections beyond it waits for SYN retries. */
  listener = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_TCP, &local_error);
  if (listener != NULL)
    g_socket_set_listen_backlog (listener, LISTEN_BACKLOG);
  ok = listener != NULL &&
       g_socket_bind (listener, address, TRUE, &local_error) &&
       g_socket_listen (listener, &local_error);

  self->workers = g_new0 (HttpWorker, self->n_threads);
  self->all_connections = g_new0 (CdvizHttpConnections *, self->n_threads);
  for (guint i = 0; ok && i < self->n_threads; i++)
    {
      HttpWorker *worker = &self->workers[i];

      worker->owner = self;
      worker->index = i;
      worker->context = self->contexts[i];
      worker->connections = _cdviz_http_connections_new (worker->context, &self->limits);
      self->all_connections[i] = worker->connections;
      g_main_context_push_thread_default (worker->context);
      /* No version: it only helps an attacker pick an exploit. */
      worker->server = soup_server_new ("server-header", "cdviz-pipeline", NULL);
      soup_server_add_handler (worker->server, NULL, _cdviz_http_server_callback, worker, NULL);
      soup_server_add_early_handler (worker->server, NULL, _cdviz_http_early_callback, worker,
                                     NULL);
      ok = _cdviz_http_connections_start (worker->connections, worker->server,
                                          i == 0 ? listener : NULL, &local_error);
      g_main_context_pop_thread_default (worker->context);
    }

  if (!ok)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_LISTEN,
                   _("Cannot listen on %s:%u: %s"), self->host, self->port,
                   local_error->message);
      /* Nothing was started: a later start may try again. */
      if (listener != NULL)
        g_socket_close (listener, NULL);
      for (guint i = 0; i < self->n_threads; i++)
        {
          g_clear_object (&self->workers[i].server);
          g_clear_pointer (&self->workers[i].connections, _cdviz_http_connections_free);
        }
      g_clear_pointer (&self->workers, g_free);
      g_clear_pointer (&self->all_connections, g_free);
      return FALSE;
    }

  /* The first thread accepts, for all (it runs once the threads start). */
  _cdviz_http_connections_set_workers (self->workers[0].connections, self->all_connections,
                                       self->n_threads);

  self->bound_port = self->port;
  {
    g_autoptr(GSocketAddress) local = g_socket_get_local_address (listener, NULL);
    if (G_IS_INET_SOCKET_ADDRESS (local))
      self->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }

  self->started = TRUE;
  g_atomic_int_set (&self->running, TRUE);
  for (guint i = 0; i < self->n_threads; i++)
    {
      HttpWorker *worker = &self->workers[i];
      g_autofree char *name = i == 0 ? g_strdup ("cdviz-http") : g_strdup_printf ("cdviz-http-%u", i);

      worker->loop = g_main_loop_new (worker->context, FALSE);
      worker->thread = g_thread_new (name, http_thread, worker);
    }
  return TRUE;
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} SyncCall;

static gboolean
sync_call_dispatch (gpointer data)
{
  SyncCall *call = data;

  call->func (call->data);
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func on @context's thread and waits for it to return. An HTTP
 * thread of @self never waits for another: two could wait for each other,
 * and at stop a thread that already quit never runs the call. */
static void
invoke_on (CdvizHttpServer *self,
           GMainContext    *context,
           GSourceFunc      func,
           gpointer         data)
{
  SyncCall call = { func, data };
  HttpWorker *current = _cdviz_http_server_get_current_worker ();
  GSource *source;

  if (g_main_context_is_owner (context))
    {
      func (data);
      return;
    }
  if (current != NULL && current->owner == self)
    {
      g_critical ("cdviz_http_server_invoke_sync() and _invoke_sync_all() cannot wait for "
                  "another HTTP thread from an HTTP thread");
      return;
    }

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, sync_call_dispatch, &call, NULL);
  g_source_set_static_name (source, "[cdviz] invoke_sync");
  g_source_attach (source, context);
  g_source_unref (source);

  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);

  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

/**
 * cdviz_http_server_invoke_sync:
 * @self: a #CdvizHttpServer
 * @func: (scope call) (closure data): the function to run; its return
 *   value is ignored
 * @data: data for @func
 *
 * Runs @func on the (first) HTTP thread and waits for it to return. When
 * the server is not running, or when called on that thread, @func runs at
 * once. Another HTTP thread of the server (#CdvizHttpServer:threads) may
 * not call it: it would wait for a thread that may be waiting for it.
 */
void
cdviz_http_server_invoke_sync (CdvizHttpServer *self,
                               GSourceFunc      func,
                               gpointer         data)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  if (!g_atomic_int_get (&self->running))
    func (data);
  else
    invoke_on (self, self->context, func, data);
}

/**
 * cdviz_http_server_invoke_sync_all:
 * @self: a #CdvizHttpServer
 * @func: (scope call) (closure data): the function to run; its return
 *   value is ignored
 * @data: data for @func
 *
 * Runs @func on every HTTP thread, one after the other, and waits for each
 * to return (see #CdvizHttpServer:threads): for a thread-safe route that
 * finishes, on each thread, what its handlers started there. When the
 * server is not running, @func runs once, at once. Not from an HTTP
 * thread of the server.
 */
void
cdviz_http_server_invoke_sync_all (CdvizHttpServer *self,
                                   GSourceFunc      func,
                                   gpointer         data)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  if (!g_atomic_int_get (&self->running))
    {
      func (data);
      return;
    }
  for (guint i = 0; i < self->n_threads; i++)
    invoke_on (self, self->contexts[i], func, data);
}

static gboolean
stop_accepting_on_thread (gpointer data)
{
  CdvizHttpServer *self = data;

  _cdviz_http_connections_stop_accepting (self->workers[0].connections);
  return G_SOURCE_REMOVE;
}

static gboolean
disconnect_on_thread (gpointer data)
{
  HttpWorker *worker = data;

  _cdviz_http_connections_stop (worker->connections);
  soup_server_disconnect (worker->server);
  g_clear_object (&worker->server);
  g_main_loop_quit (worker->loop);
  return G_SOURCE_REMOVE;
}

/**
 * cdviz_http_server_stop:
 * @self: a #CdvizHttpServer
 *
 * Closes the listening sockets and every connection, and stops the HTTP
 * threads. Components should have finished their streams before.
 */
void
cdviz_http_server_stop (CdvizHttpServer *self)
{
  HttpWorker *current = _cdviz_http_server_get_current_worker ();

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  g_atomic_int_set (&self->ready, FALSE);
  if (!self->running)
    return;
  if (current != NULL && current->owner == self)
    {
      g_critical ("cdviz_http_server_stop() called on an HTTP thread, which it joins: "
                  "stop the server from another thread");
      return;
    }

  /* No connection is handed out any more, then every thread answers what
   * it has in flight (up to a second each, all at the same time). */
  invoke_on (self, self->context, stop_accepting_on_thread, self);
  for (guint i = 0; i < self->n_threads; i++)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_HIGH);
      g_source_set_callback (source, disconnect_on_thread, &self->workers[i], NULL);
      g_source_set_static_name (source, "[cdviz] stop HTTP thread");
      g_source_attach (source, self->workers[i].context);
      g_source_unref (source);
    }
  for (guint i = 0; i < self->n_threads; i++)
    g_thread_join (g_steal_pointer (&self->workers[i].thread));
  g_atomic_int_set (&self->running, FALSE);

  /* Let pending sources (closures of closed connections) run and free. */
  for (guint i = 0; i < self->n_threads; i++)
    {
      HttpWorker *worker = &self->workers[i];

      g_main_context_push_thread_default (worker->context);
      while (g_main_context_iteration (worker->context, FALSE))
        ;
      g_main_context_pop_thread_default (worker->context);
    }
  for (guint i = 0; i < self->n_threads; i++)
    {
      g_clear_pointer (&self->workers[i].connections, _cdviz_http_connections_free);
      g_clear_pointer (&self->workers[i].loop, g_main_loop_unref);
    }
  g_clear_pointer (&self->workers, g_free);
  g_clear_pointer (&self->all_connections, g_free);
}

/**
 * cdviz_http_server_set_ready:
 * @self: a #CdvizHttpServer
 * @ready: whether the pipeline accepts events
 *
 * Sets what `/readyz` answers.
 */
void
cdviz_http_server_set_ready (CdvizHttpServer *self,
                             gboolean         ready)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_atomic_int_set (&self->ready, !!ready);
}

/**
 * cdviz_http_server_get_port:
 * @self: a #CdvizHttpServer
 *
 * Gets the TCP port of the server.
 *
 * Returns: the port listened on once started (useful with port 0), else the
 *   configured port
 */
guint
cdviz_http_server_get_port (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), 0);
  return self->started ? self->bound_port : self->port;
}

/**
 * cdviz_http_server_get_host:
 * @self: a #CdvizHttpServer
 *
 * Gets the address the server listens on.
 *
 * Returns: the configured host
 */
const char *
cdviz_http_server_get_host (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  return self->host;
}

/**
 * cdviz_http_server_get_root_url:
 * @self: a #CdvizHttpServer
 *
 * Gets the server's public URL, as `[http] root_url` gives it.
 *
 * Returns: (nullable): the root URL, or %NULL when none is configured
 */
const char *
cdviz_http_server_get_root_url (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  return self->root_url;
}

/**
 * cdviz_http_server_dup_default_source:
 * @self: a #CdvizHttpServer
 * @source_name: the name of a source in the configuration
 *
 * The `context.source` an event of @source_name gets when it has none, as
 * cdviz-collector builds it: the root URL with `source=NAME` appended to
 * its query (`http://cdviz-collector.example.com/?source=NAME`), or, without
 * a root URL, `http://HOST:PORT/?source=NAME`. Call once the server is
 * started (the port is then known).
 *
 * Returns: (transfer full): the URL
 */
char *
cdviz_http_server_dup_default_source (CdvizHttpServer *self,
                                      const char      *source_name)
{
  g_autofree char *escaped = NULL;
  g_autoptr(GUri) root = NULL;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  g_return_val_if_fail (source_name != NULL, NULL);

  escaped = g_uri_escape_string (source_name, NULL, FALSE);
  if (self->root_url != NULL)
    root = g_uri_parse (self->root_url, G_URI_FLAGS_ENCODED, NULL);
  if (root != NULL)
    {
      /* As cdviz-collector's url crate: an empty path becomes "/", the pair
       * is appended to the query. */
      const char *path = g_uri_get_path (root);
      const char *query = g_uri_get_query (root);
      g_autofree char *full = query != NULL && *query != '\0'
                              ? g_strconcat (query, "&source=", escaped, NULL)
                              : g_strconcat ("source=", escaped, NULL);

      return g_uri_join (G_URI_FLAGS_ENCODED, g_uri_get_scheme (root), g_uri_get_userinfo (root),
                         g_uri_get_host (root), g_uri_get_port (root),
                         *path != '\0' ? path : "/", full, NULL);
    }
  return g_strdup_printf ("http://%s%s%s:%u/?source=%s",
                          strchr (self->host, ':') != NULL ? "[" : "", self->host,
                          strchr (self->host, ':') != NULL ? "]" : "",
                          cdviz_http_server_get_port (self), escaped);
}

/**
 * cdviz_http_server_get_context:
 * @self: a #CdvizHttpServer
 *
 * Gets the main context the (first) HTTP thread runs, where every handler
 * is called when the server has one thread (see #CdvizHttpServer:threads).
 *
 * Returns: (transfer none): the main context of the first HTTP thread
 */
GMainContext *
cdviz_http_server_get_context (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  return self->context;
}

/**
 * cdviz_http_server_is_running:
 * @self: a #CdvizHttpServer
 *
 * Tells whether the server has been started and not stopped.
 *
 * Returns: whether the server listens
 */
gboolean
cdviz_http_server_is_running (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);
  return g_atomic_int_get (&self->running);
}
