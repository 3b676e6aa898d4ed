/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-db-writer.h"

/* The writer: what the db sink accepted, on its way into PostgreSQL.
 *
 * Queue. The pipeline thread appends each event, with a sequence number, to
 * one queue bounded by `queue_capacity` (events accepted and not yet stored,
 * in flight included). When it is full, push() waits: the pipeline thread
 * stops taking events, the pipeline's queue fills and the webhook answers
 * 503 with Retry-After. Nothing accepted is dropped; an event PostgreSQL
 * itself refuses (a value jsonb cannot hold, say) is the one exception,
 * counted and logged with its id.
 *
 * Connections. The writer's thread owns a pool of at most
 * `pool_connections_max` libpq connections in pipeline mode, each a
 * non-blocking socket watched by a GSource on the writer's GMainContext.
 * An idle connection takes the events waiting at the head of the queue (at
 * most `pipeline_depth`), sends one `CALL cdviz.store_cdevent($1::jsonb)`
 * each (a statement prepared once per connection) and one Sync: one round
 * trip and one commit for the lot. When a batch fails on an event (a
 * duplicate, SQLSTATE 23505, or an event PostgreSQL refuses), the whole
 * implicit transaction is rolled back, and its events are sent again one
 * at a time, each its own transaction: a duplicate then counts as stored.
 * A new connection opens when events wait that no open connection can take.
 *
 * Order. Each event belongs to one of 64 buckets by its `context.source`. A
 * bucket is owned by the connection that has events of it in flight, and
 * only that connection takes its next events; a connection that fails
 * gives its events back to the queue in sequence order before anything of
 * theirs is sent again. So events of one source are stored in the order
 * they were accepted, whatever the pool size, and sources still spread
 * over connections.
 *
 * Failures. A connection that fails (refused, reset, restarted server,
 * authentication, schema missing) gives its events back and closes; new
 * connections are tried after an exponential backoff (none for the first
 * failure, then 200 ms doubling up to 5 s, ±20 %), for as long as it
 * takes. The first failure of an outage, and each different one, is logged
 * at warning level with the number of events waiting; an outage longer
 * than `total_duration_of_retries` is said again. libpq's messages are
 * logged with the password redacted.
 *
 * Stop. stop() waits until the queue is empty or the grace period is over,
 * counted from when the pipeline began to stop, then closes everything and
 * returns how many events were left.
 */

#define N_BUCKETS 64
#define SCAN_EXTRA 256
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000
#define PUSH_POLL_US (100 * G_TIME_SPAN_MILLISECOND)
#define TEXTOID 25

typedef struct {
  CdvizMessage *message;        /* (owned) */
  guint64 seq;
  guint bucket;
} Entry;

typedef enum {
  CONN_CONNECTING,              /* PQconnectPoll() */
  CONN_PREPARING,               /* the statement's Parse, then Sync */
  CONN_IDLE,
  CONN_BATCH,                   /* batch->len statements, one Sync */
  CONN_SINGLE,                  /* batch[next] alone, its own Sync */
} ConnState;

typedef struct _Conn Conn;

typedef struct {
  GSource source;
  Conn *conn;
} ConnSource;

struct _Conn {
  CdvizDbWriter *writer;
  PGconn *pg;
  ConnState state;
  gboolean ready;               /* counted in counters->connections */
  GSource *source;              /* (owned) ConnSource */
  gpointer fd_tag;
  int fd;
  GSource *timeout;             /* (owned) (nullable): connecting and preparing */
  gint64 opened_at;
  gint64 idle_since;
  GPtrArray *batch;             /* (owned) Entry, in flight, sequence order;
                                 * CONN_SINGLE: NULL before next (done) */
  guint next;                   /* CONN_SINGLE: the index in flight */
  guint n_results;              /* queries of this round trip whose result came */
  gboolean got_result;          /* a result of the current query came */
  char *error_state;            /* first error of the round trip: SQLSTATE */
  char *error_message;
  guint64 buckets;              /* the buckets this connection owns */
};

struct _CdvizDbWriter {
  char *name;
  const CdvizDbConninfo *info;  /* the sink's, outlives the writer */
  CdvizDbWriterOptions options;
  CdvizDbCounters *counters;    /* the sink's */

  GMutex lock;
  GCond cond;                   /* room in the queue, or an event done */
  GQueue waiting;               /* Entry, sequence order; under lock */
  guint in_queue;               /* waiting + in flight; under lock */
  guint64 next_seq;             /* under lock */
  gboolean wake_pending;        /* under lock */
  gint64 stop_began;            /* under lock; 0 until the pipeline stops */

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* The writer's thread only. */
  GPtrArray *conns;             /* Conn (owned, freed by conn_close) */
  Conn *owners[N_BUCKETS];
  guint failures;               /* in a row */
  gint64 retry_at;              /* no new connection before (monotonic µs) */
  gint64 outage_since;          /* 0: connected, or never failed */
  gboolean outage_said_long;
  char *last_error;             /* the last failure logged at warning level */
  GSource *retry_source;
  GSource *kick_source;
  GSource *maintenance;
};

