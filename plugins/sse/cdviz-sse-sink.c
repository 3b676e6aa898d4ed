/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-sse-sink-private.h"
#include "cdviz-sse-frame.h"

/**
 * CdvizSseSink:
 *
 * `type = "sse"`: serves `GET /sse/<id>` as a Server-Sent Events stream of
 * every event (design §5).
 *
 * Fan-out. send_message() runs on the pipeline thread: it formats the frame
 * once into a #GBytes, appends it to a ring of the last frames (each with a
 * sequence number; at most `buffer_size` frames and `buffer_bytes` bytes)
 * under a mutex, and wakes the sink's fan-out threads (`threads`, default
 * one per processor, cdviz-sse-fanout.c). Each client belongs to one of
 * them (the one with the fewest clients when it connected) and is a cursor
 * into the shared ring (cdviz-sse-writer.c), so a pass over N clients
 * takes N / threads system calls per thread, and every client is sent the
 * same bytes.
 *
 * Connections. Once a request passed the method, header and capacity
 * checks (cdviz-sse-handler.c, on the HTTP thread), the handler pauses it
 * and, from an idle callback (outside libsoup's I/O code), steals its
 * connection with cdviz_http_server_steal_connection(). From then on the
 * sink writes the response itself on the non-blocking socket: the status
 * line and headers, then chunks (or a close-delimited body for HTTP/1.0).
 *
 * TLS. With `[http] tls_certificate`, the stolen stream is a
 * #GTlsConnection: the client writer then goes through its pollable
 * streams, so that every byte is encrypted; the socket is still what is
 * polled. Without TLS, sendmsg() and recv() on the descriptor.
 *
 * Stop. New requests get 503; the accepted ones are handed over; every
 * fan-out thread writes what its clients still have to receive and ends
 * each stream, all within STOP_FLUSH_TIMEOUT_US.
 */

#define STOP_FLUSH_TIMEOUT_US (1 * G_USEC_PER_SEC)
#define DEFAULT_BUFFER_BYTES (G_GUINT64_CONSTANT (64) * 1024 * 1024)

