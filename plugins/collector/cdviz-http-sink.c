/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "cdviz-http-retry.h"
#include "cdviz-http-sink.h"
#include "cdviz-outgoing-headers.h"

/* `type = "http"`: POSTs every event to `destination`, as cdviz-collector's
 * `src/sinks/http.rs` does: the CDEvent as compact JSON, `Content-Type:
 * application/json` (unless the event's kept headers carry one),
 * `ce-id`/`ce-source`/`ce-type`/`ce-time` from the CDEvent's context with
 * `ce-specversion: 1.0`, the event's kept headers (not those that frame the
 * connection), then the `headers` rules, last, so that a signature covers
 * the exact bytes sent. 408, 429, 5xx and connection errors are retried
 * with backoff (Retry-After honoured) for at most
 * `total_duration_of_retries` from the first attempt; other answers are
 * logged (`log_errors`) and not retried, as upstream.
 *
 * Threads. start() and stop() run on the thread that starts and stops the
 * pipeline; send_message() on the pipeline thread, where it only queues
 * (`queue_capacity` events, then `queue_full` decides which one is dropped:
 * a slow receiver never holds the pipeline back, so never the other
 * sinks). A thread of the sink's own, with its own GMainContext and
 * SoupSession, does every request. With `queue_capacity = 0`, send_message()
 * waits for the delivery and fails when it failed (what `send` wants).
 * stop() lets the queue drain for at most `shutdown_grace_period`, then
 * cancels and counts what is left. */

typedef enum {
  QUEUE_FULL_DROP_NEW,
  QUEUE_FULL_DROP_OLD,
} QueueFull;

/* Synchronous delivery (queue_capacity = 0): the pipeline thread waits on
 * this, under the sink's lock. */
typedef struct {
  CdvizMessage *message;
  gboolean done;
  gboolean ok;
  char *error;
} Item;

struct _CdvizHttpSink
{
  GObject parent_instance;

  /* configuration */
  char *destination;
  JsonNode *headers;
  guint64 total_duration_of_retries;
  gboolean log_errors;
  gboolean log_full_response_on_error;
  char *user_agent;
  guint queue_capacity;
  char *queue_full_text;
  QueueFull queue_full;             /* from queue_full_text, by init */
  guint64 retry_delay;
  guint64 max_retry_delay;
  guint64 timeout;
  guint64 shutdown_grace_period;
  CdvizOutgoingHeaders *outgoing;  /* from headers, by init */
  GUri *uri;                       /* from destination, by init */

  /* running */
  char *name;
  GThread *thread;
  GCancellable *cancellable;
  GMutex lock;
  GCond cond;
  GQueue queue;                    /* (element-type Item) under lock */
  gboolean stopping;               /* under lock */
  gint64 stop_deadline;            /* under lock, monotonic µs */
  gboolean finished;               /* under lock: the thread is done */

  /* counters (atomics) */
  guint64 delivered, rejected, failed, dropped, retried;
};

static void initable_iface_init (GInitableIface *iface);
static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizHttpSink, cdviz_http_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

