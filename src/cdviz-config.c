/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "cdviz-config.h"
#include "cdviz-config-private.h"
#include "cdviz-json-fields-private.h"
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
 * the file that set the key, or, when no such file is there, to the working
 * directory (cdviz-collector's rule). Use it for secrets.
 *
 * Every key remembers where it was set, so that errors say `FILE:LINE`.
 */

#define BASE_RESOURCE "/org/cdviz/pipeline/base.toml"
#define DEFAULT_RESOURCE "/org/cdviz/pipeline/default.toml"

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
  gboolean remote_check;   /* `config --check`: unreachable remote files warn */
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
              /* cdviz-collector reads relative paths from the working
               * directory (-C): a file not beside the configuration is
               * looked for there, so its deployments work unchanged */
              if (!g_file_test (resolved, G_FILE_TEST_EXISTS) &&
                  g_file_test (file, G_FILE_TEST_EXISTS))
                {
                  g_free (resolved);
                  resolved = g_strdup (file);
                }
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
          _cdviz_config_copy_location (self, child, target_path);
        }
    }
  return TRUE;
}

void
_cdviz_config_copy_location (CdvizConfig *self,
                             const char  *from,
                             const char  *to)
{
  const Location *location = find_location (self, from);
  Location *copy;

  if (location == NULL)
    return;
  copy = g_new0 (Location, 1);
  copy->origin = g_strdup (location->origin);
  copy->line = location->line;
  copy->is_file = location->is_file;
  g_hash_table_replace (self->locations, g_strdup (to), copy);
}

void
_cdviz_config_set_remote_check (CdvizConfig *self,
                                gboolean     check)
{
  self->remote_check = check;
}

gboolean
_cdviz_config_finish (CdvizConfig  *self,
                      GError      **error)
{
  if (self->files_resolved)
    return TRUE;
  if (!_cdviz_config_resolve_remote_files (self, self->remote_check, error))
    return FALSE;
  if (!resolve_file_keys (self, json_node_get_object (self->root), NULL, error))
    return FALSE;
  self->files_resolved = TRUE;
  return TRUE;
}

/**
 * cdviz_config_resolve_files:
 * @self: a #CdvizConfig
 * @error: return location for a #GError
 *
 * Replaces every `KEY_file = "PATH"` by `KEY` holding the file's contents
 * (a relative path is read from the directory of the file that set it),
 * as building a pipeline does; `cdviz-pipeline config --print` shows the
 * result. Add no layer afterwards. Calling it again does nothing.
 *
 * Returns: %TRUE on success; %FALSE with %CDVIZ_CONFIG_ERROR_IO when a file
 *   cannot be read
 */
gboolean
cdviz_config_resolve_files (CdvizConfig  *self,
                            GError      **error)
{
  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);
  return _cdviz_config_finish (self, error);
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

gboolean
_cdviz_config_type_error (CdvizConfig  *self,
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

/* The configuration's words for what the shared getters find wrong. */
typedef struct {
  CdvizConfig *self;
  const char *path;   /* of the table; NULL for the root */
} TableContext;

static const char *
expected_kind (GType type)
{
  switch (type)
    {
    case G_TYPE_BOOLEAN:
      return _("a boolean");
    case G_TYPE_INT64:
      return _("an integer");
    case G_TYPE_STRING:
    default:
      return _("a string");
    }
}

static void
report_field_error (gpointer               user_data,
                    const CdvizFieldError *field_error,
                    GError               **error)
{
  TableContext *context = user_data;
  g_autofree char *full = _cdviz_config_join (context->path, field_error->key);
  g_autofree char *where = NULL;
  g_autofree char *list = NULL;

  switch (field_error->problem)
    {
    case CDVIZ_FIELD_UNKNOWN:
      where = _cdviz_config_describe (context->self, full);
      list = g_strjoinv (", ", (char **) field_error->allowed);
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
                   _("%s: unknown key “%s” (known keys: %s)"), where, full, list);
      break;
    case CDVIZ_FIELD_MISSING:
      where = _cdviz_config_describe (context->self, context->path);
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                   _("%s: missing required key “%s”"), where, full);
      break;
    case CDVIZ_FIELD_WRONG_TYPE:
      _cdviz_config_type_error (context->self, context->path, field_error->key,
                                expected_kind (field_error->expected), field_error->got, error);
      break;
    default:
      g_assert_not_reached ();
    }
}

#define TABLE_FIELDS(self, path, table) \
  ((CdvizFields) { (table), report_field_error, &(TableContext) { (self), (path) } })

gboolean
_cdviz_config_check_keys (CdvizConfig        *self,
                          const char         *path,
                          JsonObject         *table,
                          const char * const *allowed,
                          GError            **error)
{
  return _cdviz_fields_check_keys (&TABLE_FIELDS (self, path, table), allowed, error);
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
  return _cdviz_fields_get_bool (&TABLE_FIELDS (self, path, table), key, default_value, out,
                                 error);
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
  gint64 value;

  if (!_cdviz_fields_get_int (&TABLE_FIELDS (self, path, table), key, default_value, &value,
                              error))
    return FALSE;
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
  return _cdviz_fields_get_string (&TABLE_FIELDS (self, path, table), key, required, NULL, out,
                                   error);
}

/* --- durations ---------------------------------------------------------- */

/* A duration value (`"30s"`, `"500ms"` or a number of seconds) in
 * [minimum_ms, maximum_ms], in ms; else an error naming the key. */
gboolean
_cdviz_config_node_get_duration (CdvizConfig  *self,
                                 const char   *path,
                                 const char   *key,
                                 JsonNode     *node,
                                 guint64       minimum_ms,
                                 guint64       maximum_ms,
                                 guint64      *out_ms,
                                 GError      **error)
{
  guint64 ms;

  if (!_cdviz_json_node_get_duration (node, &ms))
    return _cdviz_config_type_error (self, path, key,
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
  return _cdviz_config_node_get_duration (self, path, key, node, 0, maximum_ms, out, error);
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
