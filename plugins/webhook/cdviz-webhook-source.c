/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-webhook-source.h"

/**
 * CdvizWebhookSource:
 *
 * `extractor = { type = "webhook", id = "ID" }`: receives CDEvents on
 * `POST /webhook/ID` of the pipeline's HTTP server.
 *
 * Keys: `id` (required), `headers` (header rules, see
 * [class@HeaderValidator]), `headers_to_keep` (request headers copied into
 * the message, names lower-cased, first value; never `Authorization`, as in
 * cdviz-collector), `metadata` (a table: the
 * base of every message's metadata, as cdviz-collector's), `max_body_size`
 * (bytes, default 1 MiB).
 *
 * `respond` says when a request is answered: `"processed"` (the default)
 * once the event went through the source's transformers, so that a 422 can
 * say a transformer refused it; `"accepted"` as soon as the event is in
 * the pipeline's queue (202), without waiting for the pipeline thread: the
 * fastest ingest, for publishers that do not need the transformers'
 * verdict (a rejection is then only counted, in `/metrics`, and logged).
 *
 * Answers:
 *
 * - 201, empty body: the pipeline accepted the event (it went through the
 *   source's transformers); 202, empty body, with `respond = "accepted"`:
 *   the event is queued;
 * - 400: the body is not JSON (one RFC 8259 value, without NUL characters;
 *   JSON error body with the reason);
 * - 401 / 403: a header rule failed (text/plain, the validator's message).
 *   Everything but the MAC of a `signature` rule (including a signature's
 *   timestamp) is checked once the headers are read, and a failure there
 *   is answered without keeping the body; the MACs are checked once the
 *   body is in;
 * - 405 with `Allow: POST`; 413 when the body is larger than
 *   `max_body_size` (refused from `Content-Length` before the body is
 *   stored);
 * - 422 (only with `respond = "processed"`): a transformer rejected the
 *   event (its message), or an output of
 *   the source's transformers is not a CDEvent (it lacks `context.type`, its
 *   `context.id` holds CR or LF…): the body may be any JSON, as in
 *   cdviz-collector; what the transformers make of it must be a CDEvent;
 * - 503 with `Retry-After: 1` when the pipeline queue is full; 503 while the
 *   pipeline is stopping.
 *
 * Each message gets the configured `metadata` and, unless it has one,
 * `context.source` = S, the default `context.source`: `ROOT_URL?source=NAME`
 * with `[http] root_url` (NAME being the source's name in the
 * configuration), as cdviz-collector builds it, else
 * `http://HOST:PORT/?source=NAME`; S (or the
 * `context.source` of an output's metadata) also fills a missing
 * `context.source` when the outputs are normalised (see
 * [func@cdevent_normalize]).
 */

#define DEFAULT_MAX_BODY_SIZE (1024 * 1024)

/* When a request is answered (the `respond` key). */
typedef enum {
  RESPOND_PROCESSED,
  RESPOND_ACCEPTED,
} Respond;

struct _CdvizWebhookSource
{
  GObject parent_instance;

  /* configuration */
  char *id;
  JsonNode *headers;
  char **headers_to_keep;
  JsonNode *metadata;
  char *metadata_json;            /* by init: copied into every message */
  guint64 max_body_size;
  char *respond_name;
  Respond respond;

  CdvizHeaderValidator *validator;
  char *path;

  /* set by start_source */
  CdvizPipeline *pipeline;        /* not owned: the pipeline owns us */
  char *name;
  char *default_source;           /* built with message_metadata */
  JsonNode *message_metadata;     /* sealed, shared by every message; built once
                                     (g_once_init_enter()) by the first request */
  int stopped;                    /* atomic */
  CdvizHttpServer *http;          /* not owned: the pipeline's */
};

