/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-json-private.h"

/* --- Reading untrusted JSON ----------------------------------------------
 *
 * json-glib 1.6 is not safe on untrusted text by itself: it recurses once per
 * nesting level (80,000 `[` crash the process), it leaks on a document
 * holding two top-level values ("{}{}"), it accepts what RFC 8259 does not
 * (single-quoted strings, comments, ...) and it cuts strings at `\u0000`.
 * So every untrusted document is read here, in one linear pass without
 * recursion, against the RFC 8259 grammar: exactly one value; objects,
 * arrays, strings (valid escapes, surrogates in pairs, no raw control
 * character, valid UTF-8), numbers, true, false, null; whitespace only
 * space, tab, LF, CR; arrays and objects nested at most
 * CDVIZ_JSON_MAX_DEPTH deep. The same pass builds the json-glib tree (see
 * "Building the tree"): JsonParser is not used. */

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

/* --- Building the tree ---------------------------------------------------
 *
 * The same pass builds the json-glib tree, without JsonParser: the scanner
 * above has already told every token apart, and json-glib 1.6's parser,
 * which reads the text again one character at a time through its GScanner
 * and emits a signal per node, cost more than the tree itself. The values
 * are json-glib's: integers are int64 read the way its scanner reads them
 * (digits as a saturating unsigned 64-bit number, then negated for a minus
 * sign, so out-of-range integers wrap exactly as with JsonParser), anything
 * with a fraction or an exponent a double (g_ascii_strtod; one too large
 * for a double, 1e400, is refused where json-glib makes it infinity),
 * strings unescaped to UTF-8, and a member
 * named twice keeps its first place and its last value. test-json checks
 * these against JsonParser. */

/* Appends the string whose quotes are at @start - 1 and @end, already
 * checked by scan_string(), unescaped, and a NUL. */
