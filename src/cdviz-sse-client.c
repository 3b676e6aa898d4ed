/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "cdviz-sse-client.h"
#include "cdviz-enum-types.h"
#include "cdviz-sse-parser-private.h"

/**
 * CdvizSseClient:
 *
 * A client of one Server-Sent Events stream: this project's SSE sink,
 * cdviz-collector's, or any other. It connects with libsoup, reads the body
 * as it arrives, parses it strictly (see the WHATWG specification), and
 * emits [signal@SseClient::event] for each event, in order, on the
 * thread-default main context of the thread that called
 * [method@SseClient.start]. Every method must be called from that thread.
 *
 * When the stream ends or fails it reconnects after a delay that doubles
 * with each failure in a row (from [property@SseClient:retry-delay], or the
 * producer's `retry:`, up to [property@SseClient:max-retry-delay]), with
 * jitter, and falls back to the first delay once a connection delivered
 * events (or stayed open ten seconds). Every reconnection sends
 * `Last-Event-ID`: the id of the last event emitted, so a producer that
 * keeps a buffer (this project's SSE sink) resumes right after it. A 401
 * or 403 answer is retried after the longest delay only, never in a tight
 * loop; a 503 with `Retry-After` waits at least that long.
 *
 * `event: error` frames are emitted as [signal@SseClient::error-event];
 * `lagged: N messages skipped` ones also add N to
 * [property@SseClient:lagged-events]. They never end the stream.
 *
 * Back-pressure: [method@SseClient.set_paused] stops the emission of events
 * and the reading of the socket at once (TCP then slows the producer down);
 * nothing is dropped. Events parsed but not emitted when a connection ends
 * are dropped and asked for again with `Last-Event-ID`.
 */

#define HEALTHY_SECONDS 10
#define MIN_DELAY_MS 50
#define READ_SIZE (64 * 1024)
#define REFUSAL_BODY_MAX 512

struct _CdvizSseClient
{
  GObject parent_instance;

  char *url;
  char *user_agent;
  GPtrArray *header_names;      /* (owned) char* */
  GPtrArray *header_values;     /* (owned) char*, parallel */
  char *last_event_id;          /* never NULL; "" = none */
  guint retry_delay;            /* ms */
  guint max_retry_delay;        /* ms */
  int max_retries;              /* -1: forever */
  guint max_event_size;
  gboolean paused;

  CdvizSseClientState state;
  guint64 lagged_events;
  guint reconnects;
  guint status_code;
  char *last_error;

  GMainContext *context;        /* (owned) (nullable): from start() */
  SoupSession *session;         /* (owned) (nullable) */
  SoupMessage *msg;             /* (owned) (nullable): the current request */
  GInputStream *stream;         /* (owned) (nullable): its body */
  GCancellable *cancellable;    /* (owned) (nullable): the current connection's */
  CdvizSseParser *parser;       /* (owned) */
  GSource *timer;               /* (owned) (nullable): the next attempt */
  GSource *unpause;             /* (owned) (nullable) */
  gboolean reading;             /* a read is pending */
  gint64 server_retry;          /* ms from `retry:`, -1: none */
  guint failures;               /* in a row */
  guint events_this_connection;
  gint64 opened_at;             /* monotonic µs */
};

G_DEFINE_FINAL_TYPE (CdvizSseClient, cdviz_sse_client, G_TYPE_OBJECT)
/**
 * cdviz_sse_client_error_quark:
 *
 * The error domain of [class@SseClient].
 *
 * Returns: the quark of %CDVIZ_SSE_CLIENT_ERROR
 */
G_DEFINE_QUARK (cdviz-sse-client-error-quark, cdviz_sse_client_error)