static void     writer_schedule_kick (CdvizDbWriter *self);
static gboolean conn_dispatch        (Conn          *conn);

/* --- entries ----------------------------------------------------------- */

static void
entry_free (Entry *entry)
{
  if (entry == NULL)
    return;
  g_object_unref (entry->message);
  g_free (entry);
}

static void
free_batch_entries (GPtrArray *batch)
{
  for (guint i = 0; i < batch->len; i++)
    entry_free (g_ptr_array_index (batch, i));
}

static guint
bucket_of (CdvizMessage *message)
{
  JsonNode *body = cdviz_message_get_body (message);
  JsonObject *object, *context;
  const char *source;

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    return 0;
  object = json_node_get_object (body);
  context = json_object_get_object_member (object, "context");
  if (context == NULL)
    return 0;
  source = json_object_get_string_member_with_default (context, "source", NULL);
  return source != NULL ? g_str_hash (source) % N_BUCKETS : 0;
}

static gint
entry_compare (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const Entry *ea = a, *eb = b;

  return ea->seq < eb->seq ? -1 : ea->seq > eb->seq;
}

/* @n entries are done (stored, duplicates or refused): room for the
 * pipeline thread, and maybe the end of a stop. */
static void
entries_done (CdvizDbWriter *self,
              guint          n)
{
  g_mutex_lock (&self->lock);
  self->in_queue -= n;
  g_atomic_int_set (&self->counters->queue_length, self->in_queue);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* --- logging ----------------------------------------------------------- */

/* libpq's multi-line messages on one line, without the password. */
static char *
one_line (CdvizDbWriter *self,
          const char    *message)
{
  g_autofree char *redacted = cdviz_db_conninfo_redact (self->info, message);
  g_auto(GStrv) words = g_strsplit_set (redacted, " \t\r\n", -1);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      {
        if (out->len > 0)
          g_string_append_c (out, ' ');
        g_string_append (out, words[i]);
      }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const char *
setup_hint (CdvizDbErrorKind kind,
            const char      *sqlstate)
{
  if (kind != CDVIZ_DB_ERROR_SETUP || sqlstate == NULL)
    return "";
  if (g_str_equal (sqlstate, "3F000") || g_str_equal (sqlstate, "42883") ||
      g_str_equal (sqlstate, "42P01") || g_str_equal (sqlstate, "42704"))
    return _(" (the cdviz schema is missing: apply cdviz-db's migrations to this database)");
  if (g_str_equal (sqlstate, "42501"))
    return _(" (the user may not call cdviz.store_cdevent: grant it the privileges)");
  return "";
}

static guint
queue_length (CdvizDbWriter *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->in_queue;
  g_mutex_unlock (&self->lock);
  return n;
}

/* A connection failed or could not open: back off, and say it once per
 * kind of failure. */
static void
writer_failed (CdvizDbWriter    *self,
               CdvizDbErrorKind  kind,
               const char       *sqlstate,
               const char       *message)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree char *text = g_strdup_printf ("%s%s", message, setup_hint (kind, sqlstate));
  guint64 delay_ms = 0;

  self->failures++;
  if (self->failures > 1)
    {
      delay_ms = BACKOFF_FIRST_MS << MIN (self->failures - 2, 5);
      delay_ms = MIN (delay_ms, BACKOFF_MAX_MS);
      delay_ms = (guint64) (delay_ms * g_random_double_range (0.8, 1.2));
    }
  self->retry_at = now + delay_ms * G_TIME_SPAN_MILLISECOND;
  CDVIZ_DB_COUNT (self->counters->retries, 1);
  if (self->outage_since == 0)
    self->outage_since = now;

  if (g_strcmp0 (self->last_error, text) != 0)
    {
      g_warning (_("Sink %s: PostgreSQL at %s: %s; retrying in %.1f s, %u events waiting"),
                 self->name, self->info->description, text, delay_ms / 1000.0,
                 queue_length (self));
      g_free (self->last_error);
      self->last_error = g_steal_pointer (&text);
    }
  else
    g_debug ("Sink %s: PostgreSQL at %s: %s; retrying in %.1f s (failure %u)", self->name,
             self->info->description, text, delay_ms / 1000.0, self->failures);

  if (!self->outage_said_long && self->options.warn_after_ms > 0 &&
      now - self->outage_since >= (gint64) self->options.warn_after_ms * G_TIME_SPAN_MILLISECOND)
    {
      g_warning (_("Sink %s: PostgreSQL at %s has been failing for %u s; the %u events "
                   "accepted are kept and the sink keeps retrying"),
                 self->name, self->info->description,
                 (guint) ((now - self->outage_since) / G_USEC_PER_SEC), queue_length (self));
      self->outage_said_long = TRUE;
    }
}

static void
writer_connected (CdvizDbWriter *self)
{
  if (self->outage_since != 0)
    g_message (_("Sink %s: connected to PostgreSQL at %s again after %.1f s"), self->name,
               self->info->description,
               (g_get_monotonic_time () - self->outage_since) / (double) G_USEC_PER_SEC);
  else
    g_debug ("Sink %s: connected to PostgreSQL at %s", self->name, self->info->description);
  self->failures = 0;
  self->retry_at = 0;
  self->outage_since = 0;
  self->outage_said_long = FALSE;
  g_clear_pointer (&self->last_error, g_free);
}

/* --- connections ------------------------------------------------------- */

static gboolean conn_io (Conn         *conn,
                         GIOCondition  revents);

static gboolean
conn_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  Conn *conn = ((ConnSource *) source)->conn;

  conn_io (conn, g_source_query_unix_fd (source, conn->fd_tag));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_source_funcs = {
  .dispatch = conn_source_dispatch,
};

/* Watches the connection's socket (libpq may change it while connecting)
 * for @condition. */
static void
conn_watch (Conn         *conn,
            GIOCondition  condition)
{
  int fd = PQsocket (conn->pg);

  if (conn->fd_tag != NULL && fd != conn->fd)
    {
      g_source_remove_unix_fd (conn->source, conn->fd_tag);
      conn->fd_tag = NULL;
    }
  conn->fd = fd;
  if (fd < 0)
    return;
  if (conn->fd_tag == NULL)
    conn->fd_tag = g_source_add_unix_fd (conn->source, fd, condition);
  else
    g_source_modify_unix_fd (conn->source, conn->fd_tag, condition);
}

static Conn *
conn_new (CdvizDbWriter *self,
          PGconn        *pg,
          ConnState      state)
{
  Conn *conn = g_new0 (Conn, 1);
  g_autofree char *name = g_strdup_printf ("[cdviz] db %s connection", self->name);

  conn->writer = self;
  conn->pg = pg;
  conn->state = state;
  conn->fd = -1;
  conn->opened_at = conn->idle_since = g_get_monotonic_time ();
  conn->batch = g_ptr_array_new ();
  conn->source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  ((ConnSource *) conn->source)->conn = conn;
  g_source_set_name (conn->source, name);
  g_source_attach (conn->source, self->context);
  g_ptr_array_add (self->conns, conn);
  return conn;
}

static void
conn_set_ready (Conn *conn)
{
  if (!conn->ready)
    {
      conn->ready = TRUE;
      g_atomic_int_inc (&conn->writer->counters->connections);
    }
}

/* Releases the buckets the connection owned. */
static void
conn_release_buckets (Conn *conn)
{
  for (guint b = 0; b < N_BUCKETS; b++)
    if (conn->buckets & (G_GUINT64_CONSTANT (1) << b))
      conn->writer->owners[b] = NULL;
  conn->buckets = 0;
}

/* Closes and frees @conn, whose batch must be empty. */
static void
conn_close (Conn *conn)
{
  CdvizDbWriter *self = conn->writer;

  g_assert (conn->batch->len == 0);
  conn_release_buckets (conn);
  if (conn->ready)
    g_atomic_int_add (&self->counters->connections, -1);
  if (conn->timeout != NULL)
    {
      g_source_destroy (conn->timeout);
      g_clear_pointer (&conn->timeout, g_source_unref);
    }
  g_source_destroy (conn->source);
  g_clear_pointer (&conn->source, g_source_unref);
  PQfinish (conn->pg);
  g_ptr_array_unref (conn->batch);
  g_free (conn->error_state);
  g_free (conn->error_message);
  g_ptr_array_remove_fast (self->conns, conn);
  g_free (conn);
}

/* Gives the events of @conn from @from on back to the queue, in sequence
 * order, then closes it and backs off. @conn is gone afterwards. */
static void
conn_fail (Conn             *conn,
           guint             from,
           CdvizDbErrorKind  kind,
           const char       *sqlstate,
           const char       *message)
{
  CdvizDbWriter *self = conn->writer;
  g_autofree char *text = one_line (self, message);

  g_mutex_lock (&self->lock);
  for (guint i = from; i < conn->batch->len; i++)
    g_queue_insert_sorted (&self->waiting, g_ptr_array_index (conn->batch, i),
                           entry_compare, NULL);
  g_mutex_unlock (&self->lock);
  /* The ones before @from were done and freed. */
  g_ptr_array_set_size (conn->batch, 0);
  conn_close (conn);
  writer_failed (self, kind, sqlstate, text);
  writer_schedule_kick (self);
}

/* The connection broke (libpq's error message says how). */
static void
conn_broken (Conn *conn)
{
  guint from = conn->state == CONN_SINGLE ? conn->next : 0;

  conn_fail (conn, from, CDVIZ_DB_ERROR_TRANSIENT, NULL, PQerrorMessage (conn->pg));
}

static gboolean
conn_timed_out (gpointer data)
{
  Conn *conn = data;
  g_autofree char *message =
    g_strdup_printf (_("no connection within %.1f s (pool_acquire_timeout)"),
                     conn->writer->options.acquire_timeout_ms / 1000.0);

  g_clear_pointer (&conn->timeout, g_source_unref);
  conn_fail (conn, 0, CDVIZ_DB_ERROR_TRANSIENT, NULL, message);
  return G_SOURCE_REMOVE;
}

/* Sends what libpq holds; watches for writability while some is left. */
static gboolean
conn_flush (Conn *conn)
{
  int r = PQflush (conn->pg);

  if (r < 0)
    {
      conn_broken (conn);
      return FALSE;
    }
  conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP | (r > 0 ? G_IO_OUT : 0));
  return TRUE;
}

