/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-db-writer.h"

G_BEGIN_DECLS

/* What the writer (cdviz-db-writer.c: queue, pool, thread) and its
 * connections (cdviz-db-conn.c: one libpq connection's state machine)
 * share. Everything here runs on the writer's thread, except the fields
 * marked "under lock". */

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
  GPtrArray *conns;             /* Conn (owned, freed by _cdviz_db_conn_close) */
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

/* cdviz-db-writer.c */
void      _cdviz_db_entry_free            (Entry            *entry);
void      _cdviz_db_entries_free          (GPtrArray        *batch);
gint      _cdviz_db_entry_compare         (gconstpointer     a,
                                           gconstpointer     b,
                                           gpointer          user_data);
void      _cdviz_db_entries_done          (CdvizDbWriter    *self,
                                           guint             n);
char     *_cdviz_db_one_line              (CdvizDbWriter    *self,
                                           const char       *message);
void      _cdviz_db_writer_failed         (CdvizDbWriter    *self,
                                           CdvizDbErrorKind  kind,
                                           const char       *sqlstate,
                                           const char       *message);
void      _cdviz_db_writer_connected      (CdvizDbWriter    *self);
void      _cdviz_db_writer_schedule_kick  (CdvizDbWriter    *self);

/* cdviz-db-conn.c */
Conn     *_cdviz_db_conn_new              (CdvizDbWriter    *self,
                                           PGconn           *pg,
                                           ConnState         state);
void      _cdviz_db_conn_open             (CdvizDbWriter    *self);
void      _cdviz_db_conn_set_ready        (Conn             *conn);
void      _cdviz_db_conn_watch            (Conn             *conn,
                                           GIOCondition      condition);
gboolean  _cdviz_db_conn_dispatch         (Conn             *conn);
void      _cdviz_db_conn_close            (Conn             *conn);

G_END_DECLS
