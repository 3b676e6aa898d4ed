/* SPDX-License-Identifier: Apache-2.0 */
#include <glib/gi18n-lib.h>

#include "cdviz-nats-common.h"
#include "cdviz-nats-sink.h"
#include "cdviz-outgoing-headers.h"

/* `[sinks.NAME] type = "nats"`: publishes every event to `subject`, as
 * cdviz-collector's `src/sinks/nats.rs` (`servers`, `subject`, `mode`,
 * `timeout`, `headers`). The body is the event's JSON; headers are the
 * message's headers, `content-type: application/json` and the configured
 * outgoing rules.
 *
 * Threads: the pipeline thread calls send_message(), which only queues the
 * event (bounded by `queue_capacity`: when it is full the pipeline thread
 * waits for room, which turns into 503s at the webhooks: back-pressure, no
 * loss). One publisher thread per sink takes events in order and publishes
 * them; in jetstream mode it waits for the stream's acknowledgement
 * (`timeout`) and retries the same event until it is stored, with
 * `Nats-Msg-Id` = the CDEvent id so that a retried publication is stored
 * once (within the stream's duplicate window). Order is kept: the next
 * event waits for the previous one's acknowledgement. */

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 2000

struct _CdvizNatsSink
{
  GObject parent_instance;

  /* configuration */
  char *servers;
  char *subject;
  CdvizNatsMode mode;
  guint64 timeout;
  JsonNode *headers;
  char *stream;
  gboolean create_stream;
  CdvizNatsOptions options;  /* the documentation's spellings */
  guint replicas;
  guint queue_capacity;
  char **server_list;              /* by init */
  CdvizOutgoingHeaders *outgoing;  /* by init */

  /* running */
  char *name;
  natsConnection *nc;
  jsCtx *js;
  GThread *thread;
  GMutex lock;
  GCond cond;                      /* queue changed, or stopping */
  GQueue queue;                    /* (element-type CdvizMessage) head: being published */
  gboolean stopping;
  gint64 drain_deadline;           /* monotonic µs, once stopping */
  CdvizNatsConnState conn;
  guint64 published, failures, dropped;  /* atomic (64-bit, under lock for writes) */
  gint queue_length;               /* atomic */
};

static void initable_iface_init (GInitableIface *iface);
static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizNatsSink, cdviz_nats_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

