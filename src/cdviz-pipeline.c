/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline-private.h"
#include "cdviz-config-private.h"

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

typedef enum {
  ITEM_MESSAGE,
  ITEM_FLUSH,
  ITEM_STOP,
} ItemKind;

typedef struct {
  ItemKind kind;
  SourceEntry *source;
  CdvizMessage *message;
  GTask *task;                /* nullable */
  /* ITEM_FLUSH */
  GMutex *lock;
  GCond *cond;
  gboolean *done;
} WorkItem;

G_DEFINE_FINAL_TYPE (CdvizPipeline, cdviz_pipeline, G_TYPE_OBJECT)

/* Counters are written by one thread and read by the HTTP thread. */
#define COUNT(counter) ((void) g_atomic_pointer_add (&(counter), 1))
#define COUNTER(counter) ((guint64) (gsize) g_atomic_pointer_get (&(counter)))

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
  N_SIGNALS
};

static guint signals[N_SIGNALS];

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
  g_clear_pointer (&self->queue, g_async_queue_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_object (&self->http);
  g_clear_object (&self->registry);
  g_clear_object (&self->config);
  g_mutex_clear (&self->lifecycle_lock);

  G_OBJECT_CLASS (cdviz_pipeline_parent_class)->finalize (object);
}

static void
cdviz_pipeline_class_init (CdvizPipelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdviz_pipeline_dispose;
  object_class->finalize = cdviz_pipeline_finalize;

  /**
   * CdvizPipeline::message:
   * @self: the pipeline
   * @message: a message that was delivered to the sinks
   *
   * Emitted, for every message handed to the sinks, on the thread-default
   * main context of the thread that called [method@Pipeline.start]. It costs
   * nothing when no handler is connected.
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, CDVIZ_TYPE_MESSAGE);
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
  self->queue = g_async_queue_new ();
  self->capacity = 1024;
  g_mutex_init (&self->lifecycle_lock);
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
 * key.
 *
 * Returns: (transfer full) (nullable): a new pipeline, or %NULL on error
 */
CdvizPipeline *
cdviz_pipeline_new (CdvizConfig    *config,
                    CdvizRegistry  *registry,
                    GError        **error)
{
  g_autoptr(CdvizPipeline) self = NULL;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (config), NULL);
  g_return_val_if_fail (registry == NULL || CDVIZ_IS_REGISTRY (registry), NULL);

  self = g_object_new (CDVIZ_TYPE_PIPELINE, NULL);
  self->config = g_object_ref (config);
  self->registry = g_object_ref (registry ? registry : cdviz_registry_get_default ());

  if (!_cdviz_pipeline_build (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* --- the pipeline thread ------------------------------------------------ */

typedef struct {
  CdvizPipeline *pipeline;
  CdvizMessage *message;
} Emission;

static gboolean
emit_message (gpointer data)
{
  Emission *emission = data;

  g_signal_emit (emission->pipeline, signals[SIGNAL_MESSAGE], 0, emission->message);
  return G_SOURCE_REMOVE;
}

static void
emission_free (gpointer data)
{
  Emission *emission = data;

  g_object_unref (emission->pipeline);
  g_object_unref (emission->message);
  g_free (emission);
}

static void
deliver (CdvizPipeline *self,
         CdvizMessage  *message)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      g_autoptr(GError) error = NULL;

      if (cdviz_sink_send_message (entry->sink, message, &error))
        COUNT (entry->sent);
      else
        {
          COUNT (entry->failed);
          g_warning ("Sink %s failed to deliver event %s: %s", entry->name,
                     cdviz_message_get_id (message) ?: "(no id)",
                     error ? error->message : "unknown error");
        }
    }

  if (g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE], 0, TRUE))
    {
      Emission *emission = g_new0 (Emission, 1);
      GSource *source;

      emission->pipeline = g_object_ref (self);
      emission->message = g_object_ref (message);
      /* Always through a source: g_main_context_invoke() would call
       * emit_message() right here, on the pipeline thread, whenever the
       * owner context is the global default one and nobody iterates it at
       * this instant. */
      source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, emit_message, emission, emission_free);
      g_source_set_static_name (source, "[cdviz] pipeline message");
      g_source_attach (source, self->owner_context);
      g_source_unref (source);
    }
}

