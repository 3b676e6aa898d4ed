/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "cdviz.h"

/* The jq transformer plugin, loaded from the build tree through the registry
 * (CDVIZ_PLUGIN_DIR/jq/cdviz-jq.so), and the example configurations and jq
 * programs of data/examples/ run over the CDEvents conformance events. */

static CdvizRegistry *registry;   /* with the jq plugin loaded, or NULL */
static GType jq_type;
static GQuark jq_error;

static gboolean
require_plugin (void)
{
  if (jq_type == G_TYPE_INVALID)
    {
      g_test_skip ("the jq plugin was not built (libjq missing or -Djq=disabled)");
      return FALSE;
    }
  return TRUE;
}

static GObject *
new_jq (const char  *filter,
        GError     **error)
{
  return g_initable_new (jq_type, NULL, error, "filter", filter, NULL);
}

static GObject *
new_jq_ok (const char *filter)
{
  g_autoptr(GError) error = NULL;
  GObject *object = new_jq (filter, &error);

  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_assert_true (CDVIZ_IS_TRANSFORMER (object));
  return object;
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static CdvizMessage *
message_new (const char *body,
             const char *metadata,
             ...)
{
  g_autoptr(JsonNode) body_node = parse (body);
  g_autoptr(JsonNode) metadata_node = metadata ? parse (metadata) : NULL;
  g_autoptr(GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);
  const char *name;
  va_list args;

  va_start (args, metadata);
  while ((name = va_arg (args, const char *)) != NULL)
    g_hash_table_insert (headers, (gpointer) name, va_arg (args, char *));
  va_end (args);

  return cdviz_message_new (body_node, metadata_node, headers);
}

static GPtrArray *
run (GObject      *transformer,
     CdvizMessage *message,
     GError      **error)
{
  return cdviz_transformer_transform (CDVIZ_TRANSFORMER (transformer), message, error);
}

static GPtrArray *
run_ok (GObject      *transformer,
        CdvizMessage *message)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *out = run (transformer, message, &error);

  g_assert_no_error (error);
  g_assert_nonnull (out);
  return out;
}

/* Runs @filter over @message and expects a rejection; returns its message. */
static char *
run_rejected (const char   *filter,
              CdvizMessage *message,
              gint          code)
{
  g_autoptr(GObject) transformer = new_jq_ok (filter);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = run (transformer, message, &error);

  g_assert_null (out);
  g_assert_error (error, jq_error, code);
  return g_strdup (error->message);
}

static char *
to_json (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

static char *
body_json (CdvizMessage *message)
{
  return to_json (cdviz_message_get_body (message));
}

static char *
metadata_json (CdvizMessage *message)
{
  return to_json (cdviz_message_get_metadata (message));
}

static CdvizMessage *
nth (GPtrArray *messages,
     guint      i)
{
  return g_ptr_array_index (messages, i);
}

/* --- semantics ----------------------------------------------------------- */

static void
test_map (void)
{
  g_autoptr(GObject) upcase = NULL;
  g_autoptr(GObject) metadata_only = NULL;
  g_autoptr(GObject) keep = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GPtrArray) out = NULL;
  g_autofree char *json = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{\"context\":{\"id\":\"a1\"},\"subject\":{\"id\":\"x\"}}",
                         "{\"m\":1}", "X-Trace", "t1", NULL);

  /* A body change keeps metadata and headers (they are part of `.`). */
  upcase = new_jq_ok (".body.subject.id |= ascii_upcase");
  out = run_ok (upcase, message);
  g_assert_cmpuint (out->len, ==, 1);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{\"context\":{\"id\":\"a1\"},\"subject\":{\"id\":\"X\"}}");
  g_clear_pointer (&json, g_free);
  json = metadata_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{\"m\":1}");
  g_clear_pointer (&json, g_free);
  g_assert_cmpstr (cdviz_message_get_header (nth (out, 0), "x-trace"), ==, "t1");
  g_assert_true (json_node_is_immutable (cdviz_message_get_body (nth (out, 0))));
  g_clear_pointer (&out, g_ptr_array_unref);

  /* A metadata change: the body is the message's own sealed node, reused. */
  metadata_only = new_jq_ok (".metadata.n = 2");
  out = run_ok (metadata_only, message);
  g_assert_cmpuint (out->len, ==, 1);
  g_assert_true (nth (out, 0) != message);
  g_assert_true (cdviz_message_get_body (nth (out, 0)) == cdviz_message_get_body (message));
  json = metadata_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{\"m\":1,\"n\":2}");
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* Passing the input on unchanged passes the message itself on. */
  keep = new_jq_ok ("select(.body.context.id == \"a1\")");
  out = run_ok (keep, message);
  g_assert_cmpuint (out->len, ==, 1);
  g_assert_true (nth (out, 0) == message);
}

