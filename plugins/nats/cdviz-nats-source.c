/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-nats-common.h"
#include "cdviz-nats-source.h"

/* `[sources.NAME.extractor] type = "nats"`: cdviz-collector's
 * `src/sources/nats/` (`servers`, `subject`, `mode`, `stream`, `consumer`,
 * `headers` (incoming rules), `headers_to_keep`, `metadata`).
 *
 * Core mode subscribes to `subject`; jetstream mode reads a durable pull
 * consumer `consumer` of `stream` (created when missing, filtered on
 * `subject`). Either way one worker thread per source reads messages and
 * hands them over with cdviz_pipeline_push_from(); when the pipeline's
 * queue is full it keeps the message and waits for room, so nothing is
 * reordered. A JetStream message is acknowledged only once the pipeline
 * accepted it; a message still held when the source stops is negatively
 * acknowledged, and the server delivers it again (to this node's next run).
 *
 * `replay_last = N` (not in cdviz-collector): before reading the consumer,
 * the worker reads again the last N stream sequences the consumer had
 * already been delivered (directly, by sequence; not acknowledged again), so
 * that a sink that keeps a window, the SSE sink's ring, holds after a
 * restart what it held before. A consumer created by this run starts after
 * the stream's last message, the N before it replayed.
 *
 * Everything that can fail at configuration time (servers, stream,
 * consumer) is checked by start, synchronously, with an error that says
 * what to do. */

#define PUSH_RETRY_FIRST_MS 5
#define PUSH_RETRY_MAX_MS 200
#define FETCH_WAIT_MS 500
/* Stream sequences remembered below the last one pushed (one bit each):
 * a delivery again of one of them that was pushed is dropped, one that was
 * not (lost in flight, or first given to a reader that died) is pushed. */
#define SEEN_WINDOW (1u << 21)
/* Successful fetches after a lost connection during which a jump in the
 * consumer's delivery sequence is taken for deliveries lost with it. */
#define SUSPECT_FETCHES 4
/* Batches unacknowledged at a time: one being pushed, one read ahead, one
 * being fetched. */
#define FETCHES_IN_FLIGHT 3

struct _CdvizNatsSource
{
  GObject parent_instance;

  /* configuration */
  char *servers;
  char *subject;
  CdvizNatsMode mode;
  char *stream;
  char *consumer;
  JsonNode *headers;
  char **headers_to_keep;
  JsonNode *metadata;
  gboolean create_stream;
  guint replicas;
  guint replay_last;
  guint batch;
  guint64 ack_wait;
  CdvizNatsOptions options;         /* the documentation's spellings */
  char **server_list;               /* by init */
  CdvizHeaderValidator *validator;  /* by init */

  /* running */
  char *name;
  CdvizPipeline *pipeline;          /* (owned) */
  natsConnection *nc;
  jsCtx *js;
  natsSubscription *sub;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stopping;
  GMainContext *wait_context;       /* (owned): the worker waits for room on it */
  guint64 replay_from, replay_to;   /* stream sequences, inclusive; from > to: none */
  guint64 last_sequence;            /* the worker's: last stream sequence pushed */
  guint8 *seen;                     /* the worker's: SEEN_WINDOW bits, by sequence */
  guint64 last_delivery;            /* the worker's: last consumer sequence received */
  struct _Fetched *ready;           /* under lock: a batch read ahead (jetstream mode) */
  CdvizNatsConnState conn;
  guint64 pushed, refused, replayed, held, duplicates;  /* written by the worker under lock */
};

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizNatsSource, cdviz_nats_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_SERVERS,
  PROP_SUBJECT,
  PROP_MODE,
  PROP_STREAM,
  PROP_CONSUMER,
  PROP_HEADERS,
  PROP_HEADERS_TO_KEEP,
  PROP_METADATA,
  PROP_CREATE_STREAM,
  PROP_REPLICAS,
  PROP_REPLAY_LAST,
  PROP_BATCH,
  PROP_ACK_WAIT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
#define PROP_FIRST_OPTION N_PROPS  /* then CdvizNatsOption's */

static gboolean
is_stopping (CdvizNatsSource *self)
{
  gboolean stopping;

  g_mutex_lock (&self->lock);
  stopping = self->stopping;
  g_mutex_unlock (&self->lock);
  return stopping;
}

/* Sleeps @ms unless the source stops meanwhile; returns FALSE if it stops. */
static gboolean
pause_ms (CdvizNatsSource *self,
          guint            ms)
{
  gint64 until = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  gboolean stopping;

  g_mutex_lock (&self->lock);
  while (!self->stopping && g_cond_wait_until (&self->cond, &self->lock, until))
    ;
  stopping = self->stopping;
  g_mutex_unlock (&self->lock);
  return !stopping;
}

