/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline-private.h"
#include "cdviz-metrics.h"
#include "cdviz-config-private.h"
#include "cdviz-http-server-private.h"

/**
 * CdvizPipeline:
 *
 * Sources → each source's transformer chain → every enabled sink.
 *
 * A pipeline is built from a [class@Config]: every component is created
 * and configured by [ctor@Pipeline.new], so a configuration error is
 * reported before anything listens. [method@Pipeline.start] starts the sinks,
 * the sources, the HTTP server and the pipeline thread.
 *
 * Sources hand messages over with [method@Pipeline.push_async] (or
 * [method@Pipeline.push]) from any thread. The hand-over queue is bounded
 * (`[pipeline] queue_capacity`, default 1024): when it is full the push fails
 * with %CDVIZ_PIPELINE_ERROR_FULL and the refusal is counted; an accepted
 * message is never dropped. The pipeline thread takes messages in order, runs
 * the source's transformers and delivers every resulting message to every
 * sink, so order is kept per source, end to end. Transformers and sinks are
 * called on the pipeline thread only.
 *
 * [method@Pipeline.stop] stops the sources, processes everything already
 * accepted, stops the sinks (which close their streams) and the HTTP server.
 */

static void cdviz_pipeline_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizPipeline, cdviz_pipeline, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      cdviz_pipeline_initable_iface_init))

/**
 * cdviz_pipeline_error_quark:
 *
 * The error domain of [enum@PipelineError], also available as
 * %CDVIZ_PIPELINE_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-pipeline-error-quark, cdviz_pipeline_error)

enum {
  SIGNAL_MESSAGE,
  SIGNAL_REJECTED,
  SIGNAL_SINK_FAILED,
  SIGNAL_LAGGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_REGISTRY,
  PROP_RUNNING,
  PROP_PORT,
  /* in CounterId order */
  PROP_EVENTS_ACCEPTED,
  PROP_EVENTS_REFUSED,
  PROP_EVENTS_REJECTED,
  PROP_EVENTS_FILTERED,
  PROP_EVENTS_PROCESSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A running pipeline holds a reference to itself from start() to stop(), so
 * this runs on a running pipeline only through g_object_run_dispose(). It
 * never stops anything: the last reference can be dropped on the HTTP or the
 * pipeline thread (a GTask of push_async() holds one), and stopping joins
 * both. Like GStreamer's elements, it only says what the program must do. */
static void
cdviz_pipeline_dispose (GObject *object)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  if (self->state == STATE_RUNNING)
    g_critical ("Disposing of pipeline %p while it is running. Call "
                "cdviz_pipeline_stop() first; the pipeline and its threads are leaked.",
                (void *) self);

  G_OBJECT_CLASS (cdviz_pipeline_parent_class)->dispose (object);
}

static void
cdviz_pipeline_finalize (GObject *object)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  g_clear_pointer (&self->sources, g_ptr_array_unref);
  g_clear_pointer (&self->sources_by_name, g_hash_table_unref);
  g_clear_pointer (&self->sources_by_object, g_hash_table_unref);
  g_clear_pointer (&self->sinks_by_name, g_hash_table_unref);
  g_clear_pointer (&self->sinks_by_object, g_hash_table_unref);
  g_clear_pointer (&self->transformers, g_hash_table_unref);
  g_clear_pointer (&self->sinks, g_ptr_array_unref);
  g_queue_clear_full (&self->queue, (GDestroyNotify) _cdviz_work_item_free);
  g_clear_pointer (&self->room_waiters, g_ptr_array_unref);
  _cdviz_pipeline_empty_return_bins (self);
  g_clear_pointer (&self->return_bins, g_ptr_array_unref);
  g_mutex_clear (&self->queue_lock);
  g_cond_clear (&self->queue_cond);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  _cdviz_pipeline_clear_notices (self);
  g_clear_object (&self->http);
  g_clear_object (&self->state_store);
  g_clear_object (&self->registry);
  g_clear_object (&self->config);
  g_mutex_clear (&self->lifecycle_lock);
  g_mutex_clear (&self->notice_lock);

  G_OBJECT_CLASS (cdviz_pipeline_parent_class)->finalize (object);
}