enum {
  PROP_0,
  PROP_DESTINATION,
  PROP_HEADERS,
  PROP_TOTAL_DURATION_OF_RETRIES,
  PROP_LOG_ERRORS,
  PROP_LOG_FULL_RESPONSE_ON_ERROR,
  PROP_USER_AGENT,
  PROP_QUEUE_CAPACITY,
  PROP_QUEUE_FULL,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  PROP_TIMEOUT,
  PROP_SHUTDOWN_GRACE_PERIOD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define COUNT(field) g_atomic_pointer_add ((gsize *) &(field), 1)

static void
item_free (Item *item)
{
  g_clear_object (&item->message);
  g_free (item->error);
  g_free (item);
}

/* --- one request -------------------------------------------------------- */

/* Headers that frame the connection or the body belong to the client. */
static gboolean
is_managed_header (const char *name)
{
  static const char * const managed[] = {
    "host", "content-length", "transfer-encoding", "connection", "content-encoding", NULL
  };

  for (guint i = 0; managed[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, managed[i]) == 0)
      return TRUE;
  return FALSE;
}

static SoupMessage *
build_request (CdvizHttpSink *self,
               CdvizMessage  *message,
               GBytes        *body)
{
  SoupMessage *request = soup_message_new_from_uri (SOUP_METHOD_POST, self->uri);
  SoupMessageHeaders *headers = soup_message_get_request_headers (request);
  JsonNode *root = cdviz_message_get_body (message);
  GHashTable *kept = cdviz_message_get_headers (message);
  GHashTableIter iter;
  gpointer name, value;

  if (kept == NULL || !g_hash_table_contains (kept, "content-type"))
    soup_message_headers_replace (headers, "Content-Type", "application/json");
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      static const char * const ce[][2] = {
        { "ce-id", "id" }, { "ce-source", "source" }, { "ce-type", "type" },
        { "ce-time", "timestamp" },
      };
      JsonObject *context = NULL;
      JsonNode *node = json_object_get_member (json_node_get_object (root), "context");
      gboolean any = FALSE;

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        context = json_node_get_object (node);
      for (guint i = 0; context != NULL && i < G_N_ELEMENTS (ce); i++)
        {
          JsonNode *field = json_object_get_member (context, ce[i][1]);

          if (field != NULL && json_node_get_value_type (field) == G_TYPE_STRING)
            {
              soup_message_headers_replace (headers, ce[i][0], json_node_get_string (field));
              any = TRUE;
            }
        }
      if (any)
        soup_message_headers_replace (headers, "ce-specversion", "1.0");
    }
  if (kept != NULL)
    {
      g_hash_table_iter_init (&iter, kept);
      while (g_hash_table_iter_next (&iter, &name, &value))
        if (!is_managed_header (name))
          soup_message_headers_replace (headers, name, value);
    }
  /* Last: a signature covers the body and the headers set above. */
  cdviz_outgoing_headers_apply (self->outgoing, headers, g_bytes_get_data (body, NULL),
                                g_bytes_get_size (body));
  soup_message_set_request_body_from_bytes (request, NULL, body);
  return request;
}

static void
log_failure (CdvizHttpSink *self,
             CdvizMessage  *message,
             SoupMessage   *request,
             GBytes        *response)
{
  const char *id = cdviz_message_get_id (message) ?: "(no id)";
  guint status = soup_message_get_status (request);

  if (!self->log_errors)
    return;
  if (self->log_full_response_on_error)
    {
      g_autoptr(GString) text = g_string_new (NULL);
      SoupMessageHeadersIter iter;
      const char *name, *value;
      gsize length = response != NULL ? g_bytes_get_size (response) : 0;

      soup_message_headers_iter_init (&iter, soup_message_get_response_headers (request));
      while (soup_message_headers_iter_next (&iter, &name, &value))
        g_string_append_printf (text, "%s: %s\n", name, value);
      if (length > 0)
        g_string_append_len (text, g_bytes_get_data (response, NULL), MIN (length, 4096));
      g_warning (_("http sink %s: %s answered %u %s to event %s:\n%s"), self->name,
                 self->destination, status, soup_message_get_reason_phrase (request) ?: "",
                 id, text->str);
    }
  else
    g_warning (_("http sink %s: %s answered %u %s to event %s"), self->name,
               self->destination, status, soup_message_get_reason_phrase (request) ?: "", id);
}

/* Waits until @until (monotonic µs); FALSE when stop() leaves no time for
 * it. Called with the lock held. */
static gboolean
wait_until (CdvizHttpSink *self,
            gint64         until)
{
  while (g_get_monotonic_time () < until)
    {
      if (self->stopping && until > self->stop_deadline)
        return FALSE;
      g_cond_wait_until (&self->cond, &self->lock, until);
    }
  return TRUE;
}