static gboolean
conn_send_entry (Conn  *conn,
                 Entry *entry)
{
  GBytes *body = cdviz_message_get_body_bytes (entry->message);
  gsize length;
  const char *values[1] = { g_bytes_get_data (body, &length) };
  int lengths[1] = { (int) length };
  static const int formats[1] = { 1 };   /* binary text: the bytes, no NUL needed */

  return PQsendQueryPrepared (conn->pg, CDVIZ_DB_STATEMENT, 1, values, lengths, formats, 0);
}

static void
conn_start_round_trip (Conn      *conn,
                       ConnState  state)
{
  conn->state = state;
  conn->n_results = 0;
  conn->got_result = FALSE;
  g_clear_pointer (&conn->error_state, g_free);
  g_clear_pointer (&conn->error_message, g_free);
}

/* Sends batch[next] as its own transaction. */
static gboolean
conn_send_single (Conn *conn)
{
  conn_start_round_trip (conn, CONN_SINGLE);
  if (!conn_send_entry (conn, g_ptr_array_index (conn->batch, conn->next)) ||
      !PQpipelineSync (conn->pg))
    {
      conn_broken (conn);
      return FALSE;
    }
  return conn_flush (conn);
}

static gboolean
conn_send_batch (Conn *conn)
{
  conn_start_round_trip (conn, CONN_BATCH);
  for (guint i = 0; i < conn->batch->len; i++)
    if (!conn_send_entry (conn, g_ptr_array_index (conn->batch, i)))
      {
        conn_broken (conn);
        return FALSE;
      }
  if (!PQpipelineSync (conn->pg))
    {
      conn_broken (conn);
      return FALSE;
    }
  return conn_flush (conn);
}