static void
cdviz_pipeline_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      g_value_set_object (value, self->config);
      break;
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, cdviz_pipeline_is_running (self));
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->http && cdviz_http_server_is_running (self->http)
                               ? cdviz_http_server_get_port (self->http) : 0);
      break;
    case PROP_EVENTS_ACCEPTED:
    case PROP_EVENTS_REFUSED:
    case PROP_EVENTS_REJECTED:
    case PROP_EVENTS_FILTERED:
    case PROP_EVENTS_PROCESSED:
      g_value_set_uint64 (value, COUNTER (self->counters[prop_id - PROP_EVENTS_ACCEPTED]));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_pipeline_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      self->config = g_value_dup_object (value);
      break;
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
counter_pspec (const char *name,
               const char *blurb)
{
  return g_param_spec_uint64 (name, NULL, blurb, 0, G_MAXUINT64, 0,
                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                              G_PARAM_STATIC_STRINGS);
}

static void
cdviz_pipeline_class_init (CdvizPipelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdviz_pipeline_dispose;
  object_class->finalize = cdviz_pipeline_finalize;
  object_class->get_property = cdviz_pipeline_get_property;
  object_class->set_property = cdviz_pipeline_set_property;

  /**
   * CdvizPipeline:config:
   *
   * The configuration the pipeline is built from, by g_initable_init().
   */
  properties[PROP_CONFIG] =
    g_param_spec_object ("config", NULL, NULL, CDVIZ_TYPE_CONFIG,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizPipeline:registry:
   *
   * Where component types are looked up; %NULL at construction for the
   * default registry.
   */
  properties[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL, CDVIZ_TYPE_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizPipeline:running:
   *
   * Whether the pipeline accepts events; notified on start and stop.
   */
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizPipeline:port:
   *
   * The port the HTTP server listens on while the pipeline runs, else 0.
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, 65535, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizPipeline:events-accepted:
   *
   * Events accepted into the queue. The counters are notified on the
   * thread-default main context of the thread that started the pipeline,
   * at most once per main-loop iteration.
   */
  properties[PROP_EVENTS_ACCEPTED] = counter_pspec ("events-accepted", NULL);
  /**
   * CdvizPipeline:events-refused:
   *
   * Events refused because the queue was full.
   */
  properties[PROP_EVENTS_REFUSED] = counter_pspec ("events-refused", NULL);
  /**
   * CdvizPipeline:events-rejected:
   *
   * Events a transformer rejected.
   */
  properties[PROP_EVENTS_REJECTED] = counter_pspec ("events-rejected", NULL);
  /**
   * CdvizPipeline:events-filtered:
   *
   * Events the transformers dropped.
   */
  properties[PROP_EVENTS_FILTERED] = counter_pspec ("events-filtered", NULL);
  /**
   * CdvizPipeline:events-processed:
   *
   * Events that went through the transformers (delivered or dropped).
   */
  properties[PROP_EVENTS_PROCESSED] = counter_pspec ("events-processed", NULL);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdvizPipeline::message:
   * @self: the pipeline
   * @message: a message that was delivered to the sinks
   *
   * Emitted, for every message handed to the sinks, on the thread-default
   * main context of the thread that called [method@Pipeline.start]. It costs
   * nothing when no handler is connected. The notices waiting for that
   * context are bounded; see [signal@Pipeline::lagged].
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, CDVIZ_TYPE_MESSAGE);
  /**
   * CdvizPipeline::rejected:
   * @self: the pipeline
   * @source: the name of the source the event came from
   * @message: the rejected event
   * @error: the transformer's error (its own domain and code)
   *
   * Emitted when a transformer rejects an event, on the same context as
   * [signal@Pipeline::message].
   */
  signals[SIGNAL_REJECTED] =
    g_signal_new ("rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, CDVIZ_TYPE_MESSAGE, G_TYPE_ERROR);
  /**
   * CdvizPipeline::sink-failed:
   * @self: the pipeline
   * @sink: the name of the sink
   * @message: the message it failed to deliver
   * @error: (nullable): the sink's error
   *
   * Emitted when a sink fails to deliver a message, on the same context as
   * [signal@Pipeline::message].
   */
  signals[SIGNAL_SINK_FAILED] =
    g_signal_new ("sink-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, CDVIZ_TYPE_MESSAGE, G_TYPE_ERROR);
  /**
   * CdvizPipeline::lagged:
   * @self: the pipeline
   * @n_dropped: how many notices were dropped
   *
   * The notices for the owner's main context ([signal@Pipeline::message],
   * ::rejected, ::sink-failed) wait in a queue of at most 1024; when that
   * context is not iterated fast enough the oldest are dropped, counted in
   * `/metrics` (`cdviz_pipeline_notices_dropped_total`) and said by this
   * signal, emitted before the notices that follow the gap. Events are
   * never dropped: only what the signals say about them.
   */
  signals[SIGNAL_LAGGED] =
    g_signal_new ("lagged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
cdviz_pipeline_init (CdvizPipeline *self)
{
  self->sources = g_ptr_array_new_with_free_func (_cdviz_source_entry_free);
  self->sources_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->sources_by_object = g_hash_table_new (NULL, NULL);
  self->transformers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->sinks = g_ptr_array_new_with_free_func (_cdviz_sink_entry_free);
  self->sinks_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->sinks_by_object = g_hash_table_new (NULL, NULL);
  g_mutex_init (&self->queue_lock);
  g_cond_init (&self->queue_cond);
  g_queue_init (&self->queue);
  self->room_waiters = g_ptr_array_new_with_free_func (_cdviz_room_waiter_unref);
  self->return_bins = g_ptr_array_new_with_free_func (_cdviz_return_bin_unref);
  self->return_id = _cdviz_pipeline_new_return_id ();
  self->capacity = 1024;
  g_mutex_init (&self->lifecycle_lock);
  g_mutex_init (&self->notice_lock);
  g_queue_init (&self->notices);
}

static gboolean
cdviz_pipeline_initable_init (GInitable     *initable,
                              GCancellable  *cancellable,
                              GError       **error)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (initable);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lifecycle_lock);

  if (self->initialized)
    return TRUE;
  if (self->config == NULL)
    {
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_INITIALIZED,
                           _("a pipeline needs a configuration: set its “config” property"));
      return FALSE;
    }
  if (self->registry == NULL)
    self->registry = g_object_ref (cdviz_registry_get_default ());
  if (self->sources->len > 0 || self->sinks->len > 0 ||
      g_hash_table_size (self->transformers) > 0 || self->http != NULL)
    {
      /* A failed init() leaves parts behind: refuse to build on them. */
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_INITIALIZED,
                           _("the pipeline could not be built from its configuration"));
      return FALSE;
    }
  if (!_cdviz_pipeline_build (self, error))
    return FALSE;
  self->initialized = TRUE;
  return TRUE;
}

static void
cdviz_pipeline_initable_iface_init (GInitableIface *iface)
{
  iface->init = cdviz_pipeline_initable_init;
}

/**
 * cdviz_pipeline_new:
 * @config: the merged configuration
 * @registry: (nullable): where component types are looked up; %NULL for the
 *   default registry
 * @error: return location for a #GError
 *
 * Creates every enabled component of @config and checks the whole
 * configuration. Errors are %CDVIZ_CONFIG_ERROR and name the file, line and
 * key. The same as g_initable_new() with the [property@Pipeline:config] and
 * [property@Pipeline:registry] properties (in Python,
 * `Cdviz.Pipeline(config=c)` then `init(None)`).
 *
 * Returns: (transfer full) (nullable): a new pipeline, or %NULL on error
 */
CdvizPipeline *
cdviz_pipeline_new (CdvizConfig    *config,
                    CdvizRegistry  *registry,
                    GError        **error)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (config), NULL);
  g_return_val_if_fail (registry == NULL || CDVIZ_IS_REGISTRY (registry), NULL);

  return g_initable_new (CDVIZ_TYPE_PIPELINE, NULL, error,
                         "config", config, "registry", registry, NULL);
}