/* Delivers one event, with retries; on the sink's thread. */
static gboolean
deliver (CdvizHttpSink  *self,
         SoupSession    *session,
         CdvizMessage   *message,
         char          **reason)
{
  GBytes *body = cdviz_message_get_body_bytes (message);
  const char *id = cdviz_message_get_id (message) ?: "(no id)";
  gint64 start = g_get_monotonic_time ();
  gint64 budget_end = start + (gint64) MIN (self->total_duration_of_retries,
                                            G_MAXINT64 / 2000) * 1000;

  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(SoupMessage) request = build_request (self, message, body);
      g_autoptr(GBytes) response = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *why = NULL;
      guint status;
      gint64 delay_ms, until;
      gboolean go_on;

      response = soup_session_send_and_read (session, request, self->cancellable, &error);
      status = soup_message_get_status (request);
      if (response != NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
        {
          COUNT (self->delivered);
          g_debug ("%s: event %s delivered (%u)", self->name, id, status);
          return TRUE;
        }
      if (response != NULL && !cdviz_http_retry_is_transient (status))
        {
          COUNT (self->rejected);
          log_failure (self, message, request, response);
          *reason = g_strdup_printf (_("%s answered %u %s"), self->destination, status,
                                     soup_message_get_reason_phrase (request) ?: "");
          return FALSE;
        }
      if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          *reason = g_strdup (_("the pipeline stopped before the event was delivered"));
          COUNT (self->failed);
          return FALSE;
        }
      why = error != NULL ? g_strdup (error->message)
                          : g_strdup_printf ("%u %s", status,
                                             soup_message_get_reason_phrase (request) ?: "");
      delay_ms = response != NULL
        ? cdviz_http_retry_after_ms (soup_message_headers_get_one (
                                       soup_message_get_response_headers (request),
                                       "Retry-After"),
                                     g_get_real_time () / G_USEC_PER_SEC)
        : -1;
      if (delay_ms < 0)
        delay_ms = cdviz_http_retry_backoff_ms (attempt, self->retry_delay,
                                                self->max_retry_delay,
                                                g_random_double ());
      until = g_get_monotonic_time () + delay_ms * 1000;
      if (until > budget_end)
        {
          COUNT (self->failed);
          if (response != NULL)
            log_failure (self, message, request, response);
          else if (self->log_errors)
            g_warning (_("http sink %s: event %s not delivered to %s: %s"), self->name, id,
                       self->destination, why);
          *reason = g_strdup_printf (_("%s (no retry left within total_duration_of_retries)"),
                                     why);
          return FALSE;
        }
      g_debug ("%s: event %s: %s; attempt %u in %" G_GINT64_FORMAT " ms", self->name, id, why,
               attempt + 2, delay_ms);
      COUNT (self->retried);
      g_mutex_lock (&self->lock);
      go_on = wait_until (self, until);
      g_mutex_unlock (&self->lock);
      if (!go_on)
        {
          COUNT (self->failed);
          g_warning (_("http sink %s: stopping: event %s not delivered to %s (%s)"), self->name,
                     id, self->destination, why);
          *reason = g_strdup_printf (_("%s (the pipeline stopped)"), why);
          return FALSE;
        }
    }
}

static gpointer
worker (gpointer data)
{
  CdvizHttpSink *self = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SoupSession) session = NULL;

  g_main_context_push_thread_default (context);
  session = soup_session_new_with_options ("user-agent", self->user_agent,
                                           "timeout", (guint) MIN (self->timeout / 1000,
                                                                   G_MAXUINT),
                                           NULL);
  for (;;)
    {
      Item *item;
      char *reason = NULL;
      gboolean ok;

      g_mutex_lock (&self->lock);
      while (g_queue_is_empty (&self->queue) && !self->stopping)
        g_cond_wait (&self->cond, &self->lock);
      item = g_queue_peek_head (&self->queue);
      g_mutex_unlock (&self->lock);
      if (item == NULL)
        break;

      ok = deliver (self, session, item->message, &reason);

      g_mutex_lock (&self->lock);
      g_queue_remove (&self->queue, item);
      if (self->queue_capacity == 0)
        {
          item->ok = ok;
          item->error = reason;
          item->done = TRUE;
          g_cond_broadcast (&self->cond);
        }
      else
        {
          g_free (reason);
          item_free (item);
        }
      g_mutex_unlock (&self->lock);
    }
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);

  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* --- /metrics ----------------------------------------------------------- */

