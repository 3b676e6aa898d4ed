/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "cdviz-sse-sink.h"
#include "cdviz-sse-frame.h"
#include "cdviz-sse-ring.h"

/**
 * CdvizSseSink:
 *
 * `type = "sse"`: serves `GET /sse/<id>` as a Server-Sent Events stream of
 * every event (design §5).
 *
 * Fan-out. send_message() runs on the pipeline thread: it formats the frame
 * once into a #GBytes, appends it to a ring of the last frames (each with a
 * sequence number; at most `buffer_size` frames and `buffer_bytes` bytes)
 * under a mutex, and wakes the sink's fan-out
 * threads (`threads`, default one per processor). Each client belongs to one
 * of them (the one with the fewest clients when it connected) and is a
 * cursor into the shared ring, so a pass over N clients takes N / threads
 * system calls per thread.
 *
 * Connections. Once a request passed the method, header and capacity
 * checks, the handler pauses it and, from an idle callback (outside
 * libsoup's I/O code), steals its connection with
 * soup_server_message_steal_connection(). From then on the sink writes the
 * response itself on the non-blocking socket: the status line and headers,
 * then chunks (or a close-delimited body for HTTP/1.0). Each fan-out thread
 * has one epoll descriptor, watched by one #GSource on its context: each
 * client's socket is registered for input (discarded; EOF or error frees the
 * client at once) and for output only while bytes are pending, so a
 * main-loop iteration costs O(ready clients), not O(clients). Keep-alives
 * come from one timer per thread: clients are kept in a list in order of their
 * last write, and the timer's ready time is the deadline of its head.
 *
 * TLS. With `[http] tls_certificate`, the stolen stream is a
 * #GTlsConnection: the sink then writes through its pollable output stream
 * (g_pollable_output_stream_writev_nonblocking(), same batches, same
 * bound) and reads through its input stream, so that every byte is
 * encrypted; the socket is still what is polled. Without TLS, the raw path
 * (sendmsg() and recv() on the descriptor) is kept.
 *
 * Bounded memory. A client's output is one batch: at most %BATCH_FRAMES
 * frames and about %BATCH_BYTES bytes, written with one sendmsg() as one
 * chunk; the next batch is taken from the ring only when the previous one
 * was written completely. A batch holds references to frames, never
 * copies, so a stalled client holds at most one batch; everything else
 * lives once, in the ring. A client whose cursor fell out of the ring gets
 * one `lagged: N messages skipped` error, N being exactly the frames it
 * missed, and continues with the oldest frame still held.
 */

#define BATCH_FRAMES 64
#define BATCH_BYTES (32 * 1024)
#define MAX_PIECES (BATCH_FRAMES + 8)
#define RETRY_AFTER_SECONDS "5"
#define STOP_FLUSH_TIMEOUT_US (1 * G_USEC_PER_SEC)
#define MAX_THREADS 8
#define DEFAULT_BUFFER_BYTES (G_GUINT64_CONSTANT (64) * 1024 * 1024)

typedef struct {
  const guint8 *data;
  gsize length;
  GBytes *owner;        /* nullable: static data has no owner */
} Piece;

typedef struct _SseShard SseShard;

typedef struct {
  CdvizSseSink *sink;   /* unowned: the sink frees its clients when it stops */
  SseShard *shard;      /* the fan-out thread that writes to this client */
  GList link;           /* in shard->clients */
  GList ka_link;        /* in shard->keep_alive_order, by ka_time */
  GIOStream *stream;    /* the stolen connection; owns the socket */
  GSocket *socket;      /* unowned: the stream's */
  gboolean tls;         /* stream is a GTlsConnection: write through it */
  int fd;
  gboolean want_out;

  guint64 cursor;       /* sequence number of the next frame to send */
  gboolean chunked;     /* HTTP/1.1: chunked body; HTTP/1.0: until close */
  gboolean head_only;   /* HEAD: headers, then close */
  gboolean finishing;   /* the sink stops: send what is left, end, close */
  gboolean ended;       /* the body's end is queued: close once written */
  GBytes *head;         /* the response head, until queued */
  gboolean retry_pending;

  /* The batch being written: pieces[first..n) from offset. */
  Piece pieces[MAX_PIECES];
  guint n_pieces;
  guint first_piece;
  gsize offset;
  guint batch_events;
  char chunk_header[24];

  gint64 last_write;    /* monotonic time of the last write */
  gint64 ka_time;       /* last write or keep-alive check: keep-alive order */

  const char *connect_method;   /* static strings, for the debug log */
  const char *connect_version;
  const char *connect_note;
} SseClient;

/* One fan-out thread and the clients it serves. Every field but incoming
 * (under the sink's lock) and the atomics belongs to the shard's thread,
 * and to the stopping thread once the shard's thread is joined. */
struct _SseShard {
  CdvizSseSink *sink;
  guint index;
  GThread *thread;
  GMainContext *context;
  int quit;                          /* atomic: the thread returns */
  int wake_pending;                  /* atomic */
  int n_clients;                     /* atomic: adopted or on their way */
  GSource *wake;                     /* new frames or new clients */
  GQueue incoming;                   /* under sink->lock: not yet adopted */
  GQueue clients;
  GQueue keep_alive_order;           /* SseClient.ka_link, oldest ka_time first */
  int epfd;                          /* every client's socket; -1 when stopped */
  GSource *epoll_source;             /* watches epfd */
  GSource *keep_alive;               /* one timer for every client of the shard */
};

typedef struct {
  CdvizSseSink *sink;
  SoupServerMessage *msg;
  GSource *idle;
  GList link;           /* in sink->accepting */
  char *last_event_id;
  gboolean head_only;
  gboolean http10;
} Accepting;

struct _CdvizSseSink
{
  GObject parent_instance;

  /* configuration */
  char *id;
  JsonNode *headers;
  guint buffer_size;
  guint64 buffer_bytes;              /* 0: no byte bound */
  guint64 keep_alive_ms;
  guint max_clients;
  guint64 retry_ms;
  char *cors_allow_origin;           /* NULL: no CORS header */
  guint threads;                     /* 0: one per processor, at most MAX_THREADS */

  CdvizHeaderValidator *validator;   /* NULL without rules */
  GBytes *retry_frame;               /* NULL without retry */
  char *name;

  /* shared with the pipeline thread and the shards */
  GMutex lock;
  CdvizSseRing *ring;                /* under lock */

