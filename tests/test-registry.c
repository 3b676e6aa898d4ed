/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz.h"

/* The registry and the plugin loader, against test modules built in
 * tests/modules (never against installed plugins). */

static char *
module_path (const char *name)
{
  const char *dir = g_getenv ("CDVIZ_TEST_MODULES");

  g_assert_nonnull (dir);
  return g_strdup_printf ("%s/%s." G_MODULE_SUFFIX, dir, name);
}

static void
test_builtins (void)
{
  g_autoptr(CdvizRegistry) registry = cdviz_registry_new ();
  g_auto(GStrv) transformers = cdviz_registry_list_types (registry, CDVIZ_COMPONENT_TRANSFORMER);
  g_auto(GStrv) sinks = cdviz_registry_list_types (registry, CDVIZ_COMPONENT_SINK);
  g_autofree char *t = g_strjoinv (",", transformers);
  g_autofree char *s = g_strjoinv (",", sinks);

  g_assert_cmpstr (t, ==, "deduplicate,discard_all,log,passthrough");
  g_assert_cmpstr (s, ==, "debug");
  g_assert_true (cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SINK, "debug") != G_TYPE_INVALID);
  g_assert_true (cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SOURCE, "debug") == G_TYPE_INVALID);
}

static void
test_register_errors (void)
{
  g_autoptr(CdvizRegistry) registry = cdviz_registry_new ();
  g_autoptr(GError) error = NULL;
  GType debug = cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SINK, "debug");

  /* A sink is not a transformer. */
  g_assert_false (cdviz_registry_register_type (registry, CDVIZ_COMPONENT_TRANSFORMER,
                                                "x", debug, &error));
  g_assert_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_WRONG_TYPE);
  g_assert_nonnull (strstr (error->message, "does not implement CdvizTransformer"));
  g_clear_error (&error);

  g_assert_false (cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK,
                                                "debug", debug, &error));
  g_assert_error (error, CDVIZ_REGISTRY_ERROR, CDVIZ_REGISTRY_ERROR_DUPLICATE);
  g_clear_error (&error);

  g_assert_true (cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK,
                                               "debug2", debug, &error));
  g_assert_no_error (error);
  g_assert_true (cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SINK, "debug2") == debug);
}

static void
test_load_good (void)
{
  g_autoptr(CdvizRegistry) registry = cdviz_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = module_path ("test-good");
  g_auto(GStrv) plugins = NULL;

  g_assert_true (cdviz_registry_load_plugin (registry, path, &error));
  g_assert_no_error (error);
  g_assert_true (cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SINK, "test-counter") != G_TYPE_INVALID);
  plugins = cdviz_registry_list_plugins (registry);
  g_assert_cmpstrv (plugins, ((const char *[]) { "test-good", NULL }));

  /* Loading the same plugin again is a no-op. */
  g_assert_true (cdviz_registry_load_plugin (registry, path, &error));
  g_assert_no_error (error);
}

static void
assert_refused (const char *name,
                gint        code,
                const char *fragment)
{
  g_autoptr(CdvizRegistry) registry = cdviz_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = module_path (name);

  g_assert_false (cdviz_registry_load_plugin (registry, path, &error));
  g_assert_error (error, CDVIZ_REGISTRY_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, fragment);
}

static void
test_load_wrong_abi (void)
{
  assert_refused ("test-wrong-abi", CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN, "plugin ABI 42");
}

static void
test_load_no_descriptor (void)
{
  assert_refused ("test-no-descriptor", CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                  "is not a cdviz plugin");
}

static void
test_load_failing_register (void)
{
  assert_refused ("test-failing-register", CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
                  "deliberate failure");
}

static void
test_load_not_a_module (void)
{
  assert_refused ("not-a-module", CDVIZ_REGISTRY_ERROR_LOAD, "Cannot open plugin");
}

static void
test_scan_directory (void)
{
  g_autoptr(CdvizRegistry) registry = cdviz_registry_new ();
  const char *dirs[] = { g_getenv ("CDVIZ_TEST_MODULES"), NULL };
  g_auto(GStrv) searched = NULL;
  guint loaded;

  g_setenv ("CDVIZ_PLUGIN_SYSTEM_PATH", "", TRUE);
  g_unsetenv ("CDVIZ_PLUGIN_PATH");

  /* Each broken module is skipped with a warning naming its file. */
  g_test_expect_message ("cdviz", G_LOG_LEVEL_WARNING, "Skipping plugin: *not-a-module.so*");
  g_test_expect_message ("cdviz", G_LOG_LEVEL_WARNING, "Skipping plugin: *test-failing-register.so*");
  g_test_expect_message ("cdviz", G_LOG_LEVEL_WARNING, "Skipping plugin: *test-no-descriptor.so*");
  g_test_expect_message ("cdviz", G_LOG_LEVEL_WARNING, "Skipping plugin: *test-wrong-abi.so*");
  loaded = cdviz_registry_load_plugins (registry, dirs);
  g_test_assert_expected_messages ();

  g_assert_cmpuint (loaded, ==, 1);
  g_assert_true (cdviz_registry_lookup (registry, CDVIZ_COMPONENT_SINK, "test-counter") != G_TYPE_INVALID);
  searched = cdviz_registry_get_searched_dirs (registry);
  g_assert_cmpstrv (searched, dirs);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/registry/builtins", test_builtins);
  g_test_add_func ("/registry/register-errors", test_register_errors);
  g_test_add_func ("/registry/load/good", test_load_good);
  g_test_add_func ("/registry/load/wrong-abi", test_load_wrong_abi);
  g_test_add_func ("/registry/load/no-descriptor", test_load_no_descriptor);
  g_test_add_func ("/registry/load/failing-register", test_load_failing_register);
  g_test_add_func ("/registry/load/not-a-module", test_load_not_a_module);
  g_test_add_func ("/registry/scan-directory", test_scan_directory);

  return g_test_run ();
}
