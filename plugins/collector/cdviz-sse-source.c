/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-outgoing-headers.h"
#include "cdviz-sse-source.h"

/* `extractor = { type = "sse", url, headers, max_retries, metadata,
 * user_agent }`: consumes another collector's SSE stream (cdviz-collector's
 * `src/sources/sse/`). Built on CdvizSseClient, which reconnects with
 * Last-Event-ID; this source turns `cdevent` (and unnamed `message`) events
 * into raw messages, with the metadata upstream adds (`sse_id`,
 * `sse_event`, `sse_url` over the configured `metadata`), and pushes them
 * with cdviz_pipeline_push_from(). When the pipeline's queue is full it
 * keeps the event, pauses the client (which stops reading the socket, so
 * TCP slows the producer down) and pushes the same event again once the
 * queue has room (cdviz_pipeline_create_room_source()):
 * nothing is dropped, nothing reordered. Runs on the thread that starts
 * the pipeline. */


struct _CdvizSseSource
{
  GObject parent_instance;

  /* configuration */
  char *url;
  JsonNode *headers;
  guint max_retries;
  JsonNode *metadata;
  char *user_agent;
  guint64 retry_delay;
  guint64 max_retry_delay;
  CdvizOutgoingHeaders *outgoing;  /* from headers, by init */

  /* running */
  CdvizPipeline *pipeline;         /* (owned) (nullable) */
  CdvizSseClient *client;          /* (owned) (nullable) */
  CdvizMessage *held;              /* (owned) (nullable): refused (queue full) */
  GSource *room_wait;              /* (owned) (nullable): waits for room */

  /* counters: atomics, /metrics reads them on the HTTP thread */
  char *name;                      /* the source's name, from start */
  CdvizSseClient *counted;         /* (owned) (nullable): the client /metrics reads, kept to finalize */
  guint64 received, ignored, invalid, pushed, held_count;
  guint64 reconnects, lagged_notices;
};

#define COUNT(field) __atomic_fetch_add (&(field), 1, __ATOMIC_RELAXED)
#define COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizSseSource, cdviz_sse_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_URL,
  PROP_HEADERS,
  PROP_MAX_RETRIES,
  PROP_METADATA,
  PROP_USER_AGENT,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* --- pushing, with back-pressure ---------------------------------------- */

static gboolean try_push_held (gpointer data);

/* The held event is pushed again when the pipeline's queue has room
 * (cdviz_pipeline_create_room_source()): no polling, and no wait longer
 * than the pipeline takes to drain half its queue. */
static void
wait_for_room (CdvizSseSource *self)
{
  self->room_wait = cdviz_pipeline_create_room_source (self->pipeline);
  g_source_set_callback (self->room_wait, try_push_held, self, NULL);
  g_source_set_static_name (self->room_wait, "[cdviz-collector] SSE source waits for room");
  g_source_attach (self->room_wait, g_main_context_get_thread_default ());
}

/* Pushes @message; on a full queue, holds it and pauses the client. */
static void
push (CdvizSseSource *self,
      CdvizMessage   *message)
{
  g_autoptr(GError) error = NULL;

  if (cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), message, &error))
    {
      COUNT (self->pushed);
      return;
    }
  if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
    {
      g_debug ("%s: pipeline queue full: holding event %s, reading paused", self->url,
               cdviz_message_get_id (message) ?: "(no id)");
      self->held = g_object_ref (message);
      COUNT (self->held_count);
      cdviz_sse_client_set_paused (self->client, TRUE);
      wait_for_room (self);
      return;
    }
  g_warning ("SSE source %s: event not accepted by the pipeline: %s", self->url, error->message);
}

static gboolean
try_push_held (gpointer data)
{
  CdvizSseSource *self = data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->room_wait, g_source_unref);
  if (cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), self->held, &error))
    {
      COUNT (self->pushed);
      g_clear_object (&self->held);
      cdviz_sse_client_set_paused (self->client, FALSE);
      return G_SOURCE_REMOVE;
    }
  if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
    wait_for_room (self);
  else
    {
      g_warning ("SSE source %s: event not accepted by the pipeline: %s", self->url,
                 error->message);
      g_clear_object (&self->held);
      cdviz_sse_client_set_paused (self->client, FALSE);
    }
  return G_SOURCE_REMOVE;
}

/* --- the client's signals ----------------------------------------------- */