static gboolean
room_ready (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The pipeline's queue is full: waits until it has room again
 * (cdviz_pipeline_create_room_source(), on the worker's own context)
 * rather than polling; FALSE if the source stops first. */
static gboolean
wait_for_room (CdvizNatsSource *self)
{
  g_autoptr(GSource) room = cdviz_pipeline_create_room_source (self->pipeline);
  gboolean ready = FALSE;
  gboolean stopping;

  g_source_set_callback (room, room_ready, &ready, NULL);
  g_source_attach (room, self->wait_context);
  /* Woken by the room source, or by stop() (g_main_context_wakeup()). */
  while (!(stopping = is_stopping (self)) && !ready)
    g_main_context_iteration (self->wait_context, TRUE);
  g_source_destroy (room);
  return !stopping;
}

/* --- messages ------------------------------------------------------------------- */

/* NULL when the header rules refuse @msg (logged). */
static CdvizMessage *
to_message (CdvizNatsSource *self,
            natsMsg         *msg,
            guint64          sequence)
{
  const char *data = natsMsg_GetData (msg);
  int length = natsMsg_GetDataLength (msg);
  gboolean validate = self->validator != NULL &&
                      !cdviz_header_validator_is_empty (self->validator);
  /* Only when the header rules or headers_to_keep need them: two tables per
   * message were a tenth of this thread's time. */
  g_autoptr(GHashTable) all = NULL;
  g_autoptr(GHashTable) kept = NULL;
  CdvizMessage *message;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) metadata = NULL;
  g_autofree char *text = NULL;
  const char **keys = NULL;
  int n_keys = 0;
  JsonObject *object;

  if (validate)
    all = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if ((validate || (self->headers_to_keep != NULL && self->headers_to_keep[0] != NULL)) &&
      natsMsgHeader_Keys (msg, &keys, &n_keys) == NATS_OK)
    {
      for (int i = 0; i < n_keys; i++)
        {
          const char *value = NULL;

          if (natsMsgHeader_Get (msg, keys[i], &value) != NATS_OK || value == NULL)
            continue;
          if (all != NULL)
            g_hash_table_replace (all, g_ascii_strdown (keys[i], -1), g_strdup (value));
          for (char **k = self->headers_to_keep; k != NULL && *k != NULL; k++)
            if (g_ascii_strcasecmp (*k, keys[i]) == 0)
              {
                if (kept == NULL)
                  kept = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
                g_hash_table_replace (kept, g_strdup (keys[i]), g_strdup (value));
              }
        }
      free ((void *) keys);
    }

  if (validate)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (data, length);
      g_autofree char *why = NULL;

      if (cdviz_header_validator_check (self->validator, all, bytes, &why) != SOUP_STATUS_OK)
        {
          g_warning ("source '%s': message on “%s” refused by the header rules: %s",
                     self->name, natsMsg_GetSubject (msg), why ?: "");
          return NULL;
        }
    }

  /* A new object for every message (json_node_init_object() takes its own
   * reference), sealed here so that the message keeps it as it is. */
  {
    g_autoptr(JsonObject) fresh = cdviz_message_build_metadata (self->metadata);

    metadata = json_node_init_object (json_node_alloc (), fresh);
  }
  object = json_node_get_object (metadata);
  json_object_set_string_member (object, "nats_subject", natsMsg_GetSubject (msg));
  if (sequence > 0)
    json_object_set_int_member (object, "nats_sequence", (gint64) sequence);
  json_node_seal (metadata);

  /* Parsed once, straight into the raw message, which keeps the payload
   * as its body bytes when it is compact JSON (before, a first message
   * was parsed only for its body, and the second one wrote it again). */
  message = cdviz_message_new_raw_from_data (data, length, metadata, kept, NULL);
  if (message != NULL)
    return message;

  text = g_utf8_make_valid (data, length);
  g_debug ("source '%s': payload is not JSON, taken as a string", self->name);
  body = json_node_init_string (json_node_alloc (), text);
  return cdviz_message_new_raw (body, metadata, kept);
}

/* Pushes @message, holding it while the pipeline's queue is full (or while
 * the pipeline is still starting). FALSE when the source stops first, or
 * when the pipeline refuses the message for another reason (logged). */
static gboolean
push (CdvizNatsSource *self,
      CdvizMessage    *message)
{
  guint retry_ms = PUSH_RETRY_FIRST_MS;
  gboolean counted = FALSE;

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), message, &error))
        {
          g_mutex_lock (&self->lock);
          self->pushed++;
          g_mutex_unlock (&self->lock);
          return TRUE;
        }
      if (!g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL) &&
          !g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING))
        {
          g_warning ("source '%s': message not accepted by the pipeline: %s", self->name,
                     error->message);
          g_mutex_lock (&self->lock);
          self->refused++;
          g_mutex_unlock (&self->lock);
          return FALSE;
        }
      if (!counted && g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
        {
          counted = TRUE;
          g_mutex_lock (&self->lock);
          self->held++;
          g_mutex_unlock (&self->lock);
        }
      if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
        {
          if (!wait_for_room (self))
            return FALSE;
          continue;
        }
      /* Not running yet (still starting): try again a little later. */
      if (!pause_ms (self, retry_ms))
        return FALSE;
      retry_ms = MIN (retry_ms * 2, PUSH_RETRY_MAX_MS);
    }
}

