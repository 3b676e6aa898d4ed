/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include <cdviz.h>

#include "cdviz-http-polling-private.h"
#include "cdviz-vrl-value.h"

/* The http_polling source's parts that need no network: its VRL driver
 * (what it gets, the requests it sets), the on_status policy, the time
 * window's timestamps, the checks of those keys, and the checkpoint file
 * (upstream's `[state]` layout, ROOT/SOURCE/checkpoint.json). */

#define DRIVER_MAX_STEPS 10000000

void
_cdviz_poll_request_free (gpointer data)
{
  CdvizPollRequest *request = data;

  g_free (request->url);
  g_free (request->method);
  g_clear_pointer (&request->headers, json_object_unref);
  g_free (request->body);
  g_free (request->parser);
  g_clear_pointer (&request->state, json_node_unref);
  g_free (request);
}

/* --- time window -------------------------------------------------------- */

char *
_cdviz_poll_now_minus_one_second (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) before = g_date_time_add_seconds (now, -1);

  return g_date_time_format (before, "%Y-%m-%dT%H:%M:%SZ");
}

gint
_cdviz_poll_compare_timestamps (const char *a,
                                const char *b)
{
  g_autoptr(GDateTime) da = g_date_time_new_from_iso8601 (a, NULL);
  g_autoptr(GDateTime) db = g_date_time_new_from_iso8601 (b, NULL);

  return g_date_time_compare (da, db);
}
/* --- the driver ---------------------------------------------------------- */

static JsonNode *
driver_metadata (const char *ts_after,
                 const char *ts_before)
{
  g_autoptr(JsonObject) object = json_object_new ();

  json_object_set_string_member (object, "ts_after", ts_after);
  json_object_set_string_member (object, "ts_before", ts_before);
  return json_node_init_object (json_node_alloc (), object);
}

static gboolean
route_from_string (const char     *s,
                   CdvizPollRoute *out)
{
  if (s == NULL || g_str_equal (s, "pipeline"))
    *out = ROUTE_PIPELINE;
  else if (g_str_equal (s, "feedback"))
    *out = ROUTE_FEEDBACK;
  else if (g_str_equal (s, "both"))
    *out = ROUTE_BOTH;
  else
    return FALSE;
  return TRUE;
}

static char *
url_with_query (const char *url,
                JsonObject *query)
{
  GString *out = g_string_new (url);
  g_autoptr(GList) names = query != NULL ? json_object_get_members (query) : NULL;
  gboolean first = strchr (url, '?') == NULL;

  for (GList *l = names; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (query, l->data);
      g_autofree char *text = NULL;
      g_autofree char *key = g_uri_escape_string (l->data, NULL, FALSE);
      g_autofree char *escaped = NULL;

      if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
        text = g_strdup (json_node_get_string (value));
      else
        text = json_to_string (value, FALSE);
      escaped = g_uri_escape_string (text, NULL, FALSE);
      g_string_append_printf (out, "%c%s=%s", first ? '?' : '&', key, escaped);
      first = FALSE;
    }
  return g_string_free (out, FALSE);
}

