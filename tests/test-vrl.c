/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the VRL engine: parser, checker, interpreter. */
#include <string.h>
#include "cdviz-vrl-runtime.h"

static char *
run (const char  *source,
     const char  *event,
     GError     **error)
{
  g_autoptr(CdvizVrlProgram) program = cdviz_vrl_compile (source, CDVIZ_VRL_COMPILE_STRICT, error);
  g_autoptr(CdvizVrlValue) target = NULL;
  g_autoptr(CdvizVrlValue) meta = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) result = NULL;

  if (program == NULL)
    return NULL;
  if (event != NULL)
    {
      g_autoptr(JsonNode) node = json_from_string (event, NULL);

      target = cdviz_vrl_value_from_json (node);
    }
  else
    target = cdviz_vrl_object_new ();
  result = cdviz_vrl_run (program, &target, &meta, 100000, error);
  return result ? cdviz_vrl_value_to_json (result, FALSE) : NULL;
}

static void
assert_result (const char *source,
               const char *event,
               const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *got = run (source, event, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, expected);
}

static void
assert_compile_error (const char *source,
                      const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizVrlProgram) program = cdviz_vrl_compile (source, CDVIZ_VRL_COMPILE_STRICT, &error);

  g_assert_null (program);
  g_assert_nonnull (error);
  if (!g_str_has_prefix (error->message, expected))
    g_error ("“%s” does not start with “%s”", error->message, expected);
}

static void
test_literals (void)
{
  assert_result ("[1, -2, 1.5, \"a\\n\", s'raw\\n', true, null]", NULL,
                 "[1,-2,1.5,\"a\\n\",\"raw\\\\n\",true,null]");
  assert_result ("{\"b\": 1, \"a\": {\"c\": [t'2021-02-11T10:32:50.553955473Z']}}", NULL,
                 "{\"a\":{\"c\":[\"2021-02-11T10:32:50.553955473Z\"]},\"b\":1}");
  assert_result ("r'^a+$'", NULL, "\"^a+$\"");
  assert_result ("x = \"world\"\n\"hello {{ x }}\"", NULL, "\"hello world\"");
}

static void
test_paths (void)
{
  assert_result (".a.b[1]", "{\"a\":{\"b\":[1,2]}}", "2");
  assert_result (".a.\"b c\"", "{\"a\":{\"b c\":3}}", "3");
  assert_result (".x[-1]", "{\"x\":[1,2,3]}", "3");
  assert_result (".nope.deeper", "{}", "null");
  assert_result (".a.b = 1\n.a.c[2] = true\n.", "{}", "{\"a\":{\"b\":1,\"c\":[null,null,true]}}");
  assert_result ("%meta = 1\n%meta", NULL, "1");
  assert_result ("x = {\"a\": [1, {\"b\": 2}]}\nx.a[1].b", NULL, "2");
  assert_result ("del(.a)\n.", "{\"a\":1,\"b\":2}", "{\"b\":2}");
  assert_result ("[exists(.a), exists(.b), exists(.a.x)]", "{\"a\":null}", "[true,false,false]");
}

static void
test_operators (void)
{
  assert_result ("[1 + 2 * 3, 7 / 2, \"a\" + \"b\", 1 < 2, 2 == 2.0, !true]", NULL,
                 "[7,3.5,\"ab\",true,true,false]");
  assert_result ("[null || \"x\", false && true, {\"a\":1} | {\"b\":2}]", NULL,
                 "[\"x\",false,{\"a\":1,\"b\":2}]");
  assert_result ("to_int(\"x\") ?? 5", NULL, "5");
  assert_result ("v, err = 1 / 0\n[v, err]", NULL, "[0.0,\"can't divide by zero\"]");
}

