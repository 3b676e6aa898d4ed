/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-json-private.h"

/* Parsing of untrusted JSON: one top-level value only (json-glib 1.6.6
 * leaks on two), NUL refused, syntax errors reported. */

static void
test_single (void)
{
  static const struct { const char *text; gboolean ok; } cases[] = {
    { "{}", TRUE },
    { "  {\"a\": [1, {\"b\": \"}\"}]}\n", TRUE },
    { "\"str\"", TRUE },
    { "42", TRUE },
    { "[\"\\\"]\"]", TRUE },
    { "{}{}", FALSE },
    { "{} {}", FALSE },
    { "[] 1", FALSE },
    { "\"a\" \"b\"", FALSE },
    { "1 2", FALSE },
    { "", FALSE },
    { "   ", FALSE },
    { "{", FALSE },
    { "{\"a\":}", FALSE },
    { "}", FALSE },
    { "{\"a\":\"x\\u0000y\"}", FALSE },
    { "{\"a\":\"x\\\\u0000y\"}", TRUE },   /* an escaped backslash, then text */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = _cdviz_json_parse_single (cases[i].text, strlen (cases[i].text), &error);

      if (cases[i].ok)
        {
          g_assert_no_error (error);
          g_assert_nonnull (node);
          g_assert_true (json_node_is_immutable (node));
        }
      else
        {
          if (node != NULL)
            g_error ("“%s” was accepted", cases[i].text);
          g_assert_nonnull (error);
        }
    }
}

static void
test_nul (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = _cdviz_json_parse_single ("{\"a\":\"b\0c\"}", 11, &error);

  g_assert_null (node);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
}

/* Parses @length bytes of @text; returns the error (NULL when accepted). */
static GError *
parse_error (const char *text,
             gsize       length)
{
  GError *error = NULL;
  g_autoptr(JsonNode) node = _cdviz_json_parse_single (text, length, &error);

  g_assert_true ((node == NULL) == (error != NULL));
  return error;
}

/* @depth arrays, then @depth objects, each nested in the previous one. */
static char *
nested (guint       depth,
        const char *open,
        const char *inner,
        const char *close)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append (text, open);
  g_string_append (text, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append (text, close);
  return g_string_free (text, FALSE);
}

static void
test_depth (void)
{
  static const struct { const char *open, *inner, *close; } shapes[] = {
    { "[", "", "]" },
    { "[", "1", "]" },
    { "{\"a\":", "1", "}" },
    { "[{\"a\":", "1", "}]" },   /* two levels a step */
  };

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      guint per_step = s == 3 ? 2 : 1;
      guint ok = CDVIZ_JSON_MAX_DEPTH / per_step;
      g_autofree char *at_limit = nested (ok, shapes[s].open, shapes[s].inner, shapes[s].close);
      g_autofree char *over = nested (ok + 1, shapes[s].open, shapes[s].inner, shapes[s].close);
      g_autoptr(GError) error = NULL;

      g_assert_cmpuint (ok * per_step, ==, 128);
      error = parse_error (at_limit, strlen (at_limit));
      g_assert_no_error (error);
      error = parse_error (over, strlen (over));
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
      g_assert_nonnull (strstr (error->message, "JSON nested deeper than 128 levels"));
    }
}

static void
test_depth_hostile (void)
{
  /* json-glib recurses once per level: this crashed the process. */
  const guint depth = 80000;
  g_autofree char *arrays = nested (depth, "[", "", "]");
  g_autofree char *objects = nested (depth, "{\"a\":", "1", "}");
  g_autofree char *unclosed = g_strnfill (depth, '[');
  g_autoptr(GError) error = NULL;

  error = parse_error (arrays, strlen (arrays));
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==,
                   "JSON nested deeper than 128 levels at line 1, column 129 (byte 128)");
  g_clear_error (&error);
  error = parse_error (objects, strlen (objects));
  g_assert_nonnull (strstr (error->message, "JSON nested deeper than 128 levels"));
  g_clear_error (&error);
  error = parse_error (unclosed, depth);
  g_assert_nonnull (strstr (error->message, "JSON nested deeper than 128 levels"));
}

