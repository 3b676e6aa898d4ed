/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP threads' side of the SSE sink: the route handler (preflight,
 * max_clients; the server answers other methods, a closed route and the
 * header rules itself) and the hand-off of an accepted request's
 * connection to a fan-out thread. Any HTTP thread may run it: a hand-off
 * is made and finished on the thread of its request. */
#include <string.h>

#include "cdviz-sse-sink-private.h"
#include "cdviz-sse-query.h"

#define RETRY_AFTER_SECONDS "5"

/* An accepted request, paused, until its connection is stolen from an
 * idle callback (outside libsoup's I/O code), on the HTTP thread of the
 * request. */
typedef struct {
  CdvizSseSink *sink;   /* owned */
  SoupServerMessage *msg;
  GMainContext *context;  /* the request's HTTP thread's */
  GSource *idle;
  GList link;           /* in sink->handoffs */
  char *last_event_id;  /* the header, else `?lastEventId=` */
  CdvizSseFilter *filter;   /* nullable: `?type=`, `?subject=` */
  gboolean has_replay;  /* `?replay=N`: a new client starts N events back */
  guint64 replay;
  gboolean head_only;
  gboolean http10;
} CdvizSseHandoff;

static void
handoff_free (CdvizSseHandoff *handoff)
{
  g_clear_object (&handoff->msg);
  g_main_context_unref (handoff->context);
  g_free (handoff->last_event_id);
  cdviz_sse_filter_free (handoff->filter);
  g_object_unref (handoff->sink);
  g_free (handoff);
}

static CdvizSseFanout *
least_busy_fanout (CdvizSseSink *self)
{
  CdvizSseFanout *best = self->fanouts[0];

  for (guint i = 1; i < self->n_fanouts; i++)
    if (cdviz_sse_fanout_get_n_clients (self->fanouts[i]) < cdviz_sse_fanout_get_n_clients (best))
      best = self->fanouts[i];
  return best;
}

/* Takes the connection away from libsoup and gives it, as a client, to
 * the fan-out thread with the fewest clients. */
static void
handoff_finish (CdvizSseHandoff *handoff)
{
  CdvizSseSink *self = handoff->sink;
  GIOStream *stream;
  GSocket *socket = NULL;
  CdvizSseWriter *client;
  gboolean found = FALSE;
  guint64 cursor;

  g_mutex_lock (&self->handoffs_lock);
  g_queue_unlink (&self->handoffs, &handoff->link);
  g_mutex_unlock (&self->handoffs_lock);
  if (handoff->idle != NULL)
    {
      g_source_destroy (handoff->idle);
      g_clear_pointer (&handoff->idle, g_source_unref);
    }

  stream = cdviz_http_server_steal_connection (self->http, handoff->msg, &socket);
  if (stream == NULL)
    {
      g_debug ("sink '%s': connection lost before the stream started", self->name);
      g_atomic_int_add (&self->feed.n_clients, -1);
      handoff_free (handoff);
      return;
    }

  g_mutex_lock (&self->feed.lock);
  cursor = cdviz_sse_ring_resume_cursor (self->feed.ring, handoff->last_event_id, &found);
  /* A resume wins over a replay: a reconnecting EventSource keeps its URL
   * (with replay=N) and must not be sent again what it already has. */
  if (!found && handoff->has_replay)
    cursor = cdviz_sse_ring_replay_cursor (self->feed.ring, handoff->replay, handoff->filter);
  g_mutex_unlock (&self->feed.lock);
  /* From here on every event the sink takes reaches this client. */
  g_atomic_int_inc (&self->feed.n_streaming);

  client = cdviz_sse_writer_new (&self->feed, stream, g_steal_pointer (&socket),
                                 handoff->http10, handoff->head_only, cursor,
                                 handoff->last_event_id == NULL ? NULL
                                 : found ? "resumed" : "unknown-id");
  client->filter = g_steal_pointer (&handoff->filter);
  g_debug ("sink '%s': client %d connected (%s, %s%s%s%s), %d clients", self->name, client->fd,
           handoff->head_only ? "HEAD" : "GET", handoff->http10 ? "HTTP/1.0" : "HTTP/1.1",
           handoff->last_event_id == NULL ? ""
           : found ? ", resumed after Last-Event-ID"
           : handoff->has_replay ? ", unknown Last-Event-ID" : ", unknown Last-Event-ID: live",
           !found && handoff->has_replay ? ", replay" : "",
           client->filter != NULL ? ", filtered" : "",
           g_atomic_int_get (&self->feed.n_clients));
  handoff_free (handoff);

  cdviz_sse_fanout_adopt (least_busy_fanout (self), client);
}

static gboolean
handoff_idle_cb (gpointer data)
{
  handoff_finish (data);
  return G_SOURCE_REMOVE;
}

