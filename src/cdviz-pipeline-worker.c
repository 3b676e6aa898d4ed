/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline-private.h"
#include "cdviz-cdevent-private.h"
#include "cdviz-http-server-private.h"
#include "cdviz-message-private.h"

/* The pipeline thread and its two doors: _cdviz_pipeline_post(), the one way
 * into the work queue (from any thread: push, push_async, flush, stop; the
 * HTTP thread's events wake the pipeline thread once per main-loop
 * iteration, see "waking"), and
 * notify_owner(), the one way out to the thread that started the pipeline
 * (its signals and property notifications). Transformers and sinks are
 * called here, and only here. */

/* --- to the owner's main context ---------------------------------------- */

/* What the pipeline thread tells the owner's main context, through one
 * bounded queue drained by one coalescing source. When the owner does not
 * iterate its context fast enough, the oldest notices are dropped (as a
 * leaky-downstream queue does), counted, and said with ::lagged. */
struct _Notice {
  NoticeKind kind;
  char *name;                   /* (owned) (nullable): source or sink */
  CdvizMessage *message;        /* (owned) (nullable) */
  GError *error;                /* (owned) (nullable) */
};

static void
notice_free (Notice *notice)
{
  g_free (notice->name);
  g_clear_object (&notice->message);
  g_clear_error (&notice->error);
  g_free (notice);
}

void
_cdviz_pipeline_clear_notices (CdvizPipeline *self)
{
  g_mutex_lock (&self->notice_lock);
  g_queue_clear_full (&self->notices, (GDestroyNotify) notice_free);
  g_mutex_unlock (&self->notice_lock);
}

static gboolean
dispatch_notices (gpointer data)
{
  CdvizPipeline *self = data;
  GQueue notices = G_QUEUE_INIT;
  guint lagged;
  Notice *notice;

  g_mutex_lock (&self->notice_lock);
  notices = self->notices;
  g_queue_init (&self->notices);
  lagged = self->lagged;
  self->lagged = 0;
  self->notice_scheduled = FALSE;
  g_mutex_unlock (&self->notice_lock);

  if (lagged > 0)
    _cdviz_pipeline_emit_lagged (self, lagged);
  while ((notice = g_queue_pop_head (&notices)) != NULL)
    {
      _cdviz_pipeline_emit_notice (self, notice->kind, notice->name, notice->message,
                                   notice->error);
      notice_free (notice);
    }
  _cdviz_pipeline_notify_counters (self);
  return G_SOURCE_REMOVE;
}

/* Queues a notice for the owner's context and makes sure one source will
 * drain the queue. NOTICE_COUNTERS queues nothing: the source notifies the
 * counter properties that changed. Free when nobody listens. */
static void
notify_owner (CdvizPipeline *self,
              NoticeKind     kind,
              const char    *name,
              CdvizMessage  *message,
              const GError  *error)
{
  gboolean schedule;

  if (!_cdviz_pipeline_is_watched (self, kind))
    return;

  g_mutex_lock (&self->notice_lock);
  if (kind != NOTICE_COUNTERS)
    {
      Notice *notice = g_new0 (Notice, 1);

      notice->kind = kind;
      notice->name = g_strdup (name);
      notice->message = message ? g_object_ref (message) : NULL;
      notice->error = error ? g_error_copy (error) : NULL;
      if (self->notices.length >= CDVIZ_PIPELINE_NOTICE_MAX)
        {
          notice_free (g_queue_pop_head (&self->notices));
          self->lagged++;
          COUNT (self->notices_dropped);
        }
      g_queue_push_tail (&self->notices, notice);
    }
  schedule = !self->notice_scheduled;
  self->notice_scheduled = TRUE;
  g_mutex_unlock (&self->notice_lock);

  if (schedule)
    {
      /* Always through a source: g_main_context_invoke() would dispatch
       * right here, on the pipeline thread, whenever the owner context is
       * the global default one and nobody iterates it at this instant. */
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, dispatch_notices, g_object_ref (self), g_object_unref);
      g_source_set_static_name (source, "[cdviz] pipeline notices");
      g_source_attach (source, self->owner_context);
      g_source_unref (source);
    }
}

/* --- the pipeline thread ------------------------------------------------ */

/* @message through the transformers of @chain, in order: the messages
 * that come out, or %NULL when one rejected it (*@rejecting set to it). */