enum {
  PROP_0,
  PROP_ID,
  PROP_HEADERS,
  PROP_BUFFER_SIZE,
  PROP_BUFFER_BYTES,
  PROP_KEEP_ALIVE_INTERVAL,
  PROP_MAX_CLIENTS,
  PROP_RETRY,
  PROP_CORS_ALLOW_ORIGIN,
  PROP_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sink_iface_init (CdvizSinkInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizSseSink, cdviz_sse_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

/* --- metrics -------------------------------------------------------------- */

static void
append_sample (GString      *out,
               const char   *family,
               CdvizSseSink *sink,
               const char   *reason,
               guint64       value)
{
  /* A NULL name ends the label list: without a reason, two labels. */
  cdviz_metrics_append_sample (out, family, value, "sink", sink->name, "id", sink->id,
                               reason != NULL ? "reason" : NULL, reason, NULL);
}

typedef void (*SamplesFunc) (GString      *out,
                             const char   *family,
                             CdvizSseSink *sink);

/* A family whose one sample per sink is @expr (of `sink`). */
#define SAMPLE_FUNC(fn, expr) \
  static void fn (GString *out, const char *family, CdvizSseSink *sink) \
  { append_sample (out, family, sink, NULL, (expr)); }

static guint64
ring_sample (CdvizSseSink *sink,
             gboolean      bytes)
{
  guint64 value;

  g_mutex_lock (&sink->feed.lock);
  value = bytes ? cdviz_sse_ring_get_bytes (sink->feed.ring)
          : cdviz_sse_ring_get_length (sink->feed.ring);
  g_mutex_unlock (&sink->feed.lock);
  return value;
}

/* Streams that started (their position in the ring is set), not requests
 * still being handed over: a client counted here receives every event the
 * sink takes from now on. */
SAMPLE_FUNC (clients_samples, (guint64) MAX (g_atomic_int_get (&sink->feed.n_streaming), 0))
SAMPLE_FUNC (sent_samples, CDVIZ_SSE_COUNTER_GET (sink->feed.events_sent))
SAMPLE_FUNC (lagged_samples, CDVIZ_SSE_COUNTER_GET (sink->feed.lagged_events))
SAMPLE_FUNC (buffer_events_samples, ring_sample (sink, FALSE))
SAMPLE_FUNC (buffer_bytes_samples, ring_sample (sink, TRUE))
SAMPLE_FUNC (max_events_samples, sink->buffer_size)
SAMPLE_FUNC (max_bytes_samples, sink->buffer_bytes)

static void
rejected_samples (GString      *out,
                  const char   *family,
                  CdvizSseSink *sink)
{
  g_autofree char *path = g_strdup_printf ("/sse/%s", sink->id);

  /* The server checks the header rules at the route and counts refusals. */
  append_sample (out, family, sink, "auth",
                 sink->http != NULL ? cdviz_http_server_get_rejected (sink->http, path) : 0);
  append_sample (out, family, sink, "max_clients",
                 CDVIZ_SSE_COUNTER_GET (sink->rejected_max_clients));
}

static void
removed_samples (GString      *out,
                 const char   *family,
                 CdvizSseSink *sink)
{
  for (CdvizSseWriterStatus s = CDVIZ_SSE_WRITER_OK + 1; s < CDVIZ_SSE_WRITER_N_STATUS; s++)
    append_sample (out, family, sink, cdviz_sse_writer_status_to_string (s),
                   CDVIZ_SSE_COUNTER_GET (sink->feed.removed[s]));
}

static const struct {
  const char *name;
  const char *type;
  const char *help;
  SamplesFunc samples;
} metric_families[] = {
  { "cdviz_sse_clients", "gauge", "Connected SSE clients.", clients_samples },
  { "cdviz_sse_events_sent_total", "counter",
    "Events written to SSE clients (one per client).", sent_samples },
  { "cdviz_sse_lagged_events_total", "counter",
    "Events SSE clients missed because they fell behind the buffer.", lagged_samples },
  { "cdviz_sse_buffer_events", "gauge",
    "Events held in the SSE sink's buffer.", buffer_events_samples },
  { "cdviz_sse_buffer_bytes", "gauge",
    "Bytes of the frames held in the SSE sink's buffer.", buffer_bytes_samples },
  { "cdviz_sse_buffer_max_events", "gauge",
    "The SSE sink's buffer_size: events kept at most.", max_events_samples },
  { "cdviz_sse_buffer_max_bytes", "gauge",
    "The SSE sink's buffer_bytes: bytes kept at most (0 = no byte bound).", max_bytes_samples },
  { "cdviz_sse_rejected_connections_total", "counter",
    "SSE connections refused, by reason.", rejected_samples },
  { "cdviz_sse_clients_removed_total", "counter",
    "SSE clients gone, by reason (closed, reset, error, head, finished, flush_timeout).",
    removed_samples },
};

/* One function per HTTP server for every SSE sink on it, so that each
 * metric family is declared once. Runs on the HTTP thread. */
static void
sse_metrics (GString  *out,
             gpointer  user_data)
{
  GPtrArray *sinks = user_data;

  for (guint f = 0; f < G_N_ELEMENTS (metric_families); f++)
    {
      g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n",
                              metric_families[f].name, metric_families[f].help,
                              metric_families[f].name, metric_families[f].type);
      for (guint i = 0; i < sinks->len; i++)
        metric_families[f].samples (out, metric_families[f].name, g_ptr_array_index (sinks, i));
    }
}

static void
register_metrics (CdvizSseSink    *self,
                  CdvizHttpServer *http)
{
  cdviz_http_server_add_shared_metrics (http, "cdviz-sse-sinks", sse_metrics, G_OBJECT (self));
}

/* --- start, send, stop ------------------------------------------------------ */

static void
fanouts_free (CdvizSseSink *self)
{
  for (guint i = 0; i < self->n_fanouts; i++)
    cdviz_sse_fanout_free (self->fanouts[i]);
  g_clear_pointer (&self->fanouts, g_free);
  self->n_fanouts = 0;
}

/* `threads` fan-out threads, or one per processor (at most
 * CDVIZ_SSE_MAX_THREADS). */
static gboolean
fanouts_start (CdvizSseSink  *self,
               GError       **error)
{
  guint n = self->threads > 0 ? self->threads
            : CLAMP (g_get_num_processors (), 1, CDVIZ_SSE_MAX_THREADS);

  self->fanouts = g_new0 (CdvizSseFanout *, n);
  for (guint i = 0; i < n; i++)
    {
      self->fanouts[i] = cdviz_sse_fanout_new (&self->feed, i, self->id, self->keep_alive_ms,
                                               error);
      if (self->fanouts[i] == NULL)
        {
          fanouts_free (self);
          return FALSE;
        }
      self->n_fanouts = i + 1;
    }
  return TRUE;
}

static gboolean
sse_start_sink (CdvizSink      *sink,
                CdvizPipeline  *pipeline,
                GError        **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);
  CdvizHttpServer *http = cdviz_pipeline_get_http_server (pipeline);
  g_autofree char *path = g_strdup_printf ("/sse/%s", self->id);
  g_autofree char *owner = NULL;
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);

  if (self->fanouts == NULL)
    {
      g_free (self->name);
      self->name = g_strdup (name != NULL ? name : self->id);
      self->feed.name = self->name;
    }
  owner = g_strdup_printf ("sink '%s'", self->name);

  /* The threads first: the route may be used as soon as it exists. */
  if (self->fanouts == NULL && !fanouts_start (self, error))
    return FALSE;
  g_set_weak_pointer (&self->http, http);
  g_atomic_int_set (&self->stopping, 0);

  if (!cdviz_http_server_add_handler (http, path, owner, cdviz_sse_handler_serve,
                                      g_object_ref (self), g_object_unref, error))
    {
      g_object_unref (self);
      g_clear_weak_pointer (&self->http);
      fanouts_free (self);
      return FALSE;
    }
  /* A stream request has no body: one is refused unread. */
  cdviz_http_server_set_max_body_size (http, path, 0);
  /* Hand-offs are made and finished on the thread of their request, the
   * rest is atomic or locked: any HTTP thread may serve the route. */
  cdviz_http_server_set_thread_safe (http, path, TRUE);
  cdviz_http_server_set_header_validator (http, path, self->validator);
  cdviz_http_server_set_methods (http, path, (const char * const []) { "GET", "HEAD", "OPTIONS", NULL });
  register_metrics (self, http);

  g_debug ("sink '%s': serving %s with %u fan-out thread%s", self->name, path,
           self->n_fanouts, self->n_fanouts == 1 ? "" : "s");
  return TRUE;
}

