/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE  /* accept4() */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "cdviz-http-server.h"
#include "cdviz-http-stream-private.h"

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

/* A connection libsoup accepted, until its socket is closed. */
typedef struct {
  CdvizHttpServer *server;
  GSocket *socket;
  GSource *timer;        /* header, body or idle deadline; NULL while busy */
  gboolean waiting;      /* kept alive, waiting for the next request */
  gboolean in_body;      /* headers read, the body still arriving */
  CdvizHttpStream *stream;  /* what libsoup reads */
  /* refused: libsoup is done, the rest of the request is drained */
  GIOStream *linger_base;
  GSource *linger_watch;
  gsize lingered;
} Connection;

typedef struct {
  CdvizMetricsFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} MetricsEntry;

struct _CdvizHttpServer
{
  GObject parent_instance;

  char *host;
  guint port;
  guint bound_port;

  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;

  GHashTable *routes;     /* path → Route; frozen once started */
  GHashTable *idle_watches; /* GSocket → GSource; HTTP thread only */
  guint in_flight;          /* requests read but not answered; HTTP thread */
  GArray *metrics;        /* MetricsEntry; frozen once started */
  int ready;              /* atomic */
  gboolean started;

  /* limits; set before the server starts */
  guint64 header_timeout_ms;
  guint64 idle_timeout_ms;
  guint64 body_timeout_ms;
  guint max_connections;     /* as configured */
  guint open_limit;          /* as enforced, within RLIMIT_NOFILE */
  guint max_headers;
  gsize max_header_size;
  GTlsCertificate *tls_certificate;
  GTlsProtocolVersion tls_min_version;

  GHashTable *connections;  /* GSocket → Connection; HTTP thread only */
  guint prune_at;           /* prune closed connections at this size */

  GSocket *listener;
  GSource *accept_source;   /* NULL while accepting is paused */
  GSource *accept_resume;
  int reserve_fd;           /* spent to refuse a connection on EMFILE */
  gint64 last_emfile_warning;

  /* metrics (atomic) */
  guint64 timed_out;
  guint64 refused_connections;
  guint64 refused_headers;
  guint64 refused_framing;
  guint64 refused_bodies;
  guint64 accept_failures;
};

#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 60000
#define DEFAULT_BODY_TIMEOUT_MS 60000
#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_MAX_HEADERS 100
#define DEFAULT_MAX_HEADER_SIZE (64 * 1024)
#define PRUNE_MIN 64
#define LISTEN_BACKLOG 4096
#define DEFAULT_ROUTE_MAX_BODY_SIZE (1024 * 1024)
/* Descriptors kept for everything but client connections. */
#define RESERVED_DESCRIPTORS 64
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (1024 * 1024)
/* RFC 6585; libsoup 3.2.3 knows neither the code nor its phrase. */
#define STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE 431

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
idle_watch_free (gpointer data)
{
  GSource *source = data;

  g_source_destroy (source);
  g_source_unref (source);
}

static void
connection_stop_timer (Connection *conn)
{
  if (conn->timer != NULL)
    {
      g_source_destroy (conn->timer);
      g_clear_pointer (&conn->timer, g_source_unref);
    }
}

static void
connection_stop_lingering (Connection *conn)
{
  if (conn->linger_watch != NULL)
    {
      g_source_destroy (conn->linger_watch);
      g_clear_pointer (&conn->linger_watch, g_source_unref);
    }
  if (conn->linger_base != NULL)
    {
      g_socket_close (conn->socket, NULL);
      g_clear_object (&conn->linger_base);
    }
}

static void
connection_free (gpointer data)
{
  Connection *conn = data;

  connection_stop_timer (conn);
  connection_stop_lingering (conn);
  g_clear_object (&conn->stream);
  g_object_unref (conn->socket);
  g_free (conn);
}

/* libsoup 3.2.3 knows a connection accepted through
 * soup_server_accept_iostream() by its stream and addresses only:
 * the remote address carries the socket. */
static GQuark
socket_quark (void)
{
  return g_quark_from_static_string ("cdviz-http-socket");
}

static GSocket *
message_socket (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_object_get_qdata (G_OBJECT (remote), socket_quark ()) : NULL;
}

static Connection *
message_connection (CdvizHttpServer   *self,
                    SoupServerMessage *msg)
{
  GSocket *socket = message_socket (msg);

  return socket != NULL ? g_hash_table_lookup (self->connections, socket) : NULL;
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

  cdviz_http_server_stop (self);

  if (self->reserve_fd >= 0)
    close (self->reserve_fd);
  g_clear_pointer (&self->routes, g_hash_table_unref);
  g_clear_pointer (&self->idle_watches, g_hash_table_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->metrics, g_array_unref);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->host);

  G_OBJECT_CLASS (cdviz_http_server_parent_class)->finalize (object);
}

