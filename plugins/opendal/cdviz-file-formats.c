/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <glib/gi18n-lib.h>

#include "cdviz-file-parser.h"

/* YAML (libyaml) and TAP → JSON, as cdviz-collector's `parse_yaml`
 * (serde_yaml, converted to serde_json) and `parse_tap` (its TAP 14
 * parser, `src/sources/parsers/tap.rs`) build them. */

/* Aliases may make a small document expand into a huge one ("billion
 * laughs"): the JSON may hold at most this many values more than the
 * document has nodes, and is bounded in depth. */
#define YAML_MAX_ALIASED 100000
#define YAML_MAX_DEPTH 128

typedef struct {
  yaml_document_t *doc;
  gsize nodes, max_nodes;
  GError **error;
} YamlWalk;

static JsonNode *
yaml_scalar (yaml_node_t *node)
{
  const char *s = (const char *) node->data.scalar.value;
  gsize length = node->data.scalar.length;
  JsonNode *out = json_node_alloc ();
  char *end = NULL;

  /* libyaml's loader tags every untagged scalar !!str: a plain scalar is
   * resolved by its text (YAML 1.2 core schema), as serde_yaml does. */
  if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return json_node_init_string (out, s);
  if (length == 0 || g_str_equal (s, "~") || g_str_equal (s, "null") ||
      g_str_equal (s, "Null") || g_str_equal (s, "NULL"))
    return json_node_init_null (out);
  if (g_str_equal (s, "true") || g_str_equal (s, "True") || g_str_equal (s, "TRUE"))
    return json_node_init_boolean (out, TRUE);
  if (g_str_equal (s, "false") || g_str_equal (s, "False") || g_str_equal (s, "FALSE"))
    return json_node_init_boolean (out, FALSE);
  {
    const char *digits = s + (s[0] == '-' || s[0] == '+');
    int base = 10;
    gint64 value;

    if (g_str_has_prefix (digits, "0x"))
      base = 16;
    else if (g_str_has_prefix (digits, "0o"))
      base = 8;
    if (base != 10)
      digits += 2;
    if (g_ascii_isxdigit (*digits))
      {
        errno = 0;
        value = g_ascii_strtoll (digits, &end, base);
        if (end != NULL && *end == '\0' && errno == 0 &&
            (base == 16 || g_ascii_isdigit (*digits)))
          return json_node_init_int (out, s[0] == '-' ? -value : value);
      }
  }
  {
    double value;

    /* .inf and .nan have no JSON form: serde_json writes them as null. */
    if (g_ascii_strcasecmp (s, ".inf") == 0 || g_ascii_strcasecmp (s, "+.inf") == 0 ||
        g_ascii_strcasecmp (s, "-.inf") == 0 || g_ascii_strcasecmp (s, ".nan") == 0)
      return json_node_init_null (out);
    if (g_ascii_isdigit (s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.')
      {
        value = g_ascii_strtod (s, &end);
        if (end != NULL && *end == '\0' && strspn (s, "0123456789+-.eE") == length)
          return json_node_init_double (out, value);
      }
  }
  return json_node_init_string (out, s);
}

static JsonNode *
yaml_node_to_json (YamlWalk    *walk,
                   yaml_node_t *node,
                   guint        depth)
{
  if (++walk->nodes > walk->max_nodes || depth > YAML_MAX_DEPTH)
    {
      if (walk->error != NULL && *walk->error == NULL)
        g_set_error (walk->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     _("the document expands to more than %u values or %u levels"),
                     (guint) walk->max_nodes, YAML_MAX_DEPTH);
      return NULL;
    }
  switch (node->type)
    {
    case YAML_SCALAR_NODE:
      return yaml_scalar (node);
    case YAML_SEQUENCE_NODE:
      {
        g_autoptr(JsonArray) array = json_array_new ();

        for (yaml_node_item_t *i = node->data.sequence.items.start;
             i < node->data.sequence.items.top; i++)
          {
            JsonNode *item = yaml_node_to_json (walk, yaml_document_get_node (walk->doc, *i),
                                                depth + 1);

            if (item == NULL)
              return NULL;
            json_array_add_element (array, item);
          }
        return json_node_init_array (json_node_alloc (), array);
      }
    case YAML_MAPPING_NODE:
      {
        g_autoptr(JsonObject) object = json_object_new ();

        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++)
          {
            yaml_node_t *key = yaml_document_get_node (walk->doc, p->key);
            JsonNode *value;

            if (key == NULL || key->type != YAML_SCALAR_NODE)
              {
                g_set_error (walk->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                             _("line %lu: a mapping key that is not a scalar has no JSON form"),
                             key ? (unsigned long) key->start_mark.line + 1 : 0UL);
                return NULL;
              }
            value = yaml_node_to_json (walk, yaml_document_get_node (walk->doc, p->value),
                                       depth + 1);
            if (value == NULL)
              return NULL;
            json_object_set_member (object, (const char *) key->data.scalar.value, value);
          }
        return json_node_init_object (json_node_alloc (), object);
      }
    case YAML_NO_NODE:
    default:
      return json_node_init_null (json_node_alloc ());
    }
}

JsonNode *
cdviz_yaml_to_json (const char  *data,
                    gsize        length,
                    GError     **error)
{
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  yaml_node_t *root;
  JsonNode *out = NULL;
  YamlWalk walk = { &doc, 0, 0, error };

  if (!yaml_parser_initialize (&parser))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("out of memory"));
      return NULL;
    }
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, length);
  if (!yaml_parser_load (&parser, &doc))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("line %lu, column %lu: %s"),
                   (unsigned long) parser.problem_mark.line + 1,
                   (unsigned long) parser.problem_mark.column + 1,
                   parser.problem ? parser.problem : _("invalid YAML"));
      yaml_parser_delete (&parser);
      return NULL;
    }
  root = yaml_document_get_root_node (&doc);
  walk.max_nodes = (gsize) (doc.nodes.top - doc.nodes.start) + YAML_MAX_ALIASED;
  if (root == NULL)
    out = json_node_init_null (json_node_alloc ());
  else
    out = yaml_node_to_json (&walk, root, 0);
  /* serde_yaml refuses a stream of several documents. */
  if (out != NULL && yaml_parser_load (&parser, &extra))
    {
      if (yaml_document_get_root_node (&extra) != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("line %lu: more than one document"),
                       (unsigned long) yaml_document_get_root_node (&extra)->start_mark.line + 1);
          g_clear_pointer (&out, json_node_unref);
        }
      yaml_document_delete (&extra);
    }
  yaml_document_delete (&doc);
  yaml_parser_delete (&parser);
  return out;
}

