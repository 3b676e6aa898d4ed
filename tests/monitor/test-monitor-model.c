/* SPDX-License-Identifier: Apache-2.0 */
/* cdviz-monitor's models without a display: events, the filter model, the
 * chart's bucketing, the notification rules, the status lines. */
#include "config.h"

#include <locale.h>

#include "cdviz-monitor-connection.h"
#include "cdviz-monitor-event.h"
#include "cdviz-monitor-filter-model.h"
#include "cdviz-monitor-rate.h"
#include "cdviz-monitor-rules.h"

#define MINUTE_US (60LL * G_USEC_PER_SEC)
#define T0 (1700000000LL * G_USEC_PER_SEC)

static CdvizMonitorEvent *
make_event (const char *type,
            const char *subject_id,
            const char *outcome)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = g_strdup_printf (
    "{\"context\":{\"version\":\"0.4.1\",\"id\":\"id-%s\",\"source\":\"/ci/%s\","
    "\"type\":\"dev.cdevents.%s.0.2.0\",\"timestamp\":\"2023-03-20T14:27:05Z\","
    "\"chainId\":\"chain-1\",\"links\":[{\"linkType\":\"RELATION\",\"linkKind\":\"TRIGGER\","
    "\"target\":{\"contextId\":\"ctx-9\"}}]},"
    "\"subject\":{\"id\":\"%s\",\"content\":{%s%s%s}}}",
    subject_id, subject_id, type, subject_id,
    outcome ? "\"outcome\":\"" : "", outcome ? outcome : "", outcome ? "\"" : "");
  CdvizMonitorEvent *event = cdviz_monitor_event_new (data, "http://h/sse/e", T0, &error);

  g_assert_no_error (error);
  return event;
}

static void
test_event_fields (void)
{
  g_autoptr(CdvizMonitorEvent) e = make_event ("testcaserun.finished", "Login", "failure");
  g_autofree char *json = cdviz_monitor_event_to_pretty_json (e);
  g_autofree char *links = cdviz_monitor_event_describe_links (e);

  g_assert_cmpstr (cdviz_monitor_event_get_short_type (e), ==, "testcaserun.finished");
  g_assert_cmpstr (cdviz_monitor_event_get_subject (e), ==, "testcaserun");
  g_assert_cmpstr (cdviz_monitor_event_get_predicate (e), ==, "finished");
  g_assert_cmpint (cdviz_monitor_event_get_kind (e), ==, CDVIZ_MONITOR_KIND_TEST);
  g_assert_cmpstr (cdviz_monitor_event_get_subject_id (e), ==, "Login");
  g_assert_cmpstr (cdviz_monitor_event_get_source (e), ==, "/ci/Login");
  g_assert_cmpstr (cdviz_monitor_event_get_outcome (e), ==, "failure");
  g_assert_cmpstr (cdviz_monitor_event_get_id (e), ==, "id-Login");
  g_assert_cmpstr (cdviz_monitor_event_get_origin (e), ==, "http://h/sse/e");
  g_assert_true (g_str_has_prefix (json, "{\n  \"context\" : {\n    \"version\""));
  g_assert_nonnull (strstr (links, "chain-1"));
  g_assert_nonnull (strstr (links, "Link RELATION TRIGGER → ctx-9"));
}

static void
test_event_not_cdevent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizMonitorEvent) odd = cdviz_monitor_event_new ("{\"a\":1}", "u", T0, &error);
  CdvizMonitorEvent *bad;

  g_assert_no_error (error);
  g_assert_cmpstr (cdviz_monitor_event_get_short_type (odd), ==, "");
  g_assert_cmpint (cdviz_monitor_event_get_kind (odd), ==, CDVIZ_MONITOR_KIND_OTHER);
  bad = cdviz_monitor_event_new ("[1]", "u", T0, &error);
  g_assert_null (bad);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
  g_clear_error (&error);
  bad = cdviz_monitor_event_new ("{", "u", T0, &error);
  g_assert_null (bad);
  g_assert_nonnull (error);
}