static void
process (CdvizPipeline *self,
         WorkItem      *item)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  GPtrArray *chain = item->source->chain;

  g_ptr_array_add (messages, g_object_ref (item->message));

  for (guint t = 0; t < chain->len && messages->len > 0; t++)
    {
      CdvizTransformer *transformer = g_ptr_array_index (chain, t);
      g_autoptr(GPtrArray) next = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint m = 0; m < messages->len; m++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GPtrArray) out = NULL;

          out = cdviz_transformer_transform (transformer, g_ptr_array_index (messages, m), &error);
          if (out == NULL)
            {
              COUNT (self->rejected);
              g_debug ("Source %s: transformer %s rejected event %s: %s",
                       item->source->name, G_OBJECT_TYPE_NAME (transformer),
                       cdviz_message_get_id (item->message) ?: "(no id)",
                       error ? error->message : "no reason given");
              if (item->task != NULL)
                g_task_return_new_error (item->task, CDVIZ_PIPELINE_ERROR,
                                         CDVIZ_PIPELINE_ERROR_REJECTED, "%s",
                                         error ? error->message : _("rejected by a transformer"));
              return;
            }
          for (guint k = 0; k < out->len; k++)
            g_ptr_array_add (next, g_object_ref (g_ptr_array_index (out, k)));
        }
      g_ptr_array_unref (messages);
      messages = g_steal_pointer (&next);
    }

  if (messages->len == 0)
    COUNT (self->filtered);
  for (guint m = 0; m < messages->len; m++)
    deliver (self, g_ptr_array_index (messages, m));
  COUNT (self->processed);

  if (item->task != NULL)
    g_task_return_boolean (item->task, TRUE);
}

static void
work_item_free (WorkItem *item)
{
  g_clear_object (&item->message);
  g_clear_object (&item->task);
  g_free (item);
}

static void
release_flusher (WorkItem *item)
{
  g_mutex_lock (item->lock);
  *item->done = TRUE;
  g_cond_signal (item->cond);
  g_mutex_unlock (item->lock);
}

/* After STOP nothing can be posted (pipeline_post() refuses under the queue
 * lock), so this finds nothing; it is the second line of defence that keeps
 * a flusher from waiting forever and a task from never completing. */
static void
drain_after_stop (CdvizPipeline *self)
{
  WorkItem *item;

  while ((item = g_async_queue_try_pop (self->queue)) != NULL)
    {
      switch (item->kind)
        {
        case ITEM_MESSAGE:
          g_atomic_int_add (&self->pending, -1);
          g_critical ("An event was queued behind the pipeline's stop marker");
          if (item->task != NULL)
            g_task_return_new_error (item->task, CDVIZ_PIPELINE_ERROR,
                                     CDVIZ_PIPELINE_ERROR_NOT_RUNNING,
                                     _("the pipeline is not running"));
          break;
        case ITEM_FLUSH:
          release_flusher (item);
          break;
        case ITEM_STOP:
          break;
        }
      work_item_free (item);
    }
}

/* The pipeline whose thread this is, to refuse calls that would wait for
 * themselves. */
static GPrivate pipeline_of_thread;

static gpointer
pipeline_thread (gpointer data)
{
  CdvizPipeline *self = data;

  g_private_set (&pipeline_of_thread, self);

  for (;;)
    {
      WorkItem *item = g_async_queue_pop (self->queue);

      switch (item->kind)
        {
        case ITEM_MESSAGE:
          /* Out of the queue: the slot is free before the publisher hears
           * back, so an immediate retry cannot be refused spuriously. */
          g_atomic_int_add (&self->pending, -1);
          process (self, item);
          break;
        case ITEM_FLUSH:
          release_flusher (item);
          break;
        case ITEM_STOP:
          work_item_free (item);
          drain_after_stop (self);
          return NULL;
        }
      work_item_free (item);
    }
}

