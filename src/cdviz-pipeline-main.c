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
#include "cdviz-cli-set.h"
#include "cdviz-rust-log.h"
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
static gboolean opt_print;
static gboolean opt_print_raw;
static char *opt_for;
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
    N_("Override configuration with a TOML fragment, e.g. 'http.port = 9000', or "
       "KEY=VALUE as cdviz-collector (true/false, numbers, else a string); repeatable"),
    N_("TOML") },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
    N_("Log debug messages of every component"), NULL },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
    N_("Log only warnings and errors"), NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
    N_("Print the version and exit"), NULL },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check,
    N_("With “config”: validate, print the merged configuration and exit"), NULL },
  { "print", 0, 0, G_OPTION_ARG_NONE, &opt_print,
    N_("With “config”: print the merged configuration (`_file` keys read) without "
       "validating it"), NULL },
  { "print-raw", 0, 0, G_OPTION_ARG_NONE, &opt_print_raw,
    N_("With “config”: print the merged configuration as its layers wrote it"), NULL },
  { "for", 0, 0, G_OPTION_ARG_STRING, &opt_for,
    N_("With “config”: the base configuration of COMMAND (connect, send or transform; "
       "default connect)"), N_("COMMAND") },
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
/* (nullable): with RUST_LOG, the log domains whose debug lines are shown,
 * matched whole (GLib's G_MESSAGES_DEBUG matches substrings: `cdviz-sse`
 * would show `cdviz` too) */
static char **debug_domains;

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
  if (debug_domains != NULL && (level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) &&
      !g_strv_contains ((const char * const *) debug_domains, "all"))
    {
      const char *domain = NULL;

      for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
          domain = fields[i].value;
      if (domain == NULL || !g_strv_contains ((const char * const *) debug_domains, domain))
        return G_LOG_WRITER_HANDLED;
    }
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
  gboolean for_send = g_strcmp0 (opt_for, "send") == 0;

  /* send's base has no quick-start: without a file, only its own layer */
  if (for_send && !cdviz_send_command_add_base (config, error))
    return NULL;
  if (opt_config != NULL)
    {
      if (!cdviz_config_add_location (config, opt_config,
                                      (const char * const *) opt_config_headers, error))
        return NULL;
    }
  else if (!for_send && !cdviz_config_add_default (config, error))
    return NULL;

  if (!cdviz_config_add_environment (config, NULL, error))
    return NULL;

  for (guint i = 0; opt_sets != NULL && opt_sets[i] != NULL; i++)
    if (!cdviz_cli_add_set (config, opt_sets[i], error))
      return NULL;

  return g_steal_pointer (&config);
}

/* Prints a configuration error, one “cdviz-pipeline: ” line per error when
 * it holds several (%CDVIZ_CONFIG_ERROR_SEVERAL), then how many. */
static void
print_error (const GError *error)
{
  g_auto(GStrv) lines = NULL;
  guint count = 0;

  if (!g_error_matches (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_SEVERAL))
    {
      g_printerr (_("cdviz-pipeline: %s\n"), error->message);
      return;
    }
  lines = g_strsplit (error->message, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == ' ')
        g_printerr ("%s\n", lines[i]);
      else
        {
          g_printerr (_("cdviz-pipeline: %s\n"), lines[i]);
          count++;
        }
    }
  if (opt_config != NULL)
    g_printerr (g_dngettext (GETTEXT_PACKAGE, "cdviz-pipeline: %u error in %s\n",
                             "cdviz-pipeline: %u errors in %s\n", count), count, opt_config);
  else
    g_printerr (g_dngettext (GETTEXT_PACKAGE, "cdviz-pipeline: %u error in the configuration\n",
                             "cdviz-pipeline: %u errors in the configuration\n", count), count);
}

static void
print_config (CdvizConfig *config)
{
  g_autofree char *text = cdviz_config_to_toml (config);

  g_print ("%s", text);
}

/* `config --print-raw`, `--print` and `--check`, in that order, as
 * cdviz-collector's; --check prints the configuration too unless one of the
 * others did. */
