/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-json-private.h"

/* --- Reading untrusted JSON ----------------------------------------------
 *
 * json-glib 1.6 is not safe on untrusted text by itself: it recurses once per
 * nesting level (80,000 `[` crash the process), it leaks on a document
 * holding two top-level values ("{}{}"), it accepts what RFC 8259 does not
 * (single-quoted strings, comments, ...) and it cuts strings at `\u0000`.
 * So every untrusted document is first checked here, in one linear pass
 * without allocation, against the RFC 8259 grammar: exactly one value;
 * objects, arrays, strings (valid escapes, surrogates in pairs, no raw
 * control character, valid UTF-8), numbers, true, false, null; whitespace
 * only space, tab, LF, CR; arrays and objects nested at most
 * CDVIZ_JSON_MAX_DEPTH deep. Only then does json-glib build the tree. */

typedef enum {
  EXPECT_VALUE,
  EXPECT_MEMBER,
  AFTER_VALUE,
} ScanState;

static inline gboolean
is_space (guchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline gboolean
is_digit (guchar c)
{
  return c >= '0' && c <= '9';
}

static inline gsize
skip_space (const guchar *data,
            gsize         length,
            gsize         i)
{
  while (i < length && is_space (data[i]))
    i++;
  return i;
}

/* Sets @error to @reason, located at byte @at of @data (line and column are
 * 1-based, the column counts bytes). Always returns FALSE. */
static gboolean
scan_fail (const guchar  *data,
           gsize          at,
           int            code,
           const char    *reason,
           GError       **error)
{
  gulong line = 1;
  gsize line_start = 0;

  for (gsize i = 0; i < at; i++)
    if (data[i] == '\n')
      {
        line++;
        line_start = i + 1;
      }
  g_set_error (error, JSON_PARSER_ERROR, code,
               _("%s at line %lu, column %lu (byte %lu)"),
               reason, line, (gulong) (at - line_start + 1), (gulong) at);
  return FALSE;
}

/* An unexpected byte (or the end) at @at, where @expected was due. */
static gboolean
scan_unexpected (const guchar  *data,
                 gsize          length,
                 gsize          at,
                 const char    *expected,
                 GError       **error)
{
  if (at >= length)
    return scan_fail (data, at, JSON_PARSER_ERROR_PARSE,
                      _("the document ends too early"), error);
  switch (data[at])
    {
    case '\0':
      return scan_fail (data, at, JSON_PARSER_ERROR_INVALID_DATA,
                        _("the document contains a NUL byte"), error);
    case '/':
      return scan_fail (data, at, JSON_PARSER_ERROR_PARSE,
                        _("comments are not allowed in JSON"), error);
    case '\'':
      return scan_fail (data, at, JSON_PARSER_ERROR_PARSE,
                        _("strings must be in double quotes"), error);
    default:
      return scan_fail (data, at, JSON_PARSER_ERROR_PARSE, expected, error);
    }
}

/* The length of the valid UTF-8 sequence of 2 to 4 bytes at @p (no overlong
 * form, no surrogate, at most U+10FFFF), or 0. */
static inline gsize
utf8_sequence_length (const guchar *p,
                      gsize         available)
{
  guchar lo = 0x80, hi = 0xBF;
  gsize length;

  if (p[0] >= 0xC2 && p[0] <= 0xDF)
    length = 2;
  else if (p[0] >= 0xE0 && p[0] <= 0xEF)
    {
      length = 3;
      if (p[0] == 0xE0)
        lo = 0xA0;
      else if (p[0] == 0xED)
        hi = 0x9F;
    }
  else if (p[0] >= 0xF0 && p[0] <= 0xF4)
    {
      length = 4;
      if (p[0] == 0xF0)
        lo = 0x90;
      else if (p[0] == 0xF4)
        hi = 0x8F;
    }
  else
    return 0;

  if (available < length || p[1] < lo || p[1] > hi)
    return 0;
  for (gsize k = 2; k < length; k++)
    if ((p[k] & 0xC0) != 0x80)
      return 0;
  return length;
}

/* Reads the four hexadecimal digits at @i into *@unit. */
static inline gboolean
read_hex4 (const guchar *data,
           gsize         length,
           gsize         i,
           guint        *unit)
{
  guint value = 0;

  if (length - i < 4)
    return FALSE;
  for (gsize k = i; k < i + 4; k++)
    {
      int digit = g_ascii_xdigit_value ((char) data[k]);

      if (digit < 0)
        return FALSE;
      value = value << 4 | (guint) digit;
    }
  *unit = value;
  return TRUE;
}

/* The string whose opening quote is at *@pos; on success *@pos is just
 * past its closing quote. */
static gboolean
scan_string (const guchar  *data,
             gsize          length,
             gsize         *pos,
             GError       **error)
{
  gsize i = *pos + 1;

  while (i < length)
    {
      guchar c = data[i];

      if (c == '"')
        {
          *pos = i + 1;
          return TRUE;
        }
      if (c >= 0x20 && c < 0x80 && c != '\\')
        {
          i++;
          continue;
        }
      if (c == '\\')
        {
          guint unit, low;

          if (i + 1 == length)
            break;
          switch (data[i + 1])
            {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
              i += 2;
              continue;
            case 'u':
              break;
            default:
              return scan_fail (data, i, JSON_PARSER_ERROR_PARSE,
                                _("invalid escape sequence in a string"), error);
            }
          if (!read_hex4 (data, length, i + 2, &unit))
            return scan_fail (data, i, JSON_PARSER_ERROR_PARSE,
                              _("invalid \\u escape (four hexadecimal digits expected)"), error);
          if (unit == 0)
            return scan_fail (data, i, JSON_PARSER_ERROR_INVALID_DATA,
                              _("strings containing NUL (\\u0000) are not accepted"), error);
          if (unit >= 0xD800 && unit <= 0xDBFF)
            {
              /* A high surrogate: a low one must follow. */
              if (length - i < 12 || data[i + 6] != '\\' || data[i + 7] != 'u' ||
                  !read_hex4 (data, length, i + 8, &low) || low < 0xDC00 || low > 0xDFFF)
                return scan_fail (data, i, JSON_PARSER_ERROR_INVALID_DATA,
                                  _("unpaired UTF-16 surrogate in a \\u escape"), error);
              i += 12;
            }
          else if (unit >= 0xDC00 && unit <= 0xDFFF)
            return scan_fail (data, i, JSON_PARSER_ERROR_INVALID_DATA,
                              _("unpaired UTF-16 surrogate in a \\u escape"), error);
          else
            i += 6;
          continue;
        }
      if (c == '\0')
        return scan_fail (data, i, JSON_PARSER_ERROR_INVALID_DATA,
                          _("the document contains a NUL byte"), error);
      if (c < 0x20)
        return scan_fail (data, i, JSON_PARSER_ERROR_PARSE,
                          _("control character in a string (it must be escaped)"), error);
      {
        gsize n = utf8_sequence_length (data + i, length - i);

        if (n == 0)
          return scan_fail (data, i, JSON_PARSER_ERROR_INVALID_DATA,
                            _("invalid UTF-8"), error);
        i += n;
      }
    }
  return scan_fail (data, *pos, JSON_PARSER_ERROR_PARSE,
                    _("unterminated string"), error);
}

/* The number at *@pos, per RFC 8259:
 * `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` */
static gboolean
scan_number (const guchar  *data,
             gsize          length,
             gsize         *pos,
             GError       **error)
{
  gsize i = *pos;

  if (data[i] == '-')
    i++;
  if (i < length && data[i] == '0')
    {
      i++;
      if (i < length && is_digit (data[i]))
        return scan_fail (data, *pos, JSON_PARSER_ERROR_PARSE,
                          _("invalid number (leading zero)"), error);
    }
  else if (i < length && is_digit (data[i]))
    {
      while (i < length && is_digit (data[i]))
        i++;
    }
  else
    return scan_fail (data, *pos, JSON_PARSER_ERROR_PARSE, _("invalid number"), error);

  if (i < length && data[i] == '.')
    {
      i++;
      if (i == length || !is_digit (data[i]))
        return scan_fail (data, *pos, JSON_PARSER_ERROR_PARSE, _("invalid number"), error);
      while (i < length && is_digit (data[i]))
        i++;
    }
  if (i < length && (data[i] == 'e' || data[i] == 'E'))
    {
      i++;
      if (i < length && (data[i] == '+' || data[i] == '-'))
        i++;
      if (i == length || !is_digit (data[i]))
        return scan_fail (data, *pos, JSON_PARSER_ERROR_PARSE, _("invalid number"), error);
      while (i < length && is_digit (data[i]))
        i++;
    }
  *pos = i;
  return TRUE;
}

static gboolean
scan_literal (const guchar  *data,
              gsize          length,
              gsize         *pos,
              GError       **error)
{
  const char *literal = data[*pos] == 't' ? "true" : data[*pos] == 'f' ? "false" : "null";
  gsize n = strlen (literal);

  if (length - *pos < n || memcmp (data + *pos, literal, n) != 0)
    return scan_fail (data, *pos, JSON_PARSER_ERROR_INVALID_BAREWORD,
                      _("invalid literal (expected true, false or null)"), error);
  *pos += n;
  return TRUE;
}

/*
 * check_document:
 *
 * Whether @text is exactly one JSON value per RFC 8259, nested at most
 * CDVIZ_JSON_MAX_DEPTH deep, with no NUL byte and no `\u0000` escape.
 * One pass; the only memory is the stack of open containers, on the stack.
 */
static gboolean
check_document (const char  *text,
                gsize        length,
                GError     **error)
{
  const guchar *data = (const guchar *) text;
  guchar open[CDVIZ_JSON_MAX_DEPTH];   /* '[' or '{' per nesting level */
  guint depth = 0;
  ScanState state = EXPECT_VALUE;
  gsize i;

  i = skip_space (data, length, 0);
  if (i == length)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           _("the document is empty"));
      return FALSE;
    }

  for (;;)
    {
      switch (state)
        {
        case EXPECT_VALUE:
          if (i == length)
            return scan_unexpected (data, length, i, NULL, error);
          switch (data[i])
            {
            case '[':
            case '{':
              if (depth == CDVIZ_JSON_MAX_DEPTH)
                {
                  g_autofree char *reason =
                    g_strdup_printf (_("JSON nested deeper than %d levels"),
                                     CDVIZ_JSON_MAX_DEPTH);

                  return scan_fail (data, i, JSON_PARSER_ERROR_PARSE, reason, error);
                }
              open[depth++] = data[i];
              i = skip_space (data, length, i + 1);
              if (i < length && data[i] == (open[depth - 1] == '[' ? ']' : '}'))
                {
                  depth--;
                  i++;
                  state = AFTER_VALUE;
                }
              else
                state = open[depth - 1] == '{' ? EXPECT_MEMBER : EXPECT_VALUE;
              break;
            case '"':
              if (!scan_string (data, length, &i, error))
                return FALSE;
              state = AFTER_VALUE;
              break;
            case '-': case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
              if (!scan_number (data, length, &i, error))
                return FALSE;
              state = AFTER_VALUE;
              break;
            case 't':
            case 'f':
            case 'n':
              if (!scan_literal (data, length, &i, error))
                return FALSE;
              state = AFTER_VALUE;
              break;
            default:
              return scan_unexpected (data, length, i, _("a value was expected"), error);
            }
          break;

        case EXPECT_MEMBER:
          if (i == length || data[i] != '"')
            return scan_unexpected (data, length, i,
                                    _("an object member name (a string) was expected"), error);
          if (!scan_string (data, length, &i, error))
            return FALSE;
          i = skip_space (data, length, i);
          if (i == length || data[i] != ':')
            return scan_unexpected (data, length, i,
                                    _("“:” was expected after an object member name"), error);
          i = skip_space (data, length, i + 1);
          state = EXPECT_VALUE;
          break;

        case AFTER_VALUE:
          i = skip_space (data, length, i);
          if (depth == 0)
            {
              if (i == length)
                return TRUE;
              if (strchr ("[{\"-0123456789tfn", data[i]) != NULL && data[i] != '\0')
                return scan_fail (data, i, JSON_PARSER_ERROR_PARSE,
                                  _("more than one top-level value"), error);
              return scan_unexpected (data, length, i,
                                      _("unexpected text after the top-level value"), error);
            }
          if (i < length && data[i] == ',')
            {
              i = skip_space (data, length, i + 1);
              state = open[depth - 1] == '{' ? EXPECT_MEMBER : EXPECT_VALUE;
            }
          else if (i < length && data[i] == (open[depth - 1] == '[' ? ']' : '}'))
            {
              depth--;
              i++;
            }
          else if (open[depth - 1] == '[')
            return scan_unexpected (data, length, i,
                                    _("“,” or “]” was expected after an array element"), error);
          else
            return scan_unexpected (data, length, i,
                                    _("“,” or “}” was expected after an object member"), error);
          break;
        }
    }
}