#define COUNTER_GET(field) ((guint64) g_atomic_pointer_get ((gsize *) &(field)))

static guint64 delivered_sample (gpointer s) { return COUNTER_GET (CDVIZ_HTTP_SINK (s)->delivered); }
static guint64 rejected_sample (gpointer s) { return COUNTER_GET (CDVIZ_HTTP_SINK (s)->rejected); }
static guint64 failed_sample (gpointer s) { return COUNTER_GET (CDVIZ_HTTP_SINK (s)->failed); }
static guint64 dropped_sample (gpointer s) { return COUNTER_GET (CDVIZ_HTTP_SINK (s)->dropped); }
static guint64 retries_sample (gpointer s) { return COUNTER_GET (CDVIZ_HTTP_SINK (s)->retried); }
static guint64 capacity_sample (gpointer s) { return CDVIZ_HTTP_SINK (s)->queue_capacity; }

/* Queued events, the one in flight included. */
static guint64
queue_sample (gpointer component)
{
  CdvizHttpSink *self = component;
  guint length;

  g_mutex_lock (&self->lock);
  length = g_queue_get_length (&self->queue);
  g_mutex_unlock (&self->lock);
  return length;
}

static const CdvizMetricFamily metric_families[] = {
  { "cdviz_http_sink_delivered_total", "counter",
    "Events the receiver accepted (2xx).", delivered_sample },
  { "cdviz_http_sink_refused_total", "counter",
    "Events the receiver refused with an answer that is not retried (4xx but 408 and 429).",
    rejected_sample },
  { "cdviz_http_sink_failed_total", "counter",
    "Events not delivered: retries exhausted (total_duration_of_retries), or stopped.",
    failed_sample },
  { "cdviz_http_sink_dropped_total", "counter",
    "Events dropped because the queue was full (queue_full).", dropped_sample },
  { "cdviz_http_sink_retries_total", "counter",
    "Attempts that failed and were retried (408, 429, 5xx, connection errors).", retries_sample },
  { "cdviz_http_sink_queue_length", "gauge",
    "Events waiting for delivery, the one in flight included.", queue_sample },
  { "cdviz_http_sink_queue_capacity", "gauge",
    "The http sink's queue_capacity.", capacity_sample },
};

static const char *
sink_name (gpointer component)
{
  return CDVIZ_HTTP_SINK (component)->name;
}

/* One function for every http sink on the server; on the HTTP thread. */
static void
http_sink_metrics (GString  *out,
                   gpointer  user_data)
{
  cdviz_metrics_append_families (out, metric_families, G_N_ELEMENTS (metric_families),
                                 user_data, "sink", sink_name);
}

/* --- CdvizSink ---------------------------------------------------------- */

static gboolean
http_sink_start (CdvizSink      *sink,
                 CdvizPipeline  *pipeline,
                 GError        **error)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (sink);
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "http");
  self->stopping = FALSE;
  self->finished = FALSE;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  self->thread = g_thread_try_new ("cdviz-http-sink", worker, self, error);
  if (self->thread == NULL)
    return FALSE;
  /* `send` runs without an HTTP server. */
  if (cdviz_pipeline_get_http_server (pipeline) != NULL)
    cdviz_http_server_add_shared_metrics (cdviz_pipeline_get_http_server (pipeline),
                                          "cdviz-http-sinks", http_sink_metrics,
                                          G_OBJECT (self));
  g_debug ("%s: posting to %s, queue of %u", self->name, self->destination,
           self->queue_capacity);
  return TRUE;
}