enum {
  PROP_0,
  PROP_URL,
  PROP_USER_AGENT,
  PROP_HEADERS,
  PROP_LAST_EVENT_ID,
  PROP_STATE,
  PROP_PAUSED,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  PROP_MAX_RETRIES,
  PROP_MAX_EVENT_SIZE,
  PROP_LAGGED_EVENTS,
  PROP_RECONNECTS,
  PROP_STATUS_CODE,
  PROP_LAST_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_EVENT,
  SIGNAL_ERROR_EVENT,
  SIGNAL_OPENED,
  SIGNAL_RETRYING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void connect_now (CdvizSseClient *self);

static void
set_state (CdvizSseClient      *self,
           CdvizSseClientState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_last_error (CdvizSseClient *self,
                const char     *message)
{
  if (g_strcmp0 (self->last_error, message) == 0)
    return;
  g_free (self->last_error);
  self->last_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
set_last_id (CdvizSseClient *self,
             const char     *id)
{
  if (g_str_equal (self->last_event_id, id))
    return;
  g_free (self->last_event_id);
  self->last_event_id = g_strdup (id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_EVENT_ID]);
}

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Ends the current connection, if any; its callbacks see their
 * cancellable cancelled and do nothing. */
static void
drop_connection (CdvizSseClient *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->stream);
  g_clear_object (&self->msg);
  self->reading = FALSE;
  /* Parsed, not emitted: asked for again with Last-Event-ID. */
  _cdviz_sse_parser_reset (self->parser);
  _cdviz_sse_parser_set_last_id (self->parser, self->last_event_id);
}

static gboolean
timer_cb (gpointer data)
{
  CdvizSseClient *self = data;

  g_clear_pointer (&self->timer, g_source_unref);
  self->reconnects++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECONNECTS]);
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* The connection failed or ended with @error: when to try again, or give
 * up. @refused: 401/403, retried only after the longest delay.
 * @at_least_ms: a Retry-After, or 0. */
static void
connection_lost (CdvizSseClient *self,
                 const GError   *error,
                 gboolean        refused,
                 guint64         at_least_ms)
{
  guint64 delay, base;
  gboolean healthy;

  healthy = self->state == CDVIZ_SSE_CLIENT_STATE_OPEN &&
            (self->events_this_connection > 0 ||
             g_get_monotonic_time () - self->opened_at >= HEALTHY_SECONDS * G_USEC_PER_SEC);
  drop_connection (self);
  set_last_error (self, error->message);
  if (healthy)
    self->failures = 0;
  self->failures++;

  if (self->max_retries >= 0 && self->failures > (guint) self->max_retries)
    {
      g_debug ("%s: giving up after %u failed attempts: %s", self->url, self->failures,
               error->message);
      set_state (self, CDVIZ_SSE_CLIENT_STATE_FAILED);
      return;
    }

  base = self->server_retry >= 0 ? (guint64) self->server_retry : self->retry_delay;
  delay = base;
  for (guint i = 1; i < self->failures && delay < self->max_retry_delay; i++)
    delay *= 2;
  delay = MIN (delay, self->max_retry_delay);
  if (refused)
    delay = self->max_retry_delay;
  delay = MAX (delay, MIN_DELAY_MS);
  /* Jitter: between half and all of it, so that the clients of a
   * restarted producer do not all come back at the same instant. */
  delay = delay / 2 + (guint64) g_random_int_range (0, (gint32) MIN (delay / 2, G_MAXINT32 - 1) + 1);
  delay = MAX (delay, at_least_ms);

  g_debug ("%s: %s; next attempt in %" G_GUINT64_FORMAT " ms (failure %u in a row)",
           self->url, error->message, delay, self->failures);
  set_state (self, CDVIZ_SSE_CLIENT_STATE_RETRYING);
  g_signal_emit (self, signals[SIGNAL_RETRYING], 0, (guint) MIN (delay, G_MAXUINT), error);
  if (self->state != CDVIZ_SSE_CLIENT_STATE_RETRYING)
    return; /* stopped by a handler */

  self->timer = g_timeout_source_new ((guint) MIN (delay, G_MAXUINT));
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_set_static_name (self->timer, "[cdviz] SSE client reconnection");
  g_source_attach (self->timer, self->context);
}

