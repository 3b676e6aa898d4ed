/* SPDX-License-Identifier: Apache-2.0 */

/* The TOML front end: toml-test conformance plus plain-mode behaviour.
 *
 * The corpus is toml-test's tests/ directory (valid/ and invalid/). It is
 * taken from the first argument, else $CDVIZ_TOML_TEST_DIR, else the copy
 * shipped by Debian's golang-github-burntsushi-toml-dev. Each corpus file is
 * its own test case: /toml/valid/<name> or /toml/invalid/<name>. Run with
 * --keep-going (-k) to see every failing file: GLib otherwise stops at the
 * first failure.
 *
 * Valid files are parsed in CDVIZ_TOML_TAGGED mode and compared with the
 * sibling .json the way toml-test does (objects unordered, arrays ordered,
 * floats numerically, NaN by spelling), except that date-times are compared
 * as written after normalisation (separator, "Z" = "+00:00", fractional
 * digits) rather than as instants: a parser must keep the offset. (toml-test
 * 1.2.0's own cmpAsDatetimes parses the expected value twice and so never
 * compares date-times at all.)
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cdviz-config.h"
#include "cdviz-toml-private.h"

#define DEFAULT_CORPUS \
  "/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests"

/* --- Comparison with toml-test's tagged JSON ------------------------------ */

static gboolean
is_tagged_value (JsonNode *node)
{
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  object = json_node_get_object (node);
  return json_object_get_size (object) == 2 &&
         json_object_has_member (object, "type") &&
         json_object_has_member (object, "value");
}

/* Matches @s against @pattern, where 'd' stands for a digit. */
static gboolean
match_pattern (const char *s,
               const char *pattern)
{
  for (; *pattern != '\0'; s++, pattern++)
    {
      if (*pattern == 'd' ? !g_ascii_isdigit (*s) : *s != *pattern)
        return FALSE;
    }
  return TRUE;
}

/* Brings a toml-test date/time string into one spelling: 'T' separator,
 * nine fractional digits, numeric offset ("Z" and "-00:00" become
 * "+00:00"). Returns %NULL if @value is not of the form @kind requires. */
static char *
normalise_datetime (const char *kind,
                    const char *value)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *copy = g_strdup (value);
  gboolean has_date = !g_str_equal (kind, "time-local");
  gboolean has_time = !g_str_equal (kind, "date-local");
  const char *p = copy;

  for (char *c = copy; *c != '\0'; c++)
    {
      if (*c == ' ' || *c == 't')
        *c = 'T';
      else if (*c == 'z')
        *c = 'Z';
    }

  if (has_date)
    {
      if (!match_pattern (p, "dddd-dd-dd"))
        return NULL;
      g_string_append_len (out, p, 10);
      p += 10;
      if (has_time)
        {
          if (*p++ != 'T')
            return NULL;
          g_string_append_c (out, 'T');
        }
    }

  if (has_time)
    {
      int digits = 0;

      if (!match_pattern (p, "dd:dd:dd"))
        return NULL;
      g_string_append_len (out, p, 8);
      p += 8;
      g_string_append_c (out, '.');
      if (*p == '.')
        {
          for (p++; g_ascii_isdigit (*p); p++)
            {
              if (digits++ < 9)
                g_string_append_c (out, *p);
            }
          if (digits == 0)
            return NULL;
        }
      for (; digits < 9; digits++)
        g_string_append_c (out, '0');
    }

  if (g_str_equal (kind, "datetime"))
    {
      if (*p == 'Z' || g_str_equal (p, "-00:00"))
        {
          g_string_append (out, "+00:00");
          p += *p == 'Z' ? 1 : 6;
        }
      else if ((*p == '+' || *p == '-') && match_pattern (p + 1, "dd:dd"))
        {
          g_string_append_len (out, p, 6);
          p += 6;
        }
      else
        return NULL;
    }

  if (*p != '\0')
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
parse_float (const char *s,
             double     *out)
{
  char *end = NULL;

  *out = g_ascii_strtod (s, &end);
  return *s != '\0' && end != NULL && *end == '\0';
}

static gboolean
values_equal (const char *type,
              const char *want,
              const char *have)
{
  if (g_str_equal (type, "float"))
    {
      double w, h;

      /* toml-test writes every NaN as "nan", whatever its sign. */
      if (g_str_has_suffix (want, "nan") || g_str_has_suffix (have, "nan"))
        return g_str_equal (want, have);
      /* Numerical equality, so "+inf" == "inf" and "-0.0" == "0". */
      return parse_float (want, &w) && parse_float (have, &h) && w == h;
    }

  if (g_str_equal (type, "datetime") || g_str_equal (type, "datetime-local") ||
      g_str_equal (type, "date-local") || g_str_equal (type, "time-local"))
    {
      g_autofree char *w = normalise_datetime (type, want);
      g_autofree char *h = normalise_datetime (type, have);

      return w != NULL && h != NULL && g_str_equal (w, h);
    }

  /* string, integer, bool: toml-test compares the text. */
  return g_str_equal (want, have);
}