enum {
  PROP_0,
  PROP_ID,
  PROP_HEADERS,
  PROP_HEADERS_TO_KEEP,
  PROP_METADATA,
  PROP_MAX_BODY_SIZE,
  PROP_RESPOND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void source_iface_init (CdvizSourceInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizWebhookSource, cdviz_webhook_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

/* --- responses ---------------------------------------------------------- */

static void
respond_unavailable (SoupServerMessage *msg,
                     const char        *detail)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Retry-After", "1");
  cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, detail);
}

/* --- requests ----------------------------------------------------------- */

typedef struct {
  CdvizWebhookSource *source;
  SoupServerMessage *msg;
  gulong disconnected_id;
  gulong finished_id;
  gboolean gone;
} PendingRequest;

static void
pending_request_free (PendingRequest *request)
{
  if (request->disconnected_id != 0)
    g_signal_handler_disconnect (request->msg, request->disconnected_id);
  if (request->finished_id != 0)
    g_signal_handler_disconnect (request->msg, request->finished_id);
  g_object_unref (request->msg);
  g_object_unref (request->source);
  g_free (request);
}

static void
pending_request_gone (SoupServerMessage *msg,
                      PendingRequest    *request)
{
  request->gone = TRUE;
}

static void
push_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  PendingRequest *request = user_data;
  SoupServerMessage *msg = request->msg;
  g_autoptr(GError) error = NULL;

  if (cdviz_pipeline_push_finish (CDVIZ_PIPELINE (object), result, &error))
    {
      if (!request->gone)
        soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
    }
  else
    {
      g_debug ("Webhook %s: event refused: %s", request->source->path, error->message);
      if (request->gone)
        ;
      else if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
        respond_unavailable (msg, error->message);
      else if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_REJECTED))
        cdviz_http_respond_error (msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, error->message);
      else if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING))
        cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, error->message);
      else
        cdviz_http_respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    }

  if (!request->gone)
    soup_server_message_unpause (msg);
  pending_request_free (request);
}

typedef struct {
  char * const *wanted;
  GHashTable *kept;
} KeepHeaders;

static void
keep_header (const char *name,
             const char *value,
             gpointer    user_data)
{
  KeepHeaders *keep = user_data;

  /* Never the credentials, even when listed: cdviz-collector marks
   * Authorization sensitive and its headers_to_keep skips it. */
  if (g_ascii_strcasecmp (name, "Authorization") == 0)
    return;
  for (char * const *w = keep->wanted; *w != NULL; w++)
    {
      if (g_ascii_strcasecmp (name, *w) == 0)
        {
          char *lower = g_ascii_strdown (name, -1);

          /* the first value wins */
          if (!g_hash_table_contains (keep->kept, lower))
            g_hash_table_insert (keep->kept, lower, g_strdup (value));
          else
            g_free (lower);
          return;
        }
    }
}

/* The metadata of every message: the configured `metadata` with
 * `context.source` = S unless it has one, built once (the port is known
 * once the server listens), sealed, and shared by reference by every
 * message. */