/* Emits what the parser holds, until paused or stopped. */
static void
dispatch_events (CdvizSseClient *self)
{
  g_autoptr(CdvizSseClient) alive = g_object_ref (self);
  gint64 retry = _cdviz_sse_parser_take_retry (self->parser);

  if (retry >= 0)
    {
      g_debug ("%s: the producer asks for %" G_GINT64_FORMAT " ms between attempts",
               self->url, retry);
      self->server_retry = retry;
    }

  while (!self->paused && self->state == CDVIZ_SSE_CLIENT_STATE_OPEN)
    {
      g_autoptr(CdvizSseEvent) event = _cdviz_sse_parser_pop (self->parser);

      if (event == NULL)
        break;
      if (event->data == NULL)
        {
          set_last_id (self, event->id);
          continue;
        }
      if (g_str_equal (event->type, "error"))
        {
          guint64 lagged = _cdviz_sse_parse_lagged (event->data);

          if (lagged > 0)
            {
              self->lagged_events += lagged;
              g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAGGED_EVENTS]);
            }
          set_last_id (self, event->id);
          g_signal_emit (self, signals[SIGNAL_ERROR_EVENT], 0, event->data);
          continue;
        }
      self->events_this_connection++;
      set_last_id (self, event->id);
      g_signal_emit (self, signals[SIGNAL_EVENT], 0, event->type, event->id, event->data);
    }
}

static void read_more (CdvizSseClient *self);

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(CdvizSseClient) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object),
                                                              result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      G_INPUT_STREAM (object) != self->stream)
    return;
  self->reading = FALSE;
  if (bytes == NULL)
    {
      connection_lost (self, error, FALSE, 0);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      g_autoptr(GError) closed = g_error_new_literal (CDVIZ_SSE_CLIENT_ERROR,
                                                      CDVIZ_SSE_CLIENT_ERROR_CLOSED,
                                                      _("the producer ended the stream"));
      connection_lost (self, closed, FALSE, 0);
      return;
    }
  _cdviz_sse_parser_feed (self->parser, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  dispatch_events (self);
  read_more (self);
}

/* Reads the next piece of the body, unless paused, stopped, already
 * reading, or events are waiting to be emitted. */
static void
read_more (CdvizSseClient *self)
{
  if (self->paused || self->reading || self->stream == NULL ||
      self->state != CDVIZ_SSE_CLIENT_STATE_OPEN ||
      _cdviz_sse_parser_n_queued (self->parser) > 0)
    return;
  self->reading = TRUE;
  g_input_stream_read_bytes_async (self->stream, READ_SIZE, G_PRIORITY_DEFAULT,
                                   self->cancellable, read_cb, g_object_ref (self));
}

static CdvizSseClientResume
resume_of (CdvizSseClient *self,
           const char     *sent_id)
{
  const char *said;

  if (sent_id == NULL)
    return CDVIZ_SSE_CLIENT_RESUME_NONE;
  said = soup_message_headers_get_one (soup_message_get_response_headers (self->msg),
                                       "X-Cdviz-Resume");
  if (g_strcmp0 (said, "resumed") == 0)
    return CDVIZ_SSE_CLIENT_RESUME_RESUMED;
  if (g_strcmp0 (said, "unknown-id") == 0)
    return CDVIZ_SSE_CLIENT_RESUME_UNKNOWN_ID;
  return CDVIZ_SSE_CLIENT_RESUME_UNCONFIRMED;
}

/* The start of a 401/403 body, for the message: what the producer says is
 * wrong (the SSE sink says which header). */
static void
refusal_body_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(CdvizSseClient) self = data;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object),
                                                              result, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *said = NULL;

  if (G_INPUT_STREAM (object) != self->stream)
    return;
  if (bytes != NULL && g_bytes_get_size (bytes) > 0)
    {
      said = g_utf8_make_valid (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      g_strstrip (g_strdelimit (said, "\r\n\t", ' '));
    }
  error = g_error_new (CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_REFUSED,
                       _("refused by the producer (HTTP %u %s)%s%s: check the headers "
                         "(credentials) sent to %s"),
                       self->status_code, soup_status_get_phrase (self->status_code),
                       said != NULL && *said ? ": " : "", said != NULL ? said : "", self->url);
  connection_lost (self, error, TRUE, 0);
}

static guint64
retry_after_ms (SoupMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                    "Retry-After");
  guint64 seconds;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, 3600, &seconds, NULL))
    return 0;
  return seconds * 1000;
}