static void
test_input_shape (void)
{
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(CdvizMessage) bare = NULL;
  g_autoptr(GPtrArray) out = NULL;
  g_autofree char *json = NULL;

  if (!require_plugin ())
    return;

  /* Headers arrive lower-cased, sorted; absent metadata/headers out are
   * empty. */
  transformer = new_jq_ok ("{body: {keys: keys, m: .metadata, h: .headers, b: .body}}");
  message = message_new ("[1,2]", "{\"k\":\"v\"}", "X-B", "2", "X-A", "1", NULL);
  out = run_ok (transformer, message);
  g_assert_cmpuint (out->len, ==, 1);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==,
                   "{\"keys\":[\"body\",\"headers\",\"metadata\"],\"m\":{\"k\":\"v\"},"
                   "\"h\":{\"x-a\":\"1\",\"x-b\":\"2\"},\"b\":[1,2]}");
  g_clear_pointer (&json, g_free);
  json = metadata_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{}");
  g_clear_pointer (&json, g_free);
  g_assert_cmpuint (g_hash_table_size (cdviz_message_get_headers (nth (out, 0))), ==, 0);
  g_clear_pointer (&out, g_ptr_array_unref);

  bare = message_new ("{\"a\":null}", NULL, NULL);
  out = run_ok (transformer, bare);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==,
                   "{\"keys\":[\"body\",\"headers\",\"metadata\"],\"m\":{},\"h\":{},"
                   "\"b\":{\"a\":null}}");
}

static void
test_outputs_set_headers (void)
{
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GPtrArray) out = NULL;
  CdvizMessage *result;

  if (!require_plugin ())
    return;

  transformer = new_jq_ok (".headers += {\"X-Region\": \"eu\"} | .metadata = null");
  message = message_new ("{}", "{\"a\":1}", "x-old", "o", NULL);
  out = run_ok (transformer, message);
  g_assert_cmpuint (out->len, ==, 1);
  result = nth (out, 0);
  g_assert_cmpstr (cdviz_message_get_header (result, "x-region"), ==, "eu");
  g_assert_cmpstr (cdviz_message_get_header (result, "x-old"), ==, "o");
  g_assert_cmpuint (json_object_get_size (json_node_get_object (cdviz_message_get_metadata (result))), ==, 0);
}

static void
test_filter_to_empty (void)
{
  const char *filters[] = { "empty", "select(false)", "select(.body.keep)", "error(null)",
                            "halt", NULL };
  g_autoptr(CdvizMessage) message = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{\"keep\":false}", NULL, NULL);
  for (guint i = 0; filters[i] != NULL; i++)
    {
      g_autoptr(GObject) transformer = new_jq_ok (filters[i]);
      g_autoptr(GPtrArray) out = run_ok (transformer, message);

      g_test_message ("filter %s", filters[i]);
      g_assert_cmpuint (out->len, ==, 0);
    }
}

static void
test_multiple_outputs (void)
{
  g_autoptr(GObject) split = NULL;
  g_autoptr(GObject) twice = NULL;
  g_autoptr(GObject) halting = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GPtrArray) out = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{\"items\":[{\"n\":1},{\"n\":2},{\"n\":3}]}", "{\"src\":\"s\"}",
                         "x-h", "v", NULL);

  split = new_jq_ok (".metadata as $m | .body.items[] | {body: ., metadata: ($m + {n: .n})}");
  out = run_ok (split, message);
  g_assert_cmpuint (out->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *body = body_json (nth (out, i));
      g_autofree char *metadata = metadata_json (nth (out, i));
      g_autofree char *expected_body = g_strdup_printf ("{\"n\":%u}", i + 1);
      g_autofree char *expected_metadata = g_strdup_printf ("{\"src\":\"s\",\"n\":%u}", i + 1);

      g_assert_cmpstr (body, ==, expected_body);
      g_assert_cmpstr (metadata, ==, expected_metadata);
      g_assert_null (cdviz_message_get_header (nth (out, i), "x-h"));
    }
  g_clear_pointer (&out, g_ptr_array_unref);

  /* The same input twice: the same message twice. */
  twice = new_jq_ok (". , .");
  out = run_ok (twice, message);
  g_assert_cmpuint (out->len, ==, 2);
  g_assert_true (nth (out, 0) == message && nth (out, 1) == message);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* `halt` ends the outputs and keeps those before it. */
  halting = new_jq_ok (".body.items[0] |= . , halt");
  out = run_ok (halting, message);
  g_assert_cmpuint (out->len, ==, 1);
}

static void
test_max_outputs (void)
{
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(GObject) bounded = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = NULL;
  guint max = 0;

  if (!require_plugin ())
    return;

  message = message_new ("{}", NULL, NULL);
  transformer = new_jq_ok ("repeat(.)");
  g_object_get (transformer, "max-outputs", &max, NULL);
  g_assert_cmpuint (max, ==, 1000);
  out = run (transformer, message, &error);
  g_assert_null (out);
  g_assert_error (error, jq_error, 2 /* CDVIZ_JQ_ERROR_TOO_MANY_OUTPUTS */);
  g_assert_nonnull (strstr (error->message, "more than 1000 outputs"));
  g_clear_error (&error);

  bounded = g_initable_new (jq_type, NULL, &error, "filter", "range(3) as $i | .",
                            "max-outputs", 3, NULL);
  g_assert_no_error (error);
  out = run_ok (bounded, message);
  g_assert_cmpuint (out->len, ==, 3);
}

