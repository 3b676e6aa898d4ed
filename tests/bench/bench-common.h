/* SPDX-License-Identifier: Apache-2.0 */
/* Shared bits of the SSE benchmark tools (sse-sub, sse-pub): clocks, an
 * incremental HTTP/1.1 response-head and chunked-body decoder, CLI helpers.
 * No dependencies beyond libc. */
#pragma once

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static inline int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline double
cpu_seconds (int who)
{
  struct rusage ru;
  getrusage (who, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static inline void
die (const char *what)
{
  fprintf (stderr, "%s: %s\n", what, strerror (errno));
  exit (2);
}

static inline rlim_t
raise_nofile (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
      getrlimit (RLIMIT_NOFILE, &rl);
      return rl.rlim_cur;
    }
  return 1024;
}

/* Starts a non-blocking connect to 127.0.0.1:port. */
static inline int
connect_nb (const char *host, int port)
{
  struct sockaddr_in sa = { 0 };
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  inet_pton (AF_INET, host, &sa.sin_addr);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* --- HTTP response decoder ------------------------------------------------
 * Feed bytes; it calls back with body bytes (de-chunked) and tells when a
 * whole response ended (Content-Length or last chunk). A response without
 * either runs until the connection closes. */

enum {
  HS_STATUS, HS_HEADERS, HS_BODY_RAW, HS_BODY_LEN, HS_CHUNK_SIZE, HS_CHUNK_EXT,
  HS_CHUNK_DATA, HS_CHUNK_DATA_CR, HS_CHUNK_DATA_LF, HS_TRAILER, HS_DONE, HS_ERROR,
};

typedef struct {
  int state;
  int status;
  int chunked;
  int64_t content_length;   /* -1: none */
  uint64_t remaining;       /* in a chunk or a Content-Length body */
  char line[1024];
  size_t line_len;
  int trailer_empty;        /* the trailer line seen is empty so far */
  int close;                /* Connection: close */
  uint64_t body_bytes;
} HttpResp;

typedef void (*BodyFn) (void *user, const char *data, size_t len);

static inline void
http_resp_reset (HttpResp *r)
{
  memset (r, 0, sizeof *r);
  r->content_length = -1;
}

static inline void
http_resp_header_line (HttpResp *r)
{
  char *l = r->line;
  if (r->state == HS_STATUS)
    {
      if (strncmp (l, "HTTP/1.", 7) != 0 || r->line_len < 12)
        {
          r->state = HS_ERROR;
          return;
        }
      r->status = atoi (l + 9);
      r->state = HS_HEADERS;
      return;
    }
  if (r->line_len == 0)
    {
      if (r->chunked)
        r->state = HS_CHUNK_SIZE;
      else if (r->content_length >= 0)
        {
          r->remaining = (uint64_t) r->content_length;
          r->state = r->remaining == 0 ? HS_DONE : HS_BODY_LEN;
        }
      else if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200))
        r->state = HS_DONE;
      else
        r->state = HS_BODY_RAW;
      return;
    }
  if (strncasecmp (l, "Transfer-Encoding:", 18) == 0 && strcasestr (l + 18, "chunked"))
    r->chunked = 1;
  else if (strncasecmp (l, "Connection:", 11) == 0 && strcasestr (l + 11, "close"))
    r->close = 1;
  else if (strncasecmp (l, "Content-Length:", 15) == 0)
    r->content_length = strtoll (l + 15, NULL, 10);
}

/* Consumes up to len bytes; returns how many were used (it stops right
 * after a response ends, so that keep-alive responses are split exactly).
 * r->state becomes HS_DONE or HS_ERROR. */
static inline size_t
http_resp_feed (HttpResp *r, const char *data, size_t len, BodyFn fn, void *user)
{
  size_t i = 0;

  while (i < len && r->state != HS_DONE && r->state != HS_ERROR)
    {
      char c = data[i];
      switch (r->state)
        {
        case HS_STATUS:
        case HS_HEADERS:
          i++;
          if (c == '\n')
            {
              if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
                r->line_len--;
              r->line[r->line_len] = '\0';
              http_resp_header_line (r);
              r->line_len = 0;
            }
          else if (r->line_len < sizeof r->line - 1)
            r->line[r->line_len++] = c;
          break;
        case HS_BODY_RAW:
          r->body_bytes += len - i;
          if (fn)
            fn (user, data + i, len - i);
          i = len;
          break;
        case HS_BODY_LEN:
        case HS_CHUNK_DATA:
          {
            size_t n = len - i;
            if (n > r->remaining)
              n = (size_t) r->remaining;
            r->body_bytes += n;
            if (fn)
              fn (user, data + i, n);
            i += n;
            r->remaining -= n;
            if (r->remaining == 0)
              r->state = r->state == HS_BODY_LEN ? HS_DONE : HS_CHUNK_DATA_CR;
          }
          break;
        case HS_CHUNK_SIZE:
          i++;
          if (c >= '0' && c <= '9')
            r->remaining = r->remaining * 16 + (uint64_t) (c - '0');
          else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            r->remaining = r->remaining * 16 + (uint64_t) ((c | 0x20) - 'a' + 10);
          else if (c == ';' || c == ' ' || c == '\t')
            r->state = HS_CHUNK_EXT;
          else if (c == '\r')
            r->state = HS_CHUNK_EXT;
          else if (c == '\n')
            goto chunk_size_done;
          else
            r->state = HS_ERROR;
          break;
        case HS_CHUNK_EXT:
          i++;
          if (c == '\n')
            {
            chunk_size_done:
              if (r->remaining == 0)
                {
                  r->state = HS_TRAILER;
                  r->trailer_empty = 1;
                }
              else
                r->state = HS_CHUNK_DATA;
            }
          break;
        case HS_CHUNK_DATA_CR:
          i++;
          if (c == '\r')
            r->state = HS_CHUNK_DATA_LF;
          else if (c == '\n')
            r->state = HS_CHUNK_SIZE;
          else
            r->state = HS_ERROR;
          break;
        case HS_CHUNK_DATA_LF:
          i++;
          r->state = c == '\n' ? HS_CHUNK_SIZE : HS_ERROR;
          break;
        case HS_TRAILER:
          i++;
          if (c == '\n')
            {
              if (r->trailer_empty)
                r->state = HS_DONE;
              r->trailer_empty = 1;
            }
          else if (c != '\r')
            r->trailer_empty = 0;
          break;
        }
    }
  return i;
}

static inline const char *
arg_value (int argc, char **argv, const char *name, const char *def)
{
  for (int i = 1; i < argc - 1; i++)
    if (strcmp (argv[i], name) == 0)
      return argv[i + 1];
  return def;
}

/* Appends the decimal integer after "key": in s[0..len), or returns -1. */
static inline int64_t
json_int_after (const char *s, size_t len, const char *key)
{
  size_t kl = strlen (key);
  const char *p = memmem (s, len, key, kl);
  int64_t v = 0;
  if (p == NULL)
    return -1;
  p += kl;
  while (p < s + len && (*p == ' ' || *p == ':'))
    p++;
  if (p >= s + len || *p < '0' || *p > '9')
    return -1;
  while (p < s + len && *p >= '0' && *p <= '9')
    v = v * 10 + (*p++ - '0');
  return v;
}

/* qsort() order of int64_t values (latencies, for percentiles). */
static inline int
cmp_i64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
  return (x > y) - (x < y);
}
