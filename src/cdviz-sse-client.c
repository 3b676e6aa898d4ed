/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "cdviz-sse-client.h"
#include "cdviz-enum-types.h"
#include "cdviz-sse-client-private.h"

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

G_DEFINE_FINAL_TYPE (CdvizSseClient, cdviz_sse_client, G_TYPE_OBJECT)
/**
 * cdviz_sse_client_error_quark:
 *
 * The error domain of [class@SseClient].
 *
 * Returns: the quark of %CDVIZ_SSE_CLIENT_ERROR
 */
G_DEFINE_QUARK (cdviz-sse-client-error-quark, cdviz_sse_client_error)

GParamSpec *_cdviz_sse_client_properties[N_PROPS];
guint _cdviz_sse_client_signals[N_SIGNALS];

void
_cdviz_sse_client_set_state (CdvizSseClient      *self,
           CdvizSseClientState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_STATE]);
}

void
_cdviz_sse_client_set_last_error (CdvizSseClient *self,
                const char     *message)
{
  if (g_strcmp0 (self->last_error, message) == 0)
    return;
  g_free (self->last_error);
  self->last_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_LAST_ERROR]);
}

void
_cdviz_sse_client_set_last_id (CdvizSseClient *self,
             const char     *id)
{
  if (g_str_equal (self->last_event_id, id))
    return;
  g_free (self->last_event_id);
  self->last_event_id = g_strdup (id);
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_LAST_EVENT_ID]);
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
  _cdviz_sse_client_connect_now (self);
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

  _cdviz_sse_client_destroy_source (&self->timer);
  _cdviz_sse_client_destroy_source (&self->unpause);
  _cdviz_sse_client_drop_connection (self);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_clear_pointer (&self->context, g_main_context_unref);
  _cdviz_sse_client_set_state (self, CDVIZ_SSE_CLIENT_STATE_STOPPED);
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
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_HEADERS]);
}