static void
test_runtime_error (void)
{
  g_autoptr(CdvizMessage) message = NULL;
  struct {
    const char *filter;
    const char *message;
  } cases[] = {
    { "error(\"boom: the event is not for us\")", "boom: the event is not for us" },
    { ".body.name.first", "Cannot index string with string \"first\"" },
    { "error({\"code\": 7})", "{\"code\":7}" },
    /* Outputs before the error are not passed on: the event is rejected. */
    { ". , error(\"late\")", "late" },
    { "\"stop here\" | halt_error", "stop here" },
    /* There is one input, already given: no more inputs. */
    { "[inputs] | error(\"inputs: \\(length)\")", "inputs: 0" },
    { "input", NULL /* libjq 1.6: "break", 1.7: "No more inputs" */ },
    { ".body + 1", "object ({\"name\":\"al...) and number (1) cannot be added" },
  };

  if (!require_plugin ())
    return;

  message = message_new ("{\"name\":\"alice\"}", NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = run_rejected (cases[i].filter, message,
                                            0 /* CDVIZ_JQ_ERROR_RUNTIME */);
      if (cases[i].message != NULL)
        g_assert_cmpstr (text, ==, cases[i].message);
      else
        g_assert_cmpstr (text, !=, "");
    }
}

static void
test_compile_error (void)
{
  struct {
    const char *filter;
    const char *fragments[3];
  } cases[] = {
    { ".a | |", { "key “filter”: invalid jq program", "syntax error", "1 compile error" } },
    { "no_such_function(1)", { "no_such_function/1 is not defined", "compile error", NULL } },
    { "import \"missing\" as m; .", { "module not found: missing", NULL, NULL } },
    { "{", { "syntax error", NULL, NULL } },
  };

  if (!require_plugin ())
    return;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = new_jq (cases[i].filter, &error);

      g_assert_null (object);
      g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
      for (guint f = 0; f < 3 && cases[i].fragments[f]; f++)
        {
          if (strstr (error->message, cases[i].fragments[f]) == NULL)
            g_error ("“%s” not in “%s”", cases[i].fragments[f], error->message);
        }
    }

  /* No program at all. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = new_jq (i == 0 ? NULL : "  \n", &error);

      g_assert_null (object);
      g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY);
      g_assert_nonnull (strstr (error->message, "“filter” is required"));
    }
}

static char *
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

static CdvizPipeline *
pipeline_from_file (const char  *path,
                    CdvizRegistry *reg,
                    GError     **error)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();

  if (!cdviz_config_add_file (config, path, error))
    return NULL;
  return cdviz_pipeline_new (config, reg, error);
}

static void
test_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *good = NULL;
  g_autofree char *program = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *typo = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(CdvizPipeline) pipeline = NULL;

  if (!require_plugin ())
    return;

  dir = g_dir_make_tmp ("cdviz-jq-XXXXXX", &error);
  g_assert_no_error (error);

  /* A compile error names the file and line of the transformer and
   * carries jq's message. */
  bad = write_file (dir, "bad.toml",
                    "[http]\nport = 0\n\n[transformers.broken]\ntype = \"jq\"\n"
                    "filter = '.body | map('\n");
  pipeline = pipeline_from_file (bad, registry, &error);
  g_assert_null (pipeline);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
  expected = g_strdup_printf ("%s:4: key “filter”: invalid jq program:\njq: error: syntax error", bad);
  if (!g_str_has_prefix (error->message, expected))
    g_error ("unexpected: %s", error->message);
  g_assert_nonnull (strstr (error->message, "jq: 1 compile error"));
  g_clear_error (&error);

  /* filter_file, relative to the config file; max_outputs from TOML. */
  program = write_file (dir, "program.jq", "# a comment\n.metadata.ok = true\n");
  good = write_file (dir, "good.toml",
                     "[http]\nport = 0\n\n[sources.in]\nenabled = true\ntransformer_refs = [\"mark\"]\n\n"
                     "[transformers.mark]\ntype = \"jq\"\nfilter_file = \"program.jq\"\n"
                     "max_outputs = 5\n");
  pipeline = pipeline_from_file (good, registry, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pipeline);
  g_clear_object (&pipeline);

  /* No filter. */
  missing = write_file (dir, "missing.toml", "[transformers.nothing]\ntype = \"jq\"\n");
  pipeline = pipeline_from_file (missing, registry, &error);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("%s:1: key “filter” is required", missing);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_clear_error (&error);

  /* Unknown key: the loader lists the jq transformer's keys. */
  typo = write_file (dir, "typo.toml", "[transformers.t]\ntype = \"jq\"\nfliter = \".\"\n");
  pipeline = pipeline_from_file (typo, registry, &error);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_nonnull (strstr (error->message, "filter, max_outputs"));
  g_clear_error (&error);

  {
    const char *files[] = { "bad.toml", "good.toml", "program.jq", "missing.toml", "typo.toml" };

    for (guint i = 0; i < G_N_ELEMENTS (files); i++)
      {
        g_autofree char *path = g_build_filename (dir, files[i], NULL);
        g_unlink (path);
      }
  }
  g_rmdir (dir);
}