static void
on_event (CdvizSseClient *client,
          const char     *type,
          const char     *id,
          const char     *data,
          CdvizSseSource *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(JsonNode) metadata = NULL;
  g_autofree char *uuid = NULL;
  JsonObject *object;

  COUNT (self->received);
  if (!g_str_equal (type, "cdevent") && !g_str_equal (type, "message"))
    {
      COUNT (self->ignored);
      g_debug ("%s: event of type “%s” ignored", self->url, type);
      return;
    }

  /* A new object for every event (json_node_init_object() takes its own
   * reference), sealed here so that the message keeps it as it is. */
  {
    g_autoptr(JsonObject) fresh = cdviz_message_build_metadata (self->metadata);

    metadata = json_node_init_object (json_node_alloc (), fresh);
  }
  object = json_node_get_object (metadata);
  if (*id == '\0')
    uuid = g_uuid_string_random ();
  json_object_set_string_member (object, "sse_id", *id ? id : uuid);
  json_object_set_string_member (object, "sse_event", type);
  json_object_set_string_member (object, "sse_url", self->url);
  json_node_seal (metadata);

  /* Parsed once, straight into the raw message (as the webhook does). */
  message = cdviz_message_new_raw_from_data (data, -1, metadata, NULL, &error);
  if (message == NULL)
    {
      COUNT (self->invalid);
      g_warning ("SSE source %s: event %s is not JSON, skipped: %s", self->url,
                 *id ? id : "(no id)", error->message);
      return;
    }
  push (self, message);
}

static void
on_error_event (CdvizSseClient *client,
                const char     *data,
                CdvizSseSource *self)
{
  if (g_str_has_prefix (data, "lagged: "))
    {
      COUNT (self->lagged_notices);
      g_warning ("SSE source %s: the producer says this consumer lagged behind (%s); "
                 "%" G_GUINT64_FORMAT " events missed so far", self->url, data,
                 cdviz_sse_client_get_lagged_events (client));
    }
  else
    g_warning ("SSE source %s: the producer reports an error: %s", self->url, data);
}

static void
on_opened (CdvizSseClient       *client,
           CdvizSseClientResume  resume,
           CdvizSseSource       *self)
{
  const char *id = cdviz_sse_client_get_last_event_id (client);

  switch (resume)
    {
    case CDVIZ_SSE_CLIENT_RESUME_NONE:
      g_message ("SSE source %s: connected", self->url);
      break;
    case CDVIZ_SSE_CLIENT_RESUME_RESUMED:
      g_message ("SSE source %s: reconnected, resumed after event %s", self->url, id);
      break;
    case CDVIZ_SSE_CLIENT_RESUME_UNKNOWN_ID:
      g_warning ("SSE source %s: reconnected, but the producer no longer had event %s "
                 "(restarted, or the event left its buffer): resumed from its live stream; "
                 "events in between may be lost", self->url, id);
      break;
    case CDVIZ_SSE_CLIENT_RESUME_UNCONFIRMED:
    default:
      g_message ("SSE source %s: reconnected with Last-Event-ID %s", self->url, id);
      break;
    }
}

static void
on_retrying (CdvizSseClient *client,
             guint           delay_ms,
             const GError   *error,
             CdvizSseSource *self)
{
  COUNT (self->reconnects);
  if (g_error_matches (error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_REFUSED))
    g_warning ("SSE source %s: %s; next attempt in %u s", self->url, error->message,
               (delay_ms + 999) / 1000);
  else
    g_message ("SSE source %s: %s; reconnecting in %u ms", self->url, error->message, delay_ms);
}

static void
on_state (CdvizSseClient *client,
          GParamSpec     *pspec,
          CdvizSseSource *self)
{
  if (cdviz_sse_client_get_state (client) == CDVIZ_SSE_CLIENT_STATE_FAILED)
    g_warning ("SSE source %s: giving up (max_retries = %u): %s", self->url, self->max_retries,
               cdviz_sse_client_get_last_error (client) ?: "");
}

/* --- /metrics ----------------------------------------------------------- */

static guint64 received_sample (gpointer s) { return COUNTER_GET (CDVIZ_SSE_SOURCE (s)->received); }
static guint64 pushed_sample (gpointer s) { return COUNTER_GET (CDVIZ_SSE_SOURCE (s)->pushed); }
static guint64 held_sample (gpointer s) { return COUNTER_GET (CDVIZ_SSE_SOURCE (s)->held_count); }
static guint64 reconnects_sample (gpointer s) { return COUNTER_GET (CDVIZ_SSE_SOURCE (s)->reconnects); }
static guint64 notices_sample (gpointer s) { return COUNTER_GET (CDVIZ_SSE_SOURCE (s)->lagged_notices); }