/* --- notices, on the owner's context ------------------------------------ */

static const guint notice_signals[] = {
  [NOTICE_MESSAGE] = SIGNAL_MESSAGE,
  [NOTICE_REJECTED] = SIGNAL_REJECTED,
  [NOTICE_SINK_FAILED] = SIGNAL_SINK_FAILED,
};

gboolean
_cdviz_pipeline_is_watched (CdvizPipeline *self,
                            NoticeKind     kind)
{
  if (kind == NOTICE_COUNTERS)
    {
      guint notify = g_signal_lookup ("notify", G_TYPE_OBJECT);

      /* Detail 0 matches only handlers connected without a detail. */
      if (g_signal_has_handler_pending (self, notify, 0, TRUE))
        return TRUE;
      for (guint i = 0; i < N_COUNTERS; i++)
        if (g_signal_has_handler_pending (self, notify,
                                          g_param_spec_get_name_quark (properties[PROP_EVENTS_ACCEPTED + i]),
                                          TRUE))
          return TRUE;
      return FALSE;
    }
  return g_signal_has_handler_pending (self, signals[notice_signals[kind]], 0, TRUE) ||
         (kind != NOTICE_MESSAGE &&
          g_signal_has_handler_pending (self, signals[SIGNAL_LAGGED], 0, TRUE));
}

