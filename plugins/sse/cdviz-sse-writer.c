/* SPDX-License-Identifier: Apache-2.0 */
/* The per-client writer: batches, chunk framing, keep-alives, the end of
 * the stream, and the two transports (raw socket, TLS stream). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <libsoup/soup.h>

#include "cdviz-sse-writer.h"
#include "cdviz-sse-frame.h"

/*
 * Bounded memory. A client's output is one batch: at most
 * CDVIZ_SSE_BATCH_FRAMES frames and about CDVIZ_SSE_BATCH_BYTES bytes,
 * written with one vectored write as one chunk; the next batch is taken
 * from the ring only when the previous one was written completely. A batch
 * holds references to frames, never copies, so a stalled client holds at
 * most one batch; everything else lives once, in the ring. A client whose
 * cursor fell out of the ring gets one `lagged: N messages skipped` error,
 * N being exactly the frames it missed, and continues with the oldest
 * frame still held.
 *
 * A batch is built in an array on the stack of flush() (or keep_alive())
 * and written at once: the common write takes it whole, and the client
 * holds no array of its own. Only when the socket takes part of it is the
 * rest kept in the client (client_keep_rest()): a few pieces inline, more
 * in a heap array freed once they are written.
 */

/* How bytes reach the peer. Both functions return CDVIZ_SSE_WRITER_OK
 * with a count, 0 meaning "would block" (nothing to read now, or the
 * socket is full), or the reason the client is gone. */
struct _CdvizSseTransport {
  CdvizSseWriterStatus (*writev) (CdvizSseWriter     *client,
                                  const struct iovec *iov,
                                  guint               n_iov,
                                  gsize              *written);
  CdvizSseWriterStatus (*read)   (CdvizSseWriter     *client,
                                  char               *buffer,
                                  gsize               size,
                                  gsize              *n_read);
};

static const char keep_alive_frame[] = CDVIZ_SSE_FRAME_KEEP_ALIVE;
static const char crlf[] = "\r\n";
static const char last_chunk[] = "0\r\n\r\n";

const char *
cdviz_sse_writer_status_to_string (CdvizSseWriterStatus status)
{
  static const char *const names[CDVIZ_SSE_WRITER_N_STATUS] = {
    [CDVIZ_SSE_WRITER_OK] = "ok",
    [CDVIZ_SSE_WRITER_CLOSED] = "closed",
    [CDVIZ_SSE_WRITER_RESET] = "reset",
    [CDVIZ_SSE_WRITER_ERROR] = "error",
    [CDVIZ_SSE_WRITER_HEAD] = "head",
    [CDVIZ_SSE_WRITER_FINISHED] = "finished",
    [CDVIZ_SSE_WRITER_FLUSH_TIMEOUT] = "flush_timeout",
  };

  g_return_val_if_fail (status < CDVIZ_SSE_WRITER_N_STATUS, "unknown");
  return names[status];
}

/* --- transports ----------------------------------------------------------- */

static CdvizSseWriterStatus
status_from_errno (CdvizSseWriter *client,
                   int             errsv)
{
  g_debug ("sink '%s': client %d: %s", client->feed->name, client->fd, g_strerror (errsv));
  return errsv == ECONNRESET || errsv == EPIPE || errsv == ECONNABORTED
         ? CDVIZ_SSE_WRITER_RESET : CDVIZ_SSE_WRITER_ERROR;
}

static CdvizSseWriterStatus
status_from_error (CdvizSseWriter *client,
                   const GError   *error)
{
  g_debug ("sink '%s': client %d: TLS: %s", client->feed->name, client->fd,
           error != NULL ? error->message : "failed");
  if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF))
    return CDVIZ_SSE_WRITER_CLOSED;   /* closed without close_notify */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
    return CDVIZ_SSE_WRITER_RESET;
  return CDVIZ_SSE_WRITER_ERROR;
}

/* Raw: sendmsg() and recv() on the descriptor. TLS: the
 * #GTlsConnection's pollable streams, so that every byte is encrypted; the
 * socket is still what the fan-out thread polls. */