/* What json-glib 1.6 accepts (or would mangle) and RFC 8259 does not. */
static void
test_strict (void)
{
  static const struct { const char *text; const char *reason; } cases[] = {
    { "{'a': 1}", "strings must be in double quotes at line 1, column 2 (byte 1)" },
    { "['a']", "strings must be in double quotes" },
    { "{\"a\": 'b'}", "strings must be in double quotes" },
    { "// comment\n{}", "comments are not allowed in JSON at line 1, column 1 (byte 0)" },
    { "{} // comment", "comments are not allowed" },
    { "{\n  /* comment */ \"a\": 1}", "comments are not allowed in JSON at line 2, column 3 (byte 4)" },
    { "[1, /* c */ 2]", "comments are not allowed" },
    { "{a: 1}", "an object member name (a string) was expected" },
    { "{\"a\" 1}", "“:” was expected" },
    { "{\"a\": 1 \"b\": 2}", "“,” or “}” was expected" },
    { "[1 2]", "“,” or “]” was expected" },
    { "[1,]", "a value was expected" },
    { "{\"a\":1,}", "an object member name (a string) was expected" },
    { "[,1]", "a value was expected" },
    { "[1]]", "unexpected text after the top-level value" },
    { "{\"a\":1}}", "unexpected text after the top-level value" },
    { "[1}", "“,” or “]” was expected" },
    { "{\"a\":1]", "“,” or “}” was expected" },
    { "[", "the document ends too early" },
    { "{\"a\":", "the document ends too early" },
    { "\"abc", "unterminated string" },
    { "{\"a\":\"b}", "unterminated string" },
    { "\"a\\\"", "unterminated string" },
    { "[True]", "a value was expected" },
    { "[tru]", "invalid literal" },
    { "[nul]", "invalid literal" },
    { "[falsey]", "“,” or “]” was expected" },
    { "[NaN]", "a value was expected" },
    { "[Infinity]", "a value was expected" },
    { "[-Infinity]", "invalid number" },
    { "[undefined]", "a value was expected" },
    { "[01]", "invalid number (leading zero)" },
    { "[-01]", "invalid number (leading zero)" },
    { "[+1]", "a value was expected" },
    { "[.5]", "a value was expected" },
    { "[1.]", "invalid number" },
    { "[1.e5]", "invalid number" },
    { "[1e]", "invalid number" },
    { "[1e+]", "invalid number" },
    { "[-]", "invalid number" },
    { "[0x10]", "“,” or “]” was expected" },
    { "[1_000]", "“,” or “]” was expected" },
    { "[\"\\x41\"]", "invalid escape sequence" },
    { "[\"\\'\"]", "invalid escape sequence" },
    { "[\"\\u12\"]", "invalid \\u escape" },
    { "[\"\\u12G4\"]", "invalid \\u escape" },
    { "[\"\\uD83D\"]", "unpaired UTF-16 surrogate" },
    { "[\"\\uD83Dx\\uDE00\"]", "unpaired UTF-16 surrogate" },
    { "[\"\\uD83D\\u0041\"]", "unpaired UTF-16 surrogate" },
    { "[\"\\uDE00\"]", "unpaired UTF-16 surrogate" },
    { "[\"\\uDE00\\uD83D\"]", "unpaired UTF-16 surrogate" },
    { "[\"a\tb\"]", "control character in a string" },
    { "[\"a\nb\"]", "control character in a string (it must be escaped) at line 1, column 4 (byte 3)" },
    { "[\"\x1f\"]", "control character in a string" },
    { "[\"\xff\"]", "invalid UTF-8" },
    { "[\"\xc3\"]", "invalid UTF-8" },                 /* truncated */
    { "[\"\xc0\xaf\"]", "invalid UTF-8" },             /* overlong */
    { "[\"\xe0\x80\xaf\"]", "invalid UTF-8" },         /* overlong */
    { "[\"\xed\xa0\x80\"]", "invalid UTF-8" },         /* a surrogate */
    { "[\"\xf4\x90\x80\x80\"]", "invalid UTF-8" },     /* above U+10FFFF */
    { "[\"\xe2\x82\"]", "invalid UTF-8" },             /* truncated */
    { "\xef\xbb\xbf{}", "a value was expected" },      /* a byte order mark */
    { "[1,\f2]", "a value was expected" },             /* not RFC whitespace */
    { "[1,\v2]", "a value was expected" },
    { "[1,\xc2\xa0" "2]", "a value was expected" },    /* U+00A0 */
    { "{}{}", "more than one top-level value at line 1, column 3 (byte 2)" },
    { "1 2", "more than one top-level value" },
    { "\"a\"\"b\"", "more than one top-level value" },
    { "{}\n}", "unexpected text after the top-level value at line 2, column 1 (byte 3)" },
    { "\"\\u0000\"", "strings containing NUL (\\u0000) are not accepted" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = parse_error (cases[i].text, strlen (cases[i].text));

      if (error == NULL)
        g_error ("“%s” was accepted", cases[i].text);
      g_assert_true (error->domain == JSON_PARSER_ERROR);
      if (strstr (error->message, cases[i].reason) == NULL)
        g_error ("“%s”: “%s” does not say “%s”", cases[i].text, error->message, cases[i].reason);
    }
}

static void
test_strict_valid (void)
{
  static const char *cases[] = {
    "  \t\r\n{}\n\r\t  ",
    "[[[[]]]]",
    "[{},[],{\"a\":{}},[[]],\"\"]",
    "{\"\":\"\"}",
    "{ \"a\" : [ 1 , 2 ] , \"b\" : { } }",
    "0", "-0", "-0.0", "0.5", "-1.25e-3", "1E5", "1e+5", "1E-05", "123456789", "-9223372036854775808",
    "true", "false", "null", "[true,false,null]",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\u00e9\\u20AC\\uD83D\\uDE00\"",
    "\"\\uFFFF\\uDBFF\\uDFFF\"",
    "\"é€😀\"",
    "\"\x7f\"",
    "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
    "{\"a\":\"x\\\\u0000y\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = parse_error (cases[i], strlen (cases[i]));

      if (error != NULL)
        g_error ("“%s” was refused: %s", cases[i], error->message);
    }
}

/* Escapes reach json-glib intact: a surrogate pair is one code point. */
static void
test_strict_escapes (void)
{
  const char *text = "[\"\\u00e9\\uD83D\\uDE00\\/\", -0, 1.5E2, {\"\":[[],{}]}]";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = _cdviz_json_parse_single (text, strlen (text), &error);
  JsonArray *array;

  g_assert_no_error (error);
  array = json_node_get_array (node);
  g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "é😀/");
  g_assert_cmpint (json_array_get_int_element (array, 1), ==, 0);
  g_assert_cmpfloat (json_array_get_double_element (array, 2), ==, 150.0);
  g_assert_cmpuint (json_object_get_size (json_array_get_object_element (array, 3)), ==, 1);
}

