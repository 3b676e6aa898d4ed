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

#include "cdviz-http-connections-private.h"
#include "cdviz-http-access-log-private.h"
#include "cdviz-http-stream-private.h"

/*
 * The connections of the HTTP server, and the workarounds for what libsoup
 * 3.2.3 leaves to a server facing untrusted clients. Each says which
 * libsoup change would make it removable:
 *
 * - Accepting (accept_ready()): libsoup's listener removes itself for good
 *   after one failed accept (soup-listener.c, listen_watch(); still so in
 *   3.4), and has no connection limit. Here EMFILE is counted and survived,
 *   and max_connections enforced at accept. libsoup keeps a connection
 *   alive only while it has a listener (soup-server.c, request_finished()):
 *   it gets a placeholder that never accepts.
 * - Framing (CdvizHttpStream): libsoup 3.2.3 accepts ambiguous request
 *   framing; every byte goes through cdviz-http-framing.c first.
 * - Deadlines (connection_timed_out()): libsoup has no header, body or idle
 *   timeout of its own on a server connection (none up to 3.6).
 * - Bodies answered from the head (refuse_body()): libsoup reads the body
 *   of a request an early handler answered (soup-server-message-io-http1.c,
 *   io_read()); here it is never read.
 * - Idle connections the client closed (idle_watch_dispatch()): leaked in
 *   CLOSE-WAIT until libsoup 3.3 (commit d20c6601, "Don't leak idle
 *   connections closed by the client").
 * - Stolen connections (_cdviz_http_connections_steal()): libsoup emits
 *   neither "request-finished" nor "request-aborted" for them, so they are
 *   taken out of the in-flight count here.
 */

#define PRUNE_MIN 64
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (1024 * 1024)
#define STOP_GRACE_USEC (G_USEC_PER_SEC)



/* A connection libsoup accepted, until its socket is closed. */
typedef struct {
  CdvizHttpConnections *owner;
  GSocket *socket;
  GSource *deadline;     /* header, body or idle deadline: made once, moved
                            by setting `due` (see deadline_funcs) */
  gint64 due;            /* monotonic µs when the deadline fires, 0 while busy */
  GSource *timer;        /* the lingering close's timeout, or NULL */
  GSource *idle;         /* IdleWatch between requests (see below), or NULL */
  gboolean waiting;      /* kept alive, waiting for the next request */
  gboolean in_body;      /* headers read, the body still arriving */
  gboolean request_deadline;  /* the timer is the request timeout's (408) */
  SoupServerMessage *msg;     /* (unowned) the request whose body is read */
  CdvizHttpStream *stream;  /* what libsoup reads */
  /* refused: libsoup is done, the rest of the request is drained */
  GIOStream *linger_base;
  GSource *linger_watch;
  gsize lingered;
} Connection;

/* The deadline's source goes (a later arming makes a new one). */
static void
connection_drop_deadline (Connection *conn)
{
  if (conn->deadline != NULL)
    {
      g_source_destroy (conn->deadline);
      g_clear_pointer (&conn->deadline, g_source_unref);
    }
}

static void
connection_unwatch_idle (Connection *conn)
{
  if (conn->idle != NULL)
    {
      g_source_destroy (conn->idle);
      g_clear_pointer (&conn->idle, g_source_unref);
    }
}

