/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz.h"

/* CdvizSseClient against a scripted server on loopback: each connection
 * gets the next canned answer, and the requests are recorded, so that the
 * tests see what the client sent (Last-Event-ID, headers) and how it
 * reacts (reconnection delays, refusals, pause). */

typedef struct {
  GThreadedSocketService *service;
  guint16 port;
  GMutex lock;
  GPtrArray *requests;     /* char*, under lock */
  const char * const *answers;
  guint n_answers;
  gboolean hold_open;      /* keep the last answer's connection open */
  GCancellable *release;   /* cancelled to close held connections */
  int active;              /* atomic: handlers running */
} Server;

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source,
        gpointer                data)
{
  Server *server = data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  GString *request = g_string_new (NULL);
  char buffer[1024];
  guint index;
  const char *answer;

  g_atomic_int_inc (&server->active);
  while (strstr (request->str, "\r\n\r\n") == NULL)
    {
      gssize n = g_input_stream_read (in, buffer, sizeof buffer, NULL, NULL);
      if (n <= 0)
        break;
      g_string_append_len (request, buffer, n);
    }
  g_mutex_lock (&server->lock);
  index = server->requests->len;
  g_ptr_array_add (server->requests, g_string_free (request, FALSE));
  g_mutex_unlock (&server->lock);

  answer = server->answers[MIN (index, server->n_answers - 1)];
  g_output_stream_write_all (out, answer, strlen (answer), NULL, NULL, NULL);
  if (server->hold_open && index >= server->n_answers - 1)
    g_input_stream_read (in, buffer, sizeof buffer, server->release, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_atomic_int_dec_and_test (&server->active);
  return TRUE;
}

static Server *
server_new (const char * const *answers,
            gboolean            hold_open)
{
  Server *server = g_new0 (Server, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_init (&server->lock);
  server->requests = g_ptr_array_new_with_free_func (g_free);
  server->answers = answers;
  server->n_answers = g_strv_length ((char **) answers);
  server->hold_open = hold_open;
  server->release = g_cancellable_new ();
  server->service = G_THREADED_SOCKET_SERVICE (g_threaded_socket_service_new (4));
  g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                 &bound, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (server->service, "run", G_CALLBACK (on_run), server);
  g_socket_service_start (G_SOCKET_SERVICE (server->service));
  return server;
}

static void
server_free (Server *server)
{
  g_cancellable_cancel (server->release);
  g_socket_service_stop (G_SOCKET_SERVICE (server->service));
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  while (g_atomic_int_get (&server->active) > 0)
    g_usleep (1000);
  g_object_unref (server->service);
  g_object_unref (server->release);
  g_ptr_array_unref (server->requests);
  g_mutex_clear (&server->lock);
  g_free (server);
}

static char *
server_request (Server *server,
                guint   index)
{
  char *request = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    request = g_strdup (g_ptr_array_index (server->requests, index));
  g_mutex_unlock (&server->lock);
  return request;
}

static char *
url_of (Server *server)
{
  return g_strdup_printf ("http://127.0.0.1:%u/sse/test", server->port);
}

#define STREAM_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"

typedef struct {
  GString *events;
  GString *errors;
  guint n_events;
  guint n_retrying;
  guint last_delay;
  GError *last_error;
  GPtrArray *resumes;      /* GINT_TO_POINTER (CdvizSseClientResume) */
  gboolean pause_on_first;
} Seen;

static void
on_event (CdvizSseClient *client,
          const char     *type,
          const char     *id,
          const char     *data,
          Seen           *seen)
{
  g_string_append_printf (seen->events, "%s/%s/%s;", type, id, data);
  seen->n_events++;
  if (seen->pause_on_first && seen->n_events == 1)
    cdviz_sse_client_set_paused (client, TRUE);
}

static void
on_error_event (CdvizSseClient *client,
                const char     *data,
                Seen           *seen)
{
  g_string_append_printf (seen->errors, "%s;", data);
}

static void
on_retrying (CdvizSseClient *client,
             guint           delay,
             const GError   *error,
             Seen           *seen)
{
  seen->n_retrying++;
  seen->last_delay = delay;
  g_clear_error (&seen->last_error);
  seen->last_error = g_error_copy (error);
}

static void
on_opened (CdvizSseClient       *client,
           CdvizSseClientResume  resume,
           Seen                 *seen)
{
  g_ptr_array_add (seen->resumes, GINT_TO_POINTER (resume));
}

static void
seen_init (Seen           *seen,
           CdvizSseClient *client)
{
  memset (seen, 0, sizeof *seen);
  seen->events = g_string_new (NULL);
  seen->errors = g_string_new (NULL);
  seen->resumes = g_ptr_array_new ();
  g_signal_connect (client, "event", G_CALLBACK (on_event), seen);
  g_signal_connect (client, "error-event", G_CALLBACK (on_error_event), seen);
  g_signal_connect (client, "retrying", G_CALLBACK (on_retrying), seen);
  g_signal_connect (client, "opened", G_CALLBACK (on_opened), seen);
}

static void
seen_clear (Seen *seen)
{
  g_string_free (seen->events, TRUE);
  g_string_free (seen->errors, TRUE);
  g_ptr_array_unref (seen->resumes);
  g_clear_error (&seen->last_error);
}

static gboolean
timeout_cb (gpointer data)
{
  g_error ("timed out");
  return G_SOURCE_REMOVE;
}

#define ITERATE_UNTIL(cond)                                             \
  G_STMT_START {                                                        \
    guint _timeout = g_timeout_add_seconds (10, timeout_cb, NULL);      \
    while (!(cond))                                                     \
      g_main_context_iteration (NULL, TRUE);                            \
    g_source_remove (_timeout);                                         \
  } G_STMT_END

/* Events in order, Last-Event-ID on the reconnection, the producer's
 * retry: honoured, its resume header reported, lagged notices counted. */
static void
test_resume (void)
{
  static const char * const answers[] = {
    STREAM_HEAD "\r\n"
    "\xEF\xBB\xBFretry: 100\n: hello\n\nevent: cdevent\nid: 1\ndata: {\"a\":1}\n\n"
    "event: cdevent\r\nid: 2\r\ndata: {\"a\":\r\ndata: 2}\r\n\r\n"
    "event: other\nid: 3\ndata: x\n\n"
    "event: error\ndata: lagged: 4 messages skipped\n\n",
    STREAM_HEAD "X-Cdviz-Resume: resumed\r\n\r\n"
    "event: cdevent\nid: 5\ndata: {\"a\":5}\n\n",
    STREAM_HEAD "X-Cdviz-Resume: unknown-id\r\n\r\n"
    "event: cdevent\nid: 9\ndata: {\"a\":9}\n\n",
    NULL
  };
  Server *server = server_new (answers, TRUE);
  g_autofree char *url = url_of (server);
  g_autoptr(CdvizSseClient) client = cdviz_sse_client_new (url);
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL, *second = NULL, *third = NULL;
  Seen seen;

  seen_init (&seen, client);
  cdviz_sse_client_set_header (client, "Authorization", "Bearer t0ken");
  g_object_set (client, "max-retry-delay", 200, NULL);
  g_assert_true (cdviz_sse_client_start (client, &error));
  g_assert_no_error (error);

  ITERATE_UNTIL (seen.n_events == 5);
  cdviz_sse_client_stop (client);

  g_assert_cmpstr (seen.events->str, ==,
                   "cdevent/1/{\"a\":1};cdevent/2/{\"a\":\n2};other/3/x;"
                   "cdevent/5/{\"a\":5};cdevent/9/{\"a\":9};");
  g_assert_cmpstr (seen.errors->str, ==, "lagged: 4 messages skipped;");
  g_assert_cmpuint (cdviz_sse_client_get_lagged_events (client), ==, 4);
  g_assert_cmpstr (cdviz_sse_client_get_last_event_id (client), ==, "9");
  g_assert_cmpuint (seen.resumes->len, ==, 3);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (seen.resumes, 0)), ==,
                   CDVIZ_SSE_CLIENT_RESUME_NONE);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (seen.resumes, 1)), ==,
                   CDVIZ_SSE_CLIENT_RESUME_RESUMED);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (seen.resumes, 2)), ==,
                   CDVIZ_SSE_CLIENT_RESUME_UNKNOWN_ID);
  /* The stream ended: the client said so, and waited about retry: 100 ms
   * (jitter: half to all of it). */
  g_assert_cmpuint (seen.n_retrying, ==, 2);
  g_assert_error (seen.last_error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_CLOSED);
  g_assert_cmpuint (seen.last_delay, >=, 50);
  g_assert_cmpuint (seen.last_delay, <=, 100);

  first = server_request (server, 0);
  second = server_request (server, 1);
  third = server_request (server, 2);
  g_assert_nonnull (strstr (first, "GET /sse/test HTTP/1.1\r\n"));
  g_assert_nonnull (strstr (first, "Accept: text/event-stream\r\n"));
  g_assert_nonnull (strstr (first, "Authorization: Bearer t0ken\r\n"));
  g_assert_null (strstr (first, "Last-Event-ID"));
  /* The id of the last event emitted, error frames included (none: the
   * error frame has no id line, the last id stays 3). */
  g_assert_nonnull (strstr (second, "Last-Event-ID: 3\r\n"));
  g_assert_nonnull (strstr (third, "Last-Event-ID: 5\r\n"));

  seen_clear (&seen);
  server_free (server);
}