  /* HTTP thread only */
  CdvizHttpServer *http;             /* weak */
  GMainContext *context;             /* the HTTP thread's */
  GQueue accepting;
  gboolean stopping;

  /* the fan-out threads: set up by start, torn down by stop */
  SseShard *shards;
  guint n_shards;

  /* metrics (atomic) */
  int n_clients;
  guint64 events_sent;
  guint64 lagged_events;
  guint64 rejected_auth;
  guint64 rejected_max_clients;
};

enum {
  PROP_0,
  PROP_ID,
  PROP_HEADERS,
  PROP_BUFFER_SIZE,
  PROP_BUFFER_BYTES,
  PROP_KEEP_ALIVE_INTERVAL,
  PROP_MAX_CLIENTS,
  PROP_RETRY,
  PROP_CORS_ALLOW_ORIGIN,
  PROP_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sink_iface_init (CdvizSinkInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizSseSink, cdviz_sse_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

#define COUNTER_ADD(field, n) __atomic_fetch_add (&(field), (n), __ATOMIC_RELAXED)
#define COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

static const char keep_alive_frame[] = CDVIZ_SSE_FRAME_KEEP_ALIVE;
static const char crlf[] = "\r\n";
static const char last_chunk[] = "0\r\n\r\n";

/* A shard's sources on its context: wake-up, epoll, keep-alive. */
typedef struct {
  GSource parent;
  SseShard *shard;
} ShardSource;

static GSource *
shard_source_new (SseShard     *shard,
                  GSourceFuncs *funcs,
                  const char   *name)
{
  GSource *source = g_source_new (funcs, sizeof (ShardSource));

  ((ShardSource *) source)->shard = shard;
  g_source_set_static_name (source, name);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  return source;
}

static void
shard_source_clear (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Wakes a shard's thread: new frames, or new clients to adopt. */
static void
shard_wake (SseShard *shard)
{
  if (shard->wake != NULL && g_atomic_int_compare_and_exchange (&shard->wake_pending, 0, 1))
    g_source_set_ready_time (shard->wake, 0);
}

/* --- clients (the sink's thread) ---------------------------------------- */

static void
client_add_piece (SseClient    *client,
                  const void   *data,
                  gsize         length,
                  GBytes       *owner)
{
  Piece *piece;

  g_assert (client->n_pieces < MAX_PIECES);
  piece = &client->pieces[client->n_pieces++];
  piece->data = data;
  piece->length = length;
  piece->owner = owner;   /* takes the reference */
}

static void
client_add_frame (SseClient *client,
                  GBytes    *frame)
{
  gsize length;
  const void *data = g_bytes_get_data (frame, &length);

  client_add_piece (client, data, length, frame);
}

static void
client_release_pieces (SseClient *client)
{
  for (guint i = 0; i < client->n_pieces; i++)
    g_clear_pointer (&client->pieces[i].owner, g_bytes_unref);
  client->n_pieces = 0;
  client->first_piece = 0;
  client->offset = 0;
  client->batch_events = 0;
}

static int
client_epoll_ctl (SseClient *client,
                  int        op)
{
  struct epoll_event ev = { 0 };

  ev.events = EPOLLIN | EPOLLRDHUP | (client->want_out ? EPOLLOUT : 0);
  ev.data.ptr = client;
  return epoll_ctl (client->shard->epfd, op, client->fd, &ev);
}

static void
client_set_want_out (SseClient *client,
                     gboolean   want_out)
{
  if (client->want_out == want_out)
    return;
  client->want_out = want_out;
  if (client_epoll_ctl (client, EPOLL_CTL_MOD) < 0)
    g_warning ("sink '%s': client %d: epoll_ctl: %s", client->sink->name, client->fd,
               g_strerror (errno));
}

/* Arms the keep-alive timer for the client at the head of the list. */
static void
keep_alive_arm (SseShard *shard)
{
  SseClient *head;

  if (shard->keep_alive == NULL)
    return;
  if (shard->keep_alive_order.head == NULL)
    {
      g_source_set_ready_time (shard->keep_alive, -1);
      return;
    }
  head = shard->keep_alive_order.head->data;
  g_source_set_ready_time (shard->keep_alive,
                           head->ka_time + (gint64) shard->sink->keep_alive_ms * 1000);
}

/* Moves the client to the tail of the keep-alive order: its deadline is
 * now the latest. The timer is re-armed lazily (it only fires early). */
static void
client_touch (SseClient *client,
              gint64     now)
{
  SseShard *shard = client->shard;

  client->ka_time = now;
  if (shard->keep_alive_order.tail != &client->ka_link)
    {
      g_queue_unlink (&shard->keep_alive_order, &client->ka_link);
      g_queue_push_tail_link (&shard->keep_alive_order, &client->ka_link);
    }
}

static void
client_free (SseClient  *client,
             const char *reason)
{
  CdvizSseSink *self = client->sink;
  SseShard *shard = client->shard;

  g_debug ("sink '%s': client %d disconnected (%s)", self->name, client->fd, reason);

  g_queue_unlink (&shard->clients, &client->link);
  g_queue_unlink (&shard->keep_alive_order, &client->ka_link);
  if (shard->epfd >= 0 && epoll_ctl (shard->epfd, EPOLL_CTL_DEL, client->fd, NULL) < 0)
    g_debug ("sink '%s': client %d: epoll_ctl (DEL): %s", self->name, client->fd,
             g_strerror (errno));
  client_release_pieces (client);
  g_clear_pointer (&client->head, g_bytes_unref);
  if (client->stream != NULL)
    {
      if (client->tls)
        {
          /* Closing a TLS stream writes close_notify, synchronously: bound
           * it for a stream that ended cleanly, skip it for the others. */
          if (client->ended && client->first_piece == client->n_pieces)
            g_socket_set_timeout (client->socket, 1);
          else
            g_socket_close (client->socket, NULL);
        }
      g_io_stream_close (client->stream, NULL, NULL);
      g_clear_object (&client->stream);
    }
  g_atomic_int_add (&shard->n_clients, -1);
  g_atomic_int_add (&self->n_clients, -1);

  g_free (client);
}

/* Builds the next batch once the previous one is written: the response
 * head, the retry field, a lag notice, frames from the ring, a keep-alive
 * when asked and nothing else is due, the end of the body when finishing.
 * Returns whether there is anything to write. */
static gboolean
client_refill (SseClient *client,
               gboolean   keep_alive)
{
  CdvizSseSink *self = client->sink;
  GBytes *events[BATCH_FRAMES];
  GBytes *lag = NULL;
  guint n_events = 0;
  guint64 skipped = 0;
  gboolean at_end = TRUE;
  gsize chunk_length = 0;
  guint chunk_first;

  g_assert (client->n_pieces == 0);

  if (client->ended)
    return FALSE;

  if (client->head != NULL)
    {
      GBytes *head = g_steal_pointer (&client->head);
      client_add_frame (client, head);
    }

  if (client->head_only)
    {
      client->ended = TRUE;
      return client->n_pieces > 0;
    }

  g_mutex_lock (&self->lock);
  skipped = cdviz_sse_ring_catch_up (self->ring, &client->cursor);
  n_events = cdviz_sse_ring_collect (self->ring, &client->cursor, events, BATCH_FRAMES,
                                     BATCH_BYTES, NULL);
  at_end = client->cursor == cdviz_sse_ring_get_next (self->ring);
  g_mutex_unlock (&self->lock);

  if (skipped > 0)
    {
      g_debug ("sink '%s': client %d lagged, %" G_GUINT64_FORMAT " messages skipped",
               self->name, client->fd, skipped);
      COUNTER_ADD (self->lagged_events, skipped);
      lag = cdviz_sse_frame_lagged (skipped);
    }

  /* The chunk: header, frames, CRLF. */
  chunk_first = client->n_pieces;
  if (client->chunked)
    client_add_piece (client, client->chunk_header, 0, NULL);   /* filled below */

  if (client->retry_pending && self->retry_frame != NULL)
    client_add_frame (client, g_bytes_ref (self->retry_frame));
  client->retry_pending = FALSE;
  if (lag != NULL)
    client_add_frame (client, lag);
  for (guint i = 0; i < n_events; i++)
    client_add_frame (client, events[i]);
  client->batch_events = n_events;
  if (keep_alive && client->n_pieces == chunk_first + (client->chunked ? 1 : 0))
    client_add_piece (client, keep_alive_frame, sizeof keep_alive_frame - 1, NULL);

  for (guint i = chunk_first + (client->chunked ? 1 : 0); i < client->n_pieces; i++)
    chunk_length += client->pieces[i].length;

  if (chunk_length == 0)
    client->n_pieces = chunk_first;   /* nothing for the body */
  else if (client->chunked)
    {
      Piece *header = &client->pieces[chunk_first];
      header->length = cdviz_sse_chunk_header (chunk_length, client->chunk_header,
                                               sizeof client->chunk_header);
      client_add_piece (client, crlf, 2, NULL);
    }

  if (client->finishing && at_end)
    {
      if (client->chunked)
        client_add_piece (client, last_chunk, sizeof last_chunk - 1, NULL);
      client->ended = TRUE;
    }

  return client->n_pieces > 0 || client->ended;
}

/* Writes as much as the socket takes without blocking. Returns FALSE when
 * the client was freed. */
static gboolean
client_flush (SseClient *client)
{
  CdvizSseSink *self = client->sink;

  for (;;)
    {
      struct iovec iov[MAX_PIECES];
      struct msghdr mh = { 0 };
      ssize_t written;
      guint n_iov = 0;

      if (client->first_piece == client->n_pieces)
        {
          if (client->batch_events > 0)
            COUNTER_ADD (self->events_sent, client->batch_events);
          client_release_pieces (client);
          if (client->ended)
            {
              client_free (client, client->head_only ? "HEAD answered" : "stream ended");
              return FALSE;
            }
          if (!client_refill (client, FALSE))
            break;
          if (client->n_pieces == 0)
            continue;   /* ended with nothing left to write */
        }

      for (guint i = client->first_piece; i < client->n_pieces; i++)
        {
          gsize skip = i == client->first_piece ? client->offset : 0;

          iov[n_iov].iov_base = (guint8 *) client->pieces[i].data + skip;
          iov[n_iov].iov_len = client->pieces[i].length - skip;
          n_iov++;
        }
      mh.msg_iov = iov;
      mh.msg_iovlen = n_iov;

      if (client->tls)
        {
          GOutputStream *out = g_io_stream_get_output_stream (client->stream);
          g_autoptr(GError) error = NULL;
          GPollableReturn ret;
          gsize n = 0;

          /* struct iovec and GOutputVector have the same members. */
          GOutputVector vectors[MAX_PIECES];
          for (guint i = 0; i < n_iov; i++)
            {
              vectors[i].buffer = iov[i].iov_base;
              vectors[i].size = iov[i].iov_len;
            }
          ret = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (out),
                                                             vectors, n_iov, &n, NULL, &error);
          if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
            {
              client_set_want_out (client, TRUE);
              return TRUE;
            }
          if (ret != G_POLLABLE_RETURN_OK)
            {
              g_debug ("sink '%s': client %d: %s", self->name, client->fd,
                       error != NULL ? error->message : "write failed");
              client_free (client, "TLS write failed");
              return FALSE;
            }
          written = (ssize_t) n;
        }
      else
        written = sendmsg (client->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (written < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            {
              client_set_want_out (client, TRUE);
              return TRUE;
            }
          client_free (client, g_strerror (errsv));
          return FALSE;
        }

      client->last_write = g_get_monotonic_time ();
      client_touch (client, client->last_write);
      while (written > 0)
        {
          Piece *piece = &client->pieces[client->first_piece];
          gsize left = piece->length - client->offset;

          if ((gsize) written >= left)
            {
              written -= left;
              client->first_piece++;
              client->offset = 0;
            }
          else
            {
              client->offset += written;
              written = 0;
            }
        }
    }

  client_set_want_out (client, FALSE);
  return TRUE;
}

/* Reads and discards what the client sends. Returns FALSE at EOF or on an
 * error (the client is gone), TRUE otherwise. */
static gboolean
client_drain_input (SseClient   *client,
                    const char **reason)
{
  char buffer[4096];

  for (int i = 0; i < 16; i++)
    {
      ssize_t n;

      if (client->tls)
        {
          GInputStream *in = g_io_stream_get_input_stream (client->stream);
          g_autoptr(GError) error = NULL;

          n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer,
                                                        sizeof buffer, NULL, &error);
          if (n < 0)
            {
              if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                return TRUE;
              *reason = "TLS read failed";
              return FALSE;
            }
          if (n == 0)
            {
              *reason = "closed by the client";
              return FALSE;
            }
          continue;
        }

      n = recv (client->fd, buffer, sizeof buffer, MSG_DONTWAIT);

      if (n > 0)
        continue;
      if (n == 0)
        {
          *reason = "closed by the client";
          return FALSE;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return TRUE;
      *reason = g_strerror (errno);
      return FALSE;
    }
  return TRUE;
}

static void
client_handle_events (SseClient *client,
                      guint32    events)
{
  const char *reason = NULL;

  if ((events & (EPOLLIN | EPOLLRDHUP)) && !client_drain_input (client, &reason))
    {
      client_free (client, reason);
      return;
    }
  if (events & (EPOLLHUP | EPOLLERR))
    {
      client_free (client, "connection reset");
      return;
    }
  if (events & EPOLLOUT)
    client_flush (client);
}

#define EPOLL_BATCH 256

/* The sink's epoll descriptor is readable: handle the ready clients (at
 * most EPOLL_BATCH per iteration; the rest stay ready for the next). */
static gboolean
epoll_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  SseShard *shard = ((ShardSource *) source)->shard;
  struct epoll_event events[EPOLL_BATCH];
  int n;

  do
    n = epoll_wait (shard->epfd, events, EPOLL_BATCH, 0);
  while (n < 0 && errno == EINTR);

  /* A client appears at most once per epoll_wait(), and handling one never
   * frees another. */
  for (int i = 0; i < n; i++)
    client_handle_events (events[i].data.ptr, events[i].events);
  return G_SOURCE_CONTINUE;
}

/* The keep-alive timer: every client whose last write (or last keep-alive
 * check) is keep_alive_interval old gets a comment, unless it still has
 * bytes pending. */
static gboolean
keep_alive_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  SseShard *shard = ((ShardSource *) source)->shard;
  gint64 interval = (gint64) shard->sink->keep_alive_ms * 1000;
  gint64 now = g_get_monotonic_time ();

  while (shard->keep_alive_order.head != NULL)
    {
      SseClient *client = shard->keep_alive_order.head->data;

      if (now - client->ka_time < interval)
        break;
      /* To the tail first: whatever happens below, the loop moves on. */
      client_touch (client, now);
      if (now - client->last_write >= interval && client->first_piece == client->n_pieces)
        {
          client_release_pieces (client);
          if (client_refill (client, TRUE))
            client_flush (client);
        }
    }
  keep_alive_arm (shard);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = {
  NULL, NULL, epoll_source_dispatch, NULL, NULL, NULL,
};

static GSourceFuncs keep_alive_funcs = {
  NULL, NULL, keep_alive_dispatch, NULL, NULL, NULL,
};

static GBytes *
build_head (CdvizSseSink *self,
            gboolean      http10,
            gboolean      head_only)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = soup_date_time_to_string (now, SOUP_DATE_HTTP);
  GString *head = g_string_sized_new (256);

  g_string_append_printf (head,
                          "HTTP/1.%d 200 OK\r\n"
                          "Date: %s\r\n"
                          "Content-Type: text/event-stream\r\n"
                          "Cache-Control: no-cache\r\n"
                          "X-Accel-Buffering: no\r\n",
                          http10 ? 0 : 1, date);
  if (self->cors_allow_origin != NULL)
    g_string_append_printf (head, "Access-Control-Allow-Origin: %s\r\n",
                            self->cors_allow_origin);
  if (!http10)
    g_string_append (head, "Transfer-Encoding: chunked\r\n");
  if (http10 || head_only)
    g_string_append (head, "Connection: close\r\n");
  g_string_append (head, "\r\n");
  return g_string_free_to_bytes (head);
}

/* --- accepting (HTTP thread) -------------------------------------------- */

static void
accepting_free (Accepting *accepting)
{
  g_clear_object (&accepting->msg);
  g_free (accepting->last_event_id);
  g_object_unref (accepting->sink);
  g_free (accepting);
}

static SseShard *
least_busy_shard (CdvizSseSink *self)
{
  SseShard *best = &self->shards[0];

  for (guint i = 1; i < self->n_shards; i++)
    if (g_atomic_int_get (&self->shards[i].n_clients) < g_atomic_int_get (&best->n_clients))
      best = &self->shards[i];
  return best;
}

/* Takes the connection away from libsoup and starts the stream. Runs from
 * an idle callback, outside libsoup's I/O code (the message is paused). */
static void
accepting_finish (Accepting *accepting)
{
  CdvizSseSink *self = accepting->sink;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GSocket) socket = NULL;   /* the stream keeps it alive */
  SseClient *client;
  gboolean found = FALSE;

