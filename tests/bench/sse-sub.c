/* SPDX-License-Identifier: Apache-2.0 */
/* sse-sub: opens N Server-Sent Events subscribers over loopback with epoll
 * and reads their streams exactly (HTTP/1.1 chunked decoding, SSE fields).
 * Each event's data is expected to hold "seq":<n> and "ts":<CLOCK_MONOTONIC
 * ns at publish time> (sse-pub embeds them): it counts events per client,
 * detects gaps and duplicates, and records the latency now - ts.
 *
 * More than --per-proc clients are spread over forked processes (the
 * descriptor limit is per process). When every client has its response
 * head (status 200) it prints "READY <n>" on stdout, then runs until each
 * client received --events events (seq 0 .. events-1), or --hold seconds
 * passed (idle test), or --timeout seconds passed, or no event came for
 * --idle-timeout seconds after the first one (connecting is bounded by
 * --connect-timeout, default 300 s; --concurrency, default 8, bounds the
 * connections waiting for their response head: cdviz-pipeline listens with
 * a backlog of 10 and more in flight overflow it). Then it prints one JSON line
 * of results. Exit status 0, or 1 when a client failed or missed events.
 *
 *   sse-sub --port P --path /sse/bench --clients N [--events E]
 *           [--hold S] [--timeout S] [--idle-timeout S] [--per-proc K]
 *           [--concurrency C] [--connect-timeout S] [--host 127.0.0.1]
 */
#include "bench-common.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define LINE_MAX_LEN 8192
#define HIST_LINEAR 10000            /* 10 µs buckets up to 100 ms */
#define HIST_LOG 100000              /* then 1 ms buckets up to 100 s */
#define HIST_N (HIST_LINEAR + HIST_LOG + 1)

typedef struct {
  int64_t clients, connected, failed, closed_early, complete;
  int64_t events, other_events, comments, gaps, dups, bad_status, closed_in_head, connect_errors;
  int64_t first_recv_ns, last_recv_ns, min_ts_ns, ready_ns, connect_ns;
  int64_t body_bytes, lat_count, missing;
  double lat_sum_us, lat_max_us;
  double cpu_s;
  uint32_t hist[HIST_N];
} Stats;

enum { C_CONNECTING, C_HEAD, C_STREAM, C_CLOSED };

typedef struct {
  int fd;
  int state;
  HttpResp resp;
  int64_t next_seq;         /* the next expected seq */
  int64_t received;
  int64_t distinct;         /* distinct seqs in [0, --events) */
  uint8_t *seen;            /* bitmap of those (several publishers may reorder) */
  /* current SSE event */
  int is_cdevent;           /* event type "cdevent", "message" or none */
  int has_type;
  int64_t seq, ts;
  /* current line */
  char line[LINE_MAX_LEN];
  size_t line_len;
  int saw_cr;
} Client;

static Stats *stats;
static int64_t opt_events;
static int64_t dispatch_now;

static void
hist_add (Stats *s, double us)
{
  size_t b;
  if (us < 0)
    us = 0;
  if (us < 100000.0)
    b = (size_t) (us / 10.0);
  else
    {
      b = HIST_LINEAR + (size_t) ((us - 100000.0) / 1000.0);
      if (b >= HIST_N)
        b = HIST_N - 1;
    }
  s->hist[b]++;
  s->lat_count++;
  s->lat_sum_us += us;
  if (us > s->lat_max_us)
    s->lat_max_us = us;
}

static double
hist_bucket_us (size_t b)
{
  if (b < HIST_LINEAR)
    return b * 10.0 + 5.0;
  return 100000.0 + (b - HIST_LINEAR) * 1000.0 + 500.0;
}

