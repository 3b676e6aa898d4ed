/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include <json-glib/json-glib.h>

#include "cdviz-http-server.h"
#include "cdviz-http-connections-private.h"

/**
 * CdvizHttpServer:
 *
 * The one HTTP server of a pipeline (`[http]`), running on a thread and
 * #GMainContext of its own. Components register exact paths with
 * [method@HttpServer.add_handler] before the server starts; their callbacks
 * run on the HTTP thread, and nothing else touches libsoup objects.
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

typedef struct {
  char *owner;
  SoupServerCallback callback;
  gpointer user_data;
  GDestroyNotify destroy;
  SoupServerCallback early_callback;
  gpointer early_user_data;
  GDestroyNotify early_destroy;
  guint64 max_body_size;
} Route;

typedef struct {
  CdvizMetricsFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} MetricsEntry;

struct _CdvizHttpServer
{
  GObject parent_instance;

  /* construct-only properties */
  char *host;
  guint port;
  GTlsCertificate *tls_certificate;
  GTlsProtocolVersion tls_min_version;
  CdvizHttpLimits limits;        /* timeouts, max_connections */
  guint max_headers;
  gsize max_header_size;

  guint bound_port;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;             /* HTTP thread */
  CdvizHttpConnections *connections; /* from start; HTTP thread */

  GHashTable *routes;     /* path → Route; frozen once started */
  GArray *metrics;        /* MetricsEntry; frozen once started */
  int ready;              /* atomic */
  gboolean started;

  guint64 refused_headers;  /* atomic */
};

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
#define DEFAULT_ROUTE_MAX_BODY_SIZE (1024 * 1024)
#define STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE CDVIZ_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE

#define COUNTER_ADD(field, n) __atomic_fetch_add (&(field), (n), __ATOMIC_RELAXED)
#define COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

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
route_free (gpointer data)
{
  Route *route = data;

  if (route->destroy != NULL)
    route->destroy (route->user_data);
  if (route->early_destroy != NULL)
    route->early_destroy (route->early_user_data);
  g_free (route->owner);
  g_free (route);
}

static void
metrics_entry_clear (gpointer data)
{
  MetricsEntry *entry = data;

  if (entry->destroy != NULL)
    entry->destroy (entry->user_data);
}

static void
cdviz_http_server_finalize (GObject *object)
{
  CdvizHttpServer *self = CDVIZ_HTTP_SERVER (object);

  /* Stopped by its owner, which may not drop its last reference on the
   * HTTP thread (that would join the thread from itself). */
  if (self->thread != NULL)
    g_critical ("A CdvizHttpServer is finalized while it runs: call "
                "cdviz_http_server_stop() first");
  cdviz_http_server_stop (self);

  g_clear_pointer (&self->routes, g_hash_table_unref);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->metrics, g_array_unref);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->host);

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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_http_server_class_init (CdvizHttpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

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
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_http_server_init (CdvizHttpServer *self)
{
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, route_free);
  self->metrics = g_array_new (FALSE, TRUE, sizeof (MetricsEntry));
  g_array_set_clear_func (self->metrics, metrics_entry_clear);
  self->context = g_main_context_new ();
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
 * cdviz_http_respond_error:
 * @msg: the message to answer
 * @status: an HTTP status code
 * @detail: (nullable): a short explanation for the client
 *
 * Answers @msg with @status and a JSON body
 * `{"title": "<reason phrase>", "status": <status>, "detail": "<detail>"}`.
 */
void
cdviz_http_respond_error (SoupServerMessage *msg,
                          guint              status,
                          const char        *detail)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  const char *phrase = status == STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE
                       ? "Request Header Fields Too Large" : soup_status_get_phrase (status);
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, phrase);
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, status);
  if (detail != NULL)
    {
      json_builder_set_member_name (builder, "detail");
      json_builder_add_string_value (builder, detail);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, status, phrase);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