/* The event's subject.id, or NULL. */
static const char *
subject_id (JsonNode *body)
{
  JsonNode *subject, *id;

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    return NULL;
  subject = json_object_get_member (json_node_get_object (body), "subject");
  if (subject == NULL || !JSON_NODE_HOLDS_OBJECT (subject))
    return NULL;
  id = json_object_get_member (json_node_get_object (subject), "id");
  return id != NULL && JSON_NODE_HOLDS_VALUE (id) &&
         json_node_get_value_type (id) == G_TYPE_STRING ? json_node_get_string (id) : NULL;
}

/* The pipeline thread: one frame per event, the same bytes for every
 * client. */
static gboolean
sse_send_message (CdvizSink     *sink,
                  CdvizMessage  *message,
                  GError       **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);
  GBytes *body = cdviz_message_get_body_bytes (message);
  const char *id = cdviz_message_get_id (message);
  const char *type, *subject;
  g_autoptr(GBytes) frame = NULL;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  if (id != NULL && !cdviz_sse_frame_id_is_valid (id))
    {
      g_debug ("sink '%s': event id holds a line break; sent without id", self->name);
      id = NULL;
    }
  frame = cdviz_sse_frame_event (id, data, length);

  /* What the clients' filters look at, once per event, outside the lock. */
  type = cdviz_message_get_event_type (message);
  subject = subject_id (cdviz_message_get_body (message));

  g_mutex_lock (&self->feed.lock);
  cdviz_sse_ring_push_event (self->feed.ring, id, type, subject, frame);
  g_mutex_unlock (&self->feed.lock);

  for (guint i = 0; i < self->n_fanouts; i++)
    cdviz_sse_fanout_wake (self->fanouts[i]);
  return TRUE;
}