static guint64
ignored_sample (gpointer component)
{
  CdvizSseSource *self = component;

  return COUNTER_GET (self->ignored) + COUNTER_GET (self->invalid);
}

static guint64
bytes_sample (gpointer component)
{
  CdvizSseSource *self = component;

  return self->counted != NULL ? cdviz_sse_client_get_bytes_received (self->counted) : 0;
}

static const CdvizMetricFamily metric_families[] = {
  { "cdviz_sse_source_events_received_total", "counter",
    "Events read from the producer's stream (every type but error).", received_sample },
  { "cdviz_sse_source_events_pushed_total", "counter",
    "Events the SSE source handed to the pipeline.", pushed_sample },
  { "cdviz_sse_source_events_ignored_total", "counter",
    "Events of other types, or not JSON, skipped.", ignored_sample },
  { "cdviz_sse_source_queue_full_total", "counter",
    "Times the pipeline's queue was full and the source stopped reading.", held_sample },
  { "cdviz_sse_source_reconnects_total", "counter",
    "Connections lost or refused, each followed by a new attempt.", reconnects_sample },
  { "cdviz_sse_source_lagged_notices_total", "counter",
    "`lagged: N` notices from the producer (events this consumer missed).", notices_sample },
  { "cdviz_sse_source_bytes_received_total", "counter",
    "Bytes of stream bodies read from the producer.", bytes_sample },
};

static const char *
source_name (gpointer component)
{
  return CDVIZ_SSE_SOURCE (component)->name;
}

/* One function for every SSE source on the server; on the HTTP thread. */
static void
sse_source_metrics (GString  *out,
                    gpointer  user_data)
{
  cdviz_metrics_append_families (out, metric_families, G_N_ELEMENTS (metric_families),
                                 user_data, "source", source_name);
}

/* --- CdvizSource -------------------------------------------------------- */

static gboolean
sse_source_start (CdvizSource    *source,
                  CdvizPipeline  *pipeline,
                  GError        **error)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (source);
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr(CdvizSseClient) client = NULL;
  SoupMessageHeadersIter iter;
  const char *name, *value;

  client = g_object_new (CDVIZ_TYPE_SSE_CLIENT,
                         "url", self->url,
                         "user-agent", self->user_agent,
                         "retry-delay", (guint) MIN (self->retry_delay, G_MAXUINT32),
                         "max-retry-delay", (guint) MIN (self->max_retry_delay, G_MAXUINT32),
                         "max-retries", (int) MIN (self->max_retries, G_MAXINT),
                         NULL);
  /* A GET has no body: signatures are over the empty body (and the
   * headers they name), computed once. */
  cdviz_outgoing_headers_apply (self->outgoing, headers, NULL, 0);
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    cdviz_sse_client_set_header (client, name, value);

  g_signal_connect (client, "event", G_CALLBACK (on_event), self);
  g_signal_connect (client, "error-event", G_CALLBACK (on_error_event), self);
  g_signal_connect (client, "opened", G_CALLBACK (on_opened), self);
  g_signal_connect (client, "retrying", G_CALLBACK (on_retrying), self);
  g_signal_connect (client, "notify::state", G_CALLBACK (on_state), self);
  if (!cdviz_sse_client_start (client, error))
    return FALSE;
  /* Before the HTTP server starts: /metrics then reads without a lock. */
  g_free (self->name);
  self->name = g_strdup (cdviz_pipeline_get_source_name (pipeline, source) ?: "sse");
  g_set_object (&self->counted, client);
  if (cdviz_pipeline_get_http_server (pipeline) != NULL)
    cdviz_http_server_add_shared_metrics (cdviz_pipeline_get_http_server (pipeline),
                                          "cdviz-sse-sources", sse_source_metrics,
                                          G_OBJECT (self));
  self->client = g_steal_pointer (&client);
  self->pipeline = g_object_ref (pipeline);
  return TRUE;
}

static void
sse_source_stop (CdvizSource *source)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (source);

  if (self->room_wait != NULL)
    {
      g_source_destroy (self->room_wait);
      g_clear_pointer (&self->room_wait, g_source_unref);
    }
  if (self->held != NULL)
    g_debug ("%s: stopping with event %s not accepted by the pipeline", self->url,
             cdviz_message_get_id (self->held) ?: "(no id)");
  g_clear_object (&self->held);
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      cdviz_sse_client_stop (self->client);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->pipeline);
  g_debug ("%s: %" G_GUINT64_FORMAT " events received, %" G_GUINT64_FORMAT " pushed, %"
           G_GUINT64_FORMAT " ignored, %" G_GUINT64_FORMAT " not JSON, %" G_GUINT64_FORMAT
           " held back", self->url, self->received, self->pushed, self->ignored, self->invalid,
           self->held_count);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = sse_source_start;
  iface->stop_source = sse_source_stop;
}