/* Compares @want (from the corpus) with @have (ours). On mismatch, returns
 * a description naming the key. */
static char *
compare_nodes (JsonNode   *want,
               JsonNode   *have,
               const char *where)
{
  if (is_tagged_value (want))
    {
      JsonObject *w = json_node_get_object (want);
      JsonObject *h;
      const char *type, *want_value, *have_value;

      if (!is_tagged_value (have))
        return g_strdup_printf ("%s: expected a value, got a table or array", where);
      h = json_node_get_object (have);
      type = json_object_get_string_member (w, "type");
      if (!g_str_equal (type, json_object_get_string_member (h, "type")))
        return g_strdup_printf ("%s: expected type %s, got %s", where, type,
                                json_object_get_string_member (h, "type"));
      want_value = json_object_get_string_member (w, "value");
      have_value = json_object_get_string_member (h, "value");
      if (!values_equal (type, want_value, have_value))
        return g_strdup_printf ("%s: expected %s \"%s\", got \"%s\"", where, type, want_value,
                                have_value);
      return NULL;
    }

  if (JSON_NODE_HOLDS_OBJECT (want))
    {
      JsonObject *w = json_node_get_object (want);
      JsonObject *h;
      g_autoptr (GList) members = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (have) || is_tagged_value (have))
        return g_strdup_printf ("%s: expected a table", where);
      h = json_node_get_object (have);
      if (json_object_get_size (w) != json_object_get_size (h))
        return g_strdup_printf ("%s: expected %u keys, got %u", where, json_object_get_size (w),
                                json_object_get_size (h));

      members = json_object_get_members (w);
      for (GList *l = members; l != NULL; l = l->next)
        {
          const char *key = l->data;
          g_autofree char *sub = g_strdup_printf ("%s.%s", where, key);
          char *mismatch;

          if (!json_object_has_member (h, key))
            return g_strdup_printf ("%s: missing", sub);
          mismatch = compare_nodes (json_object_get_member (w, key),
                                    json_object_get_member (h, key), sub);
          if (mismatch != NULL)
            return mismatch;
        }
      return NULL;
    }

  if (JSON_NODE_HOLDS_ARRAY (want))
    {
      JsonArray *w = json_node_get_array (want);
      JsonArray *h;

      if (!JSON_NODE_HOLDS_ARRAY (have))
        return g_strdup_printf ("%s: expected an array", where);
      h = json_node_get_array (have);
      if (json_array_get_length (w) != json_array_get_length (h))
        return g_strdup_printf ("%s: expected %u elements, got %u", where,
                                json_array_get_length (w), json_array_get_length (h));
      for (guint i = 0; i < json_array_get_length (w); i++)
        {
          g_autofree char *sub = g_strdup_printf ("%s[%u]", where, i);
          char *mismatch = compare_nodes (json_array_get_element (w, i),
                                          json_array_get_element (h, i), sub);

          if (mismatch != NULL)
            return mismatch;
        }
      return NULL;
    }

  return g_strdup_printf ("%s: unexpected node in the expected output", where);
}

/* --- Corpus tests --------------------------------------------------------- */

/* Corpus files that test TOML 1.1 features. toml++ 3.3.0 implements TOML
 * 1.0.0 (Debian builds it without TOML_ENABLE_UNRELEASED_FEATURES), and
 * toml-test itself leaves these out when testing 1.0.0 (see "1.0.0" in its
 * internal/toml-test/version.go). They are run, and reported as skipped
 * only if the parser rejects them. */
static const char *const toml_1_1_only[] = {
  "/valid/string/escape-esc.toml", /* the \e escape */
};

static gboolean
is_toml_1_1_only (const char *path)
{
  for (guint i = 0; i < G_N_ELEMENTS (toml_1_1_only); i++)
    {
      if (g_str_has_suffix (path, toml_1_1_only[i]))
        return TRUE;
    }
  return FALSE;
}

/* Corpus tests report failures with g_test_fail_printf() rather than
 * aborting, so that one bad file does not hide the others. */

