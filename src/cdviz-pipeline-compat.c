/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline-private.h"
#include "cdviz-config-private.h"

/* Keys of cdviz-collector's configuration: `[http] root_url` (handed to the
 * HTTP server, sources build their default `context.source` from it),
 * `request_timeout` (the server's 408 deadline for a body), `access_log`
 * (the server's access log), and, checked but not acted on (yet), the
 * `[state]` section. Its users' files carry them (its built-in base sets
 * them all), so they are accepted when well-formed, and wrong values are
 * errors as upstream's are; doc/migrating.md says what each does not do. */

const CdvizKeyDoc _cdviz_state_docs[] = {
  { "kind", "string (`\"fs\"`)", "`\"fs\"`",
    "Where polling sources (`opendal`, `http_polling`) remember what they already read, "
    "so that a restart does not send it again: `ROOT/SOURCE/checkpoint.json`, as "
    "cdviz-collector's" },
  { "parameters", "table", "`{ root = \"./.cdviz-collector/state\" }`",
    "`root`: the state directory (for `kind = \"fs\"`), relative to the working "
    "directory; created when first written" },
  { NULL }
};

/* An access-log filter entry: a status code ("404") or a class ("4xx"). */
static gboolean
is_status_filter (const char *s)
{
  if (strlen (s) != 3 || s[0] < '1' || s[0] > '5')
    return FALSE;
  if (g_ascii_isdigit (s[1]) && g_ascii_isdigit (s[2]))
    return TRUE;
  return s[1] == 'x' && s[2] == 'x';
}

gboolean
_cdviz_pipeline_check_http_compat (CdvizPipeline  *self,
                                   JsonObject     *http,
                                   const char    **root_url,
                                   guint64        *request_timeout_ms,
                                   GStrv          *access_log_filter,
                                   GError        **error)
{
  static const char * const access_log_keys[] = { "filter", NULL };
  JsonNode *access_log;

  if (!_cdviz_config_get_string (self->config, "http", http, "root_url", FALSE, root_url,
                                 error) ||
      !_cdviz_config_get_duration (self->config, "http", http, "request_timeout",
                                   G_MAXUINT32, 0, request_timeout_ms, error))
    return FALSE;
  if (*root_url != NULL && !g_uri_is_valid (*root_url, G_URI_FLAGS_NONE, NULL))
    {
      g_autofree char *where = _cdviz_config_describe (self->config, "http.root_url");

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: “%s” is not an absolute URL"), where, "http.root_url",
                   *root_url);
      return FALSE;
    }

  access_log = json_object_get_member (http, "access_log");
  if (access_log != NULL)
    {
      JsonNode *filter;

      if (!JSON_NODE_HOLDS_OBJECT (access_log))
        return _cdviz_config_type_error (self->config, "http", "access_log", _("a table"),
                                         access_log, error);
      if (!_cdviz_config_check_keys (self->config, "http.access_log",
                                     json_node_get_object (access_log), access_log_keys, error))
        return FALSE;
      filter = json_object_get_member (json_node_get_object (access_log), "filter");
      if (filter != NULL)
        {
          JsonArray *array = JSON_NODE_HOLDS_ARRAY (filter) ? json_node_get_array (filter) : NULL;

          for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
            {
              JsonNode *entry = json_array_get_element (array, i);

              if (json_node_get_value_type (entry) != G_TYPE_STRING ||
                  !is_status_filter (json_node_get_string (entry)))
                array = NULL;
            }
          if (array == NULL)
            return _cdviz_config_type_error (self->config, "http.access_log", "filter",
                                             _("an array of status codes (\"404\") or classes (\"4xx\")"),
                                             filter, error);
          *access_log_filter = g_new0 (char *, json_array_get_length (array) + 1);
          for (guint i = 0; i < json_array_get_length (array); i++)
            (*access_log_filter)[i] = g_strdup (json_array_get_string_element (array, i));
        }
    }
  return TRUE;
}

/* cdviz-collector's default (`src/state.rs`), relative to the working
 * directory (-C changes it). */
#define CDVIZ_STATE_DEFAULT_ROOT "./.cdviz-collector/state"

gboolean
_cdviz_pipeline_check_state (CdvizPipeline  *self,
                             JsonObject     *root,
                             GError        **error)
{
  static const char * const state_keys[] = { "kind", "parameters", NULL };
  static const char * const parameter_keys[] = { "root", NULL };
  JsonNode *node = json_object_get_member (root, "state");
  JsonNode *parameters;
  JsonObject *state;
  const char *kind = NULL, *state_root = NULL;

  g_clear_object (&self->state_store);
  if (node == NULL)
    {
      self->state_store = cdviz_state_new (CDVIZ_STATE_DEFAULT_ROOT);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return _cdviz_config_type_error (self->config, NULL, "state", _("a table"), node, error);
  state = json_node_get_object (node);
  if (!_cdviz_config_check_keys (self->config, "state", state, state_keys, error) ||
      !_cdviz_config_get_string (self->config, "state", state, "kind", FALSE, &kind, error))
    return FALSE;
  if (kind != NULL && !g_str_equal (kind, "fs"))
    {
      g_autofree char *where = _cdviz_config_describe (self->config, "state.kind");

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: “%s” is not a state kind cdviz-pipeline knows (“fs”)"),
                   where, "state.kind", kind);
      return FALSE;
    }
  parameters = json_object_get_member (state, "parameters");
  if (parameters != NULL && !JSON_NODE_HOLDS_OBJECT (parameters))
    return _cdviz_config_type_error (self->config, "state", "parameters", _("a table"),
                                     parameters, error);
  if (parameters != NULL &&
      (!_cdviz_config_check_keys (self->config, "state.parameters",
                                  json_node_get_object (parameters), parameter_keys, error) ||
       !_cdviz_config_get_string (self->config, "state.parameters",
                                  json_node_get_object (parameters), "root", FALSE,
                                  &state_root, error)))
    return FALSE;
  if (state_root != NULL && *state_root == '\0')
    {
      g_autofree char *where = _cdviz_config_describe (self->config, "state.parameters.root");

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: expected a directory, got an empty string"),
                   where, "state.parameters.root");
      return FALSE;
    }
  self->state_store = cdviz_state_new (state_root != NULL ? state_root : CDVIZ_STATE_DEFAULT_ROOT);
  return TRUE;
}