static void
test_kinds (void)
{
  g_assert_cmpint (cdviz_monitor_kind_from_subject ("pipelinerun"), ==, CDVIZ_MONITOR_KIND_PIPELINE);
  g_assert_cmpint (cdviz_monitor_kind_from_subject ("service"), ==, CDVIZ_MONITOR_KIND_DEPLOYMENT);
  g_assert_cmpint (cdviz_monitor_kind_from_subject ("incident"), ==, CDVIZ_MONITOR_KIND_INCIDENT);
  g_assert_cmpint (cdviz_monitor_kind_from_subject ("nope"), ==, CDVIZ_MONITOR_KIND_OTHER);
  g_assert_cmpint (cdviz_monitor_kind_from_subject (NULL), ==, CDVIZ_MONITOR_KIND_OTHER);
  for (int k = 0; k < CDVIZ_MONITOR_N_KINDS; k++)
    {
      g_assert_true (g_str_has_suffix (cdviz_monitor_kind_get_icon (k), "-symbolic"));
      g_assert_nonnull (cdviz_monitor_kind_get_label (k));
    }
}

typedef struct {
  guint position, removed, added, calls;
} Changed;

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, Changed *c)
{
  c->position = position;
  c->removed = removed;
  c->added = added;
  c->calls++;
}

/* The subject ids of @model, joined with spaces */
static char *
ids (GListModel *model)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(CdvizMonitorEvent) e = g_list_model_get_item (model, i);
      g_string_append_printf (s, "%s%s", i ? " " : "", cdviz_monitor_event_get_subject_id (e));
    }
  return g_string_free (s, FALSE);
}

#define assert_ids(model, expected) \
  G_STMT_START { \
    g_autofree char *got_ = ids (G_LIST_MODEL (model)); \
    g_assert_cmpstr (got_, ==, expected); \
  } G_STMT_END

static void
append (GListStore *store, const char *type, const char *id, const char *outcome)
{
  g_autoptr(CdvizMonitorEvent) e = make_event (type, id, outcome);
  g_list_store_append (store, e);
}

static void
test_filter (void)
{
  g_autoptr(GListStore) store = g_list_store_new (CDVIZ_TYPE_MONITOR_EVENT);
  g_autoptr(CdvizMonitorFilterModel) filter = NULL;
  Changed c = { 0 };

  append (store, "build.started", "app-1", NULL);
  append (store, "testcaserun.finished", "Login", "pass");
  append (store, "build.finished", "app-2", "failure");
  filter = cdviz_monitor_filter_model_new (G_LIST_MODEL (store));
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (filter)) == CDVIZ_TYPE_MONITOR_EVENT);
  assert_ids (filter, "app-1 Login app-2");
  g_signal_connect (filter, "items-changed", G_CALLBACK (on_items_changed), &c);

  cdviz_monitor_filter_model_set_kind (filter, CDVIZ_MONITOR_KIND_BUILD);
  assert_ids (filter, "app-1 app-2");
  g_assert_cmpuint (c.calls, ==, 1);

  /* An arriving build passes and is inserted alone; a test does not. */
  append (store, "testcaserun.started", "Logout", NULL);
  g_assert_cmpuint (c.calls, ==, 1);
  append (store, "build.queued", "app-3", NULL);
  g_assert_cmpuint (c.calls, ==, 2);
  g_assert_cmpuint (c.position, ==, 2);
  g_assert_cmpuint (c.removed, ==, 0);
  g_assert_cmpuint (c.added, ==, 1);
  assert_ids (filter, "app-1 app-2 app-3");

  /* Newest first: prepending shifts the rest. */
  {
    g_autoptr(CdvizMonitorEvent) e = make_event ("build.started", "app-0", NULL);
    g_list_store_insert (store, 0, e);
  }
  g_assert_cmpuint (c.position, ==, 0);
  g_assert_cmpuint (c.added, ==, 1);
  assert_ids (filter, "app-0 app-1 app-2 app-3");

  /* Trimming the store removes from the filter, in place. */
  g_list_store_remove (store, 1);   /* app-1 */
  g_assert_cmpuint (c.position, ==, 1);
  g_assert_cmpuint (c.removed, ==, 1);
  g_assert_cmpuint (c.added, ==, 0);
  assert_ids (filter, "app-0 app-2 app-3");
  g_list_store_remove (store, 1);   /* Login: not shown, no signal */
  g_assert_cmpuint (c.calls, ==, 4);

  /* Subject (case-insensitive) and text in the JSON. */
  cdviz_monitor_filter_model_set_kind (filter, CDVIZ_MONITOR_N_KINDS);
  assert_ids (filter, "app-0 app-2 Logout app-3");
  cdviz_monitor_filter_model_set_subject (filter, "APP");
  assert_ids (filter, "app-0 app-2 app-3");
  cdviz_monitor_filter_model_set_text (filter, "FAILure");
  assert_ids (filter, "app-2");
  cdviz_monitor_filter_model_set_subject (filter, NULL);
  cdviz_monitor_filter_model_set_text (filter, "\"/ci/Logout\"");
  assert_ids (filter, "Logout");
  cdviz_monitor_filter_model_set_text (filter, "");
  assert_ids (filter, "app-0 app-2 Logout app-3");
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (filter), 4));

  /* A splice replacing several items at once. */
  {
    g_autoptr(CdvizMonitorEvent) a = make_event ("incident.detected", "db", NULL);
    gpointer items[] = { a };
    g_list_store_splice (store, 1, 2, items, 1);
  }
  assert_ids (filter, "app-0 db app-3");
  g_signal_handlers_disconnect_by_data (filter, &c);
}

