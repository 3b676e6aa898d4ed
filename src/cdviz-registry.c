/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "cdviz-registry.h"
#include "cdviz-plugin.h"
#include "cdviz-source.h"
#include "cdviz-transformer.h"
#include "cdviz-sink.h"
#include "cdviz-builtins-private.h"

/**
 * CdvizRegistry:
 *
 * Maps component type names (the `type` of a config table) to GTypes, and
 * loads plugin modules that add such types.
 *
 * A plugin is a GModule exporting a [struct@PluginDescriptor] named
 * `cdviz_plugin_descriptor`. It is opened with `G_MODULE_BIND_LOCAL`, its
 * descriptor is checked (ABI version and size) before anything else is
 * touched, its entry point registers its types, and it is made resident:
 * GTypes cannot be unregistered.
 *
 * Plugin directories are searched recursively, in this order: the
 * directories passed to [method@Registry.load_plugins] (`--plugin-dir`),
 * those in `CDVIZ_PLUGIN_PATH` (colon-separated), and the system plugin
 * directory, which `CDVIZ_PLUGIN_SYSTEM_PATH` replaces (empty: none). A plugin
 * whose name is already loaded is skipped, so earlier directories win.
 *
 * All methods are thread-safe.
 */
struct _CdvizRegistry
{
  GObject parent_instance;

  GMutex lock;
  GHashTable *types[3];   /* name → GType */
  GHashTable *plugins;    /* plugin name → path */
  GPtrArray *searched;    /* directories searched, in order */
};

G_DEFINE_FINAL_TYPE (CdvizRegistry, cdviz_registry, G_TYPE_OBJECT)
/**
 * cdviz_registry_error_quark:
 *
 * The error domain of [enum@RegistryError], also available as
 * %CDVIZ_REGISTRY_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-registry-error-quark, cdviz_registry_error)

static void
cdviz_registry_finalize (GObject *object)
{
  CdvizRegistry *self = CDVIZ_REGISTRY (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->types); i++)
    g_clear_pointer (&self->types[i], g_hash_table_unref);
  g_clear_pointer (&self->plugins, g_hash_table_unref);
  g_clear_pointer (&self->searched, g_ptr_array_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (cdviz_registry_parent_class)->finalize (object);
}

static void
cdviz_registry_class_init (CdvizRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_registry_finalize;
}

static void
cdviz_registry_init (CdvizRegistry *self)
{
  g_mutex_init (&self->lock);
  for (guint i = 0; i < G_N_ELEMENTS (self->types); i++)
    self->types[i] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->plugins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->searched = g_ptr_array_new_with_free_func (g_free);
}

/**
 * cdviz_registry_new:
 *
 * Creates a registry holding only the built-in types (transformers
 * `passthrough`, `log`, `discard_all`, `deduplicate`; sink `debug`).
 *
 * Returns: (transfer full): a new registry
 */
CdvizRegistry *
cdviz_registry_new (void)
{
  CdvizRegistry *self = g_object_new (CDVIZ_TYPE_REGISTRY, NULL);

  _cdviz_register_builtins (self);
  return self;
}

/**
 * cdviz_registry_get_default:
 *
 * Gets the process-wide registry, creating it on first use.
 *
 * Returns: (transfer none): the default registry
 */
CdvizRegistry *
cdviz_registry_get_default (void)
{
  static CdvizRegistry *default_registry;

  if (g_once_init_enter (&default_registry))
    g_once_init_leave (&default_registry, cdviz_registry_new ());
  return default_registry;
}

/**
 * cdviz_component_kind_to_string:
 * @kind: a kind
 *
 * Gets the name of a component kind, as used in messages.
 *
 * Returns: `"source"`, `"transformer"` or `"sink"`
 */
const char *
cdviz_component_kind_to_string (CdvizComponentKind kind)
{
  switch (kind)
    {
    case CDVIZ_COMPONENT_SOURCE:
      return "source";
    case CDVIZ_COMPONENT_TRANSFORMER:
      return "transformer";
    case CDVIZ_COMPONENT_SINK:
      return "sink";
    default:
      return "unknown";
    }
}

static GType
kind_interface (CdvizComponentKind kind)
{
  switch (kind)
    {
    case CDVIZ_COMPONENT_SOURCE:
      return CDVIZ_TYPE_SOURCE;
    case CDVIZ_COMPONENT_TRANSFORMER:
      return CDVIZ_TYPE_TRANSFORMER;
    case CDVIZ_COMPONENT_SINK:
      return CDVIZ_TYPE_SINK;
    default:
      return G_TYPE_INVALID;
    }
}