enum {
  PROP_0,
  PROP_SERVERS,
  PROP_SUBJECT,
  PROP_MODE,
  PROP_TIMEOUT,
  PROP_HEADERS,
  PROP_STREAM,
  PROP_CREATE_STREAM,
  PROP_REPLICAS,
  PROP_QUEUE_CAPACITY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
#define PROP_FIRST_OPTION N_PROPS  /* then CdvizNatsOption's */

/* --- publishing (the publisher thread) -------------------------------------- */

static void
set_header (natsMsg    *msg,
            const char *name,
            const char *value)
{
  natsMsgHeader_Set (msg, name, value);
}

static natsStatus
build_msg (CdvizNatsSink  *self,
           CdvizMessage   *message,
           natsMsg       **out)
{
  GBytes *body = cdviz_message_get_body_bytes (message);
  GHashTable *headers = cdviz_message_get_headers (message);
  gsize length;
  const char *data = g_bytes_get_data (body, &length);
  natsMsg *msg = NULL;
  natsStatus s;

  s = natsMsg_Create (&msg, self->subject, NULL, data, (int) length);
  if (s != NATS_OK)
    return s;
  if (headers != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;

      g_hash_table_iter_init (&iter, headers);
      while (g_hash_table_iter_next (&iter, &k, &v))
        set_header (msg, k, v);
    }
  set_header (msg, "content-type", "application/json");
  if (self->outgoing != NULL && !cdviz_outgoing_headers_is_empty (self->outgoing))
    {
      g_autoptr(SoupMessageHeaders) generated =
        soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
      SoupMessageHeadersIter iter;
      const char *name, *value;

      cdviz_outgoing_headers_apply (self->outgoing, generated, (const guint8 *) data, length);
      soup_message_headers_iter_init (&iter, generated);
      while (soup_message_headers_iter_next (&iter, &name, &value))
        set_header (msg, name, value);
    }
  *out = msg;
  return NATS_OK;
}

/* One attempt; FALSE with @error on failure (to be retried). */
static gboolean
publish_once (CdvizNatsSink  *self,
              CdvizMessage   *message,
              GError        **error)
{
  natsMsg *msg = NULL;
  natsStatus s;
  jsErrCode jerr = 0;

  s = build_msg (self, message, &msg);
  if (s != NATS_OK)
    return cdviz_nats_set_error (error, s, 0, _("cannot build the NATS message"));

  if (self->mode == CDVIZ_NATS_MODE_JETSTREAM)
    {
      jsPubOptions opts;
      jsPubAck *ack = NULL;

      jsPubOptions_Init (&opts);
      opts.MaxWait = (int64_t) self->timeout;
      opts.MsgId = cdviz_message_get_id (message);
      s = js_PublishMsg (&ack, self->js, msg, &opts, &jerr);
      if (s == NATS_OK && ack != NULL && ack->Duplicate)
        g_debug ("sink '%s': event %s was already in stream %s (a retried publication)",
                 self->name, opts.MsgId ?: "(no id)", ack->Stream);
      jsPubAck_Destroy (ack);
    }
  else
    s = natsConnection_PublishMsg (self->nc, msg);
  natsMsg_Destroy (msg);
  if (s != NATS_OK)
    {
      g_autofree char *what =
        g_strdup_printf (_("sink '%s': publishing event %s to “%s”"), self->name,
                         cdviz_message_get_id (message) ?: "(no id)", self->subject);
      return cdviz_nats_set_error (error, s, jerr, what);
    }
  return TRUE;
}

static gpointer
publisher_thread (gpointer data)
{
  CdvizNatsSink *self = data;
  guint retry_ms = RETRY_FIRST_MS;
  gboolean failing = FALSE;

  g_mutex_lock (&self->lock);
  for (;;)
    {
      g_autoptr(CdvizMessage) message = NULL;
      g_autoptr(GError) error = NULL;

      while (g_queue_is_empty (&self->queue) && !self->stopping)
        g_cond_wait (&self->cond, &self->lock);
      if (g_queue_is_empty (&self->queue))
        break;
      if (self->stopping && g_get_monotonic_time () >= self->drain_deadline)
        {
          guint left = g_queue_get_length (&self->queue);

          g_warning ("sink '%s': stopping with %u events not published to NATS (the servers "
                     "did not accept them within timeout)", self->name, left);
          self->dropped += left;
          g_queue_clear_full (&self->queue, g_object_unref);
          g_atomic_int_set (&self->queue_length, 0);
          break;
        }
      message = g_object_ref (g_queue_peek_head (&self->queue));
      g_mutex_unlock (&self->lock);

      if (publish_once (self, message, &error))
        {
          if (failing)
            g_message ("sink '%s': publishing to NATS again", self->name);
          failing = FALSE;
          retry_ms = RETRY_FIRST_MS;
          g_mutex_lock (&self->lock);
          g_object_unref (g_queue_pop_head (&self->queue));
          g_atomic_int_add (&self->queue_length, -1);
          self->published++;
          g_cond_broadcast (&self->cond);
          continue;
        }

      /* Retried until stored (or until the drain deadline at stop). */
      if (!failing)
        g_warning ("%s; retrying", error->message);
      else
        g_debug ("%s; retrying in %u ms", error->message, retry_ms);
      failing = TRUE;
      g_mutex_lock (&self->lock);
      self->failures++;
      g_cond_wait_until (&self->cond, &self->lock,
                         g_get_monotonic_time () + retry_ms * G_TIME_SPAN_MILLISECOND);
      retry_ms = MIN (retry_ms * 2, RETRY_MAX_MS);
    }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* --- metrics ------------------------------------------------------------------ */

static void
sink_metrics (gpointer  component,
              GString  *out,
              guint     family)
{
  CdvizNatsSink *self = component;
  guint64 value = 0;

  g_mutex_lock (&self->lock);
  switch (family)
    {
    case CDVIZ_NATS_METRIC_CONNECTED: value = g_atomic_int_get (&self->conn.connected); break;
    case CDVIZ_NATS_METRIC_RECONNECTS: value = g_atomic_int_get (&self->conn.reconnects); break;
    case CDVIZ_NATS_METRIC_MESSAGES: value = self->published; break;
    case CDVIZ_NATS_METRIC_FAILURES: value = self->failures; break;
    case CDVIZ_NATS_METRIC_QUEUE: value = MAX (g_atomic_int_get (&self->queue_length), 0); break;
    default:
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);
  cdviz_nats_append_sample (out, family, "sink", self->name, value);
}

/* --- CdvizSink ------------------------------------------------------------------ */

static gboolean
nats_start_sink (CdvizSink      *sink,
                 CdvizPipeline  *pipeline,
                 GError        **error)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (sink);
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);
  g_autofree char *label = NULL;
  natsStatus s;

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "nats");
  if (cdviz_pipeline_is_checking (pipeline))
    return TRUE;
  g_return_val_if_fail (self->thread == NULL, FALSE);

  label = g_strdup_printf ("sink '%s'", self->name);
  self->nc = cdviz_nats_connect (self->server_list, &self->options, label,
                                 MIN (self->timeout, 5000),
                                 &self->conn, error);
  if (self->nc == NULL)
    return FALSE;
  if (self->mode == CDVIZ_NATS_MODE_JETSTREAM)
    {
      jsOptions jo;

      jsOptions_Init (&jo);
      jo.Wait = (int64_t) self->timeout;
      s = natsConnection_JetStream (&self->js, self->nc, &jo);
      if (s != NATS_OK)
        {
          cdviz_nats_set_error (error, s, 0, label);
          goto fail;
        }
      if (self->stream != NULL &&
          !cdviz_nats_ensure_stream (self->js, self->stream, self->subject,
                                     self->create_stream, (int) self->replicas, label, error))
        goto fail;
    }

  self->stopping = FALSE;
  self->thread = g_thread_new ("cdviz-nats-pub", publisher_thread, self);
  cdviz_nats_register_metrics (cdviz_pipeline_get_http_server (pipeline), G_OBJECT (self),
                               sink_metrics);
  g_debug ("sink '%s': publishing to “%s” (%s) on %s", self->name, self->subject,
           self->mode == CDVIZ_NATS_MODE_JETSTREAM ? "jetstream" : "core", self->servers);
  return TRUE;

