/* SPDX-License-Identifier: Apache-2.0 */
/* db-anchor: what PostgreSQL itself takes to store the db sink's rows, the
 * anchor of tests/bench/db-bench.py. Each of --clients connections (one
 * thread each) does what one connection of the db sink does
 * (plugins/db/cdviz-db-conn.c): prepares `CALL cdviz.store_cdevent($1::jsonb)`
 * with $1 of type text, enters pipeline mode, then sends --depth
 * PQsendQueryPrepared (the event's bytes as a binary-format text value)
 * and one PQpipelineSync per round trip: one implicit transaction, one
 * commit, as the sink's batches. --depth 1 is the sink's pipeline_depth = 1.
 * The events are sse-pub's, byte for byte (what the webhook hands the sink):
 * context.id "anchor-<run>-<i>", subject.content {"seq": i, "ts": <ns>}.
 * Connections take the next --depth events from one shared counter, so
 * --clients 1 is the sink's single connection in flight (one
 * context.source) and --clients 4 what PostgreSQL does with four.
 *
 * pgbench cannot be this anchor: its variables are numbers, so a script
 * cannot send one different jsonb text per statement as the sink does
 * without another statement (\gset: one more round trip each) or another
 * SQL text (building the JSON on the server).
 *
 * Prints one JSON line: rows, elapsed_s (first send to the last Sync's
 * answer, after the connections are up), rows_per_s, p50/p99 ms from an
 * event's send to its commit's answer, errors.
 *
 *   db-anchor --url postgresql://… --count N [--clients C] [--depth D]
 *             [--run ID]
 */
#include "bench-common.h"

#include <pthread.h>
#include <libpq-fe.h>

#define STATEMENT "cdviz_store_cdevent"
#define SQL "CALL cdviz.store_cdevent($1::jsonb)"
#define TEXTOID 25

static const char *url;
static const char *run_id;
static int64_t count;
static int depth;
static int64_t next_event;           /* atomic */
static int64_t *latency_ns;          /* per event */
static int64_t errors;               /* atomic */
static pthread_barrier_t ready;
static int64_t t0;

static void
pg_die (PGconn *pg, const char *what)
{
  fprintf (stderr, "db-anchor: %s: %s", what, PQerrorMessage (pg));
  exit (2);
}

static void *
client (void *data)
{
  PGconn *pg = PQconnectdb (url);
  PGresult *r;
  static const Oid types[1] = { TEXTOID };
  static const int formats[1] = { 1 };
  char (*bodies)[512] = calloc ((size_t) depth, 512);
  int64_t *sent = calloc ((size_t) depth, sizeof (int64_t));

  (void) data;
  if (PQstatus (pg) != CONNECTION_OK)
    pg_die (pg, "connect");
  r = PQprepare (pg, STATEMENT, SQL, 1, types);
  if (PQresultStatus (r) != PGRES_COMMAND_OK)
    pg_die (pg, "prepare");
  PQclear (r);
  if (!PQenterPipelineMode (pg))
    pg_die (pg, "pipeline mode");
  pthread_barrier_wait (&ready);
  pthread_barrier_wait (&ready);   /* t0 is set */

  for (;;)
    {
      int64_t first = __atomic_fetch_add (&next_event, depth, __ATOMIC_RELAXED);
      int n = (int) (first + depth <= count ? depth : count - first);
      int64_t done;

      if (n <= 0)
        break;
      for (int k = 0; k < n; k++)
        {
          int64_t i = first + k;
          const char *values[1] = { bodies[k] };
          int lengths[1];

          sent[k] = now_ns ();
          lengths[0] = snprintf (bodies[k], 512,
            "{\"context\":{\"version\":\"0.4.1\",\"id\":\"anchor-%s-%lld\","
            "\"source\":\"/bench/publisher\",\"type\":\"dev.cdevents.build.started.0.2.0\","
            "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
            "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
            "\"content\":{\"seq\":%lld,\"ts\":%lld}}}",
            run_id, (long long) i, (long long) i, (long long) sent[k]);
          if (!PQsendQueryPrepared (pg, STATEMENT, 1, values, lengths, formats, 0))
            pg_die (pg, "send");
        }
      if (!PQpipelineSync (pg))
        pg_die (pg, "sync");
      /* One result then NULL per statement, then the Sync's. */
      for (int k = 0; k < n; k++)
        {
          while ((r = PQgetResult (pg)) != NULL)
            {
              if (PQresultStatus (r) != PGRES_COMMAND_OK)
                {
                  if (__atomic_fetch_add (&errors, 1, __ATOMIC_RELAXED) == 0)
                    fprintf (stderr, "db-anchor: %s", PQresultErrorMessage (r));
                }
              PQclear (r);
            }
        }
      r = PQgetResult (pg);
      if (PQresultStatus (r) != PGRES_PIPELINE_SYNC)
        pg_die (pg, "expected the Sync's result");
      PQclear (r);
      done = now_ns ();
      for (int k = 0; k < n; k++)
        latency_ns[first + k] = done - sent[k];
    }
  PQexitPipelineMode (pg);
  PQfinish (pg);
  free (bodies);
  free (sent);
  return NULL;
}

int
main (int argc, char **argv)
{
  int clients = atoi (arg_value (argc, argv, "--clients", "1"));
  pthread_t *threads;
  int64_t t_end;
  double elapsed;

  url = arg_value (argc, argv, "--url", NULL);
  run_id = arg_value (argc, argv, "--run", "0");
  count = atoll (arg_value (argc, argv, "--count", "10000"));
  depth = atoi (arg_value (argc, argv, "--depth", "64"));
  if (url == NULL || count <= 0 || clients <= 0 || depth <= 0)
    {
      fprintf (stderr, "usage: db-anchor --url URL --count N [--clients C] [--depth D] "
               "[--run ID]\n");
      return 2;
    }
  latency_ns = calloc ((size_t) count, sizeof (int64_t));
  threads = calloc ((size_t) clients, sizeof (pthread_t));
  pthread_barrier_init (&ready, NULL, (unsigned) clients + 1);
  for (int c = 0; c < clients; c++)
    pthread_create (&threads[c], NULL, client, NULL);
  pthread_barrier_wait (&ready);
  t0 = now_ns ();
  pthread_barrier_wait (&ready);
  for (int c = 0; c < clients; c++)
    pthread_join (threads[c], NULL);
  t_end = now_ns ();
  elapsed = (t_end - t0) / 1e9;

  qsort (latency_ns, (size_t) count, sizeof (int64_t), cmp_i64);
  printf ("{\"rows\": %lld, \"clients\": %d, \"depth\": %d, \"elapsed_s\": %.6f, "
          "\"rows_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %lld}\n",
          (long long) count, clients, depth, elapsed, count / elapsed,
          latency_ns[(count - 1) / 2] / 1e6, latency_ns[(count * 99 - 1) / 100] / 1e6,
          (long long) errors);
  return errors > 0 ? 1 : 0;
}