/* --- TAP 14 -------------------------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} TapCursor;

/* The next line (without its end), or FALSE at the end. */
static gboolean
tap_peek (TapCursor   *c,
          const char **line,
          gsize       *length,
          const char **next)
{
  const char *nl;

  if (c->p >= c->end)
    return FALSE;
  nl = memchr (c->p, '\n', c->end - c->p);
  *line = c->p;
  *length = (nl ? nl : c->end) - c->p;
  if (*length > 0 && c->p[*length - 1] == '\r')
    (*length)--;
  *next = nl ? nl + 1 : c->end;
  return TRUE;
}

static gboolean
tap_is_ignorable (const char *line,
                  gsize       length)
{
  gsize i = 0;

  if (length > 0 && line[0] == '#')
    return TRUE;
  while (i < length && (line[i] == ' ' || line[i] == '\t'))
    i++;
  return i == length;
}

static void
tap_skip_ignorable (TapCursor *c)
{
  const char *line, *next;
  gsize length;

  while (tap_peek (c, &line, &length, &next) && tap_is_ignorable (line, length))
    c->p = next;
}

static gsize
count_digits (const char *s,
              gsize       length)
{
  gsize n = 0;

  while (n < length && g_ascii_isdigit (s[n]))
    n++;
  return n;
}

static JsonNode *
tap_plan (const char *line,
          gsize       length)
{
  gsize a = count_digits (line, length), b;
  g_autoptr(JsonObject) plan = NULL;

  if (a == 0 || length < a + 2 || line[a] != '.' || line[a + 1] != '.')
    return NULL;
  b = count_digits (line + a + 2, length - a - 2);
  if (b == 0 || a + 2 + b != length)
    return NULL;
  plan = json_object_new ();
  json_object_set_int_member (plan, "start", g_ascii_strtoll (line, NULL, 10));
  json_object_set_int_member (plan, "end", g_ascii_strtoll (line + a + 2, NULL, 10));
  return json_node_init_object (json_node_alloc (), plan);
}

static void
set_optional_string (JsonObject *object,
                     const char *member,
                     const char *s,
                     gsize       length)
{
  g_autofree char *copy = g_strstrip (g_strndup (s, length));

  if (*copy != '\0')
    json_object_set_string_member (object, member, copy);
  else
    json_object_set_null_member (object, member);
}

/* "  ---" … "  ..." after a test line: its YAML diagnostics. */
static JsonNode *
tap_yaml_block (TapCursor *c)
{
  const char *line, *next;
  gsize length;
  TapCursor look = *c;
  g_autoptr(GString) yaml = g_string_new (NULL);

  if (!tap_peek (&look, &line, &length, &next) || length != 5 || memcmp (line, "  ---", 5) != 0)
    return NULL;
  look.p = next;
  while (tap_peek (&look, &line, &length, &next))
    {
      look.p = next;
      if (length == 5 && memcmp (line, "  ...", 5) == 0)
        {
          c->p = look.p;
          return cdviz_yaml_to_json (yaml->str, yaml->len, NULL) ?:
                 json_node_init_null (json_node_alloc ());
        }
      if (length >= 2 && line[0] == ' ' && line[1] == ' ')
        g_string_append_len (yaml, line + 2, length - 2);
      else
        g_string_append_len (yaml, line, length);
      g_string_append_c (yaml, '\n');
    }
  return NULL;  /* not closed: no block */
}