  g_queue_unlink (&self->accepting, &accepting->link);
  if (accepting->idle != NULL)
    {
      g_source_destroy (accepting->idle);
      g_clear_pointer (&accepting->idle, g_source_unref);
    }

  stream = cdviz_http_server_steal_connection (self->http, accepting->msg, &socket);
  if (stream == NULL)
    {
      g_debug ("sink '%s': connection lost before the stream started", self->name);
      g_atomic_int_add (&self->n_clients, -1);
      return;
    }

  client = g_new0 (SseClient, 1);
  client->sink = self;
  client->link.data = client;
  client->ka_link.data = client;
  client->stream = g_steal_pointer (&stream);
  client->socket = socket;
  client->tls = G_IS_TLS_CONNECTION (client->stream);
  client->fd = g_socket_get_fd (socket);
  client->chunked = !accepting->http10;
  client->head_only = accepting->head_only;
  client->finishing = self->stopping;
  client->retry_pending = self->retry_frame != NULL;
  client->head = build_head (self, accepting->http10, accepting->head_only);
  client->last_write = g_get_monotonic_time ();

  g_mutex_lock (&self->lock);
  client->cursor = cdviz_sse_ring_resume_cursor (self->ring, accepting->last_event_id, &found);
  g_mutex_unlock (&self->lock);

