/* SPDX-License-Identifier: Apache-2.0 */
/* The http_polling source's pure parts
 * (plugins/collector/cdviz-http-polling-driver.c), compiled in: the VRL
 * driver's contract, the on_status policy, the key checks. No network. */
#include <glib/gstdio.h>
#include <cdviz.h>

#include "cdviz-http-polling-private.h"

static CdvizVrlProgram *
compile (const char *source)
{
  g_autoptr(GError) error = NULL;
  CdvizVrlProgram *program = cdviz_vrl_compile (source, 0, &error);

  g_assert_no_error (error);
  return program;
}

/* @node as compact JSON, kept until the test ends. */
static const char *
to_json (JsonNode *node)
{
  char *text = json_to_string (node, FALSE);

  g_test_queue_free (text);
  return text;
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static void
test_bootstrap (void)
{
  g_autoptr(CdvizVrlProgram) driver = compile (
    ".requests = [{ \"url\": \"http://h/list\", \"query\": { \"after\": .metadata.ts_after, "
    "\"q\": \"a b&c\" } }, { \"method\": \"POST\", \"url\": \"http://h/x?y=1\", "
    "\"query\": { \"z\": \"2\" }, \"route\": \"both\", \"body\": \"{}\", \"parser\": \"text\" }, "
    "{ \"no_url\": true }]\n"
    ".state = { \"page\": 1 }");
  GQueue worklist = G_QUEUE_INIT;
  CdvizPollRequest *first, *second;

  g_assert_true (_cdviz_poll_run_driver (driver, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z",
                                         50, NULL, NULL, &worklist));
  /* The entry without a url is skipped. */
  g_assert_cmpuint (g_queue_get_length (&worklist), ==, 2);
  first = g_queue_peek_nth (&worklist, 0);
  g_assert_cmpstr (first->url, ==, "http://h/list?after=2024-01-01T00%3A00%3A00Z&q=a%20b%26c");
  g_assert_cmpstr (first->method, ==, "GET");
  g_assert_cmpint (first->route, ==, ROUTE_PIPELINE);
  g_assert_null (first->parser);
  g_assert_null (first->body);
  g_assert_cmpuint (first->depth, ==, 0);
  g_assert_cmpstr (to_json (first->state), ==, "{\"page\":1}");
  second = g_queue_peek_nth (&worklist, 1);
  g_assert_cmpstr (second->url, ==, "http://h/x?y=1&z=2");
  g_assert_cmpstr (second->method, ==, "POST");
  g_assert_cmpint (second->route, ==, ROUTE_BOTH);
  g_assert_cmpstr (second->body, ==, "{}");
  g_assert_cmpstr (second->parser, ==, "text");
  g_queue_clear_full (&worklist, _cdviz_poll_request_free);
}

static void
test_feedback (void)
{
  /* The driver sees the request, its state and the response. */
  g_autoptr(CdvizVrlProgram) driver = compile (
    ".requests = [{ \"url\": string!(.request.url) + \"/\" + string!(.response.body.next) + "
    "\"/\" + to_string!(.state.page) + \"/\" + to_string!(.response.status) }]");
  g_autoptr(JsonNode) response = parse ("{\"status\": 200, \"headers\": {}, "
                                        "\"body\": {\"next\": \"p2\"}}");
  CdvizPollRequest request = { .url = "http://h", .method = "GET", .depth = 3 };
  GQueue worklist = G_QUEUE_INIT;
  CdvizPollRequest *next;

  request.state = parse ("{\"page\": 7}");
  g_assert_true (_cdviz_poll_run_driver (driver, "a", "b", 50, &request, response, &worklist));
  next = g_queue_peek_head (&worklist);
  g_assert_cmpstr (next->url, ==, "http://h/p2/7/200");
  g_assert_cmpuint (next->depth, ==, 4);
  /* .state is read back from the driver's target, as upstream does: a
   * driver that leaves it alone passes the state it got on. */
  g_assert_cmpstr (to_json (next->state), ==, "{\"page\":7}");
  g_queue_clear_full (&worklist, _cdviz_poll_request_free);

  /* Past max_depth, the requests are dropped (with a warning). */
  request.depth = 50;
  g_test_expect_message ("cdviz-collector", G_LOG_LEVEL_WARNING, "*max_depth (50) reached*");
  g_assert_true (_cdviz_poll_run_driver (driver, "a", "b", 50, &request, response, &worklist));
  g_test_assert_expected_messages ();
  g_assert_true (g_queue_is_empty (&worklist));
  json_node_unref (request.state);
}

static void
test_driver_failures (void)
{
  g_autoptr(CdvizVrlProgram) no_requests = compile (".other = 1");
  g_autoptr(CdvizVrlProgram) aborts = compile ("abort");
  GQueue worklist = G_QUEUE_INIT;

  g_test_expect_message ("cdviz-collector", G_LOG_LEVEL_WARNING, "*must set .requests*");
  g_assert_false (_cdviz_poll_run_driver (no_requests, "a", "b", 50, NULL, NULL, &worklist));
  g_test_expect_message ("cdviz-collector", G_LOG_LEVEL_WARNING, "*driver_vrl program failed*");
  g_assert_false (_cdviz_poll_run_driver (aborts, "a", "b", 50, NULL, NULL, &worklist));
  g_test_assert_expected_messages ();
  g_assert_true (g_queue_is_empty (&worklist));
}

static void
test_status_policy (void)
{
  g_autoptr(JsonNode) policy = parse ("{\"404\": \"retry\", \"4xx\": \"hold\", "
                                      "\"403\": \"skip\", \"5xx\": \"abort\"}");

  /* Upstream's defaults. */
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 401), ==, BEHAVIOR_ABORT);
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 403), ==, BEHAVIOR_ABORT);
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 500), ==, BEHAVIOR_HOLD);
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 503), ==, BEHAVIOR_HOLD);
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 404), ==, BEHAVIOR_SKIP);
  g_assert_cmpint (_cdviz_poll_resolve_status (NULL, 302), ==, BEHAVIOR_SKIP);
  /* The exact code, then the class. */
  g_assert_cmpint (_cdviz_poll_resolve_status (policy, 404), ==, BEHAVIOR_RETRY);
  g_assert_cmpint (_cdviz_poll_resolve_status (policy, 403), ==, BEHAVIOR_SKIP);
  g_assert_cmpint (_cdviz_poll_resolve_status (policy, 410), ==, BEHAVIOR_HOLD);
  g_assert_cmpint (_cdviz_poll_resolve_status (policy, 502), ==, BEHAVIOR_ABORT);
  g_assert_cmpint (_cdviz_poll_resolve_status (policy, 301), ==, BEHAVIOR_SKIP);
}