/* --- the worker thread ---------------------------------------------------------- */

/* --- what was pushed ------------------------------------------------------------ */

static gboolean
was_pushed (CdvizNatsSource *self,
            guint64          seq)
{
  /* The replayed range, and what the previous run had been delivered before
   * it: taken as seen, as the replay's own comment in setup_consumer() says. */
  if (seq <= self->replay_to)
    return TRUE;
  if (seq > self->last_sequence)
    return FALSE;
  if (self->last_sequence - seq >= SEEN_WINDOW)
    return TRUE;  /* too old to know: at least once, not twice */
  return (self->seen[(seq % SEEN_WINDOW) / 8] >> (seq % 8)) & 1;
}

static void
mark_pushed (CdvizNatsSource *self,
             guint64          seq)
{
  if (seq > self->last_sequence)
    {
      /* The sequences between are not pushed (yet): clear their bits. */
      if (seq - self->last_sequence >= SEEN_WINDOW)
        memset (self->seen, 0, SEEN_WINDOW / 8);
      else
        for (guint64 s = self->last_sequence + 1; s < seq; s++)
          self->seen[(s % SEEN_WINDOW) / 8] &= ~(1u << (s % 8));
      self->last_sequence = seq;
    }
  else if (self->last_sequence - seq >= SEEN_WINDOW)
    return;
  self->seen[(seq % SEEN_WINDOW) / 8] |= 1u << (seq % 8);
}

/* Reads stream sequence @seq again (js_GetMsg) and pushes it when its
 * subject is the source's. With @insist, a stream that cannot answer (a
 * leader being elected) is asked again until it does or the source stops.
 * TRUE when a message was pushed. */
static gboolean
push_stored (CdvizNatsSource *self,
             guint64          seq,
             gboolean         insist)
{
  natsMsg *msg = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  gboolean warned = FALSE;

  for (;;)
    {
      jsErrCode jerr = 0;
      natsStatus s = js_GetMsg (&msg, self->js, self->stream, seq, NULL, &jerr);

      if (s == NATS_OK)
        break;
      if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
        return FALSE;
      if (!warned)
        g_warning ("source '%s': cannot read sequence %" G_GUINT64_FORMAT " of stream "
                   "“%s” again: %s%s", self->name, seq, self->stream, natsStatus_GetText (s),
                   insist ? "; retrying" : "");
      warned = TRUE;
      if (!insist || !pause_ms (self, 250))
        return FALSE;
    }
  if (cdviz_nats_subject_matches (self->subject, natsMsg_GetSubject (msg)))
    message = to_message (self, msg, seq);
  natsMsg_Destroy (msg);
  return message != NULL && push (self, message);
}

static void
replay (CdvizNatsSource *self)
{
  guint64 n = 0;

  for (guint64 seq = self->replay_from; seq <= self->replay_to && !is_stopping (self); seq++)
    if (push_stored (self, seq, FALSE))
      n++;
  g_mutex_lock (&self->lock);
  self->replayed += n;
  g_mutex_unlock (&self->lock);
  g_message ("source '%s': replayed %" G_GUINT64_FORMAT " messages of stream “%s”",
             self->name, n, self->stream);
}

/* The consumer's delivery sequence jumped by @lost right after a lost
 * connection: deliveries in flight were lost with it, and JetStream gives
 * them again only after ack_wait, after newer ones. Reads the stream
 * between the last sequence pushed and @seq again, in order, so that this
 * node keeps the stream's order; the later deliveries of what it pushes
 * here are dropped as pushed. (A consumer shared by several readers jumps
 * at every fetch: only the first jump after a lost connection is taken
 * for a loss, and the price is at most that gap pushed twice, at least
 * once as JetStream itself.) FALSE if the source stops first. */
static gboolean
fill_gap (CdvizNatsSource *self,
          guint64          seq,
          guint64          lost)
{
  guint64 from = self->last_sequence + 1;
  guint64 n = 0;

  for (guint64 s = from; s < seq && n < lost; s++)
    {
      if (is_stopping (self))
        return FALSE;
      if (!was_pushed (self, s) && push_stored (self, s, TRUE))
        {
          mark_pushed (self, s);
          n++;
        }
    }
  g_message ("source '%s': %" G_GUINT64_FORMAT " deliveries of consumer “%s” lost with the "
             "connection; read %" G_GUINT64_FORMAT " messages of stream “%s” again, in order",
             self->name, lost, self->consumer, n, self->stream);
  g_mutex_lock (&self->lock);
  self->replayed += n;
  g_mutex_unlock (&self->lock);
  return !is_stopping (self);
}

/* A batch the fetching thread read ahead, for the worker. */
typedef struct _Fetched
{
  natsMsgList list;
  gboolean suspect;  /* a connection was lost, or a fetch failed, before it */
} Fetched;

static void
fetched_free (Fetched *batch,
              int      from)
{
  /* What was not pushed is delivered again (to this node's next run). */
  for (int i = from; i < batch->list.Count; i++)
    natsMsg_Nak (batch->list.Msgs[i], NULL);
  natsMsgList_Destroy (&batch->list);
  g_free (batch);
}

