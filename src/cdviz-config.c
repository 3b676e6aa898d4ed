/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "cdviz-config.h"
#include "cdviz-config-private.h"
#include "cdviz-toml-private.h"

/**
 * CdvizConfig:
 *
 * The merged configuration of a pipeline, in the layout of
 * `cdviz-collector.toml`: `[http]`, `[pipeline]`, `[sources.NAME]`,
 * `[transformers.NAME]`, `[sinks.NAME]`.
 *
 * Layers are applied lowest first: the built-in base (always; it holds the
 * defaults and disabled example components), then a file
 * ([method@Config.add_file]) or the built-in quick-start config
 * ([method@Config.add_default]), then environment variables
 * `CDVIZ_COLLECTOR__SECTION__KEY=value` ([method@Config.add_environment]),
 * then fragments given with `--set` ([method@Config.add_string]). Tables
 * merge key by key; any other value replaces the one below.
 *
 * A string key whose name ends in `_file` is replaced, once all layers are
 * merged, by the key without the suffix holding the file's content (one
 * trailing newline removed); a relative path is relative to the directory of
 * the file that set the key. Use it for secrets.
 *
 * Every key remembers where it was set, so that errors say `FILE:LINE`.
 */

#define BASE_RESOURCE "/org/cdviz/pipeline/base.toml"
#define DEFAULT_RESOURCE "/org/cdviz/pipeline/default.toml"
#define DURATION_QUARK_NAME "cdviz-duration"

typedef struct {
  char *origin;      /* file path, "<built-in>", "--set", "environment variable X" */
  guint line;        /* 0: unknown */
  gboolean is_file;
} Location;

struct _CdvizConfig
{
  GObject parent_instance;

  JsonNode *root;          /* object, mutable until the pipeline reads it */
  GHashTable *locations;   /* path → Location */
  gboolean files_resolved;
};

G_DEFINE_FINAL_TYPE (CdvizConfig, cdviz_config, G_TYPE_OBJECT)
/**
 * cdviz_config_error_quark:
 *
 * The error domain of [enum@ConfigError], also available as
 * %CDVIZ_CONFIG_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-config-error-quark, cdviz_config_error)

static void
location_free (gpointer data)
{
  Location *location = data;

  g_free (location->origin);
  g_free (location);
}

static void
cdviz_config_finalize (GObject *object)
{
  CdvizConfig *self = CDVIZ_CONFIG (object);

  g_clear_pointer (&self->root, json_node_unref);
  g_clear_pointer (&self->locations, g_hash_table_unref);

  G_OBJECT_CLASS (cdviz_config_parent_class)->finalize (object);
}

static void
cdviz_config_class_init (CdvizConfigClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_config_finalize;
}

static gboolean add_resource (CdvizConfig *self, const char *resource, GError **error);

static void
cdviz_config_init (CdvizConfig *self)
{
  g_autoptr(GError) error = NULL;

  self->root = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (self->root, json_object_new ());
  self->locations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, location_free);

  if (!add_resource (self, BASE_RESOURCE, &error))
    g_error ("The built-in base configuration is broken: %s", error->message);
}

/**
 * cdviz_config_new:
 *
 * Creates a configuration holding the built-in base layer.
 *
 * Returns: (transfer full): a new configuration
 */
CdvizConfig *
cdviz_config_new (void)
{
  return g_object_new (CDVIZ_TYPE_CONFIG, NULL);
}

