/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>

#define CDVIZ_COMPILATION
#include "cdviz.h"
#include "cdviz-cli-set.h"
#include "cdviz-send-command.h"

/* `send` as cdviz-collector's `src/tools/send.rs`: the same layers (a base
 * configuration, --config, CDVIZ_COLLECTOR__… variables, the options, then
 * --set), the same `sinks.http` (enabled by --url, with --header as static
 * header rules and --total-duration-of-retries) and `sinks.debug` (enabled
 * without --url). The http sink runs with queue_capacity = 0, so a refused
 * or undelivered item fails in the pipeline, which is what the exit status
 * reports.
 *
 * Without --run, each --data goes to the `cli` source's `push-data`
 * signal, parsed with `sources.cli.extractor.parser` (--input-parser) and
 * with `sources.cli.extractor.metadata.KEY` (--metadata KEY=VALUE) set.
 *
 * With --run NAME -- COMMAND…, as upstream's send_run(): the subprocess
 * source `sources.NAME` is enabled (and `cli` disabled) with the command,
 * --data as its `data_globs`, --no-data, --fail-on-collector-error and
 * --metadata as `metadata.run.overrides.KEY` (a repeated key: an array);
 * `send` waits for its exit-status, drains the sinks and exits 0 when the
 * command succeeded, 1 otherwise, as upstream; SIGINT or SIGTERM kill the
 * command (exit code 130 in the finished event). The run types (taskrun,
 * testsuiterun_junit…) are declared by the configuration, for instance
 * upstream's send.base.toml given with --config. */

#define BASE_CONFIG \
  "[http]\nhost = \"127.0.0.1\"\nport = 0\n" \
  "[sources.cli]\nenabled = true\n[sources.cli.extractor]\ntype = \"cli\"\n" \
  "[sinks.debug]\nenabled = true\ntype = \"debug\"\n" \
  "[sinks.http]\nenabled = false\ntype = \"http\"\n" \
  "destination = \"http://localhost:8080/webhook/000\"\n" \
  "total_duration_of_retries = \"30s\"\n"

/* --input-parser's values (clap's names) and the `parser` key's. */
static const char *const input_parsers[][2] = {
  { "auto", "auto" }, { "json", "json" }, { "jsonl", "jsonl" }, { "csv-row", "csv_row" },
  { "xml", "xml" }, { "yaml", "yaml" }, { "tap", "tap" }, { "text", "text" },
  { "text-line", "text_line" },
};

typedef struct {
  char *url, *retries, *parser, *run;
  char **headers, **data, **metadata, **command;
  gboolean no_data, fail_on_collector_error, log_full_response;
} SendOptions;

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

static void
append_toml_strings (GString            *out,
                     const char * const *values)
{
  g_string_append_c (out, '[');
  for (guint i = 0; values[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      append_toml_string (out, values[i]);
    }
  g_string_append_c (out, ']');
}

/* A key the options put in a dotted TOML path: as upstream, letters,
 * digits, `-` and `_` only, so it cannot restructure the layer. */
static gboolean
check_bare_key (const char  *option,
                const char  *key,
                GError     **error)
{
  if (*key == '\0' || strspn (key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_") != strlen (key))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s “%s”: the name may hold only ASCII letters, digits, “-” and “_”"),
                   option, key);
      return FALSE;
    }
  return TRUE;
}

/* --metadata KEY=VALUE as TOML under @prefix; in --run mode (@arrays) a
 * repeated KEY becomes an array, as upstream. */
static gboolean
append_metadata (GString     *out,
                 const char  *prefix,
                 char       **metadata,
                 gboolean     arrays,
                 GError     **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) values =
    g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_ptr_array_unref);

  for (guint i = 0; metadata != NULL && metadata[i] != NULL; i++)
    {
      const char *equal = strchr (metadata[i], '=');
      g_autofree char *key = NULL;
      GPtrArray *list;

      if (equal == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--metadata “%s”: expected KEY=VALUE"), metadata[i]);
          return FALSE;
        }
      key = g_strstrip (g_strndup (metadata[i], equal - metadata[i]));
      if (!check_bare_key ("--metadata", key, error))
        return FALSE;
      list = g_hash_table_lookup (values, key);
      if (list == NULL)
        {
          list = g_ptr_array_new ();
          g_ptr_array_add (keys, g_steal_pointer (&key));
          g_hash_table_insert (values, keys->pdata[keys->len - 1], list);
        }
      else if (!arrays)
        g_ptr_array_set_size (list, 0);
      g_ptr_array_add (list, (gpointer) (equal + 1));
    }
  for (guint k = 0; k < keys->len; k++)
    {
      GPtrArray *list = g_hash_table_lookup (values, keys->pdata[k]);

      g_string_append_printf (out, "%s.%s = ", prefix, (char *) keys->pdata[k]);
      if (list->len == 1)
        append_toml_string (out, list->pdata[0]);
      else
        {
          g_ptr_array_add (list, NULL);
          append_toml_strings (out, (const char * const *) list->pdata);
        }
      g_string_append_c (out, '\n');
    }
  return TRUE;
}

