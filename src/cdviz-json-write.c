/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdviz-json-private.h"

/* Writing JSON and copying trees; reading untrusted JSON is in
 * cdviz-json.c. Any thread: no shared state. */

/* --- Writing -------------------------------------------------------------
 *
 * Compact JSON, always valid and always one line. Not json_generator: in
 * json-glib 1.6 it writes some doubles as `1e+19.0` or `inf.0`, which no JSON
 * parser accepts. Strings escape only what JSON requires (quote, backslash,
 * control characters); numbers are written like Python's repr() (the
 * shortest digits that round-trip, `.0` or an exponent on every float), so
 * that with sorted keys the output equals Python's
 * json.dumps (obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
 * — the canonical form hashed into CDEvent content ids. Non-finite doubles,
 * which JSON cannot represent, are written as null. */

static void json_append_node (GString *out, JsonNode *node, gboolean sort);

static void
json_append_string (GString    *out,
                    const char *str)
{
  g_string_append_c (out, '"');
  for (const char *p = str; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* Python's float repr(): the shortest digits that round-trip, positional
 * notation for decimal exponents in [-4, 16), scientific otherwise, always
 * a `.0` or an exponent so that the value reads back as a float. */
static void
json_append_double (GString *out,
                    double   value)
{
  char buf[64];
  char digits[32];
  int exponent, n_digits, precision;
  char *e;

  if (isnan (value) || isinf (value))
    {
      /* Not JSON; json-glib does not produce these. */
      g_string_append (out, "null");
      return;
    }

  for (precision = 0; precision < 17; precision++)
    {
      g_snprintf (buf, sizeof buf, "%.*e", precision, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_snprintf (buf, sizeof buf, "%.*e", precision, value);

  /* buf is "[-]D[.DDD]e[+-]XX" */
  e = strchr (buf, 'e');
  exponent = atoi (e + 1);
  *e = '\0';
  n_digits = 0;
  for (const char *p = buf; *p != '\0'; p++)
    if (g_ascii_isdigit (*p))
      digits[n_digits++] = *p;
  digits[n_digits] = '\0';
  /* Strip trailing zeros of the mantissa (keep one digit). */
  while (n_digits > 1 && digits[n_digits - 1] == '0')
    digits[--n_digits] = '\0';

  if (value < 0 || (value == 0 && signbit (value)))
    g_string_append_c (out, '-');

  if (exponent >= -4 && exponent < 16)
    {
      if (exponent < 0)
        {
          g_string_append (out, "0.");
          for (int i = 0; i < -exponent - 1; i++)
            g_string_append_c (out, '0');
          g_string_append (out, digits);
        }
      else if (n_digits <= exponent + 1)
        {
          g_string_append (out, digits);
          for (int i = n_digits; i < exponent + 1; i++)
            g_string_append_c (out, '0');
          g_string_append (out, ".0");
        }
      else
        {
          g_string_append_len (out, digits, exponent + 1);
          g_string_append_c (out, '.');
          g_string_append (out, digits + exponent + 1);
        }
    }
  else
    {
      g_string_append_c (out, digits[0]);
      if (n_digits > 1)
        {
          g_string_append_c (out, '.');
          g_string_append (out, digits + 1);
        }
      g_string_append_printf (out, "e%c%02d", exponent < 0 ? '-' : '+', ABS (exponent));
    }
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  /* Byte order of UTF-8 is code point order, which Python and serde use. */
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
json_append_object (GString    *out,
                    JsonObject *object,
                    gboolean    sort,
                    const char *skip_member)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean first = TRUE;

  for (GList *l = members; l != NULL; l = l->next)
    g_ptr_array_add (keys, l->data);
  if (sort)
    g_ptr_array_sort (keys, compare_keys);

  g_string_append_c (out, '{');
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = keys->pdata[i];

      if (skip_member != NULL && g_str_equal (key, skip_member))
        continue;
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      json_append_string (out, key);
      g_string_append_c (out, ':');
      json_append_node (out, json_object_get_member (object, key), sort);
    }
  g_string_append_c (out, '}');
}

static void
json_append_node (GString  *out,
                  JsonNode *node,
                  gboolean  sort)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      json_append_object (out, json_node_get_object (node), sort, NULL);
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint length = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < length; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            json_append_node (out, json_array_get_element (array, i), sort);
          }
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          json_append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          json_append_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
        }
      break;

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

/*
 * _cdviz_json_append:
 * @out: where to write
 * @node: the value
 * @sort_keys: write object members sorted by key (canonical form) rather
 *   than in document order
 * @skip_member: (nullable): a member of the top-level object to leave out
 */
void
_cdviz_json_append (GString    *out,
                    JsonNode   *node,
                    gboolean    sort_keys,
                    const char *skip_member)
{
  if (skip_member != NULL && JSON_NODE_HOLDS_OBJECT (node))
    json_append_object (out, json_node_get_object (node), sort_keys, skip_member);
  else
    json_append_node (out, node, sort_keys);
}

/* A copy that shares nothing with @node: json_node_copy() shares objects
 * and arrays (json-glib 1.6), so sealing or editing its copy would touch
 * the caller's tree. Object members keep their order (the bytes sinks send
 * keep the publisher's). Recursive: for trees of bounded depth (parsed
 * ones are at most CDVIZ_JSON_MAX_DEPTH deep). */
JsonNode *
_cdviz_json_deep_copy (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *src = json_node_get_object (node);
        JsonObject *dst = json_object_new ();
        JsonNode *copy = json_node_new (JSON_NODE_OBJECT);
        /* In the publisher's order: the bytes sinks send keep it. */
        g_autoptr(GList) members = json_object_get_members (src);

        for (GList *l = members; l != NULL; l = l->next)
          json_object_set_member (dst, l->data,
                                  _cdviz_json_deep_copy (json_object_get_member (src, l->data)));
        json_node_take_object (copy, dst);
        return copy;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *src = json_node_get_array (node);
        guint length = json_array_get_length (src);
        JsonArray *dst = json_array_sized_new (length);
        JsonNode *copy = json_node_new (JSON_NODE_ARRAY);

        for (guint i = 0; i < length; i++)
          json_array_add_element (dst, _cdviz_json_deep_copy (json_array_get_element (src, i)));
        json_node_take_array (copy, dst);
        return copy;
      }
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}