void
_cdviz_pipeline_emit_notice (CdvizPipeline *self,
                             NoticeKind     kind,
                             const char    *name,
                             CdvizMessage  *message,
                             const GError  *error)
{
  if (kind == NOTICE_MESSAGE)
    g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
  else
    g_signal_emit (self, signals[notice_signals[kind]], 0, name, message, error);
}

void
_cdviz_pipeline_emit_lagged (CdvizPipeline *self,
                             guint          n_dropped)
{
  g_signal_emit (self, signals[SIGNAL_LAGGED], 0, n_dropped);
}

void
_cdviz_pipeline_notify_counters (CdvizPipeline *self)
{
  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < N_COUNTERS; i++)
    {
      guint64 now = COUNTER (self->counters[i]);

      if (now != self->notified[i])
        {
          self->notified[i] = now;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EVENTS_ACCEPTED + i]);
        }
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* --- metrics ------------------------------------------------------------ */

static void
pipeline_metrics (GString  *out,
                  gpointer  user_data)
{
  CdvizPipeline *self = user_data;

  g_string_append (out,
                   "# HELP cdviz_pipeline_events_total Events handed to the pipeline, by outcome.\n"
                   "# TYPE cdviz_pipeline_events_total counter\n");
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"accepted\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->counters[COUNTER_ACCEPTED]));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"refused_full\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->counters[COUNTER_REFUSED]));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"rejected\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->counters[COUNTER_REJECTED]));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"filtered\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->counters[COUNTER_FILTERED]));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"processed\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->counters[COUNTER_PROCESSED]));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_length Events waiting in the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_length gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_length %d\n", g_atomic_int_get (&self->pending));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_capacity Bound of the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_capacity gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_capacity %u\n", self->capacity);
  g_string_append (out,
                   "# HELP cdviz_pipeline_notices_dropped_total Signals (message, rejected, "
                   "sink-failed) dropped because the owner's main context lagged.\n"
                   "# TYPE cdviz_pipeline_notices_dropped_total counter\n");
  g_string_append_printf (out, "cdviz_pipeline_notices_dropped_total %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->notices_dropped));
  g_string_append (out,
                   "# HELP cdviz_sink_messages_total Messages handed to each sink, by outcome.\n"
                   "# TYPE cdviz_sink_messages_total counter\n");
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);

      cdviz_metrics_append_sample (out, "cdviz_sink_messages_total", COUNTER (entry->sent),
                                   "sink", entry->name, "outcome", "sent", NULL);
      cdviz_metrics_append_sample (out, "cdviz_sink_messages_total", COUNTER (entry->failed),
                                   "sink", entry->name, "outcome", "failed", NULL);
    }
}