static void
respond_text (SoupServerMessage *msg,
              guint              status,
              const char        *content_type,
              char              *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

static gboolean
check_builtin_method (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", "GET, HEAD");
  cdviz_http_respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                            "only GET and HEAD are allowed here");
  return FALSE;
}

static void
serve_metrics (CdvizHttpServer   *self,
               SoupServerMessage *msg)
{
  GString *out = g_string_new (NULL);

  g_string_append (out,
                   "# HELP cdviz_up Whether the pipeline accepts events (1) or is starting or shutting down (0).\n"
                   "# TYPE cdviz_up gauge\n");
  g_string_append_printf (out, "cdviz_up %d\n", g_atomic_int_get (&self->ready) ? 1 : 0);

  g_string_append_printf (out,
                          "# HELP cdviz_http_connections_closed_total Connections the server closed, by reason.\n"
                          "# TYPE cdviz_http_connections_closed_total counter\n"
                          "cdviz_http_connections_closed_total{reason=\"header_limits\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER_GET (self->refused_headers));
  if (self->connections != NULL)
    _cdviz_http_connections_append_metrics (self->connections, out);

  for (guint i = 0; i < self->metrics->len; i++)
    {
      MetricsEntry *entry = &g_array_index (self->metrics, MetricsEntry, i);
      entry->func (out, entry->user_data);
    }

  respond_text (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
                g_string_free (out, FALSE));
}

static void
server_callback (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  Route *route = g_hash_table_lookup (self->routes, path);

  if (route != NULL)
    {
      route->callback (server, msg, path, query, route->user_data);
      return;
    }

  if (g_str_equal (path, "/healthz"))
    {
      if (check_builtin_method (msg))
        respond_text (msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ok\n"));
    }
  else if (g_str_equal (path, "/readyz"))
    {
      if (!check_builtin_method (msg))
        return;
      if (g_atomic_int_get (&self->ready))
        respond_text (msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ready\n"));
      else
        respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain",
                      g_strdup ("not ready\n"));
    }
  else if (g_str_equal (path, "/metrics"))
    {
      if (check_builtin_method (msg))
        serve_metrics (self, msg);
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("no route for %s", path);
      cdviz_http_respond_error (msg, SOUP_STATUS_NOT_FOUND, detail);
    }
}

typedef struct {
  guint count;
  gsize size;
} HeaderTally;

static void
tally_header (const char *name,
              const char *value,
              gpointer    user_data)
{
  HeaderTally *tally = user_data;

  tally->count++;
  tally->size += strlen (name) + strlen (value) + 4;   /* ": " and CRLF */
}

/* Refuses requests over the header limits: 431, connection closed, body
 * not kept. Returns whether the request was refused. */
static gboolean
refuse_large_headers (CdvizHttpServer   *self,
                      SoupServerMessage *msg)
{
  HeaderTally tally = { 0, 0 };
  g_autofree char *detail = NULL;

  soup_message_headers_foreach (soup_server_message_get_request_headers (msg), tally_header,
                                &tally);
  if (self->max_headers > 0 && tally.count > self->max_headers)
    detail = g_strdup_printf ("more than %u header fields", self->max_headers);
  else if (self->max_header_size > 0 && tally.size > self->max_header_size)
    detail = g_strdup_printf ("header fields larger than %" G_GSIZE_FORMAT " bytes",
                              self->max_header_size);
  else
    return FALSE;

  g_debug ("Refusing a request with %u header fields of %" G_GSIZE_FORMAT " bytes",
           tally.count, tally.size);
  COUNTER_ADD (self->refused_headers, 1);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  cdviz_http_respond_error (msg, STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE, detail);
  return TRUE;
}

static gboolean
is_builtin_path (const char *path)
{
  return g_str_equal (path, "/healthz") || g_str_equal (path, "/readyz") ||
         g_str_equal (path, "/metrics");
}

#define BODY_RECEIVED_KEY "cdviz-body-received"

/* A chunked body, counted as it arrives against its route's limit. */
static void
got_chunk (SoupServerMessage *msg,
           GBytes            *chunk,
           gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  Route *route = g_hash_table_lookup (self->routes,
                                      g_uri_get_path (soup_server_message_get_uri (msg)));
  gsize received = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), BODY_RECEIVED_KEY));

  received += g_bytes_get_size (chunk);
  g_object_set_data (G_OBJECT (msg), BODY_RECEIVED_KEY, GSIZE_TO_POINTER (received));
  if (soup_server_message_get_status (msg) == 0 && route != NULL &&
      (guint64) received > route->max_body_size)
    {
      g_autofree char *detail =
        g_strdup_printf ("the body is larger than %" G_GUINT64_FORMAT " bytes",
                         route->max_body_size);
      cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
    }
  if (soup_server_message_get_status (msg) != 0)
    _cdviz_http_connections_refuse_body (self->connections, msg);
}

