/* SPDX-License-Identifier: Apache-2.0 */
/* Upstream VRL conformance: runs vectordotdev/vrl's behaviour tests
 * (../shared/vrl/tests) and the examples of every stdlib function
 * (../shared/vrl/function-examples.json) through the engine, prints the
 * pass counts per category and fails when they drop below the floor in
 * tests/vrl-conformance-floor.txt (raise it when they rise; never lower it).
 * Skips (exit 77) when ../shared is not there. VERBOSE=1 lists failures. */
#include <locale.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "cdviz-vrl-runtime.h"

static gboolean verbose;

typedef struct {
  char *name;
  guint passed, total;
} Category;

static void
category_free (gpointer data)
{
  Category *c = data;

  g_free (c->name);
  g_free (c);
}

static Category *
category (GPtrArray  *list,
          const char *name)
{
  Category *c;

  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (((Category *) list->pdata[i])->name, name))
      return list->pdata[i];
  c = g_new0 (Category, 1);
  c->name = g_strdup (name);
  g_ptr_array_add (list, c);
  return c;
}

/* The value a VRL literal text stands for; NULL if it is not one. */
static CdvizVrlValue *
literal_value (const char *text)
{
  g_autoptr(CdvizVrlProgram) p = cdviz_vrl_compile (text, 0, NULL);
  g_autoptr(CdvizVrlValue) target = NULL;
  g_autoptr(CdvizVrlValue) meta = NULL;

  if (p == NULL)
    return NULL;
  target = cdviz_vrl_object_new ();
  meta = cdviz_vrl_object_new ();
  return cdviz_vrl_run (p, &target, &meta, 100000, NULL);
}

static gboolean
error_matches (const char *expected,
               const char *message)
{
  g_autofree char *e = g_strstrip (g_strdup (expected));
  const char *colon;

  if (g_str_equal (e, message))
    return TRUE;
  /* `function call error for "f" at (a:b): reason`: the reason decides */
  colon = strstr (e, "): ");
  if (g_str_has_prefix (e, "function call error") && colon != NULL)
    {
      const char *mine = strstr (message, "): ");

      return mine != NULL && g_str_equal (colon + 3, mine + 3);
    }
  {
    /* a quoted string result holding the error */
    g_autoptr(CdvizVrlValue) v = literal_value (e);

    return v != NULL && v->kind == CDVIZ_VRL_BYTES && g_str_equal (v->bytes.data, message);
  }
}

static gboolean
result_matches (const char    *expected,
                CdvizVrlValue *got)
{
  g_autofree char *e = g_strstrip (g_strdup (expected));
  g_autoptr(CdvizVrlValue) want = NULL;

  if (got->kind == CDVIZ_VRL_BYTES && g_str_equal (got->bytes.data, e))
    return TRUE;
  want = literal_value (e);
  if (want == NULL)
    return FALSE;
  if (cdviz_vrl_value_equal (want, got))
    return TRUE;
  /* floats printed with fewer digits */
  if (want->kind == CDVIZ_VRL_FLOAT && got->kind == CDVIZ_VRL_FLOAT)
    return ABS (want->number - got->number) < 1e-9 * MAX (1, ABS (want->number));
  return FALSE;
}

/* Runs one program; @expected_error: it must not compile. */
static gboolean
check_program_ro (const char                 *source,
                  const char                 *object_text,
                  const char                 *expected,
                  gboolean                    expect_compile_error,
                  gboolean                    expect_runtime_error,
                  const CdvizVrlReadOnlyPath *read_only,
                  guint                       n_read_only,
                  char                      **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizVrlProgram) program = cdviz_vrl_compile_full (source, CDVIZ_VRL_COMPILE_STRICT,
                                                               read_only, n_read_only, &error);
  g_autoptr(CdvizVrlValue) target = NULL;
  g_autoptr(CdvizVrlValue) meta = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) result = NULL;

  if (expect_compile_error)
    {
      if (program != NULL)
        *why = g_strdup ("compiled, but upstream refuses it");
      return program == NULL;
    }
  if (program == NULL)
    {
      *why = g_strdup_printf ("does not compile: %s", error->message);
      return FALSE;
    }
  target = object_text ? literal_value (object_text) : cdviz_vrl_object_new ();
  if (target == NULL)
    target = cdviz_vrl_object_new ();
  result = cdviz_vrl_run (program, &target, &meta, 10000000, &error);
  if (result == NULL)
    {
      if (error_matches (expected, error->message))
        return TRUE;
      /* upstream's harness: after `abort`, the expected result is the event */
      if (g_error_matches (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_ABORT) &&
          result_matches (expected, target))
        return TRUE;
      *why = g_strdup_printf ("runtime error: %s", error->message);
      return FALSE;
    }
  if (expect_runtime_error)
    {
      *why = g_strdup ("succeeded, expected an error");
      return FALSE;
    }
  if (result_matches (expected, result))
    return TRUE;
  {
    g_autofree char *text = cdviz_vrl_value_to_vrl (result);

    *why = g_strdup_printf ("got %s", text);
  }
  return FALSE;
}

