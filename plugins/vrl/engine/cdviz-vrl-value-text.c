/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdviz-vrl-value.h"

/* Values as text and back: floats as upstream prints them, timestamps in
 * RFC 3339, JSON (serde_json's layout) and VRL literal text, json-glib
 * nodes. Split from cdviz-vrl-value.c, which keeps the value type itself. */

/* --- text ---------------------------------------------------------------- */

/* Shortest text that reads back as @number, in serde_json's style (ryu):
 * "1.0", "0.1", "1e16", "1.5e-7". */
char *
cdviz_vrl_format_float (double number)
{
  char digits[64];
  int exponent, precision;
  char *mantissa_end, *e;
  GString *out;

  if (isnan (number))
    return g_strdup ("NaN");
  if (isinf (number))
    return g_strdup (number > 0 ? "inf" : "-inf");
  if (number == 0)
    return g_strdup (signbit (number) ? "-0.0" : "0.0");

  for (precision = 1; precision <= 17; precision++)
    {
      g_snprintf (digits, sizeof digits, "%.*e", precision - 1, number);
      if (g_ascii_strtod (digits, NULL) == number)
        break;
    }
  e = strchr (digits, 'e');
  exponent = atoi (e + 1);
  mantissa_end = e;
  out = g_string_new (NULL);
  {
    /* digits without the sign and the point */
    GString *d = g_string_new (NULL);
    const char *p = digits;

    if (*p == '-')
      {
        g_string_append_c (out, '-');
        p++;
      }
    for (; p < mantissa_end; p++)
      if (g_ascii_isdigit (*p))
        g_string_append_c (d, *p);
    while (d->len > 1 && d->str[d->len - 1] == '0')
      g_string_truncate (d, d->len - 1);

    if (exponent >= -5 && exponent < 16)
      {
        if (exponent < 0)
          {
            g_string_append (out, "0.");
            for (int i = -1; i > exponent; i--)
              g_string_append_c (out, '0');
            g_string_append (out, d->str);
          }
        else if ((gsize) exponent + 1 >= d->len)
          {
            g_string_append (out, d->str);
            for (gsize i = d->len; i < (gsize) exponent + 1; i++)
              g_string_append_c (out, '0');
            g_string_append (out, ".0");
          }
        else
          {
            g_string_append_len (out, d->str, exponent + 1);
            g_string_append_c (out, '.');
            g_string_append (out, d->str + exponent + 1);
          }
      }
    else
      {
        g_string_append_c (out, d->str[0]);
        if (d->len > 1)
          {
            g_string_append_c (out, '.');
            g_string_append (out, d->str + 1);
          }
        g_string_append_printf (out, "e%d", exponent);
      }
    g_string_free (d, TRUE);
  }
  return g_string_free (out, FALSE);
}

char *
cdviz_vrl_timestamp_to_rfc3339 (const CdvizVrlValue *value,
                                gboolean             auto_secs)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (value->ts.seconds);
  g_autofree char *base = NULL;
  gint32 nanos = value->ts.nanos;

  if (dt == NULL)
    return g_strdup ("invalid timestamp");
  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  if (nanos == 0)
    return g_strdup_printf ("%sZ", base);
  if (nanos % 1000000 == 0)
    return g_strdup_printf ("%s.%03dZ", base, nanos / 1000000);
  if (nanos % 1000 == 0)
    return g_strdup_printf ("%s.%06dZ", base, nanos / 1000);
  return g_strdup_printf ("%s.%09dZ", base, nanos);
}