static void
test_invalid_output (void)
{
  g_autoptr(CdvizMessage) message = NULL;
  struct {
    const char *filter;
    const char *message;
  } cases[] = {
    { "1", "jq filter output 1 is a number, not an object with a “body” (and optional "
           "“metadata” and “headers”)" },
    { ".body", "jq filter output 1 has no “body” (outputs are objects with a “body” and "
               "optional “metadata” and “headers”; to change the event, assign to .body)" },
    { "[.]", "jq filter output 1 is an array, not an object with a “body” (and optional "
             "“metadata” and “headers”)" },
    { "{metadata: {}}", "jq filter output 1 has no “body” (outputs are objects with a “body” and "
                        "optional “metadata” and “headers”; to change the event, assign to .body)" },
    { "{body: null}", "jq filter output 1: “body” is null" },
    { "., {body: 1, meta: {}}", "jq filter output 2 has an unknown key “meta” (expected "
                                "“body”, “metadata” and “headers”)" },
    { "{body: 1, metadata: [1]}", "jq filter output 1: “metadata” must be an object, not an array" },
    { "{body: 1, headers: \"x\"}", "jq filter output 1: “headers” must be an object, not a string" },
    { "{body: 1, headers: {\"x-n\": 1}}", "jq filter output 1: header “x-n” must be a string, not a number" },
    { "{body: 1, headers: {\"x-n\": \"a\\r\\nb: c\"}}", "jq filter output 1: header “x-n” contains a line break" },
    { "{body: 1, headers: {\"\": \"a\"}}", "jq filter output 1: “” is not a valid header name" },
  };

  if (!require_plugin ())
    return;

  message = message_new ("{\"subject\":\"x\"}", NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = run_rejected (cases[i].filter, message,
                                            1 /* CDVIZ_JQ_ERROR_OUTPUT */);
      g_assert_cmpstr (text, ==, cases[i].message);
    }
}

static void
test_numbers (void)
{
  g_autoptr(GObject) touch = NULL;
  g_autoptr(GObject) compute = NULL;
  g_autoptr(GObject) special = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(CdvizMessage) clash = NULL;
  g_autoptr(GPtrArray) out = NULL;
  g_autofree char *json = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{\"big\":9007199254740993,\"max\":9223372036854775807,"
                         "\"min\":-9223372036854775808,\"exact\":-9007199254740993,"
                         "\"small\":42,\"neg\":-7,\"tenth\":0.1,\"huge\":1.5e300,"
                         "\"tiny\":-2.5e-300,\"third\":0.3333333333333333}",
                         NULL, NULL);

  /* The body changes elsewhere: numbers passed through keep their exact
   * value, big integers included. */
  touch = new_jq_ok (".body.added = true");
  out = run_ok (touch, message);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==,
                   "{\"big\":9007199254740993,\"max\":9223372036854775807,"
                   "\"min\":-9223372036854775808,\"exact\":-9007199254740993,"
                   "\"small\":42,\"neg\":-7,\"tenth\":0.10000000000000001,\"huge\":1.5000000000000001e+300,"
                   "\"tiny\":-2.5e-300,\"third\":0.33333333333333331,\"added\":true}");
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* Computed numbers: integers stay integers, fractions doubles. */
  compute = new_jq_ok ("{body: {sum: (.body.small + 1), half: (.body.small / 4), "
                       "whole: (.body.small / 2), neg: (.body.neg * 3), "
                       "e15: 1e15, pow: pow(2; 62), str: (.body.max | tostring)}}");
  out = run_ok (compute, message);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==,
                   "{\"sum\":43,\"half\":10.5,\"whole\":21,\"neg\":-21,\"e15\":1000000000000000,"
                   "\"pow\":4611686018427387904,\"str\":\"9223372036854776000\"}");
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* Beyond gint64: a double. (Checked on the node: JSON-GLib 1.6 prints
   * 1e19 as "1e+19.0".) */
  g_clear_object (&compute);
  compute = new_jq_ok ("{body: [1e19, -3e20]}");
  out = run_ok (compute, message);
  {
    JsonArray *array = json_node_get_array (cdviz_message_get_body (nth (out, 0)));

    g_assert_cmpuint (json_node_get_value_type (json_array_get_element (array, 0)), ==, G_TYPE_DOUBLE);
    g_assert_cmpfloat (json_array_get_double_element (array, 0), ==, 1e19);
    g_assert_cmpfloat (json_array_get_double_element (array, 1), ==, -3e20);
  }
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* What JSON cannot hold comes out as jq prints it. */
  special = new_jq_ok ("{body: [nan, infinite, -infinite, -0]}");
  out = run_ok (special, message);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "[null,1.7976931348623157e+308,-1.7976931348623157e+308,0]");
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&out, g_ptr_array_unref);

  /* Two input integers with the same double: the exact value is lost, jq's
   * double comes out. */
  clash = message_new ("{\"a\":9007199254740993,\"b\":9007199254740992}", NULL, NULL);
  out = run_ok (touch, clash);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{\"a\":9007199254740992,\"b\":9007199254740992,\"added\":true}");
}