gboolean
_cdviz_poll_run_driver (CdvizVrlProgram        *driver,
                        const char             *ts_after,
                        const char             *ts_before,
                        guint                   max_depth,
                        const CdvizPollRequest *request,
                        JsonNode               *response,
                        GQueue                 *worklist)
{
  g_autoptr(JsonObject) input = json_object_new ();
  g_autoptr(JsonNode) input_node = NULL;
  g_autoptr(CdvizVrlValue) target = NULL;
  g_autoptr(CdvizVrlValue) meta = NULL;
  g_autoptr(CdvizVrlValue) result = NULL;
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *requests, *state;
  guint depth = request != NULL ? request->depth + 1 : 0;

  json_object_set_member (input, "metadata", driver_metadata (ts_after, ts_before));
  json_object_set_member (input, "state", request != NULL && request->state != NULL
                                          ? json_node_copy (request->state)
                                          : json_node_new (JSON_NODE_NULL));
  if (request != NULL)
    {
      g_autoptr(JsonObject) r = json_object_new ();

      json_object_set_string_member (r, "url", request->url);
      json_object_set_string_member (r, "method", request->method);
      json_object_set_object_member (r, "headers", request->headers != NULL
                                                   ? json_object_ref (request->headers)
                                                   : json_object_new ());
      json_object_set_object_member (input, "request", json_object_ref (r));
    }
  else
    json_object_set_null_member (input, "request");
  json_object_set_member (input, "response", response != NULL ? json_node_copy (response)
                                                              : json_node_new (JSON_NODE_NULL));
  input_node = json_node_init_object (json_node_alloc (), input);

  target = cdviz_vrl_value_from_json (input_node);
  meta = cdviz_vrl_object_new ();
  result = cdviz_vrl_run (driver, &target, &meta, DRIVER_MAX_STEPS, &error);
  if (result == NULL)
    {
      g_warning (_("http_polling source: the driver_vrl program failed: %s"), error->message);
      return FALSE;
    }
  output = cdviz_vrl_value_to_json_node (target);
  requests = JSON_NODE_HOLDS_OBJECT (output)
             ? json_object_get_member (json_node_get_object (output), "requests") : NULL;
  state = JSON_NODE_HOLDS_OBJECT (output)
          ? json_object_get_member (json_node_get_object (output), "state") : NULL;
  if (requests == NULL || !JSON_NODE_HOLDS_ARRAY (requests))
    {
      g_warning (_("http_polling source: the driver_vrl program must set .requests to an "
                   "array"));
      return FALSE;
    }
  if (depth > max_depth && json_array_get_length (json_node_get_array (requests)) > 0)
    {
      g_warning (_("http_polling source: max_depth (%u) reached: %u requests dropped"),
                 max_depth, json_array_get_length (json_node_get_array (requests)));
      return TRUE;
    }

  for (guint i = 0; i < json_array_get_length (json_node_get_array (requests)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (requests), i);
      JsonObject *object;
      CdvizPollRequest *next;
      const char *url, *route;
      JsonNode *query, *headers;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      object = json_node_get_object (item);
      url = json_object_get_string_member_with_default (object, "url", NULL);
      if (url == NULL)
        continue;
      next = g_new0 (CdvizPollRequest, 1);
      query = json_object_get_member (object, "query");
      next->url = url_with_query (url, query != NULL && JSON_NODE_HOLDS_OBJECT (query)
                                       ? json_node_get_object (query) : NULL);
      next->method = g_strdup (json_object_get_string_member_with_default (object, "method",
                                                                           "GET"));
      headers = json_object_get_member (object, "headers");
      if (headers != NULL && JSON_NODE_HOLDS_OBJECT (headers))
        next->headers = json_object_ref (json_node_get_object (headers));
      next->body = g_strdup (json_object_get_string_member_with_default (object, "body", NULL));
      next->parser = g_strdup (json_object_get_string_member_with_default (object, "parser",
                                                                           NULL));
      route = json_object_get_string_member_with_default (object, "route", NULL);
      if (!route_from_string (route, &next->route))
        {
          g_warning (_("http_polling source: request %s: unknown route “%s” "
                       "(pipeline, feedback, both); sent to the pipeline"), next->url, route);
          next->route = ROUTE_PIPELINE;
        }
      next->depth = depth;
      if (state != NULL && !JSON_NODE_HOLDS_NULL (state))
        next->state = json_node_copy (state);
      g_queue_push_tail (worklist, next);
    }
  return TRUE;
}
CdvizPollBehavior
_cdviz_poll_resolve_status (JsonNode *on_status,
                            guint     status)
{
  JsonObject *policy = on_status != NULL && JSON_NODE_HOLDS_OBJECT (on_status)
                       ? json_node_get_object (on_status) : NULL;
  g_autofree char *code = g_strdup_printf ("%u", status);
  g_autofree char *class = g_strdup_printf ("%uxx", status / 100);
  const char *value = NULL;

  if (policy != NULL)
    value = json_object_get_string_member_with_default (policy, code,
              json_object_get_string_member_with_default (policy, class, NULL));
  if (value != NULL)
    return g_str_equal (value, "skip") ? BEHAVIOR_SKIP
           : g_str_equal (value, "hold") ? BEHAVIOR_HOLD
           : g_str_equal (value, "retry") ? BEHAVIOR_RETRY : BEHAVIOR_ABORT;
  if (status == 401 || status == 403)
    return BEHAVIOR_ABORT;
  return status >= 500 ? BEHAVIOR_HOLD : BEHAVIOR_SKIP;
}