/* Back to idle: nothing in flight, buckets free. */
static void
conn_idle (Conn *conn)
{
  g_ptr_array_set_size (conn->batch, 0);
  conn_release_buckets (conn);
  conn->state = CONN_IDLE;
  conn->idle_since = g_get_monotonic_time ();
  conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
}

/* Takes waiting events this connection may send: at most pipeline_depth,
 * of buckets no other connection owns. Returns FALSE if @conn is gone. */
static gboolean
conn_dispatch (Conn *conn)
{
  CdvizDbWriter *self = conn->writer;
  guint depth = MAX (self->options.pipeline_depth, 1);
  guint scanned = 0;
  GList *l;

  g_assert (conn->state == CONN_IDLE && conn->batch->len == 0);

  g_mutex_lock (&self->lock);
  l = self->waiting.head;
  while (l != NULL && conn->batch->len < depth && scanned < depth + SCAN_EXTRA)
    {
      GList *next = l->next;
      Entry *entry = l->data;
      Conn *owner = self->owners[entry->bucket];

      scanned++;
      if (owner == NULL || owner == conn)
        {
          g_queue_delete_link (&self->waiting, l);
          g_ptr_array_add (conn->batch, entry);
          self->owners[entry->bucket] = conn;
          conn->buckets |= G_GUINT64_CONSTANT (1) << entry->bucket;
        }
      l = next;
    }
  g_mutex_unlock (&self->lock);

  if (conn->batch->len == 0)
    return TRUE;
  conn->next = 0;
  if (conn->batch->len == 1)
    return conn_send_single (conn);
  return conn_send_batch (conn);
}

/* Ready to send: the statement exists on the connection. */
static gboolean
conn_ready (Conn *conn)
{
  if (conn->timeout != NULL)
    {
      g_source_destroy (conn->timeout);
      g_clear_pointer (&conn->timeout, g_source_unref);
    }
  conn_set_ready (conn);
  writer_connected (conn->writer);
  conn_idle (conn);
  /* Maybe more connections are wanted now. */
  writer_schedule_kick (conn->writer);
  return conn_dispatch (conn);
}