static void
sse_dispatch (Client *c)
{
  if (c->seq >= 0 && (c->is_cdevent || !c->has_type))
    {
      Stats *s = stats;
      s->events++;
      if (s->first_recv_ns == 0)
        s->first_recv_ns = dispatch_now;
      s->last_recv_ns = dispatch_now;
      if (c->ts > 0)
        {
          if (s->min_ts_ns == 0 || c->ts < s->min_ts_ns)
            s->min_ts_ns = c->ts;
          hist_add (s, (dispatch_now - c->ts) / 1000.0);
        }
      /* gaps: out-of-order arrivals (a later seq before an earlier one);
       * loss is counted exactly from the bitmap. */
      if (c->seq > c->next_seq)
        s->gaps += c->seq - c->next_seq;
      if (c->seq >= c->next_seq)
        c->next_seq = c->seq + 1;
      c->received++;
      if (c->seen != NULL && c->seq < opt_events)
        {
          uint8_t bit = (uint8_t) (1u << (c->seq & 7));
          if (c->seen[c->seq >> 3] & bit)
            s->dups++;
          else
            {
              c->seen[c->seq >> 3] |= bit;
              c->distinct++;
              if (c->distinct == opt_events)
                s->complete++;
            }
        }
    }
  else if (c->has_type || c->seq >= 0)
    stats->other_events++;
  c->is_cdevent = 0;
  c->has_type = 0;
  c->seq = -1;
  c->ts = -1;
}

static void
sse_line (Client *c)
{
  char *l = c->line;
  size_t n = c->line_len;

  if (n == 0)
    {
      if (c->has_type || c->seq >= 0)
        sse_dispatch (c);
      return;
    }
  if (l[0] == ':')
    {
      stats->comments++;
      return;
    }
  if (n >= 6 && memcmp (l, "event:", 6) == 0)
    {
      const char *v = l + 6;
      size_t vl = n - 6;
      if (vl > 0 && *v == ' ')
        v++, vl--;
      c->has_type = 1;
      c->is_cdevent = (vl == 7 && memcmp (v, "cdevent", 7) == 0) ||
                      (vl == 7 && memcmp (v, "message", 7) == 0);
    }
  else if (n >= 5 && memcmp (l, "data:", 5) == 0)
    {
      int64_t seq = json_int_after (l, n, "\"seq\"");
      int64_t ts = json_int_after (l, n, "\"ts\"");
      if (seq >= 0)
        c->seq = seq;
      if (ts >= 0)
        c->ts = ts;
      if (seq < 0 && !c->has_type)
        c->has_type = 1;   /* a data line without seq: not ours */
    }
}

static void
on_body (void *user, const char *data, size_t len)
{
  Client *c = user;
  const char *p = data, *end = data + len;

  stats->body_bytes += len;
  while (p < end)
    {
      const char *nl;

      if (c->saw_cr)
        {
          c->saw_cr = 0;
          if (*p == '\n')
            {
              p++;
              continue;
            }
        }
      /* SSE lines end at LF, CR or CRLF; the streams measured use LF. */
      nl = memchr (p, '\n', (size_t) (end - p));
      {
        const char *cr = memchr (p, '\r', (size_t) ((nl ? nl : end) - p));
        if (cr != NULL)
          nl = cr;
      }
      {
        size_t n = (size_t) ((nl ? nl : end) - p);
        size_t room = LINE_MAX_LEN - c->line_len;
        memcpy (c->line + c->line_len, p, n < room ? n : room);   /* long lines: truncated */
        c->line_len += n < room ? n : room;
      }
      if (nl == NULL)
        break;
      c->saw_cr = *nl == '\r';
      sse_line (c);
      c->line_len = 0;
      p = nl + 1;
    }
}