/**
 * cdviz_registry_register_type:
 * @self: a #CdvizRegistry
 * @kind: what @type is
 * @name: the name configs use in `type`
 * @type: a GObject type implementing the interface of @kind
 * @error: return location for a #GError
 *
 * Registers @type under @name. Python classes register the same way.
 *
 * Returns: %TRUE on success; %FALSE if @name is taken or @type does not
 *   implement the interface
 */
gboolean
cdviz_registry_register_type (CdvizRegistry       *self,
                              CdvizComponentKind   kind,
                              const char          *name,
                              GType                type,
                              GError             **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  GType iface;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (kind <= CDVIZ_COMPONENT_SINK, FALSE);
  g_return_val_if_fail (name != NULL && *name != '\0', FALSE);

  iface = kind_interface (kind);
  if (!g_type_is_a (type, G_TYPE_OBJECT) || !g_type_is_a (type, iface) ||
      G_TYPE_IS_ABSTRACT (type))
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_WRONG_TYPE,
                   _("Cannot register %s type “%s”: %s does not implement %s"),
                   cdviz_component_kind_to_string (kind), name,
                   g_type_name (type), g_type_name (iface));
      return FALSE;
    }

  locker = g_mutex_locker_new (&self->lock);
  if (g_hash_table_contains (self->types[kind], name))
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_DUPLICATE,
                   _("A %s type named “%s” is already registered"),
                   cdviz_component_kind_to_string (kind), name);
      return FALSE;
    }
  g_hash_table_insert (self->types[kind], g_strdup (name), GSIZE_TO_POINTER (type));
  return TRUE;
}

/**
 * cdviz_registry_lookup:
 * @self: a #CdvizRegistry
 * @kind: the kind of component
 * @name: a type name
 *
 * Looks up the type registered under @name.
 *
 * Returns: the GType registered as @name, or %G_TYPE_INVALID
 */
GType
cdviz_registry_lookup (CdvizRegistry      *self,
                       CdvizComponentKind  kind,
                       const char         *name)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), G_TYPE_INVALID);
  g_return_val_if_fail (kind <= CDVIZ_COMPONENT_SINK, G_TYPE_INVALID);
  g_return_val_if_fail (name != NULL, G_TYPE_INVALID);

  locker = g_mutex_locker_new (&self->lock);
  return GPOINTER_TO_SIZE (g_hash_table_lookup (self->types[kind], name));
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

static char **
sorted_strv (GHashTable *table)
{
  char **result = (char **) g_hash_table_get_keys_as_array (table, NULL);
  guint n = g_strv_length (result);

  for (guint i = 0; i < n; i++)
    result[i] = g_strdup (result[i]);
  qsort (result, n, sizeof (char *), compare_strings);
  return result;
}

/**
 * cdviz_registry_list_types:
 * @self: a #CdvizRegistry
 * @kind: the kind of component
 *
 * Lists the type names registered for one kind of component.
 *
 * Returns: (transfer full): the registered names of @kind, sorted
 */
char **
cdviz_registry_list_types (CdvizRegistry      *self,
                           CdvizComponentKind  kind)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (kind <= CDVIZ_COMPONENT_SINK, NULL);

  locker = g_mutex_locker_new (&self->lock);
  return sorted_strv (self->types[kind]);
}

/**
 * cdviz_registry_list_plugins:
 * @self: a #CdvizRegistry
 *
 * Lists the plugins loaded so far.
 *
 * Returns: (transfer full): the names of the loaded plugins, sorted
 */
char **
cdviz_registry_list_plugins (CdvizRegistry *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), NULL);

  locker = g_mutex_locker_new (&self->lock);
  return sorted_strv (self->plugins);
}

/**
 * cdviz_registry_get_searched_dirs:
 * @self: a #CdvizRegistry
 *
 * Lists the directories searched for plugins so far, for error messages.
 *
 * Returns: (transfer full): the plugin directories searched so far, in order
 */
char **
cdviz_registry_get_searched_dirs (CdvizRegistry *self)
{
  g_autoptr(GMutexLocker) locker = NULL;
  GStrvBuilder *builder;
  char **result;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), NULL);

  locker = g_mutex_locker_new (&self->lock);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->searched->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->searched, i));
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

