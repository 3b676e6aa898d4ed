/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "cdviz.h"

/* Configuration layering, `_file` secrets, and every configuration error:
 * each names the file, the line and the key. */

static char *
write_temp (const char *name,
            const char *contents)
{
  g_autofree char *dir = g_dir_make_tmp ("cdviz-config-XXXXXX", NULL);
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

static JsonObject *
section (CdvizConfig *config,
         const char  *name)
{
  JsonObject *object = cdviz_config_get_section (config, name);

  g_assert_nonnull (object);
  return object;
}

static void
test_layers (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_temp ("c.toml",
                                      "[http]\n"
                                      "port = 9000\n"
                                      "\n"
                                      "[sinks.out]\n"
                                      "type = \"debug\"\n");
  char *env[] = { "CDVIZ_COLLECTOR__HTTP__HOST=::",
                  "CDVIZ_COLLECTOR__PIPELINE__QUEUE_CAPACITY=7",
                  "CDVIZ_COLLECTOR__SINKS__OUT__ENABLED=false",
                  "OTHER=1", NULL };
  g_autofree char *where = NULL;
  g_autofree char *expected = NULL;

  /* Base layer: cdviz-collector's, every interface */
  g_assert_cmpint (json_object_get_int_member (section (config, "http"), "port"), ==, 8080);
  g_assert_cmpstr (json_object_get_string_member (section (config, "http"), "host"), ==, "0.0.0.0");

  g_assert_true (cdviz_config_add_file (config, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (section (config, "http"), "port"), ==, 9000);
  g_assert_cmpstr (json_object_get_string_member (section (config, "http"), "host"), ==, "0.0.0.0");
  where = cdviz_config_get_location (config, "http.port");
  expected = g_strdup_printf ("%s:2", path);
  g_assert_cmpstr (where, ==, expected);

  g_assert_true (cdviz_config_add_environment (config, env, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (section (config, "http"), "host"), ==, "::");
  g_assert_cmpint (json_object_get_int_member (section (config, "pipeline"), "queue_capacity"), ==, 7);
  g_clear_pointer (&where, g_free);
  where = cdviz_config_get_location (config, "http.host");
  g_assert_cmpstr (where, ==, "environment variable CDVIZ_COLLECTOR__HTTP__HOST");

  g_assert_true (cdviz_config_add_string (config, "http.port = 9100\nsinks.out.enabled = true", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (section (config, "http"), "port"), ==, 9100);
  g_clear_pointer (&where, g_free);
  where = cdviz_config_get_location (config, "http.port");
  g_assert_cmpstr (where, ==, "--set:1");
  /* Tables merge key by key: type survives from the file. */
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (section (config, "sinks"), "out"), "type"),
                   ==, "debug");
}

static void
test_file_secret (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = write_temp ("secret.txt", "s3cr3t\n");
  g_autofree char *toml = g_strdup_printf ("[transformers.d]\ntype = \"deduplicate\"\nkey_path_file = \"%s\"\n", secret);
  g_autofree char *path = write_temp ("c.toml", toml);
  g_autofree char *printed = NULL;
  JsonObject *d;

  g_assert_true (cdviz_config_add_file (config, path, &error));
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  g_assert_no_error (error);
  d = json_object_get_object_member (section (config, "transformers"), "d");
  g_assert_cmpstr (json_object_get_string_member (d, "key_path"), ==, "s3cr3t");
  g_assert_false (json_object_has_member (d, "key_path_file"));

  printed = cdviz_config_to_toml (config);
  g_assert_nonnull (strstr (printed, "key_path = \"s3cr3t\""));
}

static void
test_file_secret_missing (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_temp ("c.toml", "[transformers.d]\ntype = \"deduplicate\"\n\nkey_path_file = \"/nonexistent/x\"\n");
  g_autofree char *expected = g_strdup_printf ("%s:4: transformers.d.key_path_file: cannot read the file:", path);

  g_assert_true (cdviz_config_add_file (config, path, &error));
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  g_assert_null (pipeline);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, expected));
}

