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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/single-value", test_single);
  g_test_add_func ("/json/nul", test_nul);
  return g_test_run ();
}