static void
sse_stop_sink (CdvizSink *sink)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);
  gint64 deadline;

  /* 503 for new requests; the accepted ones go to their fan-out threads. */
  if (self->http != NULL)
    cdviz_http_server_invoke_sync_all (self->http, cdviz_sse_handler_stop, self);
  else
    cdviz_sse_handler_stop (self);

  /* Every thread ends its streams at the same time, within one bound. */
  deadline = g_get_monotonic_time () + STOP_FLUSH_TIMEOUT_US;
  for (guint i = 0; i < self->n_fanouts; i++)
    cdviz_sse_fanout_finish_streams (self->fanouts[i], deadline);
  fanouts_free (self);
  g_clear_weak_pointer (&self->http);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = sse_start_sink;
  iface->send_message = sse_send_message;
  iface->stop_sink = sse_stop_sink;
}

/* --- the object --------------------------------------------------------------- */

static gboolean
sse_initable_init (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (initable);
  JsonNode *rules = self->headers;

  if (self->id == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("missing required key 'id'"));
      return FALSE;
    }
  if (!cdviz_http_check_route_id ("sse", self->id, error))
    return FALSE;
  if (self->cors_allow_origin != NULL &&
      (*self->cors_allow_origin == '\0' || strpbrk (self->cors_allow_origin, "\r\n") != NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("key 'cors_allow_origin': must be a non-empty origin or \"*\""));
      return FALSE;
    }

  /* `headers = []` (the collector's documented empty value) means no rules. */
  if (rules != NULL &&
      !(JSON_NODE_HOLDS_ARRAY (rules) && json_array_get_length (json_node_get_array (rules)) == 0) &&
      !(JSON_NODE_HOLDS_OBJECT (rules) && json_object_get_size (json_node_get_object (rules)) == 0))
    {
      g_autoptr(GError) local_error = NULL;

      self->validator = cdviz_header_validator_new (rules, &local_error);
      if (self->validator == NULL)
        {
          g_set_error (error, local_error->domain, local_error->code,
                       _("key 'headers': %s"), local_error->message);
          return FALSE;
        }
    }

  if (self->retry_ms > 0)
    self->feed.retry_frame = cdviz_sse_frame_retry (self->retry_ms);
  self->feed.cors_allow_origin = self->cors_allow_origin;
  self->feed.ring = cdviz_sse_ring_new (self->buffer_size, self->buffer_bytes);
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = sse_initable_init;
}

static void
cdviz_sse_sink_finalize (GObject *object)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  /* The pipeline stops its sinks (and so every stream) before dropping
   * them; hand-offs hold a reference to the sink. */
  g_warn_if_fail (self->handoffs.length == 0);
  fanouts_free (self);
  g_clear_weak_pointer (&self->http);
  g_mutex_clear (&self->handoffs_lock);
  g_clear_pointer (&self->feed.ring, cdviz_sse_ring_free);
  g_clear_pointer (&self->feed.retry_frame, g_bytes_unref);
  g_mutex_clear (&self->feed.lock);
  g_clear_object (&self->validator);
  g_clear_pointer (&self->headers, json_node_unref);
  g_free (self->id);
  g_free (self->cors_allow_origin);
  g_free (self->name);

  G_OBJECT_CLASS (cdviz_sse_sink_parent_class)->finalize (object);
}