static void
test_unicode (void)
{
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GPtrArray) out = NULL;
  g_autofree char *json = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{\"s\":\"héllo wörld ☃ 😀\",\"ключ\":\"значение\","
                         "\"esc\":\"tab\\tquote\\\"\\u00e9\"}",
                         "{\"région\":\"Île-de-France\"}", "x-name", "zoë", NULL);
  transformer = new_jq_ok (".body.len = (.body.s | length) "
                           "| .body.bytes = (.body.s | utf8bytelength) "
                           "| .body.emoji = \"\\ud83d\\ude00\" "
                           "| .body.keys = (.body | keys_unsorted) "
                           "| .metadata.h = .headers[\"x-name\"]");
  out = run_ok (transformer, message);
  json = body_json (nth (out, 0));
  g_assert_cmpstr (json, ==,
                   "{\"s\":\"héllo wörld ☃ 😀\",\"ключ\":\"значение\","
                   "\"esc\":\"tab\\tquote\\\"é\",\"len\":15,\"bytes\":22,\"emoji\":\"😀\","
                   "\"keys\":[\"s\",\"ключ\",\"esc\",\"len\",\"bytes\",\"emoji\"]}");
  g_clear_pointer (&json, g_free);
  json = metadata_json (nth (out, 0));
  g_assert_cmpstr (json, ==, "{\"région\":\"Île-de-France\",\"h\":\"zoë\"}");
}

static void
test_deep (void)
{
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = NULL;

  if (!require_plugin ())
    return;

  message = message_new ("{}", NULL, NULL);
  transformer = new_jq_ok ("{body: (reduce range(2000) as $i (0; [.]))}");
  out = run (transformer, message, &error);
  g_assert_null (out);
  g_assert_error (error, jq_error, 1 /* CDVIZ_JQ_ERROR_OUTPUT */);
  g_assert_nonnull (strstr (error->message, "nested deeper than 1000 levels"));
}

/* --- the examples over the conformance events ----------------------------- */

typedef struct {
  char *name;          /* e.g. "build_started" */
  CdvizMessage *message;
  JsonNode *body;      /* a mutable copy, for variants */
} Event;

static void
event_free (Event *event)
{
  g_free (event->name);
  g_clear_object (&event->message);
  g_clear_pointer (&event->body, json_node_unref);
  g_free (event);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
conformance_events (void)
{
  const char *shared = g_getenv ("CDVIZ_SHARED");
  g_autofree char *dir_path = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
  const char *name;

  g_assert_nonnull (shared);
  dir_path = g_build_filename (shared, "cdevents", "v0.4.1", "conformance", NULL);
  dir = g_dir_open (dir_path, 0, NULL);
  if (dir == NULL)
    return events;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".json"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);   /* deterministic */

  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir_path, file, NULL);
      g_autofree char *data = NULL;
      g_autoptr(GError) error = NULL;
      Event *event = g_new0 (Event, 1);
      g_autoptr(JsonNode) metadata = parse ("{\"received_by\":\"test\"}");
      g_autoptr(GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);

      g_assert_true (g_file_get_contents (path, &data, NULL, &error));
      g_assert_no_error (error);
      event->name = g_strndup (file, strlen (file) - 5);
      event->body = parse (data);
      g_hash_table_insert (headers, "content-type", "application/json");
      event->message = cdviz_message_new (event->body, metadata, headers);
      g_ptr_array_add (events, event);
    }
  return events;
}

static char *
example_path (const char *name)
{
  return g_build_filename (g_getenv ("CDVIZ_SOURCE_ROOT"), "data", "examples", name, NULL);
}

static GObject *
example_transformer (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.jq", name);
  g_autofree char *path = NULL;
  g_autofree char *filter = NULL;
  g_autoptr(GError) error = NULL;

  path = g_build_filename (g_getenv ("CDVIZ_SOURCE_ROOT"), "data", "examples", "jq", file, NULL);
  g_assert_true (g_file_get_contents (path, &filter, NULL, &error));
  g_assert_no_error (error);
  return new_jq_ok (filter);
}

static JsonObject *
object_at (JsonNode   *node,
           const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      node = json_object_get_member (json_node_get_object (node), parts[i]);
      g_assert_nonnull (node);
    }
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_node_get_object (node);
}

static CdvizMessage *
variant (Event      *event,
         const char *content_json)
{
  g_autoptr(JsonNode) body = json_node_copy (event->body);
  g_autoptr(JsonNode) content = parse (content_json);
  JsonObject *subject = object_at (body, "subject");
  JsonNode *old = json_object_get_member (subject, "content");
  g_autoptr(GList) members = NULL;

  /* The event's content plus the given keys. */
  if (old != NULL && JSON_NODE_HOLDS_OBJECT (old))
    {
      members = json_object_get_members (json_node_get_object (old));
      for (GList *l = members; l; l = l->next)
        if (!json_object_has_member (json_node_get_object (content), l->data))
          json_object_set_member (json_node_get_object (content), l->data,
                                  json_node_copy (json_object_get_member (json_node_get_object (old), l->data)));
    }
  json_object_set_member (subject, "content", g_steal_pointer (&content));
  return cdviz_message_new (body, cdviz_message_get_metadata (event->message),
                            cdviz_message_get_headers (event->message));
}