static gboolean
is_bare_key (const char *key)
{
  if (*key == '\0')
    return FALSE;
  for (const char *p = key; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static void
append_quoted (GString    *out,
               const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      guchar c = *p;

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04X", c);
          else
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

/**
 * cdviz_config_path_append:
 * @path: a path being built
 * @key: one key
 *
 * Appends @key to a dotted key path the way TOML writes it: a `.` before all
 * but the first key, and the key quoted unless it is a bare key.
 */
void
cdviz_config_path_append (GString    *path,
                          const char *key)
{
  if (path->len > 0)
    g_string_append_c (path, '.');
  if (is_bare_key (key))
    g_string_append (path, key);
  else
    append_quoted (path, key);
}

char *
_cdviz_config_join (const char *path,
                    const char *key)
{
  GString *out = g_string_new (path);

  cdviz_config_path_append (out, key);
  return g_string_free (out, FALSE);
}

static const Location *
find_location (CdvizConfig *self,
               const char  *path)
{
  g_autofree char *copy = g_strdup (path);

  /* Walk up until some ancestor has a location. */
  for (;;)
    {
      const Location *location = g_hash_table_lookup (self->locations, copy);
      char *dot;

      if (location != NULL)
        return location;
      dot = strrchr (copy, '.');
      if (dot == NULL)
        return NULL;
      *dot = '\0';
    }
}

char *
_cdviz_config_describe (CdvizConfig *self,
                        const char  *path)
{
  const Location *location = find_location (self, path);

  if (location == NULL)
    return g_strdup ("<built-in>");
  if (location->line == 0)
    return g_strdup (location->origin);
  return g_strdup_printf ("%s:%u", location->origin, location->line);
}

/**
 * cdviz_config_get_location:
 * @self: a #CdvizConfig
 * @path: a dotted key path, e.g. `sinks.dashboard.id`
 *
 * Tells where a key was set, for error messages.
 *
 * Returns: (transfer full): where @path (or its nearest ancestor) was set,
 *   as `FILE:LINE`
 */
char *
cdviz_config_get_location (CdvizConfig *self,
                           const char  *path)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  return _cdviz_config_describe (self, path);
}

void
_cdviz_config_prefix_error (CdvizConfig  *self,
                            const char   *path,
                            GError      **error)
{
  g_autofree char *where = NULL;

  if (error == NULL || *error == NULL)
    return;
  where = _cdviz_config_describe (self, path);
  g_prefix_error (error, "%s: ", where);
}

static void
record_locations (CdvizConfig *self,
                  GHashTable  *lines,
                  const char  *origin,
                  gboolean     is_file,
                  const char  *prefix)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, lines);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Location *location = g_new0 (Location, 1);
      char *path = prefix ? _cdviz_config_join (prefix, key) : g_strdup (key);

      location->origin = g_strdup (origin);
      location->line = GPOINTER_TO_UINT (value);
      location->is_file = is_file;
      g_hash_table_replace (self->locations, path, location);
    }
}

static void
merge_object (JsonObject *into,
              JsonObject *from)
{
  g_autoptr(GList) members = json_object_get_members (from);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (from, name);
      JsonNode *existing = json_object_get_member (into, name);

      if (existing != NULL && JSON_NODE_HOLDS_OBJECT (existing) &&
          JSON_NODE_HOLDS_OBJECT (value))
        merge_object (json_node_get_object (existing), json_node_get_object (value));
      else
        json_object_set_member (into, name, json_node_copy (value));
    }
}

static gboolean
add_layer (CdvizConfig  *self,
           const char   *data,
           gsize         length,
           const char   *origin,
           gboolean      is_file,
           GError      **error)
{
  g_autoptr(GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(JsonNode) layer = NULL;

  layer = cdviz_toml_parse (data, length, origin, CDVIZ_TOML_PLAIN, lines, error);
  if (layer == NULL)
    return FALSE;

  merge_object (json_node_get_object (self->root), json_node_get_object (layer));
  record_locations (self, lines, origin, is_file, NULL);
  self->files_resolved = FALSE;
  return TRUE;
}

static gboolean
add_resource (CdvizConfig  *self,
              const char   *resource,
              GError      **error)
{
  g_autoptr(GBytes) bytes = g_resources_lookup_data (resource, 0, error);
  gsize length;
  const char *data;

  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &length);
  return add_layer (self, data, length, "<built-in>", FALSE, error);
}

