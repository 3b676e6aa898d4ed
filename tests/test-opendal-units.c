/* SPDX-License-Identifier: Apache-2.0 */
/* The opendal plugin's pure units: path patterns (cdviz-collector's
 * globset cases), the parsers (csv, jsonl, text_line, yaml, tap) and the
 * parser names, xml. Compiled in; no plugin loaded, no file read. */
#include <string.h>

#include "cdviz-file-parser.h"
#include "cdviz-path-patterns.h"

static gboolean
accepts (const char * const *patterns,
         const char         *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizPathPatterns) p = cdviz_path_patterns_new (patterns, &error);

  g_assert_no_error (error);
  return cdviz_path_patterns_accept (p, path);
}

#define P(...) ((const char * const[]) { __VA_ARGS__, NULL })

static void
test_patterns (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (accepts (NULL, "foo.json"));
  g_assert_true (accepts (P ("*"), "foo.json"));
  g_assert_true (accepts (P ("**"), "foo.json"));
  g_assert_true (accepts (P ("*.json"), "foo.json"));
  g_assert_true (accepts (P ("*.csv", "*.json"), "foo.json"));
  g_assert_true (accepts (P ("**/*.json"), "foo.json"));
  g_assert_true (accepts (P ("**/*.json"), "bar/foo.json"));
  g_assert_true (accepts (P ("!**/*.foo"), "bar/foo.json"));
  g_assert_true (accepts (P ("{a,b}/?.c[sv]v"), "b/x.csv"));

  g_assert_false (accepts (P ("*.json"), "foo.csv"));
  g_assert_false (accepts (P ("*.json"), "foo.jsonl"));
  g_assert_false (accepts (P ("*.json"), "bar/foo.json"));
  g_assert_false (accepts (P ("*.json"), "/foo.json"));
  g_assert_false (accepts (P ("!*"), "foo.json"));
  g_assert_false (accepts (P ("!**"), "foo.json"));
  g_assert_false (accepts (P ("!*.json"), "foo.json"));
  g_assert_false (accepts (P ("!*.csv", "!*.json"), "foo.json"));
  g_assert_false (accepts (P ("!**/*.json"), "bar/foo.json"));
  g_assert_false (accepts (P ("**/*.json", "!**/*.json"), "bar/foo.json"));
  g_assert_false (accepts (P ("**/*.json", "!**/*.out.json"), "bar/foo.out.json"));
  g_assert_false (accepts (P ("a.(json)"), "a.json"));  /* regex characters are literal */

  g_assert_null (cdviz_path_patterns_new (P ("a**"), &error));
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_null (cdviz_path_patterns_new (P ("{a,b"), &error));
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
}

static void
collect (JsonNode *body,
         gpointer  user_data)
{
  g_ptr_array_add (user_data, json_to_string (body, FALSE));
}

/* The bodies @data yields, joined by '|'. */
static char *
parse (CdvizFileParser  parser,
       const char      *path,
       const char      *data,
       guint           *skipped,
       GError         **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);

  if (!cdviz_file_parser_parse (parser, path, data, strlen (data), TRUE, collect, out, skipped,
                                error))
    return NULL;
  g_ptr_array_add (out, NULL);
  return g_strjoinv ("|", (char **) out->pdata);
}