static int
run (const char *host, int port, const char *path, int n_clients, double hold,
     double timeout, double connect_timeout, double idle_timeout, int concurrency,
     int ready_fd)
{
  Client *clients = calloc ((size_t) n_clients, sizeof (Client));
  struct epoll_event evs[512];
  char request[1024];
  size_t request_len;
  char buf[65536];
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  int started = 0, pending = 0, streaming = 0, open_clients = 0;
  int64_t t0 = now_ns ();
  int64_t ready_at = 0, deadline_connect = t0 + (int64_t) (connect_timeout * 1e9);
  int64_t deadline = 0;
  int rc = 0;

  if (clients == NULL || ep < 0)
    die ("setup");
  request_len = (size_t) snprintf (request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                                   "Accept: text/event-stream\r\n"
                                   "Cache-Control: no-cache\r\n\r\n",
                                   path, host, port);
  stats->clients = n_clients;

  for (;;)
    {
      int64_t now;
      int n, wait_ms;

      /* Keep at most `concurrency` connections waiting for their head. */
      while (started < n_clients && pending < concurrency)
        {
          Client *c = &clients[started];
          struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
          c->fd = connect_nb (host, port);
          c->seq = c->ts = -1;
          if (c->fd < 0)
            {
              fprintf (stderr, "sse-sub: connect: %s\n", strerror (errno));
              stats->failed++;
              c->state = C_CLOSED;
              started++;
              continue;
            }
          http_resp_reset (&c->resp);
          if (opt_events > 0 && c->seen == NULL)
            c->seen = calloc ((size_t) (opt_events + 7) / 8, 1);
          c->state = C_CONNECTING;
          epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
          started++;
          pending++;
          open_clients++;
        }

      now = now_ns ();
      if (ready_at == 0 && started == n_clients && pending == 0)
        {
          ready_at = now;
          stats->ready_ns = now;
          stats->connect_ns = now - t0;
          stats->connected = streaming;
          if (write (ready_fd, "r", 1) != 1)
            die ("ready");
          if (hold > 0)
            deadline = now + (int64_t) (hold * 1e9);
          else
            deadline = now + (int64_t) (timeout * 1e9);
        }
      if (ready_at == 0 && now > deadline_connect)
        {
          fprintf (stderr, "sse-sub: connect phase timed out (%d pending)\n", pending);
          rc = 1;
          break;
        }
      if (ready_at != 0)
        {
          if (now >= deadline)
            break;
          if (opt_events > 0 && stats->complete >= streaming)
            break;
          if (open_clients == 0)
            break;
          if (hold <= 0 && stats->last_recv_ns > 0 &&
              now - stats->last_recv_ns > (int64_t) (idle_timeout * 1e9))
            break;
        }

      wait_ms = 100;
      n = epoll_wait (ep, evs, 512, wait_ms);
      if (n < 0 && errno != EINTR)
        die ("epoll_wait");
      for (int i = 0; i < n; i++)
        {
          Client *c = evs[i].data.ptr;

          if (c->state == C_CONNECTING)
            {
              int err = 0;
              socklen_t el = sizeof err;
              struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
              getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
              if (err != 0 || send (c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t) request_len)
                {
                  if (stats->connect_errors++ < 5)
                    fprintf (stderr, "sse-sub: connect/send: %s\n", strerror (err ? err : errno));
                  stats->failed++;
                  goto close_client;
                }
              c->state = C_HEAD;
              epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
              continue;
            }

          for (int reads = 0; reads < 4; reads++)
            {
              ssize_t got = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);
              size_t used;

              if (got < 0)
                {
                  if (errno == EAGAIN || errno == EINTR)
                    break;
                  got = 0;
                }
              if (got == 0)
                {
                  if (c->state == C_HEAD)
                    {
                      stats->failed++;
                      stats->closed_in_head++;
                    }
                  else
                    stats->closed_early++;
                  goto close_client;
                }
              dispatch_now = now_ns ();
              used = http_resp_feed (&c->resp, buf, (size_t) got, on_body, c);
              (void) used;
              if (c->state == C_HEAD && c->resp.state >= HS_BODY_RAW)
                {
                  pending--;
                  if (c->resp.status != 200)
                    {
                      stats->bad_status++;
                      stats->failed++;
                      fprintf (stderr, "sse-sub: status %d\n", c->resp.status);
                      c->state = C_STREAM;
                      goto close_client;
                    }
                  c->state = C_STREAM;
                  streaming++;
                }
              if (c->resp.state == HS_DONE || c->resp.state == HS_ERROR)
                {
                  if (c->state == C_HEAD)
                    stats->failed++;
                  else
                    stats->closed_early++;
                  goto close_client;
                }
              if ((size_t) got < sizeof buf)
                break;
            }
          continue;

        close_client:
          if (c->state == C_CONNECTING || c->state == C_HEAD)
            pending--;
          if (c->state == C_STREAM && c->resp.status == 200)
            streaming--;
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          close (c->fd);
          c->state = C_CLOSED;
          open_clients--;
        }
    }

  if (ready_at == 0)
    {
      stats->connected = streaming;
      if (write (ready_fd, "r", 1) != 1)
        die ("ready");
    }
  for (int i = 0; i < n_clients; i++)
    {
      if (clients[i].state != C_CLOSED)
        close (clients[i].fd);
      /* Loss among the clients that were streaming. */
      if (opt_events > 0 && clients[i].resp.status == 200)
        stats->missing += opt_events - clients[i].distinct;
      free (clients[i].seen);
    }
  stats->cpu_s = cpu_seconds (RUSAGE_SELF);
  free (clients);
  return rc;
}

