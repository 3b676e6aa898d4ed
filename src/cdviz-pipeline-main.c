/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <glib/gi18n.h>
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#define CDVIZ_COMPILATION
#include "cdviz.h"
#include "cdviz-send-command.h"
#include "cdviz-transform-command.h"
#ifdef HAVE_VRL
#include "cdviz-vrl-cli.h"
#endif

/* The cdviz-pipeline program: `connect` (the default) runs a pipeline until
 * SIGINT or SIGTERM; `config --check` validates and prints the merged
 * configuration. */

static char *opt_config;
static char **opt_config_headers;
static char **opt_plugin_dirs;
static char **opt_sets;
static gboolean opt_version;
static gboolean opt_verbose;
static gboolean opt_quiet;
static gboolean opt_check;
static gboolean opt_describe;
static char *opt_directory;
static gboolean opt_disable_otel;

static const GOptionEntry common_entries[] = {
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
    N_("Configuration file (TOML, cdviz-collector layout) or http(s) URL; without it the "
       "built-in default runs"),
    N_("FILE") },
  { "config-header", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_config_headers,
    N_("With a --config URL, a request header “Name: value”; repeatable"), N_("HEADER") },
  { "plugin-dir", 'p', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_plugin_dirs,
    N_("Also load plugins from DIR (searched recursively, before the system directory); repeatable"),
    N_("DIR") },
  { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &opt_sets,
    N_("Override configuration with a TOML fragment, e.g. 'http.port = 9000'; repeatable"),
    N_("TOML") },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
    N_("Log debug messages of every component"), NULL },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
    N_("Log only warnings and errors"), NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
    N_("Print the version and exit"), NULL },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check,
    N_("With “config”: validate, print the merged configuration and exit"), NULL },
  { "describe", 0, 0, G_OPTION_ARG_NONE, &opt_describe,
    N_("With “config”: describe every section, component type and key (Markdown) and exit"),
    NULL },
  { "directory", 'C', 0, G_OPTION_ARG_FILENAME, &opt_directory,
    N_("Change to DIR first (relative paths of the command line and of the configuration)"),
    N_("DIR") },
  { "disable-otel", 0, 0, G_OPTION_ARG_NONE, &opt_disable_otel,
    N_("Accepted for cdviz-collector compatibility; no effect (this program exports no "
       "OpenTelemetry data)"), NULL },
  { NULL }
};

static gboolean quiet;

/* Whether @arg is an option of common_entries that takes a value in the
 * next argument (not written “--name=value” or “-cVALUE”). */