static void
cdviz_sse_sink_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_HEADERS:
      g_value_set_boxed (value, self->headers);
      break;
    case PROP_BUFFER_SIZE:
      g_value_set_uint (value, self->buffer_size);
      break;
    case PROP_BUFFER_BYTES:
      g_value_set_uint64 (value, self->buffer_bytes);
      break;
    case PROP_KEEP_ALIVE_INTERVAL:
      g_value_set_uint64 (value, self->keep_alive_ms);
      break;
    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, self->max_clients);
      break;
    case PROP_RETRY:
      g_value_set_uint64 (value, self->retry_ms);
      break;
    case PROP_CORS_ALLOW_ORIGIN:
      g_value_set_string (value, self->cors_allow_origin);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_sink_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_BUFFER_SIZE:
      self->buffer_size = g_value_get_uint (value);
      break;
    case PROP_BUFFER_BYTES:
      self->buffer_bytes = g_value_get_uint64 (value);
      break;
    case PROP_KEEP_ALIVE_INTERVAL:
      self->keep_alive_ms = g_value_get_uint64 (value);
      break;
    case PROP_MAX_CLIENTS:
      self->max_clients = g_value_get_uint (value);
      break;
    case PROP_RETRY:
      self->retry_ms = g_value_get_uint64 (value);
      break;
    case PROP_CORS_ALLOW_ORIGIN:
      g_free (self->cors_allow_origin);
      self->cors_allow_origin = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_sink_class_init (CdvizSseSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = cdviz_sse_sink_finalize;
  object_class->get_property = cdviz_sse_sink_get_property;
  object_class->set_property = cdviz_sse_sink_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, "The stream's id: it is served at /sse/<id> (required)",
                         NULL, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Header rules a client must pass (header name → rule)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_BUFFER_SIZE] =
    g_param_spec_uint ("buffer-size", NULL,
                       "How many recent events are kept for slow and reconnecting clients",
                       1, 10000000, 1000, flags);
  properties[PROP_BUFFER_BYTES] =
    g_param_spec_uint64 ("buffer-bytes", NULL,
                         "At most this many bytes of recent events are kept; the oldest go first, "
                         "the newest event always stays (0 = no byte bound)",
                         0, G_MAXUINT64, DEFAULT_BUFFER_BYTES, flags);
  properties[PROP_KEEP_ALIVE_INTERVAL] =
    cdviz_param_spec_duration ("keep-alive-interval", NULL,
                               "A keep-alive comment is sent after this much silence (0 = never)",
                               0, G_MAXUINT32, 30000, flags);
  properties[PROP_MAX_CLIENTS] =
    g_param_spec_uint ("max-clients", NULL,
                       "At most this many connected clients; more are answered 503 (0 = unlimited)",
                       0, G_MAXUINT, 0, flags);
  properties[PROP_RETRY] =
    cdviz_param_spec_duration ("retry", NULL,
                               "Reconnection delay sent to clients as the retry: field (0 = not sent)",
                               0, G_MAXUINT32, 0, flags);
  properties[PROP_CORS_ALLOW_ORIGIN] =
    g_param_spec_string ("cors-allow-origin", NULL,
                         "The Access-Control-Allow-Origin header of every response: an origin "
                         "(https://dash.example) or * (default: none, only same-origin pages "
                         "can read the stream in a browser)",
                         NULL, flags);
  properties[PROP_THREADS] =
    g_param_spec_uint ("threads", NULL,
                       "Fan-out threads the clients are spread over (0 = one per processor, at most 8)",
                       0, CDVIZ_SSE_MAX_THREADS, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}
static void
cdviz_sse_sink_init (CdvizSseSink *self)
{
  g_mutex_init (&self->feed.lock);
  self->buffer_size = 1000;
  self->buffer_bytes = DEFAULT_BUFFER_BYTES;
  self->keep_alive_ms = 30000;
  g_queue_init (&self->handoffs);
  g_mutex_init (&self->handoffs_lock);
}