static char *
write_node (JsonNode *node,
            gboolean  sort)
{
  GString *out = g_string_new (NULL);

  _cdviz_json_append (out, node, sort, NULL);
  return g_string_free (out, FALSE);
}

static void
test_write_numbers (void)
{
  static const struct { double value; const char *text; } cases[] = {
    { 1e19, "1e+19" },          /* json-glib 1.6 writes 1e+19.0 */
    { 1.5, "1.5" },
    { 100.0, "100.0" },
    { -0.0, "-0.0" },
    { 0.1, "0.1" },
    { 1e-7, "1e-07" },
    { 123456789012345680.0, "1.2345678901234568e+17" },
    { 1.0 / 0.0, "null" },      /* not representable in JSON */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = json_node_init_double (json_node_alloc (), cases[i].value);
      g_autofree char *text = write_node (node, FALSE);
      g_autoptr(JsonNode) back = json_from_string (text, NULL);

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_nonnull (back);   /* always valid JSON */
    }
}

static void
test_write_document (void)
{
  const char *input = "{\"z\":[1,true,null,\"a\\\"b\\\\c\\nd\\u0001é\"],\"a\":{\"y\":-5,\"b\":2.25}}";
  g_autoptr(JsonNode) node = json_from_string (input, NULL);
  g_autofree char *ordered = write_node (node, FALSE);
  g_autofree char *sorted = write_node (node, TRUE);

  g_assert_cmpstr (ordered, ==, "{\"z\":[1,true,null,\"a\\\"b\\\\c\\nd\\u0001é\"],\"a\":{\"y\":-5,\"b\":2.25}}");
  g_assert_cmpstr (sorted, ==, "{\"a\":{\"b\":2.25,\"y\":-5},\"z\":[1,true,null,\"a\\\"b\\\\c\\nd\\u0001é\"]}");
  g_assert_null (strchr (ordered, '\n'));
}