static gboolean
sse_source_init_finish (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (initable);
  g_autoptr(GError) local = NULL;
  g_autoptr(GUri) uri = NULL;

  if (self->url == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “url” is required (the producer's SSE stream, "
                             "http://host:port/sse/ID)"));
      return FALSE;
    }
  uri = g_uri_parse (self->url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “url”: “%s” is not an http:// or https:// URL"), self->url);
      return FALSE;
    }
  if (self->metadata != NULL && !JSON_NODE_HOLDS_OBJECT (self->metadata))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “metadata”: expected a table"));
      return FALSE;
    }
  self->outgoing = cdviz_outgoing_headers_new (self->headers, &local);
  if (self->outgoing == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “headers”: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = sse_source_init_finish;
}

/* --- GObject ------------------------------------------------------------ */

static void
cdviz_sse_source_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (object);

  switch (prop_id)
    {
    case PROP_URL: g_value_set_string (value, self->url); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_MAX_RETRIES: g_value_set_uint (value, self->max_retries); break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    case PROP_USER_AGENT: g_value_set_string (value, self->user_agent); break;
    case PROP_RETRY_DELAY: g_value_set_uint64 (value, self->retry_delay); break;
    case PROP_MAX_RETRY_DELAY: g_value_set_uint64 (value, self->max_retry_delay); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_source_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_MAX_RETRIES: self->max_retries = g_value_get_uint (value); break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    case PROP_USER_AGENT:
      g_free (self->user_agent);
      self->user_agent = g_value_dup_string (value);
      break;
    case PROP_RETRY_DELAY: self->retry_delay = g_value_get_uint64 (value); break;
    case PROP_MAX_RETRY_DELAY: self->max_retry_delay = g_value_get_uint64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_source_finalize (GObject *object)
{
  CdvizSseSource *self = CDVIZ_SSE_SOURCE (object);

  g_assert (self->client == NULL);
  g_clear_object (&self->counted);
  g_free (self->name);
  g_free (self->url);
  g_clear_pointer (&self->headers, json_node_unref);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_free (self->user_agent);
  g_clear_pointer (&self->outgoing, cdviz_outgoing_headers_free);
  G_OBJECT_CLASS (cdviz_sse_source_parent_class)->finalize (object);
}

static void
cdviz_sse_source_class_init (CdvizSseSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_sse_source_get_property;
  object_class->set_property = cdviz_sse_source_set_property;
  object_class->finalize = cdviz_sse_source_finalize;

  properties[PROP_URL] =
    g_param_spec_string ("url", NULL,
                         "The producer's SSE stream, e.g. http://regional:8080/sse/events (required)",
                         NULL, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Headers sent with every request (header name → rule): "
                        "{ type = \"static\", value, prefix, suffix }, "
                        "{ type = \"secret\", value or value_file, prefix, suffix } (never logged), "
                        "{ type = \"signature\", token, token_encoding, signature_prefix, "
                        "signature_on, signature_encoding } (HMAC-SHA256 of the empty body)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_MAX_RETRIES] =
    g_param_spec_uint ("max-retries", NULL,
                       "Failed connection attempts in a row retried before the source gives up; "
                       "a connection that delivered events starts the count again",
                       0, G_MAXINT32, 10, flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "Metadata of every event (a table); sse_id, sse_event and sse_url are "
                        "added to it",
                        JSON_TYPE_NODE, flags);
  properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, "The User-Agent header of the requests",
                         "cdviz-pipeline/" CDVIZ_VERSION_S, flags);
  properties[PROP_RETRY_DELAY] =
    cdviz_param_spec_duration ("retry-delay", NULL,
                               "First delay before reconnecting (until the producer sends retry:); "
                               "doubles with each failure in a row, with jitter (not in "
                               "cdviz-collector)",
                               0, G_MAXUINT32, 1000, flags);
  properties[PROP_MAX_RETRY_DELAY] =
    cdviz_param_spec_duration ("max-retry-delay", NULL,
                               "Longest delay between two attempts, and the delay after a "
                               "401 or 403 answer (not in cdviz-collector)",
                               0, G_MAXUINT32, 30000, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_sse_source_init (CdvizSseSource *self)
{
  self->max_retries = 10;
  self->retry_delay = 1000;
  self->max_retry_delay = 30000;
  self->user_agent = g_strdup ("cdviz-pipeline/" CDVIZ_VERSION_S);
}
