/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <cdviz.h>

/* An independent implementation of the content id: Python's hashlib and
 * base64, fed with json.dumps (sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False). Reads file names on argv, prints one id a line. */
static const char *python_compute_id =
  "import base64, hashlib, json, sys\n"
  "for path in sys.argv[1:]:\n"
  "    with open(path, 'rb') as f:\n"
  "        body = json.load(f)\n"
  "    body['context'].pop('id', None)\n"
  "    data = json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode('utf-8')\n"
  "    cid = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()\n"
  "    print('b' + base64.b32encode(cid).decode('ascii').lower().rstrip('='))\n";

static JsonNode *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonNode *
parse_file (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static const char *
context_string (JsonNode   *body,
                const char *member)
{
  JsonObject *context = json_object_get_object_member (json_node_get_object (body), "context");

  return json_object_get_string_member_with_default (context, member, NULL);
}

static char *
conformance_dir (void)
{
  const char *shared = g_getenv ("CDVIZ_SHARED");

  if (shared == NULL)
    shared = "../shared";
  return g_build_filename (shared, "cdevents", "v0.4.1", "conformance", NULL);
}

/* cdviz-collector's own test vector (src/sources/mod.rs): the id of this
 * event, with its id "0" or missing. */
static const char *collector_event =
  "{\"context\": {\"id\": \"0\", \"source\": \"/event/source/123\","
  " \"type\": \"dev.cdevents.service.deployed.0.1.1\","
  " \"timestamp\": \"2023-03-20T14:27:05.315384Z\"},"
  " \"subject\": {\"id\": \"mySubject123\", \"source\": \"/event/source/123\","
  " \"type\": \"service\", \"content\": {\"environment\": {\"id\": \"test123\"},"
  " \"artifactId\": \"pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427\"}}}";

static void
test_compute_id_collector_vector (void)
{
  g_autoptr(JsonNode) body = parse (collector_event);
  g_autofree char *id = cdviz_cdevent_compute_id (body);
  g_autoptr(JsonNode) normalized = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (id, ==, "bafkreicuuogf3pc3lkdewdnngcnxgfrnontlfvtiihmxvcxqqxphxson3m");

  normalized = cdviz_cdevent_normalize (body, "http://other", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (context_string (normalized, "id"), ==, id);
  /* present fields are kept */
  g_assert_cmpstr (context_string (normalized, "source"), ==, "/event/source/123");
  g_assert_cmpstr (context_string (normalized, "timestamp"), ==, "2023-03-20T14:27:05.315384Z");
  /* the input is not modified */
  g_assert_cmpstr (context_string (body, "id"), ==, "0");
}

static void
test_compute_id_conformance (void)
{
  g_autofree char *dir_path = conformance_dir ();
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) expected = NULL;
  const char *name;
  int status;

  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".json"))
      g_ptr_array_add (files, g_build_filename (dir_path, name, NULL));
  g_assert_cmpuint (files->len, >, 10);

  g_ptr_array_add (argv, (char *) "/usr/bin/python3");
  g_ptr_array_add (argv, (char *) "-c");
  g_ptr_array_add (argv, (char *) python_compute_id);
  for (guint i = 0; i < files->len; i++)
    g_ptr_array_add (argv, files->pdata[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is needed for the reference implementation");
      return;
    }

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("python failed: %s", err);

  expected = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (expected), ==, files->len);

  for (guint i = 0; i < files->len; i++)
    {
      g_autoptr(JsonNode) body = parse_file (files->pdata[i]);
      g_autofree char *id = NULL;
      JsonObject *context;

      /* with the id removed */
      context = json_object_get_object_member (json_node_get_object (body), "context");
      json_object_remove_member (context, "id");
      id = cdviz_cdevent_compute_id (body);
      g_test_message ("%s: %s", (char *) files->pdata[i], id);
      g_assert_cmpstr (id, ==, expected[i]);
      g_assert_true (g_str_has_prefix (id, "bafkrei"));
    }
}

static void
test_compute_id_ignores_id (void)
{
  g_autoptr(JsonNode) a = parse ("{\"context\":{\"type\":\"t\",\"id\":\"0\"},\"x\":1}");
  g_autoptr(JsonNode) b = parse ("{\"x\":1,\"context\":{\"type\":\"t\"}}");
  g_autoptr(JsonNode) c = parse ("{\"x\":1,\"context\":{\"id\":\"\",\"type\":\"t\"}}");
  g_autoptr(JsonNode) d = parse ("{\"x\":2,\"context\":{\"id\":\"\",\"type\":\"t\"}}");
  g_autofree char *ida = cdviz_cdevent_compute_id (a);
  g_autofree char *idb = cdviz_cdevent_compute_id (b);
  g_autofree char *idc = cdviz_cdevent_compute_id (c);
  g_autofree char *idd = cdviz_cdevent_compute_id (d);

  g_autoptr(JsonNode) array = parse ("[1]");
  g_autofree char *none = cdviz_cdevent_compute_id (array);

  g_assert_null (none);
  g_assert_cmpstr (ida, ==, idb);
  g_assert_cmpstr (ida, ==, idc);
  g_assert_cmpstr (ida, !=, idd);
}