/* One round trip's Sync came: what its results mean. */
static gboolean
conn_round_trip_done (Conn *conn)
{
  CdvizDbWriter *self = conn->writer;
  CdvizDbErrorKind kind = conn->error_state != NULL || conn->error_message != NULL
                          ? cdviz_db_classify_sqlstate (conn->error_state)
                          : CDVIZ_DB_ERROR_TRANSIENT;
  gboolean failed = conn->error_message != NULL;
  g_autofree char *state = g_strdup (conn->error_state);
  g_autofree char *message = g_strdup (conn->error_message);

  switch (conn->state)
    {
    case CONN_PREPARING:
      if (failed)
        {
          conn_fail (conn, 0, kind, state, message);
          return FALSE;
        }
      return conn_ready (conn);

    case CONN_BATCH:
      if (!failed)
        {
          guint n = conn->batch->len;

          free_batch_entries (conn->batch);
          CDVIZ_DB_COUNT (self->counters->stored, n);
          entries_done (self, n);
          conn_idle (conn);
          return conn_dispatch (conn);
        }
      if (kind == CDVIZ_DB_ERROR_DUPLICATE || kind == CDVIZ_DB_ERROR_EVENT)
        {
          /* The batch was rolled back: each event alone now. */
          g_debug ("Sink %s: a batch of %u failed on [%s] %s; sending them one by one",
                   self->name, conn->batch->len, state ? state : "", message);
          conn->next = 0;
          return conn_send_single (conn);
        }
      conn_fail (conn, 0, kind, state, message);
      return FALSE;

    case CONN_SINGLE:
      {
        Entry *entry = g_ptr_array_index (conn->batch, conn->next);

        if (failed && kind != CDVIZ_DB_ERROR_DUPLICATE && kind != CDVIZ_DB_ERROR_EVENT)
          {
            conn_fail (conn, conn->next, kind, state, message);
            return FALSE;
          }
        if (!failed)
          CDVIZ_DB_COUNT (self->counters->stored, 1);
        else if (kind == CDVIZ_DB_ERROR_DUPLICATE)
          {
            CDVIZ_DB_COUNT (self->counters->duplicates, 1);
            g_debug ("Sink %s: event %s was already stored", self->name,
                     cdviz_message_get_id (entry->message) ?: "(no id)");
          }
        else
          {
            g_autofree char *text = one_line (self, message);

            CDVIZ_DB_COUNT (self->counters->failed, 1);
            g_warning (_("Sink %s: PostgreSQL refused event %s, which is dropped: [%s] %s"),
                       self->name, cdviz_message_get_id (entry->message) ?: "(no id)",
                       state ? state : "", text);
          }
        entry_free (entry);
        g_ptr_array_index (conn->batch, conn->next) = NULL;
        entries_done (self, 1);
        conn->next++;
        if (conn->next < conn->batch->len)
          return conn_send_single (conn);
        conn_idle (conn);
        return conn_dispatch (conn);
      }

    case CONN_CONNECTING:
    case CONN_IDLE:
    default:
      g_warn_if_reached ();
      return TRUE;
    }
}

/* Reads every result libpq has; returns FALSE if @conn is gone. */
static gboolean
conn_read_results (Conn *conn)
{
  while ((conn->state == CONN_PREPARING || conn->state == CONN_BATCH ||
          conn->state == CONN_SINGLE) && !PQisBusy (conn->pg))
    {
      PGresult *result = PQgetResult (conn->pg);
      ExecStatusType status;

      if (result == NULL)
        {
          if (!conn->got_result)
            break;
          conn->got_result = FALSE;
          conn->n_results++;
          continue;
        }
      status = PQresultStatus (result);
      if (status == PGRES_PIPELINE_SYNC)
        {
          PQclear (result);
          if (!conn_round_trip_done (conn))
            return FALSE;
          continue;
        }
      conn->got_result = TRUE;
      if ((status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) &&
          conn->error_message == NULL)
        {
          const char *sqlstate = PQresultErrorField (result, PG_DIAG_SQLSTATE);
          const char *primary = PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY);

          conn->error_state = g_strdup (sqlstate);
          conn->error_message = g_strdup (primary != NULL ? primary
                                          : PQresultErrorMessage (result));
        }
      PQclear (result);
    }

  if (PQstatus (conn->pg) == CONNECTION_BAD)
    {
      conn_broken (conn);
      return FALSE;
    }
  return TRUE;
}

/* Connected: pipeline mode, and the statement prepared (which also checks
 * that cdviz.store_cdevent(jsonb) exists). */
static gboolean
conn_prepare (Conn *conn)
{
  static const Oid types[1] = { TEXTOID };

  if (PQsetnonblocking (conn->pg, 1) != 0 || !PQenterPipelineMode (conn->pg))
    {
      conn_broken (conn);
      return FALSE;
    }
  conn_start_round_trip (conn, CONN_PREPARING);
  if (!PQsendPrepare (conn->pg, CDVIZ_DB_STATEMENT, CDVIZ_DB_SQL, 1, types) ||
      !PQpipelineSync (conn->pg))
    {
      conn_broken (conn);
      return FALSE;
    }
  return conn_flush (conn);
}