static void
test_rate (void)
{
  g_autoptr(CdvizMonitorRate) rate = cdviz_monitor_rate_new ();
  gint64 now = T0 + 30 * G_USEC_PER_SEC;

  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_BUILD, now);
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_BUILD, now - 10 * G_USEC_PER_SEC);
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_TEST, now);
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_BUILD, now - MINUTE_US);
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_INCIDENT, now - 59 * MINUTE_US);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 0, CDVIZ_MONITOR_KIND_BUILD), ==, 2);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 0, CDVIZ_MONITOR_KIND_TEST), ==, 1);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 1, CDVIZ_MONITOR_KIND_BUILD), ==, 1);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 59, CDVIZ_MONITOR_KIND_INCIDENT), ==, 1);
  g_assert_cmpuint (cdviz_monitor_rate_get_total (rate, now, 0), ==, 3);
  g_assert_cmpuint (cdviz_monitor_rate_get_max (rate, now), ==, 3);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 60, CDVIZ_MONITOR_KIND_BUILD), ==, 0);

  /* An hour later the old minutes read 0, without a timer… */
  now += 60 * MINUTE_US;
  g_assert_cmpuint (cdviz_monitor_rate_get_max (rate, now), ==, 0);
  /* …and a slot reused for a new minute starts from 0. */
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_TEST, now);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 0, CDVIZ_MONITOR_KIND_TEST), ==, 1);
  g_assert_cmpuint (cdviz_monitor_rate_get (rate, now, 0, CDVIZ_MONITOR_KIND_BUILD), ==, 0);
  /* An event older than what its slot counts is ignored. */
  cdviz_monitor_rate_add (rate, CDVIZ_MONITOR_KIND_BUILD, now - 60 * MINUTE_US);
  g_assert_cmpuint (cdviz_monitor_rate_get_total (rate, now, 0), ==, 1);
}