/* Escapes, non-ASCII, numbers: the canonical text must be Python's. */
static void
test_compute_id_canonical (void)
{
  const char *doc =
    "{\"context\":{\"type\":\"t\",\"id\":\"0\"},"
    "\"s\":\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 del\\u007f \\u00e9t\\u00e9 \\ud83d\\ude00 /\","
    "\"n\":[0,-1,9007199254740993,1.5,-0.25,100.0,1e20,1.5e-7,0.001,123456789.125,1e16,1e15],"
    "\"b\":[true,false,null],\"e\":{},\"a\":[],\"Z\":1,\"\\u00e9\":2,\"aa\":{\"b\":1,\"a\":2}}";
  g_autoptr(JsonNode) body = parse (doc);
  g_autofree char *id = cdviz_cdevent_compute_id (body);
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "/usr/bin/python3", "-c", python_compute_id, NULL, NULL };
  int fd, status;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is needed for the reference implementation");
      return;
    }

  fd = g_file_open_tmp ("cdviz-cdevent-XXXXXX.json", &path, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, doc, -1, NULL));
  close (fd);
  argv[3] = path;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &out, NULL, &status, &error);
  g_unlink (path);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (id, ==, g_strchomp (out));
}

static void
test_normalize_fills (void)
{
  g_autoptr(JsonNode) body = parse ("{\"context\":{\"type\":\"dev.cdevents.build.started.0.2.0\"},"
                                    "\"subject\":{\"id\":\"b1\"}}");
  g_autoptr(JsonNode) normalized = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) rfc3339 = g_regex_new ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
                                           0, 0, NULL);
  g_autoptr(GDateTime) parsed = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *expected_id = NULL;
  const char *timestamp;

  normalized = cdviz_cdevent_normalize (body, "http://127.0.0.1:8080/?source=hook", &error);
  g_assert_no_error (error);
  g_assert_nonnull (normalized);
  g_assert_true (normalized != body);

  timestamp = context_string (normalized, "timestamp");
  g_assert_nonnull (timestamp);
  g_assert_true (g_regex_match (rfc3339, timestamp, 0, NULL));
  parsed = g_date_time_new_from_iso8601 (timestamp, NULL);
  g_assert_nonnull (parsed);
  g_assert_cmpint (ABS (g_date_time_difference (now, parsed)), <, 5 * G_TIME_SPAN_SECOND);

  g_assert_cmpstr (context_string (normalized, "source"), ==, "http://127.0.0.1:8080/?source=hook");

  /* The id is computed last: over the filled timestamp and source. */
  expected_id = cdviz_cdevent_compute_id (normalized);
  g_assert_cmpstr (context_string (normalized, "id"), ==, expected_id);
  g_assert_true (g_str_has_prefix (expected_id, "bafkrei"));

  /* The input is untouched. */
  g_assert_null (context_string (body, "timestamp"));
  g_assert_null (context_string (body, "source"));
  g_assert_null (context_string (body, "id"));
}

/* cdviz_cdevent_parse() normalises the tree it parsed in place: the result
 * must be what cdviz_cdevent_normalize() gives for the same text, sealed,
 * and its errors those of the parser or of the checks. */