static JsonNode *
get_metadata (CdvizWebhookSource *self)
{
  /* Built by the first request, whichever HTTP thread it came on. */
  if (g_once_init_enter (&self->message_metadata))
    {
      g_autoptr(JsonNode) metadata = NULL;
      JsonObject *object, *context;
      JsonNode *source;

      /* A deep copy (json_node_copy () would share the configured
       * object), of a table checked at init. */
      if (self->metadata != NULL)
        metadata = json_from_string (self->metadata_json, NULL);
      else
        metadata = json_node_init_object (json_node_alloc (), NULL);
      if (json_node_get_object (metadata) == NULL)
        json_node_take_object (metadata, json_object_new ());
      object = json_node_get_object (metadata);
      if (!json_object_has_member (object, "context"))
        json_object_set_object_member (object, "context", json_object_new ());
      context = json_object_get_object_member (object, "context");
      source = json_object_get_member (context, "source");
      if (source == NULL || JSON_NODE_HOLDS_NULL (source) ||
          (json_node_get_value_type (source) == G_TYPE_STRING &&
           *json_node_get_string (source) == '\0'))
        {
          self->default_source =
            cdviz_http_server_dup_default_source (cdviz_pipeline_get_http_server (self->pipeline),
                                                  self->name);
          json_object_set_string_member (context, "source", self->default_source);
        }
      json_node_seal (metadata);
      g_once_init_leave (&self->message_metadata, g_steal_pointer (&metadata));
    }
  return self->message_metadata;
}

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  CdvizWebhookSource *self = user_data;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GHashTable) kept = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize length;
  PendingRequest *request;

  /* The server answered what the route itself refuses (405, 503 while
   * stopped, 413 over max_body_size) and checked the header rules (401,
   * 403) before this runs. */
  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (body, &length);
  if (data == NULL)
    data = "";

  /* No table at all when no header is to be kept. */
  if (self->headers_to_keep != NULL && self->headers_to_keep[0] != NULL)
    {
      KeepHeaders keep;

      kept = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      keep.wanted = self->headers_to_keep;
      keep.kept = kept;
      soup_message_headers_foreach (soup_server_message_get_request_headers (msg),
                                    keep_header, &keep);
    }

  /* Any JSON: the pipeline validates the event as a CDEvent after the
   * source's transformers (a raw message), so that they can turn a GitHub
   * or Argo CD payload into one. Parsed here, once: the pipeline thread
   * works on this tree. */
  message = cdviz_message_new_raw_from_data (data, (gssize) length, get_metadata (self), kept, &error);
  if (message == NULL)
    {
      g_autofree char *reason = g_strdup_printf (_("invalid JSON: %s"), error->message);

      cdviz_http_respond_error (msg, SOUP_STATUS_BAD_REQUEST, reason);
      return;
    }

  if (self->respond == RESPOND_ACCEPTED)
    {
      /* Answered here: no round trip to the pipeline thread. */
      if (cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), message, &error))
        soup_server_message_set_status (msg, SOUP_STATUS_ACCEPTED, NULL);
      else
        {
          g_debug ("Webhook %s: event refused: %s", self->path, error->message);
          if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL))
            respond_unavailable (msg, error->message);
          else if (g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING))
            cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, error->message);
          else
            cdviz_http_respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
        }
      return;
    }

  request = g_new0 (PendingRequest, 1);
  request->source = g_object_ref (self);
  request->msg = g_object_ref (msg);
  request->disconnected_id = g_signal_connect (msg, "disconnected",
                                               G_CALLBACK (pending_request_gone), request);
  request->finished_id = g_signal_connect (msg, "finished",
                                           G_CALLBACK (pending_request_gone), request);

  soup_server_message_pause (msg);
  cdviz_pipeline_push_async (self->pipeline, CDVIZ_SOURCE (self), message, NULL,
                             push_done, request);
}

/* --- CdvizSource -------------------------------------------------------- */

static gboolean
webhook_start_source (CdvizSource    *source,
                      CdvizPipeline  *pipeline,
                      GError        **error)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (source);
  CdvizHttpServer *http = cdviz_pipeline_get_http_server (pipeline);
  g_autofree char *owner = NULL;

  self->pipeline = pipeline;
  g_free (self->name);
  self->name = g_strdup (cdviz_pipeline_get_source_name (pipeline, source));
  if (self->name == NULL)
    self->name = g_strdup (self->id);
  owner = g_strdup_printf ("source '%s'", self->name);

  if (!cdviz_http_server_add_handler (http, self->path, owner, handler,
                                      g_object_ref (self), g_object_unref, error))
    return FALSE;
  cdviz_http_server_set_methods (http, self->path, (const char * const []) { "POST", NULL });
  cdviz_http_server_set_max_body_size (http, self->path, self->max_body_size);
  cdviz_http_server_set_header_validator (http, self->path, self->validator);
  cdviz_http_server_set_route_open (http, self->path, TRUE, _("the source is stopped"));
  /* The handler touches its request, the pipeline's queue (locked) and
   * the metadata built once: any HTTP thread may run it. */
  cdviz_http_server_set_thread_safe (http, self->path, TRUE);
  self->http = http;

  g_atomic_int_set (&self->stopped, FALSE);
  g_debug ("Webhook source %s on %s", self->name, self->path);
  return TRUE;
}

