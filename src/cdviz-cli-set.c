/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <string.h>

#define CDVIZ_COMPILATION
#include "cdviz.h"
#include "cdviz-cli-set.h"

/* `--set VALUE` as cdviz-collector's `key=value`, its value auto-typed:
 * `true`/`false`, an integer, a decimal number, else a string. Returns the
 * TOML fragment, or NULL when @text has no `=` after a key. */
static char *
set_as_key_value (const char *text)
{
  const char *equal = strchr (text, '=');
  g_autofree char *key = NULL;
  g_autofree char *value = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *literal = NULL;
  gint64 integer;
  double decimal;
  char *end;

  if (equal == NULL)
    return NULL;
  key = g_strstrip (g_strndup (text, equal - text));
  value = g_strstrip (g_strdup (equal + 1));
  if (*key == '\0')
    return NULL;

  node = json_node_new (JSON_NODE_VALUE);
  if (g_str_equal (value, "true") || g_str_equal (value, "false"))
    json_node_set_boolean (node, g_str_equal (value, "true"));
  else if (g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &integer, NULL))
    json_node_set_int (node, integer);
  else if (*value != '\0' && strspn (value, "+-0123456789.eE") == strlen (value) &&
           (decimal = g_ascii_strtod (value, &end), *end == '\0') && isfinite (decimal))
    json_node_set_double (node, decimal);
  else
    json_node_set_string (node, value);
  /* A JSON scalar is a TOML value too (strings escape alike). */
  literal = json_to_string (node, FALSE);
  return g_strdup_printf ("%s = %s", key, literal);
}

gboolean
cdviz_cli_add_set (CdvizConfig  *config,
                   const char   *text,
                   GError      **error)
{
  g_autoptr(GError) toml_error = NULL;
  g_autofree char *fragment = NULL;

  if (cdviz_config_add_string (config, text, "--set", &toml_error))
    return TRUE;
  if (g_error_matches (toml_error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE))
    fragment = set_as_key_value (text);
  if (fragment != NULL && cdviz_config_add_string (config, fragment, "--set", NULL))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&toml_error));
  return FALSE;
}
