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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/single-value", test_single);
  g_test_add_func ("/json/nul", test_nul);
  g_test_add_func ("/json/write/numbers", test_write_numbers);
  g_test_add_func ("/json/write/document", test_write_document);
  return g_test_run ();
}