static void
cdviz_http_server_class_init (CdvizHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_http_server_finalize;
}

static void
cdviz_http_server_init (CdvizHttpServer *self)
{
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, route_free);
  self->idle_watches = g_hash_table_new_full (NULL, NULL, g_object_unref,
                                              idle_watch_free);
  self->metrics = g_array_new (FALSE, TRUE, sizeof (MetricsEntry));
  g_array_set_clear_func (self->metrics, metrics_entry_clear);
  self->connections = g_hash_table_new_full (NULL, NULL, NULL, connection_free);
  self->prune_at = PRUNE_MIN;
  self->context = g_main_context_new ();
  self->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
  self->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS;
  self->max_connections = DEFAULT_MAX_CONNECTIONS;
  self->reserve_fd = -1;
  self->tls_min_version = G_TLS_PROTOCOL_VERSION_TLS_1_2;
  self->max_headers = DEFAULT_MAX_HEADERS;
  self->max_header_size = DEFAULT_MAX_HEADER_SIZE;
}

/**
 * cdviz_http_server_new:
 * @host: the address to listen on (`127.0.0.1`, `0.0.0.0`, `::1`,
 *   `localhost`…)
 * @port: the TCP port; 0 picks a free one (see [method@HttpServer.get_port])
 *
 * Creates a server. It listens only once started.
 *
 * Returns: (transfer full): a new server
 */
CdvizHttpServer *
cdviz_http_server_new (const char *host,
                       guint       port)
{
  CdvizHttpServer *self;

  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (port <= 65535, NULL);

  self = g_object_new (CDVIZ_TYPE_HTTP_SERVER, NULL);
  self->host = g_strdup (host);
  self->port = port;
  return self;
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
                          "cdviz_http_connections_closed_total{reason=\"timeout\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"max_connections\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"header_limits\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"framing\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"body_refused\"} %" G_GUINT64_FORMAT "\n"
                          "# HELP cdviz_http_accept_failures_total Connections that could not be accepted because the process had no descriptor left (EMFILE, ENFILE).\n"
                          "# TYPE cdviz_http_accept_failures_total counter\n"
                          "cdviz_http_accept_failures_total %" G_GUINT64_FORMAT "\n"
                          "# HELP cdviz_http_max_connections Open connections at most, as enforced (within the descriptor limit).\n"
                          "# TYPE cdviz_http_max_connections gauge\n"
                          "cdviz_http_max_connections %u\n",
                          COUNTER_GET (self->timed_out), COUNTER_GET (self->refused_connections),
                          COUNTER_GET (self->refused_headers), COUNTER_GET (self->refused_framing),
                          COUNTER_GET (self->refused_bodies), COUNTER_GET (self->accept_failures),
                          self->open_limit);

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

/* --- connections: count, header and idle timeouts ----------------------
 *
 * libsoup 3.2.3 has no timeout of its own on a server connection, and no
 * limit on how many it accepts. Every connection is known here from its
 * first "request-started" (emitted as soon as it is accepted, and again
 * when a kept-alive connection waits for its next request) until its
 * socket is closed (pruned lazily, when the table doubled). Between
 * "request-started" and the request's "got-headers" a deadline runs: the
 * header timeout for a new connection, the idle timeout for a kept-alive
 * one (switched to the header timeout when its next request starts to
 * arrive, see idle_socket_ready()). On expiry the socket is shut down, not
 * closed: libsoup's reads fail, and libsoup closes and frees the connection
 * itself, so no descriptor number is reused under its feet. */