static gboolean
conn_io (Conn         *conn,
         GIOCondition  revents)
{
  if (conn->state == CONN_CONNECTING)
    {
      switch (PQconnectPoll (conn->pg))
        {
        case PGRES_POLLING_READING:
          conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
          return TRUE;
        case PGRES_POLLING_WRITING:
          conn_watch (conn, G_IO_OUT | G_IO_ERR | G_IO_HUP);
          return TRUE;
        case PGRES_POLLING_OK:
          return conn_prepare (conn);
        case PGRES_POLLING_FAILED:
        default:
          {
            /* The server's SQLSTATE (28P01, 3D000) is not in libpq's API
             * here; its message is. */
            conn_fail (conn, 0, CDVIZ_DB_ERROR_TRANSIENT, NULL, PQerrorMessage (conn->pg));
            return FALSE;
          }
        }
    }

  if ((revents & G_IO_OUT) && !conn_flush (conn))
    return FALSE;
  if (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP))
    {
      if (!PQconsumeInput (conn->pg))
        {
          conn_broken (conn);
          return FALSE;
        }
      if (conn->state == CONN_IDLE)
        {
          /* Nothing asked: the server is closing (a restart, an admin's
           * pg_terminate_backend) or sent a notice. */
          if (PQstatus (conn->pg) == CONNECTION_BAD)
            {
              conn_broken (conn);
              return FALSE;
            }
          return TRUE;
        }
      return conn_read_results (conn);
    }
  return TRUE;
}

static void
conn_open (CdvizDbWriter *self)
{
  PGconn *pg = PQconnectStartParams ((const char * const *) self->info->keywords,
                                     (const char * const *) self->info->values, 0);
  Conn *conn;

  if (pg == NULL)
    {
      writer_failed (self, CDVIZ_DB_ERROR_TRANSIENT, NULL, "out of memory");
      return;
    }
  if (PQstatus (pg) == CONNECTION_BAD)
    {
      g_autofree char *text = one_line (self, PQerrorMessage (pg));

      PQfinish (pg);
      writer_failed (self, CDVIZ_DB_ERROR_TRANSIENT, NULL, text);
      return;
    }
  conn = conn_new (self, pg, CONN_CONNECTING);
  conn_watch (conn, G_IO_OUT | G_IO_ERR | G_IO_HUP);
  if (self->options.acquire_timeout_ms > 0)
    {
      conn->timeout = g_timeout_source_new (self->options.acquire_timeout_ms);
      g_source_set_callback (conn->timeout, conn_timed_out, conn, NULL);
      g_source_set_static_name (conn->timeout, "[cdviz] db connect timeout");
      g_source_attach (conn->timeout, self->context);
    }
}

/* --- the pool ---------------------------------------------------------- */

static gboolean
retry_due (gpointer data)
{
  CdvizDbWriter *self = data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  writer_schedule_kick (self);
  return G_SOURCE_REMOVE;
}

/* Whether a waiting event could go on a new connection: its bucket is
 * free. */
static gboolean
has_free_waiting (CdvizDbWriter *self)
{
  gboolean found = FALSE;
  guint scanned = 0;

  g_mutex_lock (&self->lock);
  for (GList *l = self->waiting.head; l != NULL && scanned < SCAN_EXTRA; l = l->next, scanned++)
    if (self->owners[((Entry *) l->data)->bucket] == NULL)
      {
        found = TRUE;
        break;
      }
  g_mutex_unlock (&self->lock);
  return found;
}

/* Gives waiting events to idle connections and opens one more connection
 * when events wait that none can take (or below the minimum), after the
 * backoff. */
static void
writer_kick (CdvizDbWriter *self)
{
  guint n_connecting = 0;
  gboolean want;

  for (guint i = 0; i < self->conns->len;)
    {
      Conn *conn = g_ptr_array_index (self->conns, i);

      if (conn->state == CONN_IDLE && !conn_dispatch (conn))
        continue;   /* gone: another one is at index i now */
      i++;
    }
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (self->conns, i);

      if (conn->state == CONN_CONNECTING || conn->state == CONN_PREPARING)
        n_connecting++;
    }

  want = self->conns->len < self->options.min_connections || has_free_waiting (self);
  if (!want || n_connecting > 0 || self->conns->len >= self->options.max_connections)
    return;

  if (g_get_monotonic_time () < self->retry_at)
    {
      if (self->retry_source == NULL)
        {
          gint64 wait_ms = (self->retry_at - g_get_monotonic_time ()) / 1000 + 1;

          self->retry_source = g_timeout_source_new (MAX (wait_ms, 1));
          g_source_set_callback (self->retry_source, retry_due, self, NULL);
          g_source_set_static_name (self->retry_source, "[cdviz] db retry");
          g_source_attach (self->retry_source, self->context);
        }
      return;
    }
  conn_open (self);
}