static void
test_key_checks (void)
{
  const char *bad[] = {
    "[]", "{\"4x4\": \"skip\"}", "{\"600\": \"skip\"}", "{\"40\": \"skip\"}",
    "{\"404\": \"ignore\"}", "{\"404\": 1}",
  };
  g_autoptr(JsonNode) good = parse ("{\"404\": \"skip\", \"5xx\": \"hold\", \"401\": \"retry\", "
                                    "\"403\": \"abort\"}");
  g_autoptr(GError) error = NULL;

  g_assert_true (_cdviz_poll_check_on_status (NULL, &error));
  g_assert_true (_cdviz_poll_check_on_status (good, &error));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) node = parse (bad[i]);

      g_assert_false (_cdviz_poll_check_on_status (node, &error));
      g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
      g_assert_true (g_str_has_prefix (error->message, "key “on_status”: "));
      g_clear_error (&error);
    }

  g_assert_true (_cdviz_poll_check_timestamp ("ts_after", NULL, &error));
  g_assert_true (_cdviz_poll_check_timestamp ("ts_after", "2024-01-01T00:00:00Z", &error));
  g_assert_true (_cdviz_poll_check_timestamp ("ts_after", "2024-01-01T00:00:00+02:00", &error));
  g_assert_false (_cdviz_poll_check_timestamp ("ts_before_limit", "2024-01-01", &error));
  g_assert_cmpstr (error->message, ==,
                   "key “ts_before_limit”: “2024-01-01” is not an RFC 3339 timestamp "
                   "(2024-01-01T00:00:00Z)");
  g_assert_cmpint (_cdviz_poll_compare_timestamps ("2024-01-01T00:00:00Z",
                                                   "2024-01-01T01:00:00+02:00"), >, 0);
}

static void
test_checkpoint (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("cdviz-polling-XXXXXX", &error);
  g_autoptr(CdvizState) state = cdviz_state_new (root);
  g_autofree char *loaded = NULL;
  g_autofree char *file = NULL;
  g_autofree char *contents = NULL;

  g_assert_no_error (error);
  g_assert_null (_cdviz_poll_load_checkpoint (state, "jobs"));
  _cdviz_poll_save_checkpoint (state, "jobs", "2024-05-01T10:00:00Z");
  /* Upstream's layout and format. */
  file = g_build_filename (root, "jobs", "checkpoint.json", NULL);
  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "{\"ts_after\":\"2024-05-01T10:00:00Z\"}");
  loaded = _cdviz_poll_load_checkpoint (state, "jobs");
  g_assert_cmpstr (loaded, ==, "2024-05-01T10:00:00Z");

  g_assert_true (g_file_set_contents (file, "{\"ts_after\": \"soon\"}", -1, NULL));
  g_test_expect_message ("cdviz-collector", G_LOG_LEVEL_WARNING, "*holds no valid ts_after*");
  g_assert_null (_cdviz_poll_load_checkpoint (state, "jobs"));
  g_test_assert_expected_messages ();

  g_assert_cmpint (g_remove (file), ==, 0);
  g_free (file);
  file = g_build_filename (root, "jobs", NULL);
  g_assert_cmpint (g_rmdir (file), ==, 0);
  g_assert_cmpint (g_rmdir (root), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-polling/driver/bootstrap", test_bootstrap);
  g_test_add_func ("/http-polling/driver/feedback", test_feedback);
  g_test_add_func ("/http-polling/driver/failures", test_driver_failures);
  g_test_add_func ("/http-polling/on-status", test_status_policy);
  g_test_add_func ("/http-polling/key-checks", test_key_checks);
  g_test_add_func ("/http-polling/checkpoint", test_checkpoint);
  return g_test_run ();
}