  client->connect_note = accepting->last_event_id == NULL ? ""
                         : found ? ", resumed after Last-Event-ID" : ", unknown Last-Event-ID: live";
  client->connect_method = accepting->head_only ? "HEAD" : "GET";
  client->connect_version = accepting->http10 ? "HTTP/1.0" : "HTTP/1.1";
  accepting_free (accepting);

  /* The shard with the fewest clients takes it from here. */
  client->shard = least_busy_shard (self);
  g_atomic_int_inc (&client->shard->n_clients);
  g_mutex_lock (&self->lock);
  g_queue_push_tail_link (&client->shard->incoming, &client->link);
  g_mutex_unlock (&self->lock);
  shard_wake (client->shard);
}

static gboolean
accepting_idle_cb (gpointer data)
{
  accepting_finish (data);
  return G_SOURCE_REMOVE;
}

static void
respond_rejected (SoupServerMessage *msg,
                  guint              status,
                  const char        *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                    text, strlen (text));
}

static void
sse_handler (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CdvizSseSink *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  Accepting *accepting;

  /* No CORS header unless configured: then a browser lets only pages of
   * the stream's own origin read it (see doc/sse.md, "CORS"). */
  if (self->cors_allow_origin != NULL)
    soup_message_headers_replace (response, "Access-Control-Allow-Origin",
                                  self->cors_allow_origin);

  if (method == SOUP_METHOD_OPTIONS)
    {
      const char *asked = soup_message_headers_get_one (request, "Access-Control-Request-Headers");

      if (self->cors_allow_origin != NULL)
        {
          soup_message_headers_replace (response, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
          soup_message_headers_replace (response, "Access-Control-Allow-Headers",
                                        asked != NULL && strpbrk (asked, "\r\n") == NULL ? asked
                                        : "Authorization, Last-Event-ID, Cache-Control, Accept");
          soup_message_headers_replace (response, "Access-Control-Max-Age", "86400");
        }
      soup_message_headers_replace (response, "Allow", "GET, HEAD, OPTIONS");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (response, "Allow", "GET, HEAD, OPTIONS");
      cdviz_http_respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                                "only GET, HEAD and OPTIONS are allowed here");
      return;
    }

  if (self->stopping)
    {
      soup_message_headers_replace (response, "Retry-After", RETRY_AFTER_SECONDS);
      cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "shutting down");
      return;
    }

  if (self->validator != NULL)
    {
      g_autofree char *message = NULL;
      g_autoptr(GBytes) body = NULL;
      guint status;

      if (cdviz_header_validator_needs_body (self->validator))
        body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
      status = cdviz_header_validator_check_soup (self->validator, request, body, &message);
      if (status != SOUP_STATUS_OK)
        {
          /* The message names the header, never its value. */
          g_debug ("sink '%s': connection rejected with %u: %s", self->name, status,
                   message != NULL ? message : "");
          COUNTER_ADD (self->rejected_auth, 1);
          respond_rejected (msg, status,
                            message != NULL ? message : "Header validation failed");
          return;
        }
    }

  if (self->max_clients > 0 &&
      (guint) g_atomic_int_get (&self->n_clients) >= self->max_clients)
    {
      g_debug ("sink '%s': connection rejected with 503: max_clients (%u) reached",
               self->name, self->max_clients);
      COUNTER_ADD (self->rejected_max_clients, 1);
      soup_message_headers_replace (response, "Retry-After", RETRY_AFTER_SECONDS);
      cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                "too many clients on this stream; retry later");
      return;
    }

  g_atomic_int_inc (&self->n_clients);

  accepting = g_new0 (Accepting, 1);
  accepting->sink = g_object_ref (self);
  accepting->msg = g_object_ref (msg);
  accepting->link.data = accepting;
  accepting->head_only = method == SOUP_METHOD_HEAD;
  accepting->http10 = soup_server_message_get_http_version (msg) == SOUP_HTTP_1_0;
  accepting->last_event_id = g_strdup (soup_message_headers_get_one (request, "Last-Event-ID"));
  g_queue_push_tail_link (&self->accepting, &accepting->link);

  soup_server_message_pause (msg);

  accepting->idle = g_idle_source_new ();
  g_source_set_priority (accepting->idle, G_PRIORITY_HIGH);
  g_source_set_static_name (accepting->idle, "[cdviz-sse] accept");
  g_source_set_callback (accepting->idle, accepting_idle_cb, accepting, NULL);
  g_source_attach (accepting->idle, self->context);
}