static void
append_unescaped (GString      *out,
                  const guchar *data,
                  gsize         start,
                  gsize         end)
{
  gsize i = start;

  while (i < end)
    {
      const guchar *backslash = memchr (data + i, '\\', end - i);
      gsize run = (backslash ? (gsize) (backslash - data) : end) - i;
      guint unit = 0, low = 0xDC00;
      char utf8[8];

      g_string_append_len (out, (const char *) data + i, (gssize) run);
      i += run;
      if (i == end)
        break;
      switch (data[i + 1])
        {
        case 'b': g_string_append_c (out, '\b'); i += 2; continue;
        case 'f': g_string_append_c (out, '\f'); i += 2; continue;
        case 'n': g_string_append_c (out, '\n'); i += 2; continue;
        case 'r': g_string_append_c (out, '\r'); i += 2; continue;
        case 't': g_string_append_c (out, '\t'); i += 2; continue;
        case 'u': break;
        default: g_string_append_c (out, (char) data[i + 1]); i += 2; continue;
        }
      read_hex4 (data, end, i + 2, &unit);
      i += 6;
      if (unit >= 0xD800 && unit <= 0xDBFF)
        {
          read_hex4 (data, end, i + 2, &low);
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
      g_string_append_len (out, utf8, g_unichar_to_utf8 (unit, utf8));
    }
  g_string_append_c (out, '\0');
}

/* The number checked by scan_number() at [@start, @end), or %NULL with
 * @error set when it is too large for a double: JSON cannot carry the
 * infinity it would become (the writer would send null), and serde_json,
 * as cdviz-collector, refuses it too ("number out of range"). */
static JsonNode *
number_node (const guchar  *data,
             gsize          start,
             gsize          end,
             GError       **error)
{
  gboolean negative = data[start] == '-';
  guint64 value = 0;
  gsize i;

  for (i = negative ? start + 1 : start; i < end && is_digit (data[i]); i++)
    {
      guint digit = data[i] - '0';

      if (value > (G_MAXUINT64 - digit) / 10)
        value = G_MAXUINT64;        /* saturates, as strtoull() */
      else
        value = value * 10 + digit;
    }
  if (i == end)
    return json_node_init_int (json_node_alloc (), (gint64) (negative ? 0 - value : value));

  {
    char buf[64];
    g_autofree char *heap = NULL;
    char *text = buf;
    double number;

    if (end - start >= sizeof buf)
      text = heap = g_malloc (end - start + 1);
    memcpy (text, data + start, end - start);
    text[end - start] = '\0';
    number = g_ascii_strtod (text, NULL);
    if (!isfinite (number))
      {
        scan_fail (data, start, JSON_PARSER_ERROR_INVALID_DATA, _("number out of range"), error);
        return NULL;
      }
    return json_node_init_double (json_node_alloc (), number);
  }
}

/* The tree being built: one node per open container, and after the names
 * of the members whose values are being read, one after the other in
 * @scratch (names nest as containers do). */
typedef struct {
  JsonNode *root;
  gpointer containers[CDVIZ_JSON_MAX_DEPTH];  /* JsonArray or JsonObject */
  JsonNode *nodes[CDVIZ_JSON_MAX_DEPTH];
  gsize names[CDVIZ_JSON_MAX_DEPTH];          /* offsets into scratch */
  GString *scratch;
  /* So far the text is exactly what _cdviz_json_append() writes for the
   * tree (compact, document order): no space between tokens, no escape,
   * integers only and none that the writer spells otherwise, no repeated
   * member name. */
  gboolean compact;
} Builder;

/* skip_space(), noting in @b that the text is not compact if it skipped
 * anything. */
static inline gsize
builder_skip_space (Builder      *b,
                    const guchar *data,
                    gsize         length,
                    gsize         i)
{
  gsize j = skip_space (data, length, i);

  if (j != i)
    b->compact = FALSE;
  return j;
}

/* Takes @node into the innermost open container (@open, @depth). */
static void
builder_add (Builder      *b,
             const guchar *open,
             guint         depth,
             JsonNode     *node)
{
  if (depth == 0)
    {
      b->root = node;
      return;
    }
  json_node_set_parent (node, b->nodes[depth - 1]);
  if (open[depth - 1] == '[')
    json_array_add_element (b->containers[depth - 1], node);
  else
    {
      JsonObject *object = b->containers[depth - 1];
      guint size = json_object_get_size (object);

      json_object_set_member (object, b->scratch->str + b->names[depth - 1], node);
      /* A repeated name replaced a member: the tree lost one. */
      if (json_object_get_size (object) == size)
        b->compact = FALSE;
      g_string_truncate (b->scratch, b->names[depth - 1]);
    }
}

/*
 * parse_document:
 *
 * Builds the tree of @text if it is exactly one JSON value per RFC 8259,
 * nested at most CDVIZ_JSON_MAX_DEPTH deep, with no NUL byte and no
 * `\u0000` escape; else sets @error. One pass; no recursion.
 */
static JsonNode *
parse_document (const char  *text,
                gsize        length,
                gboolean    *compact,
                GError     **error)
{
  const guchar *data = (const guchar *) text;
  guchar open[CDVIZ_JSON_MAX_DEPTH];   /* '[' or '{' per nesting level */
  guint depth = 0;
  ScanState state = EXPECT_VALUE;
  Builder b;
  gsize i, start;

  i = skip_space (data, length, 0);
  if (i == length)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           _("the document is empty"));
      return NULL;
    }

  b.root = NULL;
  b.scratch = g_string_sized_new (64);
  b.compact = i == 0;

  for (;;)
    {
      switch (state)
        {
        case EXPECT_VALUE:
          if (i == length)
            goto fail_unexpected_value;
          switch (data[i])
            {
            case '[':
            case '{':
              if (depth == CDVIZ_JSON_MAX_DEPTH)
                {
                  g_autofree char *reason =
                    g_strdup_printf (_("JSON nested deeper than %d levels"),
                                     CDVIZ_JSON_MAX_DEPTH);

                  scan_fail (data, i, JSON_PARSER_ERROR_PARSE, reason, error);
                  goto fail;
                }
              {
                JsonNode *node;

                if (data[i] == '[')
                  {
                    JsonArray *array = json_array_new ();

                    node = json_node_new (JSON_NODE_ARRAY);
                    json_node_take_array (node, array);
                    b.containers[depth] = array;
                  }
                else
                  {
                    JsonObject *object = json_object_new ();

                    node = json_node_new (JSON_NODE_OBJECT);
                    json_node_take_object (node, object);
                    b.containers[depth] = object;
                  }
                builder_add (&b, open, depth, node);
                b.nodes[depth] = node;
              }
              open[depth++] = data[i];
              i = builder_skip_space (&b, data, length, i + 1);
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
              start = i;
              if (!scan_string (data, length, &i, error))
                goto fail;
              {
                gsize mark = b.scratch->len;

                append_unescaped (b.scratch, data, start + 1, i - 1);
                /* An escape always unescapes to fewer bytes (the text
                 * between the quotes, and the NUL appended). */
                if (b.scratch->len - mark != i - start - 1)
                  b.compact = FALSE;
                builder_add (&b, open, depth,
                             json_node_init_string (json_node_alloc (), b.scratch->str + mark));
                g_string_truncate (b.scratch, mark);
              }
              state = AFTER_VALUE;
              break;
            case '-': case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
              start = i;
              if (!scan_number (data, length, &i, error))
                goto fail;
              {
                JsonNode *number = number_node (data, start, i, error);
                gsize digits = i - start - (data[start] == '-');

                if (number == NULL)
                  goto fail;
                /* The writer spells doubles its own way, -0 as 0, and an
                 * integer beyond 18 digits may not be a gint64. */
                if (JSON_NODE_TYPE (number) != JSON_NODE_VALUE ||
                    json_node_get_value_type (number) != G_TYPE_INT64 || digits > 18 ||
                    (data[start] == '-' && data[start + 1] == '0'))
                  b.compact = FALSE;
                builder_add (&b, open, depth, number);
              }
              state = AFTER_VALUE;
              break;
            case 't':
            case 'f':
            case 'n':
              start = i;
              if (!scan_literal (data, length, &i, error))
                goto fail;
              builder_add (&b, open, depth,
                           data[start] == 'n' ? json_node_init_null (json_node_alloc ())
                           : json_node_init_boolean (json_node_alloc (), data[start] == 't'));
              state = AFTER_VALUE;
              break;
            default:
              goto fail_unexpected_value;
            }
          break;

        case EXPECT_MEMBER:
          if (i == length || data[i] != '"')
            {
              scan_unexpected (data, length, i,
                               _("an object member name (a string) was expected"), error);
              goto fail;
            }
          start = i;
          if (!scan_string (data, length, &i, error))
            goto fail;
          b.names[depth - 1] = b.scratch->len;
          append_unescaped (b.scratch, data, start + 1, i - 1);
          if (b.scratch->len - b.names[depth - 1] != i - start - 1)
            b.compact = FALSE;
          i = builder_skip_space (&b, data, length, i);
          if (i == length || data[i] != ':')
            {
              scan_unexpected (data, length, i,
                               _("“:” was expected after an object member name"), error);
              goto fail;
            }
          i = builder_skip_space (&b, data, length, i + 1);
          state = EXPECT_VALUE;
          break;

        case AFTER_VALUE:
          i = builder_skip_space (&b, data, length, i);
          if (depth == 0)
            {
              if (i == length)
                {
                  g_string_free (b.scratch, TRUE);
                  if (compact != NULL)
                    *compact = b.compact;
                  return b.root;
                }
              if (strchr ("[{\"-0123456789tfn", data[i]) != NULL && data[i] != '\0')
                scan_fail (data, i, JSON_PARSER_ERROR_PARSE,
                           _("more than one top-level value"), error);
              else
                scan_unexpected (data, length, i,
                                 _("unexpected text after the top-level value"), error);
              goto fail;
            }
          if (i < length && data[i] == ',')
            {
              i = builder_skip_space (&b, data, length, i + 1);
              state = open[depth - 1] == '{' ? EXPECT_MEMBER : EXPECT_VALUE;
            }
          else if (i < length && data[i] == (open[depth - 1] == '[' ? ']' : '}'))
            {
              depth--;
              i++;
            }
          else
            {
              if (open[depth - 1] == '[')
                scan_unexpected (data, length, i,
                                 _("“,” or “]” was expected after an array element"), error);
              else
                scan_unexpected (data, length, i,
                                 _("“,” or “}” was expected after an object member"), error);
              goto fail;
            }
          break;
        }
    }

