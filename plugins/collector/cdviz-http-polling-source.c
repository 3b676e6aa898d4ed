/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "cdviz-http-polling-source.h"
#include "cdviz-http-polling-private.h"
#include "cdviz-outgoing-headers.h"

/* `extractor = { type = "http_polling", polling_interval, driver_vrl, … }`,
 * as cdviz-collector's `src/sources/http_polling/`: every polling interval,
 * the VRL driver is run once with `.response = null` (the bootstrap) and
 * sets `.requests`; each request is fetched, and its response is emitted
 * into the pipeline (`route = "pipeline"`, the default), handed back to the
 * driver for more requests (`"feedback"`), or both. A poll ends when the
 * worklist is empty; then the time window (`metadata.ts_after`,
 * `ts_before`) advances, unless a non-2xx response said `hold` (a 5xx by
 * default): then the next poll retries the same window.
 *
 * Differences with upstream, said in the key docs: requests run one at a
 * time (`max_concurrency` is checked, not used); `retry` in `on_status`
 * holds the window (the request is retried with the next poll); 3xx/429/503
 * get no Retry-After handling (libsoup follows redirects). As upstream, the
 * window's start is saved after each poll that advances it under `[state]`
 * `parameters.root` (ROOT/SOURCE/checkpoint.json) and read back at start.
 *
 * Runs on the thread that starts the pipeline, asynchronously. */

#define MAX_BODY_BYTES (16 * 1024 * 1024)
#define PUSH_RETRY_MS 20

struct _CdvizHttpPollingSource
{
  GObject parent_instance;

  /* configuration */
  guint64 polling_interval;
  char *driver_vrl;
  char *ts_after_config;
  char *ts_before_limit;
  char *parser;
  guint64 min_request_interval;
  guint max_concurrency, max_requests, max_depth;
  JsonNode *headers;
  char **headers_to_keep;
  JsonNode *metadata;
  JsonNode *on_status;
  char *user_agent;
  gboolean log_errors;
  guint64 total_duration_of_retries;
  CdvizOutgoingHeaders *outgoing;
  CdvizVrlProgram *driver;

  /* running */
  CdvizPipeline *pipeline;
  char *name;                 /* the source's, for the checkpoint */
  CdvizState *state;          /* (owned) (nullable): the pipeline's [state] */
  SoupSession *session;
  GCancellable *cancellable;
  GSource *timer;
  GQueue worklist;            /* CdvizPollRequest */
  GQueue pending;             /* CdvizMessage, waiting for room in the queue */
  CdvizPollRequest *current;
  SoupMessage *msg;
  GByteArray *body;
  char *ts_after, *ts_before;
  gint64 last_request_us;
  guint requests_in_poll;
  gboolean hold, progress;
};

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizHttpPollingSource, cdviz_http_polling_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_POLLING_INTERVAL,
  PROP_DRIVER_VRL,
  PROP_TS_AFTER,
  PROP_TS_BEFORE_LIMIT,
  PROP_PARSER,
  PROP_MIN_REQUEST_INTERVAL,
  PROP_MAX_CONCURRENCY,
  PROP_MAX_REQUESTS,
  PROP_MAX_DEPTH,
  PROP_HEADERS,
  PROP_HEADERS_TO_KEEP,
  PROP_METADATA,
  PROP_ON_STATUS,
  PROP_USER_AGENT,
  PROP_LOG_ERRORS,
  PROP_TOTAL_DURATION_OF_RETRIES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];


static void poll_next (CdvizHttpPollingSource *self);
static void schedule (CdvizHttpPollingSource *self, guint64 delay_ms, GSourceFunc func);

 
/* --- responses ----------------------------------------------------------- */


static const char *
effective_parser (CdvizHttpPollingSource *self,
                  const CdvizPollRequest *request,
                  SoupMessage            *msg)
{
  const char *parser = request->parser != NULL ? request->parser : self->parser;
  const char *type;

  if (!g_str_equal (parser, "auto"))
    return parser;
  type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  if (type != NULL && (strstr (type, "ndjson") != NULL || strstr (type, "jsonl") != NULL))
    return "jsonl";
  if (type != NULL && g_str_has_prefix (type, "text/"))
    return "text";
  return "json";
}

