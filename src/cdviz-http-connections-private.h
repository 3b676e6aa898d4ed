/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * CdvizHttpConnections: the connections of one HTTP thread of a
 * CdvizHttpServer, from accept() to close, and everything libsoup 3.2.3
 * does not do for a server facing untrusted clients. Private to the server;
 * every function runs on its HTTP thread, except new/free (before start,
 * after stop) and _cdviz_http_connections_hand_over() (the accepting
 * thread). The first thread's also accepts, for every thread.
 */
typedef struct _CdvizHttpConnections CdvizHttpConnections;

typedef struct {
  guint64 header_timeout_ms;
  guint64 idle_timeout_ms;
  guint64 body_timeout_ms;
  guint64 request_timeout_ms;      /* a body not in by then: 408; 0: none */
  char **access_log_filter;        /* nullable: statuses logged ("404", "4xx") */
  guint max_connections;           /* 0: only the descriptor limit */
  guint threads;                   /* HTTP threads (descriptors kept for them) */
  GTlsCertificate *tls_certificate; /* nullable */
} CdvizHttpLimits;

/* Set on a message while it counts as in flight (read, not answered). */
#define CDVIZ_HTTP_IN_FLIGHT_KEY "cdviz-in-flight"
/* RFC 6585; libsoup 3.2.3 knows neither the code nor its phrase. */
#define CDVIZ_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE 431

CdvizHttpConnections *_cdviz_http_connections_new   (GMainContext          *context,
                                                     const CdvizHttpLimits *limits);
void      _cdviz_http_connections_free              (CdvizHttpConnections  *self);
gboolean  _cdviz_http_connections_start             (CdvizHttpConnections  *self,
                                                     SoupServer            *server,
                                                     GSocket               *listener,
                                                     GError               **error);
void      _cdviz_http_connections_set_workers       (CdvizHttpConnections  *self,
                                                     CdvizHttpConnections **workers,
                                                     guint                  n_workers);
void      _cdviz_http_connections_stop_accepting    (CdvizHttpConnections  *self);
void      _cdviz_http_connections_stop              (CdvizHttpConnections  *self);
guint     _cdviz_http_connections_get_limit         (CdvizHttpConnections  *self);
gboolean  _cdviz_http_connections_expects_body      (SoupServerMessage     *msg);
void      _cdviz_http_connections_got_headers       (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg);
void      _cdviz_http_connections_refuse_body       (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg);
GIOStream *_cdviz_http_connections_steal            (CdvizHttpConnections  *self,
                                                     SoupServerMessage     *msg,
                                                     GSocket              **socket);
void      _cdviz_http_connections_append_metrics    (CdvizHttpConnections **all,
                                                     guint                  n,
                                                     GString               *out);

/* --- internals, shared by cdviz-http-connections.c and cdviz-http-accept.c */

struct _CdvizHttpConnections
{
  GMainContext *context;
  SoupServer *server;       /* unowned; set by start */
  CdvizHttpLimits limits;   /* tls_certificate owned */
  guint open_limit;         /* max_connections within RLIMIT_NOFILE */

  GHashTable *by_socket;    /* GSocket → Connection */
  guint prune_at;           /* prune closed connections at this size */
  guint in_flight;          /* requests read but not answered */

  /* connections handed over by the accepting thread (other threads) */
  GMutex inbox_lock;
  GQueue inbox;             /* GSocket, owned */
  int inbox_ready;          /* atomic: the inbox is not empty */
  GSource *inbox_source;

  /* the accepting thread's (the first thread's) only */
  GSocket *listener;        /* owned from start; NULL on the other threads */
  CdvizHttpConnections **workers;  /* every thread's, [0] = self; NULL with one */
  guint n_workers;
  GArray *accepted;         /* AcceptedSocket: every open connection, with several threads */
  guint *per_worker;        /* accepted connections per thread (closed ones until pruned) */
  guint accepted_prune_at;  /* prune `accepted` at this size */
  guint next_worker;        /* where ties start */
  GSource *accept_source;   /* NULL while accepting is paused */
  GSource *accept_resume;
  int reserve_fd;           /* spent to refuse a connection on EMFILE */
  gint64 last_emfile_warning;

  /* metrics (atomic: read by /metrics) */
  guint64 timed_out;
  guint64 refused_connections;
  guint64 refused_framing;
  guint64 refused_bodies;
  guint64 accept_failures;
  guint64 handed;           /* connections accepted for this thread */
};

#define COUNTER_ADD(field, n) __atomic_fetch_add (&(field), (n), __ATOMIC_RELAXED)
#define COUNTER_GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

void      _cdviz_http_connections_prune             (CdvizHttpConnections  *self);
void      _cdviz_http_connections_hand_over         (CdvizHttpConnections  *self,
                                                     GSocket               *socket);
void      _cdviz_http_connections_add               (CdvizHttpConnections  *self,
                                                     GSocket               *socket);
void      _cdviz_http_accept_fit_descriptor_limit   (CdvizHttpConnections  *self);
gboolean  _cdviz_http_accept_add_placeholder_listener (CdvizHttpConnections *self,
                                                     GError               **error);
void      _cdviz_http_accept_start                  (CdvizHttpConnections  *self);

G_END_DECLS