/* RFC 3339 with up to nanosecond fractions; GDateTime does the calendar. */
gboolean
cdviz_vrl_parse_rfc3339 (const char *text,
                         gint64     *seconds,
                         gint32     *nanos)
{
  g_autoptr(GString) rest = g_string_new (NULL);
  g_autoptr(GDateTime) dt = NULL;
  const char *dot;
  gint32 fraction = 0;

  if (strlen (text) < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
    return FALSE;
  dot = text + 19;
  g_string_append_len (rest, text, 19);
  rest->str[10] = 'T';
  if (*dot == '.')
    {
      int n = 0;

      dot++;
      while (g_ascii_isdigit (*dot))
        {
          if (n < 9)
            fraction = fraction * 10 + (*dot - '0');
          n++;
          dot++;
        }
      if (n == 0)
        return FALSE;
      for (; n < 9; n++)
        fraction *= 10;
    }
  if (*dot == 'z')
    g_string_append_c (rest, 'Z');
  else
    g_string_append (rest, dot);
  if (!g_str_has_suffix (rest->str, "Z") && strlen (dot) != 6)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (rest->str, NULL);
  if (dt == NULL)
    return FALSE;
  *seconds = g_date_time_to_unix (dt);
  *nanos = fraction;
  return TRUE;
}

static void
append_json_string (GString    *out,
                    const char *data,
                    gsize       len)
{
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guchar c = data[i];

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
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

static void
append_newline (GString *out,
                int      indent)
{
  g_string_append_c (out, '\n');
  for (int i = 0; i < indent; i++)
    g_string_append (out, "  ");
}

/* serde_json's compact (@indent < 0) or pretty (2 spaces) layout. Invalid
 * UTF-8 is replaced, as upstream's lossy conversion does. */
void
cdviz_vrl_value_append_json (GString             *out,
                             const CdvizVrlValue *value,
                             int                  indent)
{
  switch (value->kind)
    {
    case CDVIZ_VRL_NULL:
      g_string_append (out, "null");
      break;
    case CDVIZ_VRL_BOOLEAN:
      g_string_append (out, value->boolean ? "true" : "false");
      break;
    case CDVIZ_VRL_INTEGER:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, value->integer);
      break;
    case CDVIZ_VRL_FLOAT:
      if (!isfinite (value->number))
        g_string_append (out, "null");
      else
        {
          g_autofree char *text = cdviz_vrl_format_float (value->number);

          g_string_append (out, text);
        }
      break;
    case CDVIZ_VRL_BYTES:
      if (g_utf8_validate_len (value->bytes.data, value->bytes.len, NULL))
        append_json_string (out, value->bytes.data, value->bytes.len);
      else
        {
          g_autofree char *valid = g_utf8_make_valid (value->bytes.data, value->bytes.len);

          append_json_string (out, valid, strlen (valid));
        }
      break;
    case CDVIZ_VRL_TIMESTAMP:
      {
        g_autofree char *text = cdviz_vrl_timestamp_to_rfc3339 (value, TRUE);

        append_json_string (out, text, strlen (text));
      }
      break;
    case CDVIZ_VRL_REGEX:
      append_json_string (out, value->re.pattern, strlen (value->re.pattern));
      break;
    case CDVIZ_VRL_ARRAY:
      if (value->array->len == 0)
        {
          g_string_append (out, "[]");
          break;
        }
      g_string_append_c (out, '[');
      for (guint i = 0; i < value->array->len; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          if (indent >= 0)
            append_newline (out, indent + 1);
          cdviz_vrl_value_append_json (out, g_ptr_array_index (value->array, i),
                                       indent >= 0 ? indent + 1 : -1);
        }
      if (indent >= 0)
        append_newline (out, indent);
      g_string_append_c (out, ']');
      break;
    case CDVIZ_VRL_OBJECT:
      if (value->object->len == 0)
        {
          g_string_append (out, "{}");
          break;
        }
      g_string_append_c (out, '{');
      for (guint i = 0; i < value->object->len; i++)
        {
          CdvizVrlEntry *entry = cdviz_vrl_object_entry (value, i);

          if (i > 0)
            g_string_append_c (out, ',');
          if (indent >= 0)
            append_newline (out, indent + 1);
          append_json_string (out, entry->key, strlen (entry->key));
          g_string_append (out, indent >= 0 ? ": " : ":");
          cdviz_vrl_value_append_json (out, entry->value, indent >= 0 ? indent + 1 : -1);
        }
      if (indent >= 0)
        append_newline (out, indent);
      g_string_append_c (out, '}');
      break;
    }
}

char *
cdviz_vrl_value_to_json (const CdvizVrlValue *value,
                         gboolean             pretty)
{
  GString *out = g_string_new (NULL);

  cdviz_vrl_value_append_json (out, value, pretty ? 0 : -1);
  return g_string_free (out, FALSE);
}

static void
append_vrl (GString             *out,
            const CdvizVrlValue *value)
{
  switch (value->kind)
    {
    case CDVIZ_VRL_TIMESTAMP:
      {
        g_autofree char *text = cdviz_vrl_timestamp_to_rfc3339 (value, TRUE);

        g_string_append_printf (out, "t'%s'", text);
      }
      break;
    case CDVIZ_VRL_REGEX:
      g_string_append_printf (out, "r'%s'", value->re.pattern);
      break;
    case CDVIZ_VRL_FLOAT:
      {
        g_autofree char *text = cdviz_vrl_format_float (value->number);

        g_string_append (out, text);
      }
      break;
    case CDVIZ_VRL_ARRAY:
      g_string_append_c (out, '[');
      for (guint i = 0; i < value->array->len; i++)
        {
          if (i > 0)
            g_string_append (out, ", ");
          append_vrl (out, g_ptr_array_index (value->array, i));
        }
      g_string_append_c (out, ']');
      break;
    case CDVIZ_VRL_OBJECT:
      g_string_append_c (out, '{');
      for (guint i = 0; i < value->object->len; i++)
        {
          CdvizVrlEntry *entry = cdviz_vrl_object_entry (value, i);

          if (i > 0)
            g_string_append (out, ", ");
          append_json_string (out, entry->key, strlen (entry->key));
          g_string_append (out, ": ");
          append_vrl (out, entry->value);
        }
      g_string_append_c (out, '}');
      break;
    default:
      cdviz_vrl_value_append_json (out, value, -1);
    }
}

char *
cdviz_vrl_value_to_vrl (const CdvizVrlValue *value)
{
  GString *out = g_string_new (NULL);

  append_vrl (out, value);
  return g_string_free (out, FALSE);
}

/* --- JSON edges ---------------------------------------------------------- */

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (((const CdvizVrlEntry *) a)->key, ((const CdvizVrlEntry *) b)->key);
}