static void
emit (CdvizHttpPollingSource *self,
      JsonNode               *body,
      guint                   status)
{
  g_autoptr(JsonObject) fresh = cdviz_message_build_metadata (self->metadata);
  g_autoptr(JsonObject) polling = json_object_new ();
  g_autoptr(JsonNode) metadata = NULL;
  g_autoptr(GHashTable) kept = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  SoupMessageHeaders *headers = soup_message_get_response_headers (self->msg);

  json_object_set_string_member (fresh, "ts_after", self->ts_after);
  json_object_set_string_member (fresh, "ts_before", self->ts_before);
  json_object_set_string_member (polling, "url", self->current->url);
  json_object_set_string_member (polling, "method", self->current->method);
  json_object_set_int_member (polling, "status", status);
  if (self->current->state != NULL)
    json_object_set_member (polling, "state", json_node_copy (self->current->state));
  json_object_set_object_member (fresh, "http_polling", json_object_ref (polling));
  metadata = json_node_init_object (json_node_alloc (), fresh);

  for (guint i = 0; self->headers_to_keep != NULL && self->headers_to_keep[i] != NULL; i++)
    {
      const char *value = soup_message_headers_get_one (headers, self->headers_to_keep[i]);

      if (value != NULL)
        g_hash_table_insert (kept, g_ascii_strdown (self->headers_to_keep[i], -1),
                             g_strdup (value));
    }
  g_queue_push_tail (&self->pending, cdviz_message_new_raw (body, metadata, kept));
}

/* Parses a 2xx body into events (route pipeline/both) and the driver's
 * `.response.body` (route feedback/both). */
static void
handle_success (CdvizHttpPollingSource *self,
                guint                   status)
{
  const char *parser = effective_parser (self, self->current, self->msg);
  const char *data = (const char *) self->body->data;
  gsize length = self->body->len;
  g_autoptr(JsonNode) whole = NULL;
  g_autoptr(GError) error = NULL;

  if (g_str_equal (parser, "jsonl"))
    {
      g_autofree char *text = g_strndup (data, length);
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_autoptr(JsonNode) node = NULL;

          if (*g_strstrip (lines[i]) == '\0')
            continue;
          node = json_from_string (lines[i], &error);
          if (node == NULL)
            {
              g_warning (_("http_polling source: %s: line %u is not JSON: %s"),
                         self->current->url, i + 1, error->message);
              g_clear_error (&error);
              continue;
            }
          if (self->current->route & ROUTE_PIPELINE)
            emit (self, node, status);
        }
      return;
    }
  if (g_str_equal (parser, "text"))
    {
      g_autofree char *text = g_strndup (data, length);

      whole = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (whole, text);
    }
  else
    {
      g_autofree char *text = g_strndup (data, length);

      whole = json_from_string (text, &error);
      if (whole == NULL)
        {
          g_warning (_("http_polling source: %s: the response is not JSON: %s"),
                     self->current->url, error != NULL ? error->message : _("empty body"));
          return;
        }
    }
  if (self->current->route & ROUTE_PIPELINE)
    emit (self, whole, status);
  if (self->current->route & ROUTE_FEEDBACK)
    {
      g_autoptr(JsonObject) response = json_object_new ();
      g_autoptr(JsonObject) headers = json_object_new ();
      g_autoptr(JsonNode) node = NULL;
      SoupMessageHeadersIter iter;
      const char *name, *value;

      soup_message_headers_iter_init (&iter, soup_message_get_response_headers (self->msg));
      while (soup_message_headers_iter_next (&iter, &name, &value))
        {
          g_autofree char *lower = g_ascii_strdown (name, -1);

          json_object_set_string_member (headers, lower, value);
        }
      json_object_set_int_member (response, "status", status);
      json_object_set_object_member (response, "headers", json_object_ref (headers));
      json_object_set_member (response, "body", json_node_copy (whole));
      node = json_node_init_object (json_node_alloc (), response);
      _cdviz_poll_run_driver (self->driver, self->ts_after, self->ts_before, self->max_depth,
                              self->current, node, &self->worklist);
    }
}

/* Pushes the pending events; FALSE when the queue is full (retried). */
static gboolean
push_pending (CdvizHttpPollingSource *self)
{
  CdvizMessage *message;

  while ((message = g_queue_peek_head (&self->pending)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), message, &error))
        {
          if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
            return FALSE;
          g_warning (_("http_polling source: event not accepted by the pipeline: %s"),
                     error->message);
        }
      g_object_unref (g_queue_pop_head (&self->pending));
    }
  return TRUE;
}

