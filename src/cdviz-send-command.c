/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#define CDVIZ_COMPILATION
#include "cdviz.h"
#include "cdviz-cli-set.h"
#include "cdviz-send-command.h"

/* `send` as cdviz-collector's `src/tools/send.rs`: the same layers (a base
 * configuration, --config, CDVIZ_COLLECTOR__… variables, the options, then
 * --set), the same `sinks.http` (enabled by --url, with --header as static
 * header rules and --total-duration-of-retries) and `sinks.debug` (enabled
 * without --url). The items are pushed as the push-only source `cli`; the
 * http sink runs with queue_capacity = 0, so a refused or undelivered item
 * fails in the pipeline, which is what the exit status reports. Not
 * supported: upstream's --run, --input-parser, --metadata. */

#define BASE_CONFIG \
  "[http]\nhost = \"127.0.0.1\"\nport = 0\n" \
  "[sources.cli]\nenabled = true\n" \
  "[sinks.debug]\nenabled = true\ntype = \"debug\"\n" \
  "[sinks.http]\nenabled = false\ntype = \"http\"\n" \
  "destination = \"http://localhost:8080/webhook/000\"\n" \
  "total_duration_of_retries = \"30s\"\n"

static void
append_toml_string (GString    *out,
                    const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if ((guchar) *p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", (guchar) *p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* The options as a TOML layer, as upstream's append_http_sink_toml(). */
static char *
options_to_toml (const char  *url,
                 const char  *retries,
                 char       **headers,
                 GError     **error)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (url == NULL)
    return g_string_free (g_steal_pointer (&out), FALSE);
  g_string_append (out, "sinks.debug.enabled = false\nsinks.http.enabled = true\n"
                        "sinks.http.queue_capacity = 0\nsinks.http.destination = ");
  append_toml_string (out, url);
  g_string_append_c (out, '\n');
  if (retries != NULL)
    {
      g_string_append (out, "sinks.http.total_duration_of_retries = ");
      append_toml_string (out, retries);
      g_string_append_c (out, '\n');
    }
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    {
      const char *colon = strchr (headers[i], ':');
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      if (colon == NULL || colon == headers[i])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--header “%s”: expected “Name: value”"), headers[i]);
          return NULL;
        }
      name = g_strstrip (g_strndup (headers[i], colon - headers[i]));
      value = g_strstrip (g_strdup (colon + 1));
      g_string_append (out, "sinks.http.headers.");
      append_toml_string (out, name);
      g_string_append (out, " = { type = \"static\", value = ");
      append_toml_string (out, value);
      g_string_append (out, " }\n");
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* One --data value: JSON text, @FILE or @- (standard input). */
static CdvizMessage *
load_item (const char  *data,
           GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (data[0] != '@')
    return cdviz_message_new_from_data (data, -1, error);
  if (g_str_equal (data, "@-"))
    {
      g_autoptr(GString) text = g_string_new (NULL);
      char buffer[8192];
      size_t n;

      while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
        g_string_append_len (text, buffer, n);
      if (ferror (stdin))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               _("cannot read standard input"));
          return NULL;
        }
      length = text->len;
      contents = g_string_free (g_steal_pointer (&text), FALSE);
    }
  else if (!g_file_get_contents (data + 1, &contents, &length, error))
    return NULL;
  return cdviz_message_new_from_data (contents, length, error);
}

static void
on_failed (CdvizPipeline *pipeline,
           const char    *name,
           CdvizMessage  *message,
           const GError  *error,
           guint         *failures)
{
  (*failures)++;
}

gboolean
cdviz_send_command_add_base (CdvizConfig  *config,
                             GError      **error)
{
  return cdviz_config_add_string (config, BASE_CONFIG, "send", error);
}