static void
test_control (void)
{
  assert_result ("if .a == 1 { \"one\" } else if .a == 2 { \"two\" } else { \"many\" }", "{\"a\":2}",
                 "\"two\"");
  assert_result ("if false { 1 }", NULL, "null");
  assert_result ("return [1]\n2", NULL, "[1]");
  assert_result ("map_values([1, 2]) -> |v| { [v] }", NULL, "[[1],[2]]");
  assert_result ("filter({\"a\": 1, \"b\": 2}) -> |k, _v| { k == \"b\" }", NULL, "{\"b\":2}");
  assert_result ("n = []\nfor_each([1, 2, 3]) -> |_i, v| { n = push(n, v) }\nn", NULL, "[1,2,3]");
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *got = run ("abort \"stop\"", NULL, &error);

  g_assert_null (got);
  g_assert_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_ABORT);
  g_assert_cmpstr (error->message, ==, "stop");
  g_clear_error (&error);

  got = run ("x = to_int!(.a)", "{\"a\":\"z\"}", &error);
  g_assert_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME);
  g_assert_true (g_str_has_prefix (error->message, "function call error for \"to_int\" at (4:15): "));

  assert_compile_error ("foo(1)", "1:1: error[E105]");
  assert_compile_error ("\n  y", "2:3: error[E701]");
  assert_compile_error ("upcase(.a)", "1:1: error[E100]");
  assert_compile_error (".x = upcase(.a)", "1:1: error[E103]");
  assert_compile_error ("upcase(1)", "1:8: error[E110]");
  assert_compile_error ("upcase!(\"a\")", "1:1: error[E620]");
  assert_compile_error ("\"a\" ?? \"b\"", "1:1: error[E651]");
  assert_compile_error ("length()", "1:1: error[E107]");
  assert_compile_error ("[1,", "1:4: syntax error");
  assert_compile_error ("1 = 2", "1:1: syntax error");
}

/* Types flow through assignments, branches and closures as upstream's. */
static void
test_types (void)
{
  assert_result ("x = {\"a\": \"b\"}; upcase(x.a)", NULL, "\"B\"");
  assert_result ("map_values({\"a\": \"b\"}) -> |v| { upcase(v) }", NULL, "{\"a\":\"B\"}");
  assert_result ("d = 4; 8 / d", NULL, "2.0");
  assert_result ("{ parse_json(\"x\"); 2 } ?? 1", NULL, "1");
  assert_result ("a = 5\nif false { a = \"s\" }\ntype_def(a)", NULL,
                 "{\"bytes\":true,\"integer\":true}");
  assert_result (".a = [1, {\"b\": \"c\"}]; type_def(.a[1])", NULL,
                 "{\"object\":{\"b\":{\"bytes\":true}}}");
  assert_result ("(x = 1; x + 1)", NULL, "2");
  assert_compile_error ("x = \"s\"\nx.a = 1", "2:1: error[E642]");
  assert_compile_error ("x = {\"a\": 1}; upcase(x.a)", "1:22: error[E110]");
}

static void
test_read_only (void)
{
  const CdvizVrlReadOnlyPath ro[] = { { ".k", FALSE }, { "%m", TRUE } };
  const char *refused[] = { ".k = 1", ". = {}", "%m.x = 1", "del(.k)", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizVrlProgram) ok = cdviz_vrl_compile_full (".k.sub = 1\n.other = 2", 0, ro, 2, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ok);
  for (guint i = 0; refused[i] != NULL; i++)
    {
      g_autoptr(CdvizVrlProgram) p = cdviz_vrl_compile_full (refused[i], 0, ro, 2, &error);

      g_assert_null (p);
      g_assert_nonnull (strstr (error->message, "error[E315]"));
      g_clear_error (&error);
    }
}

static void
test_hostile (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizVrlProgram) program = NULL;
  g_autoptr(CdvizVrlValue) target = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) meta = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) result = NULL;

  /* nesting is bounded: no stack overflow */
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  program = cdviz_vrl_compile (deep->str, 0, &error);
  g_assert_null (program);
  g_assert_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_SYNTAX);
  g_clear_error (&error);

  /* the step budget stops a program that works too long */
  program = cdviz_vrl_compile ("a = [1,2,3,4,5,6,7,8,9,10]\n"
                               "for_each(a) -> |_i, _v| { for_each(a) -> |_j, _w| { for_each(a) -> |_k, _x| { 1 } } }",
                               0, &error);
  g_assert_no_error (error);
  result = cdviz_vrl_run (program, &target, &meta, 500, &error);
  g_assert_null (result);
  g_assert_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_BUDGET);
}

int
main (int    argc,
      char **argv)
{
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vrl/literals", test_literals);
  g_test_add_func ("/vrl/paths", test_paths);
  g_test_add_func ("/vrl/operators", test_operators);
  g_test_add_func ("/vrl/control", test_control);
  g_test_add_func ("/vrl/errors", test_errors);
  g_test_add_func ("/vrl/hostile", test_hostile);
  g_test_add_func ("/vrl/types", test_types);
  g_test_add_func ("/vrl/read-only", test_read_only);
  return g_test_run ();
}