static gboolean
on_push_retry (gpointer data)
{
  CdvizHttpPollingSource *self = data;

  g_clear_pointer (&self->timer, g_source_unref);
  poll_next (self);
  return G_SOURCE_REMOVE;
}

static void
finish_response (CdvizHttpPollingSource *self)
{
  guint status = soup_message_get_status (self->msg);

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      self->progress = TRUE;
      handle_success (self, status);
    }
  else
    {
      CdvizPollBehavior behavior = _cdviz_poll_resolve_status (self->on_status, status);

      if (self->log_errors)
        g_warning (_("http_polling source: %s %s: the server answered %u %s (%s)"),
                   self->current->method, self->current->url, status,
                   soup_message_get_reason_phrase (self->msg),
                   behavior == BEHAVIOR_SKIP ? _("skipped")
                   : behavior == BEHAVIOR_ABORT ? _("the source stops")
                   : _("the window is retried with the next poll"));
      if (behavior == BEHAVIOR_SKIP)
        self->progress = TRUE;
      else if (behavior == BEHAVIOR_ABORT)
        {
          g_queue_clear_full (&self->worklist, _cdviz_poll_request_free);
          self->polling_interval = 0;
        }
      else
        self->hold = TRUE;
    }
  g_clear_pointer (&self->current, _cdviz_poll_request_free);
  g_clear_object (&self->msg);
  g_clear_pointer (&self->body, g_byte_array_unref);
}

static void on_read (GObject *object, GAsyncResult *result, gpointer data);

static void
read_more (CdvizHttpPollingSource *self,
           GInputStream           *stream)
{
  g_input_stream_read_bytes_async (stream, 65536, G_PRIORITY_DEFAULT, self->cancellable,
                                   on_read, self);
}

static void
on_read (GObject      *object,
         GAsyncResult *result,
         gpointer      data)
{
  GInputStream *stream = G_INPUT_STREAM (object);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  CdvizHttpPollingSource *self;

  bytes = g_input_stream_read_bytes_finish (stream, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (stream);
      return;
    }
  self = data;
  if (bytes == NULL || self->body->len + g_bytes_get_size (bytes) > MAX_BODY_BYTES)
    {
      g_warning (_("http_polling source: %s: %s"), self->current->url,
                 bytes == NULL ? error->message : _("the response is larger than 16 MiB"));
      self->hold = TRUE;
      g_clear_pointer (&self->current, _cdviz_poll_request_free);
      g_clear_object (&self->msg);
      g_clear_pointer (&self->body, g_byte_array_unref);
      g_object_unref (stream);
      poll_next (self);
      return;
    }
  if (g_bytes_get_size (bytes) > 0)
    {
      g_byte_array_append (self->body, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      read_more (self, stream);
      return;
    }
  g_object_unref (stream);
  finish_response (self);
  poll_next (self);
}

static void
on_sent (GObject      *object,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GError) error = NULL;
  GInputStream *stream;
  CdvizHttpPollingSource *self;

  stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  if (stream == NULL)
    {
      g_warning (_("http_polling source: %s %s: %s (the window is retried with the next "
                   "poll)"), self->current->method, self->current->url, error->message);
      self->hold = TRUE;
      g_clear_pointer (&self->current, _cdviz_poll_request_free);
      g_clear_object (&self->msg);
      poll_next (self);
      return;
    }
  self->body = g_byte_array_new ();
  read_more (self, stream);
}

