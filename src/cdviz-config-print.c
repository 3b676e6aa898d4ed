/* SPDX-License-Identifier: Apache-2.0 */
/* Writing TOML: key paths as TOML spells them, and the merged configuration
 * printed back (`config --print`) with secrets redacted. */
#include "config.h"

#include <string.h>

#include "cdviz-config.h"
#include "cdviz-config-private.h"

static gboolean
is_bare_key (const char *key)
{
  if (*key == '\0')
    return FALSE;
  for (const char *p = key; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static void
append_quoted (GString    *out,
               const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      guchar c = *p;

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04X", c);
          else
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

/**
 * cdviz_config_path_append:
 * @path: a path being built
 * @key: one key
 *
 * Appends @key to a dotted key path the way TOML writes it: a `.` before all
 * but the first key, and the key quoted unless it is a bare key.
 */
void
cdviz_config_path_append (GString    *path,
                          const char *key)
{
  if (path->len > 0)
    g_string_append_c (path, '.');
  if (is_bare_key (key))
    g_string_append (path, key);
  else
    append_quoted (path, key);
}

char *
_cdviz_config_join (const char *path,
                    const char *key)
{
  GString *out = g_string_new (path);

  cdviz_config_path_append (out, key);
  return g_string_free (out, FALSE);
}

static gboolean
is_sensitive (const char *key)
{
  return g_str_equal (key, "token") || g_str_equal (key, "password") ||
         g_str_equal (key, "secret") || g_str_has_suffix (key, "_token") ||
         g_str_has_suffix (key, "_password");
}

static void
emit_value (GString  *out,
            JsonNode *node);

/* A URL's password (`postgresql://user:PASSWORD@host/db`, the `url` of a
 * db sink) is a secret whatever the key: the string is written with the
 * password replaced by <redacted>. Userinfo ends at the last '@' before the
 * path; a URL without a password is written unchanged. */
static void
append_string_redacting_url (GString    *out,
                             const char *text)
{
  const char *scheme_end = strstr (text, "://");
  const char *authority, *end, *at, *colon;
  g_autoptr(GString) redacted = NULL;

  if (scheme_end == NULL || scheme_end == text)
    {
      append_quoted (out, text);
      return;
    }
  for (const char *p = text; p < scheme_end; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '-' && *p != '.')
      {
        append_quoted (out, text);
        return;
      }
  authority = scheme_end + 3;
  end = authority + strcspn (authority, "/?#");
  at = NULL;
  for (const char *p = authority; p < end; p++)
    if (*p == '@')
      at = p;
  colon = at != NULL ? memchr (authority, ':', at - authority) : NULL;
  if (colon == NULL)
    {
      append_quoted (out, text);
      return;
    }
  redacted = g_string_new_len (text, colon + 1 - text);
  g_string_append (redacted, "<redacted>");
  g_string_append (redacted, at);
  append_quoted (out, redacted->str);
}

/* The `value` of an `equals` or `secret` header rule is the expected token
 * itself. */
static gboolean
is_sensitive_member (JsonObject *object,
                     const char *key)
{
  const char *type;

  if (is_sensitive (key))
    return TRUE;
  if (!g_str_equal (key, "value"))
    return FALSE;
  type = json_object_get_string_member_with_default (object, "type", NULL);
  return g_strcmp0 (type, "equals") == 0 || g_strcmp0 (type, "secret") == 0;
}

static void
emit_inline_table (GString    *out,
                   JsonObject *object)
{
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean first = TRUE;

  g_string_append (out, "{ ");
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autoptr(GString) key = g_string_new (NULL);

      cdviz_config_path_append (key, l->data);
      g_string_append_printf (out, "%s%s = ", first ? "" : ", ", key->str);
      if (is_sensitive_member (object, l->data))
        g_string_append (out, "\"<redacted>\"");
      else
        emit_value (out, json_object_get_member (object, l->data));
      first = FALSE;
    }
  g_string_append (out, first ? "}" : " }");
}

static void
emit_value (GString  *out,
            JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      emit_inline_table (out, json_node_get_object (node));
      return;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      g_string_append_c (out, '[');
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append (out, ", ");
          emit_value (out, json_array_get_element (array, i));
        }
      g_string_append_c (out, ']');
      return;
    }
  if (JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "\"\"");
      return;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      append_string_redacting_url (out, json_node_get_string (node));
      break;
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        double d = json_node_get_double (node);

        g_ascii_dtostr (buf, sizeof buf, d);
        g_string_append (out, buf);
        if (strpbrk (buf, ".eEn") == NULL)
          g_string_append (out, ".0");
      }
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    default:
      g_string_append (out, "\"\"");
    }
}

static void
emit_table (GString    *out,
            JsonObject *object,
            const char *path,
            guint       depth)
{
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean header_done = (path == NULL);

  /* Scalars (and deep tables, inline) first, then sub-tables as sections. */
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);
      g_autoptr(GString) key = g_string_new (NULL);

      if (JSON_NODE_HOLDS_OBJECT (value) && depth < 2)
        continue;
      if (!header_done)
        {
          g_string_append_printf (out, "\n[%s]\n", path);
          header_done = TRUE;
        }
      cdviz_config_path_append (key, l->data);
      g_string_append_printf (out, "%s = ", key->str);
      if (is_sensitive_member (object, l->data))
        g_string_append (out, "\"<redacted>\"");
      else
        emit_value (out, value);
      g_string_append_c (out, '\n');
    }

  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);
      g_autofree char *child = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (value) || depth >= 2)
        continue;
      child = path ? _cdviz_config_join (path, l->data) : _cdviz_config_join ("", l->data);
      if (json_object_get_size (json_node_get_object (value)) == 0)
        g_string_append_printf (out, "\n[%s]\n", child);
      emit_table (out, json_node_get_object (value), child, depth + 1);
    }
}

/**
 * cdviz_config_to_toml:
 * @self: a #CdvizConfig
 *
 * Prints the merged configuration as TOML. Values of keys named `token`,
 * `password` or `secret` (or ending in `_token`, `_password`), and the `value`
 * of `equals` and `secret` header rules, are replaced by `"<redacted>"`; so
 * is the password of any URL (`postgresql://user:<redacted>@host/db`).
 *
 * Returns: (transfer full): the TOML text
 */
char *
cdviz_config_to_toml (CdvizConfig *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), NULL);

  emit_table (out, json_node_get_object (cdviz_config_get_root (self)), NULL, 0);
  if (out->len > 0 && out->str[0] == '\n')
    g_string_erase (out, 0, 1);
  return g_string_free (out, FALSE);
}