CdvizVrlValue *
cdviz_vrl_value_from_json (JsonNode *node)
{
  if (node == NULL)
    return cdviz_vrl_null ();
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      return cdviz_vrl_null ();
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          return cdviz_vrl_integer (json_node_get_int (node));
        case G_TYPE_DOUBLE:
          return cdviz_vrl_float (json_node_get_double (node));
        case G_TYPE_BOOLEAN:
          return cdviz_vrl_boolean (json_node_get_boolean (node));
        case G_TYPE_STRING:
          return cdviz_vrl_bytes (json_node_get_string (node), -1);
        default:
          return cdviz_vrl_null ();
        }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        CdvizVrlValue *value = cdviz_vrl_array_new ();
        guint n = json_array_get_length (array);

        for (guint i = 0; i < n; i++)
          g_ptr_array_add (value->array, cdviz_vrl_value_from_json (json_array_get_element (array, i)));
        return value;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        CdvizVrlValue *value = cdviz_vrl_object_new ();
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        /* json-glib keeps one member per name: build then sort. */
        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &key, &member))
          {
            CdvizVrlEntry entry = { g_strdup (key), cdviz_vrl_value_from_json (member) };

            g_array_append_val (value->object, entry);
          }
        g_array_sort (value->object, compare_entries);
        return value;
      }
    }
  return cdviz_vrl_null ();
}

JsonNode *
cdviz_vrl_value_to_json_node (const CdvizVrlValue *value)
{
  JsonNode *node;

  switch (value->kind)
    {
    case CDVIZ_VRL_NULL:
      return json_node_new (JSON_NODE_NULL);
    case CDVIZ_VRL_BOOLEAN:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, value->boolean);
      return node;
    case CDVIZ_VRL_INTEGER:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, value->integer);
      return node;
    case CDVIZ_VRL_FLOAT:
      if (!isfinite (value->number))
        return json_node_new (JSON_NODE_NULL);
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_double (node, value->number);
      return node;
    case CDVIZ_VRL_BYTES:
      {
        g_autofree char *valid = g_utf8_make_valid (value->bytes.data, value->bytes.len);

        node = json_node_new (JSON_NODE_VALUE);
        json_node_set_string (node, valid);
        return node;
      }
    case CDVIZ_VRL_TIMESTAMP:
      {
        g_autofree char *text = cdviz_vrl_timestamp_to_rfc3339 (value, TRUE);

        node = json_node_new (JSON_NODE_VALUE);
        json_node_set_string (node, text);
        return node;
      }
    case CDVIZ_VRL_REGEX:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (node, value->re.pattern);
      return node;
    case CDVIZ_VRL_ARRAY:
      {
        JsonArray *array = json_array_sized_new (value->array->len);

        for (guint i = 0; i < value->array->len; i++)
          json_array_add_element (array, cdviz_vrl_value_to_json_node (g_ptr_array_index (value->array, i)));
        node = json_node_new (JSON_NODE_ARRAY);
        json_node_take_array (node, array);
        return node;
      }
    case CDVIZ_VRL_OBJECT:
      {
        JsonObject *object = json_object_new ();

        for (guint i = 0; i < value->object->len; i++)
          {
            CdvizVrlEntry *entry = cdviz_vrl_object_entry (value, i);

            json_object_set_member (object, entry->key, cdviz_vrl_value_to_json_node (entry->value));
          }
        node = json_node_new (JSON_NODE_OBJECT);
        json_node_take_object (node, object);
        return node;
      }
    }
  return json_node_new (JSON_NODE_NULL);
}