fail:
  g_clear_pointer (&self->js, jsCtx_Destroy);
  natsConnection_Close (self->nc);
  g_clear_pointer (&self->nc, natsConnection_Destroy);
  return FALSE;
}

/* The pipeline thread: queue, or wait for room. */
static gboolean
nats_send_message (CdvizSink     *sink,
                   CdvizMessage  *message,
                   GError       **error)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (sink);

  g_mutex_lock (&self->lock);
  if (self->thread == NULL || self->stopping)
    {
      g_mutex_unlock (&self->lock);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("sink '%s' is not running"),
                   self->name);
      return FALSE;
    }
  while (g_queue_get_length (&self->queue) >= self->queue_capacity && !self->stopping)
    g_cond_wait (&self->cond, &self->lock);
  g_queue_push_tail (&self->queue, g_object_ref (message));
  g_atomic_int_inc (&self->queue_length);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Publishes what is queued (for at most `timeout`), then disconnects. */
static void
nats_stop_sink (CdvizSink *sink)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (sink);

  if (self->thread != NULL)
    {
      g_mutex_lock (&self->lock);
      self->stopping = TRUE;
      self->drain_deadline = g_get_monotonic_time () + self->timeout * G_TIME_SPAN_MILLISECOND;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      g_thread_join (g_steal_pointer (&self->thread));
    }
  if (self->nc != NULL)
    {
      natsConnection_FlushTimeout (self->nc, (int64_t) MIN (self->timeout, 5000));
      g_clear_pointer (&self->js, jsCtx_Destroy);
      natsConnection_Close (self->nc);
      g_clear_pointer (&self->nc, natsConnection_Destroy);
    }
  g_debug ("sink '%s': %" G_GUINT64_FORMAT " events published, %" G_GUINT64_FORMAT
           " failed attempts, %" G_GUINT64_FORMAT " dropped at stop", self->name ?: "nats",
           self->published, self->failures, self->dropped);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = nats_start_sink;
  iface->send_message = nats_send_message;
  iface->stop_sink = nats_stop_sink;
}

/* --- GInitable ------------------------------------------------------------------ */

static gboolean
nats_sink_init_finish (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (initable);
  g_autoptr(GError) local = NULL;

  CdvizNatsNativeKeys native = {
    &self->servers, (int *) &self->mode, &self->stream, NULL
  };

  if (!cdviz_nats_options_resolve (&self->options, &native, error))
    return FALSE;
  self->server_list = cdviz_nats_split_servers (self->servers, error);
  if (self->server_list == NULL)
    return FALSE;
  if (self->subject == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “subject” is required (the NATS subject events are "
                             "published to, e.g. \"cdevents.out\")"));
      return FALSE;
    }
  if (!cdviz_nats_subject_is_valid (self->subject, FALSE))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “subject”: “%s” is not a NATS subject one can publish to "
                     "(dot-separated tokens, no spaces, no wildcards)"), self->subject);
      return FALSE;
    }
  if (self->stream != NULL && self->mode != CDVIZ_NATS_MODE_JETSTREAM)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “stream” needs mode = \"jetstream\""));
      return FALSE;
    }
  if (self->create_stream && self->stream == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("create_stream = true needs key “stream” (the stream's name)"));
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
  iface->init = nats_sink_init_finish;
}

/* --- GObject ---------------------------------------------------------------------- */