static void
assert_metadata_has (CdvizMessage *message,
                     const char   *expected_json)
{
  g_autoptr(JsonNode) expected = parse (expected_json);
  JsonObject *metadata = json_node_get_object (cdviz_message_get_metadata (message));
  g_autoptr(GList) members = json_object_get_members (json_node_get_object (expected));

  for (GList *l = members; l; l = l->next)
    {
      JsonNode *got = json_object_get_member (metadata, l->data);

      if (got == NULL || !json_node_equal (got, json_object_get_member (json_node_get_object (expected), l->data)))
        g_error ("metadata %s: expected %s", (char *) l->data, expected_json);
    }
  /* What the message had is kept. */
  g_assert_cmpstr (json_object_get_string_member (metadata, "received_by"), ==, "test");
}

static void
test_example_build_filter (void)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GObject) transformer = NULL;
  g_autoptr(GString) kept = g_string_new (NULL);

  if (!require_plugin ())
    return;

  events = conformance_events ();
  g_assert_cmpuint (events->len, >, 40);
  transformer = example_transformer ("build_filter");
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);
      g_autoptr(GPtrArray) out = run_ok (transformer, event->message);

      g_assert_cmpuint (out->len, <=, 1);
      if (out->len == 1)
        {
          g_assert_true (nth (out, 0) == event->message);
          g_string_append_printf (kept, "%s%s", kept->len ? "," : "", event->name);
        }
    }
  g_assert_cmpstr (kept->str, ==, "build_finished,build_queued,build_started");
}

static void
test_example_regional (void)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GObject) transformer = NULL;

  if (!require_plugin ())
    return;

  events = conformance_events ();
  transformer = example_transformer ("add_regional_metadata");
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);
      g_autoptr(GPtrArray) out = run_ok (transformer, event->message);

      g_assert_cmpuint (out->len, ==, 1);
      /* Body and headers as they were: the very same body node. */
      g_assert_true (cdviz_message_get_body (nth (out, 0)) == cdviz_message_get_body (event->message));
      g_assert_cmpstr (cdviz_message_get_header (nth (out, 0), "content-type"), ==, "application/json");
      assert_metadata_has (nth (out, 0), "{\"region\":\"us-east-1\",\"aggregation_ready\":true,"
                                         "\"collector_id\":\"regional-us-east\"}");
    }
}

static void
test_example_sanitize (void)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GObject) transformer = NULL;

  if (!require_plugin ())
    return;

  events = conformance_events ();
  transformer = example_transformer ("sanitize_for_internal");
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);
      g_autoptr(CdvizMessage) dirty = variant (event, "{\"sensitive_data\":{\"password\":\"hunter2\"},"
                                                      "\"kept\":\"yes\"}");
      g_autoptr(GPtrArray) out = run_ok (transformer, dirty);
      JsonNode *body;
      JsonObject *subject;
      JsonObject *content;
      g_autofree char *json = NULL;

      g_assert_cmpuint (out->len, ==, 1);
      body = cdviz_message_get_body (nth (out, 0));
      subject = object_at (body, "subject");
      content = object_at (body, "subject.content");
      g_assert_false (json_object_has_member (content, "sensitive_data"));
      g_assert_cmpstr (json_object_get_string_member (content, "kept"), ==, "yes");
      g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (body), "context"),
                                      json_object_get_member (json_node_get_object (event->body), "context")));
      g_assert_cmpstr (json_object_get_string_member (subject, "id"), ==,
                       json_object_get_string_member (object_at (event->body, "subject"), "id"));
      json = body_json (nth (out, 0));
      g_assert_null (strstr (json, "hunter2"));
      assert_metadata_has (nth (out, 0), "{\"sanitized_for\":\"internal_consumption\","
                                         "\"public_collector_id\":\"dmz-collector-1\"}");
    }
}

static void
test_example_corporate (void)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GObject) transformer = NULL;
  struct {
    const char *content;
    gboolean kept;
  } cases[] = {
    { "{}", FALSE },
    { "{\"importance\":\"high\"}", TRUE },
    { "{\"importance\":\"low\"}", FALSE },
    { "{\"category\":\"security\"}", TRUE },
    { "{\"category\":\"compliance\",\"importance\":\"low\"}", TRUE },
    { "{\"category\":\"marketing\"}", FALSE },
  };

  if (!require_plugin ())
    return;

  events = conformance_events ();
  transformer = example_transformer ("filter_corporate_events");
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);
      g_autoptr(GPtrArray) as_is = run_ok (transformer, event->message);

      /* No conformance event is important. */
      g_assert_cmpuint (as_is->len, ==, 0);
      for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
        {
          g_autoptr(CdvizMessage) message = variant (event, cases[c].content);
          g_autoptr(GPtrArray) out = run_ok (transformer, message);

          g_assert_cmpuint (out->len, ==, cases[c].kept ? 1 : 0);
          if (cases[c].kept)
            {
              g_assert_true (cdviz_message_get_body (nth (out, 0)) == cdviz_message_get_body (message));
              assert_metadata_has (nth (out, 0), "{\"corporate_filtered\":true,"
                                                 "\"escalation_level\":\"corporate\"}");
            }
        }
    }
}

