/* SPDX-License-Identifier: Apache-2.0 */
/* sse-producer: serves one long-lived Server-Sent Events stream carrying
 * --events CDEvents as fast as the socket takes them: what a regional
 * cdviz node's SSE sink sends a central node's SSE source, without the
 * regional node's cost (stream-bench.py, doc/performance.md "Stream
 * ingest"). Blocking writes of 64 KiB HTTP/1.1 chunks, each holding as
 * many whole frames as fit:
 *
 *   event: cdevent\nid: bench-<run>-<i>\ndata: <CDEvent>\n\n
 *
 * the CDEvent in the shape sse-pub posts, subject.content = {"seq": i,
 * "ts": <CLOCK_MONOTONIC ns when its chunk was formatted>}, so that
 * sse-sub measures loss and latency through the consumer.
 *
 * It listens on 127.0.0.1:--port, answers the first GET with 200 and the
 * stream's head, prints "CONNECTED" on stdout, then waits for a line on
 * stdin (the benchmark's go, once its subscribers are ready) and writes the
 * events. It then keeps the stream open (events sent, nothing more) until
 * stdin closes or --timeout seconds passed. A later GET (the consumer
 * reconnecting) gets the head and nothing else, and is counted. Prints one
 * JSON line: events, bytes, elapsed (first to last write), rate, CPU,
 * reconnects.
 *
 *   sse-producer --port P --events E [--run ID] [--timeout S]
 */
#include "bench-common.h"

#include <poll.h>
#include <signal.h>

#define CHUNK_MAX (64 * 1024)

static const char HEAD[] =
  "HTTP/1.1 200 OK\r\n"
  "Content-Type: text/event-stream\r\n"
  "Cache-Control: no-cache\r\n"
  "Transfer-Encoding: chunked\r\n"
  "\r\n";

static int
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

/* Reads the request head (up to the blank line); 0 when it ended. */
static int
read_request (int fd)
{
  char buf[8192];
  size_t len = 0;

  while (len < sizeof buf - 1)
    {
      ssize_t got = recv (fd, buf + len, sizeof buf - 1 - len, 0);
      if (got <= 0)
        return -1;
      len += (size_t) got;
      buf[len] = '\0';
      if (strstr (buf, "\r\n\r\n") != NULL)
        return strncmp (buf, "GET ", 4) == 0 ? 0 : -1;
    }
  return -1;
}

static int
accept_stream (int lfd)
{
  int fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
  int one = 1;

  if (fd < 0)
    return -1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (read_request (fd) < 0 || write_all (fd, HEAD, sizeof HEAD - 1) < 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Waits until stdin has a line (or closed: -1) or @deadline. */
static int
wait_stdin (int64_t deadline)
{
  char line[64];
  struct pollfd p = { .fd = 0, .events = POLLIN };
  int64_t left = (deadline - now_ns ()) / 1000000;

  if (poll (&p, 1, left > 0 ? (int) left : 0) <= 0)
    return -1;
  return fgets (line, sizeof line, stdin) != NULL ? 0 : -1;
}

int
main (int argc, char **argv)
{
  const char *run_id = arg_value (argc, argv, "--run", "0");
  int port = atoi (arg_value (argc, argv, "--port", "0"));
  int64_t events = atoll (arg_value (argc, argv, "--events", "1000"));
  double timeout = atof (arg_value (argc, argv, "--timeout", "300"));
  int64_t deadline = now_ns () + (int64_t) (timeout * 1e9);
  struct sockaddr_in sa = { 0 };
  int one = 1, lfd, fd, reconnects = 0;
  int64_t next = 0, bytes = 0, t0 = 0, t1 = 0;
  static char chunk[CHUNK_MAX + 64];

  if (port <= 0 || events < 0)
    {
      fprintf (stderr, "usage: sse-producer --port P --events E [--run ID] [--timeout S]\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  inet_pton (AF_INET, "127.0.0.1", &sa.sin_addr);
  if (bind (lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (lfd, 16) < 0)
    die ("listen");

  while ((fd = accept_stream (lfd)) < 0)
    if (now_ns () > deadline)
      return 2;
  printf ("CONNECTED\n");
  fflush (stdout);
  if (wait_stdin (deadline) < 0)
    return 2;

  t0 = now_ns ();
  while (next < events)
    {
      /* One chunk: "<hex size>\r\n" then frames, then "\r\n". The size
       * field is written last, in the 8 bytes kept for it. */
      size_t off = 10;
      int64_t ts = now_ns ();

      while (next < events)
        {
          char frame[1024];
          int n = snprintf (frame, sizeof frame,
            "event: cdevent\nid: bench-%s-%lld\ndata: "
            "{\"context\":{\"version\":\"0.4.1\",\"id\":\"bench-%s-%lld\","
            "\"source\":\"/bench/publisher\",\"type\":\"dev.cdevents.build.started.0.2.0\","
            "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
            "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
            "\"content\":{\"seq\":%lld,\"ts\":%lld}}}\n\n",
            run_id, (long long) next, run_id, (long long) next, (long long) next,
            (long long) ts);
          if (off + (size_t) n > CHUNK_MAX)
            break;
          memcpy (chunk + off, frame, (size_t) n);
          off += (size_t) n;
          next++;
        }
      {
        char size[16];
        size_t body = off - 10;
        int sl = snprintf (size, sizeof size, "%08zx\r\n", body);
        memcpy (chunk, size, (size_t) sl);
        memcpy (chunk + off, "\r\n", 2);
        off += 2;
        /* The first 10 bytes hold the size line exactly (8 hex digits). */
        if (write_all (fd, chunk, off) < 0)
          {
            fprintf (stderr, "sse-producer: the consumer closed the stream after %lld events: %s\n",
                     (long long) next, strerror (errno));
            break;
          }
        bytes += (int64_t) off;
      }
    }
  t1 = now_ns ();

  /* Hold the stream open; count the consumer's reconnections, if any. */
  {
    struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = lfd, .events = POLLIN } };

    while (now_ns () < deadline)
      {
        int64_t left = (deadline - now_ns ()) / 1000000;
        char line[64];

        if (poll (p, 2, left > 1000 ? 1000 : (int) left) < 0 && errno != EINTR)
          break;
        if (p[0].revents)
          {
            if (fgets (line, sizeof line, stdin) == NULL)
              break;
          }
        if (p[1].revents & POLLIN)
          {
            int extra = accept_stream (lfd);
            if (extra >= 0)
              reconnects++;   /* kept open, never written to: closed at exit */
          }
      }
  }
  {
    double elapsed = (t1 - t0) / 1e9;
    printf ("{\"events\": %lld, \"bytes\": %lld, \"elapsed_s\": %.6f, \"events_per_s\": %.1f, "
            "\"cpu_s\": %.3f, \"reconnects\": %d}\n",
            (long long) next, (long long) bytes, elapsed, elapsed > 0 ? next / elapsed : 0.0,
            cpu_seconds (RUSAGE_SELF), reconnects);
  }
  close (fd);
  return next == events ? 0 : 1;
}
