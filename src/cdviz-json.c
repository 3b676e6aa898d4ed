/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-json-private.h"

/* json-glib 1.6.6 leaks memory on a document holding two top-level values
 * ("{}{}"): such documents are refused here, by a structural scan, before
 * json-glib sees them. The scan only delimits the first value (strings,
 * nesting); json-glib still does the real parsing and reports syntax
 * errors. */

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static gsize
skip_space (const char *data,
            gsize       length,
            gsize       i)
{
  while (i < length && is_space (data[i]))
    i++;
  return i;
}

/* Returns the offset just past the first value starting at @i, or @length
 * when it does not end (the parser then explains why). */
static gsize
end_of_value (const char *data,
              gsize       length,
              gsize       i)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  if (data[i] != '{' && data[i] != '[' && data[i] != '"')
    {
      while (i < length && !is_space (data[i]) && strchr ("{}[],:\"", data[i]) == NULL)
        i++;
      return i;
    }

  for (; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 0)
                return i + 1;
            }
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if (c == '}' || c == ']')
        {
          if (depth == 0 || --depth == 0)
            return i + 1;
        }
    }
  return length;
}

/*
 * _cdviz_json_parse_single:
 * @data: JSON text
 * @length: its length
 * @error: JSON_PARSER_ERROR on a syntax error, an empty document, or a
 *   document with more than one top-level value
 *
 * Returns: (transfer full): the sealed root node, or %NULL
 */
JsonNode *
_cdviz_json_parse_single (const char  *data,
                          gsize        length,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  gsize start, end;

  start = skip_space (data, length, 0);
  if (start == length)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "empty document");
      return NULL;
    }
  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                           "NUL byte in the document");
      return NULL;
    }
  end = skip_space (data, length, end_of_value (data, length, start));
  if (end < length)
    {
      g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                   "unexpected data after the JSON value at offset %" G_GSIZE_FORMAT, end);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "empty document");
      return NULL;
    }
  return json_node_ref (json_parser_get_root (parser));
}