static GPtrArray *
run_chain (GPtrArray          *chain,
           CdvizMessage       *message,
           CdvizTransformer  **rejecting,
           GError            **error)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (messages, g_object_ref (message));
  for (guint t = 0; chain != NULL && t < chain->len && messages->len > 0; t++)
    {
      CdvizTransformer *transformer = g_ptr_array_index (chain, t);
      g_autoptr(GPtrArray) next = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint m = 0; m < messages->len; m++)
        {
          g_autoptr(GPtrArray) out = NULL;

          out = cdviz_transformer_transform (transformer, g_ptr_array_index (messages, m), error);
          if (out == NULL)
            {
              *rejecting = transformer;
              return NULL;
            }
          for (guint k = 0; k < out->len; k++)
            g_ptr_array_add (next, g_object_ref (g_ptr_array_index (out, k)));
        }
      g_ptr_array_unref (messages);
      messages = g_steal_pointer (&next);
    }
  return g_steal_pointer (&messages);
}

/* @message to one sink, through the sink's own transformers (`transformer_refs`):
 * as cdviz-collector's sinks, they see the event as the body, its headers,
 * and empty metadata; what comes out is sent as it is. */
static gboolean
send_to_sink (SinkEntry     *entry,
              CdvizMessage  *message,
              GError       **error)
{
  g_autoptr(CdvizMessage) event = NULL;
  g_autoptr(GPtrArray) outputs = NULL;
  g_autoptr(JsonNode) metadata = NULL;
  g_autoptr(JsonObject) empty = NULL;
  CdvizTransformer *rejecting = NULL;

  if (entry->chain == NULL || entry->chain->len == 0)
    return cdviz_sink_send_message (entry->sink, message, error);

  /* json_node_init_object () takes a reference of its own */
  empty = json_object_new ();
  metadata = json_node_init_object (json_node_alloc (), empty);
  event = cdviz_message_new_raw (cdviz_message_get_body (message), metadata,
                                 cdviz_message_get_headers (message));
  outputs = run_chain (entry->chain, event, &rejecting, error);
  if (outputs == NULL)
    {
      g_prefix_error (error, _("transformer %s: "), G_OBJECT_TYPE_NAME (rejecting));
      return FALSE;
    }
  for (guint m = 0; m < outputs->len; m++)
    if (!cdviz_sink_send_message (entry->sink, g_ptr_array_index (outputs, m), error))
      return FALSE;
  return TRUE;
}

/* To every sink that takes @source's events (`source_refs`). */
static void
deliver (CdvizPipeline *self,
         SourceEntry   *source,
         CdvizMessage  *message)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      g_autoptr(GError) error = NULL;

      if (entry->sources != NULL && !g_hash_table_contains (entry->sources, source))
        continue;
      if (send_to_sink (entry, message, &error))
        COUNT (entry->sent);
      else
        {
          COUNT (entry->failed);
          g_warning ("Sink %s failed to deliver event %s: %s", entry->name,
                     cdviz_message_get_id (message) ?: "(no id)",
                     error ? error->message : "unknown error");
          notify_owner (self, NOTICE_SINK_FAILED, entry->name, message, error);
        }
    }
  notify_owner (self, NOTICE_MESSAGE, NULL, message, NULL);
}

/* A push_async() answered by the pipeline thread: the tasks of a batch are
 * returned together, by one source per caller's context, instead of one
 * source (and one wake-up of that context) per task. */
typedef struct {
  GTask *task;                  /* (owned) */
  GError *error;                /* (owned) (nullable): NULL = processed */
} Completion;

/* Tasks returned by one source at most (a bound on the answer's delay). */
#define COMPLETIONS_MAX 64

static void
completion_clear (Completion *completion)
{
  g_clear_object (&completion->task);
  g_clear_error (&completion->error);
}

static void
complete_later (GArray *done,
                GTask  *task,
                GError *error)
{
  Completion completion = { g_object_ref (task), error };

  g_array_append_val (done, completion);
}

/* On the callers' context: inside a source of the task's context, in a
 * later iteration than the one that created it, GTask calls back at once. */
static gboolean
return_tasks (gpointer data)
{
  GArray *done = data;

  for (guint i = 0; i < done->len; i++)
    {
      Completion *completion = &g_array_index (done, Completion, i);

      if (completion->error != NULL)
        g_task_return_error (completion->task, g_steal_pointer (&completion->error));
      else
        g_task_return_boolean (completion->task, TRUE);
    }
  g_array_set_size (done, 0);
  return G_SOURCE_REMOVE;
}

/* Hands the completed tasks to their contexts: one source per context in
 * the batch (one per HTTP thread that is waiting for answers), the tasks
 * of each in their order. */