/* The fetching thread: reads the consumer one batch ahead of the worker,
 * so that the round trip of a fetch overlaps the pushing of the batch
 * before (one thread doing both waited for the server half of the time).
 * At most one batch waits in self->ready. */
static gpointer
fetch_thread (gpointer data)
{
  CdvizNatsSource *self = data;
  gboolean failing = FALSE;
  gboolean suspect = FALSE;
  int disconnects = g_atomic_int_get (&self->conn.disconnects);

  while (!is_stopping (self))
    {
      natsMsgList list = { 0 };
      jsErrCode jerr = 0;
      natsStatus s = natsSubscription_Fetch (&list, self->sub, (int) self->batch, FETCH_WAIT_MS,
                                             &jerr);
      int now_disconnects = g_atomic_int_get (&self->conn.disconnects);
      Fetched *batch;

      if (now_disconnects != disconnects)
        {
          disconnects = now_disconnects;
          suspect = TRUE;
        }
      if (s == NATS_TIMEOUT)
        continue;
      if (s != NATS_OK)
        {
          if (!failing)
            g_warning ("source '%s': reading consumer “%s” of stream “%s”: %s; retrying",
                       self->name, self->consumer, self->stream, natsStatus_GetText (s));
          failing = TRUE;
          suspect = TRUE;
          natsMsgList_Destroy (&list);
          pause_ms (self, 250);
          continue;
        }
      if (failing)
        g_message ("source '%s': reading consumer “%s” again", self->name, self->consumer);
      failing = FALSE;

      batch = g_new0 (Fetched, 1);
      batch->list = list;
      batch->suspect = suspect;
      suspect = FALSE;
      g_mutex_lock (&self->lock);
      while (self->ready != NULL && !self->stopping)
        g_cond_wait (&self->cond, &self->lock);
      if (self->stopping)
        {
          g_mutex_unlock (&self->lock);
          fetched_free (batch, 0);
          break;
        }
      self->ready = batch;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
    }
  return NULL;
}

/* Pushes one fetched batch, in order; returns the index of the first
 * message not handled (the batch's count unless the source stops). */
static int
push_batch (CdvizNatsSource *self,
            Fetched         *batch,
            guint           *suspect)
{
  natsMsgList *list = &batch->list;
  guint late = 0;
  int i = 0;

  if (batch->suspect)
    *suspect = SUSPECT_FETCHES;
  for (; i < list->Count; i++)
    {
      natsMsg *msg = list->Msgs[i];
      jsMsgMetaData *meta = NULL;
      guint64 seq = 0;
      guint64 delivery = 0;
      g_autoptr(CdvizMessage) message = NULL;

      if (natsMsg_GetMetaData (&meta, msg) == NATS_OK)
        {
          seq = meta->Sequence.Stream;
          delivery = meta->Sequence.Consumer;
          jsMsgMetaData_Destroy (meta);
        }
      if (*suspect > 0 && self->last_delivery > 0 && delivery > self->last_delivery + 1 &&
          seq > self->last_sequence + 1)
        {
          *suspect = 0;
          if (!fill_gap (self, seq, delivery - self->last_delivery - 1))
            break;
        }
      if (delivery > 0)
        self->last_delivery = delivery;
      /* JetStream delivers at least once: an acknowledgement lost when a
       * server goes away, or a consumer leader elected on another server,
       * delivers again what this run already pushed: dropped. What it
       * delivers again that this run did not push (lost in flight, or
       * first given to another reader of a shared consumer that died) is
       * pushed, late rather than never. */
      if (seq > 0 && was_pushed (self, seq))
        {
          g_mutex_lock (&self->lock);
          self->duplicates++;
          g_mutex_unlock (&self->lock);
          g_debug ("source '%s': sequence %" G_GUINT64_FORMAT " delivered again, dropped",
                   self->name, seq);
          natsMsg_Ack (msg, NULL);
          continue;
        }
      message = to_message (self, msg, seq);
      if (message == NULL)
        {
          natsMsg_Term (msg, NULL);  /* refused by the header rules: never again */
          continue;
        }
      if (!push (self, message))
        break;
      if (seq > 0 && seq < self->last_sequence)
        late++;
      if (seq > 0)
        mark_pushed (self, seq);
      natsMsg_Ack (msg, NULL);
    }
  if (late > 0)
    g_message ("source '%s': pushed %u messages of stream “%s” that consumer “%s” delivered "
               "again and this node had not pushed, after newer ones", self->name, late,
               self->stream, self->consumer);
  if (*suspect > 0)
    (*suspect)--;
  return i;
}