static void
webhook_stop_source (CdvizSource *source)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (source);

  /* The route stays; new requests get 503 from the server. */
  g_atomic_int_set (&self->stopped, TRUE);
  if (self->http != NULL)
    cdviz_http_server_set_route_open (self->http, self->path, FALSE, NULL);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = webhook_start_source;
  iface->stop_source = webhook_stop_source;
}

/* --- GInitable ---------------------------------------------------------- */

static gboolean
webhook_initable_init (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (initable);
  g_autofree char *escaped = NULL;

  if (!cdviz_http_check_route_id ("webhook", self->id, error))
    return FALSE;

  self->validator = cdviz_header_validator_new (self->headers, error);
  if (self->validator == NULL)
    {
      g_prefix_error (error, _("key “headers”: "));
      return FALSE;
    }

  if (self->metadata != NULL && JSON_NODE_HOLDS_NULL (self->metadata))
    g_clear_pointer (&self->metadata, json_node_unref);
  if (self->metadata != NULL)
    {
      JsonNode *context = JSON_NODE_HOLDS_OBJECT (self->metadata)
                          ? json_object_get_member (json_node_get_object (self->metadata),
                                                    "context") : NULL;

      if (!JSON_NODE_HOLDS_OBJECT (self->metadata) ||
          (context != NULL && !JSON_NODE_HOLDS_OBJECT (context)))
        {
          g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                               _("key “metadata”: expected a table (its “context”, if any, "
                                 "a table too)"));
          return FALSE;
        }
      self->metadata_json = json_to_string (self->metadata, FALSE);
    }

  if (self->respond_name == NULL || g_str_equal (self->respond_name, "processed"))
    self->respond = RESPOND_PROCESSED;
  else if (g_str_equal (self->respond_name, "accepted"))
    self->respond = RESPOND_ACCEPTED;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key “respond”: “%s” is neither “processed” nor “accepted”"),
                   self->respond_name);
      return FALSE;
    }

  self->path = g_strconcat ("/webhook/", self->id, NULL);
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = webhook_initable_init;
}

/* --- GObject ------------------------------------------------------------ */

static void
cdviz_webhook_source_finalize (GObject *object)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (object);

  g_free (self->id);
  g_clear_pointer (&self->headers, json_node_unref);
  g_strfreev (self->headers_to_keep);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_free (self->metadata_json);
  g_clear_object (&self->validator);
  g_free (self->path);
  g_free (self->respond_name);
  g_free (self->name);
  g_free (self->default_source);
  g_clear_pointer (&self->message_metadata, json_node_unref);

  G_OBJECT_CLASS (cdviz_webhook_source_parent_class)->finalize (object);
}