static void
complete_tasks (GArray *done)
{
  for (guint start = 0; start < done->len; start++)
    {
      GMainContext *context;
      g_autoptr(GArray) run = NULL;
      GSource *source;

      /* Taken by an earlier context's run. */
      if (g_array_index (done, Completion, start).task == NULL)
        continue;
      context = g_task_get_context (g_array_index (done, Completion, start).task);
      run = g_array_new (FALSE, FALSE, sizeof (Completion));
      g_array_set_clear_func (run, (GDestroyNotify) completion_clear);
      for (guint i = start; i < done->len; i++)
        {
          Completion *completion = &g_array_index (done, Completion, i);

          if (completion->task != NULL && g_task_get_context (completion->task) == context)
            {
              g_array_append_val (run, *completion);
              completion->task = NULL;
              completion->error = NULL;
            }
        }

      source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, return_tasks, g_steal_pointer (&run),
                             (GDestroyNotify) g_array_unref);
      g_source_set_static_name (source, "[cdviz] pipeline answers");
      g_source_attach (source, context);
      g_source_unref (source);
    }
  /* Moved into the runs: not cleared here. */
  g_array_set_clear_func (done, NULL);
  g_array_set_size (done, 0);
  g_array_set_clear_func (done, (GDestroyNotify) completion_clear);
}

/* Returns (transfer full) (nullable) the messages the chain made, for
 * return_messages(). */
static GPtrArray *
process (CdvizPipeline *self,
         WorkItem      *item,
         GArray        *done)
{
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) rejection = NULL;
  CdvizTransformer *transformer = NULL;

  messages = run_chain (item->source->chain, item->message, &transformer, &rejection);
  if (messages == NULL)
    {
      COUNT (self->counters[COUNTER_REJECTED]);
      g_debug ("Source %s: transformer %s rejected event %s: %s",
               item->source->name, G_OBJECT_TYPE_NAME (transformer),
               cdviz_message_get_id (item->message) ?: "(no id)",
               rejection ? rejection->message : "no reason given");
      notify_owner (self, NOTICE_REJECTED, item->source->name, item->message, rejection);
      if (item->task != NULL)
        complete_later (done, item->task,
                        g_error_new (CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_REJECTED, "%s",
                                     rejection ? rejection->message : _("rejected by a transformer")));
      return NULL;
    }

  /* Any JSON into a source: a raw message becomes CDEvents only here, after
   * the source's transformers, as in cdviz-collector. */
  if (cdviz_message_is_raw (item->message))
    {
      g_autoptr(GError) error = NULL;

      /* As cdviz-collector, every source has a default context.source. */
      if (item->source->default_source == NULL && self->http != NULL)
        item->source->default_source =
          cdviz_http_server_dup_default_source (self->http, item->source->name);
      if (!_cdviz_cdevent_normalize_messages (messages, item->message,
                                              item->source->default_source, &error))
        {
          COUNT (self->counters[COUNTER_REJECTED]);
          g_debug ("Source %s: not a CDEvent after the transformers: %s",
                   item->source->name, error->message);
          notify_owner (self, NOTICE_REJECTED, item->source->name, item->message, error);
          if (item->task != NULL)
            complete_later (done, item->task,
                            g_error_new (CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_REJECTED, "%s",
                                         error->message));
          return g_steal_pointer (&messages);
        }
    }

  if (messages->len == 0)
    COUNT (self->counters[COUNTER_FILTERED]);
  for (guint m = 0; m < messages->len; m++)
    deliver (self, item->source, g_ptr_array_index (messages, m));
  COUNT (self->counters[COUNTER_PROCESSED]);
  notify_owner (self, NOTICE_COUNTERS, NULL, NULL, NULL);

  if (item->task != NULL)
    complete_later (done, item->task, NULL);
  return g_steal_pointer (&messages);
}

/* --- messages go back to the thread that made them ----------------------
 *
 * A message's tree (json-glib: a node per value, a hash table and a list
 * per object) is allocated on the thread that parsed it, a source's or an
 * HTTP thread. Freed on the pipeline thread, every one of those blocks
 * crossed threads: glibc's arena of the parsing thread was locked for each
 * free and each allocation, and GSlice's magazines were emptied on one side
 * and filled on the other (the allocator held 41 % of the samples of stream
 * ingest). So the pipeline thread hands what it is done with back to the
 * thread that posted it, which frees it when it posts again (at least
 * RETURN_DRAIN_AT at a time). A bin holds at most RETURN_MAX objects: past
 * that, or once its thread exited, the pipeline thread frees them itself;
 * the pipeline's stop frees what is left in the bins of its items. */