static gboolean
connection_timed_out (gpointer data)
{
  Connection *conn = data;

  g_clear_pointer (&conn->timer, g_source_unref);
  /* Closed by libsoup meanwhile (e.g. after a `Connection: close`
   * answer): nothing timed out. */
  if (g_socket_is_closed (conn->socket))
    return G_SOURCE_REMOVE;

  if (conn->waiting)
    g_debug ("Closing a kept-alive connection idle for too long");
  else if (conn->in_body)
    g_debug ("Closing a connection that did not send its request body in time");
  else
    g_debug ("Closing a connection that did not send its request headers in time");
  COUNTER_ADD (conn->server->timed_out, 1);
  g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
connection_start_timer (Connection *conn,
                        guint64     timeout_ms)
{
  connection_stop_timer (conn);
  if (timeout_ms == 0)
    return;
  conn->timer = g_timeout_source_new (MIN (timeout_ms, G_MAXUINT));
  g_source_set_callback (conn->timer, connection_timed_out, conn, NULL);
  g_source_set_static_name (conn->timer, "[cdviz] header timeout");
  g_source_attach (conn->timer, conn->server->context);
}

static void
prune_connections (CdvizHttpServer *self)
{
  GHashTableIter iter;
  Connection *conn;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    if (g_socket_is_closed (conn->socket))
      g_hash_table_iter_remove (&iter);
  self->prune_at = MAX (PRUNE_MIN, 2 * g_hash_table_size (self->connections));
}

static gboolean
expects_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  switch (soup_message_headers_get_encoding (headers))
    {
    case SOUP_ENCODING_CONTENT_LENGTH:
      return soup_message_headers_get_content_length (headers) > 0;
    case SOUP_ENCODING_CHUNKED:
    case SOUP_ENCODING_EOF:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The request's headers are in: the header deadline stops, and the body
 * deadline starts when a body is to come. Called more than once per
 * request (early handler and "got-headers"): only the first starts it. */
static void
got_headers (SoupServerMessage *msg,
             gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->connections, socket) : NULL;

  if (conn == NULL || conn->in_body)
    return;
  conn->waiting = FALSE;
  if (self->body_timeout_ms > 0 && expects_body (msg))
    {
      conn->in_body = TRUE;
      connection_start_timer (conn, self->body_timeout_ms);
    }
  else
    connection_stop_timer (conn);
}

/* The whole request is in (body included). */
static void
got_request (CdvizHttpServer   *self,
             SoupServerMessage *msg)
{
  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->connections, socket) : NULL;

  if (conn != NULL)
    {
      conn->waiting = FALSE;
      conn->in_body = FALSE;
      connection_stop_timer (conn);
    }
}

static void
request_started (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  GSocket *socket = message_socket (msg);
  Connection *conn;

  if (socket == NULL || g_socket_is_closed (socket))
    return;

  /* Known since it was accepted (accept_ready()). */
  conn = g_hash_table_lookup (self->connections, socket);
  if (conn == NULL)
    return;

  /* libsoup 3.2.3 emits "request-started" for the first request of a
   * connection only; later ones are followed from "request-finished"
   * (request_done()), the early handler and "request-read". */
  conn->waiting = FALSE;
  conn->in_body = FALSE;
  connection_start_timer (conn, self->header_timeout_ms);
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers), self);
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

/* --- requests answered from their head -----------------------------------
 *
 * libsoup 3.2.3 reads (and, unless told otherwise, keeps) the body of a
 * request even when an early handler already answered it. Here such a
 * request is answered at once on the connection, and the body is never
 * read: see cdviz_http_stream_refuse(). */

static void
append_response_header (const char *name,
                        const char *value,
                        gpointer    user_data)
{
  GString *out = user_data;

  if (g_ascii_strcasecmp (name, "Content-Length") == 0 ||
      g_ascii_strcasecmp (name, "Connection") == 0 ||
      g_ascii_strcasecmp (name, "Transfer-Encoding") == 0)
    return;
  g_string_append_printf (out, "%s: %s\r\n", name, value);
}

/* The answer set on @msg, as it goes on the wire, ending the connection. */
static GBytes *
serialize_response (SoupServerMessage *msg)
{
  guint status = soup_server_message_get_status (msg);
  const char *phrase = soup_server_message_get_reason_phrase (msg);
  g_autoptr(GBytes) body = NULL;
  GString *out = g_string_new (NULL);
  gsize length = 0;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_HEAD)
    body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  if (phrase == NULL)
    phrase = status == STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE
             ? "Request Header Fields Too Large" : soup_status_get_phrase (status);
  g_string_append_printf (out, "HTTP/1.%d %u %s\r\n",
                          soup_server_message_get_http_version (msg) == SOUP_HTTP_1_0 ? 0 : 1,
                          status, phrase);
  soup_message_headers_foreach (soup_server_message_get_response_headers (msg),
                                append_response_header, out);
  if (body != NULL)
    length = g_bytes_get_size (body);
  g_string_append_printf (out, "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n\r\n", length);
  if (length > 0)
    g_string_append_len (out, g_bytes_get_data (body, NULL), (gssize) length);
  return g_string_free_to_bytes (out);
}

/* Sends the answer set on @msg now, and never reads its body. */
static void
refuse_body (CdvizHttpServer   *self,
             SoupServerMessage *msg)
{
  Connection *conn = message_connection (self, msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) response = NULL;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  /* With `Expect: 100-continue` libsoup answers without reading the body. */
  if (conn == NULL || conn->stream == NULL ||
      (soup_message_headers_get_expectations (request) & SOUP_EXPECTATION_CONTINUE))
    return;

  COUNTER_ADD (self->refused_bodies, 1);
  response = serialize_response (msg);
  cdviz_http_stream_refuse (conn->stream, response);
}

static gboolean
is_builtin_path (const char *path)
{
  return g_str_equal (path, "/healthz") || g_str_equal (path, "/readyz") ||
         g_str_equal (path, "/metrics");
}