static void
cdviz_webhook_source_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_HEADERS:
      g_value_set_boxed (value, self->headers);
      break;
    case PROP_HEADERS_TO_KEEP:
      g_value_set_boxed (value, self->headers_to_keep);
      break;
    case PROP_METADATA:
      g_value_set_boxed (value, self->metadata);
      break;
    case PROP_MAX_BODY_SIZE:
      g_value_set_uint64 (value, self->max_body_size);
      break;
    case PROP_RESPOND:
      g_value_set_string (value, self->respond_name);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_webhook_source_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  CdvizWebhookSource *self = CDVIZ_WEBHOOK_SOURCE (object);

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
    case PROP_HEADERS_TO_KEEP:
      g_strfreev (self->headers_to_keep);
      self->headers_to_keep = g_value_dup_boxed (value);
      break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    case PROP_MAX_BODY_SIZE:
      self->max_body_size = g_value_get_uint64 (value);
      break;
    case PROP_RESPOND:
      g_free (self->respond_name);
      self->respond_name = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_webhook_source_class_init (CdvizWebhookSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_webhook_source_finalize;
  object_class->get_property = cdviz_webhook_source_get_property;
  object_class->set_property = cdviz_webhook_source_set_property;

  /**
   * CdvizWebhookSource:id:
   *
   * The webhook's id: events are posted to `/webhook/ID`. Required.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, "The source's id: events are POSTed to /webhook/<id> (required)", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * CdvizWebhookSource:headers:
   *
   * Header rules (a JSON object: header name → rule, see
   * [class@HeaderValidator]). Every rule but the MAC of a `signature` is
   * checked as soon as the headers are read, before the body is; a
   * signature's MAC once the body is in. A signature whose signed headers
   * carry a timestamp (`webhook-timestamp`, `svix-timestamp`, or the rule's
   * `timestamp_header`) is refused when it is older, or further in the
   * future, than the rule's `timestamp_tolerance` (default 300 s).
   */
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL,
                        "Header rules a request must pass (header name → rule); all but signature MACs are "
                        "checked before the body is read; timestamped signatures (webhook-timestamp, "
                        "svix-timestamp, timestamp_header) outside timestamp_tolerance (default 300 s) get 401",
                        JSON_TYPE_NODE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * CdvizWebhookSource:headers-to-keep:
   *
   * Request headers copied into each message (names lower-cased, first
   * value).
   */
  properties[PROP_HEADERS_TO_KEEP] =
    g_param_spec_boxed ("headers-to-keep", NULL,
                        "Request headers copied into the message (names, case-insensitive); "
                        "never Authorization, as in cdviz-collector",
                        G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * CdvizWebhookSource:metadata:
   *
   * A table every message's metadata starts from, as cdviz-collector's
   * `metadata`; its `context.source`, when set, replaces the default one.
   */
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "A table every message's metadata starts from (transformers read it "
                        "as .metadata); its context.source, when set, replaces the default "
                        "ROOT_URL?source=NAME",
                        JSON_TYPE_NODE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * CdvizWebhookSource:max-body-size:
   *
   * The largest accepted body, in bytes; larger ones get 413.
   */
  properties[PROP_MAX_BODY_SIZE] =
    g_param_spec_uint64 ("max-body-size", NULL, "Largest accepted body, in bytes; a larger one is answered 413",
                         1, G_MAXUINT32, DEFAULT_MAX_BODY_SIZE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * CdvizWebhookSource:respond:
   *
   * When a request is answered: `"processed"` (the default) once the event
   * went through the source's transformers (201, or 422 with the reason a
   * transformer or the CDEvent check gave); `"accepted"` as soon as the
   * event is queued (202), without a round trip to the pipeline thread: a
   * rejection is then counted in `/metrics` and logged, not answered.
   */
  properties[PROP_RESPOND] =
    g_param_spec_string ("respond", NULL,
                         "When a request is answered: \"processed\" (201 once the transformers took the event, "
                         "422 when they did not) or \"accepted\" (202 once the event is queued, no round trip "
                         "to the pipeline thread; rejections are only counted)",
                         "processed",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_webhook_source_init (CdvizWebhookSource *self)
{
  self->max_body_size = DEFAULT_MAX_BODY_SIZE;
}

/* --- plugin ------------------------------------------------------------- */

static gboolean
webhook_register (CdvizRegistry  *registry,
                  GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "webhook",
                                       CDVIZ_TYPE_WEBHOOK_SOURCE, error);
}

CDVIZ_PLUGIN_DEFINE ("webhook", "Receives CDEvents over HTTP POST /webhook/ID", webhook_register)