static gboolean
unpause_cb (gpointer data)
{
  CdvizSseClient *self = data;

  g_clear_pointer (&self->unpause, g_source_unref);
  _cdviz_sse_client_resume_reading (self);
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
  g_object_notify_by_pspec (G_OBJECT (self), _cdviz_sse_client_properties[PROP_PAUSED]);
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
  _cdviz_sse_client_set_last_id (self, id != NULL ? id : "");
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
 * cdviz_sse_client_get_bytes_received:
 * @self: a #CdvizSseClient
 *
 * Bytes of stream bodies read since the client was created, over every
 * connection (after any transfer decoding: what the parser was fed).
 * Unlike the other methods, may be called from any thread (for
 * `/metrics`).
 *
 * Returns: the number of bytes
 */
guint64
cdviz_sse_client_get_bytes_received (CdvizSseClient *self)
{
  g_return_val_if_fail (CDVIZ_IS_SSE_CLIENT (self), 0);
  return __atomic_load_n (&self->bytes_received, __ATOMIC_RELAXED);
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
  _cdviz_sse_client_destroy_source (&self->timer);
  _cdviz_sse_client_destroy_source (&self->unpause);
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
  g_clear_pointer (&self->read_buffer, g_bytes_unref);
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
  _cdviz_sse_client_properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:user-agent:
   *
   * The `User-Agent` header; taken at [method@SseClient.start].
   */
  _cdviz_sse_client_properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, NULL, "cdviz-pipeline/" PACKAGE_VERSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:headers:
   *
   * Headers sent with every request, as `Name: value` strings (see also
   * [method@SseClient.set_header]).
   */
  _cdviz_sse_client_properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL, NULL, G_TYPE_STRV, rw);
  /**
   * CdvizSseClient:last-event-id:
   *
   * The id of the last event emitted, sent as `Last-Event-ID` by the next
   * connection; "" for none.
   */
  _cdviz_sse_client_properties[PROP_LAST_EVENT_ID] =
    g_param_spec_string ("last-event-id", NULL, NULL, "", rw);
  /**
   * CdvizSseClient:state:
   *
   * Where the client is.
   */
  _cdviz_sse_client_properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, CDVIZ_TYPE_SSE_CLIENT_STATE,
                       CDVIZ_SSE_CLIENT_STATE_STOPPED, ro);
  /**
   * CdvizSseClient:paused:
   *
   * Whether events are held back (and the connection not read).
   */
  _cdviz_sse_client_properties[PROP_PAUSED] =
    g_param_spec_boolean ("paused", NULL, NULL, FALSE, rw);
  /**
   * CdvizSseClient:retry-delay:
   *
   * The first delay before reconnecting, in milliseconds, until the
   * producer sends `retry:`; it doubles with each failure in a row.
   */
  _cdviz_sse_client_properties[PROP_RETRY_DELAY] =
    g_param_spec_uint ("retry-delay", NULL, NULL, 0, G_MAXUINT32, 1000, rw);
  /**
   * CdvizSseClient:max-retry-delay:
   *
   * The longest delay between two attempts, in milliseconds; also the delay
   * after a 401 or 403 answer.
   */
  _cdviz_sse_client_properties[PROP_MAX_RETRY_DELAY] =
    g_param_spec_uint ("max-retry-delay", NULL, NULL, 0, G_MAXUINT32, 30000, rw);
  /**
   * CdvizSseClient:max-retries:
   *
   * Failed attempts in a row retried before giving up (state
   * %CDVIZ_SSE_CLIENT_STATE_FAILED); -1 retries forever. A connection that
   * delivered events starts the count again.
   */
  _cdviz_sse_client_properties[PROP_MAX_RETRIES] =
    g_param_spec_int ("max-retries", NULL, NULL, -1, G_MAXINT, -1, rw);
  /**
   * CdvizSseClient:max-event-size:
   *
   * Longest event (or line) in bytes; a longer one is skipped whole.
   */
  _cdviz_sse_client_properties[PROP_MAX_EVENT_SIZE] =
    g_param_spec_uint ("max-event-size", NULL, NULL, 1, G_MAXUINT32, 16 * 1024 * 1024,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizSseClient:lagged-events:
   *
   * Events the producer said this client missed (`lagged: N` notices).
   */
  _cdviz_sse_client_properties[PROP_LAGGED_EVENTS] =
    g_param_spec_uint64 ("lagged-events", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * CdvizSseClient:reconnects:
   *
   * Attempts after the first one.
   */
  _cdviz_sse_client_properties[PROP_RECONNECTS] =
    g_param_spec_uint ("reconnects", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * CdvizSseClient:status-code:
   *
   * The HTTP status of the last answer, 0 before any.
   */
  _cdviz_sse_client_properties[PROP_STATUS_CODE] =
    g_param_spec_uint ("status-code", NULL, NULL, 0, 999, 0, ro);
  /**
   * CdvizSseClient:last-error:
   *
   * Why the last connection failed or ended; %NULL while a stream is open.
   */
  _cdviz_sse_client_properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, _cdviz_sse_client_properties);

  /**
   * CdvizSseClient::event:
   * @self: the client
   * @type: the event type (`cdevent`, `message` when the stream names none…)
   * @id: the last event id (the spec's: this event's, or the one before)
   * @data: the event's data (lines joined with LF)
   *
   * An event arrived (any type but `error`).
   */
  _cdviz_sse_client_signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CdvizSseClient::error-event:
   * @self: the client
   * @data: what the producer said (`lagged: 5 messages skipped`…)
   *
   * The producer sent an `event: error` frame. The stream goes on.
   */
  _cdviz_sse_client_signals[SIGNAL_ERROR_EVENT] =
    g_signal_new ("error-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * CdvizSseClient::opened:
   * @self: the client
   * @resume: whether the producer resumed after `Last-Event-ID`
   *
   * A stream opened.
   */
  _cdviz_sse_client_signals[SIGNAL_OPENED] =
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
  _cdviz_sse_client_signals[SIGNAL_RETRYING] =
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
