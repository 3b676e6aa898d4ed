/* SPDX-License-Identifier: Apache-2.0 */
/* The SSE sink's per-client writer on a socketpair(): no HTTP server, no
 * fan-out thread, no plugin loading (GStreamer tests its multisocketsink
 * the same way). The writer's sources, with the frames and the ring, are
 * compiled into this executable. The test plays the fan-out thread: it
 * pushes frames into the ring and calls flush(), keep_alive(), finish(),
 * and reads what the peer end receives. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "cdviz-sse-writer.h"
#include "cdviz-sse-frame.h"

typedef struct {
  CdvizSseFeed feed;
  CdvizSseWriter *client;
  int peer;              /* the test's end of the pair: what "the browser" reads */
  guint pushed;          /* frames pushed so far */

  GString *wire;         /* what the peer read */
  GString *payload;      /* the body, without chunk framing */
  char *head;            /* the response head */
  char *expected;        /* what the body should be */
} Pair;

static void
pair_init_feed (Pair  *pair,
                guint  ring_capacity)
{
  memset (pair, 0, sizeof *pair);
  g_mutex_init (&pair->feed.lock);
  pair->feed.ring = cdviz_sse_ring_new (ring_capacity, 0);
  pair->feed.name = "test";
  pair->peer = -1;
  pair->wire = g_string_new (NULL);
  pair->payload = g_string_new (NULL);
}

/* A client on one end of a socketpair(), at the ring's next frame. */
static void
pair_connect (Pair     *pair,
              gboolean  http10,
              gboolean  head_only,
              int       sndbuf)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  GSocketConnection *connection;
  int sv[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  if (sndbuf > 0)
    g_assert_no_errno (setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf));
  g_assert_no_errno (fcntl (sv[1], F_SETFL, O_NONBLOCK));
  pair->peer = sv[1];

  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  pair->client = cdviz_sse_writer_new (&pair->feed, G_IO_STREAM (connection),
                                       g_steal_pointer (&socket), http10,
                                       head_only, cdviz_sse_ring_get_next (pair->feed.ring),
                                       NULL);
}

static void
pair_init (Pair     *pair,
           guint     ring_capacity,
           gboolean  http10,
           gboolean  head_only,
           int       sndbuf)
{
  pair_init_feed (pair, ring_capacity);
  pair_connect (pair, http10, head_only, sndbuf);
}

static void
pair_clear (Pair *pair)
{
  g_clear_pointer (&pair->client, cdviz_sse_writer_free);
  if (pair->peer >= 0)
    close (pair->peer);
  g_clear_pointer (&pair->feed.ring, cdviz_sse_ring_free);
  g_clear_pointer (&pair->feed.retry_frame, g_bytes_unref);
  g_mutex_clear (&pair->feed.lock);
  g_string_free (pair->wire, TRUE);
  g_string_free (pair->payload, TRUE);
  g_free (pair->head);
  g_free (pair->expected);
}

static GBytes *
event_frame (guint  n,
             gsize  size)
{
  g_autofree char *id = g_strdup_printf ("id-%05u", n);
  g_autofree char *data = g_strdup_printf ("{\"n\":%05u,\"pad\":\"%*s\"}", n, (int) size, "");

  return cdviz_sse_frame_event (id, data, strlen (data));
}

/* Pushes @count frames of about @size bytes; returns what they are, in
 * order, as a client should receive them. */