/* --- wake-up (a shard's thread) --------------------------------------- */

/* Starts the streams of the connections the HTTP thread handed over. */
static void
adopt_incoming (SseShard *shard)
{
  CdvizSseSink *self = shard->sink;
  GQueue incoming = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  incoming = shard->incoming;
  g_queue_init (&shard->incoming);
  g_mutex_unlock (&self->lock);

  while (incoming.head != NULL)
    {
      GList *link = incoming.head;
      SseClient *client = link->data;

      g_queue_unlink (&incoming, link);
      g_queue_push_tail_link (&shard->clients, &client->link);
      client->ka_time = g_get_monotonic_time ();
      g_queue_push_tail_link (&shard->keep_alive_order, &client->ka_link);
      if (self->stopping)
        client->finishing = TRUE;
      if (client_epoll_ctl (client, EPOLL_CTL_ADD) < 0)
        {
          g_warning ("sink '%s': client %d: epoll_ctl (ADD): %s", self->name, client->fd,
                     g_strerror (errno));
          client_free (client, "could not be watched");
          continue;
        }
      if (shard->keep_alive != NULL && shard->keep_alive_order.length == 1)
        keep_alive_arm (shard);

      g_debug ("sink '%s': client %d connected (%s, %s%s), %d clients", self->name, client->fd,
               client->connect_method, client->connect_version, client->connect_note,
               g_atomic_int_get (&self->n_clients));
      client_flush (client);
    }
}

static gboolean
wake_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  SseShard *shard = ((ShardSource *) source)->shard;
  GList *l, *next;

  g_source_set_ready_time (source, -1);
  g_atomic_int_set (&shard->wake_pending, 0);

  adopt_incoming (shard);

  for (l = shard->clients.head; l != NULL; l = next)
    {
      SseClient *client = l->data;

      next = l->next;
      /* A client still writing its batch continues when writable. */
      if (client->first_piece == client->n_pieces)
        client_flush (client);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_source_funcs = {
  NULL, NULL, wake_source_dispatch, NULL, NULL, NULL,
};

static gpointer
shard_thread_main (gpointer data)
{
  SseShard *shard = data;

  g_main_context_push_thread_default (shard->context);
  while (!g_atomic_int_get (&shard->quit))
    g_main_context_iteration (shard->context, TRUE);
  g_main_context_pop_thread_default (shard->context);
  return NULL;
}

static gboolean
shard_start (SseShard  *shard,
             GError   **error)
{
  CdvizSseSink *self = shard->sink;
  g_autofree char *thread_name = NULL;

  shard->context = g_main_context_new ();
  shard->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (shard->epfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "sink '%s': epoll_create1: %s", self->name, g_strerror (errsv));
      return FALSE;
    }
  shard->epoll_source = shard_source_new (shard, &epoll_source_funcs, "[cdviz-sse] clients");
  g_source_add_unix_fd (shard->epoll_source, shard->epfd, G_IO_IN);
  g_source_attach (shard->epoll_source, shard->context);
  if (self->keep_alive_ms > 0)
    {
      shard->keep_alive = shard_source_new (shard, &keep_alive_funcs, "[cdviz-sse] keep-alive");
      g_source_attach (shard->keep_alive, shard->context);
      keep_alive_arm (shard);
    }
  shard->wake = shard_source_new (shard, &wake_source_funcs, "[cdviz-sse] wake");
  g_source_attach (shard->wake, shard->context);

  /* Thread names are cut at 15 bytes: the shard number goes first. */
  thread_name = g_strdup_printf ("sse%u-%s", shard->index, self->id);
  g_atomic_int_set (&shard->quit, 0);
  shard->thread = g_thread_new (thread_name, shard_thread_main, shard);
  return TRUE;
}