static void
run_jetstream (CdvizNatsSource *self)
{
  GThread *fetcher;
  guint suspect = 0;

  self->seen = g_malloc0 (SEEN_WINDOW / 8);
  self->last_sequence = 0;
  self->last_delivery = 0;
  if (self->replay_from <= self->replay_to)
    {
      replay (self);
      self->last_sequence = self->replay_to;
    }

  fetcher = g_thread_new ("cdviz-nats-fetch", fetch_thread, self);
  for (;;)
    {
      Fetched *batch;

      g_mutex_lock (&self->lock);
      while (self->ready == NULL && !self->stopping)
        g_cond_wait (&self->cond, &self->lock);
      batch = self->stopping ? NULL : g_steal_pointer (&self->ready);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      if (batch == NULL)
        break;
      fetched_free (batch, push_batch (self, batch, &suspect));
    }
  g_thread_join (fetcher);
  /* Read ahead, never pushed: delivered again to the next run. */
  if (self->ready != NULL)
    fetched_free (g_steal_pointer (&self->ready), 0);
  g_clear_pointer (&self->seen, g_free);
}

static void
run_core (CdvizNatsSource *self)
{
  while (!is_stopping (self))
    {
      natsMsg *msg = NULL;
      natsStatus s = natsSubscription_NextMsg (&msg, self->sub, FETCH_WAIT_MS);
      g_autoptr(CdvizMessage) message = NULL;

      if (s == NATS_TIMEOUT)
        continue;
      if (s != NATS_OK)
        {
          g_warning ("source '%s': subscription to “%s”: %s", self->name, self->subject,
                     natsStatus_GetText (s));
          pause_ms (self, 250);
          continue;
        }
      message = to_message (self, msg, 0);
      natsMsg_Destroy (msg);
      if (message != NULL)
        push (self, message);
    }
}

static gpointer
worker_thread (gpointer data)
{
  CdvizNatsSource *self = data;

  if (self->mode == CDVIZ_NATS_MODE_JETSTREAM)
    run_jetstream (self);
  else
    run_core (self);
  return NULL;
}

/* --- start: stream, consumer, replay range ------------------------------------- */

/* A consumer lets at most MaxAckPending messages be unacknowledged; the
 * source can hold FETCHES_IN_FLIGHT batches so (one pushed, one read ahead,
 * one being fetched). With a larger batch a fetch would wait for messages
 * the server no longer sends, until it expires, at every fetch (a batch of
 * 1024 read 2,000 events/s instead of 60,000): the batch is lowered to fit,
 * and the log says so. */
static void
limit_batch (CdvizNatsSource *self,
             const char      *label,
             jsConsumerInfo  *ci)
{
  int64_t max_pending = ci->Config != NULL ? ci->Config->MaxAckPending : 0;
  guint fit;

  if (max_pending <= 0 || (int64_t) FETCHES_IN_FLIGHT * self->batch <= max_pending)
    return;
  fit = MAX (1, (guint) (max_pending / FETCHES_IN_FLIGHT));
  g_warning ("%s: consumer “%s” lets %" G_GINT64_FORMAT " messages wait for an "
             "acknowledgement, too few for batch = %u (up to %d batches are in flight): "
             "fetching %u at a time", label, self->consumer, (gint64) max_pending,
             self->batch, FETCHES_IN_FLIGHT, fit);
  self->batch = fit;
}

static gboolean
setup_consumer (CdvizNatsSource  *self,
                const char       *label,
                GError          **error)
{
  jsConsumerInfo *ci = NULL;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  jsSubOptions so;
  natsStatus s;
  guint64 first, last;

  if (!cdviz_nats_ensure_stream (self->js, self->stream, self->subject, self->create_stream,
                                 (int) self->replicas, label, error))
    return FALSE;
  s = js_GetStreamInfo (&si, self->js, self->stream, NULL, &jerr);
  if (s != NATS_OK)
    return cdviz_nats_set_error (error, s, jerr, label);
  first = si->State.FirstSeq;
  last = si->State.LastSeq;
  jsStreamInfo_Destroy (si);

  s = js_GetConsumerInfo (&ci, self->js, self->stream, self->consumer, NULL, &jerr);
  if (s == NATS_OK)
    {
      /* Up to the last message delivered, not only the acknowledged floor:
       * a message delivered but not acknowledged (held at the last stop) is
       * replayed here, before any client can reconnect, and its redelivery
       * is then skipped as already seen. With the floor, such a message
       * came back only with the consumer's redelivery, after the replay,
       * and a client resuming from it in between found its id unknown. */
      guint64 floor = MAX (ci->Delivered.Stream, ci->AckFloor.Stream);

      limit_batch (self, label, ci);
      jsConsumerInfo_Destroy (ci);
      if (self->replay_last > 0 && floor > 0)
        {
          self->replay_to = floor;
          self->replay_from = floor >= self->replay_last ? floor - self->replay_last + 1 : 1;
        }
    }
  else if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr)
    {
      jsConsumerConfig cc;

      jsConsumerConfig_Init (&cc);
      cc.Durable = self->consumer;
      cc.AckPolicy = js_AckExplicit;
      cc.AckWait = (int64_t) self->ack_wait * 1000000;
      /* Up to three batches are unacknowledged at a time (pushed, read
       * ahead, being fetched): the server's default of 1000 stalls a
       * batch over 333 until each fetch expires. */
      cc.MaxAckPending = MAX (1000, (int64_t) FETCHES_IN_FLIGHT * self->batch);
      cc.FilterSubject = self->subject;
      if (self->replay_last > 0)
        {
          /* A new node: the live stream from now on, the last N as history. */
          cc.DeliverPolicy = js_DeliverByStartSequence;
          cc.OptStartSeq = last + 1;
          if (last > 0)
            {
              self->replay_to = last;
              self->replay_from = last >= self->replay_last ? last - self->replay_last + 1 : 1;
            }
        }
      else
        cc.DeliverPolicy = self->options.deliver_policy;
      s = js_AddConsumer (&ci, self->js, self->stream, &cc, NULL, &jerr);
      if (s != NATS_OK)
        {
          g_autofree char *what =
            g_strdup_printf (_("%s: cannot create consumer “%s” of stream “%s”"), label,
                             self->consumer, self->stream);
          return cdviz_nats_set_error (error, s, jerr, what);
        }
      limit_batch (self, label, ci);
      jsConsumerInfo_Destroy (ci);
      g_message ("%s: created durable consumer “%s” of stream “%s”", label, self->consumer,
                 self->stream);
    }
  else
    {
      g_autofree char *what = g_strdup_printf (_("%s: cannot read consumer “%s” of stream “%s”"),
                                               label, self->consumer, self->stream);
      return cdviz_nats_set_error (error, s, jerr, what);
    }
  self->replay_from = MAX (self->replay_from, MAX (first, 1));

  jsSubOptions_Init (&so);
  so.Stream = self->stream;
  so.Consumer = self->consumer;
  s = js_PullSubscribe (&self->sub, self->js, self->subject, self->consumer, NULL, &so, &jerr);
  if (s != NATS_OK)
    {
      g_autofree char *what = g_strdup_printf (_("%s: cannot read consumer “%s” of stream “%s”"),
                                               label, self->consumer, self->stream);
      return cdviz_nats_set_error (error, s, jerr, what);
    }
  return TRUE;
}