#define BODY_RECEIVED_KEY "cdviz-body-received"
#define IN_FLIGHT_KEY "cdviz-in-flight"
#define STOP_GRACE_USEC (G_USEC_PER_SEC)

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
    refuse_body (self, msg);
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
  gboolean body = expects_body (msg);
  Route *route;

  got_headers (msg, self);
  if (refuse_large_headers (self, msg))
    {
      if (body)
        refuse_body (self, msg);
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
    refuse_body (self, msg);
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

/* --- idle keep-alive connections ----------------------------------------
 *
 * libsoup 3.2.3 never closes a keep-alive connection that the client closes
 * while it is idle between two requests (fixed upstream by commit d20c6601,
 * "Don't leak idle connections closed by the client", in 3.3): the socket
 * stays in CLOSE-WAIT and its descriptor is never released. Work around it
 * by watching every connection between the end of one request
 * ("request-finished") and the arrival of the next ("request-read"): when
 * the socket becomes readable and a peek reads end-of-file (or a reset), the
 * client is gone and nothing is in flight, so the socket is closed. Data
 * instead means a new request, left to libsoup. Sockets libsoup closes
 * itself are noticed (g_socket_is_closed()) and forgotten; their descriptor
 * is never touched again. */

static gboolean
idle_socket_ready (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  CdvizHttpServer *self = user_data;
  char byte;
  gssize n;

  if (!g_socket_is_closed (socket))
    {
      n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        {
          Connection *conn;

          if (n < 0)
            return G_SOURCE_CONTINUE;   /* spurious wake-up */
          /* a new request: libsoup reads it, within the header timeout */
          conn = g_hash_table_lookup (self->connections, socket);
          if (conn != NULL && conn->waiting)
            {
              conn->waiting = FALSE;
              conn->in_body = FALSE;
              connection_start_timer (conn, self->header_timeout_ms);
            }
        }
      else
        {
          g_debug ("Closing an idle connection the client closed");
          g_socket_close (socket, NULL);
        }
    }

  /* Removing the entry destroys this source. */
  g_hash_table_remove (self->idle_watches, socket);
  return G_SOURCE_REMOVE;
}

static void
watch_idle_connection (SoupServer        *server,
                       SoupServerMessage *msg,
                       gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  GSocket *socket = message_socket (msg);
  GSource *source;

  if (socket == NULL || g_socket_is_closed (socket) ||
      g_hash_table_contains (self->idle_watches, socket))
    return;

  source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (idle_socket_ready), self, NULL);
  g_source_set_static_name (source, "[cdviz] idle connection");
  g_source_attach (source, self->context);
  g_hash_table_insert (self->idle_watches, g_object_ref (socket), source);
}


static void
unwatch_busy_connection (SoupServer        *server,
                         SoupServerMessage *msg,
                         gpointer           user_data)
{
  CdvizHttpServer *self = user_data;
  GSocket *socket = message_socket (msg);

  if (socket != NULL)
    g_hash_table_remove (self->idle_watches, socket);
  got_request (self, msg);

  g_object_set_data (G_OBJECT (msg), IN_FLIGHT_KEY, GINT_TO_POINTER (1));
  self->in_flight++;
}

static void
request_done (SoupServer        *server,
              SoupServerMessage *msg,
              gpointer           user_data)
{
  CdvizHttpServer *self = user_data;

  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->connections, socket) : NULL;

  if (g_object_steal_data (G_OBJECT (msg), IN_FLIGHT_KEY) != NULL)
    self->in_flight--;
  watch_idle_connection (server, msg, user_data);

  if (conn == NULL)
    return;
  conn->in_body = FALSE;
  /* Kept alive: the idle timeout runs until the next request arrives. */
  if (!g_socket_is_closed (socket))
    {
      conn->waiting = TRUE;
      connection_start_timer (conn, self->idle_timeout_ms);
    }
  else
    connection_stop_timer (conn);
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

/* --- accepting -------------------------------------------------------------
 *
 * The server accepts connections itself: libsoup 3.2.3's listener removes
 * itself for good after one failed accept (soup-listener.c, listen_watch()),
 * so one moment without a free descriptor (EMFILE) would stop the server
 * accepting forever. Here a failed accept is counted, the waiting
 * connection is closed with the spare descriptor kept for that (so that
 * its client is told at once instead of hanging in the backlog), and
 * accepting pauses for a moment and resumes. */

static void start_accepting (CdvizHttpServer *self);