static double
percentile (const Stats *s, double p)
{
  uint64_t target = (uint64_t) (p * s->lat_count);
  uint64_t acc = 0;
  if (s->lat_count == 0)
    return 0;
  for (size_t b = 0; b < HIST_N; b++)
    {
      acc += s->hist[b];
      if (acc > target)
        return hist_bucket_us (b);
    }
  return hist_bucket_us (HIST_N - 1);
}

int
main (int argc, char **argv)
{
  const char *host = arg_value (argc, argv, "--host", "127.0.0.1");
  int port = atoi (arg_value (argc, argv, "--port", "0"));
  const char *path = arg_value (argc, argv, "--path", "/sse/bench");
  int n_clients = atoi (arg_value (argc, argv, "--clients", "1"));
  double hold = atof (arg_value (argc, argv, "--hold", "0"));
  double timeout = atof (arg_value (argc, argv, "--timeout", "120"));
  double idle_timeout = atof (arg_value (argc, argv, "--idle-timeout", "10"));
  double connect_timeout = atof (arg_value (argc, argv, "--connect-timeout", "300"));
  int per_proc = atoi (arg_value (argc, argv, "--per-proc", "15000"));
  int concurrency = atoi (arg_value (argc, argv, "--concurrency", "8"));
  int n_procs, ready_pipe[2];
  rlim_t nofile = raise_nofile ();
  Stats *all, total;
  pid_t *pids;
  int failed = 0;
  char c;

  opt_events = atoll (arg_value (argc, argv, "--events", "0"));
  if (port <= 0 || n_clients <= 0)
    {
      fprintf (stderr, "usage: sse-sub --port P --clients N [--path /sse/ID] [--events E] "
               "[--hold S] [--timeout S] [--idle-timeout S] [--per-proc K] [--concurrency C]\n");
      return 2;
    }
  if ((rlim_t) per_proc + 64 > nofile)
    per_proc = (int) nofile - 64;
  n_procs = (n_clients + per_proc - 1) / per_proc;
  signal (SIGPIPE, SIG_IGN);

  all = mmap (NULL, sizeof (Stats) * (size_t) n_procs, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (all == MAP_FAILED || pipe (ready_pipe) < 0)
    die ("mmap/pipe");
  memset (all, 0, sizeof (Stats) * (size_t) n_procs);
  pids = calloc ((size_t) n_procs, sizeof (pid_t));

  for (int p = 0; p < n_procs; p++)
    {
      int share = n_clients / n_procs + (p < n_clients % n_procs ? 1 : 0);
      pids[p] = fork ();
      if (pids[p] < 0)
        die ("fork");
      if (pids[p] == 0)
        {
          close (ready_pipe[0]);
          stats = &all[p];
          _exit (run (host, port, path, share, hold, timeout, connect_timeout, idle_timeout,
                      (concurrency + n_procs - 1) / n_procs, ready_pipe[1]));
        }
    }
  close (ready_pipe[1]);
  for (int p = 0; p < n_procs; p++)
    if (read (ready_pipe[0], &c, 1) != 1)
      break;

  memset (&total, 0, sizeof total);
  {
    int64_t connected = 0, connect_ns = 0;
    for (int p = 0; p < n_procs; p++)
      {
        connected += all[p].connected;
        if (all[p].connect_ns > connect_ns)
          connect_ns = all[p].connect_ns;
      }
    printf ("READY %lld %.3f\n", (long long) connected, connect_ns / 1e9);
    fflush (stdout);
  }

  for (int p = 0; p < n_procs; p++)
    {
      int status;
      waitpid (pids[p], &status, 0);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        failed = 1;
    }

  for (int p = 0; p < n_procs; p++)
    {
      Stats *s = &all[p];
      total.clients += s->clients;
      total.connected += s->connected;
      total.failed += s->failed;
      total.closed_early += s->closed_early;
      total.complete += s->complete;
      total.events += s->events;
      total.other_events += s->other_events;
      total.comments += s->comments;
      total.gaps += s->gaps;
      total.dups += s->dups;
      total.bad_status += s->bad_status;
      total.closed_in_head += s->closed_in_head;
      total.connect_errors += s->connect_errors;
      total.body_bytes += s->body_bytes;
      total.missing += s->missing;
      total.lat_count += s->lat_count;
      total.lat_sum_us += s->lat_sum_us;
      total.cpu_s += s->cpu_s;
      if (s->lat_max_us > total.lat_max_us)
        total.lat_max_us = s->lat_max_us;
      if (s->first_recv_ns && (!total.first_recv_ns || s->first_recv_ns < total.first_recv_ns))
        total.first_recv_ns = s->first_recv_ns;
      if (s->last_recv_ns > total.last_recv_ns)
        total.last_recv_ns = s->last_recv_ns;
      if (s->min_ts_ns && (!total.min_ts_ns || s->min_ts_ns < total.min_ts_ns))
        total.min_ts_ns = s->min_ts_ns;
      if (s->connect_ns > total.connect_ns)
        total.connect_ns = s->connect_ns;
      for (size_t b = 0; b < HIST_N; b++)
        total.hist[b] += s->hist[b];
    }

  {
    double span = total.min_ts_ns && total.last_recv_ns > total.min_ts_ns
                  ? (total.last_recv_ns - total.min_ts_ns) / 1e9 : 0;
    int64_t expected = opt_events * total.connected;
    int64_t missing = total.missing;
    printf ("{\"clients\": %lld, \"connected\": %lld, \"failed\": %lld, \"connect_errors\": %lld, "
            "\"closed_before_head\": %lld, \"bad_status\": %lld, \"closed_early\": %lld, "
            "\"connect_s\": %.3f, \"events\": %lld, \"expected\": %lld, \"missing\": %lld, "
            "\"reordered\": %lld, \"dups\": %lld, \"complete\": %lld, \"other_events\": %lld, "
            "\"comments\": %lld, \"body_bytes\": %lld, \"span_s\": %.6f, "
            "\"events_per_s\": %.1f, \"lat_count\": %lld, \"lat_mean_ms\": %.3f, "
            "\"lat_p50_ms\": %.3f, \"lat_p90_ms\": %.3f, \"lat_p99_ms\": %.3f, "
            "\"lat_p999_ms\": %.3f, \"lat_max_ms\": %.3f, \"cpu_s\": %.3f, \"procs\": %d}\n",
            (long long) total.clients, (long long) total.connected, (long long) total.failed,
            (long long) total.connect_errors, (long long) total.closed_in_head,
            (long long) total.bad_status, (long long) total.closed_early, total.connect_ns / 1e9, (long long) total.events,
            (long long) expected, (long long) missing, (long long) total.gaps,
            (long long) total.dups, (long long) total.complete, (long long) total.other_events,
            (long long) total.comments, (long long) total.body_bytes, span,
            span > 0 ? total.events / span : 0.0, (long long) total.lat_count,
            total.lat_count ? total.lat_sum_us / total.lat_count / 1000.0 : 0.0,
            percentile (&total, 0.50) / 1000.0, percentile (&total, 0.90) / 1000.0,
            percentile (&total, 0.99) / 1000.0, percentile (&total, 0.999) / 1000.0,
            total.lat_max_us / 1000.0, total.cpu_s, n_procs);
    fflush (stdout);
    if (total.failed > 0 || missing > 0)
      failed = 1;
  }
  return failed;
}