#define RETURN_DRAIN_AT 64
#define RETURN_MAX 256
/* Bodies (their compact text, a fraction of their trees) a bin holds at
 * most: large events are freed by the pipeline thread, as before. */
#define RETURN_MAX_BYTES (256 * 1024)

struct _ReturnBin
{
  gint ref_count;
  GMutex lock;
  GPtrArray *objects;   /* under lock */
  int count;            /* atomic: objects->len */
  gsize bytes;          /* under lock: the objects' body sizes */
  gboolean gone;        /* under lock: its thread exited */
  guint last_pipeline;  /* its thread's: the return id of the pipeline it
                           last posted to (known to be in its return_bins) */
};

/* Frees what the bin holds, on the calling thread, outside its lock. */
static void
return_bin_empty (ReturnBin *bin)
{
  g_autoptr(GPtrArray) objects = NULL;   /* frees its elements */

  g_mutex_lock (&bin->lock);
  objects = g_steal_pointer (&bin->objects);
  bin->bytes = 0;
  g_atomic_int_set (&bin->count, 0);
  g_mutex_unlock (&bin->lock);
}

void
_cdviz_return_bin_unref (gpointer data)
{
  ReturnBin *bin = data;

  if (!g_atomic_ref_count_dec (&bin->ref_count))
    return;
  g_clear_pointer (&bin->objects, g_ptr_array_unref);
  g_mutex_clear (&bin->lock);
  g_free (bin);
}

/* Its thread exits: what it holds is freed now, later returns are freed
 * by the pipeline thread. */
static void
return_bin_thread_gone (gpointer data)
{
  ReturnBin *bin = data;

  g_mutex_lock (&bin->lock);
  bin->gone = TRUE;
  g_mutex_unlock (&bin->lock);
  return_bin_empty (bin);
  _cdviz_return_bin_unref (bin);
}

static GPrivate return_bin_of_thread = G_PRIVATE_INIT (return_bin_thread_gone);

/* The calling thread's bin, made at its first post; frees what came back
 * to it once there is enough. */
static ReturnBin *
own_return_bin (void)
{
  ReturnBin *bin = g_private_get (&return_bin_of_thread);

  if (G_UNLIKELY (bin == NULL))
    {
      bin = g_new0 (ReturnBin, 1);
      g_atomic_ref_count_init (&bin->ref_count);
      g_mutex_init (&bin->lock);
      g_private_set (&return_bin_of_thread, bin);
    }
  else if (g_atomic_int_get (&bin->count) >= RETURN_DRAIN_AT)
    return_bin_empty (bin);
  return bin;
}

/* On the pipeline thread: @item's message and @delivered (nullable, the
 * messages its chain made) go back to its thread, unless the bin is full
 * (by count or by bytes) or its thread exited: the caller frees them then. */
static void
return_messages (WorkItem  *item,
                 GPtrArray *delivered)
{
  ReturnBin *bin = item->bin;
  guint n = item->message != NULL;
  gsize bytes = item->message != NULL ? _cdviz_message_peek_body_size (item->message) : 0;

  if (bin == NULL)
    return;
  for (guint i = 0; delivered != NULL && i < delivered->len; i++)
    if (delivered->pdata[i] != (gpointer) item->message)
      {
        n++;
        bytes += _cdviz_message_peek_body_size (delivered->pdata[i]);
      }
  if (n == 0)
    return;
  g_mutex_lock (&bin->lock);
  if (!bin->gone &&
      (guint) g_atomic_int_get (&bin->count) + n <= RETURN_MAX &&
      bin->bytes + bytes <= RETURN_MAX_BYTES)
    {
      if (bin->objects == NULL)
        bin->objects = g_ptr_array_new_full (RETURN_DRAIN_AT * 2, g_object_unref);
      for (guint i = 0; delivered != NULL && i < delivered->len; i++)
        if (delivered->pdata[i] != (gpointer) item->message)
          g_ptr_array_add (bin->objects, g_object_ref (delivered->pdata[i]));
      if (item->message != NULL)
        g_ptr_array_add (bin->objects, g_steal_pointer (&item->message));
      bin->bytes += bytes;
      g_atomic_int_set (&bin->count, bin->objects->len);
    }
  g_mutex_unlock (&bin->lock);
}

/* On the thread that posts @item: its messages come back to this thread.
 * Under the queue lock (the pipeline remembers the bin for its stop). */