static CdvizSseWriterStatus
raw_writev (CdvizSseWriter     *client,
            const struct iovec *iov,
            guint               n_iov,
            gsize              *written)
{
  struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n_iov };
  ssize_t n;

  do
    n = sendmsg (client->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  *written = n > 0 ? (gsize) n : 0;
  if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)
    return CDVIZ_SSE_WRITER_OK;
  return status_from_errno (client, errno);
}

static CdvizSseWriterStatus
tls_writev (CdvizSseWriter     *client,
            const struct iovec *iov,
            guint               n_iov,
            gsize              *written)
{
  GOutputStream *out = g_io_stream_get_output_stream (client->stream);
  GOutputVector vectors[CDVIZ_SSE_MAX_PIECES];
  g_autoptr(GError) error = NULL;
  GPollableReturn ret;

  g_assert (n_iov <= G_N_ELEMENTS (vectors));
  for (guint i = 0; i < n_iov; i++)
    {
      vectors[i].buffer = iov[i].iov_base;
      vectors[i].size = iov[i].iov_len;
    }
  *written = 0;
  ret = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), vectors,
                                                     n_iov, written, NULL, &error);
  if (ret == G_POLLABLE_RETURN_OK || ret == G_POLLABLE_RETURN_WOULD_BLOCK)
    return CDVIZ_SSE_WRITER_OK;
  return status_from_error (client, error);
}

static CdvizSseWriterStatus
raw_read (CdvizSseWriter *client,
          char           *buffer,
          gsize           size,
          gsize          *n_read)
{
  ssize_t n;

  do
    n = recv (client->fd, buffer, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return status_from_errno (client, errno);
  *n_read = MAX (n, 0);
  return n == 0 ? CDVIZ_SSE_WRITER_CLOSED : CDVIZ_SSE_WRITER_OK;
}

static CdvizSseWriterStatus
tls_read (CdvizSseWriter *client,
          char           *buffer,
          gsize           size,
          gsize          *n_read)
{
  GInputStream *in = g_io_stream_get_input_stream (client->stream);
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer, size,
                                                NULL, &error);
  if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return status_from_error (client, error);
  *n_read = MAX (n, 0);
  return n == 0 ? CDVIZ_SSE_WRITER_CLOSED : CDVIZ_SSE_WRITER_OK;
}

static const CdvizSseTransport raw_transport = { raw_writev, raw_read };
static const CdvizSseTransport tls_transport = { tls_writev, tls_read };

/* --- the client ------------------------------------------------------------ */

GBytes *
cdviz_sse_writer_build_head (gboolean    http10,
                             gboolean    head_only,
                             const char *cors_allow_origin,
                             const char *resume)
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
  if (cors_allow_origin != NULL)
    g_string_append_printf (head, "Access-Control-Allow-Origin: %s\r\n", cors_allow_origin);
  /* Whether Last-Event-ID was found: CdvizSseClient tells its user when
   * events may have been lost (a producer restarted, a ring overrun). */
  if (resume != NULL)
    g_string_append_printf (head, "X-Cdviz-Resume: %s\r\n", resume);
  if (!http10)
    g_string_append (head, "Transfer-Encoding: chunked\r\n");
  if (http10 || head_only)
    g_string_append (head, "Connection: close\r\n");
  g_string_append (head, "\r\n");
  return g_string_free_to_bytes (head);
}

/* Takes ownership of @stream and of @socket, its socket. A plain TCP
 * connection is written with sendmsg() on the descriptor: only its socket
 * is kept, and the GSocketConnection (with its two stream objects) is
 * dropped; its dispose leaves the socket open. A TLS connection is kept,
 * for its encryption. */