static void
send_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(CdvizSseClient) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stream = soup_session_send_finish (SOUP_SESSION (object), result,
                                                            &error);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (object), result);
  const char *content_type;
  const char *sent_id;
  CdvizSseClientResume resume;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || msg != self->msg)
    return;
  if (stream == NULL)
    {
      connection_lost (self, error, FALSE, 0);
      return;
    }

  self->stream = g_steal_pointer (&stream);
  self->status_code = soup_message_get_status (msg);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_CODE]);

  if (self->status_code == SOUP_STATUS_UNAUTHORIZED || self->status_code == SOUP_STATUS_FORBIDDEN)
    {
      g_input_stream_read_bytes_async (self->stream, REFUSAL_BODY_MAX, G_PRIORITY_DEFAULT,
                                       self->cancellable, refusal_body_cb, g_object_ref (self));
      return;
    }
  if (self->status_code == SOUP_STATUS_NO_CONTENT)
    {
      g_autofree char *message = g_strdup_printf (_("the producer answered 204 No Content: "
                                                    "it asks its clients not to reconnect"));
      drop_connection (self);
      set_last_error (self, message);
      set_state (self, CDVIZ_SSE_CLIENT_STATE_FAILED);
      return;
    }
  if (self->status_code != SOUP_STATUS_OK)
    {
      error = g_error_new (CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_HTTP,
                           _("the producer answered HTTP %u %s"), self->status_code,
                           soup_status_get_phrase (self->status_code));
      connection_lost (self, error, FALSE, retry_after_ms (msg));
      return;
    }
  content_type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg),
                                                        NULL);
  if (g_strcmp0 (content_type, "text/event-stream") != 0)
    {
      error = g_error_new (CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_NOT_EVENT_STREAM,
                           _("the producer answered with “%s”, not an event stream "
                             "(text/event-stream)"), content_type ? content_type : "");
      connection_lost (self, error, FALSE, 0);
      return;
    }

  self->events_this_connection = 0;
  self->opened_at = g_get_monotonic_time ();
  set_last_error (self, NULL);
  set_state (self, CDVIZ_SSE_CLIENT_STATE_OPEN);
  sent_id = soup_message_headers_get_one (soup_message_get_request_headers (msg),
                                          "Last-Event-ID");
  resume = resume_of (self, sent_id);
  g_debug ("%s: stream open%s%s", self->url, sent_id ? ", resuming after " : "",
           sent_id ? sent_id : "");
  g_signal_emit (self, signals[SIGNAL_OPENED], 0, resume);
  read_more (self);
}

static void
connect_now (CdvizSseClient *self)
{
  SoupMessageHeaders *headers;

  self->msg = soup_message_new (SOUP_METHOD_GET, self->url);
  g_assert (self->msg != NULL); /* checked by start() */
  headers = soup_message_get_request_headers (self->msg);
  soup_message_headers_replace (headers, "Accept", "text/event-stream");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  for (guint i = 0; i < self->header_names->len; i++)
    soup_message_headers_replace (headers, g_ptr_array_index (self->header_names, i),
                                  g_ptr_array_index (self->header_values, i));
  if (*self->last_event_id != '\0')
    soup_message_headers_replace (headers, "Last-Event-ID", self->last_event_id);

  self->cancellable = g_cancellable_new ();
  set_state (self, CDVIZ_SSE_CLIENT_STATE_CONNECTING);
  g_debug ("%s: connecting", self->url);
  soup_session_send_async (self->session, self->msg, G_PRIORITY_DEFAULT, self->cancellable,
                           send_cb, g_object_ref (self));
}

/**
 * cdviz_sse_client_new:
 * @url: the stream's URL (`http://host:port/sse/id`)
 *
 * Creates a client of the stream at @url; see [method@SseClient.start].
 *
 * Returns: (transfer full): a new client, not started
 */
CdvizSseClient *
cdviz_sse_client_new (const char *url)
{
  g_return_val_if_fail (url != NULL, NULL);
  return g_object_new (CDVIZ_TYPE_SSE_CLIENT, "url", url, NULL);
}