int
cdviz_send_command_run (int    argc,
                        char **argv)
{
  g_auto(GStrv) data = NULL, headers = NULL, sets = NULL, plugin_dirs = NULL;
  g_auto(GStrv) config_headers = NULL;
  g_autofree char *url = NULL, *config_file = NULL, *directory = NULL, *retries = NULL;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &data, N_("An item to send: JSON text, @FILE or @- (standard input); repeatable"), N_("DATA") },
    { "url", 'u', 0, G_OPTION_ARG_STRING, &url, N_("POST the items to URL (the http sink); without it they are printed (the debug sink)"), N_("URL") },
    { "header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &headers, N_("With --url, a header “Name: value”; repeatable"), N_("HEADER") },
    { "total-duration-of-retries", 0, 0, G_OPTION_ARG_STRING, &retries, N_("With --url, how long an item may be retried (default 30s)"), N_("DURATION") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, N_("Configuration file (TOML) or http(s) URL over the built-in send configuration"), N_("FILE") },
    { "config-header", 0, 0, G_OPTION_ARG_STRING_ARRAY, &config_headers, N_("With a --config URL, a request header “Name: value”; repeatable"), N_("HEADER") },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, N_("Override configuration with a TOML fragment, or KEY=VALUE as cdviz-collector; repeatable"), N_("TOML") },
    { "directory", 'C', 0, G_OPTION_ARG_FILENAME, &directory, N_("Change to DIR first (relative paths are read from there)"), N_("DIR") },
    { "plugin-dir", 'p', 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_dirs, N_("Also load plugins from DIR"), N_("DIR") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("— send events to a collector"));
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *layer = NULL;
  guint failures = 0;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto usage;
  if (argc > 1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("unexpected argument “%s”"), argv[1]);
      goto usage;
    }
  if (data == NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("nothing to send: give --data"));
      goto usage;
    }
  /* Standard output is the debug sink's. */
  g_log_writer_default_set_use_stderr (TRUE);
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  if (directory != NULL && g_chdir (directory) != 0)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, _("cannot change to “%s”: %s"),
                   directory, g_strerror (errno));
      goto usage;
    }

  for (guint i = 0; data[i] != NULL; i++)
    {
      CdvizMessage *item = load_item (data[i], &error);

      if (item == NULL)
        {
          g_prefix_error (&error, _("--data “%s”: "), data[i]);
          goto usage;
        }
      g_ptr_array_add (items, item);
    }

  cdviz_registry_load_plugins (cdviz_registry_get_default (),
                               (const char * const *) plugin_dirs);
  layer = options_to_toml (url, retries, headers, &error);
  if (layer == NULL ||
      !cdviz_send_command_add_base (config, &error) ||
      (config_file != NULL &&
       !cdviz_config_add_location (config, config_file, (const char * const *) config_headers,
                                   &error)) ||
      !cdviz_config_add_environment (config, NULL, &error) ||
      !cdviz_config_add_string (config, layer, "send options", &error))
    goto usage;
  for (guint i = 0; sets != NULL && sets[i] != NULL; i++)
    if (!cdviz_cli_add_set (config, sets[i], &error))
      goto usage;
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  if (pipeline == NULL || !cdviz_pipeline_start (pipeline, &error))
    goto usage;
  g_signal_connect (pipeline, "sink-failed", G_CALLBACK (on_failed), &failures);
  g_signal_connect (pipeline, "rejected", G_CALLBACK (on_failed), &failures);

  for (guint i = 0; i < items->len; i++)
    if (!cdviz_pipeline_push (pipeline, "cli", items->pdata[i], &error))
      {
        g_printerr (_("cdviz-pipeline send: item %u not sent: %s\n"), i + 1, error->message);
        g_clear_error (&error);
        failures++;
      }
  cdviz_pipeline_flush (pipeline);
  cdviz_pipeline_stop (pipeline);
  /* The pipeline's notices (sink-failed, rejected) come through this
   * thread's main context. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (failures > 0)
    {
      g_printerr (_("cdviz-pipeline send: %u of %u items not accepted\n"), failures, items->len);
      return 1;
    }
  return 0;

usage:
  g_printerr (_("cdviz-pipeline send: %s\n"), error->message);
  return 2;
}