/* --- life cycle --------------------------------------------------------- */

static gboolean
start_components (CdvizPipeline  *self,
                  GError        **error)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      g_autofree char *path = _cdviz_config_join ("sinks", entry->name);

      if (!cdviz_sink_start_sink (entry->sink, self, error))
        {
          g_prefix_error (error, "%s: ", path);
          _cdviz_config_prefix_error (self->config, path, error);
          return FALSE;
        }
    }
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);
      g_autofree char *path = _cdviz_config_join ("sources", entry->name);

      if (entry->source != NULL && !cdviz_source_start_source (entry->source, self, error))
        {
          g_prefix_error (error, "%s: ", path);
          _cdviz_config_prefix_error (self->config, path, error);
          return FALSE;
        }
    }
  return TRUE;
}

static void
stop_sources (CdvizPipeline *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);
      if (entry->source != NULL)
        cdviz_source_stop_source (entry->source);
    }
}

static void
stop_sinks (CdvizPipeline *self)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      cdviz_sink_stop_sink (entry->sink);
    }
}

/* Routes and metrics registered on the HTTP server cannot be taken back, and
 * a server listens once: after a dry run or a failed start, a fresh one. */
static void
rebuild_http (CdvizPipeline *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (&self->http);
  /* It was built from the same configuration once already. */
  if (!_cdviz_pipeline_build_http (self, &error))
    g_error ("Cannot rebuild the HTTP server: %s", error->message);
}

/* Stops what start() started, in order: sources (no new events), the
 * pipeline thread (everything accepted is processed), sinks, HTTP server. */
static void
stop_locked (CdvizPipeline *self)
{
  WorkItem *item;

  if (self->http != NULL)
    cdviz_http_server_set_ready (self->http, FALSE);
  stop_sources (self);

  if (self->worker != NULL)
    {
      /* Flips running and posts STOP in one critical section: what was
       * accepted before is processed, nothing is accepted after. */
      item = g_new0 (WorkItem, 1);
      item->kind = ITEM_STOP;
      _cdviz_pipeline_post (self, item, NULL);
      g_thread_join (g_steal_pointer (&self->worker));
    }
  _cdviz_pipeline_detach_wakers (self);
  /* What went back to threads that did not post again is freed here. */
  _cdviz_pipeline_empty_return_bins (self);

  stop_sinks (self);
  if (self->http != NULL)
    cdviz_http_server_stop (self->http);
}

/* Refuses what a pipeline in @self->state cannot do. */
static gboolean
check_state_new (CdvizPipeline  *self,
                 GError        **error)
{
  if (!self->initialized)
    {
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_INITIALIZED,
                           _("the pipeline was not built from a configuration "
                             "(g_initable_init() failed or was not called)"));
      return FALSE;
    }
  if (self->state == STATE_NEW)
    return TRUE;
  if (self->state == STATE_RUNNING)
    g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_START,
                         _("the pipeline is running"));
  else
    g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_START,
                         _("the pipeline was stopped, and a pipeline runs once: "
                           "build a new one from the same configuration"));
  return FALSE;
}

/**
 * cdviz_pipeline_check:
 * @self: a #CdvizPipeline that was never started
 * @error: return location for a #GError
 *
 * Starts and stops every sink and source without listening, which finds
 * conflicts only visible then (two components claiming the same route).
 * Used by `cdviz-pipeline config --check`. The pipeline can be started
 * afterwards.
 *
 * Returns: %TRUE if the pipeline could start; %FALSE with
 *   %CDVIZ_PIPELINE_ERROR_START if it is running or was stopped, or the
 *   component's error
 */
gboolean
cdviz_pipeline_check (CdvizPipeline  *self,
                      GError        **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gboolean ok;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);

  locker = g_mutex_locker_new (&self->lifecycle_lock);
  if (!check_state_new (self, error))
    return FALSE;

  g_atomic_int_set (&self->checking, TRUE);
  ok = start_components (self, error) &&
       (self->http == NULL || _cdviz_http_server_check_routes (self->http, error));
  stop_sources (self);
  stop_sinks (self);
  g_atomic_int_set (&self->checking, FALSE);
  rebuild_http (self);
  return ok;
}