/* --- keys ---------------------------------------------------------------- */

gboolean
_cdviz_poll_check_timestamp (const char  *key,
                             const char  *value,
                             GError     **error)
{
  g_autoptr(GDateTime) parsed = NULL;

  if (value == NULL)
    return TRUE;
  parsed = g_date_time_new_from_iso8601 (value, NULL);
  if (parsed == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “%s”: “%s” is not an RFC 3339 timestamp (2024-01-01T00:00:00Z)"),
                   key, value);
      return FALSE;
    }
  return TRUE;
}

gboolean
_cdviz_poll_check_on_status (JsonNode  *on_status,
                             GError   **error)
{
  g_autoptr(GList) codes = NULL;

  if (on_status == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (on_status))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “on_status”: expected a table (status → behavior)"));
      return FALSE;
    }
  codes = json_object_get_members (json_node_get_object (on_status));
  for (GList *l = codes; l != NULL; l = l->next)
    {
      const char *code = l->data;
      JsonNode *value = json_object_get_member (json_node_get_object (on_status), code);
      const char *behavior = JSON_NODE_HOLDS_VALUE (value) &&
                             json_node_get_value_type (value) == G_TYPE_STRING
                             ? json_node_get_string (value) : "";
      gboolean code_ok = strlen (code) == 3 && code[0] >= '1' && code[0] <= '5' &&
                         ((g_ascii_isdigit (code[1]) && g_ascii_isdigit (code[2])) ||
                          (code[1] == 'x' && code[2] == 'x'));

      if (!code_ok)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “on_status”: “%s” is neither a status code (“404”) nor a class "
                         "(“4xx”)"), code);
          return FALSE;
        }
      if (!g_str_equal (behavior, "skip") && !g_str_equal (behavior, "hold") &&
          !g_str_equal (behavior, "retry") && !g_str_equal (behavior, "abort"))
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “on_status”: “%s”: expected “skip”, “hold”, “retry” or “abort”"),
                       code);
          return FALSE;
        }
    }
  return TRUE;
}

/* --- checkpoint ------------------------------------------------------------ */

#define CHECKPOINT_KEY "checkpoint.json"

char *
_cdviz_poll_load_checkpoint (CdvizState *state,
                             const char *source_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cdviz_state_get (state, source_name, CHECKPOINT_KEY, &error);
  g_autofree char *contents = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *ts;

  if (bytes == NULL)
    {
      if (error != NULL)
        g_warning (_("http_polling source %s: %s"), source_name, error->message);
      return NULL;
    }
  contents = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  node = json_from_string (contents, NULL);
  ts = node != NULL && JSON_NODE_HOLDS_OBJECT (node)
       ? json_object_get_string_member_with_default (json_node_get_object (node), "ts_after",
                                                     NULL)
       : NULL;
  if (ts == NULL || !_cdviz_poll_check_timestamp ("ts_after", ts, NULL))
    {
      g_autofree char *path = g_build_filename (cdviz_state_get_root (state), source_name,
                                                CHECKPOINT_KEY, NULL);

      g_warning (_("http_polling source %s: %s holds no valid ts_after; ignored"), source_name,
                 path);
      return NULL;
    }
  return g_strdup (ts);
}

void
_cdviz_poll_save_checkpoint (CdvizState *state,
                             const char *source_name,
                             const char *ts_after)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ts_after");
  json_builder_add_string_value (builder, ts_after);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  text = json_to_string (node, FALSE);
  bytes = g_bytes_new_take (text, strlen (text));
  if (!cdviz_state_set (state, source_name, CHECKPOINT_KEY, bytes, &error))
    g_warning (_("http_polling source %s: cannot save the checkpoint: %s"), source_name,
               error->message);
}
