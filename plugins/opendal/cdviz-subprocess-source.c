/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "cdviz-file-parser.h"
#include "cdviz-files-worker.h"
#include "cdviz-path-patterns.h"
#include "cdviz-subprocess-source.h"

/* `[sources.NAME.extractor] type = "subprocess"`, cdviz-collector's
 * `src/sources/subprocess/`, what `send --run NAME -- COMMAND…` enables:
 * at start, a message with an empty body and `metadata.run.status =
 * "started"` (and `started_at`); then `command` runs with this process's
 * standard input and outputs, without the CDVIZ_COLLECTOR__… variables;
 * then, unless `no_data`, the files under the working directory matching
 * `data_globs` are parsed with `parser`; a last message carries them as an
 * array body, with `metadata.run.status = "finished"`, `exit_code` (1 when
 * killed by a signal, 130 when the pipeline stopped first), `started_at`
 * and `finished_at`. The read-only property `exit-status` is the child's
 * exit code once the last message is pushed (-1 before), notified from
 * the worker thread: `send` waits on it; the action signal `kill-command`
 * kills the command as a stop would (exit code 130), the finished message
 * still pushed: `send` emits it on SIGINT or SIGTERM, as upstream cancels
 * its run. */

struct _CdvizSubprocessSource
{
  GObject parent_instance;

  char **command;
  char **data_globs;
  gboolean no_data;
  char *parser_name;
  JsonNode *metadata;
  gboolean fail_on_collector_error;
  CdvizFileParser parser;   /* by init */

  gint exit_status;         /* atomic */
  GCancellable *cancellable;
  CdvizFilesWorker worker;
};

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizSubprocessSource, cdviz_subprocess_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_COMMAND,
  PROP_DATA_GLOBS,
  PROP_NO_DATA,
  PROP_PARSER,
  PROP_METADATA,
  PROP_FAIL_ON_COLLECTOR_ERROR,
  PROP_EXIT_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_KILL_COMMAND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static char *
timestamp_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format_iso8601 (now);
}

/* The configured metadata with `run` an object holding @status. */
static JsonObject *
run_metadata (CdvizSubprocessSource *self,
              const char            *status,
              JsonObject           **run)
{
  JsonObject *object = cdviz_message_build_metadata (self->metadata);
  JsonNode *node = json_object_get_member (object, "run");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    json_object_set_object_member (object, "run", json_object_new ());
  *run = json_object_get_object_member (object, "run");
  json_object_set_string_member (*run, "status", status);
  return object;
}

static gboolean
push (CdvizSubprocessSource *self,
      JsonNode              *body,
      JsonObject            *metadata)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), metadata);
  g_autoptr(CdvizMessage) message = cdviz_message_new_raw (body, node, NULL);

  return cdviz_files_worker_push (&self->worker, message);
}

static char **
child_envment (void)
{
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();

  for (guint i = 0; env[i] != NULL; i++)
    if (!g_str_has_prefix (env[i], "CDVIZ_COLLECTOR__"))
      g_strv_builder_add (kept, env[i]);
  return g_strv_builder_end (kept);
}

static void
kill_child (GCancellable *cancellable,
            GSubprocess  *child)
{
  g_subprocess_force_exit (child);
}

/* The child's exit code; 1 when it could not run or died of a signal, 130
 * when the source stopped first (the child is killed). */