static void
early_server_callback (SoupServer        *server,
                       SoupServerMessage *msg,
                       const char        *path,
                       GHashTable        *query,
                       gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gboolean body = _cdviz_http_connections_expects_body (msg);
  Route *route;

  _cdviz_http_connections_got_headers (self->connections, msg);
  if (refuse_large_headers (self, msg))
    {
      if (body)
        _cdviz_http_connections_refuse_body (self->connections, msg);
      return;
    }

  route = g_hash_table_lookup (self->routes, path);
  if (route != NULL && route->early_callback != NULL)
    route->early_callback (server, msg, path, query, route->early_user_data);

  if (!body)
    return;
  if (soup_server_message_get_status (msg) == 0)
    {
      if (route == NULL && is_builtin_path (path))
        {
          if (check_builtin_method (msg))
            cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                      "this path takes no request body");
        }
      else if (route == NULL)
        {
          g_autofree char *detail = g_strdup_printf ("no route for %s", path);
          cdviz_http_respond_error (msg, SOUP_STATUS_NOT_FOUND, detail);
        }
      else if (route->max_body_size == 0)
        cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                  "this path takes no request body");
      else if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
               (guint64) soup_message_headers_get_content_length (headers) > route->max_body_size)
        {
          g_autofree char *detail =
            g_strdup_printf ("the body is larger than %" G_GUINT64_FORMAT " bytes",
                             route->max_body_size);
          cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
        }
    }
  if (soup_server_message_get_status (msg) != 0)
    _cdviz_http_connections_refuse_body (self->connections, msg);
  else if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk), self);
}

/**
 * cdviz_http_server_add_handler:
 * @self: a #CdvizHttpServer
 * @path: the exact path served, e.g. `/sse/events`
 * @owner: who serves it, for error messages (e.g. `sink 'dashboard'`)
 * @callback: (scope notified): the handler, called on the HTTP thread
 * @user_data: (closure callback): data for @callback
 * @destroy: (destroy callback) (nullable): frees @user_data
 * @error: return location for a #GError
 *
 * Serves @path with @callback. Routes are added before the server starts.
 *
 * Returns: %TRUE on success; %FALSE if @path is already served
 */
gboolean
cdviz_http_server_add_handler (CdvizHttpServer    *self,
                               const char         *path,
                               const char         *owner,
                               SoupServerCallback  callback,
                               gpointer            user_data,
                               GDestroyNotify      destroy,
                               GError            **error)
{
  Route *route;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);
  g_return_val_if_fail (path != NULL && path[0] == '/', FALSE);
  g_return_val_if_fail (callback != NULL, FALSE);

  if (self->started)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_STATE,
                   _("Cannot add route %s: the HTTP server is already running"), path);
      return FALSE;
    }

  route = g_hash_table_lookup (self->routes, path);
  if (route != NULL || g_str_equal (path, "/healthz") ||
      g_str_equal (path, "/readyz") || g_str_equal (path, "/metrics"))
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_DUPLICATE_ROUTE,
                   _("Duplicate route %s: already served by %s"), path,
                   route != NULL ? route->owner : _("the server itself"));
      return FALSE;
    }

  route = g_new0 (Route, 1);
  route->max_body_size = DEFAULT_ROUTE_MAX_BODY_SIZE;
  route->owner = g_strdup (owner ? owner : path);
  route->callback = callback;
  route->user_data = user_data;
  route->destroy = destroy;
  g_hash_table_insert (self->routes, g_strdup (path), route);
  return TRUE;
}

