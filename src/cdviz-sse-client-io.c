/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-enum-types.h"
#include "cdviz-sse-client-private.h"

/* Connecting, reading the stream, dispatching its events, and
 * reconnecting with backoff: the client's life on its main context. */

void
_cdviz_sse_client_destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Ends the current connection, if any; its callbacks see their
 * cancellable cancelled and do nothing. */
void
_cdviz_sse_client_drop_connection (CdvizSseClient *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->stream);
  g_clear_object (&self->msg);
  /* A read still in flight keeps its buffer; the next one gets another,
   * so that two reads never share one. */
  if (self->reading)
    g_clear_pointer (&self->read_buffer, g_bytes_unref);
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
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_RECONNECTS]);
  _cdviz_sse_client_connect_now (self);
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
  _cdviz_sse_client_drop_connection (self);
  _cdviz_sse_client_set_last_error (self, error->message);
  if (healthy)
    self->failures = 0;
  self->failures++;

  if (self->max_retries >= 0 && self->failures > (guint) self->max_retries)
    {
      g_debug ("%s: giving up after %u failed attempts: %s", self->url, self->failures,
               error->message);
      _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_FAILED);
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
  _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_RETRYING);
  g_signal_emit (self, _cdviz_sse_client_signals[SIGNAL_RETRYING], 0, (guint) MIN (delay, G_MAXUINT), error);
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
          _cdviz_sse_client_set_last_id (self, event->id);
          continue;
        }
      if (g_str_equal (event->type, "error"))
        {
          guint64 lagged = _cdviz_sse_parse_lagged (event->data);

          if (lagged > 0)
            {
              self->lagged_events += lagged;
              g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_LAGGED_EVENTS]);
            }
          _cdviz_sse_client_set_last_id (self, event->id);
          g_signal_emit (self, _cdviz_sse_client_signals[SIGNAL_ERROR_EVENT], 0, event->data);
          continue;
        }
      self->events_this_connection++;
      _cdviz_sse_client_set_last_id (self, event->id);
      g_signal_emit (self, _cdviz_sse_client_signals[SIGNAL_EVENT], 0, event->type, event->id, event->data);
    }
}

static void read_more (CdvizSseClient *self);

/* A read in flight: the client and the buffer it fills. */
typedef struct {
  CdvizSseClient *client;       /* (owned) */
  GBytes *buffer;               /* (owned) */
} ReadOp;

static void
read_op_free (ReadOp *op)
{
  g_object_unref (op->client);
  g_bytes_unref (op->buffer);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ReadOp, read_op_free)

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(ReadOp) op = data;
  CdvizSseClient *self = op->client;
  g_autoptr(GError) error = NULL;
  gssize got = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      G_INPUT_STREAM (object) != self->stream)
    return;
  self->reading = FALSE;
  if (got < 0)
    {
      connection_lost (self, error, FALSE, 0);
      return;
    }
  if (got == 0)
    {
      g_autoptr(GError) closed = g_error_new_literal (CDVIZ_SSE_CLIENT_ERROR,
                                                      CDVIZ_SSE_CLIENT_ERROR_CLOSED,
                                                      _("the producer ended the stream"));
      connection_lost (self, closed, FALSE, 0);
      return;
    }
  __atomic_fetch_add (&self->bytes_received, (guint64) got, __ATOMIC_RELAXED);
  _cdviz_sse_parser_feed (self->parser, g_bytes_get_data (op->buffer, NULL), (gsize) got);
  dispatch_events (self);
  read_more (self);
}

/* Reads the next piece of the body, unless paused, stopped, already
 * reading, or events are waiting to be emitted. Into the same buffer every
 * time: a new 64 KiB block per read (g_input_stream_read_bytes_async())
 * is a large allocation, which makes glibc consolidate the fast bins the
 * pipeline thread's frees of the previous events' trees filled (perf:
 * malloc_consolidate and unlink_chunk 11 % of this thread at full
 * speed). The parser copies what it keeps. */
static void
read_more (CdvizSseClient *self)
{
  ReadOp *op;

  if (self->paused || self->reading || self->stream == NULL ||
      self->state != CDVIZ_SSE_CLIENT_STATE_OPEN ||
      _cdviz_sse_parser_n_queued (self->parser) > 0)
    return;
  if (self->read_buffer == NULL)
    self->read_buffer = g_bytes_new_take (g_malloc (READ_SIZE), READ_SIZE);
  op = g_new (ReadOp, 1);
  op->client = g_object_ref (self);
  op->buffer = g_bytes_ref (self->read_buffer);
  self->reading = TRUE;
  g_input_stream_read_async (self->stream, (void *) g_bytes_get_data (op->buffer, NULL),
                             READ_SIZE, G_PRIORITY_DEFAULT, self->cancellable, read_cb, op);
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
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_STATUS_CODE]);

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
      _cdviz_sse_client_drop_connection (self);
      _cdviz_sse_client_set_last_error (self, message);
      _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_FAILED);
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
  _cdviz_sse_client_set_last_error (self, NULL);
  _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_OPEN);
  sent_id = soup_message_headers_get_one (soup_message_get_request_headers (msg),
                                          "Last-Event-ID");
  resume = resume_of (self, sent_id);
  g_debug ("%s: stream open%s%s", self->url, sent_id ? ", resuming after " : "",
           sent_id ? sent_id : "");
  g_signal_emit (self, _cdviz_sse_client_signals[SIGNAL_OPENED], 0, resume);
  read_more (self);
}

void
_cdviz_sse_client_connect_now (CdvizSseClient *self)
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
  _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_CONNECTING);
  g_debug ("%s: connecting", self->url);
  soup_session_send_async (self->session, self->msg, G_PRIORITY_DEFAULT, self->cancellable,
                           send_cb, g_object_ref (self));
}

/* Unpaused: the events held back, then reading again. */
void
_cdviz_sse_client_resume_reading (CdvizSseClient *self)
{
  dispatch_events (self);
  read_more (self);
}