static gboolean
resume_accepting (gpointer data)
{
  CdvizHttpServer *self = data;

  g_clear_pointer (&self->accept_resume, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

static void
pause_accepting (CdvizHttpServer *self)
{
  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  if (self->accept_resume == NULL)
    {
      self->accept_resume = g_timeout_source_new (ACCEPT_PAUSE_MS);
      g_source_set_callback (self->accept_resume, resume_accepting, self, NULL);
      g_source_set_static_name (self->accept_resume, "[cdviz] resume accepting");
      g_source_attach (self->accept_resume, self->context);
    }
}

static void
out_of_descriptors (CdvizHttpServer *self,
                    int              error_number)
{
  gint64 now = g_get_monotonic_time ();

  COUNTER_ADD (self->accept_failures, 1);
  if (now - self->last_emfile_warning > 10 * G_USEC_PER_SEC)
    {
      self->last_emfile_warning = now;
      g_warning (_("Cannot accept a connection: %s; refusing new connections until "
                   "descriptors are free again"), g_strerror (error_number));
    }

  /* Spend the spare descriptor to tell one waiting client, then keep
   * another spare. */
  if (self->reserve_fd >= 0)
    {
      int fd;

      close (self->reserve_fd);
      fd = accept4 (g_socket_get_fd (self->listener), NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        close (fd);
      self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  pause_accepting (self);
}

static void
linger_done (Connection *conn)
{
  connection_stop_lingering (conn);
}

static gboolean
linger_timed_out (gpointer data)
{
  Connection *conn = data;

  g_clear_pointer (&conn->timer, g_source_unref);
  linger_done (conn);
  return G_SOURCE_REMOVE;
}

/* Drains what the client of a refused request still sends, so that
 * closing does not reset the connection before it read the answer. */
static gboolean
linger_readable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      data)
{
  Connection *conn = data;
  char buffer[16384];
  gssize n;

  do
    n = recv (g_socket_get_fd (socket), buffer, sizeof buffer, MSG_DONTWAIT);
  while (n > 0 && (conn->lingered += (gsize) n) < LINGER_MAX_BYTES);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;

  /* end of file, an error, or enough */
  g_clear_pointer (&conn->linger_watch, g_source_unref);
  connection_stop_timer (conn);
  linger_done (conn);
  return G_SOURCE_REMOVE;
}

/* libsoup closed the stream of a refused request (CdvizHttpStreamLingerFunc). */
static void
start_lingering (CdvizHttpStream *stream,
                 gpointer         user_data)
{
  CdvizHttpServer *self = user_data;
  GSocket *socket = cdviz_http_stream_get_socket (stream);
  Connection *conn = g_hash_table_lookup (self->connections, socket);

  if (cdviz_http_stream_framing_failed (stream))
    COUNTER_ADD (self->refused_framing, 1);

  if (conn == NULL || conn->linger_base != NULL)
    {
      g_io_stream_close (cdviz_http_stream_get_base (stream), NULL, NULL);
      return;
    }

  conn->linger_base = g_object_ref (cdviz_http_stream_get_base (stream));
  conn->waiting = FALSE;
  conn->in_body = FALSE;
  g_hash_table_remove (self->idle_watches, socket);

  connection_stop_timer (conn);
  conn->timer = g_timeout_source_new (LINGER_MS);
  g_source_set_callback (conn->timer, linger_timed_out, conn, NULL);
  g_source_set_static_name (conn->timer, "[cdviz] lingering close");
  g_source_attach (conn->timer, self->context);

  conn->linger_watch = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->linger_watch, G_SOURCE_FUNC (linger_readable), conn, NULL);
  g_source_set_static_name (conn->linger_watch, "[cdviz] lingering drain");
  g_source_attach (conn->linger_watch, self->context);
}

/* Hands a new connection to libsoup, behind a CdvizHttpStream. */
static void
add_connection (CdvizHttpServer *self,
                GSocket         *socket)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GError) error = NULL;
  Connection *conn;

  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  local = g_socket_get_local_address (socket, &error);
  if (local != NULL)
    remote = g_socket_get_remote_address (socket, &error);
  if (remote == NULL)
    {
      g_debug ("Dropping a connection closed before it was accepted: %s", error->message);
      g_socket_close (socket, NULL);
      return;
    }

  connection = g_socket_connection_factory_create_connection (socket);
  if (self->tls_certificate != NULL)
    {
      static const char * const protocols[] = { "http/1.1", "http/1.0", NULL };

      /* "database" set (to none) explicitly: left unset, glib-networking
       * loads the system's whole trust store for every connection, and
       * frees it with the connection. */
      base = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                             NULL, &error,
                             "base-io-stream", connection,
                             "certificate", self->tls_certificate,
                             "database", NULL,
                             "require-close-notify", FALSE,
                             "advertised-protocols", protocols,
                             NULL);
      if (base == NULL)
        {
          g_warning ("Cannot start TLS on a new connection: %s", error->message);
          g_socket_close (socket, NULL);
          return;
        }
    }
  else
    base = G_IO_STREAM (g_object_ref (connection));

  conn = g_new0 (Connection, 1);
  conn->server = self;
  conn->socket = g_object_ref (socket);
  conn->stream = cdviz_http_stream_new (base, socket, start_lingering, self);
  g_hash_table_insert (self->connections, socket, conn);

  g_object_set_qdata_full (G_OBJECT (remote), socket_quark (), g_object_ref (socket),
                           g_object_unref);
  soup_server_accept_iostream (self->server, G_IO_STREAM (conn->stream), local, remote, NULL);
}

