/* SPDX-License-Identifier: Apache-2.0 */
/* sse-pub: POSTs CDEvents over K keep-alive HTTP/1.1 connections (epoll,
 * one request in flight per connection), either as fast as possible or at
 * a total rate. Event i carries subject.content = {"seq": i, "ts": <the
 * CLOCK_MONOTONIC ns when its request was sent>} and context.id
 * "bench-<run>-<i>", i counted from --seq-offset (default 0: several
 * publishers feeding the same subscribers take disjoint ranges). Prints one JSON line: sent, accepted (2xx), rejected,
 * elapsed, rate, CPU. Exit status 1 when a request failed or was refused.
 *
 *   sse-pub --port P --path /webhook/in --count N [--connections K]
 *           [--rate R] [--timeout S] [--run ID] [--seq-offset O]
 *           [--host 127.0.0.1]
 */
#include "bench-common.h"

#include <signal.h>
#include <sys/epoll.h>

enum { P_CONNECTING, P_IDLE, P_WAITING };

typedef struct {
  int fd;
  int state;
  HttpResp resp;
  char out[2048];
  size_t out_len, out_off;
  int64_t sent_at;
} Conn;

static const char *host;
static int port;

static int
conn_open (Conn *c, int ep)
{
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
  c->fd = connect_nb (host, port);
  if (c->fd < 0)
    return -1;
  c->state = P_CONNECTING;
  c->out_len = c->out_off = 0;
  epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

int
main (int argc, char **argv)
{
  const char *path = arg_value (argc, argv, "--path", "/webhook/in");
  const char *run_id = arg_value (argc, argv, "--run", "0");
  int n_conns = atoi (arg_value (argc, argv, "--connections", "1"));
  int64_t count = atoll (arg_value (argc, argv, "--count", "1000"));
  double rate = atof (arg_value (argc, argv, "--rate", "0"));
  double timeout = atof (arg_value (argc, argv, "--timeout", "120"));
  int64_t seq_offset = atoll (arg_value (argc, argv, "--seq-offset", "0"));
  Conn *conns;
  struct epoll_event evs[64];
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  int64_t next = 0, accepted = 0, rejected = 0, errors = 0, reconnects = 0, done = 0;
  int64_t t0, t_end, deadline, first_status = 0;
  double rt_sum = 0;
  char buf[16384];

  host = arg_value (argc, argv, "--host", "127.0.0.1");
  port = atoi (arg_value (argc, argv, "--port", "0"));
  if (port <= 0 || n_conns <= 0 || count < 0)
    {
      fprintf (stderr, "usage: sse-pub --port P --count N [--path /webhook/ID] "
               "[--connections K] [--rate R] [--timeout S] [--run ID] [--seq-offset O]\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  conns = calloc ((size_t) n_conns, sizeof (Conn));
  for (int i = 0; i < n_conns; i++)
    if (conn_open (&conns[i], ep) < 0)
      die ("connect");

  t0 = now_ns ();
  deadline = t0 + (int64_t) (timeout * 1e9);
  while (done < count)
    {
      int64_t now = now_ns ();
      int wait_ms = 100;
      int n;

      if (now > deadline)
        {
          fprintf (stderr, "sse-pub: timed out after %lld of %lld\n", (long long) done,
                   (long long) count);
          break;
        }

      /* Start requests on idle connections when due. */
      for (int i = 0; i < n_conns && next < count; i++)
        {
          Conn *c = &conns[i];
          char body[1024];
          int body_len;
          int64_t due = rate > 0 ? t0 + (int64_t) (next * 1e9 / rate) : now;
          struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

          if (c->state != P_IDLE)
            continue;
          if (due > now)
            {
              int64_t ms = (due - now) / 1000000;
              if (ms < wait_ms)
                wait_ms = (int) ms;
              break;
            }
          c->sent_at = now_ns ();
          body_len = snprintf (body, sizeof body,
            "{\"context\":{\"version\":\"0.4.1\",\"id\":\"bench-%s-%lld\","
            "\"source\":\"/bench/publisher\",\"type\":\"dev.cdevents.build.started.0.2.0\","
            "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
            "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
            "\"content\":{\"seq\":%lld,\"ts\":%lld}}}",
            run_id, (long long) (seq_offset + next), (long long) (seq_offset + next),
            (long long) c->sent_at);
          c->out_len = (size_t) snprintf (c->out, sizeof c->out,
            "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n%s", path, host, port, body_len, body);
          c->out_off = 0;
          c->state = P_WAITING;
          http_resp_reset (&c->resp);
          next++;
          {
            ssize_t w = send (c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
              c->out_off = (size_t) w;
          }
          ev.events = c->out_off < c->out_len ? EPOLLIN | EPOLLOUT : EPOLLIN;
          epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
        }

      n = epoll_wait (ep, evs, 64, wait_ms < 0 ? 0 : wait_ms);
      if (n < 0 && errno != EINTR)
        die ("epoll_wait");
      for (int i = 0; i < n; i++)
        {
          Conn *c = evs[i].data.ptr;

          if (c->state == P_CONNECTING)
            {
              int err = 0;
              socklen_t el = sizeof err;
              struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
              getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
              if (err != 0)
                {
                  errno = err;
                  die ("connect");
                }
              c->state = P_IDLE;
              epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
              continue;
            }
          if ((evs[i].events & EPOLLOUT) && c->out_off < c->out_len)
            {
              ssize_t w = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                MSG_NOSIGNAL | MSG_DONTWAIT);
              if (w > 0)
                c->out_off += (size_t) w;
              if (c->out_off == c->out_len)
                {
                  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                  epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
          if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            {
              ssize_t got = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);
              if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
              if (got > 0 && c->state == P_WAITING)
                http_resp_feed (&c->resp, buf, (size_t) got, NULL, NULL);
              if (got <= 0 || c->resp.state == HS_ERROR)
                {
                  /* Closed: the request in flight (if any) failed; reconnect. */
                  if (c->state == P_WAITING)
                    {
                      errors++;
                      done++;
                    }
                  epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
                  close (c->fd);
                  reconnects++;
                  if (conn_open (c, ep) < 0)
                    die ("reconnect");
                  continue;
                }
              if (c->resp.state == HS_DONE)
                {
                  int64_t t = now_ns ();
                  if (c->resp.status >= 200 && c->resp.status < 300)
                    accepted++;
                  else
                    {
                      if (rejected == 0)
                        first_status = c->resp.status;
                      rejected++;
                    }
                  rt_sum += (t - c->sent_at) / 1e6;
                  done++;
                  c->state = P_IDLE;
                  if (c->resp.close)
                    {
                      /* The server ends the keep-alive connection: open another. */
                      epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
                      close (c->fd);
                      reconnects++;
                      if (conn_open (c, ep) < 0)
                        die ("reconnect");
                    }
                }
            }
        }
    }
  t_end = now_ns ();
  {
    double elapsed = (t_end - t0) / 1e9;
    printf ("{\"sent\": %lld, \"accepted\": %lld, \"rejected\": %lld, \"first_rejected_status\": %lld, "
            "\"errors\": %lld, \"reconnects\": %lld, \"elapsed_s\": %.6f, \"accepted_per_s\": %.1f, "
            "\"mean_response_ms\": %.3f, \"cpu_s\": %.3f}\n",
            (long long) next, (long long) accepted, (long long) rejected,
            (long long) first_status, (long long) errors, (long long) reconnects, elapsed,
            elapsed > 0 ? accepted / elapsed : 0.0, done ? rt_sum / done : 0.0,
            cpu_seconds (RUSAGE_SELF));
  }
  return (accepted == count) ? 0 : 1;
}