static gboolean
http_sink_send_message (CdvizSink     *sink,
                        CdvizMessage  *message,
                        GError       **error)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (sink);
  Item *item = g_new0 (Item, 1);
  Item *dropped = NULL;
  gboolean ok = TRUE;

  item->message = g_object_ref (message);
  g_mutex_lock (&self->lock);
  if (self->queue_capacity == 0)
    {
      g_queue_push_tail (&self->queue, item);
      g_cond_broadcast (&self->cond);
      while (!item->done && !self->finished)
        g_cond_wait (&self->cond, &self->lock);
      ok = item->done && item->ok;
      if (!ok)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                     item->error ?: _("the sink stopped"));
      if (!item->done)
        g_queue_remove (&self->queue, item);
      item_free (item);
    }
  else if (g_queue_get_length (&self->queue) >= self->queue_capacity)
    {
      COUNT (self->dropped);
      if (self->queue_full == QUEUE_FULL_DROP_NEW)
        {
          dropped = item;
          ok = FALSE;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                       _("the queue is full (queue_capacity = %u): %s does not keep up; "
                         "event dropped"), self->queue_capacity, self->destination);
        }
      else
        {
          /* The head is in flight: drop the oldest waiting one. */
          GList *second = self->queue.head->next;

          if (second != NULL)
            {
              dropped = second->data;
              g_queue_delete_link (&self->queue, second);
            }
          g_queue_push_tail (&self->queue, item);
          g_warning (_("http sink %s: queue full (queue_capacity = %u): %s does not keep up; "
                       "oldest waiting event %s dropped"), self->name, self->queue_capacity,
                     self->destination,
                     dropped ? cdviz_message_get_id (dropped->message) ?: "(no id)" : "");
        }
    }
  else
    {
      g_queue_push_tail (&self->queue, item);
      g_cond_broadcast (&self->cond);
    }
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&dropped, item_free);
  return ok;
}

static void
http_sink_stop (CdvizSink *sink)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (sink);
  guint left;

  if (self->thread == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  self->stop_deadline = g_get_monotonic_time () +
    (gint64) MIN (self->shutdown_grace_period, G_MAXINT64 / 2000) * 1000;
  g_cond_broadcast (&self->cond);
  while (!self->finished && g_cond_wait_until (&self->cond, &self->lock, self->stop_deadline))
    ;
  left = g_queue_get_length (&self->queue);
  if (!self->finished)
    {
      /* Keep the one in flight (the thread owns it until it is done). */
      while (g_queue_get_length (&self->queue) > 1)
        {
          item_free (g_queue_pop_tail (&self->queue));
          COUNT (self->dropped);
        }
      g_cancellable_cancel (self->cancellable);
    }
  g_mutex_unlock (&self->lock);
  g_thread_join (g_steal_pointer (&self->thread));
  if (left > 0)
    g_warning (_("http sink %s: stopped with %u events not delivered to %s "
                 "(shutdown_grace_period elapsed)"), self->name, left, self->destination);
  g_debug ("%s: %" G_GUINT64_FORMAT " delivered, %" G_GUINT64_FORMAT " refused, %"
           G_GUINT64_FORMAT " failed, %" G_GUINT64_FORMAT " dropped, %" G_GUINT64_FORMAT
           " retries", self->name, self->delivered, self->rejected, self->failed, self->dropped,
           self->retried);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = http_sink_start;
  iface->send_message = http_sink_send_message;
  iface->stop_sink = http_sink_stop;
}