/**
 * cdviz_http_server_set_early_handler:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @callback: (scope notified) (closure user_data) (destroy destroy): the
 *   early handler, called on the HTTP thread
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data when the route goes away
 *
 * Gives the route @path an early handler: it runs once the request headers
 * are read, before the body is (see soup_server_add_early_handler()).
 * Setting a status there answers the request without
 * calling the route's handler; libsoup still reads the body (unless the
 * client sent `Expect: 100-continue`), so turn off accumulation of the
 * request body with soup_message_body_set_accumulate() when refusing a
 * large one. Call before the server starts.
 */
void
cdviz_http_server_set_early_handler (CdvizHttpServer    *self,
                                     const char         *path,
                                     SoupServerCallback  callback,
                                     gpointer            user_data,
                                     GDestroyNotify      destroy)
{
  Route *route;

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);

  route = g_hash_table_lookup (self->routes, path);
  g_return_if_fail (route != NULL);
  if (route->early_destroy != NULL)
    route->early_destroy (route->early_user_data);
  route->early_callback = callback;
  route->early_user_data = user_data;
  route->early_destroy = destroy;
}

/**
 * cdviz_http_server_set_max_body_size:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @max_body_size: the largest request body the route takes, in bytes; 0
 *   if it takes none
 *
 * Bounds the request bodies of the route @path (default: 1 MiB). A larger
 * body (from `Content-Length`, or as a chunked body arrives) is answered
 * 413 and never read further: the connection is closed. Call before the
 * server starts.
 */
void
cdviz_http_server_set_max_body_size (CdvizHttpServer *self,
                                     const char      *path,
                                     guint64          max_body_size)
{
  Route *route;

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);

  route = g_hash_table_lookup (self->routes, path);
  g_return_if_fail (route != NULL);
  route->max_body_size = max_body_size;
}

/**
 * cdviz_http_server_steal_connection:
 * @self: a #CdvizHttpServer
 * @msg: a request of this server whose handler runs (on the HTTP thread)
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
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), NULL);
  g_return_val_if_fail (self->connections != NULL, NULL);

  return _cdviz_http_connections_steal (self->connections, msg, socket);
}

/**
 * cdviz_http_server_add_metrics_func:
 * @self: a #CdvizHttpServer
 * @func: (scope notified): appends metrics text
 * @user_data: (closure func): data for @func
 * @destroy: (destroy func) (nullable): frees @user_data
 *
 * Adds a contributor to `/metrics`. Call before the server starts.
 */
void
cdviz_http_server_add_metrics_func (CdvizHttpServer  *self,
                                    CdvizMetricsFunc  func,
                                    gpointer          user_data,
                                    GDestroyNotify    destroy)
{
  MetricsEntry entry = { func, user_data, destroy };

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (!self->started);

  g_array_append_val (self->metrics, entry);
}