static gboolean
check_program (const char  *source,
               const char  *object_text,
               const char  *expected,
               gboolean     expect_compile_error,
               gboolean     expect_runtime_error,
               char       **why)
{
  return check_program_ro (source, object_text, expected, expect_compile_error,
                           expect_runtime_error, NULL, 0, why);
}

static void
run_behaviour_file (const char *path,
                    const char *cat_name,
                    GPtrArray  *cats)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) result = g_string_new (NULL);
  g_autoptr(GString) object = g_string_new (NULL);
  g_autoptr(GString) program = g_string_new (NULL);
  GString *section = NULL;
  gboolean header = TRUE, diagnostic, ok;
  g_autofree char *why = NULL;
  Category *c = category (cats, cat_name);
  g_autoptr(GPtrArray) ro_paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) read_only = g_array_new (FALSE, TRUE, sizeof (CdvizVrlReadOnlyPath));

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];

      if (header && l[0] == '#')
        {
          const char *body = l[1] == ' ' ? l + 2 : l + 1;

          if (g_str_has_prefix (body, "result:"))
            {
              section = result;
              g_string_append (result, body + 7);
            }
          else if (g_str_has_prefix (body, "object:"))
            {
              section = object;
              g_string_append (object, body + 7);
            }
          else if (g_str_has_prefix (body, "read_only"))
            {
              /* read_only[_metadata][_recursive]: .path */
              const char *colon = strchr (body, ':');
              CdvizVrlReadOnlyPath ro = { NULL, strstr (body, "_recursive:") != NULL };
              g_autofree char *p = g_strstrip (g_strdup (colon ? colon + 1 : ""));

              if (g_str_has_prefix (body, "read_only_metadata") && p[0] == '.')
                p[0] = '%';
              ro.path = g_steal_pointer (&p);
              g_ptr_array_add (ro_paths, (char *) ro.path);
              g_array_append_val (read_only, ro);
              section = NULL;
            }
          else if (g_regex_match_simple ("^[a-z_]+:", body, 0, 0))
            section = NULL;
          else if (section != NULL)
            {
              g_string_append_c (section, '\n');
              g_string_append (section, body);
            }
          continue;
        }
      header = FALSE;
      g_string_append (program, l);
      g_string_append_c (program, '\n');
    }
  if (result->len == 0)
    return;
  diagnostic = strstr (result->str, "error[E") != NULL || strstr (result->str, "syntax error") != NULL;
  c->total++;
  {
    g_autofree char *stripped = g_strstrip (g_strdup (result->str));

    ok = check_program_ro (program->str, object->len ? object->str : NULL, result->str, diagnostic,
                           g_str_has_prefix (stripped, "function call error"),
                           (CdvizVrlReadOnlyPath *) read_only->data, read_only->len, &why);
  }
  if (ok)
    c->passed++;
  else if (verbose)
    g_print ("FAIL %s: %s\n", path, why);
}

static void
walk (const char *root,
      const char *dir,
      GPtrArray  *cats)
{
  g_autofree char *full = g_build_filename (root, dir, NULL);
  g_autoptr(GDir) d = g_dir_open (full, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (d == NULL)
    return;
  while ((entry = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *rel = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *path = g_build_filename (root, rel, NULL);
      g_auto(GStrv) parts = g_strsplit (rel, "/", 2);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        walk (root, rel, cats);
      else if (g_str_has_suffix (rel, ".vrl") && !g_str_equal (parts[0], "fixme") && parts[1] != NULL)
        run_behaviour_file (path, parts[0], cats);
    }
}

static void
run_examples (const char *file,
              Category   *c)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *examples;

  if (!json_parser_load_from_file (parser, file, NULL))
    return;
  examples = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (examples); i++)
    {
      JsonObject *ex = json_array_get_object_element (examples, i);
      g_autofree char *why = NULL;
      gboolean want_ok = json_object_get_boolean_member (ex, "ok");

      c->total++;
      if (check_program (json_object_get_string_member (ex, "source"), NULL,
                         json_object_get_string_member (ex, "result"), FALSE, !want_ok, &why))
        c->passed++;
      else if (verbose)
        g_print ("FAIL %s (%s): %s\n", json_object_get_string_member (ex, "function"),
                 json_object_get_string_member (ex, "title"), why);
    }
}

