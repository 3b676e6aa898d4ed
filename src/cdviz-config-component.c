/* SPDX-License-Identifier: Apache-2.0 */
/* From a configuration table to a component: `type` names the registered
 * GType, every other key sets the property of the same name (`_` for `-`),
 * converted from JSON by json_to_value() with errors at the key's FILE:LINE. */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "cdviz-config.h"
#include "cdviz-config-private.h"

static gboolean
json_to_value (CdvizConfig  *self,
               const char   *path,
               const char   *key,
               JsonNode     *node,
               GParamSpec   *pspec,
               GValue       *value,
               GError      **error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  GType fundamental = G_TYPE_FUNDAMENTAL (type);
  GType value_type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

  g_value_init (value, type);

  if (type == JSON_TYPE_NODE)
    {
      g_autoptr(JsonNode) copy = json_node_copy (node);
      json_node_seal (copy);
      g_value_set_boxed (value, copy);
      return TRUE;
    }

  if (type == G_TYPE_STRV)
    {
      g_autoptr(GStrvBuilder) builder = NULL;
      JsonArray *array;
      char **strv;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return _cdviz_config_type_error (self, path, key, _("an array of strings"), node, error);
      array = json_node_get_array (node);
      builder = g_strv_builder_new ();
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          if (json_node_get_value_type (element) != G_TYPE_STRING)
            return _cdviz_config_type_error (self, path, key, _("an array of strings"), node, error);
          g_strv_builder_add (builder, json_node_get_string (element));
        }
      strv = g_strv_builder_end (builder);
      g_value_take_boxed (value, strv);
      return TRUE;
    }

  if (_cdviz_param_spec_is_duration (pspec))
    {
      GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
      guint64 ms;

      if (!_cdviz_config_node_get_duration (self, path, key, node, spec->minimum, spec->maximum, &ms, error))
        return FALSE;
      g_value_set_uint64 (value, ms);
      return TRUE;
    }

  switch (fundamental)
    {
    case G_TYPE_BOOLEAN:
      if (value_type != G_TYPE_BOOLEAN)
        return _cdviz_config_type_error (self, path, key, _("a boolean"), node, error);
      g_value_set_boolean (value, json_node_get_boolean (node));
      return TRUE;

    case G_TYPE_STRING:
      if (value_type != G_TYPE_STRING)
        return _cdviz_config_type_error (self, path, key, _("a string"), node, error);
      g_value_set_string (value, json_node_get_string (node));
      return TRUE;

    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
      if (value_type == G_TYPE_DOUBLE || value_type == G_TYPE_INT64)
        {
          GValue tmp = G_VALUE_INIT;
          g_value_init (&tmp, G_TYPE_DOUBLE);
          g_value_set_double (&tmp, json_node_get_double (node));
          g_value_transform (&tmp, value);
          if (g_param_value_validate (pspec, value))
            break;
          return TRUE;
        }
      return _cdviz_config_type_error (self, path, key, _("a number"), node, error);

    case G_TYPE_INT:
    case G_TYPE_UINT:
    case G_TYPE_LONG:
    case G_TYPE_ULONG:
    case G_TYPE_INT64:
    case G_TYPE_UINT64:
      {
        GValue tmp = G_VALUE_INIT;
        gint64 v;

        if (value_type != G_TYPE_INT64)
          return _cdviz_config_type_error (self, path, key, _("an integer"), node, error);
        v = json_node_get_int (node);
        if (v < 0 && (fundamental == G_TYPE_UINT || fundamental == G_TYPE_ULONG ||
                      fundamental == G_TYPE_UINT64))
          break;
        g_value_init (&tmp, G_TYPE_INT64);
        g_value_set_int64 (&tmp, v);
        g_value_transform (&tmp, value);
        /* Transformation truncates; validation clamps and reports. */
        if (g_param_value_validate (pspec, value))
          break;
        if (fundamental == G_TYPE_INT && (gint64) g_value_get_int (value) != v)
          break;
        if (fundamental == G_TYPE_UINT && (gint64) g_value_get_uint (value) != v)
          break;
        return TRUE;
      }

    case G_TYPE_ENUM:
      {
        g_autoptr(GEnumClass) klass = g_type_class_ref (type);
        GEnumValue *ev;

        if (value_type != G_TYPE_STRING)
          return _cdviz_config_type_error (self, path, key, _("a string"), node, error);
        ev = g_enum_get_value_by_nick (klass, json_node_get_string (node));
        if (ev == NULL)
          {
            g_autofree char *full = _cdviz_config_join (path, key);
            g_autofree char *where = _cdviz_config_describe (self, full);
            GString *names = g_string_new (NULL);

            for (guint i = 0; i < klass->n_values; i++)
              g_string_append_printf (names, "%s“%s”", i ? ", " : "",
                                      klass->values[i].value_nick);
            g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                         _("%s: key “%s”: unknown value “%s” (expected one of %s)"),
                         where, full, json_node_get_string (node), names->str);
            g_string_free (names, TRUE);
            return FALSE;
          }
        g_value_set_enum (value, ev->value);
        return TRUE;
      }

    default:
      {
        g_autofree char *full = _cdviz_config_join (path, key);
        g_autofree char *where = _cdviz_config_describe (self, full);
        g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                     _("%s: key “%s” cannot be set from a configuration file"),
                     where, full);
        return FALSE;
      }
    }

  {
    g_autofree char *full = _cdviz_config_join (path, key);
    g_autofree char *where = _cdviz_config_describe (self, full);
    g_autofree char *shown = json_to_string (node, FALSE);
    g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                 _("%s: key “%s”: %s is out of range"), where, full, shown);
    return FALSE;
  }
}