/**
 * cdviz_sse_client_start:
 * @self: a #CdvizSseClient
 * @error: return location for a #GError
 *
 * Connects, on the thread-default main context of the calling thread, and
 * keeps connected until [method@SseClient.stop]. Connection failures are
 * not errors here: they are retried (see [signal@SseClient::retrying]).
 *
 * Returns: %TRUE if started; %FALSE with %CDVIZ_SSE_CLIENT_ERROR_INVALID_URL
 */
gboolean
cdviz_sse_client_start (CdvizSseClient  *self,
                        GError         **error)
{
  g_autoptr(GUri) uri = NULL;

  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), FALSE);
  g_return_val_if_fail (self->session == NULL, FALSE);

  uri = g_uri_parse (self->url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      g_set_error (error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_INVALID_URL,
                   _("“%s” is not an http:// or https:// URL"), self->url);
      return FALSE;
    }

  self->context = g_main_context_ref_thread_default ();
  /* No I/O timeout: a stream is silent between events. */
  self->session = soup_session_new_with_options ("user-agent", self->user_agent,
                                                 "timeout", 0, "idle-timeout", 0, NULL);
  self->failures = 0;
  connect_now (self);
  return TRUE;
}

/**
 * cdviz_sse_client_stop:
 * @self: a #CdvizSseClient
 *
 * Closes the stream and cancels any pending attempt. No signal is emitted
 * after it returns. The client can be started again.
 */
void
cdviz_sse_client_stop (CdvizSseClient *self)
{
  g_return_if_fail (CDVIZ_IS_SSE_CLIENT (self));

  destroy_source (&self->timer);
  destroy_source (&self->unpause);
  drop_connection (self);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_clear_pointer (&self->context, g_main_context_unref);
  set_state (self, CDVIZ_SSE_CLIENT_STATE_STOPPED);
}

/**
 * cdviz_sse_client_set_header:
 * @self: a #CdvizSseClient
 * @name: a header name
 * @value: (nullable): its value, or %NULL to remove it
 *
 * Sets a header sent with every request, from the next connection on.
 */
void
cdviz_sse_client_set_header (CdvizSseClient *self,
                             const char     *name,
                             const char     *value)
{
  g_return_if_fail (CDVIZ_IS_SSE_CLIENT (self));
  g_return_if_fail (name != NULL);

  for (guint i = 0; i < self->header_names->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (self->header_names, i), name) == 0)
      {
        g_ptr_array_remove_index (self->header_names, i);
        g_ptr_array_remove_index (self->header_values, i);
        break;
      }
  if (value != NULL)
    {
      g_ptr_array_add (self->header_names, g_strdup (name));
      g_ptr_array_add (self->header_values, g_strdup (value));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEADERS]);
}

static gboolean
unpause_cb (gpointer data)
{
  CdvizSseClient *self = data;

  g_clear_pointer (&self->unpause, g_source_unref);
  dispatch_events (self);
  read_more (self);
  return G_SOURCE_REMOVE;
}

/**
 * cdviz_sse_client_set_paused:
 * @self: a #CdvizSseClient
 * @paused: whether to hold events back
 *
 * While paused, no event is emitted and nothing is read from the
 * connection: the producer's TCP window fills and it slows down. Callable
 * from a signal handler: after pausing, no further event is emitted until
 * unpaused. Unpausing emits what waits from an idle callback.
 */
void
cdviz_sse_client_set_paused (CdvizSseClient *self,
                             gboolean        paused)
{
  g_return_if_fail (CDVIZ_IS_SSE_CLIENT (self));

  paused = !!paused;
  if (self->paused == paused)
    return;
  self->paused = paused;
  if (!paused && self->context != NULL && self->unpause == NULL)
    {
      self->unpause = g_idle_source_new ();
      g_source_set_callback (self->unpause, unpause_cb, self, NULL);
      g_source_set_static_name (self->unpause, "[cdviz] SSE client unpause");
      g_source_attach (self->unpause, self->context);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSED]);
}

/**
 * cdviz_sse_client_get_paused:
 * @self: a #CdvizSseClient
 *
 * Whether the client holds events back ([method@SseClient.set_paused]).
 *
 * Returns: %TRUE when paused
 */
