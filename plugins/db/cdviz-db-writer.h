/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>
#include <libpq-fe.h>

#include "cdviz-db-conninfo.h"

G_BEGIN_DECLS

/* The db sink's writer: a bounded queue of accepted events and the thread
 * that stores them (cdviz-db-writer.c). The pipeline thread pushes; the
 * writer's own thread (`db-<sink>`) owns a small pool of non-blocking libpq
 * connections, each watched by a GSource on the writer's GMainContext. */

typedef struct _CdvizDbWriter CdvizDbWriter;

typedef struct {
  guint min_connections;
  guint max_connections;
  guint pipeline_depth;        /* events per round trip at most; 1: no pipelining */
  guint queue_capacity;        /* events accepted and not yet stored, at most */
  guint64 acquire_timeout_ms;  /* a connection attempt longer than this fails */
  guint64 idle_timeout_ms;     /* connections beyond the minimum idle this long close (0: never) */
  guint64 max_lifetime_ms;     /* connections this old are replaced when idle (0: never) */
  guint64 warn_after_ms;       /* an outage this long is said again at warning level */
  guint64 grace_ms;            /* at stop, how long the events still queued may take */
} CdvizDbWriterOptions;

/* What /metrics shows; atomics, owned by the sink so that they outlive a
 * writer (a failed start builds a new one). */
typedef struct {
  gsize stored;
  gsize duplicates;
  gsize failed;
  gsize retries;
  gsize waits;         /* times the pipeline thread waited for room */
  gint queue_length;
  gint connections;
} CdvizDbCounters;

#define CDVIZ_DB_COUNT(counter, n) ((void) g_atomic_pointer_add (&(counter), (n)))
#define CDVIZ_DB_COUNTER(counter) ((guint64) (gsize) g_atomic_pointer_get (&(counter)))

/* The name of the statement every connection prepares. */
#define CDVIZ_DB_STATEMENT "cdviz_store_cdevent"
#define CDVIZ_DB_SQL "CALL cdviz.store_cdevent($1::jsonb)"

/* Connects once, blocking (with the conninfo's connect_timeout), and
 * prepares the statement: the checks a start makes when `lazy_connection`
 * is false. Runs on the starting thread. Returns the connection to give to
 * cdviz_db_writer_start(). */
PGconn        *cdviz_db_connect_and_check (const CdvizDbConninfo      *info,
                                           GError                    **error);

CdvizDbWriter *cdviz_db_writer_new        (const char                 *name,
                                           const CdvizDbConninfo      *info,
                                           const CdvizDbWriterOptions *options,
                                           CdvizDbCounters            *counters);
/* Starts the thread; @first (nullable, taken) is a checked connection. */
gboolean       cdviz_db_writer_start      (CdvizDbWriter              *self,
                                           PGconn                     *first,
                                           GError                    **error);
/* The pipeline thread: queues @message; waits while the queue is full, so
 * that the pipeline's own queue fills and sources refuse (503). Once
 * @pipeline stops (nullable: never), the wait ends after the grace period
 * and the event is queued beyond the bound. */
void           cdviz_db_writer_push       (CdvizDbWriter              *self,
                                           CdvizMessage               *message,
                                           CdvizPipeline              *pipeline);
/* Waits until every queued event is stored or the grace period (counted
 * from when the pipeline began to stop) is over, then stops the thread and
 * closes the connections. Returns how many events were not stored. */
guint          cdviz_db_writer_stop       (CdvizDbWriter              *self);
void           cdviz_db_writer_free       (CdvizDbWriter              *self);

G_END_DECLS