static void
test_parse_normalizes (void)
{
  const char *docs[] = {
    "{\"z\":1,\"context\":{\"type\":\"dev.cdevents.build.started.0.2.0\",\"b\":1},"
    "\"subject\":{\"id\":\"b1\",\"content\":{\"y\":[1,{\"x\":2}]}}}",
    "{\"context\":{\"type\":\"t\",\"id\":\"keep-me\",\"source\":\"/s\","
    "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},\"subject\":{}}",
    "{\"context\":{\"type\":\"t\",\"id\":\"0\",\"timestamp\":\"2023-03-20T14:27:05Z\"}}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr(JsonNode) body = parse (docs[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) parsed = cdviz_cdevent_parse (docs[i], -1, "http://h/?source=s", &error);
      g_autoptr(JsonNode) normalized = NULL;
      g_autofree char *parsed_text = NULL;
      g_autofree char *normalized_text = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (parsed);
      g_assert_true (json_node_is_immutable (parsed));
      g_assert_true (json_object_is_immutable (json_object_get_object_member (
        json_node_get_object (parsed), "context")));
      /* Same timestamp for both when it was missing: copy it over first. */
      if (context_string (body, "timestamp") == NULL)
        {
          g_autoptr(JsonNode) with_time = json_from_string (docs[i], NULL);
          json_object_set_string_member (json_object_get_object_member (
                                           json_node_get_object (with_time), "context"),
                                         "timestamp", context_string (parsed, "timestamp"));
          g_clear_pointer (&body, json_node_unref);
          body = g_steal_pointer (&with_time);
        }
      normalized = cdviz_cdevent_normalize (body, "http://h/?source=s", &error);
      g_assert_no_error (error);
      parsed_text = json_to_string (parsed, FALSE);
      normalized_text = json_to_string (normalized, FALSE);
      g_assert_cmpstr (parsed_text, ==, normalized_text);
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) parsed = cdviz_cdevent_parse ("{\"context\":", -1, NULL, &error);

    g_assert_null (parsed);
    g_assert_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID);
    g_assert_true (g_str_has_prefix (error->message, "invalid JSON: "));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) parsed = cdviz_cdevent_parse ("{\"context\":{\"type\":\"t\",\"id\":\"a\\nb\"}}",
                                                      -1, NULL, &error);

    g_assert_null (parsed);
    g_assert_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "CR, LF or NUL"));
  }
}

static void
test_normalize_keeps_order (void)
{
  g_autoptr(JsonNode) body = parse ("{\"z\":1,\"context\":{\"type\":\"t\",\"b\":1,\"a\":2},\"a\":{\"y\":1,\"x\":2}}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) normalized = cdviz_cdevent_normalize (body, "s", &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = json_to_string (normalized, FALSE);
  g_assert_true (g_str_has_prefix (text, "{\"z\":1,\"context\":{\"type\":\"t\",\"b\":1,\"a\":2,\"timestamp\":"));
  g_assert_true (g_str_has_suffix (text, "},\"a\":{\"y\":1,\"x\":2}}"));
}

static void
test_normalize_no_default_source (void)
{
  g_autoptr(JsonNode) body = parse ("{\"context\":{\"type\":\"t\",\"id\":\"keep\",\"timestamp\":\"x\"}}");
  g_autoptr(JsonNode) normalized = NULL;
  g_autoptr(GError) error = NULL;

  normalized = cdviz_cdevent_normalize (body, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (context_string (normalized, "source"));
  g_assert_cmpstr (context_string (normalized, "id"), ==, "keep");
  g_assert_cmpstr (context_string (normalized, "timestamp"), ==, "x");
}

static void
test_normalize_id_replaced (void)
{
  const char *docs[] = {
    "{\"context\":{\"type\":\"t\",\"id\":\"0\",\"source\":\"s\",\"timestamp\":\"x\"}}",
    "{\"context\":{\"type\":\"t\",\"id\":\"\",\"source\":\"s\",\"timestamp\":\"x\"}}",
    "{\"context\":{\"type\":\"t\",\"id\":null,\"source\":\"s\",\"timestamp\":\"x\"}}",
    "{\"context\":{\"type\":\"t\",\"source\":\"s\",\"timestamp\":\"x\"}}",
  };
  g_autofree char *first = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr(JsonNode) body = parse (docs[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) normalized = cdviz_cdevent_normalize (body, NULL, &error);

      g_assert_no_error (error);
      if (first == NULL)
        first = g_strdup (context_string (normalized, "id"));
      g_assert_cmpstr (context_string (normalized, "id"), ==, first);
    }
  g_assert_true (g_str_has_prefix (first, "bafkrei"));
}

static void
test_normalize_errors (void)
{
  struct {
    const char *doc;
    const char *reason;
  } cases[] = {
    { "[1,2]", "not a JSON object" },
    { "\"text\"", "not a JSON object" },
    { "42", "not a JSON object" },
    { "{}", "no “context” object" },
    { "{\"context\":\"x\"}", "no “context” object" },
    { "{\"context\":{}}", "no string “context.type”" },
    { "{\"context\":{\"type\":3}}", "no string “context.type”" },
    { "{\"context\":{\"type\":\"t\",\"id\":\"a\\nb\"}}", "CR, LF or NUL" },
    { "{\"context\":{\"type\":\"t\",\"id\":\"a\\rb\"}}", "CR, LF or NUL" },
    { "{\"context\":{\"type\":\"t\",\"id\":7}}", "not a string" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) body = parse (cases[i].doc);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) normalized = cdviz_cdevent_normalize (body, "s", &error);

      g_assert_null (normalized);
      g_assert_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID);
      g_test_message ("%s → %s", cases[i].doc, error->message);
      g_assert_nonnull (strstr (error->message, cases[i].reason));
    }
}