/* --- metrics ------------------------------------------------------------------------ */

static void
source_metrics (gpointer  component,
                GString  *out,
                guint     family)
{
  CdvizNatsSource *self = component;
  guint64 value = 0;

  g_mutex_lock (&self->lock);
  switch (family)
    {
    case CDVIZ_NATS_METRIC_CONNECTED: value = g_atomic_int_get (&self->conn.connected); break;
    case CDVIZ_NATS_METRIC_RECONNECTS: value = g_atomic_int_get (&self->conn.reconnects); break;
    case CDVIZ_NATS_METRIC_MESSAGES: value = self->pushed; break;
    case CDVIZ_NATS_METRIC_FAILURES: value = self->refused; break;
    case CDVIZ_NATS_METRIC_REPLAYED: value = self->replayed; break;
    default:
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);
  cdviz_nats_append_sample (out, family, "source", self->name, value);
}

/* --- CdvizSource ---------------------------------------------------------------------- */

static void
disconnect (CdvizNatsSource *self)
{
  if (self->sub != NULL)
    {
      /* A durable consumer outlives the subscription: no unsubscribe. */
      if (self->mode == CDVIZ_NATS_MODE_CORE)
        natsSubscription_Unsubscribe (self->sub);
      g_clear_pointer (&self->sub, natsSubscription_Destroy);
    }
  g_clear_pointer (&self->js, jsCtx_Destroy);
  if (self->nc != NULL)
    {
      natsConnection_Close (self->nc);
      g_clear_pointer (&self->nc, natsConnection_Destroy);
    }
}

static gboolean
nats_source_start (CdvizSource    *source,
                   CdvizPipeline  *pipeline,
                   GError        **error)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (source);
  const char *name = cdviz_pipeline_get_source_name (pipeline, source);
  g_autofree char *label = NULL;
  natsStatus s;

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "nats");
  if (cdviz_pipeline_is_checking (pipeline))
    return TRUE;
  g_return_val_if_fail (self->thread == NULL, FALSE);

  label = g_strdup_printf ("source '%s'", self->name);
  self->nc = cdviz_nats_connect (self->server_list, &self->options, label, 5000,
                                 &self->conn, error);
  if (self->nc == NULL)
    return FALSE;
  self->replay_from = 1;
  self->replay_to = 0;
  if (self->mode == CDVIZ_NATS_MODE_JETSTREAM)
    {
      s = natsConnection_JetStream (&self->js, self->nc, NULL);
      if (s != NATS_OK)
        {
          cdviz_nats_set_error (error, s, 0, label);
          goto fail;
        }
      if (!setup_consumer (self, label, error))
        goto fail;
    }
  else
    {
      if (self->options.queue_group != NULL)
        s = natsConnection_QueueSubscribeSync (&self->sub, self->nc, self->subject,
                                               self->options.queue_group);
      else
        s = natsConnection_SubscribeSync (&self->sub, self->nc, self->subject);
      if (s != NATS_OK)
        {
          g_autofree char *what = g_strdup_printf (_("%s: cannot subscribe to “%s”"), label,
                                                   self->subject);
          cdviz_nats_set_error (error, s, 0, what);
          goto fail;
        }
    }

  self->pipeline = g_object_ref (pipeline);
  self->stopping = FALSE;
  self->wait_context = g_main_context_new ();
  self->thread = g_thread_new ("cdviz-nats-src", worker_thread, self);
  cdviz_nats_register_metrics (cdviz_pipeline_get_http_server (pipeline), G_OBJECT (self),
                               source_metrics);
  return TRUE;