static gboolean
option_takes_value (const char *arg)
{
  for (const GOptionEntry *e = common_entries; e->long_name != NULL; e++)
    {
      if (e->arg == G_OPTION_ARG_NONE)
        continue;
      if (g_str_has_prefix (arg, "--") && g_str_equal (arg + 2, e->long_name))
        return TRUE;
      if (arg[0] == '-' && arg[1] == e->short_name && arg[1] != '\0' && arg[2] == '\0')
        return TRUE;
    }
  return FALSE;
}

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  if (quiet && (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gboolean
on_signal (gpointer data)
{
  GMainLoop *loop = data;

  g_message (_("Shutting down"));
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

static CdvizConfig *
load_config (GError **error)
{
  g_autoptr(CdvizConfig) config = cdviz_config_new ();

  if (opt_config != NULL)
    {
      if (!cdviz_config_add_location (config, opt_config,
                                      (const char * const *) opt_config_headers, error))
        return NULL;
    }
  else if (!cdviz_config_add_default (config, error))
    return NULL;

  if (!cdviz_config_add_environment (config, NULL, error))
    return NULL;

  for (guint i = 0; opt_sets != NULL && opt_sets[i] != NULL; i++)
    if (!cdviz_config_add_string (config, opt_sets[i], "--set", error))
      return NULL;

  return g_steal_pointer (&config);
}

static int
run_check (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = NULL;
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autofree char *text = NULL;

  config = load_config (&error);
  if (config != NULL)
    {
      /* Remote files that cannot be reached only warn: a check needs no
       * network (cached copies are checked). */
      cdviz_config_set_remote_optional (config, TRUE);
      pipeline = cdviz_pipeline_new (config, NULL, &error);
    }
  if (pipeline != NULL && !cdviz_pipeline_check (pipeline, &error))
    g_clear_object (&pipeline);

  if (pipeline == NULL)
    {
      g_printerr (_("cdviz-pipeline: %s\n"), error->message);
      return 1;
    }

  text = cdviz_config_to_toml (config);
  g_print ("%s", text);
  g_printerr (_("cdviz-pipeline: configuration OK\n"));
  return 0;
}

static int
run_describe (void)
{
  g_autofree char *text = cdviz_registry_describe_configuration (NULL);

  g_print ("%s", text);
  return 0;
}

static int
run_connect (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = NULL;
  g_autoptr(CdvizPipeline) pipeline = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  CdvizHttpServer *http;
  guint sigint, sigterm;

  /* Signals are caught from the start: a SIGTERM that arrives while the
   * pipeline starts still shuts it down cleanly. */
  loop = g_main_loop_new (NULL, FALSE);
  sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);

  config = load_config (&error);
  if (config != NULL)
    pipeline = cdviz_pipeline_new (config, NULL, &error);
  if (pipeline == NULL || !cdviz_pipeline_start (pipeline, &error))
    {
      g_printerr (_("cdviz-pipeline: %s\n"), error->message);
      g_source_remove (sigint);
      g_source_remove (sigterm);
      return 1;
    }

  http = cdviz_pipeline_get_http_server (pipeline);
  g_message (_("Listening on %s://%s:%u"), cdviz_http_server_is_tls (http) ? "https" : "http",
             cdviz_http_server_get_host (http),
             cdviz_http_server_get_port (http));

  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  cdviz_pipeline_stop (pipeline);
  g_message (_("Stopped"));
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *command = "connect";

  setlocale (LC_ALL, "");
  g_set_prgname ("cdviz-pipeline");
#ifdef ENABLE_NLS
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
#endif

  /* Tools with their own options. */
  if (argc > 1 && g_str_equal (argv[1], "send"))
    return cdviz_send_command_run (argc - 1, argv + 1);
  if (argc > 1 && g_str_equal (argv[1], "transform"))
    return cdviz_transform_command_run (argc - 1, argv + 1);
#ifdef HAVE_VRL
  if (argc > 1 && g_str_equal (argv[1], "vrl"))
    return cdviz_vrl_cli_run (argc - 1, argv + 1);
#endif

  /* As cdviz-collector's, global options may come before or after the
   * command: the first word that is not an option (nor an option's value)
   * names it. */
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (argv[i][0] == '-')
        {
          if (option_takes_value (argv[i]))
            i++;
          continue;
        }
      if (g_str_equal (argv[i], "connect") || g_str_equal (argv[i], "config") ||
          g_str_equal (argv[i], "help"))
        {
          command = argv[i];
          memmove (&argv[i], &argv[i + 1], (argc - i - 1) * sizeof (char *));
          argv[--argc] = NULL;
        }
      break;
    }

  context = g_option_context_new (_("[connect|config --check|config --describe] — a CDEvents pipeline"));
  g_option_context_set_summary (context,
    _("Receives CDEvents (webhooks), transforms them and delivers them (Server-Sent\n"
      "Events, stdout…). Reads cdviz-collector.toml configuration files.\n"
      "\n"
      "Commands:\n"
      "  connect            run the pipeline until SIGINT/SIGTERM (the default)\n"
      "  config --check     validate and print the merged configuration\n"
      "  config --describe  describe every configuration key (Markdown)\n"
      "  help               print this help\n"
      "  transform          run files through transformers (see transform --help)\n"
      "  vrl                run a VRL program on one event (see vrl --help)"));
  g_option_context_set_description (context,
    _("Configuration layers, lowest first: built-in defaults, --config FILE,\n"
      "CDVIZ_COLLECTOR__SECTION__KEY=value environment variables, --set.\n"
      "--config may also be given as CDVIZ_COLLECTOR_CONFIG=FILE. Options go before\n"
      "or after the command, as with cdviz-collector.\n"
      "Debug logs: -v, or G_MESSAGES_DEBUG=cdviz-sse (one log domain per plugin)."));
  g_option_context_add_main_entries (context, common_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);

  if (g_str_equal (command, "help"))
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_print ("%s", help);
      return 0;
    }

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("cdviz-pipeline: %s\n"), error->message);
      g_printerr (_("Try “cdviz-pipeline --help”.\n"));
      return 1;
    }
  if (argc > 1)
    {
      g_printerr (_("cdviz-pipeline: unexpected argument “%s”\n"), argv[1]);
      g_printerr (_("Try “cdviz-pipeline --help”.\n"));
      return 1;
    }

  if (opt_version)
    {
      g_print ("cdviz-pipeline %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (opt_directory != NULL && g_chdir (opt_directory) != 0)
    {
      int saved_errno = errno;

      g_printerr (_("cdviz-pipeline: cannot change to directory %s: %s\n"), opt_directory,
                  g_strerror (saved_errno));
      return 1;
    }
  /* cdviz-collector's variable for --config. */
  if (opt_config == NULL && g_getenv ("CDVIZ_COLLECTOR_CONFIG") != NULL &&
      *g_getenv ("CDVIZ_COLLECTOR_CONFIG") != '\0')
    opt_config = g_strdup (g_getenv ("CDVIZ_COLLECTOR_CONFIG"));

  if (opt_verbose && opt_quiet)
    {
      g_printerr (_("cdviz-pipeline: --verbose and --quiet exclude each other\n"));
      return 1;
    }
  quiet = opt_quiet;
  if (opt_verbose)
    g_log_set_debug_enabled (TRUE);
  /* Standard output carries data (the debug sink's events, the merged
   * configuration): every log line goes to standard error. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);

  if (g_str_equal (command, "config") && opt_check == opt_describe)
    {
      g_printerr (_("cdviz-pipeline: “config” needs --check or --describe\n"));
      return 1;
    }
  if ((opt_check || opt_describe) && !g_str_equal (command, "config"))
    {
      g_printerr (_("cdviz-pipeline: --check and --describe go with the “config” command\n"));
      return 1;
    }

  cdviz_registry_load_plugins (cdviz_registry_get_default (),
                               (const char * const *) opt_plugin_dirs);

  if (g_str_equal (command, "config") && opt_describe)
    return run_describe ();
  if (g_str_equal (command, "config"))
    return run_check ();
  return run_connect ();
}