static char *
push_events (Pair  *pair,
             guint  count,
             gsize  size)
{
  GString *expected = g_string_new (NULL);

  for (guint i = 0; i < count; i++)
    {
      guint n = pair->pushed++;
      g_autofree char *id = g_strdup_printf ("id-%05u", n);
      g_autoptr(GBytes) frame = event_frame (n, size);

      g_string_append_len (expected, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
      cdviz_sse_ring_push (pair->feed.ring, id, frame);
    }
  return g_string_free (expected, FALSE);
}

/* Everything the peer can read now, without waiting. */
static void
read_available (Pair    *pair,
                GString *into)
{
  char buffer[65536];
  ssize_t n;

  while ((n = recv (pair->peer, buffer, sizeof buffer, 0)) > 0)
    g_string_append_len (into, buffer, n);
  g_assert_true (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK);   /* 0: end of stream */
}

/* The peer sees the end of the connection. */
static void
assert_peer_eof (Pair *pair)
{
  char byte;

  g_assert_cmpint (recv (pair->peer, &byte, 1, 0), ==, 0);
}

/* Removes the response head from @wire and returns it. */
static char *
take_head (GString *wire)
{
  const char *end = strstr (wire->str, "\r\n\r\n");
  char *head;

  g_assert_nonnull (end);
  head = g_strndup (wire->str, end + 4 - wire->str);
  g_string_erase (wire, 0, end + 4 - wire->str);
  return head;
}

/* Decodes a chunked body, strictly: appends the payload of each complete
 * chunk to @payload and its size to @sizes; returns whether the last
 * chunk (`0\r\n\r\n`) ends the body, which must then hold nothing more. */
static gboolean
decode_chunks (const GString *wire,
               GString       *payload,
               GArray        *sizes)
{
  const char *p = wire->str, *end = wire->str + wire->len;

  while (p < end)
    {
      char *after;
      guint64 size = g_ascii_strtoull (p, &after, 16);

      g_assert_true (after > p);
      g_assert_true (after + 2 <= end && memcmp (after, "\r\n", 2) == 0);
      p = after + 2;
      if (size == 0)
        {
          g_assert_true (p + 2 == end && memcmp (p, "\r\n", 2) == 0);
          return TRUE;
        }
      g_assert_true (p + size + 2 <= end);
      g_assert_true (memcmp (p + size, "\r\n", 2) == 0);
      g_string_append_len (payload, p, size);
      if (sizes != NULL)
        g_array_append_val (sizes, size);
      p += size + 2;
    }
  return FALSE;
}

/* The response ends with @status; the client is freed: returns the
 * response head, leaves the body in @wire, and checks that the peer sees
 * the connection's end. */
static char *
end_and_read (Pair                 *pair,
              CdvizSseWriterStatus  status,
              GString              *wire)
{
  g_assert_cmpint (cdviz_sse_writer_flush (pair->client), ==, status);
  g_clear_pointer (&pair->client, cdviz_sse_writer_free);
  read_available (pair, wire);
  assert_peer_eof (pair);
  return take_head (wire);
}

static void
assert_flush_ok (Pair *pair)
{
  g_assert_cmpint (cdviz_sse_writer_flush (pair->client), ==, CDVIZ_SSE_WRITER_OK);
}

/* Flushes what is due, reads it, takes the response head off (the first
 * time) and decodes the chunks into pair->payload (and their sizes into
 * @sizes). */
static void
flush_and_decode (Pair   *pair,
                  GArray *sizes)
{
  assert_flush_ok (pair);
  read_available (pair, pair->wire);
  if (pair->head == NULL)
    pair->head = take_head (pair->wire);
  decode_chunks (pair->wire, pair->payload, sizes);
}

/* --- tests ------------------------------------------------------------------ */

static void
test_head_then_chunks (void)
{
  Pair pair;

  pair_init (&pair, 100, FALSE, FALSE, 0);
  assert_flush_ok (&pair);
  read_available (&pair, pair.wire);
  pair.head = take_head (pair.wire);
  g_assert_true (g_str_has_prefix (pair.head, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (pair.head, "\r\nContent-Type: text/event-stream\r\n"));
  g_assert_nonnull (strstr (pair.head, "\r\nTransfer-Encoding: chunked\r\n"));
  g_assert_null (strstr (pair.head, "Connection: close"));
  g_assert_null (strstr (pair.head, "Access-Control-Allow-Origin"));
  g_assert_cmpuint (pair.wire->len, ==, 0);   /* nothing to send yet: no empty chunk */

  pair.expected = push_events (&pair, 3, 10);
  assert_flush_ok (&pair);
  read_available (&pair, pair.wire);
  g_assert_false (decode_chunks (pair.wire, pair.payload, NULL));
  g_assert_cmpstr (pair.payload->str, ==, pair.expected);
  g_assert_cmpuint (pair.feed.events_sent, ==, 3);
  g_assert_false (cdviz_sse_writer_has_pending (pair.client));
  pair_clear (&pair);
}

static void
test_partial_writes (void)
{
  Pair pair;
  guint blocked = 0, rest_on_heap = 0;

  /* A small send buffer: every batch takes several writes. */
  pair_init (&pair, 1000, FALSE, FALSE, 4096);
  pair.expected = push_events (&pair, 300, 700);

  for (int rounds = 0; rounds < 10000; rounds++)
    {
      assert_flush_ok (&pair);
      if (cdviz_sse_writer_has_pending (pair.client))
        {
          /* The rest of a long batch is kept on the heap. */
          blocked++;
          if (pair.client->pieces_on_heap)
            rest_on_heap++;
        }
      else if (pair.client->cursor == cdviz_sse_ring_get_next (pair.feed.ring))
        break;
      read_available (&pair, pair.wire);
    }
  read_available (&pair, pair.wire);
  g_assert_false (cdviz_sse_writer_has_pending (pair.client));
  g_assert_cmpuint (blocked, >, 10);
  g_assert_cmpuint (rest_on_heap, >, 0);
  /* Written: the heap array is gone. */
  g_assert_false (pair.client->pieces_on_heap);
  g_assert_true (pair.client->pieces == pair.client->inline_pieces);

  pair.head = take_head (pair.wire);
  g_assert_false (decode_chunks (pair.wire, pair.payload, NULL));
  g_assert_cmpuint (pair.payload->len, ==, strlen (pair.expected));
  g_assert_cmpstr (pair.payload->str, ==, pair.expected);   /* whole, in order, once */
  g_assert_cmpuint (pair.feed.events_sent, ==, 300);
  pair_clear (&pair);
}

static void
test_partial_rest_inline (void)
{
  Pair pair;
  guint blocked = 0;

  /* One large frame: chunk header, frame, CRLF; what the socket does not
   * take stays in the client itself, no heap array. */
  pair_init (&pair, 100, FALSE, FALSE, 4096);
  assert_flush_ok (&pair);
  read_available (&pair, pair.wire);
  pair.head = take_head (pair.wire);
  pair.expected = push_events (&pair, 1, 64 * 1024);
  for (int rounds = 0; rounds < 10000; rounds++)
    {
      assert_flush_ok (&pair);
      if (!cdviz_sse_writer_has_pending (pair.client))
        break;
      blocked++;
      g_assert_false (pair.client->pieces_on_heap);
      g_assert_true (pair.client->pieces == pair.client->inline_pieces);
      g_assert_cmpuint (pair.client->n_pieces, <=, CDVIZ_SSE_INLINE_PIECES);
      read_available (&pair, pair.wire);
    }
  read_available (&pair, pair.wire);
  g_assert_cmpuint (blocked, >, 1);
  g_assert_false (decode_chunks (pair.wire, pair.payload, NULL));
  g_assert_cmpstr (pair.payload->str, ==, pair.expected);
  g_assert_cmpuint (pair.feed.events_sent, ==, 1);
  pair_clear (&pair);
}

static void
test_batch_limits (void)
{
  Pair pair;
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autofree char *small = NULL;
  g_autofree char *large = NULL;
  gsize small_frame;

  pair_init (&pair, 1000, FALSE, FALSE, 4 * 1024 * 1024);
  /* By count: 150 small frames are three chunks of 64, 64 and 22. */
  small = push_events (&pair, 150, 10);
  small_frame = strlen (small) / 150;
  flush_and_decode (&pair, sizes);
  g_assert_cmpstr (pair.payload->str, ==, small);
  g_assert_cmpuint (sizes->len, ==, 3);
  g_assert_cmpuint (g_array_index (sizes, guint64, 0), ==, 64 * small_frame);
  g_assert_cmpuint (g_array_index (sizes, guint64, 1), ==, 64 * small_frame);
  g_assert_cmpuint (g_array_index (sizes, guint64, 2), ==, 22 * small_frame);

  /* By bytes: 10 KiB frames, at most 32 KiB a chunk, so three a chunk. */
  g_string_truncate (pair.wire, 0);
  g_string_truncate (pair.payload, 0);
  g_array_set_size (sizes, 0);
  large = push_events (&pair, 10, 10 * 1024);
  flush_and_decode (&pair, sizes);
  g_assert_cmpstr (pair.payload->str, ==, large);
  g_assert_cmpuint (sizes->len, ==, 4);
  for (guint i = 0; i < sizes->len; i++)
    g_assert_cmpuint (g_array_index (sizes, guint64, i), <=, CDVIZ_SSE_BATCH_BYTES);
  g_assert_cmpuint (pair.feed.events_sent, ==, 160);
  pair_clear (&pair);
}

static void
test_lagged_exact (void)
{
  Pair pair;
  g_autofree char *all = NULL;
  gsize frame_size;

  /* The client is at frame 0; 25 frames go through a ring of 10: it missed
   * exactly 15 and continues with the oldest held (15). */
  pair_init (&pair, 10, FALSE, FALSE, 0);
  all = push_events (&pair, 25, 5);
  frame_size = strlen (all) / 25;
  flush_and_decode (&pair, NULL);

  g_assert_true (g_str_has_prefix (pair.payload->str,
                                   "event: error\ndata: lagged: 15 messages skipped\n\n"));
  g_assert_cmpstr (pair.payload->str + strlen ("event: error\ndata: lagged: 15 messages skipped\n\n"),
                   ==, all + 15 * frame_size);
  g_assert_cmpuint (pair.feed.lagged_events, ==, 15);
  g_assert_cmpuint (pair.feed.events_sent, ==, 10);
  pair_clear (&pair);
}

static void
test_keep_alive_only_when_idle (void)
{
  const gint64 interval = 30 * G_USEC_PER_SEC;
  Pair pair;
  gint64 t;

  pair_init (&pair, 100, FALSE, FALSE, 0);
  assert_flush_ok (&pair);
  read_available (&pair, pair.wire);
  pair.head = take_head (pair.wire);
  t = pair.client->last_write;

  /* Not yet idle long enough: nothing. */
  g_assert_cmpint (cdviz_sse_writer_keep_alive (pair.client, t + interval - 1, interval), ==,
                   CDVIZ_SSE_WRITER_OK);
  read_available (&pair, pair.wire);
  g_assert_cmpuint (pair.wire->len, ==, 0);

  /* Idle, but events are due: they go, and no comment with them. */
  pair.expected = push_events (&pair, 2, 5);
  g_assert_cmpint (cdviz_sse_writer_keep_alive (pair.client, t + interval, interval), ==,
                   CDVIZ_SSE_WRITER_OK);
  read_available (&pair, pair.wire);
  decode_chunks (pair.wire, pair.payload, NULL);
  g_assert_cmpstr (pair.payload->str, ==, pair.expected);

  /* Idle with nothing due: one comment, in a chunk of its own. */
  g_string_truncate (pair.wire, 0);
  t = pair.client->last_write;
  g_assert_cmpint (cdviz_sse_writer_keep_alive (pair.client, t + interval, interval), ==,
                   CDVIZ_SSE_WRITER_OK);
  read_available (&pair, pair.wire);
  g_assert_cmpstr (pair.wire->str, ==, "e\r\n" CDVIZ_SSE_FRAME_KEEP_ALIVE "\r\n");
  g_assert_cmpuint (pair.feed.events_sent, ==, 2);
  pair_clear (&pair);
}

static void
test_keep_alive_not_while_pending (void)
{
  Pair pair;
  guint n_pieces, first_piece;
  gsize offset;

  /* The socket is full: a client still writing its batch gets no comment. */
  pair_init (&pair, 1000, FALSE, FALSE, 4096);
  pair.expected = push_events (&pair, 100, 700);
  assert_flush_ok (&pair);
  g_assert_true (cdviz_sse_writer_has_pending (pair.client));
  first_piece = pair.client->first_piece;
  offset = pair.client->offset;
  n_pieces = pair.client->n_pieces;
  g_assert_cmpint (cdviz_sse_writer_keep_alive (pair.client, G_MAXINT64 / 2, 1), ==,
                   CDVIZ_SSE_WRITER_OK);
  g_assert_cmpuint (pair.client->n_pieces, ==, n_pieces);
  g_assert_cmpuint (pair.client->first_piece, ==, first_piece);
  g_assert_cmpuint (pair.client->offset, ==, offset);
  pair_clear (&pair);
}

static void
test_finish_last_chunk (void)
{
  Pair pair;
  g_autofree char *first = NULL;
  g_autofree char *rest = NULL;

  pair_init (&pair, 100, FALSE, FALSE, 0);
  first = push_events (&pair, 2, 5);
  assert_flush_ok (&pair);

  /* Frames still due when the sink stops are sent, then the last chunk. */
  rest = push_events (&pair, 3, 5);
  cdviz_sse_writer_finish (pair.client);
  g_assert_cmpint (cdviz_sse_writer_flush (pair.client), ==, CDVIZ_SSE_WRITER_FINISHED);
  read_available (&pair, pair.wire);
  pair.head = take_head (pair.wire);
  g_assert_true (g_str_has_suffix (pair.wire->str, "\r\n0\r\n\r\n"));
  g_assert_true (decode_chunks (pair.wire, pair.payload, NULL));
  g_assert_true (g_str_has_prefix (pair.payload->str, first));
  g_assert_cmpstr (pair.payload->str + strlen (first), ==, rest);
  g_assert_cmpuint (pair.feed.events_sent, ==, 5);
  pair_clear (&pair);
}

static void
test_http10_close_delimited (void)
{
  Pair pair;

  pair_init (&pair, 100, TRUE, FALSE, 0);
  pair.expected = push_events (&pair, 4, 5);
  assert_flush_ok (&pair);
  cdviz_sse_writer_finish (pair.client);
  pair.head = end_and_read (&pair, CDVIZ_SSE_WRITER_FINISHED, pair.wire);
  g_assert_true (g_str_has_prefix (pair.head, "HTTP/1.0 200 OK\r\n"));
  g_assert_nonnull (strstr (pair.head, "\r\nConnection: close\r\n"));
  g_assert_null (strstr (pair.head, "Transfer-Encoding"));
  /* The frames as they are, no chunk framing, no last chunk: the body ends
   * where the connection does. */
  g_assert_cmpstr (pair.wire->str, ==, pair.expected);
  pair_clear (&pair);
}

static void
test_head_request (void)
{
  Pair pair;
  g_autofree char *unused = NULL;

  pair_init (&pair, 100, FALSE, TRUE, 0);
  unused = push_events (&pair, 3, 5);
  pair.client->cursor = 0;   /* even with frames due */
  pair.head = end_and_read (&pair, CDVIZ_SSE_WRITER_HEAD, pair.wire);
  g_assert_true (g_str_has_prefix (pair.head, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (pair.head, "\r\nConnection: close\r\n"));
  g_assert_cmpuint (pair.wire->len, ==, 0);   /* headers only */
  g_assert_cmpuint (pair.feed.events_sent, ==, 0);
  pair_clear (&pair);
}

static void
test_retry_and_cors (void)
{
  Pair pair;

  pair_init_feed (&pair, 100);
  pair.feed.retry_frame = cdviz_sse_frame_retry (2500);
  pair.feed.cors_allow_origin = "https://dash.example";
  pair_connect (&pair, FALSE, FALSE, 0);
  pair.expected = push_events (&pair, 1, 5);
  flush_and_decode (&pair, NULL);
  g_assert_nonnull (strstr (pair.head, "\r\nAccess-Control-Allow-Origin: https://dash.example\r\n"));
  g_assert_true (g_str_has_prefix (pair.payload->str, "retry: 2500\n\n"));
  g_assert_cmpstr (pair.payload->str + strlen ("retry: 2500\n\n"), ==, pair.expected);
  pair_clear (&pair);
}

static void
test_peer_closed (void)
{
  Pair pair;

  pair_init (&pair, 100, FALSE, FALSE, 0);
  assert_flush_ok (&pair);
  g_assert_cmpint (cdviz_sse_writer_drain_input (pair.client), ==, CDVIZ_SSE_WRITER_OK);
  g_assert_cmpint (send (pair.peer, "ignored", 7, 0), ==, 7);
  g_assert_cmpint (cdviz_sse_writer_drain_input (pair.client), ==, CDVIZ_SSE_WRITER_OK);

  /* A peer that read everything and closes: closed (with unread bytes
   * it would be a reset). */
  read_available (&pair, pair.wire);
  close (pair.peer);
  pair.peer = -1;
  g_assert_cmpint (cdviz_sse_writer_drain_input (pair.client), ==, CDVIZ_SSE_WRITER_CLOSED);
  /* Writing to a closed peer: reset (EPIPE), no SIGPIPE. */
  pair.expected = push_events (&pair, 1, 5);
  g_assert_cmpint (cdviz_sse_writer_flush (pair.client), ==, CDVIZ_SSE_WRITER_RESET);
  pair_clear (&pair);
}

static void
test_status_names (void)
{
  /* The `reason` label values of cdviz_sse_clients_removed_total. */
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_CLOSED), ==, "closed");
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_RESET), ==, "reset");
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_ERROR), ==, "error");
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_HEAD), ==, "head");
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_FINISHED), ==, "finished");
  g_assert_cmpstr (cdviz_sse_writer_status_to_string (CDVIZ_SSE_WRITER_FLUSH_TIMEOUT), ==,
                   "flush_timeout");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sse/client/head-then-chunks", test_head_then_chunks);
  g_test_add_func ("/sse/client/partial-writes", test_partial_writes);
  g_test_add_func ("/sse/client/partial-rest-inline", test_partial_rest_inline);
  g_test_add_func ("/sse/client/batch-limits", test_batch_limits);
  g_test_add_func ("/sse/client/lagged-exact", test_lagged_exact);
  g_test_add_func ("/sse/client/keep-alive-only-when-idle", test_keep_alive_only_when_idle);
  g_test_add_func ("/sse/client/keep-alive-not-while-pending", test_keep_alive_not_while_pending);
  g_test_add_func ("/sse/client/finish-last-chunk", test_finish_last_chunk);
  g_test_add_func ("/sse/client/http10-close-delimited", test_http10_close_delimited);
  g_test_add_func ("/sse/client/head", test_head_request);
  g_test_add_func ("/sse/client/retry-and-cors", test_retry_and_cors);
  g_test_add_func ("/sse/client/peer-closed", test_peer_closed);
  g_test_add_func ("/sse/client/status-names", test_status_names);

  return g_test_run ();
}
