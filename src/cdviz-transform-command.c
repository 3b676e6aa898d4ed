/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#define CDVIZ_COMPILATION
#include "cdviz.h"
#include "cdviz-transform-command.h"

#ifdef HAVE_VRL
#include "cdviz-vrl-value.h"
#endif

/* `transform --config FILE -t a,b --input DIR --output DIR --mode M`, as
 * cdviz-collector's `transform`:
 *  - every `*.json` under DIR (not `*.headers.json`, `*.metadata.json`) is
 *    a message body; `NAME.headers.json` beside it holds its headers; its
 *    metadata is `{"context": {"source": "http://cdviz-collector.example.com?source=cli-transform"},
 *    "path": "RELATIVE/NAME.json"}`;
 *  - each output is written to OUTPUT/<metadata.path>.new (pretty JSON of
 *    the body, keys sorted, as serde_json prints it), `NAME.1.json`,
 *    `NAME.2.json`… when one input gives several;
 *  - check: exit 1 when an output differs from (or is missing beside) the
 *    existing `.json`; overwrite: the `.new` files replace them; review: as
 *    check, and on a terminal asks, per difference, whether to accept it.
 * Outputs that are not valid CDEvents are reported (unless
 * --no-check-cdevent) and make the command fail. */

#define CLI_SOURCE "http://cdviz-collector.example.com?source=cli-transform"

typedef struct {
  char *output;
  gboolean export_headers;
  gboolean export_metadata;
  gboolean check_cdevent;
  GHashTable *seen;             /* base path → count */
  guint cdevent_failures;
  guint errors;
} Context;

static char *
pretty_json (JsonNode *node)
{
#ifdef HAVE_VRL
  g_autoptr(CdvizVrlValue) value = cdviz_vrl_value_from_json (node);

  return cdviz_vrl_value_to_json (value, TRUE);
#else
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
#endif
}

static char *
headers_json (GHashTable *headers)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonObject) object = json_object_new ();
  GHashTableIter iter;
  gpointer k, v;

  if (headers != NULL)
    {
      g_hash_table_iter_init (&iter, headers);
      while (g_hash_table_iter_next (&iter, &k, &v))
        json_object_set_string_member (object, k, v);
    }
  json_node_set_object (node, object);
  return pretty_json (node);
}

static gboolean
write_output (Context       *ctx,
              CdvizMessage  *message,
              GError       **error)
{
  JsonNode *metadata = cdviz_message_get_metadata (message);
  const char *base = NULL;
  g_autofree char *name = NULL, *path = NULL, *dir = NULL, *text = NULL;
  guint count;

  if (metadata != NULL && JSON_NODE_HOLDS_OBJECT (metadata))
    base = json_object_get_string_member_with_default (json_node_get_object (metadata), "path", NULL);
  if (base == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("an output has no “path” in its metadata (a transformer dropped it)"));
      return FALSE;
    }
  count = GPOINTER_TO_UINT (g_hash_table_lookup (ctx->seen, base));
  g_hash_table_insert (ctx->seen, g_strdup (base), GUINT_TO_POINTER (count + 1));
  if (count == 0)
    name = g_strdup (base);
  else
    {
      g_autofree char *stem = g_str_has_suffix (base, ".json") ? g_strndup (base, strlen (base) - 5)
                                                               : g_strdup (base);

      name = g_strdup_printf ("%s.%u.json", stem, count);
    }
  path = g_build_filename (ctx->output, name, NULL);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("cannot create %s"), dir);
      return FALSE;
    }

  text = pretty_json (cdviz_message_get_body (message));
  {
    g_autofree char *file = g_strconcat (path, ".new", NULL);

    if (!g_file_set_contents (file, text, -1, error))
      return FALSE;
  }
  if (ctx->export_headers || ctx->export_metadata)
    {
      g_autofree char *stem = g_strndup (path, strlen (path) - (g_str_has_suffix (path, ".json") ? 5 : 0));

      if (ctx->export_headers)
        {
          g_autofree char *file = g_strconcat (stem, ".headers.json.new", NULL);
          g_autofree char *h = headers_json (cdviz_message_get_headers (message));

          if (!g_file_set_contents (file, h, -1, error))
            return FALSE;
        }
      if (ctx->export_metadata)
        {
          g_autofree char *file = g_strconcat (stem, ".metadata.json.new", NULL);
          g_autofree char *m = pretty_json (metadata);

          if (!g_file_set_contents (file, m, -1, error))
            return FALSE;
        }
    }
  if (ctx->check_cdevent)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonNode) event = cdviz_cdevent_normalize (cdviz_message_get_body (message),
                                                           CLI_SOURCE, &local_error);

      if (event == NULL)
        {
          ctx->cdevent_failures++;
          g_printerr (_("%s: could not parse as a cdevent: %s\n"), name, local_error->message);
        }
    }
  return TRUE;
}