gboolean
cdviz_sse_client_get_paused (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), FALSE);
  return self->paused;
}

/**
 * cdviz_sse_client_get_url:
 * @self: a #CdvizSseClient
 *
 * The stream's URL.
 *
 * Returns: the URL given at construction
 */
const char *
cdviz_sse_client_get_url (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), NULL);
  return self->url;
}

/**
 * cdviz_sse_client_get_state:
 * @self: a #CdvizSseClient
 *
 * Where the client is: connecting, open, waiting to retry…
 *
 * Returns: the state
 */
CdvizSseClientState
cdviz_sse_client_get_state (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), CDVIZ_SSE_CLIENT_STATE_STOPPED);
  return self->state;
}

/**
 * cdviz_sse_client_get_last_event_id:
 * @self: a #CdvizSseClient
 *
 * The id of the last event emitted: what the next connection sends as
 * `Last-Event-ID`.
 *
 * Returns: the id, "" when none
 */
const char *
cdviz_sse_client_get_last_event_id (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), NULL);
  return self->last_event_id;
}

/**
 * cdviz_sse_client_set_last_event_id:
 * @self: a #CdvizSseClient
 * @id: (nullable): an event id, or %NULL for none
 *
 * Sets the `Last-Event-ID` of the next connection (to resume where a
 * previous run stopped).
 */
void
cdviz_sse_client_set_last_event_id (CdvizSseClient *self,
                                    const char     *id)
{
  g_return_if_fail (CDVIZ_IS_SSE_CLIENT (self));
  set_last_id (self, id != NULL ? id : "");
  if (self->parser != NULL && self->state != CDVIZ_SSE_CLIENT_STATE_OPEN)
    _cdviz_sse_parser_set_last_id (self->parser, self->last_event_id);
}

/**
 * cdviz_sse_client_get_lagged_events:
 * @self: a #CdvizSseClient
 *
 * Events the producer said this client missed, from its `lagged: N`
 * notices, since the client was created.
 *
 * Returns: the number of events
 */
guint64
cdviz_sse_client_get_lagged_events (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), 0);
  return self->lagged_events;
}

/**
 * cdviz_sse_client_get_last_error:
 * @self: a #CdvizSseClient
 *
 * Why the last connection failed or ended (for people: translated).
 *
 * Returns: (nullable): the message, %NULL while a stream is open
 */
const char *
cdviz_sse_client_get_last_error (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), NULL);
  return self->last_error;
}

static GStrv
headers_strv (CdvizSseClient *self)
{
  GStrv strv = g_new0 (char *, self->header_names->len + 1);

  for (guint i = 0; i < self->header_names->len; i++)
    strv[i] = g_strdup_printf ("%s: %s", (char *) g_ptr_array_index (self->header_names, i),
                               (char *) g_ptr_array_index (self->header_values, i));
  return strv;
}

static void
set_headers_strv (CdvizSseClient     *self,
                  const char * const *lines)
{
  g_ptr_array_set_size (self->header_names, 0);
  g_ptr_array_set_size (self->header_values, 0);
  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      const char *colon = strchr (lines[i], ':');
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      if (colon == NULL || colon == lines[i])
        {
          g_warning ("SSE client header “%s” is not “Name: value”: ignored", lines[i]);
          continue;
        }
      name = g_strstrip (g_strndup (lines[i], colon - lines[i]));
      value = g_strstrip (g_strdup (colon + 1));
      g_ptr_array_add (self->header_names, g_steal_pointer (&name));
      g_ptr_array_add (self->header_values, g_steal_pointer (&value));
    }
}