static gboolean
accept_ready (GSocket      *listener,
              GIOCondition  condition,
              gpointer      user_data)
{
  CdvizHttpServer *self = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GError) error = NULL;
      int fd = accept4 (g_socket_get_fd (listener), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

      if (fd < 0)
        {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              out_of_descriptors (self, errno);
              return G_SOURCE_REMOVE;
            }
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          continue;   /* ECONNABORTED, EINTR, EPROTO…: the next one */
        }

      if (g_hash_table_size (self->connections) >= self->prune_at ||
          g_hash_table_size (self->connections) >= self->open_limit)
        prune_connections (self);
      if (g_hash_table_size (self->connections) >= self->open_limit)
        {
          g_debug ("Closing a new connection: max_connections (%u) reached", self->open_limit);
          COUNTER_ADD (self->refused_connections, 1);
          close (fd);
          continue;
        }

      socket = g_socket_new_from_fd (fd, &error);
      if (socket == NULL)
        {
          close (fd);
          continue;
        }
      add_connection (self, socket);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_accepting (CdvizHttpServer *self)
{
  if (self->accept_source != NULL || self->listener == NULL)
    return;
  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (accept_ready), self, NULL);
  g_source_set_static_name (self->accept_source, "[cdviz] accept");
  g_source_attach (self->accept_source, self->context);
}

/* libsoup 3.2.3 keeps a connection alive only while the server has a
 * listener (soup-server.c, request_finished()). The connections come from
 * accept_ready(), so the listener it gets is a placeholder that accepts
 * nothing: one end of a socket pair whose other end is closed (the
 * listener's first accept fails and it stops watching). */
static gboolean
add_placeholder_listener (CdvizHttpServer  *self,
                          GError          **error)
{
  int fds[2];
  g_autoptr(GSocket) socket = NULL;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      return FALSE;
    }
  close (fds[1]);
  socket = g_socket_new_from_fd (fds[0], error);
  if (socket == NULL)
    {
      close (fds[0]);
      return FALSE;
    }
  return soup_server_listen_socket (self->server, socket, 0, error);
}

/* Raises the soft descriptor limit to the hard one, and keeps
 * max_connections within it. */
static void
fit_descriptor_limit (CdvizHttpServer *self)
{
  struct rlimit limit;
  rlim_t usable;

  self->open_limit = self->max_connections > 0 ? self->max_connections : G_MAXUINT;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max)
    {
      struct rlimit raised = limit;

      raised.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
        limit = raised;
      else
        g_debug ("Cannot raise the descriptor limit to %llu: %s",
                 (unsigned long long) limit.rlim_max, g_strerror (errno));
    }
  if (limit.rlim_cur == RLIM_INFINITY)
    return;

  usable = limit.rlim_cur > RESERVED_DESCRIPTORS ? limit.rlim_cur - RESERVED_DESCRIPTORS : 1;
  if ((rlim_t) self->open_limit > usable)
    {
      self->open_limit = (guint) MIN (usable, (rlim_t) G_MAXUINT);
      if (self->max_connections > 0)
        g_message (_("max_connections lowered from %u to %u: the process may open %llu "
                     "descriptors (ulimit -n), %u of them kept for other uses"),
                   self->max_connections, self->open_limit,
                   (unsigned long long) limit.rlim_cur, RESERVED_DESCRIPTORS);
    }
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
  Connection *conn;
  g_autoptr(GIOStream) stolen = NULL;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), NULL);

  if (socket != NULL)
    *socket = NULL;
  conn = message_connection (self, msg);
  /* libsoup 3.2.3 emits neither "request-finished" nor "request-aborted"
   * for a message whose connection was stolen. */
  if (g_object_steal_data (G_OBJECT (msg), IN_FLIGHT_KEY) != NULL)
    self->in_flight--;
  stolen = soup_server_message_steal_connection (msg);
  if (stolen == NULL || conn == NULL || conn->stream == NULL ||
      g_socket_is_closed (conn->socket))
    {
      if (stolen != NULL)
        g_io_stream_close (stolen, NULL, NULL);
      return NULL;
    }

  connection_stop_timer (conn);
  g_hash_table_remove (self->idle_watches, conn->socket);
  cdviz_http_stream_detach (conn->stream);
  if (socket != NULL)
    *socket = g_object_ref (conn->socket);
  return g_object_ref (cdviz_http_stream_get_base (conn->stream));
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