CdvizSseWriter *
cdviz_sse_writer_new (CdvizSseFeed *feed,
                      GIOStream    *stream,
                      GSocket      *socket,
                      gboolean      http10,
                      gboolean      head_only,
                      guint64       cursor,
                      const char   *resume)
{
  CdvizSseWriter *client = g_new0 (CdvizSseWriter, 1);

  client->feed = feed;
  client->link.data = client;
  client->ka_link.data = client;
  client->socket = socket;
  client->fd = g_socket_get_fd (socket);
  if (G_IS_TLS_CONNECTION (stream))
    {
      client->stream = stream;
      client->transport = &tls_transport;
    }
  else
    {
      g_object_unref (stream);
      client->transport = &raw_transport;
    }
  client->pieces = client->inline_pieces;
  client->chunked = !http10;
  client->head_only = head_only;
  client->retry_pending = feed->retry_frame != NULL;
  client->head = cdviz_sse_writer_build_head (http10, head_only, feed->cors_allow_origin,
                                              resume);
  client->cursor = cursor;
  client->last_write = g_get_monotonic_time ();
  return client;
}

static void
client_add_piece (CdvizSseWriter *client,
                  const void     *data,
                  gsize           length,
                  GBytes         *owner)
{
  CdvizSsePiece *piece;

  g_assert (client->n_pieces < CDVIZ_SSE_MAX_PIECES);
  piece = &client->pieces[client->n_pieces++];
  piece->data = data;
  piece->length = length;
  piece->owner = owner;   /* takes the reference */
}

static void
client_add_frame (CdvizSseWriter *client,
                  GBytes         *frame)
{
  gsize length;
  const void *data = g_bytes_get_data (frame, &length);

  client_add_piece (client, data, length, frame);
}

static void
client_release_pieces (CdvizSseWriter *client)
{
  for (guint i = 0; i < client->n_pieces; i++)
    g_clear_pointer (&client->pieces[i].owner, g_bytes_unref);
  if (client->pieces_on_heap)
    {
      g_free (client->pieces);
      client->pieces = client->inline_pieces;
      client->pieces_on_heap = FALSE;
    }
  client->n_pieces = 0;
  client->first_piece = 0;
  client->offset = 0;
  client->batch_events = 0;
}

/* The batch is written: count its events, drop its references. */
static void
client_batch_done (CdvizSseWriter *client)
{
  if (client->batch_events > 0)
    CDVIZ_SSE_COUNTER_ADD (client->feed->events_sent, client->batch_events);
  client_release_pieces (client);
}

void
cdviz_sse_writer_free (CdvizSseWriter *client)
{
  if (client->stream != NULL)
    {
      /* Closing a TLS stream writes close_notify, synchronously: bound it
       * for a stream that ended cleanly, skip it for the others. */
      if (client->ended && !cdviz_sse_writer_has_pending (client))
        g_socket_set_timeout (client->socket, 1);
      else
        g_socket_close (client->socket, NULL);
      g_io_stream_close (client->stream, NULL, NULL);
      g_clear_object (&client->stream);
    }
  /* The HTTP server holds the socket too (it counts the connection until
   * it is closed): close it, do not only drop it. */
  g_socket_close (client->socket, NULL);
  g_clear_object (&client->socket);
  client_release_pieces (client);
  g_clear_pointer (&client->head, g_bytes_unref);
  g_clear_pointer (&client->filter, cdviz_sse_filter_free);
  g_free (client);
}

/* Bytes of the current batch are still to be written. */
gboolean
cdviz_sse_writer_has_pending (CdvizSseWriter *client)
{
  return client->first_piece < client->n_pieces;
}

/* The sink stops: once the ring is written, the stream ends. */
void
cdviz_sse_writer_finish (CdvizSseWriter *client)
{
  client->finishing = TRUE;
}

/* Whether a filtered client is due an `id:` frame for the events its filter
 * skipped last (they count as seen: the frame moves its Last-Event-ID past
 * them, so that a reconnection resumes from an id the ring still holds,
 * however long the filter matched nothing). One every
 * CDVIZ_SSE_ID_FRAME_EVERY skipped events at most (a quarter of a smaller
 * ring), on keep-alive, and before the stream ends. Under the feed's lock. */
static gboolean
id_frame_due (CdvizSseWriter *client,
              gboolean        keep_alive,
              gboolean        at_end)
{
  guint every;

  if (client->filter == NULL || client->skipped_unsaid == 0)
    return FALSE;
  every = CLAMP (cdviz_sse_ring_get_capacity (client->feed->ring) / 4, 1,
                 CDVIZ_SSE_ID_FRAME_EVERY);
  return client->skipped_unsaid >= every || keep_alive || (client->finishing && at_end);
}