static void
cdviz_sse_client_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdvizSseClient *self = CDVIZ_SSE_CLIENT (object);

  switch (prop_id)
    {
    case PROP_URL: g_value_set_string (value, self->url); break;
    case PROP_USER_AGENT: g_value_set_string (value, self->user_agent); break;
    case PROP_HEADERS: g_value_take_boxed (value, headers_strv (self)); break;
    case PROP_LAST_EVENT_ID: g_value_set_string (value, self->last_event_id); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_PAUSED: g_value_set_boolean (value, self->paused); break;
    case PROP_RETRY_DELAY: g_value_set_uint (value, self->retry_delay); break;
    case PROP_MAX_RETRY_DELAY: g_value_set_uint (value, self->max_retry_delay); break;
    case PROP_MAX_RETRIES: g_value_set_int (value, self->max_retries); break;
    case PROP_MAX_EVENT_SIZE: g_value_set_uint (value, self->max_event_size); break;
    case PROP_LAGGED_EVENTS: g_value_set_uint64 (value, self->lagged_events); break;
    case PROP_RECONNECTS: g_value_set_uint (value, self->reconnects); break;
    case PROP_STATUS_CODE: g_value_set_uint (value, self->status_code); break;
    case PROP_LAST_ERROR: g_value_set_string (value, self->last_error); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_client_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  CdvizSseClient *self = CDVIZ_SSE_CLIENT (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_USER_AGENT:
      g_free (self->user_agent);
      self->user_agent = g_value_dup_string (value);
      break;
    case PROP_HEADERS: set_headers_strv (self, g_value_get_boxed (value)); break;
    case PROP_LAST_EVENT_ID: cdviz_sse_client_set_last_event_id (self, g_value_get_string (value)); break;
    case PROP_PAUSED: cdviz_sse_client_set_paused (self, g_value_get_boolean (value)); break;
    case PROP_RETRY_DELAY: self->retry_delay = g_value_get_uint (value); break;
    case PROP_MAX_RETRY_DELAY: self->max_retry_delay = g_value_get_uint (value); break;
    case PROP_MAX_RETRIES: self->max_retries = g_value_get_int (value); break;
    case PROP_MAX_EVENT_SIZE:
      self->max_event_size = g_value_get_uint (value);
      g_clear_pointer (&self->parser, _cdviz_sse_parser_free);
      self->parser = _cdviz_sse_parser_new (self->max_event_size);
      _cdviz_sse_parser_set_last_id (self->parser, self->last_event_id);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_client_dispose (GObject *object)
{
  CdvizSseClient *self = CDVIZ_SSE_CLIENT (object);

  /* Pending callbacks hold a reference: here nothing is pending but the
   * timers, which do not. */
  destroy_source (&self->timer);
  destroy_source (&self->unpause);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->stream);
  g_clear_object (&self->msg);
  g_clear_object (&self->session);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (cdviz_sse_client_parent_class)->dispose (object);
}

static void
cdviz_sse_client_finalize (GObject *object)
{
  CdvizSseClient *self = CDVIZ_SSE_CLIENT (object);

  g_free (self->url);
  g_free (self->user_agent);
  g_ptr_array_unref (self->header_names);
  g_ptr_array_unref (self->header_values);
  g_free (self->last_event_id);
  g_free (self->last_error);
  g_clear_pointer (&self->parser, _cdviz_sse_parser_free);
  G_OBJECT_CLASS (cdviz_sse_client_parent_class)->finalize (object);
}

static void
cdviz_sse_client_class_init (CdvizSseClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = cdviz_sse_client_get_property;
  object_class->set_property = cdviz_sse_client_set_property;
  object_class->dispose = cdviz_sse_client_dispose;
  object_class->finalize = cdviz_sse_client_finalize;

  /**
   * CdvizSseClient:url:
   *
   * The stream's URL.
   */
  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:user-agent:
   *
   * The `User-Agent` header; taken at [method@SseClient.start].
   */
  properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, NULL, "cdviz-pipeline/" PACKAGE_VERSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:headers:
   *
   * Headers sent with every request, as `Name: value` strings (see also
   * [method@SseClient.set_header]).
   */
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL, NULL, G_TYPE_STRV, rw);
  /**
   * CdvizSseClient:last-event-id:
   *
   * The id of the last event emitted, sent as `Last-Event-ID` by the next
   * connection; "" for none.
   */
  properties[PROP_LAST_EVENT_ID] =
    g_param_spec_string ("last-event-id", NULL, NULL, "", rw);
  /**
   * CdvizSseClient:state:
   *
   * Where the client is.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, CDVIZ_TYPE_SSE_CLIENT_STATE,
                       CDVIZ_SSE_CLIENT_STATE_STOPPED, ro);
  /**
   * CdvizSseClient:paused:
   *
   * Whether events are held back (and the connection not read).
   */
  properties[PROP_PAUSED] =
    g_param_spec_boolean ("paused", NULL, NULL, FALSE, rw);
  /**
   * CdvizSseClient:retry-delay:
   *
   * The first delay before reconnecting, in milliseconds, until the
   * producer sends `retry:`; it doubles with each failure in a row.
   */
  properties[PROP_RETRY_DELAY] =
    g_param_spec_uint ("retry-delay", NULL, NULL, 0, G_MAXUINT32, 1000, rw);
  /**
   * CdvizSseClient:max-retry-delay:
   *
   * The longest delay between two attempts, in milliseconds; also the delay
   * after a 401 or 403 answer.
   */
  properties[PROP_MAX_RETRY_DELAY] =
    g_param_spec_uint ("max-retry-delay", NULL, NULL, 0, G_MAXUINT32, 30000, rw);
  /**
   * CdvizSseClient:max-retries:
   *
   * Failed attempts in a row retried before giving up (state
   * %CDVIZ_SSE_CLIENT_STATE_FAILED); -1 retries forever. A connection that
   * delivered events starts the count again.
   */
  properties[PROP_MAX_RETRIES] =
    g_param_spec_int ("max-retries", NULL, NULL, -1, G_MAXINT, -1, rw);
  /**
   * CdvizSseClient:max-event-size:
   *
   * Longest event (or line) in bytes; a longer one is skipped whole.
   */
  properties[PROP_MAX_EVENT_SIZE] =
    g_param_spec_uint ("max-event-size", NULL, NULL, 1, G_MAXUINT32, 16 * 1024 * 1024,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:lagged-events:
   *
   * Events the producer said this client missed (`lagged: N` notices).
   */
  properties[PROP_LAGGED_EVENTS] =
    g_param_spec_uint64 ("lagged-events", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * CdvizSseClient:reconnects:
   *
   * Attempts after the first one.
   */
  properties[PROP_RECONNECTS] =
    g_param_spec_uint ("reconnects", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * CdvizSseClient:status-code:
   *
   * The HTTP status of the last answer, 0 before any.
   */
  properties[PROP_STATUS_CODE] =
    g_param_spec_uint ("status-code", NULL, NULL, 0, 999, 0, ro);
  /**
   * CdvizSseClient:last-error:
   *
   * Why the last connection failed or ended; %NULL while a stream is open.
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdvizSseClient::event:
   * @self: the client
   * @type: the event type (`cdevent`, `message` when the stream names none…)
   * @id: the last event id (the spec's: this event's, or the one before)
   * @data: the event's data (lines joined with LF)
   *
   * An event arrived (any type but `error`).
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CdvizSseClient::error-event:
   * @self: the client
   * @data: what the producer said (`lagged: 5 messages skipped`…)
   *
   * The producer sent an `event: error` frame. The stream goes on.
   */
  signals[SIGNAL_ERROR_EVENT] =
    g_signal_new ("error-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * CdvizSseClient::opened:
   * @self: the client
   * @resume: whether the producer resumed after `Last-Event-ID`
   *
   * A stream opened.
   */
  signals[SIGNAL_OPENED] =
    g_signal_new ("opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDVIZ_TYPE_SSE_CLIENT_RESUME);
  /**
   * CdvizSseClient::retrying:
   * @self: the client
   * @delay_ms: when the next attempt is, in milliseconds
   * @error: why the connection failed or ended
   *
   * The connection failed or ended; another attempt is scheduled.
   */
  signals[SIGNAL_RETRYING] =
    g_signal_new ("retrying", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_ERROR);
}

static void
cdviz_sse_client_init (CdvizSseClient *self)
{
  self->header_names = g_ptr_array_new_with_free_func (g_free);
  self->header_values = g_ptr_array_new_with_free_func (g_free);
  self->last_event_id = g_strdup ("");
  self->retry_delay = 1000;
  self->max_retry_delay = 30000;
  self->max_retries = -1;
  self->server_retry = -1;
  self->parser = _cdviz_sse_parser_new (16 * 1024 * 1024);
}