typedef struct {
  const char *name;
  const char *toml;
  gint code;
  const char *message;   /* after "PATH:" */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "parse", "[http\nport = 1\n", CDVIZ_CONFIG_ERROR_PARSE, "1:6: " },
  { "unknown-top-level", "[htp]\nport = 1\n", CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
    "1: unknown key “htp” (known keys: http, pipeline, sources, transformers, sinks, state, remote)" },
  { "unknown-http-key", "[http]\nhots = \"x\"\n", CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
    "2: unknown key “http.hots” (known keys: host, port, tls_certificate, tls_key, tls_min_version, "
    "header_timeout, body_timeout, idle_timeout, max_connections, threads, max_headers, max_header_size, "
    "root_url, request_timeout, access_log)" },
  { "state-kind", "[state]\nkind = \"s3\"\n", CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "2: key “state.kind”: “s3” is not a state kind cdviz-pipeline knows (“fs”)" },
  { "root-url", "[http]\nroot_url = \"example.com\"\n", CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "2: key “http.root_url”: “example.com” is not an absolute URL" },
  { "access-log-filter", "[http.access_log]\nfilter = [\"4xx\", \"nope\"]\n",
    CDVIZ_CONFIG_ERROR_INVALID_VALUE, "2: key “http.access_log.filter”: expected an array" },
  { "mistyped-port", "[http]\nport = \"80\"\n", CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "2: key “http.port”: expected an integer, got a string" },
  { "port-range", "[http]\nport = 70000\n", CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "2: key “http.port”: 70000 is out of range (0–65535)" },
  { "missing-type", "[sinks.x]\nenabled = true\n", CDVIZ_CONFIG_ERROR_MISSING_KEY,
    "1: missing required key “sinks.x.type”" },
  { "unknown-type", "[sinks.x]\ntype = \"nope\"\n", CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE,
    "2: key “sinks.x.type”: unknown sink type “nope” (known: debug; plugin directories searched: " },
  { "vrl-without-plugin", "[transformers.t]\ntype = \"vrl\"\ntemplate = \"[.]\"\n", CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE,
    "2: transformers.t: type “vrl” needs the vrl plugin, which this build does not have" },
  { "unknown-component-key", "[transformers.t]\ntype = \"deduplicate\"\ncapacityy = 3\n",
    CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
    "3: unknown key “transformers.t.capacityy” for transformer type “deduplicate” (known keys: capacity, key_path)" },
  { "mistyped-component-key", "[transformers.t]\ntype = \"deduplicate\"\ncapacity = \"3\"\n",
    CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "3: key “transformers.t.capacity”: expected an integer, got a string" },
  { "component-key-range", "[transformers.t]\ntype = \"deduplicate\"\ncapacity = 0\n",
    CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "3: key “transformers.t.capacity”: 0 is out of range" },
  { "component-init-error", "[transformers.t]\ntype = \"log\"\nlevel = \"loud\"\n",
    CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "1: key “level”: unknown level “loud” (expected “info” or “debug”)" },
  { "unknown-ref", "[sources.s]\nenabled = true\ntransformer_refs = [\"a\", \"b\"]\n[transformers.a]\ntype = \"passthrough\"\n",
    CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
    "3: key “sources.s.transformer_refs”: no transformer named “b” (define [transformers.b])" },
  { "unknown-source-key", "[sources.s]\nenabeld = true\n", CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
    "2: unknown key “sources.s.enabeld” (known keys: enabled, extractor, transformer_refs)" },
  { "mistyped-enabled", "[sinks.x]\ntype = \"debug\"\nenabled = \"yes\"\n", CDVIZ_CONFIG_ERROR_INVALID_VALUE,
    "3: key “sinks.x.enabled”: expected a boolean, got a string" },
};

static void
test_error_case (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_temp ("bad.toml", c->toml);
  g_autofree char *expected = g_strdup_printf ("%s:%s", path, c->message);

  if (cdviz_config_add_file (config, path, &error))
    pipeline = cdviz_pipeline_new (config, NULL, &error);
  g_assert_null (pipeline);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, c->code);
  if (!g_str_has_prefix (error->message, expected))
    g_error ("message\n  “%s”\ndoes not start with\n  “%s”", error->message, expected);
}

static void
test_disabled_unchecked (void)
{
  /* A disabled component of a type we do not have (cdviz-collector's "db")
   * does not stop a configuration written for cdviz-collector. */
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cdviz_config_add_string (config, "[sinks.database]\nenabled = false\ntype = \"db\"\nurl = \"postgres://\"\n", NULL, &error));
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pipeline);
}

/* cdviz-collector's base: its components are there, disabled, and one is
 * enabled by name alone; its keys load. */
static void
test_collector_base (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cdviz_config_add_string (config,
                                          "[http]\nroot_url = \"https://cdviz.example.com\"\n"
                                          "request_timeout = \"3s\"\n"
                                          "[sinks.debug]\nenabled = true\n"
                                          "[sources.s]\nenabled = true\ntransformer_refs = [\"log\", "
                                          "\"deduplicate_on_context_id\"]\n",
                                          NULL, &error));
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cdviz_pipeline_get_sink (pipeline, "debug"));
  g_assert_null (cdviz_pipeline_get_sink (pipeline, "database"));
}