static void
item_set_return_bin_locked (CdvizPipeline *self,
                            WorkItem      *item,
                            ReturnBin     *bin)
{
  if (bin->last_pipeline != self->return_id)
    {
      if (!g_ptr_array_find (self->return_bins, bin, NULL))
        {
          g_atomic_ref_count_inc (&bin->ref_count);
          g_ptr_array_add (self->return_bins, bin);
        }
      bin->last_pipeline = self->return_id;
    }
  g_atomic_ref_count_inc (&bin->ref_count);
  item->bin = bin;
}

/* At stop (the pipeline thread joined) and finalize: what the bins of this
 * pipeline's items still hold is freed on the calling thread. */
void
_cdviz_pipeline_empty_return_bins (CdvizPipeline *self)
{
  g_autoptr(GPtrArray) bins = NULL;

  if (self->return_bins == NULL)
    return;
  g_mutex_lock (&self->queue_lock);
  bins = g_steal_pointer (&self->return_bins);
  self->return_bins = g_ptr_array_new_with_free_func (_cdviz_return_bin_unref);
  /* Threads that knew this pipeline register their bins again (a start
   * that failed is tried again with the same pipeline). */
  self->return_id = _cdviz_pipeline_new_return_id ();
  g_mutex_unlock (&self->queue_lock);
  for (guint i = 0; i < bins->len; i++)
    return_bin_empty (bins->pdata[i]);
}

/* A pipeline's id for the bins, never reused (0 is none). */
guint
_cdviz_pipeline_new_return_id (void)
{
  static int next_return_id;

  return (guint) g_atomic_int_add (&next_return_id, 1) + 1;
}

void
_cdviz_work_item_free (WorkItem *item)
{
  g_clear_object (&item->message);
  g_clear_object (&item->task);
  g_clear_pointer (&item->bin, _cdviz_return_bin_unref);
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
drain_after_stop (CdvizPipeline *self,
                  GQueue        *rest)
{
  WorkItem *item;

  g_mutex_lock (&self->queue_lock);
  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    g_queue_push_tail (rest, item);
  g_mutex_unlock (&self->queue_lock);

  while ((item = g_queue_pop_head (rest)) != NULL)
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
      _cdviz_work_item_free (item);
    }
}

/* The pipeline whose thread this is, to refuse calls that would wait for
 * themselves. */
static GPrivate pipeline_of_thread;

gboolean
_cdviz_pipeline_is_its_thread (CdvizPipeline *self)
{
  return g_private_get (&pipeline_of_thread) == self;
}

/* Takes everything waiting at once: one wake-up (and one lock) per batch,
 * not per event. */
static void
take_batch (CdvizPipeline *self,
            GQueue        *batch)
{
  g_mutex_lock (&self->queue_lock);
  while (g_queue_is_empty (&self->queue))
    {
      self->worker_waiting = TRUE;
      g_cond_wait (&self->queue_cond, &self->queue_lock);
    }
  self->worker_waiting = FALSE;
  *batch = self->queue;
  g_queue_init (&self->queue);
  g_mutex_unlock (&self->queue_lock);
}

gpointer
_cdviz_pipeline_thread (gpointer data)
{
  CdvizPipeline *self = data;
  g_autoptr(GArray) done = g_array_new (FALSE, FALSE, sizeof (Completion));

  g_array_set_clear_func (done, (GDestroyNotify) completion_clear);
  g_private_set (&pipeline_of_thread, self);

  for (;;)
    {
      GQueue batch;
      WorkItem *item;

      take_batch (self, &batch);
      while ((item = g_queue_pop_head (&batch)) != NULL)
        {
          switch (item->kind)
            {
            case ITEM_MESSAGE:
              /* Out of the queue: the slot is free before the publisher
               * hears back, so an immediate retry cannot be refused
               * spuriously. */
              g_atomic_int_add (&self->pending, -1);
              /* A source waits for room: the lock only once there is some. */
              if (G_UNLIKELY (g_atomic_int_get (&self->room_wanted)) &&
                  (guint) g_atomic_int_get (&self->pending) <= self->capacity / 2)
                _cdviz_pipeline_notify_room (self, FALSE);
              {
                g_autoptr(GPtrArray) delivered = process (self, item, done);

                return_messages (item, delivered);
              }
              if (done->len >= COMPLETIONS_MAX)
                complete_tasks (done);
              break;
            case ITEM_FLUSH:
              complete_tasks (done);
              release_flusher (item);
              break;
            case ITEM_STOP:
              _cdviz_work_item_free (item);
              complete_tasks (done);
              drain_after_stop (self, &batch);
              /* A source waiting for room hears that it will not come. */
              _cdviz_pipeline_notify_room (self, TRUE);
              return NULL;
            }
          _cdviz_work_item_free (item);
        }
      complete_tasks (done);
    }
}