static gpointer
http_thread (gpointer data)
{
  CdvizHttpServer *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
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
gboolean
cdviz_http_server_start (CdvizHttpServer  *self,
                         GError          **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GSocket) listener = NULL;
  gboolean ok;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);

  if (self->started && self->thread != NULL)
    return TRUE;
  if (self->started)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_STATE,
                   _("The HTTP server on %s:%u was stopped: a server runs once, make a new one"),
                   self->host, self->port);
      return FALSE;
    }

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
  self->connections = _cdviz_http_connections_new (self->context, &self->limits);

  g_main_context_push_thread_default (self->context);
  /* No version: it only helps an attacker pick an exploit. */
  self->server = soup_server_new ("server-header", "cdviz-pipeline", NULL);
  soup_server_add_handler (self->server, NULL, server_callback, self, NULL);
  soup_server_add_early_handler (self->server, NULL, early_server_callback, self, NULL);
  /* Our own listening socket: soup_server_listen() keeps GLib's backlog
   * of 10, and a burst of connections beyond it waits for SYN retries. */
  listener = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_TCP, &local_error);
  if (listener != NULL)
    g_socket_set_listen_backlog (listener, LISTEN_BACKLOG);
  ok = listener != NULL &&
       g_socket_bind (listener, address, TRUE, &local_error) &&
       g_socket_listen (listener, &local_error) &&
       _cdviz_http_connections_start (self->connections, self->server, listener, &local_error);
  g_main_context_pop_thread_default (self->context);

  if (!ok)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_LISTEN,
                   _("Cannot listen on %s:%u: %s"), self->host, self->port,
                   local_error->message);
      /* Nothing was started: a later start may try again. */
      if (listener != NULL)
        g_socket_close (listener, NULL);
      g_clear_object (&self->server);
      g_clear_pointer (&self->connections, _cdviz_http_connections_free);
      return FALSE;
    }

  self->bound_port = self->port;
  {
    g_autoptr(GSocketAddress) local = g_socket_get_local_address (listener, NULL);
    if (G_IS_INET_SOCKET_ADDRESS (local))
      self->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }

  self->started = TRUE;
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread = g_thread_new ("cdviz-http", http_thread, self);
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

/**
 * cdviz_http_server_invoke_sync:
 * @self: a #CdvizHttpServer
 * @func: (scope call): the function to run; its return value is ignored
 * @data: (closure func): data for @func
 *
 * Runs @func on the HTTP thread and waits for it to return. When the server
 * is not running, or when called on the HTTP thread, @func runs at once.
 */
void
cdviz_http_server_invoke_sync (CdvizHttpServer *self,
                               GSourceFunc      func,
                               gpointer         data)
{
  SyncCall call = { func, data };
  GSource *source;

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  if (self->thread == NULL || g_main_context_is_owner (self->context))
    {
      func (data);
      return;
    }

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, sync_call_dispatch, &call, NULL);
  g_source_set_static_name (source, "[cdviz] invoke_sync");
  g_source_attach (source, self->context);
  g_source_unref (source);

  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);

  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

static gboolean
disconnect_on_thread (gpointer data)
{
  CdvizHttpServer *self = data;

  _cdviz_http_connections_stop (self->connections);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

/**
 * cdviz_http_server_stop:
 * @self: a #CdvizHttpServer
 *
 * Closes the listening sockets and every connection, and stops the HTTP
 * thread. Components should have finished their streams before.
 */
void
cdviz_http_server_stop (CdvizHttpServer *self)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  g_atomic_int_set (&self->ready, FALSE);
  if (self->thread == NULL)
    return;
  if (g_thread_self () == self->thread)
    {
      g_critical ("cdviz_http_server_stop() called on the HTTP thread, which it joins: "
                  "stop the server from another thread");
      return;
    }

  cdviz_http_server_invoke_sync (self, disconnect_on_thread, self);
  g_thread_join (g_steal_pointer (&self->thread));

  /* Let pending sources (closures of closed connections) run and free. */
  g_main_context_push_thread_default (self->context);
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  g_clear_pointer (&self->connections, _cdviz_http_connections_free);
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
 * cdviz_http_server_get_context:
 * @self: a #CdvizHttpServer
 *
 * Gets the main context the HTTP thread runs, where every handler is
 * called.
 *
 * Returns: (transfer none): the main context of the HTTP thread
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
  return self->thread != NULL;
}