static void
send_request (CdvizHttpPollingSource *self)
{
  SoupMessageHeaders *headers;
  const char *parser;

  self->current = g_queue_pop_head (&self->worklist);
  self->msg = soup_message_new (self->current->method, self->current->url);
  if (self->msg == NULL)
    {
      g_warning (_("http_polling source: “%s” is not a valid URL; request skipped"),
                 self->current->url);
      g_clear_pointer (&self->current, _cdviz_poll_request_free);
      poll_next (self);
      return;
    }
  headers = soup_message_get_request_headers (self->msg);
  parser = self->current->parser != NULL ? self->current->parser : self->parser;
  soup_message_headers_replace (headers, "Accept",
                                g_str_equal (parser, "json") ? "application/json"
                                : g_str_equal (parser, "jsonl") ? "application/x-ndjson"
                                : g_str_equal (parser, "text") ? "text/plain"
                                : "application/json, application/x-ndjson, text/plain");
  if (self->current->headers != NULL)
    {
      g_autoptr(GList) names = json_object_get_members (self->current->headers);

      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonNode *value = json_object_get_member (self->current->headers, l->data);

          if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
            soup_message_headers_replace (headers, l->data, json_node_get_string (value));
        }
    }
  if (self->current->body != NULL)
    {
      g_autoptr(GBytes) body = g_bytes_new (self->current->body, strlen (self->current->body));

      soup_message_set_request_body_from_bytes (self->msg, NULL, body);
    }
  /* The configured headers win over the driver's. */
  cdviz_outgoing_headers_apply (self->outgoing, headers, (const guint8 *) self->current->body,
                                self->current->body != NULL ? strlen (self->current->body) : 0);
  self->last_request_us = g_get_monotonic_time ();
  self->requests_in_poll++;
  g_debug ("%s %s", self->current->method, self->current->url);
  soup_session_send_async (self->session, self->msg, G_PRIORITY_DEFAULT, self->cancellable,
                           on_sent, self);
}

static gboolean on_poll (gpointer data);

static void
end_poll (CdvizHttpPollingSource *self)
{
  gboolean advance = !self->hold && (self->progress || self->requests_in_poll == 0);

  if (advance)
    {
      g_free (self->ts_after);
      self->ts_after = g_strdup (self->ts_before);
      if (self->state != NULL)
        _cdviz_poll_save_checkpoint (self->state, self->name, self->ts_after);
    }
  g_debug ("poll done: %u requests, window %s", self->requests_in_poll,
           advance ? "advanced" : "held");
  if (self->polling_interval == 0)
    {
      g_warning (_("http_polling source: stopped"));
      return;
    }
  if (self->ts_before_limit != NULL && _cdviz_poll_compare_timestamps (self->ts_after,
                                                           self->ts_before_limit) >= 0)
    {
      g_message (_("http_polling source: ts_before_limit %s reached: the source stops"),
                 self->ts_before_limit);
      return;
    }
  schedule (self, self->polling_interval, on_poll);
}

static gboolean
on_spaced (gpointer data)
{
  CdvizHttpPollingSource *self = data;

  g_clear_pointer (&self->timer, g_source_unref);
  send_request (self);
  return G_SOURCE_REMOVE;
}

/* The next step of a poll: push what is pending, send the next request
 * (spaced by min_request_interval), or end the poll. */
static void
poll_next (CdvizHttpPollingSource *self)
{
  gint64 wait_us;

  if (!push_pending (self))
    {
      schedule (self, PUSH_RETRY_MS, on_push_retry);
      return;
    }
  if (g_queue_is_empty (&self->worklist))
    {
      end_poll (self);
      return;
    }
  if (self->requests_in_poll >= self->max_requests)
    {
      g_warning (_("http_polling source: max_requests (%u) reached: %u requests dropped"),
                 self->max_requests, g_queue_get_length (&self->worklist));
      g_queue_clear_full (&self->worklist, _cdviz_poll_request_free);
      end_poll (self);
      return;
    }
  wait_us = self->last_request_us + (gint64) self->min_request_interval * 1000 -
            g_get_monotonic_time ();
  if (self->requests_in_poll > 0 && self->min_request_interval > 0 && wait_us > 0)
    schedule (self, (wait_us + 999) / 1000, on_spaced);
  else
    send_request (self);
}

static gboolean
on_poll (gpointer data)
{
  CdvizHttpPollingSource *self = data;
  g_autofree char *before = _cdviz_poll_now_minus_one_second ();

  g_clear_pointer (&self->timer, g_source_unref);
  g_free (self->ts_before);
  if (self->ts_before_limit != NULL && _cdviz_poll_compare_timestamps (before, self->ts_before_limit) > 0)
    self->ts_before = g_strdup (self->ts_before_limit);
  else
    self->ts_before = g_steal_pointer (&before);
  self->hold = self->progress = FALSE;
  self->requests_in_poll = 0;
  if (!_cdviz_poll_run_driver (self->driver, self->ts_after, self->ts_before, self->max_depth,
                               NULL, NULL, &self->worklist))
    self->hold = TRUE;
  poll_next (self);
  return G_SOURCE_REMOVE;
}