/* --- waking the pipeline thread from the HTTP thread --------------------
 *
 * A request handler that posts an event nobody waits for (a webhook with
 * respond = "accepted") does not wake the pipeline thread itself: it
 * leaves the wake-up owed, and its HTTP thread pays it once, before it
 * polls again (in the prepare function of a source on its context, of high
 * priority so that it is prepared on every iteration; each HTTP thread has
 * its own). The events of every
 * request handled in one iteration then cost the pipeline thread one
 * wake-up. An event whose answer waits (push_async()) wakes it at once:
 * deferring would add the rest of the HTTP thread's iteration to every
 * answer, which measured slower on an idle machine. */

typedef struct {
  GSource source;
  CdvizPipeline *pipeline;      /* not owned: destroyed by stop() first */
  gboolean owed;                /* under queue_lock; only its thread sets it */
} WakeSource;

/* The wake source this thread prepares: posts from this thread may leave
 * the wake-up owed to it. */
static GPrivate waker_of_thread;

static void
wake_worker_locked (CdvizPipeline *self)
{
  if (self->worker_waiting)
    {
      self->worker_waiting = FALSE;
      g_cond_signal (&self->queue_cond);
    }
}

static gboolean
wake_prepare (GSource *source,
              int     *timeout)
{
  WakeSource *waker = (WakeSource *) source;

  if (G_UNLIKELY (g_private_get (&waker_of_thread) != waker))
    g_private_set (&waker_of_thread, waker);
  /* Only this thread sets it: no lock needed to look. */
  if (waker->owed)
    {
      CdvizPipeline *self = waker->pipeline;

      g_mutex_lock (&self->queue_lock);
      waker->owed = FALSE;
      wake_worker_locked (self);
      g_mutex_unlock (&self->queue_lock);
    }
  *timeout = -1;
  return FALSE;
}

static gboolean
wake_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_source_funcs = {
  .prepare = wake_prepare,
  .dispatch = wake_dispatch,
};

static void
wake_source_destroy (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

/* At start, before the HTTP server runs: one wake source per HTTP
 * thread. */
void
_cdviz_pipeline_attach_wakers (CdvizPipeline   *self,
                               CdvizHttpServer *http)
{
  guint n;
  GMainContext **contexts = _cdviz_http_server_get_contexts (http, &n);

  self->wake_sources = g_ptr_array_new_with_free_func (wake_source_destroy);
  for (guint i = 0; i < n; i++)
    {
      GSource *source = g_source_new (&wake_source_funcs, sizeof (WakeSource));

      ((WakeSource *) source)->pipeline = self;
      g_source_set_priority (source, G_PRIORITY_HIGH);
      g_source_set_static_name (source, "[cdviz] pipeline wake-up");
      g_source_attach (source, contexts[i]);
      g_ptr_array_add (self->wake_sources, source);
    }
}

/* At stop, once the pipeline thread is joined (nothing is owed any more),
 * before the HTTP threads are: a prepare still running finishes before
 * the pipeline can go. */
void
_cdviz_pipeline_detach_wakers (CdvizPipeline *self)
{
  g_clear_pointer (&self->wake_sources, g_ptr_array_unref);
}

/* The calling thread's wake source if it is one of @self's (only looked at
 * while the pipeline runs, when they all exist). */
static WakeSource *
own_waker (CdvizPipeline *self)
{
  gpointer waker = g_private_get (&waker_of_thread);

  if (waker == NULL || self->wake_sources == NULL)
    return NULL;
  for (guint i = 0; i < self->wake_sources->len; i++)
    if (self->wake_sources->pdata[i] == waker)
      return waker;
  return NULL;
}

void
_cdviz_pipeline_set_running (CdvizPipeline *self,
                             gboolean       running)
{
  g_mutex_lock (&self->queue_lock);
  g_atomic_int_set (&self->running, running);
  g_mutex_unlock (&self->queue_lock);
}

/* The one door into the queue: enqueue, flush and stop all post through it.
 * Under the queue lock it checks that the pipeline accepts work and pushes;
 * posting ITEM_STOP closes the door in the same critical section, so no item
 * can ever land behind the stop marker. An event posted from the HTTP
 * thread without a task (nobody waits for its answer) leaves the wake-up
 * to the HTTP thread's wake source; anything else wakes the pipeline
 * thread at once. Takes @item; on failure frees it and sets
 * %CDVIZ_PIPELINE_ERROR_NOT_RUNNING or _FULL. */
gboolean
_cdviz_pipeline_post (CdvizPipeline  *self,
                      WorkItem       *item,
                      GError        **error)
{
  WakeSource *waker;
  /* Before the lock: it may free what came back. */
  ReturnBin *bin = item->kind == ITEM_MESSAGE ? own_return_bin () : NULL;

  g_mutex_lock (&self->queue_lock);
  if (!g_atomic_int_get (&self->running))
    {
      g_mutex_unlock (&self->queue_lock);
      _cdviz_work_item_free (item);
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING,
                           _("the pipeline is not running"));
      return FALSE;
    }
  if (item->kind == ITEM_MESSAGE)
    {
      if ((guint) g_atomic_int_get (&self->pending) >= self->capacity)
        {
          g_mutex_unlock (&self->queue_lock);
          COUNT (self->counters[COUNTER_REFUSED]);
          g_debug ("Pipeline queue full (%u): refusing an event from %s",
                   self->capacity, item->source->name);
          _cdviz_work_item_free (item);
          g_set_error (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL,
                       _("the pipeline queue is full (%u events)"), self->capacity);
          return FALSE;
        }
      g_atomic_int_add (&self->pending, 1);
      COUNT (self->counters[COUNTER_ACCEPTED]);
      item_set_return_bin_locked (self, item, bin);
    }
  else if (item->kind == ITEM_STOP)
    g_atomic_int_set (&self->running, FALSE);
  g_queue_push_tail (&self->queue, item);
  /* Deferred only when nobody waits for the answer: a push_async() task
   * (a webhook answering once processed) is latency, and the pipeline
   * thread then works while the HTTP thread finishes its iteration. */
  if (item->kind == ITEM_MESSAGE && item->task == NULL && (waker = own_waker (self)) != NULL)
    waker->owed = TRUE;
  else
    wake_worker_locked (self);
  g_mutex_unlock (&self->queue_lock);
  return TRUE;
}