static void
cdviz_nats_sink_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (object);

  switch (prop_id)
    {
    case PROP_SERVERS: g_value_set_string (value, self->servers); break;
    case PROP_SUBJECT: g_value_set_string (value, self->subject); break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_TIMEOUT: g_value_set_uint64 (value, self->timeout); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_STREAM: g_value_set_string (value, self->stream); break;
    case PROP_CREATE_STREAM: g_value_set_boolean (value, self->create_stream); break;
    case PROP_REPLICAS: g_value_set_uint (value, self->replicas); break;
    case PROP_QUEUE_CAPACITY: g_value_set_uint (value, self->queue_capacity); break;
    default:
      if (!cdviz_nats_options_get_property (&self->options, PROP_FIRST_OPTION, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_nats_sink_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (object);

  switch (prop_id)
    {
    case PROP_SERVERS: g_free (self->servers); self->servers = g_value_dup_string (value); break;
    case PROP_SUBJECT: g_free (self->subject); self->subject = g_value_dup_string (value); break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_TIMEOUT: self->timeout = g_value_get_uint64 (value); break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_STREAM: g_free (self->stream); self->stream = g_value_dup_string (value); break;
    case PROP_CREATE_STREAM: self->create_stream = g_value_get_boolean (value); break;
    case PROP_REPLICAS: self->replicas = g_value_get_uint (value); break;
    case PROP_QUEUE_CAPACITY: self->queue_capacity = g_value_get_uint (value); break;
    default:
      if (!cdviz_nats_options_set_property (&self->options, PROP_FIRST_OPTION, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_nats_sink_finalize (GObject *object)
{
  CdvizNatsSink *self = CDVIZ_NATS_SINK (object);

  if (self->thread != NULL)
    g_warning ("sink '%s' finalized while running; stop the pipeline first", self->name);
  g_free (self->servers);
  g_free (self->subject);
  g_clear_pointer (&self->headers, json_node_unref);
  g_free (self->stream);
  cdviz_nats_options_clear (&self->options);
  g_strfreev (self->server_list);
  g_clear_pointer (&self->outgoing, cdviz_outgoing_headers_free);
  g_free (self->name);
  g_queue_clear_full (&self->queue, g_object_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (cdviz_nats_sink_parent_class)->finalize (object);
}

static void
cdviz_nats_sink_class_init (CdvizNatsSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_nats_sink_get_property;
  object_class->set_property = cdviz_nats_sink_set_property;
  object_class->finalize = cdviz_nats_sink_finalize;

  properties[PROP_SERVERS] =
    g_param_spec_string ("servers", NULL,
                         "NATS server URLs, comma-separated, e.g. "
                         "\"nats://n1:4222,nats://n2:4222\" (required, or `url`); the sink reconnects "
                         "to any of them for ever",
                         NULL, flags);
  properties[PROP_SUBJECT] =
    g_param_spec_string ("subject", NULL, "The subject events are published to (required)",
                         NULL, flags);
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", NULL,
                       "\"core\" (publish, no acknowledgement) or \"jetstream\" (wait for the "
                       "stream's acknowledgement, retry until stored; Nats-Msg-Id = the "
                       "CDEvent id, so a retry is stored once)",
                       CDVIZ_TYPE_NATS_MODE, CDVIZ_NATS_MODE_CORE, flags);
  properties[PROP_TIMEOUT] =
    cdviz_param_spec_duration ("timeout", NULL,
                               "How long a JetStream publication waits for its acknowledgement "
                               "before it is retried; also how long stopping waits for the "
                               "queue to drain",
                               1, G_MAXUINT32, 30000, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Headers set on every message (header name → rule): "
                        "{ type = \"static\", value, prefix, suffix }, "
                        "{ type = \"secret\", value or value_file, prefix, suffix }, "
                        "{ type = \"signature\", token, … } (HMAC-SHA256 of the body)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_STREAM] =
    g_param_spec_string ("stream", NULL,
                         "jetstream mode: the stream that stores subject, checked at start "
                         "(the pipeline does not start when it is missing, unless "
                         "create_stream); not in cdviz-collector's sink",
                         NULL, flags);
  properties[PROP_CREATE_STREAM] =
    g_param_spec_boolean ("create-stream", NULL,
                          "Create the stream (file storage, capturing subject) when it does "
                          "not exist (not in cdviz-collector's sink)",
                          FALSE, flags);
  properties[PROP_REPLICAS] =
    g_param_spec_uint ("replicas", NULL,
                       "Replicas of a stream this sink creates (3 on a 3-server cluster)",
                       1, 5, 1, flags);
  properties[PROP_QUEUE_CAPACITY] =
    g_param_spec_uint ("queue-capacity", NULL,
                       "Events accepted and not published yet; when full, the pipeline waits "
                       "(back-pressure)",
                       1, 1000000, 1024, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  cdviz_nats_options_install (object_class, PROP_FIRST_OPTION, FALSE);
}

static void
cdviz_nats_sink_init (CdvizNatsSink *self)
{
  self->timeout = 30000;
  self->replicas = 1;
  self->queue_capacity = 1024;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
}