fail:
  disconnect (self);
  return FALSE;
}

static void
nats_source_stop (CdvizSource *source)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (source);

  if (self->thread != NULL)
    {
      g_mutex_lock (&self->lock);
      self->stopping = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      g_main_context_wakeup (self->wait_context);
      g_thread_join (g_steal_pointer (&self->thread));
      g_clear_pointer (&self->wait_context, g_main_context_unref);
    }
  disconnect (self);
  g_clear_object (&self->pipeline);
  g_debug ("source '%s': %" G_GUINT64_FORMAT " messages pushed, %" G_GUINT64_FORMAT
           " replayed, %" G_GUINT64_FORMAT " refused, %" G_GUINT64_FORMAT " held back, %"
           G_GUINT64_FORMAT " delivered again and dropped", self->name ?: "nats", self->pushed,
           self->replayed, self->refused, self->held, self->duplicates);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = nats_source_start;
  iface->stop_source = nats_source_stop;
}

/* --- GInitable ----------------------------------------------------------------------- */

static gboolean
nats_source_init_finish (GInitable     *initable,
                         GCancellable  *cancellable,
                         GError       **error)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (initable);
  g_autoptr(GError) local = NULL;
  CdvizNatsNativeKeys native = {
    &self->servers, (int *) &self->mode, &self->stream, &self->consumer
  };

  if (!cdviz_nats_options_resolve (&self->options, &native, error))
    return FALSE;
  self->server_list = cdviz_nats_split_servers (self->servers, error);
  if (self->server_list == NULL)
    return FALSE;
  if (self->subject == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “subject” is required (the NATS subject to read, wildcards "
                             "allowed, e.g. \"cdevents.>\")"));
      return FALSE;
    }
  if (!cdviz_nats_subject_is_valid (self->subject, TRUE))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “subject”: “%s” is not a NATS subject (dot-separated tokens, "
                     "“*” for one token, “>” last for the rest)"), self->subject);
      return FALSE;
    }
  if (self->mode == CDVIZ_NATS_MODE_JETSTREAM && (self->stream == NULL || self->consumer == NULL))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("mode = \"jetstream\" needs keys “stream” (the stream's name) and "
                             "“consumer” (this node's durable consumer)"));
      return FALSE;
    }
  if (self->replay_last > 0 && self->options.deliver_policy_set)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("keys “replay_last” and “jetstream.deliver_policy” both say "
                             "where a new consumer starts; give one"));
      return FALSE;
    }
  if (self->replay_last > 0 && self->mode != CDVIZ_NATS_MODE_JETSTREAM)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “replay_last” needs mode = \"jetstream\""));
      return FALSE;
    }
  if (self->metadata != NULL && !JSON_NODE_HOLDS_OBJECT (self->metadata) &&
      !JSON_NODE_HOLDS_NULL (self->metadata))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “metadata”: expected a table"));
      return FALSE;
    }
  if (self->metadata != NULL && JSON_NODE_HOLDS_NULL (self->metadata))
    g_clear_pointer (&self->metadata, json_node_unref);
  if (self->headers != NULL)
    {
      self->validator = cdviz_header_validator_new (self->headers, &local);
      if (self->validator == NULL)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “headers”: %s"), local->message);
          return FALSE;
        }
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = nats_source_init_finish;
}

/* --- GObject --------------------------------------------------------------------------- */

