/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-builtins-private.h"

/* `type = "deduplicate"`: drops a message whose key (by default
 * `context.id`) was seen among the last `capacity` distinct keys. A message
 * without the key passes. Memory is bounded by `capacity`. */

struct _CdvizDeduplicateTransformer
{
  GObject parent_instance;

  guint capacity;
  char *key_path;
  char **segments;

  GHashTable *seen;   /* key → GList link in order */
  GQueue order;       /* oldest first; data owned by seen */
  gsize dropped;
};

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_KEY_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void transformer_iface_init (CdvizTransformerInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizDeduplicateTransformer, cdviz_deduplicate_transformer,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER,
                                                      transformer_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

/* A segment naming an array element: a decimal index without leading
 * zeros (RFC 6901). */
static gboolean
array_index (const char *segment,
             guint      *index)
{
  guint64 value;

  if (!g_ascii_isdigit (segment[0]) || (segment[0] == '0' && segment[1] != '\0'))
    return FALSE;
  if (!g_ascii_string_to_unsigned (segment, 10, 0, G_MAXUINT, &value, NULL))
    return FALSE;
  *index = (guint) value;
  return TRUE;
}

static char *
extract_key (CdvizDeduplicateTransformer *self,
             JsonNode                    *node)
{
  for (guint i = 0; self->segments[i] != NULL && node != NULL; i++)
    {
      guint index;

      if (JSON_NODE_HOLDS_OBJECT (node))
        node = json_object_get_member (json_node_get_object (node), self->segments[i]);
      else if (JSON_NODE_HOLDS_ARRAY (node) && array_index (self->segments[i], &index) &&
               index < json_array_get_length (json_node_get_array (node)))
        node = json_array_get_element (json_node_get_array (node), index);
      else
        node = NULL;
    }
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  return json_to_string (node, FALSE);
}

/* "/context/id" (a JSON pointer, RFC 6901, as cdviz-collector writes it)
 * or "context.id" (a dotted path). */
static char **
split_key_path (const char *path)
{
  char **segments;

  if (path[0] != '/')
    return g_strsplit (path, ".", -1);

  segments = g_strsplit (path + 1, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    {
      GString *unescaped = g_string_new (NULL);

      for (const char *c = segments[i]; *c != '\0'; c++)
        {
          if (*c != '~')
            {
              g_string_append_c (unescaped, *c);
              continue;
            }
          if (c[1] != '0' && c[1] != '1')
            {
              /* an invalid escape: refused by the caller */
              g_string_free (unescaped, TRUE);
              g_strfreev (segments);
              return NULL;
            }
          g_string_append_c (unescaped, c[1] == '1' ? '/' : '~');
          c++;
        }
      g_free (segments[i]);
      segments[i] = g_string_free (unescaped, FALSE);
    }
  return segments;
}

static GPtrArray *
deduplicate_transform (CdvizTransformer  *transformer,
                       CdvizMessage      *message,
                       GError           **error)
{
  CdvizDeduplicateTransformer *self = CDVIZ_DEDUPLICATE_TRANSFORMER (transformer);
  GPtrArray *out = g_ptr_array_new_full (1, g_object_unref);
  char *key = extract_key (self, cdviz_message_get_body (message));

  if (key == NULL)
    {
      g_ptr_array_add (out, g_object_ref (message));
      return out;
    }

  if (g_hash_table_contains (self->seen, key))
    {
      self->dropped++;
      g_debug ("deduplicate: dropping a repeated event (%s = %s)", self->key_path, key);
      g_free (key);
      return out;
    }

  if (self->order.length >= self->capacity)
    {
      char *oldest = g_queue_pop_head (&self->order);
      g_hash_table_remove (self->seen, oldest);
    }
  g_queue_push_tail (&self->order, key);
  g_hash_table_add (self->seen, key);

  g_ptr_array_add (out, g_object_ref (message));
  return out;
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = deduplicate_transform;
}

static gboolean
deduplicate_initable_init (GInitable     *initable,
                           GCancellable  *cancellable,
                           GError       **error)
{
  CdvizDeduplicateTransformer *self = CDVIZ_DEDUPLICATE_TRANSFORMER (initable);

  g_strfreev (self->segments);
  self->segments = split_key_path (self->key_path);
  for (guint i = 0; self->segments != NULL && self->segments[i] != NULL; i++)
    if (*self->segments[i] == '\0' && self->key_path[0] != '/')
      g_clear_pointer (&self->segments, g_strfreev);
  if (self->segments == NULL || self->segments[0] == NULL)
    {
      g_clear_pointer (&self->segments, g_strfreev);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key “key_path”: “%s” is neither a JSON pointer such as “/context/id” "
                     "nor a dotted path such as “context.id”"),
                   self->key_path);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = deduplicate_initable_init;
}

static void
cdviz_deduplicate_transformer_finalize (GObject *object)
{
  CdvizDeduplicateTransformer *self = CDVIZ_DEDUPLICATE_TRANSFORMER (object);

  g_queue_clear (&self->order);
  g_clear_pointer (&self->seen, g_hash_table_unref);
  g_strfreev (self->segments);
  g_free (self->key_path);

  G_OBJECT_CLASS (cdviz_deduplicate_transformer_parent_class)->finalize (object);
}

static void
cdviz_deduplicate_transformer_get_property (GObject    *object,
                                            guint       prop_id,
                                            GValue     *value,
                                            GParamSpec *pspec)
{
  CdvizDeduplicateTransformer *self = CDVIZ_DEDUPLICATE_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    case PROP_KEY_PATH:
      g_value_set_string (value, self->key_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_deduplicate_transformer_set_property (GObject      *object,
                                            guint         prop_id,
                                            const GValue *value,
                                            GParamSpec   *pspec)
{
  CdvizDeduplicateTransformer *self = CDVIZ_DEDUPLICATE_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      self->capacity = g_value_get_uint (value);
      break;
    case PROP_KEY_PATH:
      g_free (self->key_path);
      self->key_path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_deduplicate_transformer_class_init (CdvizDeduplicateTransformerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_deduplicate_transformer_finalize;
  object_class->get_property = cdviz_deduplicate_transformer_get_property;
  object_class->set_property = cdviz_deduplicate_transformer_set_property;

  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, "How many distinct keys are remembered",
                       1, 10000000, 1000,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_KEY_PATH] =
    g_param_spec_string ("key-path", NULL, "Where the key is in the event: a JSON pointer (\"/context/id\", as cdviz-collector writes it) or a dotted path (\"context.id\")",
                         "context.id",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_deduplicate_transformer_init (CdvizDeduplicateTransformer *self)
{
  self->capacity = 1000;
  self->key_path = g_strdup ("context.id");
  self->segments = g_strsplit (self->key_path, ".", -1);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->order);
}