static void
test_valid (gconstpointer data)
{
  const char *toml_path = data;
  g_autofree char *stem = g_strndup (toml_path, strlen (toml_path) - strlen (".toml"));
  g_autofree char *json_path = g_strconcat (stem, ".json", NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonNode) have = NULL;
  g_autoptr (JsonNode) plain = NULL;
  g_autoptr (GHashTable) lines = NULL;
  g_autofree char *mismatch = NULL;

  g_file_get_contents (toml_path, &contents, &length, &error);
  g_assert_no_error (error);
  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);

  have = cdviz_toml_parse (contents, length, toml_path, CDVIZ_TOML_TAGGED, NULL, &error);
  if (have == NULL && is_toml_1_1_only (toml_path))
    {
      g_autofree char *reason = g_strdup_printf ("TOML 1.1 only: %s", error->message);

      g_test_skip (reason);
      return;
    }
  if (have == NULL)
    {
      g_test_fail_printf ("rejected a valid document: %s", error->message);
      return;
    }
  g_assert_true (JSON_NODE_HOLDS_OBJECT (have));

  mismatch = compare_nodes (json_parser_get_root (parser), have, "(root)");
  if (mismatch != NULL)
    {
      g_test_fail_printf ("%s", mismatch);
      return;
    }

  /* Plain mode accepts the same documents, and locates every key. */
  lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  plain = cdviz_toml_parse (contents, length, toml_path, CDVIZ_TOML_PLAIN, lines, &error);
  if (plain == NULL)
    {
      g_test_fail_printf ("plain mode rejected the document: %s", error->message);
      return;
    }
  {
    GHashTableIter iter;
    gpointer path, line;

    g_hash_table_iter_init (&iter, lines);
    while (g_hash_table_iter_next (&iter, &path, &line))
      {
        if (GPOINTER_TO_UINT (line) == 0)
          g_test_fail_printf ("no line for %s", (const char *) path);
      }
  }
}

/* Checks the "ORIGIN:LINE:COLUMN: reason" form. */
static gboolean
has_location_prefix (const char *message,
                     const char *origin)
{
  const char *p = message;
  char *end;

  if (!g_str_has_prefix (p, origin) || p[strlen (origin)] != ':')
    return FALSE;
  p += strlen (origin) + 1;
  if (strtoul (p, &end, 10) < 1 || end == p || *end != ':')
    return FALSE;
  p = end + 1;
  if (strtoul (p, &end, 10) < 1 || end == p)
    return FALSE;
  return g_str_has_prefix (end, ": ") && end[2] != '\0';
}

static void
test_invalid (gconstpointer data)
{
  const char *toml_path = data;
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;

  g_file_get_contents (toml_path, &contents, &length, &error);
  g_assert_no_error (error);

  node = cdviz_toml_parse (contents, length, toml_path, CDVIZ_TOML_TAGGED, NULL, &error);
  if (node != NULL)
    {
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      g_autofree char *text = NULL;

      json_generator_set_root (generator, node);
      text = json_generator_to_data (generator, NULL);
      g_test_fail_printf ("accepted an invalid document, giving %s", text);
      return;
    }

  g_test_message ("%s", error->message);
  if (!g_error_matches (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE))
    g_test_fail_printf ("wrong error domain or code: %s", error->message);
  else if (!has_location_prefix (error->message, toml_path))
    g_test_fail_printf ("message is not \"ORIGIN:LINE:COLUMN: reason\": %s", error->message);
}

static void
test_corpus_missing (gconstpointer data)
{
  g_autofree char *message =
    g_strdup_printf ("toml-test corpus not found at %s", (const char *) data);

  g_test_skip (message);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Collects every *.toml under @dir, recursively, relative to @base. */
static void
collect_toml_files (const char *base,
                    const char *dir,
                    GPtrArray  *out)
{
  g_autofree char *path = g_build_filename (base, dir, NULL);
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *rel = g_build_filename (dir, name, NULL);
      g_autofree char *full = g_build_filename (base, rel, NULL);

      if (g_file_test (full, G_FILE_TEST_IS_DIR))
        collect_toml_files (base, rel, out);
      else if (g_str_has_suffix (name, ".toml"))
        g_ptr_array_add (out, g_steal_pointer (&rel));
    }
}

static void
add_corpus_tests (const char *corpus)
{
  const char *kinds[] = { "valid", "invalid" };

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

      collect_toml_files (corpus, kinds[k], files);
      g_ptr_array_sort (files, compare_strings);
      for (guint i = 0; i < files->len; i++)
        {
          const char *rel = g_ptr_array_index (files, i);
          g_autofree char *stem = g_strndup (rel, strlen (rel) - strlen (".toml"));
          g_autofree char *name = g_strconcat ("/toml/", stem, NULL);

          g_test_add_data_func_full (name, g_build_filename (corpus, rel, NULL),
                                     k == 0 ? test_valid : test_invalid, g_free);
        }
    }
}