static void
test_rules (void)
{
  const struct {
    const char *type, *outcome;
    CdvizMonitorRules expected;
    const char *title;
  } cases[] = {
    { "pipelinerun.finished", "failure", CDVIZ_MONITOR_RULE_FAILURES, "Pipeline run failed" },
    { "pipelinerun.finished", "error", CDVIZ_MONITOR_RULE_FAILURES, "Pipeline run ended in error" },
    { "pipelinerun.finished", "success", CDVIZ_MONITOR_RULE_NONE, NULL },
    { "build.finished", "FAILURE", CDVIZ_MONITOR_RULE_FAILURES, "Build failed" },
    { "build.finished", NULL, CDVIZ_MONITOR_RULE_NONE, NULL },
    { "testcaserun.finished", "error", CDVIZ_MONITOR_RULE_FAILURES, "Test case run ended in error" },
    { "testcaserun.finished", "fail", CDVIZ_MONITOR_RULE_NONE, NULL },
    { "testsuiterun.finished", "failure", CDVIZ_MONITOR_RULE_NONE, NULL },
    { "taskrun.finished", "failure", CDVIZ_MONITOR_RULE_NONE, NULL },
    { "pipelinerun.started", "failure", CDVIZ_MONITOR_RULE_NONE, NULL },
    { "incident.detected", NULL, CDVIZ_MONITOR_RULE_INCIDENTS, "Incident detected" },
    { "incident.resolved", NULL, CDVIZ_MONITOR_RULE_NONE, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(CdvizMonitorEvent) e = make_event (cases[i].type, "s", cases[i].outcome);
      CdvizMonitorRules rule = cdviz_monitor_rules_match (e, CDVIZ_MONITOR_RULE_FAILURES
                                                             | CDVIZ_MONITOR_RULE_INCIDENTS);
      g_test_message ("%s %s", cases[i].type, cases[i].outcome ? cases[i].outcome : "-");
      g_assert_cmpint (rule, ==, cases[i].expected);
      /* Each rule can be turned off alone. */
      g_assert_cmpint (cdviz_monitor_rules_match (e, CDVIZ_MONITOR_RULE_NONE), ==,
                       CDVIZ_MONITOR_RULE_NONE);
      g_assert_cmpint (cdviz_monitor_rules_match (e, (CDVIZ_MONITOR_RULE_FAILURES
                                                      | CDVIZ_MONITOR_RULE_INCIDENTS) & ~rule),
                       ==, CDVIZ_MONITOR_RULE_NONE);
      if (rule != CDVIZ_MONITOR_RULE_NONE)
        {
          g_autoptr(GNotification) n = cdviz_monitor_rules_notification (e, rule);
          g_assert_nonnull (n);
          g_assert_cmpstr (cdviz_monitor_rules_get_title (e, rule), ==, cases[i].title);
        }
    }
}

static void
test_status (void)
{
  g_autofree char *connecting = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_CONNECTING, FALSE, 0, NULL, 0);
  g_autofree char *live = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_OPEN, FALSE, 0, NULL, 0);
  g_autofree char *lagged = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_OPEN, FALSE, 0, NULL, 5);
  g_autofree char *retry = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_RETRYING, FALSE, 4, "connection refused", 0);
  g_autofree char *refused = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_RETRYING, TRUE, 30, "refused by the producer (HTTP 401 Unauthorized): missing header", 0);
  g_autofree char *failed = cdviz_monitor_connection_describe (CDVIZ_SSE_CLIENT_STATE_FAILED, FALSE, 0, "204", 0);

  g_assert_cmpstr (connecting, ==, "Connecting…");
  g_assert_cmpstr (live, ==, "Live");
  g_assert_cmpstr (lagged, ==, "Live · 5 events lost");
  g_assert_cmpstr (retry, ==, "Retrying in 4 seconds: connection refused");
  g_assert_cmpstr (refused, ==, "Refused: refused by the producer (HTTP 401 Unauthorized): "
                                "missing header — retrying in 30 seconds");
  g_assert_cmpstr (failed, ==, "Gave up: 204");
}

static void
test_header (void)
{
  g_autofree char *name = NULL;
  g_autofree char *value = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cdviz_monitor_parse_header ("Authorization:  Bearer x:y ", &name, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "Authorization");
  g_assert_cmpstr (value, ==, "Bearer x:y");
  g_assert_false (cdviz_monitor_parse_header ("no colon", &name, &value, &error));
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_false (cdviz_monitor_parse_header (": v", &name, &value, &error));
  g_clear_error (&error);
  g_assert_false (cdviz_monitor_parse_header ("A B: v", &name, &value, &error));
  g_clear_error (&error);
  g_assert_false (cdviz_monitor_parse_header ("A: v\r\nB: w", &name, &value, &error));
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "C.UTF-8");
  g_setenv ("LANGUAGE", "C", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/monitor/event/fields", test_event_fields);
  g_test_add_func ("/monitor/event/not-cdevent", test_event_not_cdevent);
  g_test_add_func ("/monitor/event/kinds", test_kinds);
  g_test_add_func ("/monitor/filter", test_filter);
  g_test_add_func ("/monitor/rate", test_rate);
  g_test_add_func ("/monitor/rules", test_rules);
  g_test_add_func ("/monitor/status", test_status);
  g_test_add_func ("/monitor/header", test_header);
  return g_test_run ();
}