static gboolean
kick_due (gpointer data)
{
  CdvizDbWriter *self = data;

  g_clear_pointer (&self->kick_source, g_source_unref);
  writer_kick (self);
  return G_SOURCE_REMOVE;
}

/* A kick from an idle source, never nested in a connection's callback. */
static void
writer_schedule_kick (CdvizDbWriter *self)
{
  if (self->kick_source != NULL)
    return;
  self->kick_source = g_idle_source_new ();
  g_source_set_callback (self->kick_source, kick_due, self, NULL);
  g_source_set_static_name (self->kick_source, "[cdviz] db kick");
  g_source_attach (self->kick_source, self->context);
}

/* From the pipeline thread: new events. */
static gboolean
wake_due (gpointer data)
{
  CdvizDbWriter *self = data;

  g_mutex_lock (&self->lock);
  self->wake_pending = FALSE;
  g_mutex_unlock (&self->lock);
  writer_kick (self);
  return G_SOURCE_REMOVE;
}

/* Every second: idle connections past pool_idle_timeout (beyond the
 * minimum) or past pool_max_lifetime close; the minimum is kept. */
static gboolean
maintenance_due (gpointer data)
{
  CdvizDbWriter *self = data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < self->conns->len;)
    {
      Conn *conn = g_ptr_array_index (self->conns, i);
      gboolean idle_too_long = self->options.idle_timeout_ms > 0 &&
        self->conns->len > self->options.min_connections &&
        now - conn->idle_since >= (gint64) self->options.idle_timeout_ms * G_TIME_SPAN_MILLISECOND;
      gboolean too_old = self->options.max_lifetime_ms > 0 &&
        now - conn->opened_at >= (gint64) self->options.max_lifetime_ms * G_TIME_SPAN_MILLISECOND;

      if (conn->state == CONN_IDLE && (idle_too_long || too_old))
        {
          g_debug ("Sink %s: closing a connection %s", self->name,
                   too_old ? "past pool_max_lifetime" : "idle past pool_idle_timeout");
          conn_close (conn);
          continue;
        }
      i++;
    }
  writer_kick (self);
  return G_SOURCE_CONTINUE;
}

static gpointer
writer_thread (gpointer data)
{
  CdvizDbWriter *self = data;

  g_main_context_push_thread_default (self->context);
  writer_kick (self);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* --- the API ----------------------------------------------------------- */

PGconn *
cdviz_db_connect_and_check (const CdvizDbConninfo  *info,
                            GError                **error)
{
  static const Oid types[1] = { TEXTOID };
  PGconn *pg = PQconnectdbParams ((const char * const *) info->keywords,
                                  (const char * const *) info->values, 0);
  PGresult *result;

  if (pg == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory");
      return NULL;
    }
  if (PQstatus (pg) != CONNECTION_OK)
    {
      g_autofree char *redacted = cdviz_db_conninfo_redact (info, PQerrorMessage (pg));

      g_strstrip (redacted);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                   _("cannot connect to PostgreSQL at %s: %s"), info->description,
                   g_strdelimit (redacted, "\n\t", ' '));
      PQfinish (pg);
      return NULL;
    }

  result = PQprepare (pg, CDVIZ_DB_STATEMENT, CDVIZ_DB_SQL, 1, types);
  if (PQresultStatus (result) != PGRES_COMMAND_OK)
    {
      const char *sqlstate = PQresultErrorField (result, PG_DIAG_SQLSTATE);
      const char *primary = PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY);
      CdvizDbErrorKind kind = cdviz_db_classify_sqlstate (sqlstate);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("PostgreSQL at %s cannot store events: %s%s"), info->description,
                   primary != NULL ? primary : PQerrorMessage (pg),
                   setup_hint (kind == CDVIZ_DB_ERROR_TRANSIENT ? CDVIZ_DB_ERROR_SETUP : kind,
                               sqlstate ? sqlstate : "42883"));
      PQclear (result);
      PQfinish (pg);
      return NULL;
    }
  PQclear (result);
  return pg;
}

CdvizDbWriter *
cdviz_db_writer_new (const char                 *name,
                     const CdvizDbConninfo      *info,
                     const CdvizDbWriterOptions *options,
                     CdvizDbCounters            *counters)
{
  CdvizDbWriter *self = g_new0 (CdvizDbWriter, 1);

  self->name = g_strdup (name);
  self->info = info;
  self->options = *options;
  self->options.max_connections = MAX (self->options.max_connections, 1);
  self->options.queue_capacity = MAX (self->options.queue_capacity, 1);
  self->counters = counters;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->waiting);
  self->conns = g_ptr_array_new ();
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  return self;
}