/* The tree built by _cdviz_json_parse_single() is the one JsonParser
 * builds from the same text: node types, values (integers that overflow
 * included), member order and duplicates, unescaped strings. Compared
 * through the writer, which tells int64 from double ("1" against "1.0"). */
static void
assert_same_as_json_glib (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ours = _cdviz_json_parse_single_full (text, strlen (text), FALSE, &error);
  g_autofree char *expected = NULL;
  g_autofree char *got = NULL;

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  expected = write_node (json_parser_get_root (parser), FALSE);
  got = write_node (ours, FALSE);
  if (g_strcmp0 (expected, got) != 0)
    g_error ("%s: json-glib %s, ours %s", text, expected, got);
  g_assert_true (json_node_equal (ours, json_parser_get_root (parser)));
}

static void
random_value (GString *out,
              int      depth)
{
  static const char *const strings[] = {
    "", "plain", "a\\\"b", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u00e9t\\u00E9", "\\ud83d\\ude00",
    "\\uD834\\uDD1E x", "é ü 😀", "\\u0001", "tab\\tend", "\\u2028",
  };
  static const char *const numbers[] = {
    "0", "-0", "1", "-1", "42", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "123456789012345678901234567890", "-123456789012345678901234567890",
    "1e5", "1E+5", "1.5", "-0.0", "1e-400", "0.1", "2.5e-3", "-12.5E2",
    "1.7976931348623157e308", "4.9e-324", "0.30000000000000004", "1e22", "123.456e-7",
  };
  int kind = g_test_rand_int_range (0, depth > 4 ? 5 : 8);
  char buf[40];

  switch (kind)
    {
    case 0:
      g_string_append_printf (out, "\"%s\"", strings[g_test_rand_int_range (0, G_N_ELEMENTS (strings))]);
      break;
    case 1:
      g_string_append (out, numbers[g_test_rand_int_range (0, G_N_ELEMENTS (numbers))]);
      break;
    case 2:
      g_ascii_formatd (buf, sizeof buf, "%.17g", g_test_rand_double_range (-1e6, 1e6));
      g_string_append (out, buf);
      break;
    case 3:
      g_string_append (out, (const char *[]) { "true", "false", "null" }[g_test_rand_int_range (0, 3)]);
      break;
    case 4:
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              (gint64) g_test_rand_int () * g_test_rand_int ());
      break;
    case 5:
    case 6:
      {
        int n = g_test_rand_int_range (0, 5);

        g_string_append_c (out, '{');
        for (int i = 0; i < n; i++)
          {
            /* Few names: duplicates are frequent. */
            g_string_append_printf (out, "%s \"%s\" : ", i ? "," : "",
                                    strings[g_test_rand_int_range (0, 4)]);
            random_value (out, depth + 1);
          }
        g_string_append_c (out, '}');
      }
      break;
    default:
      {
        int n = g_test_rand_int_range (0, 5);

        g_string_append_c (out, '[');
        for (int i = 0; i < n; i++)
          {
            if (i)
              g_string_append (out, " ,\n");
            random_value (out, depth + 1);
          }
        g_string_append_c (out, ']');
      }
    }
}

/* json-glib makes 1e400 infinity, which JSON cannot carry (the writer
 * would send null): refused, as serde_json (cdviz-collector) does. */
static void
test_number_out_of_range (void)
{
  static const char *const refused[] = {
    "1e400", "[-1e400]", "{\"t\":999999999999997E777771008995}", "1.5e9999999999999999999",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = _cdviz_json_parse_single (refused[i], strlen (refused[i]), &error);

      g_assert_null (node);
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
      g_assert_true (g_str_has_prefix (error->message, "number out of range at line 1"));
    }
  /* Underflow is zero, as for serde_json. */
  assert_same_as_json_glib ("[1e-400, -1e-400]");
}