/* Builds the next batch once the previous one is written: the response
 * head, the retry field, a lag notice, frames from the ring, a keep-alive
 * when asked and nothing else is due, the end of the body when finishing.
 * Returns whether there is anything to write. */
static gboolean
client_refill (CdvizSseWriter *client,
               gboolean        keep_alive)
{
  CdvizSseFeed *feed = client->feed;
  GBytes *events[CDVIZ_SSE_BATCH_FRAMES];
  GBytes *id_frame = NULL;
  guint n_events;
  guint64 skipped;
  gboolean at_end;
  gsize chunk_length = 0;
  guint chunk_first, body_first;

  g_assert (client->n_pieces == 0 && client->pieces != client->inline_pieces);

  if (client->ended)
    return FALSE;

  if (client->head != NULL)
    client_add_frame (client, g_steal_pointer (&client->head));

  if (client->head_only)
    {
      client->ended = TRUE;
      return client->n_pieces > 0;
    }

  /* A filter skips frames (they count as seen) in scans of a bounded
   * length, the lock released between them. */
  skipped = 0;
  do
    {
      guint64 trailing;

      g_mutex_lock (&feed->lock);
      skipped += cdviz_sse_ring_catch_up (feed->ring, &client->cursor);
      n_events = cdviz_sse_ring_collect_skipping (feed->ring, &client->cursor, client->filter,
                                                  events, CDVIZ_SSE_BATCH_FRAMES,
                                                  CDVIZ_SSE_BATCH_BYTES, NULL, &trailing);
      at_end = client->cursor == cdviz_sse_ring_get_next (feed->ring);
      client->skipped_unsaid = n_events > 0 ? trailing : client->skipped_unsaid + trailing;
      if ((n_events > 0 || at_end) && id_frame_due (client, keep_alive, at_end))
        {
          /* The frame before the cursor is the last one skipped. */
          id_frame = cdviz_sse_ring_id_frame (feed->ring, client->cursor - 1);
          client->skipped_unsaid = 0;
        }
      g_mutex_unlock (&feed->lock);
    }
  while (n_events == 0 && !at_end);

  /* The chunk: header, frames, CRLF. */
  chunk_first = client->n_pieces;
  if (client->chunked)
    client_add_piece (client, client->chunk_header, 0, NULL);   /* filled below */
  body_first = client->n_pieces;

  if (client->retry_pending)
    client_add_frame (client, g_bytes_ref (feed->retry_frame));
  client->retry_pending = FALSE;
  if (skipped > 0)
    {
      g_debug ("sink '%s': client %d lagged, %" G_GUINT64_FORMAT " messages skipped",
               feed->name, client->fd, skipped);
      CDVIZ_SSE_COUNTER_ADD (feed->lagged_events, skipped);
      client_add_frame (client, cdviz_sse_frame_lagged (skipped));
    }
  for (guint i = 0; i < n_events; i++)
    client_add_frame (client, events[i]);
  client->batch_events = n_events;
  if (id_frame != NULL)
    client_add_frame (client, id_frame);
  if (keep_alive && client->n_pieces == body_first)
    client_add_piece (client, keep_alive_frame, sizeof keep_alive_frame - 1, NULL);

  for (guint i = body_first; i < client->n_pieces; i++)
    chunk_length += client->pieces[i].length;

  if (chunk_length == 0)
    client->n_pieces = chunk_first;   /* nothing for the body */
  else if (client->chunked)
    {
      CdvizSsePiece *header = &client->pieces[chunk_first];

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

/* Consumes @written bytes of the batch. */
static void
client_advance (CdvizSseWriter *client,
                gsize           written)
{
  while (written > 0)
    {
      CdvizSsePiece *piece = &client->pieces[client->first_piece];
      gsize left = piece->length - client->offset;

      if (written >= left)
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

/* Keeps what the socket did not take of a batch built in @batch (the
 * caller's stack): the written pieces are released, the rest moved to
 * inline_pieces, or to the heap when longer. */
static void
client_keep_rest (CdvizSseWriter *client,
                  CdvizSsePiece  *batch)
{
  guint rest;

  if (client->pieces != batch)
    return;
  for (guint i = 0; i < client->first_piece; i++)
    g_clear_pointer (&batch[i].owner, g_bytes_unref);
  rest = client->n_pieces - client->first_piece;
  if (rest <= CDVIZ_SSE_INLINE_PIECES)
    client->pieces = client->inline_pieces;
  else
    {
      client->pieces = g_new (CdvizSsePiece, rest);
      client->pieces_on_heap = TRUE;
    }
  memcpy (client->pieces, batch + client->first_piece, rest * sizeof (CdvizSsePiece));
  client->n_pieces = rest;
  client->first_piece = 0;
}

/* Writes as much as the connection takes without blocking: the rest of
 * the batch, then new batches (built in @batch) while the ring has frames.
 * Returns OK (the socket is full, see has_pending(), or there is nothing
 * more to send) or the reason the client is done. */
static CdvizSseWriterStatus
client_write (CdvizSseWriter *client,
              CdvizSsePiece  *batch)
{
  for (;;)
    {
      struct iovec iov[CDVIZ_SSE_MAX_PIECES];
      CdvizSseWriterStatus status;
      guint n_iov = 0;
      gsize written;

      if (client->first_piece == client->n_pieces)
        {
          client_batch_done (client);
          if (client->ended)
            return client->head_only ? CDVIZ_SSE_WRITER_HEAD : CDVIZ_SSE_WRITER_FINISHED;
          client->pieces = batch;
          if (!client_refill (client, FALSE))
            return CDVIZ_SSE_WRITER_OK;
          continue;   /* an empty batch that ends the body: closed above */
        }

      for (guint i = client->first_piece; i < client->n_pieces; i++)
        {
          gsize skip = i == client->first_piece ? client->offset : 0;

          iov[n_iov].iov_base = (guint8 *) client->pieces[i].data + skip;
          iov[n_iov].iov_len = client->pieces[i].length - skip;
          n_iov++;
        }

      status = client->transport->writev (client, iov, n_iov, &written);
      if (status != CDVIZ_SSE_WRITER_OK || written == 0)
        return status;
      client->last_write = g_get_monotonic_time ();
      client_advance (client, written);
    }
}

/* See client_write(). */
CdvizSseWriterStatus
cdviz_sse_writer_flush (CdvizSseWriter *client)
{
  CdvizSsePiece batch[CDVIZ_SSE_MAX_PIECES];
  CdvizSseWriterStatus status;

  status = client_write (client, batch);
  client_keep_rest (client, batch);
  return status;
}

/* Reads and discards what the client sends (at most 64 KiB per call, so
 * that a chatty client cannot hold its thread). */
CdvizSseWriterStatus
cdviz_sse_writer_drain_input (CdvizSseWriter *client)
{
  char buffer[4096];

  for (int i = 0; i < 16; i++)
    {
      CdvizSseWriterStatus status;
      gsize n;

      status = client->transport->read (client, buffer, sizeof buffer, &n);
      if (status != CDVIZ_SSE_WRITER_OK || n == 0)
        return status;
    }
  return CDVIZ_SSE_WRITER_OK;
}

/* Sends a keep-alive comment if nothing was written for @interval and
 * nothing is pending; with frames due, those go instead. */
CdvizSseWriterStatus
cdviz_sse_writer_keep_alive (CdvizSseWriter *client,
                             gint64          now,
                             gint64          interval)
{
  CdvizSsePiece batch[CDVIZ_SSE_MAX_PIECES];
  CdvizSseWriterStatus status = CDVIZ_SSE_WRITER_OK;

  if (now - client->last_write < interval || cdviz_sse_writer_has_pending (client))
    return CDVIZ_SSE_WRITER_OK;
  client_batch_done (client);
  client->pieces = batch;
  if (client_refill (client, TRUE))
    status = client_write (client, batch);
  client_keep_rest (client, batch);
  return status;
}