/**
 * cdviz_pipeline_start:
 * @self: a #CdvizPipeline
 * @error: return location for a #GError
 *
 * Starts the sinks, the sources, the pipeline thread and the HTTP server.
 * The [signal@Pipeline::message] signal is emitted on the calling thread's
 * thread-default main context.
 *
 * A pipeline runs once: after [method@Pipeline.stop], start() fails with
 * %CDVIZ_PIPELINE_ERROR_START; build a new pipeline from the same
 * configuration instead. A start that failed (a port in use) left nothing
 * running and can be tried again. Starting a running pipeline does nothing.
 *
 * From start to stop the pipeline holds a reference to itself: dropping the
 * last reference of the program does not stop it (call stop()).
 *
 * Returns: %TRUE if the pipeline runs
 */
gboolean
cdviz_pipeline_start (CdvizPipeline  *self,
                      GError        **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new (&self->lifecycle_lock);
  if (self->state == STATE_RUNNING)
    return TRUE;
  if (!check_state_new (self, error))
    return FALSE;

  g_clear_pointer (&self->owner_context, g_main_context_unref);
  self->owner_context = g_main_context_ref_thread_default ();
  cdviz_http_server_add_metrics_func (self->http, pipeline_metrics, self, NULL);

  /* GLib 2.74 can deadlock when two threads register related types for the
   * first time at once (one inside g_once_init_enter() for a type, the
   * other holding the type lock while it needs that type): components
   * start threads that create sockets and libsoup sessions while this
   * thread starts the HTTP server. Register those types here, first. */
  g_type_ensure (G_TYPE_SOCKET_ADDRESS);
  g_type_ensure (G_TYPE_INET_SOCKET_ADDRESS);
  g_type_ensure (G_TYPE_INET_ADDRESS);
  g_type_ensure (G_TYPE_SOCKET);
  g_type_ensure (G_TYPE_SOCKET_CONNECTION);
  g_type_ensure (G_TYPE_TCP_CONNECTION);
  g_type_ensure (SOUP_TYPE_SESSION);
  g_type_ensure (SOUP_TYPE_MESSAGE);
  g_type_ensure (SOUP_TYPE_SERVER);

  if (start_components (self, error))
    {
      _cdviz_pipeline_set_running (self, TRUE);
      _cdviz_pipeline_attach_wakers (self, self->http);
      self->worker = g_thread_new ("cdviz-pipeline", _cdviz_pipeline_thread, self);

      if (cdviz_http_server_start (self->http, error))
        {
          self->state = STATE_RUNNING;
          g_object_ref (self);
          cdviz_http_server_set_ready (self->http, TRUE);
          g_info ("Listening on %s://%s:%u",
                  cdviz_http_server_is_tls (self->http) ? "https" : "http",
                  cdviz_http_server_get_host (self->http),
                  cdviz_http_server_get_port (self->http));
          g_clear_pointer (&locker, g_mutex_locker_free);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
          return TRUE;
        }
    }

  /* Nothing is left running, and the pipeline is NEW again. */
  stop_locked (self);
  rebuild_http (self);
  return FALSE;
}

/**
 * cdviz_pipeline_stop:
 * @self: a #CdvizPipeline
 *
 * Stops the sources, processes every message already accepted, stops the
 * sinks and the HTTP server, then drops the reference the pipeline held on
 * itself since [method@Pipeline.start]. Safe to call more than once, and on
 * a pipeline that was never started.
 *
 * Call it from the thread that started the pipeline (or any thread but the
 * pipeline and HTTP threads: a sink, a transformer or an HTTP handler would
 * wait for itself).
 */
void
cdviz_pipeline_stop (CdvizPipeline *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));
  g_return_if_fail (!_cdviz_pipeline_is_its_thread (self));

  locker = g_mutex_locker_new (&self->lifecycle_lock);
  if (self->state != STATE_RUNNING)
    return;

  stop_locked (self);
  self->state = STATE_STOPPED;
  g_clear_pointer (&locker, g_mutex_locker_free);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  g_object_unref (self);
}