/* Stops a shard's thread: from then on its clients belong to the caller. */
static void
shard_join (SseShard *shard)
{
  if (shard->thread == NULL)
    return;
  /* A flag, not g_main_loop_quit(): the thread may not be running yet. */
  g_atomic_int_set (&shard->quit, 1);
  g_main_context_wakeup (shard->context);
  g_thread_join (g_steal_pointer (&shard->thread));
}

/* Frees what shard_start() made; the thread is joined, the clients gone. */
static void
shard_clear (SseShard *shard)
{
  shard_join (shard);
  g_warn_if_fail (shard->clients.length == 0);
  g_warn_if_fail (shard->incoming.length == 0);
  shard_source_clear (&shard->wake);
  shard_source_clear (&shard->keep_alive);
  shard_source_clear (&shard->epoll_source);
  if (shard->epfd >= 0)
    {
      close (shard->epfd);
      shard->epfd = -1;
    }
  g_clear_pointer (&shard->context, g_main_context_unref);
}

static void
shards_free (CdvizSseSink *self)
{
  for (guint i = 0; i < self->n_shards; i++)
    shard_clear (&self->shards[i]);
  g_clear_pointer (&self->shards, g_free);
  self->n_shards = 0;
}

/* `threads` shards, or one per processor (at most MAX_THREADS). */
static gboolean
shards_start (CdvizSseSink  *self,
              GError       **error)
{
  self->n_shards = self->threads > 0 ? self->threads
                   : CLAMP (g_get_num_processors (), 1, MAX_THREADS);
  self->shards = g_new0 (SseShard, self->n_shards);
  for (guint i = 0; i < self->n_shards; i++)
    {
      SseShard *shard = &self->shards[i];

      shard->sink = self;
      shard->index = i;
      shard->epfd = -1;
      g_queue_init (&shard->incoming);
      g_queue_init (&shard->clients);
      g_queue_init (&shard->keep_alive_order);
    }
  for (guint i = 0; i < self->n_shards; i++)
    if (!shard_start (&self->shards[i], error))
      {
        shards_free (self);
        return FALSE;
      }
  return TRUE;
}

/* --- metrics ------------------------------------------------------------ */

static void
append_label_value (GString    *out,
                    const char *value)
{
  for (const char *p = value; *p; p++)
    {
      if (*p == '\\' || *p == '"')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_sample (GString      *out,
               const char   *metric,
               CdvizSseSink *sink,
               const char   *extra,
               guint64       value)
{
  g_string_append_printf (out, "%s{sink=\"", metric);
  append_label_value (out, sink->name);
  g_string_append (out, "\",id=\"");
  append_label_value (out, sink->id);
  g_string_append_printf (out, "\"%s} %" G_GUINT64_FORMAT "\n", extra ? extra : "", value);
}

/* One function per HTTP server for every SSE sink on it, so that each
 * metric family is declared once. */
static void
sse_metrics (GString  *out,
             gpointer  user_data)
{
  GPtrArray *sinks = user_data;

  g_string_append (out,
                   "# HELP cdviz_sse_clients Connected SSE clients.\n"
                   "# TYPE cdviz_sse_clients gauge\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_clients", sink, NULL,
                     (guint64) MAX (g_atomic_int_get (&sink->n_clients), 0));
    }
  g_string_append (out,
                   "# HELP cdviz_sse_events_sent_total Events written to SSE clients (one per client).\n"
                   "# TYPE cdviz_sse_events_sent_total counter\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_events_sent_total", sink, NULL,
                     COUNTER_GET (sink->events_sent));
    }
  g_string_append (out,
                   "# HELP cdviz_sse_lagged_events_total Events SSE clients missed because they fell behind the buffer.\n"
                   "# TYPE cdviz_sse_lagged_events_total counter\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_lagged_events_total", sink, NULL,
                     COUNTER_GET (sink->lagged_events));
    }
  g_string_append (out,
                   "# HELP cdviz_sse_buffer_events Events held in the SSE sink's buffer.\n"
                   "# TYPE cdviz_sse_buffer_events gauge\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      guint64 length;

      g_mutex_lock (&sink->lock);
      length = cdviz_sse_ring_get_length (sink->ring);
      g_mutex_unlock (&sink->lock);
      append_sample (out, "cdviz_sse_buffer_events", sink, NULL, length);
    }
  g_string_append (out,
                   "# HELP cdviz_sse_buffer_bytes Bytes of the frames held in the SSE sink's buffer.\n"
                   "# TYPE cdviz_sse_buffer_bytes gauge\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      guint64 bytes;

      g_mutex_lock (&sink->lock);
      bytes = cdviz_sse_ring_get_bytes (sink->ring);
      g_mutex_unlock (&sink->lock);
      append_sample (out, "cdviz_sse_buffer_bytes", sink, NULL, bytes);
    }
  g_string_append (out,
                   "# HELP cdviz_sse_buffer_max_events The SSE sink's buffer_size: events kept at most.\n"
                   "# TYPE cdviz_sse_buffer_max_events gauge\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_buffer_max_events", sink, NULL, sink->buffer_size);
    }
  g_string_append (out,
                   "# HELP cdviz_sse_buffer_max_bytes The SSE sink's buffer_bytes: bytes kept at most (0 = no byte bound).\n"
                   "# TYPE cdviz_sse_buffer_max_bytes gauge\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_buffer_max_bytes", sink, NULL, sink->buffer_bytes);
    }
  g_string_append (out,
                   "# HELP cdviz_sse_rejected_connections_total SSE connections refused, by reason.\n"
                   "# TYPE cdviz_sse_rejected_connections_total counter\n");
  for (guint i = 0; i < sinks->len; i++)
    {
      CdvizSseSink *sink = g_ptr_array_index (sinks, i);
      append_sample (out, "cdviz_sse_rejected_connections_total", sink, ",reason=\"auth\"",
                     COUNTER_GET (sink->rejected_auth));
      append_sample (out, "cdviz_sse_rejected_connections_total", sink, ",reason=\"max_clients\"",
                     COUNTER_GET (sink->rejected_max_clients));
    }
}