/**
 * cdviz_config_add_file:
 * @self: a #CdvizConfig
 * @path: a TOML file
 * @error: return location for a #GError
 *
 * Merges the file @path over the current configuration.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_config_add_file (CdvizConfig  *self,
                       const char   *path,
                       GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                   _("Cannot read configuration file: %s"), local_error->message);
      return FALSE;
    }
  return add_layer (self, data, length, path, TRUE, error);
}

/**
 * cdviz_config_add_string:
 * @self: a #CdvizConfig
 * @toml: a TOML document or fragment, e.g. `http.port = 9000`
 * @origin: (nullable): the name used in errors (default `--set`)
 * @error: return location for a #GError
 *
 * Merges @toml over the current configuration.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_config_add_string (CdvizConfig  *self,
                         const char   *toml,
                         const char   *origin,
                         GError      **error)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (toml != NULL, FALSE);

  return add_layer (self, toml, strlen (toml), origin ? origin : "--set", FALSE, error);
}

/**
 * cdviz_config_add_default:
 * @self: a #CdvizConfig
 * @error: return location for a #GError
 *
 * Merges the built-in quick-start configuration: a webhook source at
 * `/webhook/events` feeding an SSE sink at `/sse/events`, on
 * 127.0.0.1:8080. Used when no configuration file is given.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_config_add_default (CdvizConfig  *self,
                          GError      **error)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);
  return add_resource (self, DEFAULT_RESOURCE, error);
}

static JsonNode *
parse_env_value (const char *value)
{
  g_autofree char *doc = g_strdup_printf ("v = %s", value);
  g_autoptr(JsonNode) parsed = NULL;

  parsed = cdviz_toml_parse (doc, strlen (doc), "env", CDVIZ_TOML_PLAIN, NULL, NULL);
  if (parsed != NULL)
    {
      JsonNode *v = json_object_get_member (json_node_get_object (parsed), "v");
      if (v != NULL)
        return json_node_copy (v);
    }
  return json_node_init_string (json_node_alloc (), value);
}

/**
 * cdviz_config_add_environment:
 * @self: a #CdvizConfig
 * @envp: (nullable) (array zero-terminated=1): an environment, or %NULL for
 *   the process's
 * @error: return location for a #GError
 *
 * Merges the variables named `CDVIZ_COLLECTOR__A__B__C=value`, setting the
 * key `a.b.c` (lower-cased). The value is read as a TOML value when it is
 * one (`9000`, `true`, `["a"]`) and as a string otherwise.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_config_add_environment (CdvizConfig  *self,
                              char        **envp,
                              GError      **error)
{
  g_auto(GStrv) own_env = NULL;
  const char *prefix = "CDVIZ_COLLECTOR__";

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);

  if (envp == NULL)
    envp = own_env = g_get_environ ();

  for (guint i = 0; envp[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_auto(GStrv) parts = NULL;
      const char *eq;
      JsonObject *table;
      GString *path;
      Location *location;
      guint n;

      if (!g_str_has_prefix (envp[i], prefix))
        continue;
      eq = strchr (envp[i], '=');
      if (eq == NULL)
        continue;
      name = g_strndup (envp[i], eq - envp[i]);
      parts = g_strsplit (name + strlen (prefix), "__", -1);
      n = g_strv_length (parts);
      if (n == 0 || *parts[n - 1] == '\0')
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("environment variable %s: no key after the prefix"), name);
          return FALSE;
        }

      table = json_node_get_object (self->root);
      path = g_string_new (NULL);
      for (guint j = 0; j < n; j++)
        {
          g_autofree char *key = g_ascii_strdown (parts[j], -1);

          cdviz_config_path_append (path, key);
          if (j + 1 == n)
            {
              json_object_set_member (table, key, parse_env_value (eq + 1));
              break;
            }
          if (!json_object_has_member (table, key) ||
              !JSON_NODE_HOLDS_OBJECT (json_object_get_member (table, key)))
            json_object_set_object_member (table, key, json_object_new ());
          table = json_object_get_object_member (table, key);
        }

      location = g_new0 (Location, 1);
      location->origin = g_strdup_printf (_("environment variable %s"), name);
      g_hash_table_replace (self->locations, g_string_free (path, FALSE), location);
    }

  self->files_resolved = FALSE;
  return TRUE;
}

static gboolean
resolve_file_keys (CdvizConfig  *self,
                   JsonObject   *table,
                   const char   *path,
                   GError      **error)
{
  g_autoptr(GList) members = json_object_get_members (table);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (table, name);
      g_autofree char *child = path ? _cdviz_config_join (path, name)
                                    : g_strdup (name);

      if (JSON_NODE_HOLDS_OBJECT (value))
        {
          if (!resolve_file_keys (self, json_node_get_object (value), child, error))
            return FALSE;
        }
      else if (g_str_has_suffix (name, "_file") && strlen (name) > 5 &&
               json_node_get_value_type (value) == G_TYPE_STRING)
        {
          g_autofree char *target = g_strndup (name, strlen (name) - 5);
          g_autofree char *target_path = path ? _cdviz_config_join (path, target)
                                              : g_strdup (target);
          const Location *location = find_location (self, child);
          const char *file = json_node_get_string (value);
          g_autofree char *resolved = NULL;
          g_autofree char *contents = NULL;
          g_autoptr(GError) local_error = NULL;
          gsize length;

          if (!g_path_is_absolute (file) && location != NULL && location->is_file)
            {
              g_autofree char *dir = g_path_get_dirname (location->origin);
              resolved = g_build_filename (dir, file, NULL);
            }
          else
            resolved = g_strdup (file);

          if (!g_file_get_contents (resolved, &contents, &length, &local_error))
            {
              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                           _("%s: cannot read the file: %s"), child, local_error->message);
              _cdviz_config_prefix_error (self, child, error);
              return FALSE;
            }
          if (length > 0 && contents[length - 1] == '\n')
            contents[--length] = '\0';
          if (length > 0 && contents[length - 1] == '\r')
            contents[--length] = '\0';
          if (!g_utf8_validate_len (contents, length, NULL))
            {
              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("%s: the file %s is not valid UTF-8 text"), child, resolved);
              _cdviz_config_prefix_error (self, child, error);
              return FALSE;
            }

          json_object_set_string_member (table, target, contents);
          json_object_remove_member (table, name);
          if (location != NULL)
            {
              Location *copy = g_new0 (Location, 1);
              copy->origin = g_strdup (location->origin);
              copy->line = location->line;
              copy->is_file = location->is_file;
              g_hash_table_replace (self->locations, g_steal_pointer (&target_path), copy);
            }
        }
    }
  return TRUE;
}

gboolean
_cdviz_config_finish (CdvizConfig  *self,
                      GError      **error)
{
  if (self->files_resolved)
    return TRUE;
  if (!resolve_file_keys (self, json_node_get_object (self->root), NULL, error))
    return FALSE;
  self->files_resolved = TRUE;
  return TRUE;
}

/**
 * cdviz_config_get_root:
 * @self: a #CdvizConfig
 *
 * Gets the merged configuration, as the layers added so far left it.
 *
 * Returns: (transfer none): the merged configuration, a JSON object
 */