static int
run_child (CdvizSubprocessSource *self)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = child_envment ();
  gulong handler;
  gboolean waited;

  g_subprocess_launcher_set_environ (launcher, env);
  child = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->command, &error);
  if (child == NULL)
    {
      g_warning ("source '%s': cannot run “%s”: %s", self->worker.name, self->command[0],
                 error->message);
      return 1;
    }
  /* Not g_subprocess_wait (child, cancellable): GLib 2.74 connects to
   * "cancelled" and misses a cancellable cancelled before the wait began,
   * so a kill-command (SIGTERM to send --run) that came as the command
   * started was lost and send waited for the command. g_cancellable_connect()
   * kills at once when it is cancelled already. */
  handler = g_cancellable_connect (self->cancellable, G_CALLBACK (kill_child), child, NULL);
  waited = g_subprocess_wait (child, NULL, &error);
  g_cancellable_disconnect (self->cancellable, handler);
  if (g_cancellable_is_cancelled (self->cancellable))
    return 130;
  if (!waited)
    {
      g_warning ("source '%s': cannot wait for “%s”: %s", self->worker.name, self->command[0],
                 error->message);
      g_subprocess_force_exit (child);
      return 1;
    }
  if (g_subprocess_get_if_exited (child))
    return g_subprocess_get_exit_status (child);
  return 1;
}

static void
collect (JsonNode *body,
         gpointer  user_data)
{
  json_array_add_element (user_data, json_node_copy (body));
}

static void
add_file (CdvizSubprocessSource *self,
          const char            *path,
          JsonArray             *results)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonArray) parsed = json_array_new ();
  JsonArray *items;
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint skipped = 0;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      g_warning ("source '%s': cannot read result file: %s", self->worker.name, error->message);
      return;
    }
  if (!cdviz_file_parser_parse (self->parser, path, contents, length, FALSE, collect, parsed,
                                &skipped, &error))
    {
      g_warning ("source '%s': result file skipped: %s", self->worker.name, error->message);
      return;
    }
  /* A file parsed to an array adds its elements, as upstream's. */
  items = parsed;
  if (json_array_get_length (parsed) == 1 &&
      JSON_NODE_HOLDS_ARRAY (json_array_get_element (parsed, 0)) &&
      !cdviz_file_parser_is_records (self->parser, path, FALSE))
    items = json_array_get_array_element (parsed, 0);
  for (guint i = 0; i < json_array_get_length (items); i++)
    json_array_add_element (results, json_node_copy (json_array_get_element (items, i)));
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Files under @dir (relative, "" for the working directory) in name order. */
static void
walk (const char        *dir,
      CdvizPathPatterns *patterns,
      GPtrArray         *out)
{
  g_autoptr(GDir) handle = g_dir_open (*dir != '\0' ? dir : ".", 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = *dir != '\0' ? g_build_filename (dir, names->pdata[i], NULL)
                                           : g_strdup (names->pdata[i]);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK))
            walk (path, patterns, out);
        }
      else if (cdviz_path_patterns_accept (patterns, path))
        g_ptr_array_add (out, g_steal_pointer (&path));
    }
}

