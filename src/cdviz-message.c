/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-message.h"
#include "cdviz-message-private.h"
#include "cdviz-json-private.h"

/**
 * CdvizMessage:
 *
 * One event travelling through a pipeline: a CDEvent (the body), free-form
 * metadata and the HTTP headers it arrived with.
 *
 * A message is immutable: its body and metadata are sealed [struct@Json.Node]s
 * and its headers are not to be modified. It can therefore be shared between
 * threads and between sinks by reference. Transformers that change an event
 * create a new message.
 *
 * The compact JSON serialisation of the body is computed once, on first use,
 * and shared: every sink and every SSE client sees the same bytes. A
 * message parsed from text that is already in that form keeps the text
 * instead (see _cdviz_json_parse_compact()): the body is then never
 * written again.
 */
struct _CdvizMessage
{
  GObject parent_instance;

  JsonNode *body;         /* sealed */
  JsonNode *metadata;     /* sealed object */
  GHashTable *headers;    /* lower-case name → value */
  GBytes *body_bytes;     /* compact JSON, set once, atomically */
  gboolean raw;           /* the body is any JSON, not yet a CDEvent */
};

G_DEFINE_FINAL_TYPE (CdvizMessage, cdviz_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BODY,
  PROP_METADATA,
  PROP_HEADERS,
  PROP_RAW,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Most messages keep no header: they share one empty table (never
 * modified) instead of a table each, created and freed per event. */
static GHashTable *
no_headers (void)
{
  static GHashTable *empty;

  if (g_once_init_enter (&empty))
    g_once_init_leave (&empty, g_hash_table_new (g_str_hash, g_str_equal));
  return empty;
}

static JsonNode *
sealed_ref (JsonNode *node)
{
  JsonNode *copy;

  if (json_node_is_immutable (node))
    return json_node_ref (node);

  /* Not json_node_copy(): it shares objects and arrays, and sealing its
   * copy would seal the caller's tree, whose later edits would then show in
   * this "immutable" message and its cached JSON. */
  copy = _cdviz_json_deep_copy (node);
  json_node_seal (copy);
  return copy;
}

static void cdviz_message_constructed (GObject *object);

static void
cdviz_message_finalize (GObject *object)
{
  CdvizMessage *self = CDVIZ_MESSAGE (object);

  g_clear_pointer (&self->body, json_node_unref);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_clear_pointer (&self->headers, g_hash_table_unref);
  g_clear_pointer (&self->body_bytes, g_bytes_unref);

  G_OBJECT_CLASS (cdviz_message_parent_class)->finalize (object);
}

static void
cdviz_message_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  CdvizMessage *self = CDVIZ_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_BODY:
      g_value_set_boxed (value, self->body);
      break;
    case PROP_METADATA:
      g_value_set_boxed (value, self->metadata);
      break;
    case PROP_HEADERS:
      g_value_set_boxed (value, self->headers != NULL ? self->headers : no_headers ());
      break;
    case PROP_RAW:
      g_value_set_boolean (value, self->raw);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_message_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  CdvizMessage *self = CDVIZ_MESSAGE (object);
  JsonNode *node;
  GHashTable *headers;

  switch (prop_id)
    {
    case PROP_BODY:
      node = g_value_get_boxed (value);
      if (node != NULL)
        {
          g_clear_pointer (&self->body, json_node_unref);
          self->body = sealed_ref (node);
        }
      break;
    case PROP_METADATA:
      node = g_value_get_boxed (value);
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        {
          g_clear_pointer (&self->metadata, json_node_unref);
          self->metadata = sealed_ref (node);
        }
      break;
    case PROP_HEADERS:
      headers = g_value_get_boxed (value);
      if (headers != NULL && g_hash_table_size (headers) > 0)
        {
          GHashTableIter iter;
          gpointer k, v;

          self->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          g_hash_table_iter_init (&iter, headers);
          while (g_hash_table_iter_next (&iter, &k, &v))
            g_hash_table_insert (self->headers,
                                 g_ascii_strdown (k, -1),
                                 g_strdup (v));
        }
      break;
    case PROP_RAW:
      self->raw = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_message_class_init (CdvizMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = cdviz_message_constructed;
  object_class->finalize = cdviz_message_finalize;
  object_class->get_property = cdviz_message_get_property;
  object_class->set_property = cdviz_message_set_property;

  /**
   * CdvizMessage:body:
   *
   * The event itself (a CDEvent), sealed.
   */
  properties[PROP_BODY] =
    g_param_spec_boxed ("body", NULL, NULL, JSON_TYPE_NODE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizMessage:metadata:
   *
   * Free-form metadata, a sealed JSON object.
   */
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL, NULL, JSON_TYPE_NODE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizMessage:headers: (type GLib.HashTable(utf8,utf8))
   *
   * The headers kept from the request the event arrived with; names are
   * lower-case.
   */
  properties[PROP_HEADERS] =
    g_param_spec_boxed ("headers", NULL, NULL, G_TYPE_HASH_TABLE,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizMessage:raw:
   *
   * Whether the body is any JSON a source received, not yet a CDEvent: the
   * pipeline runs the source's transformers on it, then turns each output
   * into a CDEvent with [func@cdevent_normalize] and rejects the message
   * when one is not (see [ctor@Message.new_raw]).
   */
  properties[PROP_RAW] =
    g_param_spec_boolean ("raw", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_message_init (CdvizMessage *self)
{
}

static void
cdviz_message_constructed (GObject *object)
{
  CdvizMessage *self = CDVIZ_MESSAGE (object);

  G_OBJECT_CLASS (cdviz_message_parent_class)->constructed (object);

  if (self->body == NULL)
    {
      self->body = json_node_new (JSON_NODE_NULL);
      json_node_seal (self->body);
    }
  if (self->metadata == NULL)
    {
      self->metadata = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (self->metadata, json_object_new ());
      json_node_seal (self->metadata);
    }
}

/**
 * cdviz_message_new:
 * @body: the event; copied and sealed unless it is already sealed
 * @metadata: (nullable): a JSON object of metadata
 * @headers: (nullable) (element-type utf8 utf8): headers to keep; names are
 *   lower-cased
 *
 * Creates a message.
 *
 * Returns: (transfer full): a new #CdvizMessage
 */
CdvizMessage *
cdviz_message_new (JsonNode   *body,
                   JsonNode   *metadata,
                   GHashTable *headers)
{
  CdvizMessage *self;

  g_return_val_if_fail (body != NULL, NULL);
  g_return_val_if_fail (metadata == NULL || JSON_NODE_HOLDS_OBJECT (metadata), NULL);

  self = g_object_new (CDVIZ_TYPE_MESSAGE,
                       "body", body,
                       "metadata", metadata,
                       "headers", headers,
                       NULL);
  return self;
}

/**
 * cdviz_message_new_raw:
 * @body: any JSON value a source received; copied and sealed unless it is
 *   already sealed
 * @metadata: (nullable): a JSON object of metadata
 * @headers: (nullable) (element-type utf8 utf8): headers to keep; names are
 *   lower-cased
 *
 * Creates a message whose body is not (yet) a CDEvent, as cdviz-collector's
 * sources hand over whatever JSON they receive: the source's transformers
 * see it as it came, and the pipeline validates and normalises their
 * outputs as CDEvents (see [property@Message:raw]). A message that does not
 * become a CDEvent is rejected (%CDVIZ_PIPELINE_ERROR_REJECTED).
 *
 * Returns: (transfer full): a new #CdvizMessage
 */
CdvizMessage *
cdviz_message_new_raw (JsonNode   *body,
                       JsonNode   *metadata,
                       GHashTable *headers)
{
  g_return_val_if_fail (body != NULL, NULL);
  g_return_val_if_fail (metadata == NULL || JSON_NODE_HOLDS_OBJECT (metadata), NULL);

  return g_object_new (CDVIZ_TYPE_MESSAGE,
                       "body", body,
                       "metadata", metadata,
                       "headers", headers,
                       "raw", TRUE,
                       NULL);
}

/**
 * cdviz_message_is_raw:
 * @self: a #CdvizMessage
 *
 * Gets [property@Message:raw].
 *
 * Returns: %TRUE if the body is still to be validated as a CDEvent after
 *   the source's transformers
 */
gboolean
cdviz_message_is_raw (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), FALSE);
  return self->raw;
}

/* Parses @data into the body of a new message; when @data is already the
 * compact JSON the message would write, the message keeps a copy of it as
 * its body bytes, and the body is never written again (a compact publisher
 * saves the pipeline thread one serialisation per event). */
static CdvizMessage *
from_data (const char  *data,
           gssize       length,
           gboolean     raw,
           JsonNode    *metadata,
           GHashTable  *headers,
           GError     **error)
{
  g_autoptr(JsonNode) body = NULL;
  gsize size = length < 0 ? strlen (data) : (gsize) length;
  gboolean compact;
  CdvizMessage *self;

  body = _cdviz_json_parse_compact (data, size, &compact, error);
  if (body == NULL)
    return NULL;
  self = raw ? cdviz_message_new_raw (body, metadata, headers)
             : cdviz_message_new (body, metadata, headers);
  if (compact)
    self->body_bytes = g_bytes_new (data, size);
  return self;
}

/**
 * cdviz_message_new_from_data:
 * @data: JSON text
 * @length: length of @data in bytes, or -1 if it is NUL-terminated
 * @error: return location for a #GError
 *
 * Parses @data as the body of a new message without metadata or headers.
 * The text must be exactly one JSON value, valid per RFC 8259, with arrays
 * and objects nested at most 128 levels deep, without NUL bytes or `\u0000`
 * escapes; anything else is refused with a `JSON_PARSER_ERROR` that says why
 * and where.
 *
 * Returns: (transfer full): a new #CdvizMessage, or %NULL on a parse error
 */
CdvizMessage *
cdviz_message_new_from_data (const char  *data,
                             gssize       length,
                             GError     **error)
{
  g_return_val_if_fail (data != NULL, NULL);

  return from_data (data, length, FALSE, NULL, NULL, error);
}

/**
 * cdviz_message_build_metadata:
 * @configured: (nullable): a source's configured `metadata` (a JSON
 *   object; anything else counts as none)
 *
 * A new metadata object for one message, holding @configured's members, to
 * which a source adds its own (`sse_id`, `nats_subject`, a file's `path`…).
 * The object is new each time: a member set on it never reaches
 * @configured nor another message (json_node_copy() alone would share the
 * configured object).
 *
 * Returns: (transfer full): a new #JsonObject
 */
JsonObject *
cdviz_message_build_metadata (JsonNode *configured)
{
  JsonObject *object = json_object_new ();

  if (configured != NULL && JSON_NODE_HOLDS_OBJECT (configured))
    {
      JsonObjectIter iter;
      const char *key;
      JsonNode *value;

      json_object_iter_init (&iter, json_node_get_object (configured));
      while (json_object_iter_next (&iter, &key, &value))
        json_object_set_member (object, key, json_node_copy (value));
    }
  return object;
}

/**
 * cdviz_message_new_raw_from_data:
 * @data: JSON text, as a source received it
 * @length: length of @data in bytes, or -1 if it is NUL-terminated
 * @metadata: (nullable): a JSON object of metadata
 * @headers: (nullable) (element-type utf8 utf8): headers to keep; names are
 *   lower-cased
 * @error: return location for a #GError
 *
 * Parses @data, with the checks of [ctor@Message.new_from_data], into the
 * body of a new raw message (see [ctor@Message.new_raw]): what a source
 * that receives any JSON does with each body, in one step. The tree parsed
 * here is the one the pipeline thread works on: it is not parsed nor copied
 * again unless the CDEvent needs a field filled in.
 *
 * Returns: (transfer full): a new raw #CdvizMessage, or %NULL on a parse
 *   error
 */
CdvizMessage *
cdviz_message_new_raw_from_data (const char  *data,
                                 gssize       length,
                                 JsonNode    *metadata,
                                 GHashTable  *headers,
                                 GError     **error)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (metadata == NULL || JSON_NODE_HOLDS_OBJECT (metadata), NULL);

  return from_data (data, length, TRUE, metadata, headers, error);
}

/**
 * cdviz_message_get_body:
 * @self: a #CdvizMessage
 *
 * Gets the event, a sealed [struct@Json.Node] that must not be modified.
 *
 * Returns: (transfer none): the sealed body
 */
JsonNode *
cdviz_message_get_body (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  return self->body;
}

/**
 * cdviz_message_get_metadata:
 * @self: a #CdvizMessage
 *
 * Gets the metadata, a sealed JSON object that must not be modified.
 *
 * Returns: (transfer none): the sealed metadata object
 */
JsonNode *
cdviz_message_get_metadata (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  return self->metadata;
}

/**
 * cdviz_message_get_headers:
 * @self: a #CdvizMessage
 *
 * Gets the headers kept from the request the event arrived with.
 *
 * Returns: (transfer none) (element-type utf8 utf8): the headers, lower-case
 *   name to value; do not modify
 */
GHashTable *
cdviz_message_get_headers (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  return self->headers != NULL ? self->headers : no_headers ();
}

/**
 * cdviz_message_get_header:
 * @self: a #CdvizMessage
 * @name: a header name, in any case
 *
 * Gets the value of one of the headers kept with the message.
 *
 * Returns: (nullable): the value of the header @name
 */
const char *
cdviz_message_get_header (CdvizMessage *self,
                          const char   *name)
{
  g_autofree char *lower = NULL;

  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (self->headers == NULL)
    return NULL;
  lower = g_ascii_strdown (name, -1);
  return g_hash_table_lookup (self->headers, lower);
}

static const char *
context_string (CdvizMessage *self,
                const char   *member)
{
  JsonObject *root, *context;
  JsonNode *node;

  if (!JSON_NODE_HOLDS_OBJECT (self->body))
    return NULL;
  root = json_node_get_object (self->body);
  node = json_object_get_member (root, "context");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  context = json_node_get_object (node);
  node = json_object_get_member (context, member);
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/**
 * cdviz_message_get_id:
 * @self: a #CdvizMessage
 *
 * Gets the CDEvent id.
 *
 * Returns: (nullable): the CDEvent's `context.id`
 */
const char *
cdviz_message_get_id (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  return context_string (self, "id");
}

/**
 * cdviz_message_get_event_type:
 * @self: a #CdvizMessage
 *
 * Gets the CDEvent type, e.g. `dev.cdevents.build.started.0.1.1`.
 *
 * Returns: (nullable): the CDEvent's `context.type`
 */
const char *
cdviz_message_get_event_type (CdvizMessage *self)
{
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);
  return context_string (self, "type");
}

/**
 * cdviz_message_get_body_bytes:
 * @self: a #CdvizMessage
 *
 * Gets the compact JSON serialisation of the body (no trailing newline). It
 * is computed on the first call and shared afterwards; this function is
 * thread-safe.
 *
 * Returns: (transfer none): the serialised body
 */
GBytes *
cdviz_message_get_body_bytes (CdvizMessage *self)
{
  GBytes *bytes;
  GString *text;
  gsize length;

  g_return_val_if_fail (CDVIZ_IS_MESSAGE (self), NULL);

  bytes = g_atomic_pointer_get (&self->body_bytes);
  if (bytes != NULL)
    return bytes;

  text = g_string_new (NULL);
  _cdviz_json_append (text, self->body, FALSE, NULL);
  length = text->len;
  bytes = g_bytes_new_take (g_string_free (text, FALSE), length);
  if (!g_atomic_pointer_compare_and_exchange (&self->body_bytes, NULL, bytes))
    {
      g_bytes_unref (bytes);
      bytes = g_atomic_pointer_get (&self->body_bytes);
    }
  return bytes;
}

/*
 * _cdviz_message_share_body_bytes:
 * @self: a message just created, not yet shared with another thread
 * @from: a message whose body is the same sealed node
 *
 * Gives @self the body bytes @from already has (written or kept from the
 * text it was parsed from), so that they are not written again: what
 * normalising a complete CDEvent does, which shares the body. Does nothing
 * when the bodies differ or @from has none yet.
 */
void
_cdviz_message_share_body_bytes (CdvizMessage *self,
                                 CdvizMessage *from)
{
  GBytes *bytes;

  g_return_if_fail (CDVIZ_IS_MESSAGE (self));
  g_return_if_fail (CDVIZ_IS_MESSAGE (from));

  bytes = g_atomic_pointer_get (&from->body_bytes);
  if (bytes == NULL || self->body != from->body || self->body_bytes != NULL)
    return;
  self->body_bytes = g_bytes_ref (bytes);
}

gsize
_cdviz_message_peek_body_size (CdvizMessage *self)
{
  GBytes *bytes = g_atomic_pointer_get (&self->body_bytes);

  return bytes != NULL ? g_bytes_get_size (bytes) : 0;
}