/* --- waiting for room --------------------------------------------------
 *
 * A source that reads a stream and got CDVIZ_PIPELINE_ERROR_FULL keeps its
 * event and stops reading; a room source tells it when to push again: the
 * pipeline thread makes it ready once the queue is at most half full (or
 * the pipeline stopped), instead of the source polling on a timer.
 *
 * The pipeline thread never touches the GSource itself: any g_source_*()
 * call locks the source's GMainContext, which its owner may free as soon
 * as the source is dispatched; racing with that, the pipeline thread read
 * the context just before GLib forgot it, locked freed memory and hung
 * (seen in test_nats under ASan). It writes to an eventfd the source polls
 * instead, owned by a small shared record. */

typedef struct
{
  gint ref_count;
  int fd;  /* eventfd: readable once the queue has room */
} RoomWaiter;

static RoomWaiter *
room_waiter_ref (RoomWaiter *waiter)
{
  g_atomic_int_inc (&waiter->ref_count);
  return waiter;
}

void
_cdviz_room_waiter_unref (gpointer data)
{
  RoomWaiter *waiter = data;

  if (g_atomic_int_dec_and_test (&waiter->ref_count))
    {
      close (waiter->fd);
      g_free (waiter);
    }
}

static void
room_waiter_signal (RoomWaiter *waiter)
{
  eventfd_t one = 1;

  /* Cannot fail but by overflowing a counter written once per wait. */
  (void) eventfd_write (waiter->fd, one);
}

typedef struct
{
  GSource source;
  RoomWaiter *waiter;
} RoomSource;

static gboolean
room_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  if (callback != NULL)
    callback (user_data);
  return G_SOURCE_REMOVE;   /* once */
}

static void
room_finalize (GSource *source)
{
  _cdviz_room_waiter_unref (((RoomSource *) source)->waiter);
}

static GSourceFuncs room_source_funcs = {
  .dispatch = room_dispatch,
  .finalize = room_finalize,
};

static gboolean
has_room_locked (CdvizPipeline *self)
{
  return !g_atomic_int_get (&self->running) ||
         (guint) g_atomic_int_get (&self->pending) <= self->capacity / 2;
}

/* On the pipeline thread: signals the waiting room sources, when the
 * queue is at most half full or @always. */