JsonNode *
cdviz_config_get_root (CdvizConfig *self)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);
  return self->root;
}

/**
 * cdviz_config_get_section:
 * @self: a #CdvizConfig
 * @name: a top-level table name, e.g. `http`
 *
 * Gets one top-level table of the merged configuration.
 *
 * Returns: (transfer none) (nullable): the table, if present
 */
JsonObject *
cdviz_config_get_section (CdvizConfig *self,
                          const char  *name)
{
  JsonNode *node;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);

  node = json_object_get_member (json_node_get_object (self->root), name);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

/* --- typed access ------------------------------------------------------- */

static const char *
json_kind (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return _("a table");
    case JSON_NODE_ARRAY:
      return _("an array");
    case JSON_NODE_NULL:
      return _("null");
    case JSON_NODE_VALUE:
    default:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return _("a boolean");
    case G_TYPE_INT64:
      return _("an integer");
    case G_TYPE_DOUBLE:
      return _("a float");
    case G_TYPE_STRING:
      return _("a string");
    default:
      return _("a value");
    }
}

static gboolean
type_error (CdvizConfig  *self,
            const char   *path,
            const char   *key,
            const char   *expected,
            JsonNode     *got,
            GError      **error)
{
  g_autofree char *full = _cdviz_config_join (path, key);
  g_autofree char *where = _cdviz_config_describe (self, full);

  g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
               _("%s: key “%s”: expected %s, got %s"),
               where, full, expected, json_kind (got));
  return FALSE;
}