/* --- Plain mode ----------------------------------------------------------- */

static JsonNode *
parse_plain (const char  *text,
             GHashTable  *lines,
             GError     **error)
{
  return cdviz_toml_parse (text, strlen (text), "test.toml", CDVIZ_TOML_PLAIN, lines, error);
}

static void
assert_member_order (JsonObject  *object,
                     const char **expected)
{
  g_autoptr (GList) members = json_object_get_members (object);
  GList *l = members;

  for (; *expected != NULL; expected++, l = l->next)
    {
      g_assert_nonnull (l);
      g_assert_cmpstr (l->data, ==, *expected);
    }
  g_assert_null (l);
}

static void
test_plain_order (void)
{
  const char *text =
    "zeta = 1\n"
    "alpha = 2\n"
    "[mid]\n"
    "b = 1\n"
    "a = { y = 1, x = 2 }\n"
    "[first.inner]\n"
    "z = true\n"
    "[mid.sub]\n"
    "[first]\n"
    "0 = 'late'\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_plain (text, NULL, &error);
  JsonObject *object;

  g_assert_no_error (error);
  object = json_node_get_object (root);
  assert_member_order (object, (const char *[]) { "zeta", "alpha", "mid", "first", NULL });
  assert_member_order (json_object_get_object_member (object, "mid"),
                       (const char *[]) { "b", "a", "sub", NULL });
  assert_member_order (json_object_get_object_member (json_object_get_object_member (object, "mid"), "a"),
                       (const char *[]) { "y", "x", NULL });
  /* "inner" was written before "0", although "0" sorts first. */
  assert_member_order (json_object_get_object_member (object, "first"),
                       (const char *[]) { "inner", "0", NULL });
}

static void
test_plain_types (void)
{
  const char *text =
    "s = \"text\"\n"
    "i = -9223372036854775808\n"
    "f = 6.5e-1\n"
    "b = false\n"
    "odt1 = 1979-05-27T07:32:00Z\n"
    "odt2 = 1979-05-27T00:32:00.999999-07:00\n"
    "odt3 = 1979-05-27 07:32:00+05:30\n"
    "ldt = 1979-05-27T07:32:00.5\n"
    "ld = 1979-05-27\n"
    "lt = 07:32:00\n"
    "a = [1, 'two', [3.0]]\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_plain (text, NULL, &error);
  JsonObject *o;
  JsonArray *a;

  g_assert_no_error (error);
  o = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (o, "s"), ==, "text");
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (o, "i")), ==, G_TYPE_INT64);
  g_assert_cmpint (json_object_get_int_member (o, "i"), ==, G_MININT64);
  g_assert_cmpfloat (json_object_get_double_member (o, "f"), ==, 0.65);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (o, "b")), ==, G_TYPE_BOOLEAN);
  g_assert_false (json_object_get_boolean_member (o, "b"));
  g_assert_cmpstr (json_object_get_string_member (o, "odt1"), ==, "1979-05-27T07:32:00Z");
  g_assert_cmpstr (json_object_get_string_member (o, "odt2"), ==, "1979-05-27T00:32:00.999999-07:00");
  g_assert_cmpstr (json_object_get_string_member (o, "odt3"), ==, "1979-05-27T07:32:00+05:30");
  g_assert_cmpstr (json_object_get_string_member (o, "ldt"), ==, "1979-05-27T07:32:00.5");
  g_assert_cmpstr (json_object_get_string_member (o, "ld"), ==, "1979-05-27");
  g_assert_cmpstr (json_object_get_string_member (o, "lt"), ==, "07:32:00");
  a = json_object_get_array_member (o, "a");
  g_assert_cmpuint (json_array_get_length (a), ==, 3);
  g_assert_cmpint (json_array_get_int_element (a, 0), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (a, 1), ==, "two");
  g_assert_cmpfloat (json_array_get_double_element (json_array_get_array_element (a, 2), 0), ==, 3.0);
}