static guint
floor_value (const char *floor_text,
             const char *key)
{
  g_auto(GStrv) lines = g_strsplit (floor_text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], key) && lines[i][strlen (key)] == ' ')
      return atoi (lines[i] + strlen (key) + 1);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *shared = g_getenv ("CDVIZ_SHARED");
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  g_autofree char *tests = NULL, *examples = NULL, *floor_file = NULL, *floor_text = NULL;
  g_autoptr(GPtrArray) cats = g_ptr_array_new_with_free_func (category_free);
  Category ex = { (char *) "function-examples", 0, 0 };
  guint passed = 0, total = 0, floor_b, floor_e;
  gint64 start = g_get_monotonic_time ();
  int status = 0;

  setlocale (LC_ALL, "C.UTF-8");
  g_setenv ("TZ", "UTC", TRUE);
  verbose = g_getenv ("VERBOSE") != NULL;
  if (shared == NULL)
    shared = "../shared";
  tests = g_build_filename (shared, "vrl", "tests", NULL);
  examples = g_build_filename (shared, "vrl", "function-examples.json", NULL);
  if (!g_file_test (tests, G_FILE_TEST_IS_DIR) || !g_file_test (examples, G_FILE_TEST_EXISTS))
    {
      g_print ("1..0 # SKIP %s not found: the upstream VRL conformance material lives outside the tree\n", tests);
      return 77;
    }
  floor_file = g_build_filename (srcdir ? srcdir : ".", "vrl-conformance-floor.txt", NULL);
  if (!g_file_get_contents (floor_file, &floor_text, NULL, NULL))
    floor_text = g_strdup ("");
  floor_b = floor_value (floor_text, "behaviour");
  floor_e = floor_value (floor_text, "examples");

  {
    /* Programs name upstream's data files relative to its repository
     * (psl: "lib/tests/tests/functions/…"): run from a directory where
     * lib/tests/tests is the shared tests directory. */
    g_autofree char *abs_tests = g_canonicalize_filename (tests, NULL);
    g_autofree char *abs_examples = g_canonicalize_filename (examples, NULL);
    g_autofree char *dir = g_dir_make_tmp ("vrl-conformance-XXXXXX", NULL);
    g_autofree char *lib = dir ? g_build_filename (dir, "lib", "tests", NULL) : NULL;
    g_autofree char *link = lib ? g_build_filename (lib, "tests", NULL) : NULL;
    g_autofree char *cwd = g_get_current_dir ();

    if (link != NULL && g_mkdir_with_parents (lib, 0700) == 0 && symlink (abs_tests, link) == 0)
      g_chdir (dir);
    walk (abs_tests, "", cats);
    run_examples (abs_examples, &ex);
    if (link != NULL)
      {
        g_chdir (cwd);
        g_unlink (link);
        g_rmdir (lib);
        lib[strlen (lib) - strlen ("/tests")] = '\0';
        g_rmdir (lib);
        g_rmdir (dir);
      }
  }

  g_print ("# VRL conformance (upstream vectordotdev/vrl)\n");
  for (guint i = 0; i < cats->len; i++)
    {
      Category *c = cats->pdata[i];

      g_print ("#   %-12s %4u / %4u\n", c->name, c->passed, c->total);
      passed += c->passed;
      total += c->total;
    }
  g_print ("# behaviour tests: %u / %u (%.1f %%), floor %u\n", passed, total,
           total ? 100.0 * passed / total : 0, floor_b);
  g_print ("# function examples: %u / %u (%.1f %%), floor %u\n", ex.passed, ex.total,
           ex.total ? 100.0 * ex.passed / ex.total : 0, floor_e);
  g_print ("# %.2f s\n", (g_get_monotonic_time () - start) / 1e6);
  g_print ("1..2\n");
  if (passed >= floor_b)
    g_print ("ok 1 behaviour tests at or above the floor\n");
  else
    {
      g_print ("not ok 1 behaviour tests: %u passed, below the floor %u\n", passed, floor_b);
      status = 1;
    }
  if (ex.passed >= floor_e)
    g_print ("ok 2 function examples at or above the floor\n");
  else
    {
      g_print ("not ok 2 function examples: %u passed, below the floor %u\n", ex.passed, floor_e);
      status = 1;
    }
  return status;
}