static JsonNode *
tap_test_line (TapCursor  *c,
               const char *line,
               gsize       length,
               const char *next)
{
  g_autoptr(JsonObject) test = json_object_new ();
  const char *status, *rest, *hash;
  gsize i, n, rest_length;
  JsonNode *yaml;

  if (length >= 3 && memcmp (line, "ok", 2) == 0 && (line[2] == ' ' || line[2] == '\t'))
    {
      status = "ok";
      i = 2;
    }
  else if (length >= 7 && memcmp (line, "not ok", 6) == 0 && (line[6] == ' ' || line[6] == '\t'))
    {
      status = "not_ok";
      i = 6;
    }
  else
    return NULL;
  while (i < length && (line[i] == ' ' || line[i] == '\t'))
    i++;
  json_object_set_string_member (test, "status", status);
  n = count_digits (line + i, length - i);
  if (n > 0 && i + n < length && (line[i + n] == ' ' || line[i + n] == '\t'))
    {
      json_object_set_int_member (test, "number", g_ascii_strtoll (line + i, NULL, 10));
      i += n;
      while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    }
  else
    json_object_set_null_member (test, "number");
  if (i + 1 < length && line[i] == '-' && (line[i + 1] == ' ' || line[i + 1] == '\t'))
    {
      i++;
      while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    }
  rest = line + i;
  rest_length = length - i;
  hash = rest_length > 0 ? g_strrstr_len (rest, rest_length, "#") : NULL;
  json_object_set_null_member (test, "directive");
  if (hash != NULL)
    {
      const char *d = hash + 1;
      const char *d_end = rest + rest_length;
      const char *kind = NULL;

      if (d < d_end && (*d == ' ' || *d == '\t'))
        {
          while (d < d_end && (*d == ' ' || *d == '\t'))
            d++;
          if (d_end - d >= 4 && memcmp (d, "SKIP", 4) == 0)
            kind = "SKIP";
          else if (d_end - d >= 4 && memcmp (d, "TODO", 4) == 0)
            kind = "TODO";
        }
      if (kind != NULL)
        {
          g_autoptr(JsonObject) directive = json_object_new ();
          const char *reason = d + 4;

          json_object_set_string_member (directive, "kind", kind);
          if (reason < d_end && (*reason == ' ' || *reason == '\t'))
            set_optional_string (directive, "reason", reason, d_end - reason);
          else
            json_object_set_null_member (directive, "reason");
          json_object_set_object_member (test, "directive", g_steal_pointer (&directive));
          rest_length = hash - rest;
        }
    }
  set_optional_string (test, "description", rest, rest_length);
  c->p = next;
  yaml = tap_yaml_block (c);
  if (yaml != NULL)
    json_object_set_member (test, "yaml_diagnostics", yaml);
  else
    json_object_set_null_member (test, "yaml_diagnostics");
  return json_node_init_object (json_node_alloc (), test);
}

JsonNode *
cdviz_tap_to_json (const char *data,
                   gsize       length)
{
  TapCursor c = { data, data + length };
  g_autoptr(JsonObject) doc = json_object_new ();
  g_autoptr(JsonArray) tests = json_array_new ();
  JsonNode *plan = NULL;
  const char *line, *next;
  gsize n;

  json_object_set_null_member (doc, "version");
  tap_skip_ignorable (&c);
  if (tap_peek (&c, &line, &n, &next) && n > 12 && g_str_has_prefix (line, "TAP version "))
    {
      gsize d = count_digits (line + 12, n - 12);

      if (d > 0 && 12 + d == n)
        {
          json_object_set_int_member (doc, "version", g_ascii_strtoll (line + 12, NULL, 10));
          c.p = next;
        }
    }
  tap_skip_ignorable (&c);
  if (tap_peek (&c, &line, &n, &next) && (plan = tap_plan (line, n)) != NULL)
    c.p = next;
  for (;;)
    {
      JsonNode *test;

      tap_skip_ignorable (&c);
      if (!tap_peek (&c, &line, &n, &next))
        break;
      test = tap_test_line (&c, line, n, next);
      if (test != NULL)
        {
          json_array_add_element (tests, test);
          continue;
        }
      if (plan == NULL && (plan = tap_plan (line, n)) != NULL)
        {
          c.p = next;
          continue;
        }
      c.p = next;  /* anything else (a subtest, "Bail out!", pragmas) is skipped */
    }
  json_object_set_member (doc, "plan", plan ?: json_node_init_null (json_node_alloc ()));
  json_object_set_array_member (doc, "tests", g_steal_pointer (&tests));
  return json_node_init_object (json_node_alloc (), doc);
}