/* 401: reported with the producer's words, retried only after the longest
 * delay; max-retries gives up. */
static void
test_refused (void)
{
  static const char * const answers[] = {
    "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 46\r\n"
    "Connection: close\r\n\r\nHeader validation failed: Authorization absent",
    NULL
  };
  Server *server = server_new (answers, FALSE);
  g_autofree char *url = url_of (server);
  g_autoptr(CdvizSseClient) client = cdviz_sse_client_new (url);
  g_autoptr(GError) error = NULL;
  Seen seen;

  seen_init (&seen, client);
  g_object_set (client, "retry-delay", 10, "max-retry-delay", 300, "max-retries", 1, NULL);
  g_assert_true (cdviz_sse_client_start (client, &error));
  ITERATE_UNTIL (cdviz_sse_client_get_state (client) == CDVIZ_SSE_CLIENT_STATE_FAILED);

  g_assert_cmpuint (seen.n_retrying, ==, 1);
  g_assert_error (seen.last_error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_REFUSED);
  g_test_message ("%s", seen.last_error->message);
  g_assert_nonnull (strstr (seen.last_error->message, "401"));
  g_assert_nonnull (strstr (seen.last_error->message, "Authorization absent"));
  g_assert_cmpuint (seen.last_delay, >=, 150);
  g_assert_cmpuint (seen.last_delay, <=, 300);
  g_assert_nonnull (strstr (cdviz_sse_client_get_last_error (client), "401"));
  g_assert_cmpuint (server->requests->len, ==, 2);

  cdviz_sse_client_stop (client);
  seen_clear (&seen);
  server_free (server);
}