gboolean
_cdviz_config_check_keys (CdvizConfig        *self,
                          const char         *path,
                          JsonObject         *table,
                          const char * const *allowed,
                          GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (table);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (!g_strv_contains (allowed, name))
        {
          g_autofree char *full = path ? _cdviz_config_join (path, name) : g_strdup (name);
          g_autofree char *where = _cdviz_config_describe (self, full);
          g_autofree char *list = g_strjoinv (", ", (char **) allowed);

          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
                       _("%s: unknown key “%s” (known keys: %s)"), where, full, list);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
_cdviz_config_get_bool (CdvizConfig  *self,
                        const char   *path,
                        JsonObject   *table,
                        const char   *key,
                        gboolean      default_value,
                        gboolean     *out,
                        GError      **error)
{
  JsonNode *node = json_object_get_member (table, key);

  if (node == NULL)
    {
      *out = default_value;
      return TRUE;
    }
  if (json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return type_error (self, path, key, _("a boolean"), node, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
_cdviz_config_get_int (CdvizConfig  *self,
                       const char   *path,
                       JsonObject   *table,
                       const char   *key,
                       gint64        minimum,
                       gint64        maximum,
                       gint64        default_value,
                       gint64       *out,
                       GError      **error)
{
  JsonNode *node = json_object_get_member (table, key);
  gint64 value;

  if (node == NULL)
    {
      *out = default_value;
      return TRUE;
    }
  if (json_node_get_value_type (node) != G_TYPE_INT64)
    return type_error (self, path, key, _("an integer"), node, error);
  value = json_node_get_int (node);
  if (value < minimum || value > maximum)
    {
      g_autofree char *full = _cdviz_config_join (path, key);
      g_autofree char *where = _cdviz_config_describe (self, full);

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   /* <inttypes.h> macros: xgettext knows them, not GLib's */
                   _("%s: key “%s”: %" PRId64 " is out of range (%" PRId64 "–%" PRId64 ")"),
                   where, full, (int64_t) value, (int64_t) minimum, (int64_t) maximum);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

gboolean
_cdviz_config_get_string (CdvizConfig  *self,
                          const char   *path,
                          JsonObject   *table,
                          const char   *key,
                          gboolean      required,
                          const char  **out,
                          GError      **error)
{
  JsonNode *node = json_object_get_member (table, key);

  if (node == NULL)
    {
      if (required)
        {
          g_autofree char *where = _cdviz_config_describe (self, path);
          g_autofree char *full = _cdviz_config_join (path, key);

          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                       _("%s: missing required key “%s”"), where, full);
          return FALSE;
        }
      *out = NULL;
      return TRUE;
    }
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return type_error (self, path, key, _("a string"), node, error);
  *out = json_node_get_string (node);
  return TRUE;
}

/* --- durations ---------------------------------------------------------- */

/* A duration value (`"30s"`, `"500ms"` or a number of seconds) in
 * [minimum_ms, maximum_ms], in ms; else an error naming the key. */
static gboolean
node_get_duration (CdvizConfig  *self,
                   const char   *path,
                   const char   *key,
                   JsonNode     *node,
                   guint64       minimum_ms,
                   guint64       maximum_ms,
                   guint64      *out_ms,
                   GError      **error)
{
  GType value_type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node)
                                                  : G_TYPE_INVALID;
  guint64 ms;

  if (value_type == G_TYPE_INT64 && json_node_get_int (node) >= 0 &&
      (guint64) json_node_get_int (node) <= G_MAXUINT64 / 1000)
    ms = (guint64) json_node_get_int (node) * 1000;
  else if (value_type == G_TYPE_STRING &&
           cdviz_parse_duration (json_node_get_string (node), &ms))
    ;
  else
    return type_error (self, path, key,
                       _("a duration (\"30s\", \"500ms\", \"1m\" or a number of seconds)"),
                       node, error);
  if (ms < minimum_ms || ms > maximum_ms)
    {
      g_autofree char *full = _cdviz_config_join (path, key);
      g_autofree char *where = _cdviz_config_describe (self, full);

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: duration out of range (%" PRIu64 " ms–%" PRIu64 " ms)"),
                   where, full, (uint64_t) minimum_ms, (uint64_t) maximum_ms);
      return FALSE;
    }
  *out_ms = ms;
  return TRUE;
}

gboolean
_cdviz_config_get_duration (CdvizConfig  *self,
                            const char   *path,
                            JsonObject   *table,
                            const char   *key,
                            guint64       maximum_ms,
                            guint64       default_ms,
                            guint64      *out,
                            GError      **error)
{
  JsonNode *node = json_object_get_member (table, key);

  if (node == NULL)
    {
      *out = default_ms;
      return TRUE;
    }
  return node_get_duration (self, path, key, node, 0, maximum_ms, out, error);
}

/**
 * cdviz_parse_duration:
 * @text: a duration such as `30s`, `500ms`, `1m30s`, `2h` or `45` (seconds)
 * @out_ms: (out): the duration in milliseconds
 *
 * Parses a human-readable duration. Units: `ms`, `s`, `m`, `h`, `d`.
 *
 * Returns: %TRUE if @text is a valid duration
 */
gboolean
cdviz_parse_duration (const char *text,
                      guint64    *out_ms)
{
  guint64 total = 0;
  const char *p = text;

  g_return_val_if_fail (text != NULL, FALSE);

  while (g_ascii_isspace (*p))
    p++;
  if (*p == '\0')
    return FALSE;

  while (*p != '\0')
    {
      char *end;
      guint64 number, unit;

      if (!g_ascii_isdigit (*p))
        return FALSE;
      errno = 0;
      number = g_ascii_strtoull (p, &end, 10);
      if (errno != 0)
        return FALSE;
      p = end;
      while (*p == ' ')
        p++;
      if (g_str_has_prefix (p, "ms"))
        unit = 1, p += 2;
      else if (*p == 's')
        unit = 1000, p++;
      else if (*p == 'm')
        unit = 60 * 1000, p++;
      else if (*p == 'h')
        unit = 3600 * 1000, p++;
      else if (*p == 'd')
        unit = 24 * 3600 * 1000, p++;
      else if (*p == '\0' && p == end && total == 0)
        unit = 1000; /* a plain number: seconds */
      else
        return FALSE;
      if (number > G_MAXUINT64 / unit || total + number * unit < total)
        return FALSE;
      total += number * unit;
      while (*p == ' ')
        p++;
    }

  *out_ms = total;
  return TRUE;
}

/**
 * cdviz_param_spec_duration:
 * @name: the property name
 * @nick: (nullable): a nick
 * @blurb: (nullable): a description
 * @minimum_ms: the minimum, in milliseconds
 * @maximum_ms: the maximum, in milliseconds
 * @default_ms: the default, in milliseconds
 * @flags: the flags
 *
 * Creates a #guint64 property holding milliseconds that the configuration
 * loader also fills from a duration string (`"30s"`, see
 * cdviz_parse_duration()) or an integer number of seconds.
 *
 * Returns: (transfer floating): a new #GParamSpec
 */
GParamSpec *
cdviz_param_spec_duration (const char  *name,
                           const char  *nick,
                           const char  *blurb,
                           guint64      minimum_ms,
                           guint64      maximum_ms,
                           guint64      default_ms,
                           GParamFlags  flags)
{
  GParamSpec *pspec = g_param_spec_uint64 (name, nick, blurb, minimum_ms, maximum_ms,
                                           default_ms, flags);

  g_param_spec_set_qdata (pspec, g_quark_from_static_string (DURATION_QUARK_NAME),
                          GINT_TO_POINTER (1));
  return pspec;
}

static gboolean
is_duration_pspec (GParamSpec *pspec)
{
  return g_param_spec_get_qdata (pspec, g_quark_from_static_string (DURATION_QUARK_NAME)) != NULL;
}

/* --- components --------------------------------------------------------- */

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
        return type_error (self, path, key, _("an array of strings"), node, error);
      array = json_node_get_array (node);
      builder = g_strv_builder_new ();
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          if (json_node_get_value_type (element) != G_TYPE_STRING)
            return type_error (self, path, key, _("an array of strings"), node, error);
          g_strv_builder_add (builder, json_node_get_string (element));
        }
      strv = g_strv_builder_end (builder);
      g_value_take_boxed (value, strv);
      return TRUE;
    }

  if (is_duration_pspec (pspec))
    {
      GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
      guint64 ms;

      if (!node_get_duration (self, path, key, node, spec->minimum, spec->maximum, &ms, error))
        return FALSE;
      g_value_set_uint64 (value, ms);
      return TRUE;
    }

  switch (fundamental)
    {
    case G_TYPE_BOOLEAN:
      if (value_type != G_TYPE_BOOLEAN)
        return type_error (self, path, key, _("a boolean"), node, error);
      g_value_set_boolean (value, json_node_get_boolean (node));
      return TRUE;

    case G_TYPE_STRING:
      if (value_type != G_TYPE_STRING)
        return type_error (self, path, key, _("a string"), node, error);
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
      return type_error (self, path, key, _("a number"), node, error);

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
          return type_error (self, path, key, _("an integer"), node, error);
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
          return type_error (self, path, key, _("a string"), node, error);
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

/* --- printing ----------------------------------------------------------- */

static gboolean
is_sensitive (const char *key)
{
  return g_str_equal (key, "token") || g_str_equal (key, "password") ||
         g_str_equal (key, "secret") || g_str_has_suffix (key, "_token") ||
         g_str_has_suffix (key, "_password");
}

static void
emit_value (GString  *out,
            JsonNode *node);

/* The `value` of an `equals` or `secret` header rule is the expected token
 * itself. */
static gboolean
is_sensitive_member (JsonObject *object,
                     const char *key)
{
  const char *type;

  if (is_sensitive (key))
    return TRUE;
  if (!g_str_equal (key, "value"))
    return FALSE;
  type = json_object_get_string_member_with_default (object, "type", NULL);
  return g_strcmp0 (type, "equals") == 0 || g_strcmp0 (type, "secret") == 0;
}

static void
emit_inline_table (GString    *out,
                   JsonObject *object)
{
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean first = TRUE;

  g_string_append (out, "{ ");
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autoptr(GString) key = g_string_new (NULL);

      cdviz_config_path_append (key, l->data);
      g_string_append_printf (out, "%s%s = ", first ? "" : ", ", key->str);
      if (is_sensitive_member (object, l->data))
        g_string_append (out, "\"<redacted>\"");
      else
        emit_value (out, json_object_get_member (object, l->data));
      first = FALSE;
    }
  g_string_append (out, first ? "}" : " }");
}