/**
 * cdviz_pipeline_is_running:
 * @self: a #CdvizPipeline
 *
 * Tells whether the pipeline was started and not stopped.
 *
 * Returns: whether the pipeline accepts messages
 */
gboolean
cdviz_pipeline_is_running (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  return g_atomic_int_get (&self->running);
}

/**
 * cdviz_pipeline_is_checking:
 * @self: a #CdvizPipeline
 *
 * Tells whether [method@Pipeline.check] is starting and stopping the
 * components (`config --check`). A component's `start` can then check
 * its configuration without reaching a remote service: a sink for a
 * database does not connect. Callable from any thread.
 *
 * Returns: %TRUE during [method@Pipeline.check]
 */
gboolean
cdviz_pipeline_is_checking (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  return g_atomic_int_get (&self->checking);
}

/**
 * cdviz_pipeline_get_source_name:
 * @self: a #CdvizPipeline
 * @source: a source of @self
 *
 * Gets the name under which @source was configured.
 *
 * Returns: (nullable): the name of @source in the configuration
 */
const char *
cdviz_pipeline_get_source_name (CdvizPipeline *self,
                                CdvizSource   *source)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  entry = g_hash_table_lookup (self->sources_by_object, source);
  return entry ? entry->name : NULL;
}

/**
 * cdviz_pipeline_get_sink_name:
 * @self: a #CdvizPipeline
 * @sink: a sink of @self
 *
 * Gets the name under which @sink was configured.
 *
 * Returns: (nullable): the name of @sink in the configuration
 */
const char *
cdviz_pipeline_get_sink_name (CdvizPipeline *self,
                              CdvizSink     *sink)
{
  SinkEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  entry = g_hash_table_lookup (self->sinks_by_object, sink);
  return entry ? entry->name : NULL;
}

/**
 * cdviz_pipeline_get_sink:
 * @self: a #CdvizPipeline
 * @name: a sink name (`[sinks.NAME]`)
 *
 * Looks up an enabled sink by its name in the configuration.
 *
 * Returns: (transfer none) (nullable): the enabled sink called @name
 */
CdvizSink *
cdviz_pipeline_get_sink (CdvizPipeline *self,
                         const char    *name)
{
  SinkEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  entry = g_hash_table_lookup (self->sinks_by_name, name);
  return entry ? entry->sink : NULL;
}

/**
 * cdviz_pipeline_get_source:
 * @self: a #CdvizPipeline
 * @name: a source name (`[sources.NAME]`)
 *
 * Looks up an enabled source by its name in the configuration.
 *
 * Returns: (transfer none) (nullable): the enabled source called @name
 */
CdvizSource *
cdviz_pipeline_get_source (CdvizPipeline *self,
                           const char    *name)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  entry = g_hash_table_lookup (self->sources_by_name, name);
  return entry ? entry->source : NULL;
}

/**
 * cdviz_pipeline_get_http_server:
 * @self: a #CdvizPipeline
 *
 * Gets the HTTP server of the pipeline. With `port = 0`, its port is known
 * once the pipeline started.
 *
 * Returns: (transfer none): the HTTP server (`[http]`)
 */
CdvizHttpServer *
cdviz_pipeline_get_http_server (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  return self->http;
}

/**
 * cdviz_pipeline_get_state:
 * @self: a #CdvizPipeline
 *
 * Gets the state store (`[state]`) where polling sources remember what
 * they read. Known once the pipeline was built from its configuration.
 *
 * Returns: (transfer none) (nullable): the state store
 */
CdvizState *
cdviz_pipeline_get_state (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  return self->state_store;
}

/**
 * cdviz_pipeline_get_config:
 * @self: a #CdvizPipeline
 *
 * Gets the configuration the pipeline was built from.
 *
 * Returns: (transfer none): the configuration
 */
CdvizConfig *
cdviz_pipeline_get_config (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  return self->config;
}