/**
 * cdviz_http_server_set_header_timeout:
 * @self: a #CdvizHttpServer
 * @timeout_ms: the timeout in milliseconds; 0 disables it
 *
 * Sets how long a client may take to send the complete headers of a request
 * once it started sending it (for a new connection: from the moment it is
 * accepted, TLS handshake included). A client that is slower is
 * disconnected. Default: 10 seconds. Call before the server starts.
 */
void
cdviz_http_server_set_header_timeout (CdvizHttpServer *self,
                                      guint64          timeout_ms)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->header_timeout_ms = timeout_ms;
}

/**
 * cdviz_http_server_set_idle_timeout:
 * @self: a #CdvizHttpServer
 * @timeout_ms: the timeout in milliseconds; 0 disables it
 *
 * Sets how long a kept-alive connection may stay idle, waiting for its next
 * request, before the server closes it. Default: 60 seconds. Call before
 * the server starts.
 */
void
cdviz_http_server_set_idle_timeout (CdvizHttpServer *self,
                                    guint64          timeout_ms)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->idle_timeout_ms = timeout_ms;
}

/**
 * cdviz_http_server_set_body_timeout:
 * @self: a #CdvizHttpServer
 * @timeout_ms: the timeout in milliseconds; 0 disables it
 *
 * Sets how long a client may take to send the body of a request once its
 * headers are in (with `Expect: 100-continue`, from the moment the server
 * asked for it). A client that is slower is disconnected and its request
 * is not handled. Default: 60 seconds. Call before the server starts.
 */
void
cdviz_http_server_set_body_timeout (CdvizHttpServer *self,
                                    guint64          timeout_ms)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->body_timeout_ms = timeout_ms;
}

/**
 * cdviz_http_server_set_max_connections:
 * @self: a #CdvizHttpServer
 * @max_connections: the largest number of open connections; 0 means no
 *   limit
 *
 * Sets how many connections (SSE streams included) may be open at once.
 * Connections beyond it are closed as soon as they are accepted. Default:
 * 10000. The process also needs that many file descriptors
 * (`RLIMIT_NOFILE`). Call before the server starts.
 */
void
cdviz_http_server_set_max_connections (CdvizHttpServer *self,
                                       guint            max_connections)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->max_connections = max_connections;
}

/**
 * cdviz_http_server_set_max_headers:
 * @self: a #CdvizHttpServer
 * @max_headers: the largest number of header fields of a request; 0 means
 *   no limit
 *
 * Requests with more header fields are answered 431 and their connection
 * is closed. Default: 100. Call before the server starts.
 */
void
cdviz_http_server_set_max_headers (CdvizHttpServer *self,
                                   guint            max_headers)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->max_headers = max_headers;
}

/**
 * cdviz_http_server_set_max_header_size:
 * @self: a #CdvizHttpServer
 * @max_header_size: the largest total size of a request's header fields,
 *   in bytes; 0 means no limit of the server's own
 *
 * Requests whose header fields (names, values, separators) are larger are
 * answered 431 and their connection is closed. Default: 65536. Whatever
 * the setting, libsoup 3.2.3 drops a connection whose request head (request
 * line and headers) exceeds 64 KiB before it reaches the server. Call
 * before the server starts.
 */
void
cdviz_http_server_set_max_header_size (CdvizHttpServer *self,
                                       gsize            max_header_size)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (!self->started);
  self->max_header_size = max_header_size;
}

/**
 * cdviz_http_server_set_tls_certificate:
 * @self: a #CdvizHttpServer
 * @certificate: (nullable): the server's certificate, with its private key
 *   (see g_tls_certificate_new_from_files()), or %NULL for plain HTTP
 *
 * Makes the server speak HTTPS only, with @certificate. Call before the
 * server starts.
 */
void
cdviz_http_server_set_tls_certificate (CdvizHttpServer *self,
                                       GTlsCertificate *certificate)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));
  g_return_if_fail (!self->started);
  g_set_object (&self->tls_certificate, certificate);
}

/**
 * cdviz_http_server_set_tls_min_version:
 * @self: a #CdvizHttpServer
 * @version: %G_TLS_PROTOCOL_VERSION_TLS_1_2 or %G_TLS_PROTOCOL_VERSION_TLS_1_3
 *
 * Sets the oldest TLS version the server accepts (default: TLS 1.2). With
 * TLS 1.2, only forward-secret AEAD cipher suites are offered. This goes
 * through glib-networking's `G_TLS_GNUTLS_PRIORITY`, which applies to the
 * whole process and is read once, when the first TLS connection is made:
 * when the environment sets it already, it wins. Call before the server
 * starts.
 */