static int
run_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizConfig) config = NULL;
  g_autoptr(CdvizPipeline) pipeline = NULL;

  config = load_config (&error);
  if (config == NULL)
    {
      print_error (error);
      return 1;
    }
  /* Remote files that cannot be reached only warn: a check needs no
   * network (cached copies are checked). */
  cdviz_config_set_remote_optional (config, TRUE);
  if (opt_print_raw)
    print_config (config);
  if (opt_print)
    {
      if (!cdviz_config_resolve_files (config, &error))
        {
          print_error (error);
          return 1;
        }
      print_config (config);
    }
  if (!opt_check)
    return 0;

  pipeline = cdviz_pipeline_new (config, NULL, &error);
  if (pipeline != NULL && !cdviz_pipeline_check (pipeline, &error))
    g_clear_object (&pipeline);
  if (pipeline == NULL)
    {
      print_error (error);
      return 1;
    }

  if (!opt_print && !opt_print_raw)
    print_config (config);
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
      print_error (error);
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

  context = g_option_context_new (_("[connect|send|config --check|config --describe] — a CDEvents pipeline"));
  g_option_context_set_summary (context,
    _("Receives CDEvents (webhooks), transforms them and delivers them (Server-Sent\n"
      "Events, stdout…). Reads cdviz-collector.toml configuration files.\n"
      "\n"
      "Commands:\n"
      "  connect            run the pipeline until SIGINT/SIGTERM (the default)\n"
      "  config --check     validate and print the merged configuration\n"
      "  config --print     print the merged configuration (--print-raw: as written;\n"
      "                     --for send: over send's base)\n"
      "  config --describe  describe every configuration key (Markdown)\n"
      "  help               print this help\n"
      "  send               send events to a webhook or stdout (see send --help)\n"
      "  transform          run files through transformers (see transform --help)\n"
      "  vrl                run a VRL program on one event (see vrl --help)"));
  g_option_context_set_description (context,
    _("Configuration layers, lowest first: built-in defaults, --config FILE,\n"
      "CDVIZ_COLLECTOR__SECTION__KEY=value environment variables, --set.\n"
      "--config may also be given as CDVIZ_COLLECTOR_CONFIG=FILE. Options go before\n"
      "or after the command, as with cdviz-collector.\n"
      "Debug logs: -v, or G_MESSAGES_DEBUG=cdviz-sse (one log domain per plugin);\n"
      "cdviz-collector's RUST_LOG=cdviz_collector::sinks::sse=debug works too."));
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
  /* cdviz-collector's RUST_LOG, as log domains; G_MESSAGES_DEBUG, the
   * native way, keeps its own. Set before any thread starts. */
  if (g_getenv ("RUST_LOG") != NULL && !opt_verbose && !opt_quiet)
    {
      g_autofree char *domains = cdviz_rust_log_domains (g_getenv ("RUST_LOG"), &quiet);
      const char *native = g_getenv ("G_MESSAGES_DEBUG");

      if (domains != NULL)
        {
          g_autofree char *both = g_strjoin (" ", domains, native, NULL);

          g_setenv ("G_MESSAGES_DEBUG", both, TRUE);
          debug_domains = g_strsplit_set (both, " ,", -1);
        }
    }
  /* Standard output carries data (the debug sink's events, the merged
   * configuration): every log line goes to standard error. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);

  if (g_str_equal (command, "config") &&
      (opt_describe ? opt_check || opt_print || opt_print_raw || opt_for != NULL
                    : !opt_check && !opt_print && !opt_print_raw))
    {
      g_printerr (_("cdviz-pipeline: “config” needs --check, --print or --print-raw "
                    "(with --for COMMAND), or --describe alone\n"));
      return 1;
    }
  if ((opt_check || opt_describe || opt_print || opt_print_raw || opt_for != NULL) &&
      !g_str_equal (command, "config"))
    {
      g_printerr (_("cdviz-pipeline: --check, --print, --print-raw, --for and --describe go "
                    "with the “config” command\n"));
      return 1;
    }
  if (opt_for != NULL && !g_str_equal (opt_for, "connect") && !g_str_equal (opt_for, "send") &&
      !g_str_equal (opt_for, "transform"))
    {
      g_printerr (_("cdviz-pipeline: --for “%s”: expected connect, send or transform\n"),
                  opt_for);
      return 1;
    }

  cdviz_registry_load_plugins (cdviz_registry_get_default (),
                               (const char * const *) opt_plugin_dirs);

  if (g_str_equal (command, "config") && opt_describe)
    return run_describe ();
  if (g_str_equal (command, "config"))
    return run_config ();
  return run_connect ();
}
