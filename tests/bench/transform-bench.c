/* SPDX-License-Identifier: Apache-2.0 */
/* transform-bench: the CPU a transformer costs per event, on one thread,
 * outside HTTP: the messages are built once from the input files (body,
 * NAME.headers.json beside it, metadata {"context": {"source": …}} as the
 * webhook sets it), then run through cdviz_transformer_transform() round
 * after round until --seconds of CPU are spent. Prints one JSON line:
 * transformer, inputs, events, outputs, errors, cpu_s, events_per_s (per
 * core), us_per_event.
 *
 *   transform-bench --plugin-dir DIR --config C.toml -t NAME
 *                   [--seconds S] FILE.json...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cdviz.h>

#define SOURCE "http://127.0.0.1:8080/?source=bench"

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
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
    if (json_node_get_value_type (value) == G_TYPE_STRING)
      g_hash_table_insert (headers, g_ascii_strdown (key, -1), g_strdup (json_node_get_string (value)));
  return headers;
}

static CdvizMessage *
read_message (const char *path,
              JsonNode   *metadata)
{
  g_autofree char *data = NULL;
  gsize length;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizMessage) parsed = NULL;
  g_autoptr(GHashTable) headers = NULL;

  if (!g_file_get_contents (path, &data, &length, &error))
    g_error ("%s", error->message);
  parsed = cdviz_message_new_from_data (data, (gssize) length, &error);
  if (parsed == NULL)
    g_error ("%s: %s", path, error->message);
  headers = read_headers (path);
  return cdviz_message_new_raw (cdviz_message_get_body (parsed), metadata, headers);
}

int
main (int argc,
      char **argv)
{
  g_autofree char *config_file = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) plugin_dirs = NULL;
  g_auto(GStrv) files = NULL;
  double seconds = 2.0;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file", "FILE" },
    { "transformer", 't', 0, G_OPTION_ARG_STRING, &name, "Transformer to run", "NAME" },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_dirs, "Plugin directory", "DIR" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "CPU seconds to spend (default 2)", "S" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "FILE.json…" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— transformer CPU cost per event");
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonNode) metadata = json_from_string ("{\"context\":{\"source\":\"" SOURCE "\"}}", NULL);
  g_autoptr(GObject) transformer = NULL;
  CdvizRegistry *registry = cdviz_registry_get_default ();
  guint64 events = 0, outputs = 0, errors = 0;
  double start, spent;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || config_file == NULL ||
      name == NULL || files == NULL)
    {
      g_printerr ("usage: transform-bench --plugin-dir DIR --config C.toml -t NAME FILE.json…\n");
      return 2;
    }
  cdviz_registry_load_plugins (registry, (const char * const *) plugin_dirs);
  if (!cdviz_config_add_file (config, config_file, &error))
    g_error ("%s", error->message);
  transformer = cdviz_config_create_transformer (config, registry, name, &error);
  if (transformer == NULL)
    g_error ("%s", error->message);
  for (guint i = 0; files[i] != NULL; i++)
    g_ptr_array_add (messages, read_message (files[i], metadata));

  start = cpu_seconds ();
  do
    {
      for (guint i = 0; i < messages->len; i++)
        {
          g_autoptr(GError) local_error = NULL;
          g_autoptr(GPtrArray) out = cdviz_transformer_transform (CDVIZ_TRANSFORMER (transformer),
                                                                  messages->pdata[i], &local_error);

          events++;
          if (out == NULL)
            errors++;
          else
            outputs += out->len;
        }
      spent = cpu_seconds () - start;
    }
  while (spent < seconds);

  printf ("{\"transformer\": \"%s\", \"inputs\": %u, \"events\": %" G_GUINT64_FORMAT
          ", \"outputs\": %" G_GUINT64_FORMAT ", \"errors\": %" G_GUINT64_FORMAT
          ", \"cpu_s\": %.3f, \"events_per_s\": %.0f, \"us_per_event\": %.2f}\n",
          name, messages->len, events, outputs, errors, spent,
          (double) events / spent, spent * 1e6 / (double) events);
  return 0;
}