void
cdviz_http_server_set_tls_min_version (CdvizHttpServer     *self,
                                       GTlsProtocolVersion  version)
{
  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (version == G_TLS_PROTOCOL_VERSION_TLS_1_2 ||
                    version == G_TLS_PROTOCOL_VERSION_TLS_1_3);
  g_return_if_fail (!self->started);
  self->tls_min_version = version;
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

  if (self->started)
    return TRUE;

  address = resolve_address (self->host, self->port, &local_error);
  if (address == NULL)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_LISTEN,
                   _("Cannot listen on %s:%u: %s"), self->host, self->port,
                   local_error->message);
      return FALSE;
    }

  fit_descriptor_limit (self);
  if (self->tls_certificate != NULL)
    set_tls_priority (self);
  if (self->reserve_fd < 0)
    self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  g_main_context_push_thread_default (self->context);
  /* No version: it only helps an attacker pick an exploit. */
  self->server = soup_server_new ("server-header", "cdviz-pipeline", NULL);
  g_signal_connect (self->server, "request-started", G_CALLBACK (request_started), self);
  soup_server_add_handler (self->server, NULL, server_callback, self, NULL);
  soup_server_add_early_handler (self->server, NULL, early_server_callback, self, NULL);
  g_signal_connect (self->server, "request-read", G_CALLBACK (unwatch_busy_connection), self);
  g_signal_connect (self->server, "request-finished", G_CALLBACK (request_done), self);
  g_signal_connect (self->server, "request-aborted", G_CALLBACK (request_done), self);
  /* Our own listening socket: soup_server_listen() keeps GLib's backlog
   * of 10, and a burst of connections beyond it waits for SYN retries. */
  listener = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_TCP, &local_error);
  if (listener != NULL)
    g_socket_set_listen_backlog (listener, LISTEN_BACKLOG);
  ok = listener != NULL &&
       g_socket_bind (listener, address, TRUE, &local_error) &&
       g_socket_listen (listener, &local_error) &&
       add_placeholder_listener (self, &local_error);
  g_main_context_pop_thread_default (self->context);

  if (!ok)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_LISTEN,
                   _("Cannot listen on %s:%u: %s"), self->host, self->port,
                   local_error->message);
      g_clear_object (&self->server);
      return FALSE;
    }

  g_socket_set_blocking (listener, FALSE);
  self->listener = g_steal_pointer (&listener);
  self->bound_port = self->port;
  {
    g_autoptr(GSocketAddress) local = g_socket_get_local_address (self->listener, NULL);
    if (G_IS_INET_SOCKET_ADDRESS (local))
      self->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }
  start_accepting (self);

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
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
disconnect_on_thread (gpointer data)
{
  CdvizHttpServer *self = data;

  /* Requests being answered (a webhook waiting for the pipeline, whose
   * answers were queued to this context while it drained) get up to a
   * second to be written, so that no accepted event loses its answer. */
  if (self->in_flight > 0)
    {
      gint64 deadline = g_get_monotonic_time () + STOP_GRACE_USEC;
      GSource *tick = g_timeout_source_new (10);

      g_source_set_callback (tick, wake_up, NULL, NULL);
      g_source_set_static_name (tick, "[cdviz] stop grace");
      g_source_attach (tick, self->context);
      while (self->in_flight > 0 && g_get_monotonic_time () < deadline)
        g_main_context_iteration (self->context, TRUE);
      g_source_destroy (tick);
      g_source_unref (tick);
      if (self->in_flight > 0)
        g_debug ("Stopping with %u requests unanswered", self->in_flight);
    }

  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  if (self->accept_resume != NULL)
    {
      g_source_destroy (self->accept_resume);
      g_clear_pointer (&self->accept_resume, g_source_unref);
    }
  if (self->listener != NULL)
    {
      g_socket_close (self->listener, NULL);
      g_clear_object (&self->listener);
    }
  g_hash_table_remove_all (self->idle_watches);
  g_hash_table_remove_all (self->connections);
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

  cdviz_http_server_invoke_sync (self, disconnect_on_thread, self);
  g_thread_join (g_steal_pointer (&self->thread));

  /* Let pending sources (closures of closed connections) run and free. */
  g_main_context_push_thread_default (self->context);
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
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
 * cdviz_http_server_get_soup_server:
 * @self: a #CdvizHttpServer
 *
 * Gets the libsoup server. Use it only on the HTTP thread.
 *
 * Returns: (transfer none) (nullable): the server, once started
 */
SoupServer *
cdviz_http_server_get_soup_server (CdvizHttpServer *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  return self->server;
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