static char *
settable_keys (GType type)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (type);
  g_autofree GParamSpec **pspecs = NULL;
  GString *out = g_string_new (NULL);
  guint n;

  pspecs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = NULL;

      if (!(pspecs[i]->flags & G_PARAM_WRITABLE) || pspecs[i]->owner_type == G_TYPE_OBJECT)
        continue;
      key = g_strdelimit (g_strdup (pspecs[i]->name), "-", '_');
      g_string_append_printf (out, "%s%s", out->len ? ", " : "", key);
    }
  return g_string_free (out, FALSE);
}

/* cdviz-collector's component types (src/sources/extractors.rs,
 * src/sinks/mod.rs, src/transformers/mod.rs) and the plugin of this project
 * that provides each, or would: a configuration naming one this build lacks
 * gets an error saying which plugin, not a bare “unknown type”. */
static const struct {
  CdvizComponentKind kind;
  const char *type;
  const char *plugin;
} upstream_types[] = {
  { CDVIZ_COMPONENT_SOURCE, "webhook", "webhook" },
  { CDVIZ_COMPONENT_SOURCE, "sse", "collector" },
  { CDVIZ_COMPONENT_SOURCE, "nats", "nats" },
  { CDVIZ_COMPONENT_SOURCE, "kafka", "kafka" },
  { CDVIZ_COMPONENT_SOURCE, "opendal", "opendal" },
  { CDVIZ_COMPONENT_SOURCE, "http_polling", "collector" },
  { CDVIZ_COMPONENT_SOURCE, "cli", "opendal" },
  { CDVIZ_COMPONENT_SOURCE, "subprocess", "opendal" },
  { CDVIZ_COMPONENT_TRANSFORMER, "vrl", "vrl" },
  { CDVIZ_COMPONENT_SINK, "sse", "sse" },
  { CDVIZ_COMPONENT_SINK, "db", "db" },
  { CDVIZ_COMPONENT_SINK, "http", "collector" },
  { CDVIZ_COMPONENT_SINK, "folder", "collector" },
  { CDVIZ_COMPONENT_SINK, "nats", "nats" },
  { CDVIZ_COMPONENT_SINK, "kafka", "kafka" },
  { CDVIZ_COMPONENT_SINK, "clickhouse", "clickhouse" },
};

static const char *
upstream_type_plugin (CdvizComponentKind  kind,
                      const char         *type_name)
{
  for (guint i = 0; i < G_N_ELEMENTS (upstream_types); i++)
    if (upstream_types[i].kind == kind && g_str_equal (upstream_types[i].type, type_name))
      return upstream_types[i].plugin;
  return NULL;
}