static void
test_example_anonymize (void)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GObject) transformer = NULL;

  if (!require_plugin ())
    return;

  events = conformance_events ();
  transformer = example_transformer ("anonymize_for_dev");
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);
      g_autoptr(CdvizMessage) message = variant (event, "{\"user_id\":\"u-123\",\"sensitive_field\":\"x\"}");
      g_autoptr(GPtrArray) out = run_ok (transformer, message);
      JsonNode *body;
      JsonObject *context;
      JsonObject *original_context = object_at (event->body, "context");
      JsonObject *content;
      g_autofree char *source = NULL;
      g_autofree char *subject_id = NULL;

      g_assert_cmpuint (out->len, ==, 1);
      body = cdviz_message_get_body (nth (out, 0));
      context = object_at (body, "context");
      content = object_at (body, "subject.content");
      source = g_strconcat ("anonymized-", json_object_get_string_member (original_context, "source"), NULL);
      subject_id = g_strconcat ("dev-", json_object_get_string_member (object_at (event->body, "subject"), "id"), NULL);
      g_assert_cmpstr (json_object_get_string_member (context, "source"), ==, source);
      g_assert_cmpstr (json_object_get_string_member (context, "id"), ==,
                       json_object_get_string_member (original_context, "id"));
      g_assert_cmpstr (json_object_get_string_member (object_at (body, "subject"), "id"), ==, subject_id);
      g_assert_cmpstr (json_object_get_string_member (content, "user_id"), ==, "anonymous");
      g_assert_true (json_object_get_null_member (content, "sensitive_field"));
      assert_metadata_has (nth (out, 0), "{\"anonymized_for\":\"development\","
                                         "\"original_environment\":\"production\"}");
    }
}

/* Every example configuration loads, given the plugins it needs. */
static void
test_example_configs (void)
{
  const char *secrets[] = {
    "CENTRAL_AGGREGATOR_TOKEN", "INTERNAL_BRIDGE_TOKEN", "TEAM_COLLECTOR_TOKEN",
    "CORPORATE_COLLECTOR_TOKEN", "STAGING_MIRROR_TOKEN", "ADMIN_SSE_TOKEN",
    "PRIMARY_CLOUD_TOKEN", "DR_CLOUD_TOKEN", "COMPLIANCE_AUDIT_TOKEN",
  };
  g_autoptr(CdvizRegistry) full = cdviz_registry_new ();
  /* Only the plugins the examples use: others link libraries (OpenSSL…)
   * whose thread-local storage crashes LeakSanitizer's tracer at exit. */
  g_autofree char *jq_dir = g_build_filename (g_getenv ("CDVIZ_PLUGIN_DIR"), "jq", NULL);
  g_autofree char *sse_dir = g_build_filename (g_getenv ("CDVIZ_PLUGIN_DIR"), "sse", NULL);
  g_autofree char *webhook_dir = g_build_filename (g_getenv ("CDVIZ_PLUGIN_DIR"), "webhook", NULL);
  const char *dirs[] = { jq_dir, sse_dir, webhook_dir, NULL };
  g_autofree char *dir_path = example_path ("");
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint checked = 0;

  if (!require_plugin ())
    return;

  cdviz_registry_load_plugins (full, dirs);
  if (cdviz_registry_lookup (full, CDVIZ_COMPONENT_SINK, "sse") == G_TYPE_INVALID ||
      cdviz_registry_lookup (full, CDVIZ_COMPONENT_SOURCE, "webhook") == G_TYPE_INVALID)
    {
      g_test_skip ("the sse and webhook plugins are not built yet");
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    g_setenv (secrets[i], "test-secret", TRUE);

  dir = g_dir_open (dir_path, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(CdvizPipeline) pipeline = NULL;
      g_autoptr(GError) error = NULL;

      if (!g_str_has_suffix (name, ".toml"))
        continue;
      path = example_path (name);
      /* scale-out.toml needs the nats plugin, checked by test_nats.py. */
      if (g_str_equal (name, "scale-out.toml"))
        continue;
      g_test_message ("checking %s", path);
      pipeline = pipeline_from_file (path, full, &error);
      g_assert_no_error (error);
      g_assert_true (cdviz_pipeline_check (pipeline, &error));
      g_assert_no_error (error);
      checked++;
    }
  /* The jq examples and the others (tests/integration/test_docs.py checks
   * them all with the program). */
  g_assert_cmpuint (checked, >=, 10);
}

/* --- through a running pipeline ------------------------------------------ */

#define TEST_TYPE_COLLECT_SINK (test_collect_sink_get_type ())
G_DECLARE_FINAL_TYPE (TestCollectSink, test_collect_sink, TEST, COLLECT_SINK, GObject)

struct _TestCollectSink
{
  GObject parent_instance;
};

static GMutex collected_lock;
static GPtrArray *collected;   /* CdvizMessage */

static void collect_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCollectSink, test_collect_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, collect_iface_init))

static gboolean
collect_send (CdvizSink     *sink,
              CdvizMessage  *message,
              GError       **error)
{
  g_mutex_lock (&collected_lock);
  g_ptr_array_add (collected, g_object_ref (message));
  g_mutex_unlock (&collected_lock);
  return TRUE;
}

static void
collect_iface_init (CdvizSinkInterface *iface)
{
  iface->send_message = collect_send;
}

static void test_collect_sink_class_init (TestCollectSinkClass *klass) {}
static void test_collect_sink_init (TestCollectSink *self) {}