/* The http sink's options, as upstream's append_http_sink_toml(). */
static gboolean
append_sink_options (GString      *out,
                     SendOptions  *o,
                     GError      **error)
{
  if (o->log_full_response)
    g_string_append (out, "sinks.http.log_full_response_on_error = true\n");
  if (o->url == NULL)
    return TRUE;
  g_string_append (out, "sinks.debug.enabled = false\nsinks.http.enabled = true\n"
                        "sinks.http.queue_capacity = 0\nsinks.http.destination = ");
  append_toml_string (out, o->url);
  g_string_append_c (out, '\n');
  if (o->retries != NULL)
    {
      g_string_append (out, "sinks.http.total_duration_of_retries = ");
      append_toml_string (out, o->retries);
      g_string_append_c (out, '\n');
    }
  for (guint i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
    {
      const char *colon = strchr (o->headers[i], ':');
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      if (colon == NULL || colon == o->headers[i])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--header “%s”: expected “Name: value”"), o->headers[i]);
          return FALSE;
        }
      name = g_strstrip (g_strndup (o->headers[i], colon - o->headers[i]));
      value = g_strstrip (g_strdup (colon + 1));
      g_string_append (out, "sinks.http.headers.");
      append_toml_string (out, name);
      g_string_append (out, " = { type = \"static\", value = ");
      append_toml_string (out, value);
      g_string_append (out, " }\n");
    }
  return TRUE;
}

/* The options as a TOML layer, as upstream's convert_args_into_toml() and
 * convert_run_args_into_toml(). */
static char *
options_to_toml (SendOptions  *o,
                 GError      **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *prefix = NULL;

  if (o->run == NULL)
    {
      const char *parser = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (input_parsers); i++)
        if (g_str_equal (o->parser, input_parsers[i][0]))
          parser = input_parsers[i][1];
      if (parser == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--input-parser “%s”: expected auto, json, jsonl, csv-row, xml, "
                         "yaml, tap, text or text-line"), o->parser);
          return NULL;
        }
      g_string_append_printf (out, "sources.cli.extractor.parser = \"%s\"\n", parser);
      if (!append_metadata (out, "sources.cli.extractor.metadata", o->metadata, FALSE, error))
        return NULL;
    }
  else
    {
      if (!check_bare_key ("--run", o->run, error))
        return NULL;
      g_string_append_printf (out, "sources.%s.enabled = true\nsources.cli.enabled = false\n",
                              o->run);
      prefix = g_strdup_printf ("sources.%s.extractor", o->run);
      if (o->command != NULL && o->command[0] != NULL)
        {
          g_string_append_printf (out, "%s.command = ", prefix);
          append_toml_strings (out, (const char * const *) o->command);
          g_string_append_c (out, '\n');
        }
      if (o->data != NULL)
        {
          g_string_append_printf (out, "%s.data_globs = ", prefix);
          append_toml_strings (out, (const char * const *) o->data);
          g_string_append_c (out, '\n');
        }
      if (o->no_data)
        g_string_append_printf (out, "%s.no_data = true\n", prefix);
      if (o->fail_on_collector_error)
        g_string_append_printf (out, "%s.fail_on_collector_error = true\n", prefix);
      {
        g_autofree char *overrides = g_strconcat (prefix, ".metadata.run.overrides", NULL);

        if (!append_metadata (out, overrides, o->metadata, TRUE, error))
          return NULL;
      }
    }
  if (!append_sink_options (out, o, error))
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
send_options_clear (SendOptions *o)
{
  g_free (o->url);
  g_free (o->retries);
  g_free (o->parser);
  g_free (o->run);
  g_strfreev (o->headers);
  g_strfreev (o->data);
  g_strfreev (o->metadata);
  g_strfreev (o->command);
}

static gboolean
run_error (const char  *name,
           GError     **error)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("--run “%s”: the configuration has no [sources.%s] of type “subprocess” "
                 "(upstream's run types are in its send.base.toml: give it with --config)"),
               name, name);
  return FALSE;
}

/* Before the options layer would declare it: --run names a source of the
 * configuration. */
static gboolean
check_run_declared (CdvizConfig  *config,
                    const char   *name,
                    GError      **error)
{
  JsonObject *sources = cdviz_config_get_section (config, "sources");
  JsonNode *source;

  if (name == NULL)
    return TRUE;
  if (g_str_equal (name, "cli"))
    return run_error (name, error);
  source = sources != NULL ? json_object_get_member (sources, name) : NULL;
  if (source == NULL || !JSON_NODE_HOLDS_OBJECT (source) ||
      !json_object_has_member (json_node_get_object (source), "extractor"))
    return run_error (name, error);
  return TRUE;
}

