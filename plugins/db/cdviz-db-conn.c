/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-db-writer-private.h"

/* One libpq connection of the writer's pool, on the writer's thread: its
 * socket watched by a GSource (conn_io), PQconnectPoll() until connected,
 * then pipeline mode and the statement prepared (which checks that
 * cdviz.store_cdevent(jsonb) exists), then round trips: a batch of events
 * and one Sync (one transaction), or, after a batch failed on a duplicate
 * or a refused event, each event alone with its own Sync. A connection
 * that fails gives its events back to the writer's queue in sequence order
 * and closes (conn_fail); the writer decides when to open another. See the
 * comment at the top of cdviz-db-writer.c for the whole design. */

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
void
_cdviz_db_conn_watch (Conn         *conn,
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

Conn *
_cdviz_db_conn_new (CdvizDbWriter *self,
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

void
_cdviz_db_conn_set_ready (Conn *conn)
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
void
_cdviz_db_conn_close (Conn *conn)
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
  g_autofree char *text = _cdviz_db_one_line (self, message);

  g_mutex_lock (&self->lock);
  for (guint i = from; i < conn->batch->len; i++)
    g_queue_insert_sorted (&self->waiting, g_ptr_array_index (conn->batch, i),
                           _cdviz_db_entry_compare, NULL);
  g_mutex_unlock (&self->lock);
  /* The ones before @from were done and freed. */
  g_ptr_array_set_size (conn->batch, 0);
  _cdviz_db_conn_close (conn);
  _cdviz_db_writer_failed (self, kind, sqlstate, text);
  _cdviz_db_writer_schedule_kick (self);
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
  _cdviz_db_conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP | (r > 0 ? G_IO_OUT : 0));
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
  _cdviz_db_conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
}

/* Takes waiting events this connection may send: at most pipeline_depth,
 * of buckets no other connection owns. Returns FALSE if @conn is gone. */
gboolean
_cdviz_db_conn_dispatch (Conn *conn)
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
  _cdviz_db_conn_set_ready (conn);
  _cdviz_db_writer_connected (conn->writer);
  conn_idle (conn);
  /* Maybe more connections are wanted now. */
  _cdviz_db_writer_schedule_kick (conn->writer);
  return _cdviz_db_conn_dispatch (conn);
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

          _cdviz_db_entries_free (conn->batch);
          CDVIZ_DB_COUNT (self->counters->stored, n);
          _cdviz_db_entries_done (self, n);
          conn_idle (conn);
          return _cdviz_db_conn_dispatch (conn);
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
            g_autofree char *text = _cdviz_db_one_line (self, message);

            CDVIZ_DB_COUNT (self->counters->failed, 1);
            g_warning (_("Sink %s: PostgreSQL refused event %s, which is dropped: [%s] %s"),
                       self->name, cdviz_message_get_id (entry->message) ?: "(no id)",
                       state ? state : "", text);
          }
        _cdviz_db_entry_free (entry);
        g_ptr_array_index (conn->batch, conn->next) = NULL;
        _cdviz_db_entries_done (self, 1);
        conn->next++;
        if (conn->next < conn->batch->len)
          return conn_send_single (conn);
        conn_idle (conn);
        return _cdviz_db_conn_dispatch (conn);
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
          _cdviz_db_conn_watch (conn, G_IO_IN | G_IO_ERR | G_IO_HUP);
          return TRUE;
        case PGRES_POLLING_WRITING:
          _cdviz_db_conn_watch (conn, G_IO_OUT | G_IO_ERR | G_IO_HUP);
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

void
_cdviz_db_conn_open (CdvizDbWriter *self)
{
  PGconn *pg = PQconnectStartParams ((const char * const *) self->info->keywords,
                                     (const char * const *) self->info->values, 0);
  Conn *conn;

  if (pg == NULL)
    {
      _cdviz_db_writer_failed (self, CDVIZ_DB_ERROR_TRANSIENT, NULL, "out of memory");
      return;
    }
  if (PQstatus (pg) == CONNECTION_BAD)
    {
      g_autofree char *text = _cdviz_db_one_line (self, PQerrorMessage (pg));

      PQfinish (pg);
      _cdviz_db_writer_failed (self, CDVIZ_DB_ERROR_TRANSIENT, NULL, text);
      return;
    }
  conn = _cdviz_db_conn_new (self, pg, CONN_CONNECTING);
  _cdviz_db_conn_watch (conn, G_IO_OUT | G_IO_ERR | G_IO_HUP);
  if (self->options.acquire_timeout_ms > 0)
    {
      conn->timeout = g_timeout_source_new (self->options.acquire_timeout_ms);
      g_source_set_callback (conn->timeout, conn_timed_out, conn, NULL);
      g_source_set_static_name (conn->timeout, "[cdviz] db connect timeout");
      g_source_attach (conn->timeout, self->context);
    }
}