static JsonNode *
collect_results (CdvizSubprocessSource *self)
{
  g_autoptr(JsonArray) results = json_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; !self->no_data && self->data_globs != NULL && self->data_globs[i]; i++)
    {
      const char *pattern = self->data_globs[i];
      g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

      if (g_path_is_absolute (pattern) && strpbrk (pattern, "*?[{") == NULL)
        {
          if (g_file_test (pattern, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (paths, g_strdup (pattern));
        }
      else
        {
          const char *one[] = { pattern, NULL };
          g_autoptr(GError) error = NULL;
          g_autoptr(CdvizPathPatterns) patterns = cdviz_path_patterns_new (one, &error);

          if (patterns == NULL)
            g_warning ("source '%s': glob “%s”: %s", self->worker.name, pattern,
                       error->message);
          else
            walk ("", patterns, paths);
        }
      for (guint j = 0; j < paths->len; j++)
        if (g_hash_table_add (seen, g_strdup (paths->pdata[j])))
          add_file (self, paths->pdata[j], results);
    }
  return json_node_init_array (json_node_alloc (), results);
}

static gpointer
worker_thread (gpointer data)
{
  CdvizSubprocessSource *self = data;
  g_autofree char *started_at = timestamp_now ();
  g_autofree char *finished_at = NULL;
  g_autoptr(JsonObject) nothing = json_object_new ();
  g_autoptr(JsonNode) empty = json_node_init_object (json_node_alloc (), nothing);
  g_autoptr(JsonNode) body = NULL;
  JsonObject *metadata, *run;
  int code;

  metadata = run_metadata (self, "started", &run);
  json_object_set_string_member (run, "started_at", started_at);
  if (!push (self, empty, metadata) && self->fail_on_collector_error)
    {
      json_object_unref (metadata);
      g_warning ("source '%s': the “started” message was not accepted; not running the "
                 "command (fail_on_collector_error)", self->worker.name);
      g_atomic_int_set (&self->exit_status, 1);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXIT_STATUS]);
      return NULL;
    }
  json_object_unref (metadata);

  code = run_child (self);
  body = collect_results (self);
  finished_at = timestamp_now ();
  metadata = run_metadata (self, "finished", &run);
  json_object_set_int_member (run, "exit_code", code);
  json_object_set_string_member (run, "started_at", started_at);
  json_object_set_string_member (run, "finished_at", finished_at);
  if (!push (self, body, metadata))
    g_warning ("source '%s': the “finished” message was not accepted", self->worker.name);
  json_object_unref (metadata);

  g_atomic_int_set (&self->exit_status, code);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXIT_STATUS]);
  return NULL;
}

static gboolean
subprocess_source_start (CdvizSource    *source,
                         CdvizPipeline  *pipeline,
                         GError        **error)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (source);

  cdviz_files_worker_set_name (&self->worker, pipeline, "subprocess");
  if (!cdviz_pipeline_is_checking (pipeline))
    {
      g_cancellable_reset (self->cancellable);
      cdviz_files_worker_start (&self->worker, pipeline, "cdviz-subprocess", worker_thread,
                                self);
    }
  return TRUE;
}

static void
subprocess_source_stop (CdvizSource *source)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (source);

  g_cancellable_cancel (self->cancellable);
  cdviz_files_worker_stop (&self->worker);
}

static void
subprocess_source_kill_command (CdvizSubprocessSource *self)
{
  g_cancellable_cancel (self->cancellable);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = subprocess_source_start;
  iface->stop_source = subprocess_source_stop;
}

static gboolean
subprocess_source_init_finish (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (initable);

  if (self->command == NULL || self->command[0] == NULL || self->command[0][0] == '\0')
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “command”: the subprocess source needs a command to run "
                             "(with send: --run NAME -- COMMAND…)"));
      return FALSE;
    }
  return cdviz_files_check_parser (self->parser_name, &self->parser,
                                   _("key “parser”: the “metadata” parser is for files of "
                                     "the opendal source, not for result files"),
                                   error) &&
         cdviz_files_check_metadata (&self->metadata, error);
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = subprocess_source_init_finish;
}