static gboolean
http_sink_init_finish (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (initable);
  g_autoptr(GError) local = NULL;

  if (self->destination == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “destination” is required (the URL events are POSTed to)"));
      return FALSE;
    }
  self->uri = g_uri_parse (self->destination, SOUP_HTTP_URI_FLAGS, NULL);
  if (self->uri == NULL || g_uri_get_host (self->uri) == NULL ||
      (g_strcmp0 (g_uri_get_scheme (self->uri), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (self->uri), "https") != 0))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “destination”: “%s” is not an http:// or https:// URL"),
                   self->destination);
      return FALSE;
    }
  if (g_strcmp0 (self->queue_full_text, "drop-old") == 0)
    self->queue_full = QUEUE_FULL_DROP_OLD;
  else if (g_strcmp0 (self->queue_full_text, "drop-new") == 0)
    self->queue_full = QUEUE_FULL_DROP_NEW;
  else
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “queue_full”: “%s” is neither “drop-new” nor “drop-old”"),
                   self->queue_full_text ?: "");
      return FALSE;
    }
  self->outgoing = cdviz_outgoing_headers_new (self->headers, &local);
  if (self->outgoing == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “headers”: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = http_sink_init_finish;
}

/* --- GObject ------------------------------------------------------------ */

static void
cdviz_http_sink_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (object);

  switch (prop_id)
    {
    case PROP_DESTINATION: g_value_set_string (value, self->destination); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      g_value_set_uint64 (value, self->total_duration_of_retries);
      break;
    case PROP_LOG_ERRORS: g_value_set_boolean (value, self->log_errors); break;
    case PROP_LOG_FULL_RESPONSE_ON_ERROR:
      g_value_set_boolean (value, self->log_full_response_on_error);
      break;
    case PROP_USER_AGENT: g_value_set_string (value, self->user_agent); break;
    case PROP_QUEUE_CAPACITY: g_value_set_uint (value, self->queue_capacity); break;
    case PROP_QUEUE_FULL: g_value_set_string (value, self->queue_full_text); break;
    case PROP_RETRY_DELAY: g_value_set_uint64 (value, self->retry_delay); break;
    case PROP_MAX_RETRY_DELAY: g_value_set_uint64 (value, self->max_retry_delay); break;
    case PROP_TIMEOUT: g_value_set_uint64 (value, self->timeout); break;
    case PROP_SHUTDOWN_GRACE_PERIOD: g_value_set_uint64 (value, self->shutdown_grace_period); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_http_sink_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (object);

  switch (prop_id)
    {
    case PROP_DESTINATION:
      g_free (self->destination);
      self->destination = g_value_dup_string (value);
      break;
    case PROP_HEADERS:
      g_clear_pointer (&self->headers, json_node_unref);
      self->headers = g_value_dup_boxed (value);
      break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      self->total_duration_of_retries = g_value_get_uint64 (value);
      break;
    case PROP_LOG_ERRORS: self->log_errors = g_value_get_boolean (value); break;
    case PROP_LOG_FULL_RESPONSE_ON_ERROR:
      self->log_full_response_on_error = g_value_get_boolean (value);
      break;
    case PROP_USER_AGENT:
      g_free (self->user_agent);
      self->user_agent = g_value_dup_string (value);
      break;
    case PROP_QUEUE_CAPACITY: self->queue_capacity = g_value_get_uint (value); break;
    case PROP_QUEUE_FULL:
      g_free (self->queue_full_text);
      self->queue_full_text = g_value_dup_string (value);
      break;
    case PROP_RETRY_DELAY: self->retry_delay = g_value_get_uint64 (value); break;
    case PROP_MAX_RETRY_DELAY: self->max_retry_delay = g_value_get_uint64 (value); break;
    case PROP_TIMEOUT: self->timeout = g_value_get_uint64 (value); break;
    case PROP_SHUTDOWN_GRACE_PERIOD: self->shutdown_grace_period = g_value_get_uint64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_http_sink_finalize (GObject *object)
{
  CdvizHttpSink *self = CDVIZ_HTTP_SINK (object);

  g_assert (self->thread == NULL);
  g_queue_clear_full (&self->queue, (GDestroyNotify) item_free);
  g_free (self->destination);
  g_clear_pointer (&self->headers, json_node_unref);
  g_free (self->user_agent);
  g_free (self->queue_full_text);
  g_clear_pointer (&self->outgoing, cdviz_outgoing_headers_free);
  g_clear_pointer (&self->uri, g_uri_unref);
  g_free (self->name);
  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (cdviz_http_sink_parent_class)->finalize (object);
}

static void
cdviz_http_sink_class_init (CdvizHttpSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_http_sink_get_property;
  object_class->set_property = cdviz_http_sink_set_property;
  object_class->finalize = cdviz_http_sink_finalize;

  properties[PROP_DESTINATION] =
    g_param_spec_string ("destination", NULL,
                         "The URL every event is POSTed to (required)", NULL, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Headers added to every request, last (header name → rule): "
                        "{ type = \"static\", value, prefix, suffix }, "
                        "{ type = \"secret\", value or value_file, prefix, suffix } (never logged), "
                        "{ type = \"signature\", token, token_encoding, signature_prefix, "
                        "signature_on, signature_encoding } (HMAC-SHA256 of the exact body sent)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_TOTAL_DURATION_OF_RETRIES] =
    cdviz_param_spec_duration ("total-duration-of-retries", NULL,
                               "How long an event may be retried, from its first attempt "
                               "(408, 429, 5xx and connection errors; Retry-After honoured)",
                               0, G_MAXUINT64, 30 * 60 * 1000, flags);
  properties[PROP_LOG_ERRORS] =
    g_param_spec_boolean ("log-errors", NULL,
                          "Log a warning when the receiver does not accept an event",
                          TRUE, flags);
  properties[PROP_LOG_FULL_RESPONSE_ON_ERROR] =
    g_param_spec_boolean ("log-full-response-on-error", NULL,
                          "With log_errors, log the response's headers and body (its first "
                          "4 KiB) too",
                          FALSE, flags);
  properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, "The User-Agent header of the requests",
                         "cdviz-pipeline/" CDVIZ_VERSION_S, flags);
  properties[PROP_QUEUE_CAPACITY] =
    g_param_spec_uint ("queue-capacity", NULL,
                       "Events waiting for delivery before queue_full applies; 0 delivers "
                       "each event before taking the next one, failing it in the pipeline when "
                       "it fails (not in cdviz-collector)",
                       0, G_MAXINT32, 1000, flags);
  properties[PROP_QUEUE_FULL] =
    g_param_spec_string ("queue-full", NULL,
                         "What a full queue drops: \"drop-new\" (the new event, counted as a "
                         "failed delivery) or \"drop-old\" (the oldest waiting one); the "
                         "pipeline never waits (not in cdviz-collector)",
                         "drop-new", flags);
  properties[PROP_RETRY_DELAY] =
    cdviz_param_spec_duration ("retry-delay", NULL,
                               "First delay before a retry; doubles with each failure, with "
                               "jitter (not in cdviz-collector)",
                               0, G_MAXUINT32, 1000, flags);
  properties[PROP_MAX_RETRY_DELAY] =
    cdviz_param_spec_duration ("max-retry-delay", NULL,
                               "Longest delay between two attempts (not in cdviz-collector)",
                               0, G_MAXUINT32, 60000, flags);
  properties[PROP_TIMEOUT] =
    cdviz_param_spec_duration ("timeout", NULL,
                               "How long one request may wait for the receiver "
                               "(not in cdviz-collector)",
                               1000, G_MAXUINT32, 30000, flags);
  properties[PROP_SHUTDOWN_GRACE_PERIOD] =
    cdviz_param_spec_duration ("shutdown-grace-period", NULL,
                               "At stop, how long queued events may take to be delivered "
                               "(not in cdviz-collector)",
                               0, G_MAXUINT32, 5000, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_http_sink_init (CdvizHttpSink *self)
{
  self->total_duration_of_retries = 30 * 60 * 1000;
  self->log_errors = TRUE;
  self->user_agent = g_strdup ("cdviz-pipeline/" CDVIZ_VERSION_S);
  self->queue_capacity = 1000;
  self->queue_full_text = g_strdup ("drop-new");
  self->retry_delay = 1000;
  self->max_retry_delay = 60000;
  self->timeout = 30000;
  self->shutdown_grace_period = 5000;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}