#define METRICS_KEY "cdviz-sse-sinks"

static void
register_metrics (CdvizSseSink    *self,
                  CdvizHttpServer *http)
{
  GPtrArray *sinks = g_object_get_data (G_OBJECT (http), METRICS_KEY);

  if (sinks == NULL)
    {
      sinks = g_ptr_array_new_with_free_func (g_object_unref);
      g_object_set_data_full (G_OBJECT (http), METRICS_KEY, sinks,
                              (GDestroyNotify) g_ptr_array_unref);
      cdviz_http_server_add_metrics_func (http, sse_metrics, g_ptr_array_ref (sinks),
                                          (GDestroyNotify) g_ptr_array_unref);
    }
  if (!g_ptr_array_find (sinks, self, NULL))
    g_ptr_array_add (sinks, g_object_ref (self));
}

/* --- the sink ----------------------------------------------------------- */

static gboolean
sse_start_sink (CdvizSink      *sink,
                CdvizPipeline  *pipeline,
                GError        **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);
  CdvizHttpServer *http = cdviz_pipeline_get_http_server (pipeline);
  g_autofree char *path = g_strdup_printf ("/sse/%s", self->id);
  g_autofree char *owner = NULL;
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : self->id);
  owner = g_strdup_printf ("sink '%s'", self->name);

  /* The threads first: the route may be used as soon as it exists. */
  if (self->shards == NULL && !shards_start (self, error))
    return FALSE;

  if (!cdviz_http_server_add_handler (http, path, owner, sse_handler, g_object_ref (self),
                                      g_object_unref, error))
    {
      g_object_unref (self);
      shards_free (self);
      return FALSE;
    }
  /* A stream request has no body: one is refused unread. */
  cdviz_http_server_set_max_body_size (http, path, 0);
  register_metrics (self, http);

  g_set_weak_pointer (&self->http, http);
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref (cdviz_http_server_get_context (http));
  self->stopping = FALSE;

  g_debug ("sink '%s': serving %s with %u fan-out thread%s", self->name, path,
           self->n_shards, self->n_shards == 1 ? "" : "s");
  return TRUE;
}

static gboolean
sse_send_message (CdvizSink     *sink,
                  CdvizMessage  *message,
                  GError       **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);
  GBytes *body = cdviz_message_get_body_bytes (message);
  const char *id = cdviz_message_get_id (message);
  g_autoptr(GBytes) frame = NULL;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  if (id != NULL && !cdviz_sse_frame_id_is_valid (id))
    {
      g_debug ("sink '%s': event id holds a line break; sent without id", self->name);
      id = NULL;
    }
  frame = cdviz_sse_frame_event (id, data, length);

  g_mutex_lock (&self->lock);
  cdviz_sse_ring_push (self->ring, id, frame);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < self->n_shards; i++)
    shard_wake (&self->shards[i]);
  return TRUE;
}

/* Refuses new connections and hands the accepted ones over. */
static gboolean
stop_on_http_thread (gpointer data)
{
  CdvizSseSink *self = data;

  self->stopping = TRUE;
  /* Connections accepted but not yet taken from libsoup. */
  while (self->accepting.head != NULL)
    accepting_finish (self->accepting.head->data);
  return G_SOURCE_REMOVE;
}

static guint
count_clients (CdvizSseSink *self)
{
  guint n = 0;

  for (guint i = 0; i < self->n_shards; i++)
    n += self->shards[i].clients.length;
  return n;
}

/* Ends every stream: writes what each client still has to receive as far
 * as its socket takes within a short bound, then the last chunk, and
 * closes. Runs once the shards' threads are joined. */
static void
stop_streams (CdvizSseSink *self)
{
  gint64 deadline = g_get_monotonic_time () + STOP_FLUSH_TIMEOUT_US;
  GList *l, *next;
  guint total;

  for (guint i = 0; i < self->n_shards; i++)
    {
      SseShard *shard = &self->shards[i];

      shard_source_clear (&shard->wake);
      shard_source_clear (&shard->keep_alive);
      adopt_incoming (shard);
      for (l = shard->clients.head; l != NULL; l = next)
        {
          SseClient *client = l->data;

          next = l->next;
          client->finishing = TRUE;
          if (client->first_piece == client->n_pieces)
            client_flush (client);
        }
    }

  while ((total = count_clients (self)) > 0)
    {
      g_autofree struct pollfd *fds = g_new0 (struct pollfd, total);
      guint n = 0;
      gint64 now = g_get_monotonic_time ();
      int ready;

      if (now >= deadline)
        break;
      for (guint i = 0; i < self->n_shards; i++)
        for (l = self->shards[i].clients.head; l != NULL; l = l->next)
          {
            fds[n].fd = ((SseClient *) l->data)->fd;
            fds[n].events = POLLOUT;
            n++;
          }
      ready = poll (fds, n, (int) ((deadline - now + 999) / 1000));
      if (ready < 0 && errno != EINTR)
        break;
      n = 0;
      for (guint i = 0; i < self->n_shards; i++)
        for (l = self->shards[i].clients.head; l != NULL; l = next)
          {
            SseClient *client = l->data;

            next = l->next;
            if (fds[n++].revents & (POLLOUT | POLLERR | POLLHUP))
              client_flush (client);
          }
    }

  for (guint i = 0; i < self->n_shards; i++)
    while (self->shards[i].clients.head != NULL)
      client_free (self->shards[i].clients.head->data, "could not be flushed in time");

  shards_free (self);
}

static void
sse_stop_sink (CdvizSink *sink)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (sink);

  if (self->http != NULL)
    cdviz_http_server_invoke_sync (self->http, stop_on_http_thread, self);
  else
    stop_on_http_thread (self);
  for (guint i = 0; i < self->n_shards; i++)
    shard_join (&self->shards[i]);
  stop_streams (self);
  g_clear_weak_pointer (&self->http);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = sse_start_sink;
  iface->send_message = sse_send_message;
  iface->stop_sink = sse_stop_sink;
}