/* Backoff doubles with failures in a row; 503's Retry-After is a floor. */
static void
test_backoff (void)
{
  static const char * const answers[] = {
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n",
    NULL
  };
  Server *server = server_new (answers, FALSE);
  g_autofree char *url = url_of (server);
  g_autoptr(CdvizSseClient) client = cdviz_sse_client_new (url);
  g_autoptr(GError) error = NULL;
  guint delays[4];
  Seen seen;

  seen_init (&seen, client);
  g_object_set (client, "retry-delay", 100, "max-retry-delay", 350, NULL);
  g_assert_true (cdviz_sse_client_start (client, &error));
  for (guint i = 0; i < 4; i++)
    {
      ITERATE_UNTIL (seen.n_retrying == i + 1);
      delays[i] = seen.last_delay;
      if (i == 2)
        g_assert_error (seen.last_error, CDVIZ_SSE_CLIENT_ERROR,
                        CDVIZ_SSE_CLIENT_ERROR_NOT_EVENT_STREAM);
      else
        g_assert_error (seen.last_error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_HTTP);
    }
  cdviz_sse_client_stop (client);
  g_assert_cmpuint (cdviz_sse_client_get_state (client), ==, CDVIZ_SSE_CLIENT_STATE_STOPPED);

  g_assert_cmpuint (delays[0], >=, 50);   /* 100, jittered */
  g_assert_cmpuint (delays[0], <=, 100);
  g_assert_cmpuint (delays[1], >=, 100);  /* 200 */
  g_assert_cmpuint (delays[1], <=, 200);
  g_assert_cmpuint (delays[2], >=, 175);  /* 400, capped at 350 */
  g_assert_cmpuint (delays[2], <=, 350);
  g_assert_cmpuint (delays[3], ==, 1000); /* Retry-After: 1 */
  seen_clear (&seen);
  server_free (server);
}