/* (A NUL in the id cannot reach a JsonNode intact: json-glib ends the
 * string there. The webhook refuses `\u0000` in the raw body instead.) */
static void
test_normalize_null_body (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) normalized = cdviz_cdevent_normalize (NULL, NULL, &error);

  g_assert_null (normalized);
  g_assert_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID);
}

/* A message built from a tree the caller still holds and edits: the
 * message (and its cached JSON) keep what it was given, and the caller's
 * tree is not sealed under its feet. */
static void
test_message_owns_its_body (void)
{
  g_autoptr(JsonNode) body = json_from_string ("{\"context\":{\"id\":\"m1\"},\"list\":[1]}", NULL);
  g_autoptr(JsonNode) metadata = json_from_string ("{\"k\":\"v\"}", NULL);
  g_autoptr(CdvizMessage) message = cdviz_message_new (body, metadata, NULL);
  JsonObject *object = json_node_get_object (body);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  before = g_strndup (g_bytes_get_data (cdviz_message_get_body_bytes (message), NULL),
                      g_bytes_get_size (cdviz_message_get_body_bytes (message)));

  g_assert_false (json_node_is_immutable (body));
  g_assert_false (json_object_is_immutable (object));
  g_assert_false (json_object_is_immutable (json_node_get_object (metadata)));

  json_object_set_string_member (object, "added", "later");
  json_object_set_string_member (json_object_get_object_member (object, "context"), "id", "changed");
  json_array_add_int_element (json_object_get_array_member (object, "list"), 2);
  json_object_set_string_member (json_node_get_object (metadata), "k", "changed");

  after = json_to_string (cdviz_message_get_body (message), FALSE);
  g_assert_cmpstr (after, ==, "{\"context\":{\"id\":\"m1\"},\"list\":[1]}");
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpstr (json_object_get_string_member (
                     json_node_get_object (cdviz_message_get_metadata (message)), "k"), ==, "v");
  g_assert_true (json_node_is_immutable (cdviz_message_get_body (message)));
}

/* What a webhook does with a body: parsed once into a raw message whose
 * metadata and headers are the source's; the same checks as new_from_data. */
static void
test_message_raw_from_data (void)
{
  const char *text = "{\"context\":{\"id\":\"m1\",\"type\":\"t\"},\"x\":[1,2.5,\"\\u00e9\"]}";
  g_autoptr(JsonNode) metadata = json_from_string ("{\"context\":{\"source\":\"s\"}}", NULL);
  g_autoptr(GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(CdvizMessage) refused = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *bytes;

  g_hash_table_insert (headers, "X-Kept", "yes");
  message = cdviz_message_new_raw_from_data (text, -1, metadata, headers, &error);
  g_assert_no_error (error);
  g_assert_true (cdviz_message_is_raw (message));
  g_assert_true (json_node_is_immutable (cdviz_message_get_body (message)));
  bytes = cdviz_message_get_body_bytes (message);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   "{\"context\":{\"id\":\"m1\",\"type\":\"t\"},\"x\":[1,2.5,\"é\"]}",
                   strlen ("{\"context\":{\"id\":\"m1\",\"type\":\"t\"},\"x\":[1,2.5,\"é\"]}"));
  g_assert_cmpstr (cdviz_message_get_header (message, "x-kept"), ==, "yes");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_node_get_object (cdviz_message_get_metadata (message)), "context"),
                     "source"), ==, "s");

  refused = cdviz_message_new_raw_from_data ("[[[1]]] {}", -1, NULL, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cdevent/compute-id/collector-vector", test_compute_id_collector_vector);
  g_test_add_func ("/cdevent/compute-id/conformance", test_compute_id_conformance);
  g_test_add_func ("/cdevent/compute-id/ignores-id", test_compute_id_ignores_id);
  g_test_add_func ("/cdevent/compute-id/canonical", test_compute_id_canonical);
  g_test_add_func ("/cdevent/normalize/fills", test_normalize_fills);
  g_test_add_func ("/cdevent/normalize/keeps-order", test_normalize_keeps_order);
  g_test_add_func ("/cdevent/normalize/no-default-source", test_normalize_no_default_source);
  g_test_add_func ("/cdevent/normalize/id-replaced", test_normalize_id_replaced);
  g_test_add_func ("/cdevent/normalize/errors", test_normalize_errors);
  g_test_add_func ("/cdevent/normalize/null-body", test_normalize_null_body);
  g_test_add_func ("/cdevent/parse/normalizes", test_parse_normalizes);
  g_test_add_func ("/message/owns-its-body", test_message_owns_its_body);
  g_test_add_func ("/message/raw-from-data", test_message_raw_from_data);

  return g_test_run ();
}