/**
 * cdviz_registry_load_plugin:
 * @self: a #CdvizRegistry
 * @path: the path of a plugin module
 * @error: return location for a #GError
 *
 * Loads one plugin module and registers its types. Loading a plugin whose
 * name is already loaded does nothing and succeeds.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_registry_load_plugin (CdvizRegistry  *self,
                            const char     *path,
                            GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  const CdvizPluginDescriptor *desc = NULL;
  GModule *module;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  module = g_module_open_full (path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY, &local_error);
  if (module == NULL)
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_LOAD,
                   _("Cannot open plugin %s: %s"), path, local_error->message);
      return FALSE;
    }

  if (!g_module_symbol (module, CDVIZ_PLUGIN_DESCRIPTOR_SYMBOL, (gpointer *) &desc) ||
      desc == NULL)
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                   _("%s is not a cdviz plugin: it exports no “%s”"),
                   path, CDVIZ_PLUGIN_DESCRIPTOR_SYMBOL);
      g_module_close (module);
      return FALSE;
    }

  if (desc->abi_version != CDVIZ_PLUGIN_ABI_VERSION ||
      desc->struct_size != sizeof (CdvizPluginDescriptor))
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                   _("Plugin %s was built for plugin ABI %u, this is ABI %u; rebuild it"),
                   path, desc->abi_version, (guint) CDVIZ_PLUGIN_ABI_VERSION);
      g_module_close (module);
      return FALSE;
    }

  if (desc->name == NULL || desc->register_types == NULL)
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                   _("Plugin %s has an incomplete descriptor (no name or entry point)"),
                   path);
      g_module_close (module);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  if (g_hash_table_contains (self->plugins, desc->name))
    {
      g_debug ("Plugin %s (%s) already loaded from %s; skipping",
               desc->name, path, (char *) g_hash_table_lookup (self->plugins, desc->name));
      g_mutex_unlock (&self->lock);
      g_module_close (module);
      return TRUE;
    }
  g_hash_table_insert (self->plugins, g_strdup (desc->name), g_strdup (path));
  g_mutex_unlock (&self->lock);

  /* Types registered by the plugin cannot be unregistered. */
  g_module_make_resident (module);

  if (!desc->register_types (self, &local_error))
    {
      g_set_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                   _("Plugin %s (%s) failed to register its types: %s"),
                   desc->name, path,
                   local_error ? local_error->message : "unknown error");
      return FALSE;
    }

  g_debug ("Loaded plugin %s %s from %s", desc->name,
           desc->version ? desc->version : "", path);
  return TRUE;
}

static gboolean
is_module_name (const char *name)
{
  return g_str_has_suffix (name, "." G_MODULE_SUFFIX);
}

static guint
scan_directory (CdvizRegistry *self,
                const char    *dir,
                guint          depth)
{
  g_autoptr(GDir) gdir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  guint loaded = 0;

  if (depth > 8)
    return 0;

  gdir = g_dir_open (dir, 0, NULL);
  if (gdir == NULL)
    return 0;

  while ((name = g_dir_read_name (gdir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  /* A stable order makes "first one wins" predictable. */
  g_ptr_array_sort (names, compare_strings);

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autoptr(GError) error = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          /* meson leaves object directories in the build tree */
          if (!g_str_has_suffix (entry, ".p"))
            loaded += scan_directory (self, path, depth + 1);
          continue;
        }
      if (!is_module_name (entry))
        continue;
      if (cdviz_registry_load_plugin (self, path, &error))
        loaded++;
      else
        g_warning (_("Skipping plugin: %s"), error->message);
    }

  return loaded;
}

static void
add_searched (CdvizRegistry *self,
              const char    *dir)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->searched, g_strdup (dir));
  g_mutex_unlock (&self->lock);
}

/**
 * cdviz_registry_load_plugins:
 * @self: a #CdvizRegistry
 * @extra_dirs: (nullable) (array zero-terminated=1): directories searched first
 *
 * Loads every plugin found (recursively) in @extra_dirs, in the directories
 * of `CDVIZ_PLUGIN_PATH`, then in the system plugin directory (or those of
 * `CDVIZ_PLUGIN_SYSTEM_PATH` when it is set). A module that fails to load is
 * skipped with a warning naming the file.
 *
 * Returns: the number of plugins loaded
 */
guint
cdviz_registry_load_plugins (CdvizRegistry      *self,
                             const char * const *extra_dirs)
{
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env;
  guint loaded = 0;

  g_return_val_if_fail (CDVIZ_IS_REGISTRY (self), 0);

  for (guint i = 0; extra_dirs != NULL && extra_dirs[i] != NULL; i++)
    g_ptr_array_add (dirs, g_strdup (extra_dirs[i]));

  env = g_getenv ("CDVIZ_PLUGIN_PATH");
  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_ptr_array_add (dirs, g_strdup (parts[i]));
    }

  env = g_getenv ("CDVIZ_PLUGIN_SYSTEM_PATH");
  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_ptr_array_add (dirs, g_strdup (parts[i]));
    }
  else
    g_ptr_array_add (dirs, g_strdup (CDVIZ_PLUGINDIR));

  for (guint i = 0; i < dirs->len; i++)
    {
      const char *dir = g_ptr_array_index (dirs, i);

      add_searched (self, dir);
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        {
          g_debug ("Plugin directory %s does not exist", dir);
          continue;
        }
      loaded += scan_directory (self, dir, 0);
    }

  return loaded;
}