static void
cdviz_subprocess_source_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (object);

  switch (prop_id)
    {
    case PROP_COMMAND: g_value_set_boxed (value, self->command); break;
    case PROP_DATA_GLOBS: g_value_set_boxed (value, self->data_globs); break;
    case PROP_NO_DATA: g_value_set_boolean (value, self->no_data); break;
    case PROP_PARSER: g_value_set_string (value, self->parser_name); break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    case PROP_FAIL_ON_COLLECTOR_ERROR:
      g_value_set_boolean (value, self->fail_on_collector_error);
      break;
    case PROP_EXIT_STATUS: g_value_set_int (value, g_atomic_int_get (&self->exit_status)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_subprocess_source_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (object);

  switch (prop_id)
    {
    case PROP_COMMAND:
      g_strfreev (self->command);
      self->command = g_value_dup_boxed (value);
      break;
    case PROP_DATA_GLOBS:
      g_strfreev (self->data_globs);
      self->data_globs = g_value_dup_boxed (value);
      break;
    case PROP_NO_DATA: self->no_data = g_value_get_boolean (value); break;
    case PROP_PARSER:
      g_free (self->parser_name);
      self->parser_name = g_value_dup_string (value);
      break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    case PROP_FAIL_ON_COLLECTOR_ERROR:
      self->fail_on_collector_error = g_value_get_boolean (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_subprocess_source_finalize (GObject *object)
{
  CdvizSubprocessSource *self = CDVIZ_SUBPROCESS_SOURCE (object);

  g_strfreev (self->command);
  g_strfreev (self->data_globs);
  g_free (self->parser_name);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_clear_object (&self->cancellable);
  cdviz_files_worker_clear (&self->worker);
  G_OBJECT_CLASS (cdviz_subprocess_source_parent_class)->finalize (object);
}

static void
cdviz_subprocess_source_class_init (CdvizSubprocessSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_subprocess_source_get_property;
  object_class->set_property = cdviz_subprocess_source_set_property;
  object_class->finalize = cdviz_subprocess_source_finalize;
  /* Registered here, on the thread that builds the pipeline: GTask's type
   * first initialised by the worker (g_subprocess_wait) while libsoup
   * initialises a class that needs it in the http sink's thread deadlocks
   * in GLib 2.74's type system. */
  g_type_ensure (G_TYPE_TASK);
  g_type_ensure (G_TYPE_SUBPROCESS);
  g_type_ensure (G_TYPE_SUBPROCESS_LAUNCHER);

  properties[PROP_COMMAND] =
    g_param_spec_boxed ("command", NULL,
                        "The program and its arguments (required), run once at start with "
                        "this process's standard input and outputs, without the "
                        "CDVIZ_COLLECTOR__… variables",
                        G_TYPE_STRV, flags);
  properties[PROP_DATA_GLOBS] =
    g_param_spec_boxed ("data-globs", NULL,
                        "Result files read once the command ended: globs on the paths "
                        "under the working directory (\"**/TEST-*.xml\"), or absolute "
                        "file names; a file matched twice is read once",
                        G_TYPE_STRV, flags);
  properties[PROP_NO_DATA] =
    g_param_spec_boolean ("no-data", NULL,
                          "Read no result file: the finished message's body is []",
                          FALSE, flags);
  properties[PROP_PARSER] =
    g_param_spec_string ("parser", NULL, "How a result file is parsed (an array adds its "
                         "elements to the finished message's body): " CDVIZ_FILE_PARSER_DOC,
                         "auto", flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "Metadata of both messages (a table); `run.status`, "
                        "`run.started_at`, and for the finished one `run.exit_code` and "
                        "`run.finished_at`, are set over it (send --metadata K=V sets "
                        "`run.overrides.K`)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_FAIL_ON_COLLECTOR_ERROR] =
    g_param_spec_boolean ("fail-on-collector-error", NULL,
                          "Do not run the command when the started message is not "
                          "accepted (default: warn and run it)",
                          FALSE, flags);
  properties[PROP_EXIT_STATUS] =
    g_param_spec_int ("exit-status", NULL,
                      "The command's exit code once the finished message is pushed, -1 "
                      "before",
                      -1, G_MAXINT, -1, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdvizSubprocessSource::kill-command:
   *
   * Kills the command, if it still runs (any thread): the finished
   * message follows with exit code 130.
   */
  signals[SIGNAL_KILL_COMMAND] =
    g_signal_new_class_handler ("kill-command", G_TYPE_FROM_CLASS (klass),
                                G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
                                G_CALLBACK (subprocess_source_kill_command), NULL, NULL, NULL,
                                G_TYPE_NONE, 0);
}

static void
cdviz_subprocess_source_init (CdvizSubprocessSource *self)
{
  self->parser_name = g_strdup ("auto");
  self->exit_status = -1;
  self->cancellable = g_cancellable_new ();
  cdviz_files_worker_init (&self->worker, CDVIZ_SOURCE (self));
}