static void
emit_value (GString  *out,
            JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      emit_inline_table (out, json_node_get_object (node));
      return;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      g_string_append_c (out, '[');
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append (out, ", ");
          emit_value (out, json_array_get_element (array, i));
        }
      g_string_append_c (out, ']');
      return;
    }
  if (JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "\"\"");
      return;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      append_quoted (out, json_node_get_string (node));
      break;
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        double d = json_node_get_double (node);

        g_ascii_dtostr (buf, sizeof buf, d);
        g_string_append (out, buf);
        if (strpbrk (buf, ".eEn") == NULL)
          g_string_append (out, ".0");
      }
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    default:
      g_string_append (out, "\"\"");
    }
}

static void
emit_table (GString    *out,
            JsonObject *object,
            const char *path,
            guint       depth)
{
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean header_done = (path == NULL);

  /* Scalars (and deep tables, inline) first, then sub-tables as sections. */
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);
      g_autoptr(GString) key = g_string_new (NULL);

      if (JSON_NODE_HOLDS_OBJECT (value) && depth < 2)
        continue;
      if (!header_done)
        {
          g_string_append_printf (out, "\n[%s]\n", path);
          header_done = TRUE;
        }
      cdviz_config_path_append (key, l->data);
      g_string_append_printf (out, "%s = ", key->str);
      if (is_sensitive_member (object, l->data))
        g_string_append (out, "\"<redacted>\"");
      else
        emit_value (out, value);
      g_string_append_c (out, '\n');
    }

  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);
      g_autofree char *child = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (value) || depth >= 2)
        continue;
      child = path ? _cdviz_config_join (path, l->data) : _cdviz_config_join ("", l->data);
      if (json_object_get_size (json_node_get_object (value)) == 0)
        g_string_append_printf (out, "\n[%s]\n", child);
      emit_table (out, json_node_get_object (value), child, depth + 1);
    }
}