static void
handoff_start (CdvizSseSink      *self,
               SoupServerMessage *msg,
               CdvizSseQuery     *query)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  CdvizSseHandoff *handoff = g_new0 (CdvizSseHandoff, 1);
  const char *last_event_id = soup_message_headers_get_one (request, "Last-Event-ID");

  handoff->sink = g_object_ref (self);
  handoff->msg = g_object_ref (msg);
  handoff->link.data = handoff;
  handoff->head_only = soup_server_message_get_method (msg) == SOUP_METHOD_HEAD;
  handoff->http10 = soup_server_message_get_http_version (msg) == SOUP_HTTP_1_0;
  /* The header wins: it is what EventSource sends once it has an id. */
  handoff->last_event_id = last_event_id != NULL ? g_strdup (last_event_id)
                           : g_steal_pointer (&query->last_event_id);
  handoff->filter = g_steal_pointer (&query->filter);
  handoff->has_replay = query->has_replay;
  handoff->replay = query->replay;
  handoff->context = g_main_context_ref_thread_default ();

  soup_server_message_pause (msg);

  handoff->idle = g_idle_source_new ();
  g_source_set_priority (handoff->idle, G_PRIORITY_HIGH);
  g_source_set_static_name (handoff->idle, "[cdviz-sse] hand-off");
  g_source_set_callback (handoff->idle, handoff_idle_cb, handoff, NULL);
  g_mutex_lock (&self->handoffs_lock);
  g_queue_push_tail_link (&self->handoffs, &handoff->link);
  g_mutex_unlock (&self->handoffs_lock);
  g_source_attach (handoff->idle, handoff->context);
}

/* The calling thread's oldest hand-off, if any; any hand-off once the
 * server stopped (each then finds its connection gone). */
static CdvizSseHandoff *
own_handoff (CdvizSseSink *self)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  gboolean any = self->http == NULL || !cdviz_http_server_is_running (self->http);
  CdvizSseHandoff *found = NULL;

  g_mutex_lock (&self->handoffs_lock);
  for (GList *l = self->handoffs.head; l != NULL && found == NULL; l = l->next)
    if (any || ((CdvizSseHandoff *) l->data)->context == context)
      found = l->data;
  g_mutex_unlock (&self->handoffs_lock);
  return found;
}

/* Refuses new connections and hands over the ones accepted on the calling
 * HTTP thread: once this returned on every HTTP thread
 * (cdviz_http_server_invoke_sync_all()), no fan-out thread is given a
 * client any more. A request another thread is handling meanwhile finds
 * the route closed (503), or is handed off there before that thread runs
 * this. */
gboolean
cdviz_sse_handler_stop (gpointer data)
{
  CdvizSseSink *self = data;
  g_autofree char *path = g_strdup_printf ("/sse/%s", self->id);
  CdvizSseHandoff *handoff;

  g_atomic_int_set (&self->stopping, 1);
  /* New requests: 503 from the server, without reaching the handler. */
  if (self->http != NULL)
    cdviz_http_server_set_route_open (self->http, path, FALSE, NULL);
  while ((handoff = own_handoff (self)) != NULL)
    handoff_finish (handoff);
  return G_SOURCE_REMOVE;
}

/* --- the route -------------------------------------------------------------- */

static void
respond_preflight (CdvizSseSink      *self,
                   SoupServerMessage *msg)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
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
}

static void
respond_unavailable (SoupServerMessage *msg,
                     const char        *text)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Retry-After", RETRY_AFTER_SECONDS);
  cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, text);
}

/* Counts a new client unless max_clients are connected: compared and
 * counted at once, since several HTTP threads may take the last slot. */
static gboolean
take_client_slot (CdvizSseSink *self)
{
  int n = g_atomic_int_get (&self->feed.n_clients);

  do
    if (self->max_clients > 0 && (guint) n >= self->max_clients)
      return FALSE;
  while (!g_atomic_int_compare_and_exchange_full (&self->feed.n_clients, n, n + 1, &n));
  return TRUE;
}

void
cdviz_sse_handler_serve (SoupServer        *server,
                         SoupServerMessage *msg,
                         const char        *path,
                         GHashTable        *query,
                         gpointer           user_data)
{
  CdvizSseSink *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  g_autoptr(CdvizSseQuery) parsed = NULL;
  g_autoptr(GError) error = NULL;

  /* No CORS header unless configured: then a browser lets only pages of
   * the stream's own origin read it (see doc/sse.md, "CORS"). */
  if (self->cors_allow_origin != NULL)
    soup_message_headers_replace (response, "Access-Control-Allow-Origin",
                                  self->cors_allow_origin);

  if (method == SOUP_METHOD_OPTIONS)
    {
      respond_preflight (self, msg);
      return;
    }

  /* The server answered other methods (405) and a closed route (503). */
  /* The raw query, not @query: a key may be repeated. */
  parsed = cdviz_sse_query_parse (g_uri_get_query (soup_server_message_get_uri (msg)), &error);
  if (parsed == NULL)
    {
      g_debug ("sink '%s': request refused with 400: %s", self->name, error->message);
      cdviz_http_respond_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }

  /* The header rules ran already: the server checks them at the route
   * (cdviz_http_server_set_header_validator()). */
  if (!take_client_slot (self))
    {
      g_debug ("sink '%s': connection rejected with 503: max_clients (%u) reached",
               self->name, self->max_clients);
      CDVIZ_SSE_COUNTER_ADD (self->rejected_max_clients, 1);
      respond_unavailable (msg, "too many clients on this stream; retry later");
      return;
    }

  handoff_start (self, msg, parsed);
}