static void
test_csv (void)
{
  guint skipped = 0;
  g_autofree char *rows = NULL;
  g_autofree char *bad = NULL;
  g_autoptr(GError) error = NULL;

  rows = parse (CDVIZ_FILE_PARSER_CSV_ROW, "r.csv",
                "a,b\r\n1,\"x, \"\"y\"\"\"\r\n\r\n\"multi\nline\",2\n", &skipped, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rows, ==, "{\"a\":\"1\",\"b\":\"x, \\\"y\\\"\"}|"
                             "{\"a\":\"multi\\nline\",\"b\":\"2\"}");
  g_assert_cmpuint (skipped, ==, 0);

  g_test_expect_message ("cdviz-opendal", G_LOG_LEVEL_WARNING,
                         "r.csv:3: not as many fields as the header row*");
  g_test_expect_message ("cdviz-opendal", G_LOG_LEVEL_WARNING,
                         "r.csv:4: a quoted field is not closed*");
  g_clear_pointer (&rows, g_free);
  rows = parse (CDVIZ_FILE_PARSER_AUTO, "r.csv", "a,b\n1,2\n3\n\"4,5\n", &skipped, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (rows, ==, "{\"a\":\"1\",\"b\":\"2\"}");
  g_assert_cmpuint (skipped, ==, 2);

  bad = parse (CDVIZ_FILE_PARSER_CSV_ROW, "e.csv", "\n\n", &skipped, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (strstr (error->message, "e.csv:") != NULL);
}

static void
test_lines (void)
{
  guint skipped = 0;
  g_autofree char *jsonl = NULL;
  g_autofree char *lines = NULL;
  g_autofree char *log = NULL;
  g_autofree char *text = NULL;

  g_test_expect_message ("cdviz-opendal", G_LOG_LEVEL_WARNING, "l.jsonl:3: not a JSON value*");
  jsonl = parse (CDVIZ_FILE_PARSER_AUTO, "l.jsonl", "{\"a\":1}\n\n{nope\n[2]", &skipped, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (jsonl, ==, "{\"a\":1}|[2]");
  g_assert_cmpuint (skipped, ==, 1);

  lines = parse (CDVIZ_FILE_PARSER_TEXT_LINE, "x", " a \r\n\n b", NULL, NULL);
  g_assert_cmpstr (lines, ==, "{\"text\":\"a\"}|{\"text\":\"b\"}");
  log = parse (CDVIZ_FILE_PARSER_AUTO, "app.LOG", "a\nb\n", NULL, NULL);
  g_assert_cmpstr (log, ==, "{\"text\":\"a\"}|{\"text\":\"b\"}");
  text = parse (CDVIZ_FILE_PARSER_AUTO, "n.txt", "a\nb\n", NULL, NULL);
  g_assert_cmpstr (text, ==, "{\"text\":\"a\\nb\\n\"}");
  g_assert_true (cdviz_file_parser_is_records (CDVIZ_FILE_PARSER_AUTO, "a.log", TRUE));
  g_assert_false (cdviz_file_parser_is_records (CDVIZ_FILE_PARSER_AUTO, "a.log", FALSE));
}

static char *
yaml (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = cdviz_yaml_to_json (text, strlen (text), &error);

  g_assert_no_error (error);
  return json_to_string (node, FALSE);
}

static void
test_yaml (void)
{
  g_autofree char *scalars = yaml ("a: 1\nb: -0x1F\nc: 1.5e3\nd: ~\ne: True\nf: '1'\n"
                                   "g: .inf\nh: 1.2.3\ni: \"null\"\nj:\nk: 0o17\n");
  g_autofree char *aliases = yaml ("x: &v [1, {y: z}]\nw: *v\n");
  g_autofree char *empty = yaml ("");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) multi = NULL;

  g_assert_cmpstr (scalars, ==, "{\"a\":1,\"b\":-31,\"c\":1500.0,\"d\":null,\"e\":true,"
                                "\"f\":\"1\",\"g\":null,\"h\":\"1.2.3\",\"i\":\"null\","
                                "\"j\":null,\"k\":15}");
  g_assert_cmpstr (aliases, ==, "{\"x\":[1,{\"y\":\"z\"}],\"w\":[1,{\"y\":\"z\"}]}");
  g_assert_cmpstr (empty, ==, "null");
  multi = cdviz_yaml_to_json ("a: 1\n---\nb: 2\n", 15, &error);
  g_assert_null (multi);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* "Billion laughs": 10^6 values from 60 nodes, refused early. */
  {
    const char *bomb = "a: &a [1,2,3,4,5,6,7,8,9,10]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    g_autoptr(JsonNode) node = cdviz_yaml_to_json (bomb, strlen (bomb), &error);

    g_assert_null (node);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_true (strstr (error->message, "expands to more than") != NULL);
  }
}

static char *
tap (const char *text)
{
  g_autoptr(JsonNode) node = cdviz_tap_to_json (text, strlen (text));

  return json_to_string (node, FALSE);
}

static void
test_tap (void)
{
  g_autofree char *no_plan = tap ("ok 1 - a\nnot ok 2 b # SKIP\n");
  g_autofree char *plan_end = tap ("# c\nok - a # TODO not yet\nBail out!\nok\n1..1\n");
  g_autofree char *hash = tap ("ok 1 - a # b\n");

  g_assert_cmpstr (no_plan, ==,
                   "{\"version\":null,\"plan\":null,\"tests\":[{\"status\":\"ok\","
                   "\"number\":1,\"directive\":null,\"description\":\"a\","
                   "\"yaml_diagnostics\":null},{\"status\":\"not_ok\",\"number\":2,"
                   "\"directive\":{\"kind\":\"SKIP\",\"reason\":null},\"description\":\"b\","
                   "\"yaml_diagnostics\":null}]}");
  g_assert_cmpstr (plan_end, ==,
                   "{\"version\":null,\"plan\":{\"start\":1,\"end\":1},\"tests\":["
                   "{\"status\":\"ok\",\"number\":null,\"directive\":{\"kind\":\"TODO\","
                   "\"reason\":\"not yet\"},\"description\":\"a\",\"yaml_diagnostics\":null}]}");
  /* A '#' that is no directive stays in the description, as upstream's. */
  g_assert_true (strstr (hash, "\"description\":\"a # b\"") != NULL);
}

static void
test_xml (void)
{
  const char *text = "<?xml version=\"1.0\"?>\n<s n=\"1\" x:a=\"b\" xmlns:x=\"urn:x\">"
                     "<c a=\"&amp;\"/><c> t <![CDATA[<u>]]> </c><e/>mixed</s>";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = cdviz_xml_to_json (text, strlen (text), &error);
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) bad = NULL;
  g_autoptr(JsonNode) deep = NULL;
  g_autoptr(GString) nested = g_string_new (NULL);

  g_assert_no_error (error);
  json = json_to_string (node, FALSE);
  g_assert_cmpstr (json, ==, "{\"s\":{\"@n\":\"1\",\"@x:a\":\"b\",\"#c\":["
                             "{\"c\":{\"@a\":\"&\"}},{\"c\":{\"#t\":\"t <u>\"}},{\"e\":{}}],"
                             "\"#t\":\"mixed\"}}");
  bad = cdviz_xml_to_json ("<a><b></a>", 10, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "line 1: "));
  g_clear_error (&error);
  /* Well-formed but nested deeper than the limit: refused, not recursed into. */
  for (int i = 0; i < 300; i++)
    {
      g_string_prepend (nested, "<a>");
      g_string_append (nested, "</a>");
    }
  deep = cdviz_xml_to_json (nested->str, nested->len, &error);
  g_assert_null (deep);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_parser_names (void)
{
  CdvizFileParser parser;
  g_autoptr(GError) error = NULL;

  g_assert_true (cdviz_file_parser_from_string ("textline", &parser, &error));
  g_assert_cmpint (parser, ==, CDVIZ_FILE_PARSER_TEXT_LINE);
  g_assert_true (cdviz_file_parser_from_string ("csv_row", &parser, &error));
  g_assert_cmpint (parser, ==, CDVIZ_FILE_PARSER_CSV_ROW);
  g_assert_true (cdviz_file_parser_from_string ("xml", &parser, &error));
  g_assert_cmpint (parser, ==, CDVIZ_FILE_PARSER_XML);
  g_assert_false (cdviz_file_parser_from_string ("csv", &parser, &error));
  g_assert_true (strstr (error->message, "unknown parser “csv”") != NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/opendal/path-patterns", test_patterns);
  g_test_add_func ("/opendal/csv", test_csv);
  g_test_add_func ("/opendal/lines", test_lines);
  g_test_add_func ("/opendal/yaml", test_yaml);
  g_test_add_func ("/opendal/tap", test_tap);
  g_test_add_func ("/opendal/xml", test_xml);
  g_test_add_func ("/opendal/parser-names", test_parser_names);
  return g_test_run ();
}