fail_unexpected_value:
  scan_unexpected (data, length, i, _("a value was expected"), error);
fail:
  g_clear_pointer (&b.root, json_node_unref);
  g_string_free (b.scratch, TRUE);
  return NULL;
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
  JsonNode *root = parse_document (data, length, NULL, error);

  if (root != NULL && sealed)
    json_node_seal (root);
  return root;
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

/*
 * _cdviz_json_parse_compact:
 * @compact: (out): whether @data is exactly what _cdviz_json_append()
 *   writes for the tree (unsorted): then a sink can send @data itself
 *   instead of writing the tree again
 *
 * _cdviz_json_parse_single() that also says whether the text is already
 * in the writer's compact form. A compact publisher (a cdviz SSE sink
 * upstream, most webhook clients) sends exactly that; anything with a
 * space between tokens, an escape, a non-integer number, a -0, an integer
 * of more than 18 digits or a repeated member name is not.
 *
 * Returns: (transfer full): the sealed root node, or %NULL
 */
JsonNode *
_cdviz_json_parse_compact (const char  *data,
                           gsize        length,
                           gboolean    *compact,
                           GError     **error)
{
  JsonNode *root;

  *compact = FALSE;
  root = parse_document (data, length, compact, error);
  if (root != NULL)
    json_node_seal (root);
  return root;
}
