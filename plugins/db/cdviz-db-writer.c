/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-db-writer-private.h"

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

/* --- entries ----------------------------------------------------------- */

void
_cdviz_db_entry_free (Entry *entry)
{
  if (entry == NULL)
    return;
  g_object_unref (entry->message);
  g_free (entry);
}

void
_cdviz_db_entries_free (GPtrArray *batch)
{
  for (guint i = 0; i < batch->len; i++)
    _cdviz_db_entry_free (g_ptr_array_index (batch, i));
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

gint
_cdviz_db_entry_compare (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const Entry *ea = a, *eb = b;

  return ea->seq < eb->seq ? -1 : ea->seq > eb->seq;
}

/* @n entries are done (stored, duplicates or refused): room for the
 * pipeline thread, and maybe the end of a stop. */
void
_cdviz_db_entries_done (CdvizDbWriter *self,
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
char *
_cdviz_db_one_line (CdvizDbWriter *self,
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
void
_cdviz_db_writer_failed (CdvizDbWriter    *self,
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

void
_cdviz_db_writer_connected (CdvizDbWriter *self)
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

/* --- the pool ---------------------------------------------------------- */

static gboolean
retry_due (gpointer data)
{
  CdvizDbWriter *self = data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  _cdviz_db_writer_schedule_kick (self);
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

      if (conn->state == CONN_IDLE && !_cdviz_db_conn_dispatch (conn))
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
  _cdviz_db_conn_open (self);
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
void
_cdviz_db_writer_schedule_kick (CdvizDbWriter *self)
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
          _cdviz_db_conn_close (conn);
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
      conn = _cdviz_db_conn_new (self, first, CONN_IDLE);
      _cdviz_db_conn_set_ready (conn);
      _cdviz_db_conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
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

      _cdviz_db_entries_free (conn->batch);
      g_ptr_array_set_size (conn->batch, 0);
      _cdviz_db_conn_close (conn);
    }
  g_queue_clear_full (&self->waiting, (GDestroyNotify) _cdviz_db_entry_free);
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