static gboolean
sse_initable_init (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (initable);
  JsonNode *rules = self->headers;

  if (self->id == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("missing required key 'id'"));
      return FALSE;
    }
  if (*self->id == '\0' || strpbrk (self->id, "/?#% \t\r\n") != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key 'id': “%s” cannot be used in a URL path (use letters, digits, '-', '_' or '.')"),
                   self->id);
      return FALSE;
    }
  if (self->cors_allow_origin != NULL &&
      (*self->cors_allow_origin == '\0' || strpbrk (self->cors_allow_origin, "\r\n") != NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("key 'cors_allow_origin': must be a non-empty origin or \"*\""));
      return FALSE;
    }

  /* `headers = []` (the collector's documented empty value) means no rules. */
  if (rules != NULL &&
      !(JSON_NODE_HOLDS_ARRAY (rules) && json_array_get_length (json_node_get_array (rules)) == 0) &&
      !(JSON_NODE_HOLDS_OBJECT (rules) && json_object_get_size (json_node_get_object (rules)) == 0))
    {
      g_autoptr(GError) local_error = NULL;

      self->validator = cdviz_header_validator_new (rules, &local_error);
      if (self->validator == NULL)
        {
          g_set_error (error, local_error->domain, local_error->code,
                       _("key 'headers': %s"), local_error->message);
          return FALSE;
        }
    }

  if (self->retry_ms > 0)
    self->retry_frame = cdviz_sse_frame_retry (self->retry_ms);

  self->ring = cdviz_sse_ring_new (self->buffer_size, self->buffer_bytes);
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = sse_initable_init;
}

static void
cdviz_sse_sink_finalize (GObject *object)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  /* The pipeline stops its sinks (and so every stream) before dropping
   * them; accepting connections hold a reference to the sink. */
  g_warn_if_fail (self->accepting.length == 0);
  shards_free (self);
  g_clear_weak_pointer (&self->http);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->ring, cdviz_sse_ring_free);
  g_mutex_clear (&self->lock);
  g_clear_object (&self->validator);
  g_clear_pointer (&self->retry_frame, g_bytes_unref);
  g_clear_pointer (&self->headers, json_node_unref);
  g_free (self->id);
  g_free (self->cors_allow_origin);
  g_free (self->name);

  G_OBJECT_CLASS (cdviz_sse_sink_parent_class)->finalize (object);
}

static void
cdviz_sse_sink_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_HEADERS:
      g_value_set_boxed (value, self->headers);
      break;
    case PROP_BUFFER_SIZE:
      g_value_set_uint (value, self->buffer_size);
      break;
    case PROP_BUFFER_BYTES:
      g_value_set_uint64 (value, self->buffer_bytes);
      break;
    case PROP_KEEP_ALIVE_INTERVAL:
      g_value_set_uint64 (value, self->keep_alive_ms);
      break;
    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, self->max_clients);
      break;
    case PROP_RETRY:
      g_value_set_uint64 (value, self->retry_ms);
      break;
    case PROP_CORS_ALLOW_ORIGIN:
      g_value_set_string (value, self->cors_allow_origin);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_sink_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  CdvizSseSink *self = CDVIZ_SSE_SINK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_BUFFER_SIZE:
      self->buffer_size = g_value_get_uint (value);
      break;
    case PROP_BUFFER_BYTES:
      self->buffer_bytes = g_value_get_uint64 (value);
      break;
    case PROP_KEEP_ALIVE_INTERVAL:
      self->keep_alive_ms = g_value_get_uint64 (value);
      break;
    case PROP_MAX_CLIENTS:
      self->max_clients = g_value_get_uint (value);
      break;
    case PROP_RETRY:
      self->retry_ms = g_value_get_uint64 (value);
      break;
    case PROP_CORS_ALLOW_ORIGIN:
      g_free (self->cors_allow_origin);
      self->cors_allow_origin = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_sse_sink_class_init (CdvizSseSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = cdviz_sse_sink_finalize;
  object_class->get_property = cdviz_sse_sink_get_property;
  object_class->set_property = cdviz_sse_sink_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, "The stream's id: it is served at /sse/<id> (required)",
                         NULL, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Header rules a client must pass (header name → rule)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_BUFFER_SIZE] =
    g_param_spec_uint ("buffer-size", NULL,
                       "How many recent events are kept for slow and reconnecting clients",
                       1, 10000000, 1000, flags);
  properties[PROP_BUFFER_BYTES] =
    g_param_spec_uint64 ("buffer-bytes", NULL,
                         "At most this many bytes of recent events are kept; the oldest go first, "
                         "the newest event always stays (0 = no byte bound)",
                         0, G_MAXUINT64, DEFAULT_BUFFER_BYTES, flags);
  properties[PROP_KEEP_ALIVE_INTERVAL] =
    cdviz_param_spec_duration ("keep-alive-interval", NULL,
                               "A keep-alive comment is sent after this much silence (0 = never)",
                               0, G_MAXUINT32, 30000, flags);
  properties[PROP_MAX_CLIENTS] =
    g_param_spec_uint ("max-clients", NULL,
                       "At most this many connected clients; more are answered 503 (0 = unlimited)",
                       0, G_MAXUINT, 0, flags);
  properties[PROP_RETRY] =
    cdviz_param_spec_duration ("retry", NULL,
                               "Reconnection delay sent to clients as the retry: field (0 = not sent)",
                               0, G_MAXUINT32, 0, flags);
  properties[PROP_CORS_ALLOW_ORIGIN] =
    g_param_spec_string ("cors-allow-origin", NULL,
                         "The Access-Control-Allow-Origin header of every response: an origin "
                         "(https://dash.example) or * (default: none, only same-origin pages "
                         "can read the stream in a browser)",
                         NULL, flags);
  properties[PROP_THREADS] =
    g_param_spec_uint ("threads", NULL,
                       "Fan-out threads the clients are spread over (0 = one per processor, at most 8)",
                       0, MAX_THREADS, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_sse_sink_init (CdvizSseSink *self)
{
  g_mutex_init (&self->lock);
  self->buffer_size = 1000;
  self->buffer_bytes = DEFAULT_BUFFER_BYTES;
  self->keep_alive_ms = 30000;
  g_queue_init (&self->accepting);
}

/* --- the plugin --------------------------------------------------------- */

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "sse",
                                       CDVIZ_TYPE_SSE_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("sse", "Server-Sent Events sink: streams events to HTTP clients",
                     register_types)