static void
schedule (CdvizHttpPollingSource *self,
          guint64                 delay_ms,
          GSourceFunc             func)
{
  self->timer = g_timeout_source_new ((guint) MIN (delay_ms, G_MAXUINT));
  g_source_set_callback (self->timer, func, self, NULL);
  g_source_set_static_name (self->timer, "[cdviz-collector] http_polling");
  g_source_attach (self->timer, g_main_context_get_thread_default ());
}

/* --- CdvizSource -------------------------------------------------------- */

static gboolean
http_polling_start (CdvizSource    *source,
                    CdvizPipeline  *pipeline,
                    GError        **error)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (source);

  self->pipeline = g_object_ref (pipeline);
  self->cancellable = g_cancellable_new ();
  /* Redirects are followed by libsoup; no cookie jar, no cache. */
  self->session = soup_session_new_with_options ("user-agent", self->user_agent,
                                                 "timeout", 60, NULL);
  self->name = g_strdup (cdviz_pipeline_get_source_name (pipeline, source));
  g_set_object (&self->state, cdviz_pipeline_get_state (pipeline));
  g_free (self->ts_after);
  self->ts_after = self->state != NULL
                   ? _cdviz_poll_load_checkpoint (self->state, self->name) : NULL;
  if (self->ts_after != NULL)
    g_message (_("http_polling source %s: resuming from %s (%s)"), self->name, self->ts_after,
               cdviz_state_get_root (self->state));
  else
    self->ts_after = g_strdup (self->ts_after_config != NULL ? self->ts_after_config
                                                             : BEGINNING_OF_TIME);
  schedule (self, 0, on_poll);
  return TRUE;
}

static void
http_polling_stop (CdvizSource *source)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (source);

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (!g_queue_is_empty (&self->pending))
    g_debug ("stopping with %u events not accepted by the pipeline",
             g_queue_get_length (&self->pending));
  g_queue_clear_full (&self->pending, g_object_unref);
  g_queue_clear_full (&self->worklist, _cdviz_poll_request_free);
  g_clear_pointer (&self->current, _cdviz_poll_request_free);
  g_clear_object (&self->msg);
  g_clear_pointer (&self->body, g_byte_array_unref);
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->pipeline);
  g_clear_pointer (&self->name, g_free);
  g_clear_object (&self->state);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = http_polling_start;
  iface->stop_source = http_polling_stop;
}

static gboolean
http_polling_init_finish (GInitable     *initable,
                          GCancellable  *cancellable,
                          GError       **error)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (initable);
  g_autoptr(GError) local = NULL;

  if (self->polling_interval == 0)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “polling_interval” is required (a duration, e.g. \"1m\")"));
      return FALSE;
    }
  if (self->driver_vrl == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “driver_vrl” is required (a VRL program that sets "
                             ".requests)"));
      return FALSE;
    }
  if (!g_str_equal (self->parser, "auto") && !g_str_equal (self->parser, "json") &&
      !g_str_equal (self->parser, "jsonl") && !g_str_equal (self->parser, "text"))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “parser”: “%s” is not one of “auto”, “json”, “jsonl”, “text”"),
                   self->parser);
      return FALSE;
    }
  if (!_cdviz_poll_check_timestamp ("ts_after", self->ts_after_config, error) ||
      !_cdviz_poll_check_timestamp ("ts_before_limit", self->ts_before_limit, error) ||
      !_cdviz_poll_check_on_status (self->on_status, error))
    return FALSE;
  if (self->metadata != NULL && !JSON_NODE_HOLDS_OBJECT (self->metadata))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “metadata”: expected a table"));
      return FALSE;
    }
  self->outgoing = cdviz_outgoing_headers_new (self->headers, &local);
  if (self->outgoing == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “headers”: %s"), local->message);
      return FALSE;
    }
  self->driver = cdviz_vrl_compile (self->driver_vrl, 0, &local);
  if (self->driver == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “driver_vrl”: the VRL program does not compile: %s"),
                   local->message);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = http_polling_init_finish;
}

/* --- GObject ------------------------------------------------------------ */