static GHashTable *
read_headers (const char *json_path)
{
  g_autofree char *stem = g_strndup (json_path, strlen (json_path) - 5);
  g_autofree char *file = g_strconcat (stem, ".headers.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  GHashTable *headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  if (!g_file_test (file, G_FILE_TEST_EXISTS) || !json_parser_load_from_file (parser, file, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return headers;
  json_object_iter_init (&iter, json_node_get_object (json_parser_get_root (parser)));
  while (json_object_iter_next (&iter, &key, &value))
    if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
      g_hash_table_replace (headers, g_ascii_strdown (key, -1), g_strdup (json_node_get_string (value)));
  return headers;
}

static void
list_files (const char *root,
            const char *relative,
            GPtrArray  *out)
{
  g_autofree char *dir_path = relative ? g_build_filename (root, relative, NULL) : g_strdup (root);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *entry;

  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *rel = relative ? g_build_filename (relative, entry, NULL) : g_strdup (entry);
      g_autofree char *full = g_build_filename (root, rel, NULL);

      if (g_file_test (full, G_FILE_TEST_IS_DIR))
        list_files (root, rel, out);
      else
        g_ptr_array_add (out, g_steal_pointer (&rel));
    }
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char **) a, *(const char **) b);
}

static char *
normalized (const char *file)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_file (parser, file, NULL) || json_parser_get_root (parser) == NULL)
    return NULL;
  return pretty_json (json_parser_get_root (parser));
}

static gboolean
ask (const char *question)
{
  char answer[16] = { 0 };

  g_print ("%s [y/N] ", question);
  fflush (stdout);
  if (fgets (answer, sizeof answer, stdin) == NULL)
    return FALSE;
  return answer[0] == 'y' || answer[0] == 'Y';
}

/* Compares OUTPUT's `.json.new` files with their `.json`. */
static guint
reconcile (const char *output,
           const char *mode,
           gboolean    keep_new)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  guint differences = 0, written = 0;
  gboolean interactive = g_str_equal (mode, "review") && isatty (0);

  list_files (output, NULL, files);
  g_ptr_array_sort (files, compare_paths);
  for (guint i = 0; i < files->len; i++)
    {
      const char *rel = files->pdata[i];
      g_autofree char *full = g_build_filename (output, rel, NULL);

      if (g_str_has_suffix (rel, ".json.new"))
        {
          g_autofree char *expected = g_strndup (full, strlen (full) - 4);
          g_autofree char *want = normalized (expected);
          g_autofree char *got = normalized (full);
          gboolean same = want != NULL && got != NULL && g_str_equal (want, got);

          if (g_str_equal (mode, "overwrite"))
            {
              if (g_rename (full, expected) == 0)
                written++;
              continue;
            }
          if (same)
            continue;
          differences++;
          g_print (_("difference: %.*s\n"), (int) strlen (rel) - 4, rel);
          if (want == NULL)
            g_print (_("  (no expected file)\n"));
          else
            {
              g_auto(GStrv) a = g_strsplit (want, "\n", -1);
              g_auto(GStrv) b = g_strsplit (got ? got : "", "\n", -1);

              for (guint l = 0; a[l] || b[l]; l++)
                if (!a[l] || !b[l] || !g_str_equal (a[l], b[l]))
                  {
                    g_print ("  %u: - %s\n  %u: + %s\n", l + 1, a[l] ? a[l] : "", l + 1, b[l] ? b[l] : "");
                    break;
                  }
            }
          if (interactive && ask (_("accept the new version?")))
            {
              g_rename (full, expected);
              differences--;
            }
        }
      else if (g_str_has_suffix (rel, ".json") && !g_str_has_suffix (rel, ".headers.json") &&
               !g_str_has_suffix (rel, ".metadata.json") && !g_str_equal (mode, "overwrite"))
        {
          g_autofree char *new_file = g_strconcat (full, ".new", NULL);

          if (!g_file_test (new_file, G_FILE_TEST_EXISTS))
            {
              differences++;
              g_print (_("difference: %s is no longer produced\n"), rel);
            }
        }
    }
  if (!keep_new)
    for (guint i = 0; i < files->len; i++)
      if (g_str_has_suffix (files->pdata[i], ".json.new"))
        {
          g_autofree char *full = g_build_filename (output, files->pdata[i], NULL);

          g_unlink (full);
        }
  if (g_str_equal (mode, "overwrite"))
    g_print (_("Overwritten %u files.\n"), written);
  else
    g_print (_("%u differences found.\n"), differences);
  return differences;
}