/*
 * _cdviz_json_parse_single_full:
 * @data: JSON text from an untrusted source
 * @length: its length
 * @sealed: whether the tree is sealed (else the caller owns a tree it may
 *   change, and seals it when done)
 * @error: JSON_PARSER_ERROR when the text is not exactly one RFC 8259 value
 *   (the message names the reason and where: line, column, byte offset),
 *   is nested deeper than CDVIZ_JSON_MAX_DEPTH, holds a NUL byte or a
 *   `\u0000` escape (%JSON_PARSER_ERROR_INVALID_DATA, as invalid UTF-8)
 *
 * Returns: (transfer full): the root node, or %NULL
 */
JsonNode *
_cdviz_json_parse_single_full (const char  *data,
                               gsize        length,
                               gboolean     sealed,
                               GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;

  if (!check_document (data, length, error))
    return NULL;

  parser = sealed ? json_parser_new_immutable () : json_parser_new ();
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           _("the document is empty"));
      return NULL;
    }
  return json_node_ref (json_parser_get_root (parser));
}

/*
 * _cdviz_json_parse_single:
 *
 * _cdviz_json_parse_single_full() with a sealed tree.
 *
 * Returns: (transfer full): the sealed root node, or %NULL
 */
JsonNode *
_cdviz_json_parse_single (const char  *data,
                          gsize        length,
                          GError     **error)
{
  return _cdviz_json_parse_single_full (data, length, TRUE, error);
}

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