static void
cdviz_http_polling_source_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (object);

  switch (prop_id)
    {
    case PROP_POLLING_INTERVAL: g_value_set_uint64 (value, self->polling_interval); break;
    case PROP_DRIVER_VRL: g_value_set_string (value, self->driver_vrl); break;
    case PROP_TS_AFTER: g_value_set_string (value, self->ts_after_config); break;
    case PROP_TS_BEFORE_LIMIT: g_value_set_string (value, self->ts_before_limit); break;
    case PROP_PARSER: g_value_set_string (value, self->parser); break;
    case PROP_MIN_REQUEST_INTERVAL: g_value_set_uint64 (value, self->min_request_interval); break;
    case PROP_MAX_CONCURRENCY: g_value_set_uint (value, self->max_concurrency); break;
    case PROP_MAX_REQUESTS: g_value_set_uint (value, self->max_requests); break;
    case PROP_MAX_DEPTH: g_value_set_uint (value, self->max_depth); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_HEADERS_TO_KEEP: g_value_set_boxed (value, self->headers_to_keep); break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    case PROP_ON_STATUS: g_value_set_boxed (value, self->on_status); break;
    case PROP_USER_AGENT: g_value_set_string (value, self->user_agent); break;
    case PROP_LOG_ERRORS: g_value_set_boolean (value, self->log_errors); break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      g_value_set_uint64 (value, self->total_duration_of_retries);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_json (JsonNode    **where,
          const GValue *value)
{
  g_clear_pointer (where, json_node_unref);
  *where = g_value_dup_boxed (value);
}

static void
set_string (char        **where,
            const GValue *value)
{
  g_free (*where);
  *where = g_value_dup_string (value);
}

static void
cdviz_http_polling_source_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (object);

  switch (prop_id)
    {
    case PROP_POLLING_INTERVAL: self->polling_interval = g_value_get_uint64 (value); break;
    case PROP_DRIVER_VRL: set_string (&self->driver_vrl, value); break;
    case PROP_TS_AFTER: set_string (&self->ts_after_config, value); break;
    case PROP_TS_BEFORE_LIMIT: set_string (&self->ts_before_limit, value); break;
    case PROP_PARSER: set_string (&self->parser, value); break;
    case PROP_MIN_REQUEST_INTERVAL: self->min_request_interval = g_value_get_uint64 (value); break;
    case PROP_MAX_CONCURRENCY: self->max_concurrency = g_value_get_uint (value); break;
    case PROP_MAX_REQUESTS: self->max_requests = g_value_get_uint (value); break;
    case PROP_MAX_DEPTH: self->max_depth = g_value_get_uint (value); break;
    case PROP_HEADERS: set_json (&self->headers, value); break;
    case PROP_HEADERS_TO_KEEP:
      g_strfreev (self->headers_to_keep);
      self->headers_to_keep = g_value_dup_boxed (value);
      break;
    case PROP_METADATA: set_json (&self->metadata, value); break;
    case PROP_ON_STATUS: set_json (&self->on_status, value); break;
    case PROP_USER_AGENT: set_string (&self->user_agent, value); break;
    case PROP_LOG_ERRORS: self->log_errors = g_value_get_boolean (value); break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      self->total_duration_of_retries = g_value_get_uint64 (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_http_polling_source_finalize (GObject *object)
{
  CdvizHttpPollingSource *self = CDVIZ_HTTP_POLLING_SOURCE (object);

  g_assert (self->session == NULL);
  g_free (self->driver_vrl);
  g_free (self->ts_after_config);
  g_free (self->ts_before_limit);
  g_free (self->parser);
  g_clear_pointer (&self->headers, json_node_unref);
  g_strfreev (self->headers_to_keep);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_clear_pointer (&self->on_status, json_node_unref);
  g_free (self->user_agent);
  g_clear_pointer (&self->outgoing, cdviz_outgoing_headers_free);
  g_clear_pointer (&self->driver, cdviz_vrl_program_free);
  g_free (self->ts_after);
  g_free (self->ts_before);
  g_clear_object (&self->state);
  G_OBJECT_CLASS (cdviz_http_polling_source_parent_class)->finalize (object);
}

static void
cdviz_http_polling_source_class_init (CdvizHttpPollingSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_http_polling_source_get_property;
  object_class->set_property = cdviz_http_polling_source_set_property;
  object_class->finalize = cdviz_http_polling_source_finalize;

  properties[PROP_POLLING_INTERVAL] =
    cdviz_param_spec_duration ("polling-interval", NULL,
                               "Time between the end of a poll and the start of the next "
                               "(required)", 0, G_MAXUINT32, 0, flags);
  properties[PROP_DRIVER_VRL] =
    g_param_spec_string ("driver-vrl", NULL,
                         "VRL program run at the start of each poll (.response = null) and on "
                         "each response routed “feedback” or “both”; it gets { metadata "
                         "(ts_after, ts_before), state, request, response } and sets .requests "
                         "(objects: url, method, headers, body, query, route = pipeline | "
                         "feedback | both, parser) and may set .state (required)",
                         NULL, flags);
  properties[PROP_TS_AFTER] =
    g_param_spec_string ("ts-after", NULL,
                         "Start of the first time window (RFC 3339); default "
                         BEGINNING_OF_TIME " (upstream: the earliest time it can represent). "
                         "A restart resumes from the window saved under [state] "
                         "(ROOT/SOURCE/checkpoint.json) instead",
                         NULL, flags);
  properties[PROP_TS_BEFORE_LIMIT] =
    g_param_spec_string ("ts-before-limit", NULL,
                         "The source stops once its window reaches this time (RFC 3339)",
                         NULL, flags);
  properties[PROP_PARSER] =
    g_param_spec_string ("parser", NULL,
                         "How bodies become events: auto (from Content-Type), json (one event), "
                         "jsonl (one per line), text (the body as a JSON string)",
                         "auto", flags);
  properties[PROP_MIN_REQUEST_INTERVAL] =
    cdviz_param_spec_duration ("min-request-interval", NULL,
                               "Least time between the starts of two requests", 0, G_MAXUINT32,
                               0, flags);
  properties[PROP_MAX_CONCURRENCY] =
    g_param_spec_uint ("max-concurrency", NULL,
                       "Checked, not used: requests are sent one at a time", 1, 1024, 4, flags);
  properties[PROP_MAX_REQUESTS] =
    g_param_spec_uint ("max-requests", NULL,
                       "Requests of one poll at most; the rest are dropped (logged)",
                       1, G_MAXINT32, 1000, flags);
  properties[PROP_MAX_DEPTH] =
    g_param_spec_uint ("max-depth", NULL,
                       "Feedback chains longer than this are cut (bootstrap requests: depth 0)",
                       0, G_MAXINT32, 50, flags);
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Headers sent with every request (header name → rule), over the "
                        "driver's: { type = \"static\", value, prefix, suffix }, "
                        "{ type = \"secret\", value or value_file, prefix, suffix } (never logged), "
                        "{ type = \"signature\", … } (HMAC-SHA256 of the request body)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_HEADERS_TO_KEEP] =
    g_param_spec_boxed ("headers-to-keep", NULL,
                        "Response headers copied into each event (names, case-insensitive)",
                        G_TYPE_STRV, flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "Metadata of every event (a table); ts_after, ts_before and "
                        "http_polling = { url, method, status, state } are added to it",
                        JSON_TYPE_NODE, flags);
  properties[PROP_ON_STATUS] =
    g_param_spec_boxed ("on-status", NULL,
                        "What a non-2xx answer does, by code (\"404\") or class (\"4xx\"): "
                        "skip (the window advances), hold (the next poll retries the window), "
                        "retry (here as hold), abort (the source stops); default 401 and 403 "
                        "abort, 5xx hold, others skip",
                        JSON_TYPE_NODE, flags);
  properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, "The User-Agent header of the requests",
                         "cdviz-pipeline/" CDVIZ_VERSION_S, flags);
  properties[PROP_LOG_ERRORS] =
    g_param_spec_boolean ("log-errors", NULL, "Log a warning for each non-2xx answer", TRUE,
                          flags);
  properties[PROP_TOTAL_DURATION_OF_RETRIES] =
    cdviz_param_spec_duration ("total-duration-of-retries", NULL,
                               "Checked, not used: a failed request is retried with the next "
                               "poll", 0, G_MAXUINT32, 30000, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_http_polling_source_init (CdvizHttpPollingSource *self)
{
  self->parser = g_strdup ("auto");
  self->max_concurrency = 4;
  self->max_requests = 1000;
  self->max_depth = 50;
  self->log_errors = TRUE;
  self->total_duration_of_retries = 30000;
  self->user_agent = g_strdup ("cdviz-pipeline/" CDVIZ_VERSION_S);
  g_queue_init (&self->worklist);
  g_queue_init (&self->pending);
}
