/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-sse-sink.h"
#include "cdviz-sse-fanout.h"

G_BEGIN_DECLS

/* The sink's instance, shared by cdviz-sse-sink.c (the GObject, start,
 * send, stop, metrics) and cdviz-sse-handler.c (the HTTP thread's side). */
struct _CdvizSseSink
{
  GObject parent_instance;

  /* configuration: construct-only, then read by every thread */
  char *id;
  JsonNode *headers;
  guint buffer_size;
  guint64 buffer_bytes;              /* 0: no byte bound */
  guint64 keep_alive_ms;
  guint max_clients;
  guint64 retry_ms;
  char *cors_allow_origin;           /* NULL: no CORS header */
  guint threads;                     /* 0: one per processor, at most CDVIZ_SSE_MAX_THREADS */

  CdvizHeaderValidator *validator;   /* NULL without rules; set by init */
  char *name;                        /* set by start, before the route exists */

  /* What the clients share (lock, ring, counters); retry_frame and name
   * in it are the sink's. */
  CdvizSseFeed feed;

  /* once started */
  CdvizHttpServer *http;             /* weak */
  GMutex handoffs_lock;              /* any HTTP thread may hand off */
  GQueue handoffs;                   /* CdvizSseHandoff.link: accepted, not yet
                                        stolen; under handoffs_lock */

  /* atomic: written by start (its caller's thread) and on the HTTP threads
   * when stopping, read by the handler */
  int stopping;

  /* the fan-out threads: set up by start, torn down by stop (the caller's
   * thread); the pipeline thread wakes them (send), the HTTP threads hand
   * them clients */
  CdvizSseFanout **fanouts;
  guint n_fanouts;

  /* metrics (atomic) */
  guint64 rejected_max_clients;
};

#define CDVIZ_SSE_MAX_THREADS 8

/* cdviz-sse-handler.c: the route and the stop, on the HTTP threads. */
void     cdviz_sse_handler_serve (SoupServer        *server,
                                  SoupServerMessage *msg,
                                  const char        *path,
                                  GHashTable        *query,
                                  gpointer           sink);
gboolean cdviz_sse_handler_stop  (gpointer           sink);

G_END_DECLS