/* The one door into the queue: enqueue, flush and stop all post through it.
 * Under the queue lock it checks that the pipeline accepts work and pushes;
 * posting ITEM_STOP closes the door in the same critical section, so no item
 * can ever land behind the stop marker. Takes @item; on failure frees it and
 * sets %CDVIZ_PIPELINE_ERROR_NOT_RUNNING or _FULL. */
static gboolean
pipeline_post (CdvizPipeline  *self,
               WorkItem       *item,
               GError        **error)
{
  g_async_queue_lock (self->queue);
  if (!g_atomic_int_get (&self->running))
    {
      g_async_queue_unlock (self->queue);
      work_item_free (item);
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING,
                           _("the pipeline is not running"));
      return FALSE;
    }
  if (item->kind == ITEM_MESSAGE)
    {
      if ((guint) g_atomic_int_get (&self->pending) >= self->capacity)
        {
          g_async_queue_unlock (self->queue);
          COUNT (self->refused);
          g_debug ("Pipeline queue full (%u): refusing an event from %s",
                   self->capacity, item->source->name);
          work_item_free (item);
          g_set_error (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL,
                       _("the pipeline queue is full (%u events)"), self->capacity);
          return FALSE;
        }
      g_atomic_int_add (&self->pending, 1);
      COUNT (self->accepted);
    }
  else if (item->kind == ITEM_STOP)
    g_atomic_int_set (&self->running, FALSE);
  g_async_queue_push_unlocked (self->queue, item);
  g_async_queue_unlock (self->queue);
  return TRUE;
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
                          COUNTER (self->accepted));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"refused_full\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->refused));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"rejected\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->rejected));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"filtered\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->filtered));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"processed\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->processed));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_length Events waiting in the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_length gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_length %d\n", g_atomic_int_get (&self->pending));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_capacity Bound of the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_capacity gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_capacity %u\n", self->capacity);
  g_string_append (out,
                   "# HELP cdviz_sink_messages_total Messages handed to each sink, by outcome.\n"
                   "# TYPE cdviz_sink_messages_total counter\n");
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);

      g_string_append_printf (out, "cdviz_sink_messages_total{sink=\"%s\",outcome=\"sent\"} %" G_GUINT64_FORMAT "\n",
                              entry->name, COUNTER (entry->sent));
      g_string_append_printf (out, "cdviz_sink_messages_total{sink=\"%s\",outcome=\"failed\"} %" G_GUINT64_FORMAT "\n",
                              entry->name, COUNTER (entry->failed));
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
      pipeline_post (self, item, NULL);
      g_thread_join (g_steal_pointer (&self->worker));
    }

  stop_sinks (self);
  if (self->http != NULL)
    cdviz_http_server_stop (self->http);
}