/**
 * cdviz_config_to_toml:
 * @self: a #CdvizConfig
 *
 * Prints the merged configuration as TOML. Values of keys named `token`,
 * `password` or `secret` (or ending in `_token`, `_password`), and the `value`
 * of `equals` and `secret` header rules, are replaced by `"<redacted>"`.
 *
 * Returns: (transfer full): the TOML text
 */
char *
cdviz_config_to_toml (CdvizConfig *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);

  emit_table (out, json_node_get_object (self->root), NULL, 0);
  if (out->len > 0 && out->str[0] == '\n')
    g_string_erase (out, 0, 1);
  return g_string_free (out, FALSE);
}

/**
 * cdviz_config_create_transformer:
 * @self: a #CdvizConfig
 * @registry: where transformer types are looked up
 * @name: a `[transformers.NAME]` table, or a built-in type without keys
 *   (`passthrough`, `log`…)
 * @error: return location for a #GError
 *
 * Creates one transformer from the configuration, as the pipeline does,
 * for tools that run transformers alone (`cdviz-pipeline transform`).
 *
 * Returns: (transfer full): a #CdvizTransformer, or %NULL with @error set
 */
GObject *
cdviz_config_create_transformer (CdvizConfig    *self,
                                 CdvizRegistry  *registry,
                                 const char     *name,
                                 GError        **error)
{
  JsonObject *section;
  JsonNode *table;
  g_autofree char *path = NULL;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);
  if (!_cdviz_config_finish (self, error))
    return NULL;
  section = cdviz_config_get_section (self, "transformers");
  table = section ? json_object_get_member (section, name) : NULL;
  path = _cdviz_config_join ("transformers", name);
  if (table == NULL && cdviz_registry_lookup (registry, CDVIZ_COMPONENT_TRANSFORMER, name) != G_TYPE_INVALID)
    {
      g_autoptr(JsonObject) builtin = json_object_new ();

      json_object_set_string_member (builtin, "type", name);
      return _cdviz_config_create_component (self, registry, CDVIZ_COMPONENT_TRANSFORMER,
                                             path, builtin, NULL, error);
    }
  if (table == NULL || !JSON_NODE_HOLDS_OBJECT (table))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                   _("no transformer named “%s” (define [transformers.%s])"), name, name);
      return NULL;
    }
  return _cdviz_config_create_component (self, registry, CDVIZ_COMPONENT_TRANSFORMER,
                                         path, json_node_get_object (table), NULL, error);
}