static void
test_plain_lines (void)
{
  const char *text =
    "title = \"x\"\n"                                    /* 1 */
    "[server]\n"                                         /* 2 */
    "host = \"h\"\n"                                     /* 3 */
    "headers = { accept = \"json\", \"x-y.z\" = 1 }\n"   /* 4 */
    "ports = [\n"                                        /* 5 */
    "  80,\n"                                            /* 6 */
    "  443,\n"                                           /* 7 */
    "]\n"                                                /* 8 */
    "[[sink]]\n"                                         /* 9 */
    "name = \"a\"\n"                                     /* 10 */
    "\n"                                                 /* 11 */
    "[[sink]]\n"                                         /* 12 */
    "name = \"b\"\n"                                     /* 13 */
    "opts.deep = [{ k = 1 }]\n";                         /* 14 */
  const struct {
    const char *path;
    guint line;
  } expected[] = {
    { "title", 1 },
    { "server", 2 },
    { "server.host", 3 },
    { "server.headers", 4 },
    { "server.headers.accept", 4 },
    { "server.headers.\"x-y.z\"", 4 },
    { "server.ports", 5 },
    { "server.ports[0]", 6 },
    { "server.ports[1]", 7 },
    { "sink", 9 },
    { "sink[0]", 9 },
    { "sink[0].name", 10 },
    { "sink[1]", 12 },
    { "sink[1].name", 13 },
    { "sink[1].opts", 14 },
    { "sink[1].opts.deep", 14 },
    { "sink[1].opts.deep[0]", 14 },
    { "sink[1].opts.deep[0].k", 14 },
  };
  g_autoptr (GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_plain (text, lines, &error);

  g_assert_no_error (error);
  g_assert_nonnull (root);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      gpointer line;

      if (!g_hash_table_lookup_extended (lines, expected[i].path, NULL, &line))
        g_error ("no line recorded for %s", expected[i].path);
      g_assert_cmpuint (GPOINTER_TO_UINT (line), ==, expected[i].line);
    }
  g_assert_cmpuint (g_hash_table_size (lines), ==, G_N_ELEMENTS (expected));
}

static void
assert_parse_error (const char *text,
                    gsize       length,
                    const char *prefix)
{
  g_autoptr (GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;

  root = cdviz_toml_parse (text, length, "test.toml", CDVIZ_TOML_PLAIN, lines, &error);
  g_assert_null (root);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE);
  g_test_message ("%s", error->message);
  if (!g_str_has_prefix (error->message, prefix))
    g_error ("expected an error starting with \"%s\", got \"%s\"", prefix, error->message);
  /* A failed parse leaves the line map alone. */
  g_assert_cmpuint (g_hash_table_size (lines), ==, 0);
}

static void
test_plain_errors (void)
{
  static const char nul[] = "a = 1\nb = \"x\0y\"\n";
  static const char bad_utf8[] = "a = 1\nb = \"\xc3\x28\"\n";

  assert_parse_error ("a = 1\nb = = 2\n", strlen ("a = 1\nb = = 2\n"), "test.toml:2:5: ");
  assert_parse_error ("a = 1\n[t]\nx = 1\n[t]\n", strlen ("a = 1\n[t]\nx = 1\n[t]\n"),
                      "test.toml:4:1: ");
  assert_parse_error (nul, sizeof nul - 1, "test.toml:2:7: ");
  assert_parse_error (bad_utf8, sizeof bad_utf8 - 1, "test.toml:2:");
  /* Valid TOML, but JSON-GLib strings cannot hold NUL. */
  assert_parse_error ("k = \"a\\u0000b\"\n", strlen ("k = \"a\\u0000b\"\n"), "test.toml:1:5: ");
}

static void
test_plain_length (void)
{
  /* @data need not be NUL-terminated: only @length bytes are read. */
  const char *text = "a = 1\nthis is not TOML";
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;

  root = cdviz_toml_parse (text, strlen ("a = 1\n"), "test.toml", CDVIZ_TOML_PLAIN, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (root), "a"), ==, 1);
  g_clear_pointer (&root, json_node_unref);

  root = cdviz_toml_parse (NULL, 0, "empty", CDVIZ_TOML_PLAIN, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (root)), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  const char *corpus;

  g_test_init (&argc, &argv, NULL);

  if (argc > 1)
    corpus = argv[1];
  else if (g_getenv ("CDVIZ_TOML_TEST_DIR") != NULL)
    corpus = g_getenv ("CDVIZ_TOML_TEST_DIR");
  else
    corpus = DEFAULT_CORPUS;

  g_test_add_func ("/toml/plain/order", test_plain_order);
  g_test_add_func ("/toml/plain/types", test_plain_types);
  g_test_add_func ("/toml/plain/lines", test_plain_lines);
  g_test_add_func ("/toml/plain/errors", test_plain_errors);
  g_test_add_func ("/toml/plain/length", test_plain_length);

  if (g_file_test (corpus, G_FILE_TEST_IS_DIR))
    add_corpus_tests (corpus);
  else
    g_test_add_data_func ("/toml/corpus", corpus, test_corpus_missing);

  return g_test_run ();
}