/* Refuses what a pipeline in @self->state cannot do. */
static gboolean
check_state_new (CdvizPipeline  *self,
                 GError        **error)
{
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

  ok = start_components (self, error);
  stop_sources (self);
  stop_sinks (self);
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

  if (start_components (self, error))
    {
      g_async_queue_lock (self->queue);
      g_atomic_int_set (&self->running, TRUE);
      g_async_queue_unlock (self->queue);
      self->worker = g_thread_new ("cdviz-pipeline", pipeline_thread, self);

      if (cdviz_http_server_start (self->http, error))
        {
          self->state = STATE_RUNNING;
          g_object_ref (self);
          cdviz_http_server_set_ready (self->http, TRUE);
          g_info ("Listening on %s://%s:%u",
                  cdviz_http_server_is_tls (self->http) ? "https" : "http",
                  cdviz_http_server_get_host (self->http),
                  cdviz_http_server_get_port (self->http));
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
  g_return_if_fail (g_private_get (&pipeline_of_thread) != self);

  locker = g_mutex_locker_new (&self->lifecycle_lock);
  if (self->state != STATE_RUNNING)
    return;

  stop_locked (self);
  self->state = STATE_STOPPED;
  g_clear_pointer (&locker, g_mutex_locker_free);
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

/* --- pushing ------------------------------------------------------------ */

static gboolean
enqueue (CdvizPipeline  *self,
         SourceEntry    *source,
         CdvizMessage   *message,
         GTask          *task,
         GError        **error)
{
  WorkItem *item = g_new0 (WorkItem, 1);

  item->kind = ITEM_MESSAGE;
  item->source = source;
  item->message = g_object_ref (message);
  item->task = task ? g_object_ref (task) : NULL;
  return pipeline_post (self, item, error);
}

/* O(1): sources push on every event. */
static SourceEntry *
find_source (CdvizPipeline *self,
             CdvizSource   *source)
{
  return g_hash_table_lookup (self->sources_by_object, source);
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
  entry = find_source (self, source);
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
 * cdviz_pipeline_push_async:
 * @self: a #CdvizPipeline
 * @source: the source @message comes from
 * @message: the message
 * @cancellable: (nullable): not used yet
 * @callback: (scope async) (closure user_data): called, on the caller's
 *   thread-default main context, once the message went through the
 *   transformers and reached every sink (or was rejected)
 * @user_data: data for @callback
 *
 * Hands @message over to the pipeline. This never blocks: when the queue is
 * full, @callback gets %CDVIZ_PIPELINE_ERROR_FULL at once.
 */
void
cdviz_pipeline_push_async (CdvizPipeline       *self,
                           CdvizSource         *source,
                           CdvizMessage        *message,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  SourceEntry *entry;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));
  g_return_if_fail (CDVIZ_IS_SOURCE (source));
  g_return_if_fail (CDVIZ_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdviz_pipeline_push_async);

  entry = find_source (self, source);
  if (entry == NULL)
    {
      g_task_return_new_error (task, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
                               _("this source is not part of the pipeline"));
      return;
    }
  if (!enqueue (self, entry, message, task, &error))
    g_task_return_error (task, g_steal_pointer (&error));
}

/**
 * cdviz_pipeline_push_finish:
 * @self: a #CdvizPipeline
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@Pipeline.push_async].
 *
 * Returns: %TRUE if the message was processed and delivered (or dropped by a
 *   filter); %FALSE with %CDVIZ_PIPELINE_ERROR_FULL, _REJECTED or
 *   _NOT_RUNNING
 */
gboolean
cdviz_pipeline_push_finish (CdvizPipeline  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * cdviz_pipeline_push:
 * @self: a #CdvizPipeline
 * @source_name: the name of a source in the configuration (`[sources.NAME]`)
 * @message: the message
 * @error: return location for a #GError
 *
 * Hands @message over to the pipeline as if @source_name had received it,
 * without waiting for it to be processed (see [method@Pipeline.flush]).
 * Callable from any thread.
 *
 * Returns: %TRUE if the message was accepted
 */
gboolean
cdviz_pipeline_push (CdvizPipeline  *self,
                     const char     *source_name,
                     CdvizMessage   *message,
                     GError        **error)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (source_name != NULL, FALSE);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), FALSE);

  entry = g_hash_table_lookup (self->sources_by_name, source_name);
  if (entry == NULL)
    {
      g_set_error (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
                   _("no enabled source named “%s”"), source_name);
      return FALSE;
    }
  return enqueue (self, entry, message, NULL, error);
}

/**
 * cdviz_pipeline_flush:
 * @self: a #CdvizPipeline
 *
 * Blocks until every message accepted before the call has been delivered to
 * the sinks. Does nothing when the pipeline is not running. Callable from
 * any thread but the pipeline thread: a sink or a transformer must not call
 * it (it would wait for itself).
 */
void
cdviz_pipeline_flush (CdvizPipeline *self)
{
  GMutex lock;
  GCond cond;
  gboolean done = FALSE;
  WorkItem *item;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));
  g_return_if_fail (g_private_get (&pipeline_of_thread) != self);

  g_mutex_init (&lock);
  g_cond_init (&cond);
  item = g_new0 (WorkItem, 1);
  item->kind = ITEM_FLUSH;
  item->lock = &lock;
  item->cond = &cond;
  item->done = &done;
  /* Refused when not running: then there is nothing to wait for. */
  if (pipeline_post (self, item, NULL))
    {
      g_mutex_lock (&lock);
      while (!done)
        g_cond_wait (&cond, &lock);
      g_mutex_unlock (&lock);
    }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
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