GObject *
_cdviz_config_create_component (CdvizConfig        *self,
                                CdvizRegistry      *registry,
                                CdvizComponentKind  kind,
                                const char         *path,
                                JsonObject         *table,
                                const char * const *skip_keys,
                                GError            **error)
{
  g_autoptr(GTypeClass) klass = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_autoptr(GList) members = NULL;
  g_autoptr(GObject) object = NULL;
  const char *type_name;
  GType type;

  g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);

  if (!_cdviz_config_get_string (self, path, table, "type", TRUE, &type_name, error))
    return NULL;

  type = cdviz_registry_lookup (registry, kind, type_name);
  if (type == G_TYPE_INVALID)
    {
      g_autofree char *full = _cdviz_config_join (path, "type");
      g_autofree char *where = _cdviz_config_describe (self, full);
      g_auto(GStrv) known = cdviz_registry_list_types (registry, kind);
      g_auto(GStrv) dirs = cdviz_registry_get_searched_dirs (registry);
      g_autofree char *known_list = g_strjoinv (", ", known);
      g_autofree char *dir_list = g_strjoinv (", ", dirs);
      const char *plugin = upstream_type_plugin (kind, type_name);

      if (plugin != NULL)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE,
                       _("%s: %s: type “%s” needs the %s plugin, which this build does not "
                         "have (plugin directories searched: %s); see doc/migrating.md"),
                       where, path, type_name, plugin, *dir_list ? dir_list : _("none"));
          return NULL;
        }
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE,
                   _("%s: key “%s”: unknown %s type “%s” (known: %s; plugin "
                     "directories searched: %s)"),
                   where, full, cdviz_component_kind_to_string (kind), type_name,
                   known_list, *dir_list ? dir_list : _("none"));
      return NULL;
    }

  klass = g_type_class_ref (type);
  members = json_object_get_members (table);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      g_autofree char *prop = NULL;
      GParamSpec *pspec;
      GValue value = G_VALUE_INIT;

      if (g_str_equal (key, "type") || (skip_keys && g_strv_contains (skip_keys, key)))
        continue;

      prop = g_strdelimit (g_strdup (key), "_", '-');
      pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), prop);
      if (pspec == NULL || !(pspec->flags & G_PARAM_WRITABLE) ||
          pspec->owner_type == G_TYPE_OBJECT || strchr (key, '-') != NULL)
        {
          g_autofree char *full = _cdviz_config_join (path, key);
          g_autofree char *where = _cdviz_config_describe (self, full);
          g_autofree char *keys = settable_keys (type);

          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
                       _("%s: unknown key “%s” for %s type “%s” (known keys: %s)"),
                       where, full, cdviz_component_kind_to_string (kind), type_name,
                       *keys ? keys : _("none"));
          return NULL;
        }

      if (!json_to_value (self, path, key, json_object_get_member (table, key),
                          pspec, &value, error))
        {
          g_value_unset (&value);
          return NULL;
        }
      g_ptr_array_add (names, g_strdup (pspec->name));
      g_array_append_val (values, value);
    }

  object = g_object_new_with_properties (type, names->len,
                                         (const char **) names->pdata,
                                         (const GValue *) values->data);

  /* Where each key was set ("FILE:LINE", see _cdviz_config_describe()), for
   * a component whose errors point inside a value (a VRL program's
   * line:column): object data "cdviz-config-where:KEY". */
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autofree char *full = _cdviz_config_join (path, l->data);
      g_autofree char *data_key = g_strconcat ("cdviz-config-where:", l->data, NULL);

      g_object_set_data_full (object, data_key, _cdviz_config_describe (self, full), g_free);
    }

  if (G_IS_INITABLE (object) &&
      !g_initable_init (G_INITABLE (object), NULL, error))
    {
      _cdviz_config_prefix_error (self, path, error);
      if (error != NULL && *error != NULL && (*error)->domain != CDVIZ_CONFIG_ERROR)
        {
          GError *e = *error;
          *error = g_error_new_literal (CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                                        e->message);
          g_error_free (e);
        }
      return NULL;
    }

  return g_steal_pointer (&object);
}