gboolean
cdviz_db_writer_start (CdvizDbWriter  *self,
                       PGconn         *first,
                       GError        **error)
{
  g_autofree char *thread_name = g_strdup_printf ("db-%s", self->name);

  g_return_val_if_fail (self->thread == NULL, FALSE);

  if (first != NULL)
    {
      Conn *conn;

      if (PQsetnonblocking (first, 1) != 0 || !PQenterPipelineMode (first))
        {
          PQfinish (first);
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "cannot put the connection in pipeline mode");
          return FALSE;
        }
      conn = conn_new (self, first, CONN_IDLE);
      conn_set_ready (conn);
      conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
    }

  self->maintenance = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->maintenance, maintenance_due, self, NULL);
  g_source_set_static_name (self->maintenance, "[cdviz] db pool maintenance");
  g_source_attach (self->maintenance, self->context);

  self->thread = g_thread_try_new (thread_name, writer_thread, self, error);
  return self->thread != NULL;
}

void
cdviz_db_writer_push (CdvizDbWriter *self,
                      CdvizMessage  *message,
                      CdvizPipeline *pipeline)
{
  Entry *entry = g_new0 (Entry, 1);
  gboolean wake;

  entry->message = g_object_ref (message);
  entry->bucket = bucket_of (message);

  g_mutex_lock (&self->lock);
  if (self->in_queue >= self->options.queue_capacity)
    {
      CDVIZ_DB_COUNT (self->counters->waits, 1);
      g_debug ("Sink %s: queue full (%u events); the pipeline waits", self->name,
               self->in_queue);
    }
  while (self->in_queue >= self->options.queue_capacity)
    {
      gint64 now = g_get_monotonic_time ();

      if (self->stop_began == 0 && pipeline != NULL && !cdviz_pipeline_is_running (pipeline))
        self->stop_began = now;
      if (self->stop_began != 0 &&
          now >= self->stop_began + (gint64) self->options.grace_ms * G_TIME_SPAN_MILLISECOND)
        break;   /* stopping, grace period over: counted as left at stop */
      g_cond_wait_until (&self->cond, &self->lock, now + PUSH_POLL_US);
    }
  entry->seq = self->next_seq++;
  g_queue_push_tail (&self->waiting, entry);
  self->in_queue++;
  g_atomic_int_set (&self->counters->queue_length, self->in_queue);
  wake = !self->wake_pending;
  self->wake_pending = TRUE;
  g_mutex_unlock (&self->lock);

  if (wake)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, wake_due, self, NULL);
      g_source_set_static_name (source, "[cdviz] db wake");
      g_source_attach (source, self->context);
      g_source_unref (source);
    }
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

guint
cdviz_db_writer_stop (CdvizDbWriter *self)
{
  guint left;
  gint64 deadline;

  g_mutex_lock (&self->lock);
  if (self->stop_began == 0)
    self->stop_began = g_get_monotonic_time ();
  deadline = self->stop_began + (gint64) self->options.grace_ms * G_TIME_SPAN_MILLISECOND;
  while (self->thread != NULL && self->in_queue > 0 && g_get_monotonic_time () < deadline)
    g_cond_wait_until (&self->cond, &self->lock, deadline);
  left = self->in_queue;
  g_mutex_unlock (&self->lock);

  if (self->thread != NULL)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, quit_loop, self->loop, NULL);
      g_source_attach (source, self->context);
      g_source_unref (source);
      g_thread_join (g_steal_pointer (&self->thread));
    }

  /* The thread is gone: its connections and sources are ours. */
  while (self->conns->len > 0)
    {
      Conn *conn = g_ptr_array_index (self->conns, 0);

      free_batch_entries (conn->batch);
      g_ptr_array_set_size (conn->batch, 0);
      conn_close (conn);
    }
  g_queue_clear_full (&self->waiting, (GDestroyNotify) entry_free);
  g_mutex_lock (&self->lock);
  self->in_queue = 0;
  g_atomic_int_set (&self->counters->queue_length, 0);
  g_mutex_unlock (&self->lock);
  return left;
}

void
cdviz_db_writer_free (CdvizDbWriter *self)
{
  if (self == NULL)
    return;
  g_warn_if_fail (self->thread == NULL);
  if (self->thread == NULL)
    cdviz_db_writer_stop (self);
  if (self->retry_source != NULL)
    g_source_destroy (self->retry_source);
  g_clear_pointer (&self->retry_source, g_source_unref);
  if (self->kick_source != NULL)
    g_source_destroy (self->kick_source);
  g_clear_pointer (&self->kick_source, g_source_unref);
  if (self->maintenance != NULL)
    g_source_destroy (self->maintenance);
  g_clear_pointer (&self->maintenance, g_source_unref);
  g_ptr_array_unref (self->conns);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->last_error);
  g_free (self->name);
  g_free (self);
}