int
cdviz_transform_command_run (int    argc,
                             char **argv)
{
  g_autofree char *config_file = NULL, *input = NULL, *output = NULL, *mode = NULL;
  g_auto(GStrv) refs = NULL;
  g_auto(GStrv) plugin_dirs = NULL;
  gboolean no_check = FALSE, export_headers = FALSE, export_metadata = FALSE, keep_new = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, N_("Configuration file (TOML) defining the transformers"), N_("FILE") },
    { "transformer-refs", 't', 0, G_OPTION_ARG_STRING_ARRAY, &refs, N_("Transformers to apply, in order (comma-separated or repeated; default passthrough)"), N_("NAMES") },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input, N_("Directory of input files (*.json, with NAME.headers.json beside)"), N_("DIR") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_("Directory of expected outputs"), N_("DIR") },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, N_("review (default), check or overwrite"), N_("MODE") },
    { "no-check-cdevent", 0, 0, G_OPTION_ARG_NONE, &no_check, N_("Do not check that outputs are CDEvents"), NULL },
    { "export-headers", 0, 0, G_OPTION_ARG_NONE, &export_headers, N_("Also write NAME.headers.json"), NULL },
    { "export-metadata", 0, 0, G_OPTION_ARG_NONE, &export_metadata, N_("Also write NAME.metadata.json"), NULL },
    { "keep-new-files", 0, 0, G_OPTION_ARG_NONE, &keep_new, N_("Keep the *.json.new files"), NULL },
    { "plugin-dir", 'p', 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_dirs, N_("Also load plugins from DIR"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("— run files through transformers"));
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  CdvizRegistry *registry = cdviz_registry_get_default ();
  Context ctx = { 0 };
  guint differences;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("cdviz-pipeline transform: %s\n"), error->message);
      return 2;
    }
  if (input == NULL || output == NULL)
    {
      g_printerr (_("cdviz-pipeline transform: --input and --output are required\n"));
      return 2;
    }
  if (mode == NULL)
    mode = g_strdup ("review");
  if (!g_str_equal (mode, "review") && !g_str_equal (mode, "check") && !g_str_equal (mode, "overwrite"))
    {
      g_printerr (_("cdviz-pipeline transform: unknown mode “%s” (review, check, overwrite)\n"), mode);
      return 2;
    }

  cdviz_registry_load_plugins (registry, (const char * const *) plugin_dirs);
  if ((config_file != NULL && !cdviz_config_add_file (config, config_file, &error)) ||
      (config_file == NULL && !cdviz_config_add_default (config, &error)))
    {
      g_printerr (_("cdviz-pipeline transform: %s\n"), error->message);
      return 2;
    }
  for (guint i = 0; refs != NULL && refs[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (refs[i], ",", -1);

      for (guint j = 0; parts[j]; j++)
        if (*g_strstrip (parts[j]))
          g_ptr_array_add (names, g_strdup (parts[j]));
    }
  if (names->len == 0)
    g_ptr_array_add (names, g_strdup ("passthrough"));
  for (guint i = 0; i < names->len; i++)
    {
      GObject *t = cdviz_config_create_transformer (config, registry, names->pdata[i], &error);

      if (t == NULL)
        {
          g_printerr (_("cdviz-pipeline transform: %s\n"), error->message);
          return 2;
        }
      g_ptr_array_add (chain, t);
    }

  ctx.output = output;
  ctx.export_headers = export_headers;
  ctx.export_metadata = export_metadata;
  ctx.check_cdevent = !no_check;
  ctx.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mkdir_with_parents (output, 0755);

  list_files (input, NULL, files);
  g_ptr_array_sort (files, compare_paths);
  for (guint i = 0; i < files->len; i++)
    {
      const char *rel = files->pdata[i];
      g_autofree char *full = g_build_filename (input, rel, NULL);
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(JsonNode) metadata = NULL;
      g_autoptr(GHashTable) headers = NULL;
      g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
      g_autoptr(GError) local_error = NULL;

      if (!g_str_has_suffix (rel, ".json") || g_str_has_suffix (rel, ".headers.json") ||
          g_str_has_suffix (rel, ".metadata.json"))
        continue;
      if (!json_parser_load_from_file (parser, full, &local_error))
        {
          g_printerr ("%s: %s\n", rel, local_error->message);
          ctx.errors++;
          continue;
        }
      {
        JsonBuilder *b = json_builder_new ();

        json_builder_begin_object (b);
        json_builder_set_member_name (b, "context");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "source");
        json_builder_add_string_value (b, CLI_SOURCE);
        json_builder_end_object (b);
        json_builder_set_member_name (b, "path");
        json_builder_add_string_value (b, rel);
        json_builder_end_object (b);
        metadata = json_builder_get_root (b);
        g_object_unref (b);
      }
      json_node_seal (metadata);
      headers = read_headers (full);
      {
        JsonNode *body = json_node_copy (json_parser_get_root (parser));

        json_node_seal (body);
        g_ptr_array_add (messages, cdviz_message_new (body, metadata, headers));
        json_node_unref (body);
      }
      for (guint t = 0; t < chain->len && local_error == NULL; t++)
        {
          g_autoptr(GPtrArray) next = g_ptr_array_new_with_free_func (g_object_unref);

          for (guint m = 0; m < messages->len && local_error == NULL; m++)
            {
              g_autoptr(GPtrArray) out = cdviz_transformer_transform (chain->pdata[t], messages->pdata[m], &local_error);

              for (guint o = 0; out != NULL && o < out->len; o++)
                g_ptr_array_add (next, g_object_ref (out->pdata[o]));
            }
          g_ptr_array_unref (messages);
          messages = g_steal_pointer (&next);
        }
      if (local_error != NULL)
        {
          /* as cdviz-collector: a rejected input has no output, and the run goes on */
          g_printerr (_("%s: rejected: %s\n"), rel, local_error->message);
          continue;
        }
      for (guint m = 0; m < messages->len; m++)
        if (!write_output (&ctx, messages->pdata[m], &local_error))
          {
            g_printerr ("%s: %s\n", rel, local_error->message);
            g_clear_error (&local_error);
            ctx.errors++;
          }
    }
  g_print (_("Processed %u input files.\n"), files->len);

  differences = reconcile (output, mode, keep_new);
  g_hash_table_unref (ctx.seen);
  if (ctx.cdevent_failures > 0)
    g_printerr (_("could not parse body as a cdevent %u times\n"), ctx.cdevent_failures);
  return (differences > 0 && !g_str_equal (mode, "overwrite")) || ctx.errors > 0 ||
         ctx.cdevent_failures > 0 ? 1 : 0;
}