static gboolean
quit_later (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Paused from the event handler: nothing more is emitted until unpaused,
 * then the rest in order. */
static void
test_pause (void)
{
  static const char * const answers[] = {
    STREAM_HEAD "\r\n"
    "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n",
    NULL
  };
  Server *server = server_new (answers, TRUE);
  g_autofree char *url = url_of (server);
  g_autoptr(CdvizSseClient) client = cdviz_sse_client_new (url);
  g_autoptr(GError) error = NULL;
  gboolean waited = FALSE;
  Seen seen;

  seen_init (&seen, client);
  seen.pause_on_first = TRUE;
  g_assert_true (cdviz_sse_client_start (client, &error));
  ITERATE_UNTIL (seen.n_events == 1);
  g_timeout_add (200, quit_later, &waited);
  ITERATE_UNTIL (waited);
  g_assert_cmpuint (seen.n_events, ==, 1);
  g_assert_true (cdviz_sse_client_get_paused (client));
  g_assert_cmpstr (cdviz_sse_client_get_last_event_id (client), ==, "1");

  cdviz_sse_client_set_paused (client, FALSE);
  ITERATE_UNTIL (seen.n_events == 3);
  g_assert_cmpstr (seen.events->str, ==, "message/1/a;message/2/b;message/3/c;");
  cdviz_sse_client_stop (client);
  seen_clear (&seen);
  server_free (server);
}

static void
test_invalid_url (void)
{
  static const char * const urls[] = { "not a url", "ftp://host/x", "http://", "/sse/x" };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(CdvizSseClient) client = cdviz_sse_client_new (urls[i]);
      g_autoptr(GError) error = NULL;

      g_assert_false (cdviz_sse_client_start (client, &error));
      g_assert_error (error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_INVALID_URL);
    }
}

static void
test_properties (void)
{
  g_autoptr(CdvizSseClient) client = cdviz_sse_client_new ("http://127.0.0.1:1/sse/x");
  g_auto(GStrv) headers = NULL;
  const char * const set[] = { "X-A: 1", "X-B:two words ", NULL };

  g_object_set (client, "headers", set, "last-event-id", "42", NULL);
  g_object_get (client, "headers", &headers, NULL);
  g_assert_cmpstr (headers[0], ==, "X-A: 1");
  g_assert_cmpstr (headers[1], ==, "X-B: two words");
  g_assert_null (headers[2]);
  g_assert_cmpstr (cdviz_sse_client_get_last_event_id (client), ==, "42");
  g_assert_cmpint (cdviz_sse_client_get_state (client), ==, CDVIZ_SSE_CLIENT_STATE_STOPPED);
  cdviz_sse_client_set_header (client, "x-a", NULL);
  g_clear_pointer (&headers, g_strfreev);
  g_object_get (client, "headers", &headers, NULL);
  g_assert_cmpstr (headers[0], ==, "X-B: two words");
  g_assert_null (headers[1]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sse-client/resume", test_resume);
  g_test_add_func ("/sse-client/refused", test_refused);
  g_test_add_func ("/sse-client/backoff", test_backoff);
  g_test_add_func ("/sse-client/pause", test_pause);
  g_test_add_func ("/sse-client/invalid-url", test_invalid_url);
  g_test_add_func ("/sse-client/properties", test_properties);
  return g_test_run ();
}
