/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "cdviz-sse-ring.h"

G_BEGIN_DECLS

/* The per-client writer of the SSE sink: one HTTP response on a
 * non-blocking connection, taken from libsoup once the request was
 * accepted. It writes the status line and headers, then the stream, in
 * batches taken from the sink's shared ring (references to the frames,
 * never copies), as chunks (HTTP/1.1) or as a close-delimited body
 * (HTTP/1.0). It knows nothing of epoll, threads or GObject: the fan-out
 * thread that owns a client calls it when the socket is ready, and removes
 * it, with the reason it returns, when it returns anything but
 * %CDVIZ_SSE_WRITER_OK. Plugin-private (GStreamer's GstMultiHandleClient is
 * the model). */

/**
 * CdvizSseWriterStatus:
 * @CDVIZ_SSE_WRITER_OK: still streaming
 * @CDVIZ_SSE_WRITER_CLOSED: the client closed the connection
 * @CDVIZ_SSE_WRITER_RESET: the connection was reset (or hung up) by the peer
 * @CDVIZ_SSE_WRITER_ERROR: a read, write or TLS error, or the socket could
 *   not be watched
 * @CDVIZ_SSE_WRITER_HEAD: the answer to a HEAD request was written
 * @CDVIZ_SSE_WRITER_FINISHED: the sink stopped, the stream was written to its end
 * @CDVIZ_SSE_WRITER_FLUSH_TIMEOUT: the sink stopped, the client did not take
 *   the rest of its stream in time
 *
 * Why a client is removed (GStreamer's GstClientStatus). Slow clients are
 * not removed: they are told `lagged: N` and continue.
 */
typedef enum {
  CDVIZ_SSE_WRITER_OK,
  CDVIZ_SSE_WRITER_CLOSED,
  CDVIZ_SSE_WRITER_RESET,
  CDVIZ_SSE_WRITER_ERROR,
  CDVIZ_SSE_WRITER_HEAD,
  CDVIZ_SSE_WRITER_FINISHED,
  CDVIZ_SSE_WRITER_FLUSH_TIMEOUT,
  CDVIZ_SSE_WRITER_N_STATUS
} CdvizSseWriterStatus;

const char *cdviz_sse_writer_status_to_string (CdvizSseWriterStatus status);

/* What every client of one sink shares: the ring and its lock, the
 * constant frames and header values, and the counters. Owned by the sink;
 * outlives its clients. */
typedef struct {
  GMutex lock;
  CdvizSseRing *ring;                /* under lock */
  GBytes *retry_frame;               /* nullable; constant while clients exist */
  const char *cors_allow_origin;     /* nullable; likewise */
  const char *name;                  /* for logs; likewise */

  /* atomic */
  int n_clients;                     /* accepted, not yet removed */
  int n_streaming;                   /* with a cursor in the ring, not yet removed */
  guint64 events_sent;
  guint64 lagged_events;
  guint64 removed[CDVIZ_SSE_WRITER_N_STATUS];
} CdvizSseFeed;

#define CDVIZ_SSE_COUNTER_ADD(field, n) __atomic_fetch_add (&(field), (n), __ATOMIC_RELAXED)
#define CDVIZ_SSE_COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

/* A filtered client is sent an `id:` frame after at most this many
 * skipped events (fewer with a small ring: a quarter of it), and on
 * keep-alive, so that its Last-Event-ID stays in the ring. */
#define CDVIZ_SSE_ID_FRAME_EVERY 64

#define CDVIZ_SSE_BATCH_FRAMES 64
#define CDVIZ_SSE_BATCH_BYTES (32 * 1024)
#define CDVIZ_SSE_MAX_PIECES (CDVIZ_SSE_BATCH_FRAMES + 8)
/* Pieces a client keeps in itself when a write stays partial: a response
 * head, or a small chunk (header, one frame, CRLF). A longer rest goes to
 * the heap until it is written. */
#define CDVIZ_SSE_INLINE_PIECES 4

typedef struct {
  const guint8 *data;
  gsize length;
  GBytes *owner;        /* nullable: static data has no owner */
} CdvizSsePiece;

typedef struct _CdvizSseTransport CdvizSseTransport;

/* One client. Created on the HTTP thread, then owned by the fan-out
 * thread it is handed to, which alone touches it from then on and removes
 * it before returning: no client outlives its fan-out thread.
 *
 * Memory: every idle subscriber holds one (doc/performance.md, "Memory
 * per idle connection"). A batch is built on the writing thread's stack
 * and written at once; only what the socket did not take stays here
 * (inline_pieces, or a heap array for a longer rest). */
typedef struct {
  CdvizSseFeed *feed;                /* unowned: outlives the client */
  const CdvizSseTransport *transport;
  GIOStream *stream;                 /* owned, nullable: a TLS connection; a plain
                                        TCP client keeps only its socket */
  GSocket *socket;                   /* owned */
  int fd;

  /* Flags, packed beside fd. want_out is the fan-out thread's bookkeeping. */
  guint want_out : 1;       /* watched for output */
  guint chunked : 1;        /* HTTP/1.1: chunked body; HTTP/1.0: until close */
  guint head_only : 1;      /* HEAD: headers, then close */
  guint finishing : 1;      /* the sink stops: send what is left, end, close */
  guint ended : 1;          /* the body's end is queued: close once written */
  guint retry_pending : 1;
  guint pieces_on_heap : 1; /* pieces is a heap array */

  /* the fan-out thread's bookkeeping */
  GList link;                        /* in its list of clients */
  GList ka_link;                     /* in its keep-alive order, by ka_time */
  gint64 ka_time;                    /* last write or keep-alive check */

  guint64 cursor;       /* sequence number of the next frame to send */
  CdvizSseFilter *filter;   /* owned, nullable: which frames this client is sent */
  guint64 skipped_unsaid;   /* frames the filter skipped since the last frame sent */
  GBytes *head;         /* the response head, until queued */
  gint64 last_write;    /* monotonic time of the last write */

  /* The batch being written: pieces[first..n) from offset. pieces is
   * inline_pieces, a heap array, or, while flush() or keep_alive() runs,
   * the batch on its stack. */
  CdvizSsePiece *pieces;
  gsize offset;
  guint n_pieces;
  guint first_piece;
  guint batch_events;
  char chunk_header[20];
  CdvizSsePiece inline_pieces[CDVIZ_SSE_INLINE_PIECES];
} CdvizSseWriter;

/* @resume: the `X-Cdviz-Resume` value (`resumed`, `unknown-id`), or NULL
 * when the client sent no Last-Event-ID. */
GBytes         *cdviz_sse_writer_build_head  (gboolean        http10,
                                              gboolean        head_only,
                                              const char     *cors_allow_origin,
                                              const char     *resume);

CdvizSseWriter *cdviz_sse_writer_new         (CdvizSseFeed   *feed,
                                              GIOStream      *stream,
                                              GSocket        *socket,
                                              gboolean        http10,
                                              gboolean        head_only,
                                              guint64         cursor,
                                              const char     *resume);
void            cdviz_sse_writer_free        (CdvizSseWriter *client);

gboolean        cdviz_sse_writer_has_pending (CdvizSseWriter *client);
void            cdviz_sse_writer_finish      (CdvizSseWriter *client);

CdvizSseWriterStatus cdviz_sse_writer_flush       (CdvizSseWriter *client);
CdvizSseWriterStatus cdviz_sse_writer_drain_input (CdvizSseWriter *client);
CdvizSseWriterStatus cdviz_sse_writer_keep_alive  (CdvizSseWriter *client,
                                                   gint64          now,
                                                   gint64          interval);

G_END_DECLS