static void
connection_stop_timer (Connection *conn)
{
  conn->due = 0;
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
  connection_drop_deadline (conn);
  connection_unwatch_idle (conn);
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
message_connection (CdvizHttpConnections *self,
                    SoupServerMessage *msg)
{
  GSocket *socket = message_socket (msg);

  return socket != NULL ? g_hash_table_lookup (self->by_socket, socket) : NULL;
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
 * arrive, see idle_watch_dispatch()). On expiry the socket is shut down, not
 * closed: libsoup's reads fail, and libsoup closes and frees the connection
 * itself, so no descriptor number is reused under its feet. */

static void connection_start_timer (Connection *conn,
                                    guint64     timeout_ms);

static gboolean
connection_timed_out (gpointer data)
{
  Connection *conn = data;

  /* Closed by libsoup meanwhile (e.g. after a `Connection: close`
   * answer): nothing timed out. */
  if (g_socket_is_closed (conn->socket))
    return G_SOURCE_REMOVE;

  /* `request_timeout`, as cdviz-collector: the request is answered 408
   * (empty body) and the connection closed; the client gets a short
   * while to take the answer before the socket is shut down. */
  if (conn->request_deadline && conn->in_body && conn->stream != NULL)
    {
      static const char answer[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
      g_autoptr(GBytes) response = g_bytes_new_static (answer, sizeof answer - 1);

      g_debug ("Answering 408 to a request whose body did not arrive in time");
      conn->request_deadline = FALSE;
      if (conn->msg != NULL)
        _cdviz_http_access_log_finish ((const char * const *) conn->owner->limits.access_log_filter,
                                       conn->msg, SOUP_STATUS_REQUEST_TIMEOUT);
      cdviz_http_stream_refuse (conn->stream, response);
      connection_start_timer (conn, LINGER_MS);
      return G_SOURCE_REMOVE;
    }

  if (conn->waiting)
    g_debug ("Closing a kept-alive connection idle for too long");
  else if (conn->in_body)
    g_debug ("Closing a connection that did not send its request body in time");
  else
    g_debug ("Closing a connection that did not send its request headers in time");
  COUNTER_ADD (conn->owner->timed_out, 1);
  g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* The deadline is a plain field read by the source's prepare and check,
 * as GTimeoutSource did before ready times: moving it costs nothing.
 * g_source_set_ready_time() signals the context's wake-up (an eventfd
 * write, then an extra main-loop iteration) at every change, even from
 * the owning thread, and a request moved the deadline two or three
 * times: 12 % of the HTTP thread's samples under keep-alive ingest.
 * Every move happens on the HTTP thread, which polls again after its
 * handlers ran, so no wake-up is needed. */
typedef struct {
  GSource source;
  Connection *conn;
} DeadlineSource;

static gboolean
deadline_prepare (GSource *source,
                  gint    *timeout)
{
  gint64 due = ((DeadlineSource *) source)->conn->due;
  gint64 now;

  *timeout = -1;
  if (due == 0)
    return FALSE;
  now = g_source_get_time (source);
  if (now >= due)
    return TRUE;
  /* Rounded up: never wake up before it is due. */
  *timeout = (gint) MIN ((due - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
deadline_check (GSource *source)
{
  gint64 due = ((DeadlineSource *) source)->conn->due;

  return due != 0 && g_source_get_time (source) >= due;
}

/* The deadline fires once per arming: disarmed before its callback runs. */
static gboolean
deadline_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  ((DeadlineSource *) source)->conn->due = 0;
  callback (user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadline_funcs = {
  .prepare = deadline_prepare,
  .check = deadline_check,
  .dispatch = deadline_dispatch,
};

/* Arms the connection's deadline. A request moves it two or three times
 * (header, body, idle): one source per connection, made at the first
 * arming, whose deadline is then only a field to set. */
static void
connection_start_timer (Connection *conn,
                        guint64     timeout_ms)
{
  connection_stop_timer (conn);
  if (timeout_ms == 0)
    return;
  if (conn->deadline == NULL)
    {
      conn->deadline = g_source_new (&deadline_funcs, sizeof (DeadlineSource));
      ((DeadlineSource *) conn->deadline)->conn = conn;
      g_source_set_callback (conn->deadline, connection_timed_out, conn, NULL);
      g_source_set_static_name (conn->deadline, "[cdviz] connection deadline");
      g_source_attach (conn->deadline, conn->owner->context);
    }
  conn->due = g_get_monotonic_time () + (gint64) MIN (timeout_ms, G_MAXUINT) * 1000;
}

void
_cdviz_http_connections_prune (CdvizHttpConnections *self)
{
  GHashTableIter iter;
  Connection *conn;

  g_hash_table_iter_init (&iter, self->by_socket);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    if (g_socket_is_closed (conn->socket))
      g_hash_table_iter_remove (&iter);
  self->prune_at = MAX (PRUNE_MIN, 2 * g_hash_table_size (self->by_socket));
}

gboolean
_cdviz_http_connections_expects_body (SoupServerMessage *msg)
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
  CdvizHttpConnections *self = user_data;
  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->by_socket, socket) : NULL;

  guint64 body_ms, request_ms;

  _cdviz_http_access_log_start (msg);
  if (conn == NULL || conn->in_body)
    return;
  conn->waiting = FALSE;
  body_ms = self->limits.body_timeout_ms;
  request_ms = self->limits.request_timeout_ms;
  if ((body_ms > 0 || request_ms > 0) && _cdviz_http_connections_expects_body (msg))
    {
      conn->in_body = TRUE;
      conn->msg = msg;
      conn->request_deadline = request_ms > 0 && (body_ms == 0 || request_ms < body_ms);
      connection_start_timer (conn, conn->request_deadline ? request_ms : body_ms);
    }
  else
    connection_stop_timer (conn);
}

/* The whole request is in (body included). */
static void
got_request (CdvizHttpConnections *self,
             SoupServerMessage *msg)
{
  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->by_socket, socket) : NULL;

  if (conn != NULL)
    {
      conn->waiting = FALSE;
      conn->in_body = FALSE;
      conn->request_deadline = FALSE;
      conn->msg = NULL;
      connection_stop_timer (conn);
    }
}

static void
request_started (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  CdvizHttpConnections *self = user_data;
  GSocket *socket = message_socket (msg);
  Connection *conn;

  if (socket == NULL || g_socket_is_closed (socket))
    return;

  /* Known since it was accepted (accept_ready()). */
  conn = g_hash_table_lookup (self->by_socket, socket);
  if (conn == NULL)
    return;

  /* libsoup 3.2.3 emits "request-started" for the first request of a
   * connection only; later ones are followed from "request-finished"
   * (request_done()), the early handler and "request-read". */
  conn->waiting = FALSE;
  conn->in_body = FALSE;
  connection_start_timer (conn, self->limits.header_timeout_ms);
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers), self);
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
    phrase = status == CDVIZ_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE
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
void
_cdviz_http_connections_refuse_body (CdvizHttpConnections *self,
                                     SoupServerMessage    *msg)
{
  Connection *conn = message_connection (self, msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) response = NULL;

  _cdviz_http_access_log_finish ((const char * const *) self->limits.access_log_filter, msg,
                                 soup_server_message_get_status (msg));
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

/* One watch per connection, made at its first idle time and kept: between
 * two requests it polls for input, while a request is in flight its events
 * are 0. Its GPollFD is switched by writing `events`, which GLib reads at
 * every iteration; a socket source made and destroyed per request cost two
 * wake-ups of the context (adding and removing a poll signals it) and an
 * extra main-loop iteration each. The descriptor never changes while the
 * watch is attached (GLib keeps its poll records sorted by descriptor).
 * Whatever poll reports on a socket libsoup closed meanwhile (POLLNVAL, or
 * a newer connection's data under a reused number) ends the watch. */
typedef struct {
  GSource source;
  GPollFD pollfd;
  Connection *conn;
} IdleWatch;

#define IDLE_EVENTS (G_IO_IN | G_IO_HUP | G_IO_ERR)

static gboolean
idle_watch_check (GSource *source)
{
  return ((IdleWatch *) source)->pollfd.revents != 0;
}

static gboolean
idle_watch_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  IdleWatch *watch = (IdleWatch *) source;
  Connection *conn = watch->conn;
  CdvizHttpConnections *self = conn->owner;
  GSocket *socket = conn->socket;
  gboolean watching = watch->pollfd.events != 0;
  char byte;
  gssize n;

  watch->pollfd.revents = 0;
  /* Closed by libsoup, or an error or hang-up while a request is in
   * flight (libsoup sees it when it reads or writes): the watch ends, and
   * the next idle time makes a new one. */
  if (g_socket_is_closed (socket) || !watching)
    {
      g_clear_pointer (&conn->idle, g_source_unref);
      return G_SOURCE_REMOVE;
    }

  n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;   /* spurious wake-up */
  if (n > 0)
    {
      /* a new request: libsoup reads it, within the header timeout */
      watch->pollfd.events = 0;
      if (conn->waiting)
        {
          conn->waiting = FALSE;
          conn->in_body = FALSE;
          connection_start_timer (conn, self->limits.header_timeout_ms);
        }
      return G_SOURCE_CONTINUE;
    }

  g_debug ("Closing an idle connection the client closed");
  g_socket_close (socket, NULL);
  g_clear_pointer (&conn->idle, g_source_unref);
  return G_SOURCE_REMOVE;
}

static GSourceFuncs idle_watch_funcs = {
  .check = idle_watch_check,
  .dispatch = idle_watch_dispatch,
};

static void
watch_idle_connection (CdvizHttpConnections *self,
                       Connection           *conn)
{
  IdleWatch *watch;

  if (g_socket_is_closed (conn->socket))
    return;
  if (conn->idle == NULL)
    {
      conn->idle = g_source_new (&idle_watch_funcs, sizeof (IdleWatch));
      watch = (IdleWatch *) conn->idle;
      watch->conn = conn;
      watch->pollfd.fd = g_socket_get_fd (conn->socket);
      watch->pollfd.events = IDLE_EVENTS;
      g_source_add_poll (conn->idle, &watch->pollfd);
      g_source_set_static_name (conn->idle, "[cdviz] idle connection");
      g_source_attach (conn->idle, self->context);
    }
  else
    ((IdleWatch *) conn->idle)->pollfd.events = IDLE_EVENTS;
}

static void
unwatch_busy_connection (SoupServer        *server,
                         SoupServerMessage *msg,
                         gpointer           user_data)
{
  CdvizHttpConnections *self = user_data;
  Connection *conn = message_connection (self, msg);

  if (conn != NULL && conn->idle != NULL)
    ((IdleWatch *) conn->idle)->pollfd.events = 0;
  got_request (self, msg);

  g_object_set_data (G_OBJECT (msg), CDVIZ_HTTP_IN_FLIGHT_KEY, GINT_TO_POINTER (1));
  self->in_flight++;
}

static void
request_done (SoupServer        *server,
              SoupServerMessage *msg,
              gpointer           user_data)
{
  CdvizHttpConnections *self = user_data;

  GSocket *socket = message_socket (msg);
  Connection *conn = socket != NULL ? g_hash_table_lookup (self->by_socket, socket) : NULL;

  if (g_object_steal_data (G_OBJECT (msg), CDVIZ_HTTP_IN_FLIGHT_KEY) != NULL)
    self->in_flight--;
  _cdviz_http_access_log_finish ((const char * const *) self->limits.access_log_filter, msg,
                                 soup_server_message_get_status (msg));
  if (conn == NULL)
    return;
  watch_idle_connection (self, conn);
  conn->in_body = FALSE;
  conn->msg = NULL;
  /* Kept alive: the idle timeout runs until the next request arrives. */
  if (!g_socket_is_closed (socket))
    {
      conn->waiting = TRUE;
      connection_start_timer (conn, self->limits.idle_timeout_ms);
    }
  else
    connection_stop_timer (conn);
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

/* libsoup closes a connection's stream (CdvizHttpStreamCloseFunc): its
 * idle watch goes first, and a refused request's socket is taken over for
 * a lingering close. */
static gboolean
stream_closing (CdvizHttpStream *stream,
                gpointer         user_data)
{
  CdvizHttpConnections *self = user_data;
  GSocket *socket = cdviz_http_stream_get_socket (stream);
  Connection *conn = g_hash_table_lookup (self->by_socket, socket);

  if (conn != NULL)
    connection_unwatch_idle (conn);
  if (!cdviz_http_stream_is_refused (stream))
    return FALSE;

  if (cdviz_http_stream_framing_failed (stream))
    COUNTER_ADD (self->refused_framing, 1);

  if (conn == NULL || conn->linger_base != NULL)
    {
      g_io_stream_close (cdviz_http_stream_get_base (stream), NULL, NULL);
      return TRUE;
    }

  conn->linger_base = g_object_ref (cdviz_http_stream_get_base (stream));
  conn->waiting = FALSE;
  conn->in_body = FALSE;

  connection_stop_timer (conn);
  conn->timer = g_timeout_source_new (LINGER_MS);
  g_source_set_callback (conn->timer, linger_timed_out, conn, NULL);
  g_source_set_static_name (conn->timer, "[cdviz] lingering close");
  g_source_attach (conn->timer, self->context);

  conn->linger_watch = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->linger_watch, G_SOURCE_FUNC (linger_readable), conn, NULL);
  g_source_set_static_name (conn->linger_watch, "[cdviz] lingering drain");
  g_source_attach (conn->linger_watch, self->context);
  return TRUE;
}

/* Hands a new connection to libsoup, behind a CdvizHttpStream. */
void
_cdviz_http_connections_add (CdvizHttpConnections *self,
                GSocket         *socket)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GError) error = NULL;
  Connection *conn;

  /* A thread that does not accept prunes its own table here. */
  if (g_hash_table_size (self->by_socket) >= self->prune_at)
    _cdviz_http_connections_prune (self);

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
  if (self->limits.tls_certificate != NULL)
    {
      static const char * const protocols[] = { "http/1.1", "http/1.0", NULL };

      /* "database" set (to none) explicitly: left unset, glib-networking
       * loads the system's whole trust store for every connection, and
       * frees it with the connection. */
      base = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                             NULL, &error,
                             "base-io-stream", connection,
                             "certificate", self->limits.tls_certificate,
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
  conn->owner = self;
  conn->socket = g_object_ref (socket);
  conn->stream = cdviz_http_stream_new (base, socket, stream_closing, self);
  g_hash_table_insert (self->by_socket, socket, conn);

  g_object_set_qdata_full (G_OBJECT (remote), socket_quark (), g_object_ref (socket),
                           g_object_unref);
  soup_server_accept_iostream (self->server, G_IO_STREAM (conn->stream), local, remote, NULL);
}

/* --- connections handed over by the accepting thread ---------------------
 *
 * A queue under a lock, and a source on this thread's context that is
 * ready while the queue is not empty; the accepting thread wakes the
 * context when the queue stops being empty. */

static gboolean
inbox_prepare (GSource *source,
               gint    *timeout)
{
  CdvizHttpConnections *self = *(CdvizHttpConnections **) (source + 1);

  *timeout = -1;
  return g_atomic_int_get (&self->inbox_ready);
}

static gboolean
inbox_check (GSource *source)
{
  CdvizHttpConnections *self = *(CdvizHttpConnections **) (source + 1);

  return g_atomic_int_get (&self->inbox_ready);
}

static gboolean
inbox_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  CdvizHttpConnections *self = *(CdvizHttpConnections **) (source + 1);
  GQueue arrived = G_QUEUE_INIT;
  GSocket *socket;

  g_mutex_lock (&self->inbox_lock);
  arrived = self->inbox;
  g_queue_init (&self->inbox);
  g_atomic_int_set (&self->inbox_ready, FALSE);
  g_mutex_unlock (&self->inbox_lock);

  while ((socket = g_queue_pop_head (&arrived)) != NULL)
    {
      _cdviz_http_connections_add (self, socket);
      g_object_unref (socket);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs inbox_funcs = {
  .prepare = inbox_prepare,
  .check = inbox_check,
  .dispatch = inbox_dispatch,
};

/* On the accepting thread: @self's thread serves @socket from now on. */
void
_cdviz_http_connections_hand_over (CdvizHttpConnections *self,
                                   GSocket              *socket)
{
  gboolean was_empty;

  g_mutex_lock (&self->inbox_lock);
  was_empty = g_queue_is_empty (&self->inbox);
  g_queue_push_tail (&self->inbox, g_object_ref (socket));
  g_atomic_int_set (&self->inbox_ready, TRUE);
  g_mutex_unlock (&self->inbox_lock);
  if (was_empty)
    g_main_context_wakeup (self->context);
}

/* See cdviz_http_server_steal_connection(). */
GIOStream *
_cdviz_http_connections_steal (CdvizHttpConnections  *self,
                               SoupServerMessage     *msg,
                               GSocket              **socket)
{
  Connection *conn;
  g_autoptr(GIOStream) stolen = NULL;
  GIOStream *base;

  if (socket != NULL)
    *socket = NULL;
  conn = message_connection (self, msg);
  /* libsoup 3.2.3 emits neither "request-finished" nor "request-aborted"
   * for a message whose connection was stolen. */
  if (g_object_steal_data (G_OBJECT (msg), CDVIZ_HTTP_IN_FLIGHT_KEY) != NULL)
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
  connection_unwatch_idle (conn);
  cdviz_http_stream_detach (conn->stream);
  if (socket != NULL)
    *socket = g_object_ref (conn->socket);
  base = g_object_ref (cdviz_http_stream_get_base (conn->stream));

  /* From now on the connection is only counted (max_connections) until
   * its socket is closed: what served its requests is freed now rather
   * than when the closed socket is pruned, since an SSE stream may last
   * for days (the deadline source and the framing stream are about
   * 0.6 KiB per connection); and the main loop walks every attached
   * source at each iteration: 10,000 streams each with its disarmed
   * deadline made connecting them quadratic. */
  connection_drop_deadline (conn);
  g_clear_object (&conn->stream);
  return base;
}


/* --- the object ------------------------------------------------------------ */

CdvizHttpConnections *
_cdviz_http_connections_new (GMainContext          *context,
                             const CdvizHttpLimits *limits)
{
  CdvizHttpConnections *self = g_new0 (CdvizHttpConnections, 1);

  self->context = g_main_context_ref (context);
  self->limits = *limits;
  if (limits->tls_certificate != NULL)
    g_object_ref (limits->tls_certificate);
  self->limits.access_log_filter = g_strdupv (limits->access_log_filter);
  self->by_socket = g_hash_table_new_full (NULL, NULL, NULL, connection_free);
  self->prune_at = PRUNE_MIN;
  self->reserve_fd = -1;
  g_mutex_init (&self->inbox_lock);
  g_queue_init (&self->inbox);
  return self;
}

void
_cdviz_http_connections_free (CdvizHttpConnections *self)
{
  if (self == NULL)
    return;
  /* A start that failed on a later thread left this one accepting. */
  _cdviz_http_connections_stop_accepting (self);
  if (self->inbox_source != NULL)
    {
      g_source_destroy (self->inbox_source);
      g_clear_pointer (&self->inbox_source, g_source_unref);
    }
  g_queue_clear_full (&self->inbox, g_object_unref);
  g_mutex_clear (&self->inbox_lock);
  g_clear_pointer (&self->accepted, g_array_unref);
  g_clear_pointer (&self->per_worker, g_free);
  g_clear_pointer (&self->workers, g_free);
  g_clear_pointer (&self->by_socket, g_hash_table_unref);
  g_clear_object (&self->listener);
  g_clear_object (&self->limits.tls_certificate);
  g_clear_pointer (&self->limits.access_log_filter, g_strfreev);
  if (self->reserve_fd >= 0)
    close (self->reserve_fd);
  g_main_context_unref (self->context);
  g_free (self);
}

/* Follows every connection of @server. With @listener (already
 * listening), raises the soft descriptor limit and starts accepting;
 * without, serves what the accepting thread hands over. */
gboolean
_cdviz_http_connections_start (CdvizHttpConnections  *self,
                               SoupServer            *server,
                               GSocket               *listener,
                               GError               **error)
{
  if (listener != NULL)
    {
      _cdviz_http_accept_fit_descriptor_limit (self);
      if (self->reserve_fd < 0)
        self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }

  self->server = server;
  g_signal_connect (server, "request-started", G_CALLBACK (request_started), self);
  g_signal_connect (server, "request-read", G_CALLBACK (unwatch_busy_connection), self);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_done), self);
  g_signal_connect (server, "request-aborted", G_CALLBACK (request_done), self);
  if (!_cdviz_http_accept_add_placeholder_listener (self, error))
    return FALSE;

  if (listener == NULL)
    {
      /* A thread that does not accept: served what the first hands over. */
      self->inbox_source = g_source_new (&inbox_funcs, sizeof (GSource) + sizeof (gpointer));
      *(CdvizHttpConnections **) (self->inbox_source + 1) = self;
      g_source_set_priority (self->inbox_source, G_PRIORITY_HIGH);
      g_source_set_static_name (self->inbox_source, "[cdviz] connections handed over");
      g_source_attach (self->inbox_source, self->context);
      return TRUE;
    }
  g_socket_set_blocking (listener, FALSE);
  self->listener = g_object_ref (listener);
  _cdviz_http_accept_start (self);
  return TRUE;
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* On the HTTP thread, before soup_server_disconnect(): stops accepting,
 * gives requests being answered (a webhook waiting for the pipeline, whose
 * answers were queued to this context while it drained) up to a second to
 * be written, so that no accepted event loses its answer, then forgets
 * every connection. */
void
_cdviz_http_connections_stop_accepting (CdvizHttpConnections *self)
{
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
    g_socket_close (self->listener, NULL);
}

void
_cdviz_http_connections_stop (CdvizHttpConnections *self)
{
  GSocket *socket;

  _cdviz_http_connections_stop_accepting (self);
  /* Handed over but never served: closed. The accepting thread stopped
   * first, so nothing arrives any more. */
  g_mutex_lock (&self->inbox_lock);
  while ((socket = g_queue_pop_head (&self->inbox)) != NULL)
    {
      g_socket_close (socket, NULL);
      g_object_unref (socket);
    }
  g_atomic_int_set (&self->inbox_ready, FALSE);
  g_mutex_unlock (&self->inbox_lock);

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

  g_hash_table_remove_all (self->by_socket);
  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  self->server = NULL;
}

guint
_cdviz_http_connections_get_limit (CdvizHttpConnections *self)
{
  return self->open_limit;
}

/* The counters of every thread's connections (@all[0] accepts). */
void
_cdviz_http_connections_append_metrics (CdvizHttpConnections **all,
                                        guint                  n,
                                        GString               *out)
{
  guint64 timed_out = 0, refused_framing = 0, refused_bodies = 0;
  CdvizHttpConnections *self = all[0];

  for (guint i = 0; i < n; i++)
    {
      timed_out += COUNTER_GET (all[i]->timed_out);
      refused_framing += COUNTER_GET (all[i]->refused_framing);
      refused_bodies += COUNTER_GET (all[i]->refused_bodies);
    }
  g_string_append_printf (out,
                          "cdviz_http_connections_closed_total{reason=\"timeout\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"max_connections\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"framing\"} %" G_GUINT64_FORMAT "\n"
                          "cdviz_http_connections_closed_total{reason=\"body_refused\"} %" G_GUINT64_FORMAT "\n"
                          "# HELP cdviz_http_accept_failures_total Connections that could not be accepted because the process had no descriptor left (EMFILE, ENFILE).\n"
                          "# TYPE cdviz_http_accept_failures_total counter\n"
                          "cdviz_http_accept_failures_total %" G_GUINT64_FORMAT "\n"
                          "# HELP cdviz_http_max_connections Open connections at most, as enforced (within the descriptor limit).\n"
                          "# TYPE cdviz_http_max_connections gauge\n"
                          "cdviz_http_max_connections %u\n",
                          timed_out, COUNTER_GET (self->refused_connections),
                          refused_framing, refused_bodies,
                          COUNTER_GET (self->accept_failures), self->open_limit);
  if (n < 2)
    return;
  g_string_append (out,
                   "# HELP cdviz_http_thread_connections_total Connections handed to each HTTP thread ([http] threads).\n"
                   "# TYPE cdviz_http_thread_connections_total counter\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "cdviz_http_thread_connections_total{thread=\"%u\"} %" G_GUINT64_FORMAT "\n",
                            i, COUNTER_GET (all[i]->handed));
}

/* The request's headers are in (the server's early handler). */
void
_cdviz_http_connections_got_headers (CdvizHttpConnections *self,
                                     SoupServerMessage    *msg)
{
  got_headers (msg, self);
}