static void
test_pipeline (void)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autofree char *toml = NULL;
  g_autofree char *filter = example_path ("jq/build_filter.jq");
  g_autoptr(GString) got = g_string_new (NULL);

  if (!require_plugin ())
    return;

  /* Runs on the pipeline thread, not on the thread that compiled it. */
  toml = g_strdup_printf ("[http]\nport = 0\n"
                          "[sources.in]\nenabled = true\ntransformer_refs = [\"builds\", \"tag\"]\n"
                          "[transformers.builds]\ntype = \"jq\"\nfilter_file = \"%s\"\n"
                          "[transformers.tag]\ntype = \"jq\"\n"
                          "filter = '.metadata.n = (.body.context.type | split(\".\")[3])'\n"
                          "[sinks.out]\ntype = \"test-jq-collect\"\n", filter);
  g_assert_true (cdviz_config_add_string (config, toml, "test", &error));
  g_assert_no_error (error);
  pipeline = cdviz_pipeline_new (config, registry, &error);
  g_assert_no_error (error);
  g_assert_true (cdviz_pipeline_start (pipeline, &error));
  g_assert_no_error (error);

  events = conformance_events ();
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = g_ptr_array_index (events, i);

      g_assert_true (cdviz_pipeline_push (pipeline, "in", event->message, &error));
      g_assert_no_error (error);
    }
  cdviz_pipeline_flush (pipeline);
  cdviz_pipeline_stop (pipeline);

  g_mutex_lock (&collected_lock);
  for (guint i = 0; i < collected->len; i++)
    {
      JsonObject *metadata = json_node_get_object (cdviz_message_get_metadata (nth (collected, i)));
      g_string_append_printf (got, "%s%s", i ? "," : "",
                              json_object_get_string_member (metadata, "n"));
    }
  g_ptr_array_set_size (collected, 0);
  g_mutex_unlock (&collected_lock);
  g_assert_cmpstr (got->str, ==, "finished,queued,started");
}

/* Transformers may be called from several threads at once (each call
 * borrows its own compiled jq state). */
static gpointer
hammer (gpointer data)
{
  GObject *transformer = data;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"n\":%u}", i);
      g_autoptr(CdvizMessage) message = message_new (json, NULL, NULL);
      g_autoptr(GPtrArray) out = run_ok (transformer, message);
      g_autofree char *body = NULL;
      g_autofree char *expected = g_strdup_printf ("{\"n\":%u}", i * 2);

      g_assert_cmpuint (out->len, ==, 1);
      body = body_json (nth (out, 0));
      g_assert_cmpstr (body, ==, expected);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr(GObject) transformer = NULL;
  GThread *threads[4];

  if (!require_plugin ())
    return;

  transformer = new_jq_ok (".body.n *= 2");
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("jq", hammer, transformer);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

int
main (int   argc,
      char *argv[])
{
  const char *plugin_dir = g_getenv ("CDVIZ_PLUGIN_DIR");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  registry = cdviz_registry_new ();
  g_assert_nonnull (plugin_dir);
  path = g_build_filename (plugin_dir, "jq", "cdviz-jq." G_MODULE_SUFFIX, NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (!cdviz_registry_load_plugin (registry, path, &error))
        g_error ("%s", error->message);
      jq_type = cdviz_registry_lookup (registry, CDVIZ_COMPONENT_TRANSFORMER, "jq");
      g_assert_true (jq_type != G_TYPE_INVALID);
      jq_error = g_quark_from_static_string ("cdviz-jq-error-quark");
    }
  g_assert_true (cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "test-jq-collect",
                                               TEST_TYPE_COLLECT_SINK, NULL));
  collected = g_ptr_array_new_with_free_func (g_object_unref);

  g_test_add_func ("/jq/map", test_map);
  g_test_add_func ("/jq/input-shape", test_input_shape);
  g_test_add_func ("/jq/headers", test_outputs_set_headers);
  g_test_add_func ("/jq/filter-to-empty", test_filter_to_empty);
  g_test_add_func ("/jq/multiple-outputs", test_multiple_outputs);
  g_test_add_func ("/jq/max-outputs", test_max_outputs);
  g_test_add_func ("/jq/runtime-error", test_runtime_error);
  g_test_add_func ("/jq/compile-error", test_compile_error);
  g_test_add_func ("/jq/config", test_config);
  g_test_add_func ("/jq/invalid-output", test_invalid_output);
  g_test_add_func ("/jq/numbers", test_numbers);
  g_test_add_func ("/jq/unicode", test_unicode);
  g_test_add_func ("/jq/deep", test_deep);
  g_test_add_func ("/jq/threads", test_threads);
  g_test_add_func ("/jq/pipeline", test_pipeline);
  g_test_add_func ("/jq/examples/build-filter", test_example_build_filter);
  g_test_add_func ("/jq/examples/regional-metadata", test_example_regional);
  g_test_add_func ("/jq/examples/sanitize", test_example_sanitize);
  g_test_add_func ("/jq/examples/corporate", test_example_corporate);
  g_test_add_func ("/jq/examples/anonymize", test_example_anonymize);
  g_test_add_func ("/jq/examples/configs", test_example_configs);

  status = g_test_run ();

  g_clear_pointer (&collected, g_ptr_array_unref);
  g_clear_object (&registry);
  return status;
}