typedef struct {
  GMainLoop *loop;
  CdvizSource *source;     /* NULL until the pipeline started */
  gboolean signalled;      /* SIGINT or SIGTERM came */
  guint sigint, sigterm;
} RunWait;

static gboolean
quit_run_wait (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
on_exit_status (GObject    *source,
                GParamSpec *pspec,
                RunWait    *wait)
{
  /* The source's worker thread: a source attached to this thread's
   * context cannot be missed, whenever it comes. */
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, quit_run_wait,
                              g_main_loop_ref (wait->loop),
                              (GDestroyNotify) g_main_loop_unref);
}

/* As upstream's cancelled run: the command is killed, its finished event
 * (exit code 130) still sent. */
static gboolean
on_run_signal (gpointer data)
{
  RunWait *wait = data;

  wait->signalled = TRUE;
  if (wait->source != NULL)
    g_signal_emit_by_name (wait->source, "kill-command");
  return G_SOURCE_CONTINUE;
}

/* Before the pipeline starts, which starts the command: a signal that
 * comes as soon as the command runs must kill it too (it used to kill
 * this process only, leaving the command running and nothing reported). */
static void
run_wait_catch_signals (RunWait *wait)
{
  wait->sigint = g_unix_signal_add (SIGINT, on_run_signal, wait);
  wait->sigterm = g_unix_signal_add (SIGTERM, on_run_signal, wait);
}

static void
run_wait_release_signals (RunWait *wait)
{
  if (wait->sigint != 0)
    g_source_remove (wait->sigint);
  if (wait->sigterm != 0)
    g_source_remove (wait->sigterm);
  wait->sigint = wait->sigterm = 0;
}