static void
test_tree_as_json_glib (void)
{
  assert_same_as_json_glib ("{\"a\":1,\"b\":2,\"a\":3}");
  assert_same_as_json_glib ("\"\\ud83d\\ude00 \\u00e9 \\/\\b\\f\\n\\r\\t\"");
  assert_same_as_json_glib (" [ 9223372036854775808, -9223372036854775809, 18446744073709551616 ] ");
  for (int i = 0; i < 2000; i++)
    {
      g_autoptr(GString) text = g_string_new (NULL);

      random_value (text, 0);
      assert_same_as_json_glib (text->str);
    }
}

/* _cdviz_json_parse_compact() says a text is compact only when the writer
 * gives back exactly that text: a message then keeps the text as its body
 * bytes instead of writing the tree again. */
static void
assert_compact (const char *text,
                gboolean    expected)
{
  g_autoptr(GError) error = NULL;
  gboolean compact = !expected;
  g_autoptr(JsonNode) node = _cdviz_json_parse_compact (text, strlen (text), &compact, &error);

  g_assert_no_error (error);
  if (compact != expected)
    g_error ("%s: compact %d, expected %d", text, compact, expected);
  if (compact)
    {
      g_autofree char *written = write_node (node, FALSE);

      g_assert_cmpstr (written, ==, text);
    }
}

static void
test_compact (void)
{
  static const char *compact_texts[] = {
    "{}", "[]", "1", "-5", "\"\"", "true", "null",
    "{\"context\":{\"id\":\"a-1\",\"n\":123456789012345678},\"subject\":[1,false,null,\"é\"]}",
  };
  static const char *not_compact[] = {
    " {}", "{} ", "{ }", "[1, 2]", "{\"a\" :1}", "{\"a\":\n1}",
    "1.0", "1.5", "1e3", "-0", "1234567890123456789", "9223372036854775808",
    "\"a\\\"b\"", "\"\\u00e9\"", "\"\\/\"", "{\"a\\n\":1}",
    "{\"a\":1,\"a\":2}", "{\"b\":{\"a\":1,\"a\":1}}",
  };
  g_autoptr(GError) error = NULL;
  gboolean compact = TRUE;

  for (gsize i = 0; i < G_N_ELEMENTS (compact_texts); i++)
    assert_compact (compact_texts[i], TRUE);
  for (gsize i = 0; i < G_N_ELEMENTS (not_compact); i++)
    assert_compact (not_compact[i], FALSE);
  g_assert_null (_cdviz_json_parse_compact ("{", 1, &compact, &error));
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
  g_assert_false (compact);

  /* Random documents, and the writer's form of each: never a false
   * "compact". */
  for (int i = 0; i < 2000; i++)
    {
      g_autoptr(GString) text = g_string_new (NULL);
      g_autoptr(JsonNode) node = NULL;
      g_autofree char *written = NULL;

      random_value (text, 0);
      node = _cdviz_json_parse_compact (text->str, text->len, &compact, NULL);
      g_assert_nonnull (node);
      written = write_node (node, FALSE);
      if (compact)
        g_assert_cmpstr (written, ==, text->str);
      g_clear_pointer (&node, json_node_unref);
      node = _cdviz_json_parse_compact (written, strlen (written), &compact, NULL);
      g_assert_nonnull (node);
      if (compact)
        {
          g_autofree char *again = write_node (node, FALSE);

          g_assert_cmpstr (again, ==, written);
        }
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/single-value", test_single);
  g_test_add_func ("/json/nul", test_nul);
  g_test_add_func ("/json/depth", test_depth);
  g_test_add_func ("/json/depth/hostile", test_depth_hostile);
  g_test_add_func ("/json/strict/refused", test_strict);
  g_test_add_func ("/json/strict/valid", test_strict_valid);
  g_test_add_func ("/json/strict/escapes", test_strict_escapes);
  g_test_add_func ("/json/write/numbers", test_write_numbers);
  g_test_add_func ("/json/write/document", test_write_document);
  g_test_add_func ("/json/tree-as-json-glib", test_tree_as_json_glib);
  g_test_add_func ("/json/number-out-of-range", test_number_out_of_range);
  g_test_add_func ("/json/compact", test_compact);
  return g_test_run ();
}