void
_cdviz_pipeline_notify_room (CdvizPipeline *self,
                             gboolean       always)
{
  g_autoptr(GPtrArray) ready = NULL;

  g_mutex_lock (&self->queue_lock);
  if (self->room_waiters->len > 0 && (always || has_room_locked (self)))
    {
      ready = g_steal_pointer (&self->room_waiters);
      self->room_waiters = g_ptr_array_new_with_free_func (_cdviz_room_waiter_unref);
      g_atomic_int_set (&self->room_wanted, 0);
    }
  g_mutex_unlock (&self->queue_lock);

  for (guint i = 0; ready != NULL && i < ready->len; i++)
    room_waiter_signal (g_ptr_array_index (ready, i));
}

/**
 * cdviz_pipeline_create_room_source:
 * @self: a #CdvizPipeline
 *
 * Makes a source for a #CdvizSource that reads a stream and was refused
 * with %CDVIZ_PIPELINE_ERROR_FULL by cdviz_pipeline_push_from(): it is
 * dispatched once, as soon as the pipeline's queue is at most half full
 * (at once if it already is), or when the pipeline stops. Set a
 * #GSourceFunc on it with g_source_set_callback() that pushes the held
 * message again, and attach it to the context the source runs on. Its
 * callback's return value is ignored: it runs once. The source may be
 * destroyed, and its context freed, at any time: the pipeline keeps no
 * reference to either.
 *
 * Returns: (transfer full): a new #GSource
 */
GSource *
cdviz_pipeline_create_room_source (CdvizPipeline *self)
{
  RoomSource *room;
  RoomWaiter *waiter;
  gboolean now = TRUE;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);

  waiter = g_new0 (RoomWaiter, 1);
  waiter->ref_count = 1;
  waiter->fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (waiter->fd < 0)
    g_error ("eventfd: %s", g_strerror (errno));  /* out of descriptors: as GLib itself */
  room = (RoomSource *) g_source_new (&room_source_funcs, sizeof (RoomSource));
  room->waiter = waiter;
  g_source_set_static_name (&room->source, "[cdviz] pipeline room");
  g_source_add_unix_fd (&room->source, waiter->fd, G_IO_IN);

  g_mutex_lock (&self->queue_lock);
  if (!has_room_locked (self))
    {
      g_ptr_array_add (self->room_waiters, room_waiter_ref (waiter));
      g_atomic_int_set (&self->room_wanted, 1);
      /* The pipeline thread frees a slot without this lock, then looks at
       * room_wanted: a slot freed between the check above and the flag
       * went unseen, and it may now sleep on an empty queue. Look again,
       * after the flag (sequentially consistent atomics on both sides:
       * one of them sees the other's write). */
      now = has_room_locked (self);
    }
  g_mutex_unlock (&self->queue_lock);
  if (now)
    room_waiter_signal (waiter);
  return &room->source;
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
  return _cdviz_pipeline_post (self, item, error);
}

/* O(1): sources push on every event. */
static SourceEntry *
find_source (CdvizPipeline *self,
             CdvizSource   *source)
{
  return g_hash_table_lookup (self->sources_by_object, source);
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
 * cdviz_pipeline_push_from:
 * @self: a #CdvizPipeline
 * @source: the source @message comes from
 * @message: the message
 * @error: return location for a #GError
 *
 * Hands @message over to the pipeline from @source, without waiting for
 * it to be processed, and says at once whether it was accepted. This is
 * what a source that reads a stream uses to push back without losing or
 * reordering anything: on %CDVIZ_PIPELINE_ERROR_FULL it keeps @message,
 * stops reading, and pushes the same message again a little later.
 * Callable from any thread; never blocks.
 *
 * Returns: %TRUE if the message was accepted; %FALSE with
 *   %CDVIZ_PIPELINE_ERROR_FULL, _NOT_RUNNING or _UNKNOWN_SOURCE
 */
gboolean
cdviz_pipeline_push_from (CdvizPipeline  *self,
                          CdvizSource    *source,
                          CdvizMessage   *message,
                          GError        **error)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (CDVIZ_IS_SOURCE (source), FALSE);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), FALSE);

  entry = find_source (self, source);
  if (entry == NULL)
    {
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
                           _("this source is not part of the pipeline"));
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
  g_return_if_fail (!_cdviz_pipeline_is_its_thread (self));

  g_mutex_init (&lock);
  g_cond_init (&cond);
  item = g_new0 (WorkItem, 1);
  item->kind = ITEM_FLUSH;
  item->lock = &lock;
  item->cond = &cond;
  item->done = &done;
  /* Refused when not running: then there is nothing to wait for. */
  if (_cdviz_pipeline_post (self, item, NULL))
    {
      g_mutex_lock (&lock);
      while (!done)
        g_cond_wait (&cond, &lock);
      g_mutex_unlock (&lock);
    }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
}