/* --run: waits for the subprocess source's command; its exit status. */
static int
wait_run (CdvizPipeline  *pipeline,
          const char     *name,
          RunWait        *wait,
          GError        **error)
{
  CdvizSource *source = cdviz_pipeline_get_source (pipeline, name);
  int status = -1;
  gulong handler;

  if (source == NULL ||
      g_object_class_find_property (G_OBJECT_GET_CLASS (source), "exit-status") == NULL)
    {
      run_error (name, error);
      return -1;
    }
  wait->loop = g_main_loop_new (NULL, FALSE);
  wait->source = source;
  handler = g_signal_connect (source, "notify::exit-status", G_CALLBACK (on_exit_status), wait);
  /* A signal dispatched while the pipeline started. */
  if (wait->signalled)
    g_signal_emit_by_name (source, "kill-command");
  g_object_get (source, "exit-status", &status, NULL);
  while (status < 0)
    {
      g_main_loop_run (wait->loop);
      g_object_get (source, "exit-status", &status, NULL);
    }
  g_signal_handler_disconnect (source, handler);
  g_clear_pointer (&wait->loop, g_main_loop_unref);
  wait->source = NULL;
  return status;
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
  g_auto(GStrv) sets = NULL, plugin_dirs = NULL, config_headers = NULL;
  g_autofree char *config_file = NULL, *directory = NULL;
  gboolean verbose = FALSE;
  SendOptions o = { 0 };
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &o.data, N_("An item to send: text, @FILE or @- (standard input); with --run, a glob of result files; repeatable"), N_("DATA") },
    { "input-parser", 0, 0, G_OPTION_ARG_STRING, &o.parser, N_("How --data is parsed: auto (by @FILE's extension, else JSON), json, jsonl, csv-row, xml, yaml, tap, text or text-line"), N_("PARSER") },
    { "url", 'u', 0, G_OPTION_ARG_STRING, &o.url, N_("POST the items to URL (the http sink); without it they are printed (the debug sink)"), N_("URL") },
    { "header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &o.headers, N_("With --url, a header “Name: value”; repeatable"), N_("HEADER") },
    { "total-duration-of-retries", 0, 0, G_OPTION_ARG_STRING, &o.retries, N_("With --url, how long an item may be retried (default 30s)"), N_("DURATION") },
    { "log-full-response-on-error", 0, 0, G_OPTION_ARG_NONE, &o.log_full_response, N_("Log the response's headers and body when the http sink is refused"), NULL },
    { "metadata", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.metadata, N_("Set metadata KEY (with --run: metadata.run.overrides.KEY); repeatable"), N_("KEY=VALUE") },
    { "run", 0, 0, G_OPTION_ARG_STRING, &o.run, N_("Run the command given after -- with the subprocess source sources.NAME, sending events before and after it"), N_("NAME") },
    { "no-data", 0, 0, G_OPTION_ARG_NONE, &o.no_data, N_("With --run, read no result file: the exit code only"), NULL },
    { "fail-on-collector-error", 0, 0, G_OPTION_ARG_NONE, &o.fail_on_collector_error, N_("With --run, fail when the events cannot be sent (default: warn and exit with the command's status)"), NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, N_("Configuration file (TOML) or http(s) URL over the built-in send configuration"), N_("FILE") },
    { "config-header", 0, 0, G_OPTION_ARG_STRING_ARRAY, &config_headers, N_("With a --config URL, a request header “Name: value”; repeatable"), N_("HEADER") },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, N_("Override configuration with a TOML fragment, or KEY=VALUE as cdviz-collector; repeatable"), N_("TOML") },
    { "directory", 'C', 0, G_OPTION_ARG_FILENAME, &directory, N_("Change to DIR first (relative paths are read from there)"), N_("DIR") },
    { "plugin-dir", 'p', 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_dirs, N_("Also load plugins from DIR"), N_("DIR") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("[-- COMMAND…] — send events to a collector"));
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = cdviz_config_new ();
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autofree char *layer = NULL;
  guint failures = 0;
  int status = 0, n_options = argc;
  RunWait run_wait = { 0 };

  /* What follows -- is the command of --run, as upstream's `last = true`. */
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        n_options = i;
        o.command = g_strdupv (argv + i + 1);
        break;
      }
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &n_options, &argv, &error))
    goto usage;
  if (n_options > 1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("unexpected argument “%s”"), argv[1]);
      goto usage;
    }
  if (o.parser == NULL)
    o.parser = g_strdup ("auto");
  if (o.run == NULL && o.data == NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("nothing to send: give --data, or --run NAME -- COMMAND…"));
      goto usage;
    }
  if (o.run == NULL && (o.command != NULL || o.no_data || o.fail_on_collector_error))
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("a command after --, --no-data and --fail-on-collector-error "
                             "go with --run NAME"));
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

  cdviz_registry_load_plugins (cdviz_registry_get_default (),
                               (const char * const *) plugin_dirs);
  layer = options_to_toml (&o, &error);
  if (layer == NULL ||
      !cdviz_send_command_add_base (config, &error) ||
      (config_file != NULL &&
       !cdviz_config_add_location (config, config_file, (const char * const *) config_headers,
                                   &error)) ||
      !cdviz_config_add_environment (config, NULL, &error) ||
      !check_run_declared (config, o.run, &error) ||
      !cdviz_config_add_string (config, layer, "send options", &error))
    goto usage;
  for (guint i = 0; sets != NULL && sets[i] != NULL; i++)
    if (!cdviz_cli_add_set (config, sets[i], &error))
      goto usage;
  pipeline = cdviz_pipeline_new (config, NULL, &error);
  if (o.run != NULL && pipeline != NULL)
    run_wait_catch_signals (&run_wait);
  if (pipeline == NULL || !cdviz_pipeline_start (pipeline, &error))
    goto usage;
  g_signal_connect (pipeline, "sink-failed", G_CALLBACK (on_failed), &failures);
  g_signal_connect (pipeline, "rejected", G_CALLBACK (on_failed), &failures);

  if (o.run != NULL)
    status = wait_run (pipeline, o.run, &run_wait, &error);
  else
    {
      CdvizSource *cli = cdviz_pipeline_get_source (pipeline, "cli");

      for (guint i = 0; error == NULL && o.data[i] != NULL; i++)
        {
          g_autofree char *why = NULL;

          if (cli == NULL || g_signal_lookup ("push-data", G_OBJECT_TYPE (cli)) == 0)
            g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                                 _("the configuration has no enabled [sources.cli] of type "
                                   "“cli”"));
          else if (g_signal_emit_by_name (cli, "push-data", o.data[i], &why), why != NULL)
            g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _("--data “%s”: %s"), o.data[i], why);
        }
    }
  cdviz_pipeline_flush (pipeline);
  cdviz_pipeline_stop (pipeline);
  /* The pipeline's notices (sink-failed, rejected) come through this
   * thread's main context. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (error != NULL)
    goto usage;
  if (failures > 0)
    {
      g_printerr (_("cdviz-pipeline send: %u events not accepted\n"), failures);
      if (o.run == NULL || o.fail_on_collector_error)
        status = 1;
    }
  /* Caught until the events are sent: a second signal does not kill this
   * process before the command's finished event went out. */
  run_wait_release_signals (&run_wait);
  send_options_clear (&o);
  /* As upstream: 1 when the command failed, whatever its exit code. */
  return status == 0 ? 0 : 1;

usage:
  run_wait_release_signals (&run_wait);
  send_options_clear (&o);
  g_printerr (_("cdviz-pipeline send: %s\n"), error->message);
  return 2;
}