static void
test_duration (void)
{
  guint64 ms = 0;

  g_assert_true (cdviz_parse_duration ("30s", &ms));
  g_assert_cmpuint (ms, ==, 30000);
  g_assert_true (cdviz_parse_duration ("45", &ms));
  g_assert_cmpuint (ms, ==, 45000);
  g_assert_true (cdviz_parse_duration ("500ms", &ms));
  g_assert_cmpuint (ms, ==, 500);
  g_assert_true (cdviz_parse_duration ("1m30s", &ms));
  g_assert_cmpuint (ms, ==, 90000);
  g_assert_true (cdviz_parse_duration ("2h", &ms));
  g_assert_cmpuint (ms, ==, 7200000);
  g_assert_false (cdviz_parse_duration ("", &ms));
  g_assert_false (cdviz_parse_duration ("s", &ms));
  g_assert_false (cdviz_parse_duration ("10 parsecs", &ms));
  g_assert_false (cdviz_parse_duration ("-1s", &ms));
  g_assert_false (cdviz_parse_duration ("99999999999999999999s", &ms));
}

static void
test_print_roundtrip (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizConfig) again = cdviz_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *printed = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  g_assert_true (cdviz_config_add_default (config, &error));
  g_assert_true (cdviz_config_add_string (config,
                                          "[sinks.x]\ntype = \"debug\"\nheaders = { \"X-Key\" = { type = \"exists\" }, \"a b\" = { type = \"matches\", pattern = \"^a\\\"\\\\d\" } }\nlist = [1, 2.5, true, \"s\"]\n",
                                          NULL, &error));
  g_assert_no_error (error);
  printed = cdviz_config_to_toml (config);
  g_assert_true (cdviz_config_add_string (again, printed, "printed", &error));
  g_assert_no_error (error);
  a = json_to_string (cdviz_config_get_root (config), FALSE);
  b = json_to_string (cdviz_config_get_root (again), FALSE);
  /* Printing redacts secrets, such as the base's database password: the
   * rest comes back as it was. */
  g_assert_nonnull (strstr (a, "postgres:passwd@"));
  g_assert_null (strstr (printed, "passwd"));
  {
    g_autoptr(GString) redacted = g_string_new (a);

    g_string_replace (redacted, "postgres:passwd@", "postgres:<redacted>@", 0);
    g_assert_cmpstr (redacted->str, ==, b);
  }
}

static void
test_print_redacts (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *printed = NULL;

  g_assert_true (cdviz_config_add_string (config,
                                          "[sinks.x]\ntype = \"debug\"\nheaders = { \"X-Sig\" = { type = \"signature\", token = \"topsecret\" }, \"Authorization\" = { type = \"equals\", value = \"Bearer hunter2\" } }\n",
                                          NULL, &error));
  printed = cdviz_config_to_toml (config);
  g_assert_null (strstr (printed, "topsecret"));
  g_assert_null (strstr (printed, "hunter2"));
  g_assert_nonnull (strstr (printed, "value = \"<redacted>\""));
  g_assert_nonnull (strstr (printed, "token = \"<redacted>\""));
}

/* The password of a URL (a db sink's `url`) is redacted whatever the key;
 * a URL without one, or text that is not a URL, is printed unchanged. */
static void
test_print_redacts_url (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *printed = NULL;

  g_assert_true (cdviz_config_add_string (config,
                                          "[sinks.database]\nenabled = false\ntype = \"db\"\n"
                                          "url = \"postgresql://cdviz:p%40ss:w0rd@db.example:5432/cdviz?sslmode=require\"\n"
                                          "[sinks.other]\nenabled = false\nurl = \"postgres://user@host/db\"\n"
                                          "note = \"a:b@c\"\n",
                                          NULL, &error));
  g_assert_no_error (error);
  printed = cdviz_config_to_toml (config);
  g_assert_null (strstr (printed, "w0rd"));
  g_assert_nonnull (strstr (printed, "url = \"postgresql://cdviz:<redacted>@db.example:5432/cdviz?sslmode=require\""));
  g_assert_nonnull (strstr (printed, "url = \"postgres://user@host/db\""));
  g_assert_nonnull (strstr (printed, "note = \"a:b@c\""));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("CDVIZ_PLUGIN_SYSTEM_PATH", "", TRUE);

  g_test_add_func ("/config/layers", test_layers);
  g_test_add_func ("/config/file-secret", test_file_secret);
  g_test_add_func ("/config/file-secret-missing", test_file_secret_missing);
  g_test_add_func ("/config/disabled-unchecked", test_disabled_unchecked);
  g_test_add_func ("/config/collector-base", test_collector_base);
  g_test_add_func ("/config/duration", test_duration);
  g_test_add_func ("/config/print/roundtrip", test_print_roundtrip);
  g_test_add_func ("/config/print/redacts", test_print_redacts);
  g_test_add_func ("/config/print/redacts-url", test_print_redacts_url);
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/config/error/%s", error_cases[i].name);
      g_test_add_data_func (name, &error_cases[i], test_error_case);
    }

  return g_test_run ();
}