static void
cdviz_nats_source_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (object);

  switch (prop_id)
    {
    case PROP_SERVERS: g_value_set_string (value, self->servers); break;
    case PROP_SUBJECT: g_value_set_string (value, self->subject); break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_STREAM: g_value_set_string (value, self->stream); break;
    case PROP_CONSUMER: g_value_set_string (value, self->consumer); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_HEADERS_TO_KEEP: g_value_set_boxed (value, self->headers_to_keep); break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    case PROP_CREATE_STREAM: g_value_set_boolean (value, self->create_stream); break;
    case PROP_REPLICAS: g_value_set_uint (value, self->replicas); break;
    case PROP_REPLAY_LAST: g_value_set_uint (value, self->replay_last); break;
    case PROP_BATCH: g_value_set_uint (value, self->batch); break;
    case PROP_ACK_WAIT: g_value_set_uint64 (value, self->ack_wait); break;
    default:
      if (!cdviz_nats_options_get_property (&self->options, PROP_FIRST_OPTION, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_nats_source_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (object);

  switch (prop_id)
    {
    case PROP_SERVERS: g_free (self->servers); self->servers = g_value_dup_string (value); break;
    case PROP_SUBJECT: g_free (self->subject); self->subject = g_value_dup_string (value); break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_STREAM: g_free (self->stream); self->stream = g_value_dup_string (value); break;
    case PROP_CONSUMER:
      g_free (self->consumer);
      self->consumer = g_value_dup_string (value);
      break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_HEADERS_TO_KEEP:
      g_strfreev (self->headers_to_keep);
      self->headers_to_keep = g_value_dup_boxed (value);
      break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    case PROP_CREATE_STREAM: self->create_stream = g_value_get_boolean (value); break;
    case PROP_REPLICAS: self->replicas = g_value_get_uint (value); break;
    case PROP_REPLAY_LAST: self->replay_last = g_value_get_uint (value); break;
    case PROP_BATCH: self->batch = g_value_get_uint (value); break;
    case PROP_ACK_WAIT: self->ack_wait = g_value_get_uint64 (value); break;
    default:
      if (!cdviz_nats_options_set_property (&self->options, PROP_FIRST_OPTION, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_nats_source_finalize (GObject *object)
{
  CdvizNatsSource *self = CDVIZ_NATS_SOURCE (object);

  if (self->thread != NULL)
    g_warning ("source '%s' finalized while running; stop the pipeline first", self->name);
  g_free (self->servers);
  g_free (self->subject);
  g_free (self->stream);
  g_free (self->consumer);
  cdviz_nats_options_clear (&self->options);
  g_clear_pointer (&self->headers, json_node_unref);
  g_strfreev (self->headers_to_keep);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_strfreev (self->server_list);
  g_clear_object (&self->validator);
  g_free (self->name);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (cdviz_nats_source_parent_class)->finalize (object);
}

static void
cdviz_nats_source_class_init (CdvizNatsSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_nats_source_get_property;
  object_class->set_property = cdviz_nats_source_set_property;
  object_class->finalize = cdviz_nats_source_finalize;

  properties[PROP_SERVERS] =
    g_param_spec_string ("servers", NULL,
                         "NATS server URLs, comma-separated (required, or `url`); the source "
                         "reconnects to any of them for ever",
                         NULL, flags);
  properties[PROP_SUBJECT] =
    g_param_spec_string ("subject", NULL,
                         "Subject to subscribe to (core) or to filter the consumer on "
                         "(jetstream); wildcards allowed (required)",
                         NULL, flags);
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", NULL,
                       "\"core\" (subscription: what is published while the node is down is "
                       "lost) or \"jetstream\" (durable pull consumer: acknowledged once the "
                       "pipeline accepted the message, delivered again otherwise)",
                       CDVIZ_TYPE_NATS_MODE, CDVIZ_NATS_MODE_CORE, flags);
  properties[PROP_STREAM] =
    g_param_spec_string ("stream", NULL, "jetstream mode: the stream's name (required there)",
                         NULL, flags);
  properties[PROP_CONSUMER] =
    g_param_spec_string ("consumer", NULL,
                         "jetstream mode: the durable consumer's name (required there), "
                         "created when missing; one per node for every node to get every "
                         "message, shared to split them",
                         NULL, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Rules incoming messages' headers must pass (header name → rule), "
                        "as the webhook source's; a refused message is logged and dropped",
                        JSON_TYPE_NODE, flags);
  properties[PROP_HEADERS_TO_KEEP] =
    g_param_spec_boxed ("headers-to-keep", NULL,
                        "Message headers passed on to the pipeline (names)",
                        G_TYPE_STRV, flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "Metadata of every event (a table); nats_subject and, in jetstream "
                        "mode, nats_sequence are added to it",
                        JSON_TYPE_NODE, flags);
  properties[PROP_CREATE_STREAM] =
    g_param_spec_boolean ("create-stream", NULL,
                          "jetstream mode: create the stream (capturing subject) when it does "
                          "not exist, as cdviz-collector does; false: refuse to start",
                          TRUE, flags);
  properties[PROP_REPLICAS] =
    g_param_spec_uint ("replicas", NULL, "Replicas of a stream this source creates",
                       1, 5, 1, flags);
  properties[PROP_REPLAY_LAST] =
    g_param_spec_uint ("replay-last", NULL,
                       "jetstream mode: at start, read the last N stream messages before the "
                       "consumer's position again (not acknowledged again), so that an SSE "
                       "sink's ring holds them after a restart; set it to that sink's "
                       "buffer_size (not in cdviz-collector)",
                       0, 1000000, 0, flags);
  properties[PROP_BATCH] =
    g_param_spec_uint ("batch", NULL, "jetstream mode: messages asked for per fetch",
                       1, 4096, 64, flags);
  properties[PROP_ACK_WAIT] =
    cdviz_param_spec_duration ("ack-wait", NULL,
                               "jetstream mode: how long the server waits for an "
                               "acknowledgement before delivering a message again (of a "
                               "consumer this source creates)",
                               1, G_MAXUINT32, 30000, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  cdviz_nats_options_install (object_class, PROP_FIRST_OPTION, TRUE);
}

static void
cdviz_nats_source_init (CdvizNatsSource *self)
{
  self->create_stream = TRUE;
  self->replicas = 1;
  self->batch = 64;
  self->ack_wait = 30000;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}
