/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "cdviz-file-parser.h"
#include "cdviz-files-worker.h"
#include "cdviz-opendal-source.h"
#include "cdviz-path-patterns.h"

/* `[sources.NAME.extractor] type = "opendal"`, cdviz-collector's
 * `src/sources/opendal/`, for `kind = "fs"`: every `polling_interval`, the
 * files under `parameters.root` (its subdirectories too with `recursive`)
 * whose path matches `path_patterns`, that are not empty and were modified
 * in the time window since the previous scan, are read with `parser`; each
 * body becomes a message with the file's metadata (`name`, `path`, `root`,
 * `last_modified`, over the configured `metadata`) and, with
 * `try_read_headers_json`, the headers of `BASE.headers.json` beside it.
 *
 * The window is cdviz-collector's: (end of the previous window, now − 1 s],
 * the margin leaving a file being written for the next scan. The end of
 * the last window read is the checkpoint kept in `[state]`
 * (`SOURCE/checkpoint.json`, `{"ts_after": RFC 3339}`, the file
 * cdviz-collector writes), so a restart reads only files modified since.
 * A scan interrupted by a stop does not move the checkpoint: what it read
 * is read again by the next run rather than lost.
 *
 * One worker thread per source scans, reads and pushes. */

#define HEADERS_JSON_MAX_SIZE (1024 * 1024)
#define TIME_MARGIN_NS G_GINT64_CONSTANT (1000000000)
#define CHECKPOINT_KEY "checkpoint.json"

struct _CdvizOpendalSource
{
  GObject parent_instance;

  /* configuration */
  char *kind;
  JsonNode *parameters;
  gboolean recursive;
  char **path_patterns;
  guint64 polling_interval;   /* ms */
  char *parser_name;
  gboolean try_read_headers_json;
  JsonNode *metadata;
  char *root;                 /* by init: absolute */
  CdvizFileParser parser;     /* by init */
  CdvizPathPatterns *patterns; /* by init */

  /* running */
  CdvizFilesWorker worker;
  CdvizState *state;          /* (owned) (nullable) */
  gint64 ts_after, ts_before; /* worker: ns since the epoch */
  gboolean failing;           /* worker: the root could not be listed */
  gboolean saving_failed;     /* worker: the checkpoint could not be saved */
};

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizOpendalSource, cdviz_opendal_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_KIND,
  PROP_PARAMETERS,
  PROP_RECURSIVE,
  PROP_PATH_PATTERNS,
  PROP_POLLING_INTERVAL,
  PROP_PARSER,
  PROP_TRY_READ_HEADERS_JSON,
  PROP_METADATA,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Per scan, for the log line. */
typedef struct {
  guint files, failed, events, skipped;
} ScanCounts;

/* --- timestamps (RFC 3339, nanoseconds, as jiff writes them) -------------------------- */

static char *
format_timestamp (gint64 ns)
{
  gint64 seconds = ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
  guint fraction = (guint) (ns - seconds * 1000000000);
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (seconds);
  g_autofree char *base = NULL;
  char digits[16];
  int n = 9;

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  if (fraction == 0)
    return g_strdup_printf ("%sZ", base);
  g_snprintf (digits, sizeof digits, "%09u", fraction);
  while (n > 0 && digits[n - 1] == '0')
    digits[--n] = '\0';
  return g_strdup_printf ("%s.%sZ", base, digits);
}

static gboolean
parse_timestamp (const char *text,
                 gint64     *ns)
{
  g_autofree char *copy = g_strdup (text);
  char *dot = strchr (copy, '.');
  gint64 fraction = 0;
  g_autoptr(GDateTime) dt = NULL;

  if (dot != NULL)
    {
      char *end = dot + 1;
      int n = 0;

      while (g_ascii_isdigit (*end))
        {
          if (n < 9)
            {
              fraction = fraction * 10 + (*end - '0');
              n++;
            }
          end++;
        }
      for (; n < 9; n++)
        fraction *= 10;
      memmove (dot, end, strlen (end) + 1);
    }
  dt = g_date_time_new_from_iso8601 (copy, NULL);
  if (dt == NULL)
    return FALSE;
  *ns = g_date_time_to_unix (dt) * 1000000000 + fraction;
  return TRUE;
}

static gint64
now_ns (void)
{
  return g_get_real_time () * 1000;
}

/* --- checkpoint --------------------------------------------------------------------- */

static void
load_checkpoint (CdvizOpendalSource *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;
  const char *ts;
  gsize length;
  const char *data;

  if (self->state == NULL)
    return;
  bytes = cdviz_state_get (self->state, self->worker.name, CHECKPOINT_KEY, &error);
  if (bytes == NULL)
    {
      if (error != NULL)
        g_warning ("source '%s': %s; reading every file", self->worker.name, error->message);
      return;
    }
  data = g_bytes_get_data (bytes, &length);
  if (!json_parser_load_from_data (parser, data, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (ts = json_object_get_string_member_with_default (json_node_get_object (root),
                                                        "ts_after", NULL)) == NULL ||
      !parse_timestamp (ts, &self->ts_after))
    {
      g_warning ("source '%s': %s/%s/%s is not a checkpoint ({\"ts_after\": \"RFC 3339\"}); "
                 "reading every file", self->worker.name, cdviz_state_get_root (self->state),
                 self->worker.name, CHECKPOINT_KEY);
      return;
    }
  g_message ("source '%s': reading files modified after %s", self->worker.name, ts);
}

static void
save_checkpoint (CdvizOpendalSource *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ts = format_timestamp (self->ts_after);
  char *text = g_strdup_printf ("{\"ts_after\":\"%s\"}", ts);
  g_autoptr(GBytes) bytes = g_bytes_new_take (text, strlen (text));

  if (self->state == NULL)
    return;
  if (!cdviz_state_set (self->state, self->worker.name, CHECKPOINT_KEY, bytes, &error))
    {
      /* Once, not every poll; a restart would read these files again. */
      if (!self->saving_failed)
        g_warning ("source '%s': failed to save the checkpoint: %s; a restart will read "
                   "again what was read since", self->worker.name, error->message);
      self->saving_failed = TRUE;
      return;
    }
  if (self->saving_failed)
    g_message ("source '%s': checkpoint saved again", self->worker.name);
  self->saving_failed = FALSE;
}

/* --- one file ---------------------------------------------------------------------- */

typedef struct {
  CdvizOpendalSource *self;
  JsonNode *metadata;
  GHashTable *headers;
  ScanCounts *counts;
  gboolean stopped;
} EmitData;

static void
emit_body (JsonNode *body,
           gpointer  user_data)
{
  EmitData *data = user_data;
  g_autoptr(CdvizMessage) message = NULL;

  if (data->stopped)
    return;
  message = cdviz_message_new_raw (body, data->metadata, data->headers);
  if (cdviz_files_worker_push (&data->self->worker, message))
    data->counts->events++;
  else if (cdviz_files_worker_is_stopping (&data->self->worker))
    data->stopped = TRUE;
}

/* `BASE.headers.json` beside @full: a JSON object of strings, or nothing. */
static GHashTable *
read_headers_json (const char *full)
{
  const char *dot = strrchr (full, '.');
  const char *slash = strrchr (full, '/');
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GHashTable) headers = NULL;
  GStatBuf st;
  gsize length;
  JsonNode *root;
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  if (dot == NULL || (slash != NULL && dot < slash))
    return NULL;
  path = g_strdup_printf ("%.*s.headers.json", (int) (dot - full), full);
  if (g_stat (path, &st) != 0 || st.st_size > HEADERS_JSON_MAX_SIZE ||
      !g_file_get_contents (path, &contents, &length, NULL) ||
      !json_parser_load_from_data (parser, contents, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        return NULL;  /* as serde: all strings or no headers */
      g_hash_table_replace (headers, g_strdup (key), g_strdup (json_node_get_string (value)));
    }
  return g_steal_pointer (&headers);
}

static JsonNode *
file_metadata (CdvizOpendalSource *self,
               const char         *rel,
               gint64              mtime_ns)
{
  g_autoptr(JsonObject) object = cdviz_message_build_metadata (self->metadata);
  g_autofree char *name = g_path_get_basename (rel);
  g_autofree char *ts = format_timestamp (mtime_ns);

  json_object_set_string_member (object, "name", name);
  json_object_set_string_member (object, "path", rel);
  json_object_set_string_member (object, "root", self->root);
  json_object_set_string_member (object, "last_modified", ts);
  return json_node_init_object (json_node_alloc (), object);
}

/* FALSE when the source stopped while pushing. */
static gboolean
read_file (CdvizOpendalSource *self,
           const char         *full,
           const char         *rel,
           const GStatBuf     *st,
           gint64              mtime_ns,
           ScanCounts         *counts)
{
  g_autoptr(JsonNode) metadata = file_metadata (self, rel, mtime_ns);
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMappedFile) file = NULL;
  EmitData data = { self, metadata, NULL, counts, FALSE };

  counts->files++;
  if (self->try_read_headers_json)
    data.headers = headers = read_headers_json (full);
  if (self->parser == CDVIZ_FILE_PARSER_METADATA)
    {
      g_autoptr(JsonNode) null_body = json_node_init_null (json_node_alloc ());

      emit_body (null_body, &data);
      return !data.stopped;
    }
  if (st->st_size > CDVIZ_FILE_PARSER_MAX_SIZE)
    {
      g_warning ("source '%s': %s: larger than %u bytes; file skipped", self->worker.name, full,
                 (guint) CDVIZ_FILE_PARSER_MAX_SIZE);
      counts->failed++;
      return TRUE;
    }
  file = g_mapped_file_new (full, FALSE, &error);
  if (file == NULL ||
      !cdviz_file_parser_parse (self->parser, full, g_mapped_file_get_contents (file) ?: "",
                                MIN (g_mapped_file_get_length (file),
                                     CDVIZ_FILE_PARSER_MAX_SIZE),
                                TRUE, emit_body, &data, &counts->skipped, &error))
    {
      g_warning ("source '%s': %s; file skipped", self->worker.name, error->message);
      counts->failed++;
    }
  return !data.stopped;
}

/* --- scanning ---------------------------------------------------------------------- */

static gint64
mtime_of (const GStatBuf *st)
{
  return (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Lists @dir (@rel under the root), in name order. FALSE when stopped. */
static gboolean
scan_dir (CdvizOpendalSource *self,
          const char         *dir,
          const char         *rel,
          ScanCounts         *counts,
          GError            **error)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (handle == NULL)
    return FALSE;
  while ((entry = g_dir_read_name (handle)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *full = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *child = *rel ? g_strconcat (rel, "/", names->pdata[i], NULL)
                                    : g_strdup (names->pdata[i]);
      GStatBuf st;
      gint64 mtime;

      if (cdviz_files_worker_is_stopping (&self->worker))
        return FALSE;
      /* lstat: a symbolic link is neither a file nor a directory, as in
       * cdviz-collector's listing (and a link to a parent cannot loop). */
      if (g_lstat (full, &st) != 0)
        continue;  /* gone meanwhile */
      if (S_ISDIR (st.st_mode))
        {
          g_autoptr(GError) local = NULL;

          if (self->recursive && !scan_dir (self, full, child, counts, &local))
            {
              if (local == NULL)
                return FALSE;
              g_warning ("source '%s': %s", self->worker.name, local->message);
            }
          continue;
        }
      if (!S_ISREG (st.st_mode))
        continue;
      mtime = mtime_of (&st);
      if (mtime <= self->ts_after || mtime > self->ts_before || st.st_size == 0 ||
          !cdviz_path_patterns_accept (self->patterns, child))
        continue;
      if (!read_file (self, full, child, &st, mtime, counts))
        return FALSE;
    }
  return TRUE;
}

/* FALSE when stopped during the scan. */
static gboolean
scan (CdvizOpendalSource *self)
{
  g_autoptr(GError) error = NULL;
  ScanCounts counts = { 0 };

  if (!scan_dir (self, self->root, "", &counts, &error))
    {
      if (error == NULL)
        return FALSE;
      if (!self->failing)
        g_warning ("source '%s': cannot list %s: %s; trying again every poll", self->worker.name,
                   self->root, error->message);
      self->failing = TRUE;
      return TRUE;
    }
  if (self->failing)
    g_message ("source '%s': listing %s again", self->worker.name, self->root);
  self->failing = FALSE;
  if (counts.files > 0)
    g_message ("source '%s': read %u files: %u events, %u files failed, %u lines or rows "
               "skipped", self->worker.name, counts.files, counts.events, counts.failed,
               counts.skipped);
  return TRUE;
}

static gpointer
worker_thread (gpointer data)
{
  CdvizOpendalSource *self = data;

  load_checkpoint (self);
  self->ts_before = now_ns () - TIME_MARGIN_NS;
  for (;;)
    {
      if (!scan (self))
        break;  /* stopped mid-scan: the checkpoint stays before this window */
      self->ts_after = self->ts_before;
      save_checkpoint (self);

      if (!cdviz_files_worker_sleep (&self->worker, self->polling_interval))
        break;
      self->ts_before = now_ns () - TIME_MARGIN_NS;
    }
  return NULL;
}

/* --- CdvizSource ---------------------------------------------------------------------- */

static gboolean
opendal_source_start (CdvizSource    *source,
                      CdvizPipeline  *pipeline,
                      GError        **error)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (source);

  cdviz_files_worker_set_name (&self->worker, pipeline, "opendal");
  if (cdviz_pipeline_is_checking (pipeline))
    return TRUE;
  g_set_object (&self->state, cdviz_pipeline_get_state (pipeline));
  self->failing = FALSE;
  self->saving_failed = FALSE;
  self->ts_after = G_MININT64;
  cdviz_files_worker_start (&self->worker, pipeline, "cdviz-opendal", worker_thread, self);
  return TRUE;
}

static void
opendal_source_stop (CdvizSource *source)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (source);

  cdviz_files_worker_stop (&self->worker);
  g_clear_object (&self->state);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = opendal_source_start;
  iface->stop_source = opendal_source_stop;
}

/* --- GInitable ----------------------------------------------------------------------- */

static gboolean
check_parameters (CdvizOpendalSource  *self,
                  GError             **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  const char *root = NULL;

  if (self->parameters == NULL || !JSON_NODE_HOLDS_OBJECT (self->parameters))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “parameters” is required: a table with “root”, the "
                             "directory to read (e.g. parameters = { root = \"./events\" })"));
      return FALSE;
    }
  json_object_iter_init (&iter, json_node_get_object (self->parameters));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “parameters.%s”: expected a string"), key);
          return FALSE;
        }
      if (g_str_equal (key, "root"))
        root = json_node_get_string (value);
      else if (g_strcmp0 (self->kind, "fs") == 0 && !g_str_equal (key, "atomic_write_dir"))
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
                       _("key “parameters.%s”: unknown parameter of kind “fs” (known: root, "
                         "atomic_write_dir)"), key);
          return FALSE;
        }
    }
  if (g_strcmp0 (self->kind, "fs") != 0)
    return TRUE;
  if (root == NULL || *root == '\0')
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “parameters.root” is required for kind “fs”: the directory "
                             "to read"));
      return FALSE;
    }
  g_free (self->root);
  self->root = g_canonicalize_filename (root, NULL);
  return TRUE;
}

static gboolean
opendal_source_init_finish (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (initable);

  if (self->kind == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “kind” is required (the storage service; only \"fs\" "
                             "in this build)"));
      return FALSE;
    }
  if (!check_parameters (self, error) ||
      !cdviz_file_parser_from_string (self->parser_name, &self->parser, error))
    return FALSE;
  self->patterns = cdviz_path_patterns_new ((const char * const *) self->path_patterns, error);
  if (self->patterns == NULL)
    return FALSE;
  if (!cdviz_files_check_metadata (&self->metadata, error))
    return FALSE;
  /* Last, so that the other keys' errors come first. */
  if (!g_str_equal (self->kind, "fs"))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “kind”: kind “%s” is not available in this build; only “fs” "
                     "(cdviz-collector reads %s through OpenDAL, which has no C library "
                     "in Debian)"), self->kind, self->kind);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = opendal_source_init_finish;
}

/* --- GObject --------------------------------------------------------------------------- */

static void
cdviz_opendal_source_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (object);

  switch (prop_id)
    {
    case PROP_KIND: g_value_set_string (value, self->kind); break;
    case PROP_PARAMETERS: g_value_set_boxed (value, self->parameters); break;
    case PROP_RECURSIVE: g_value_set_boolean (value, self->recursive); break;
    case PROP_PATH_PATTERNS: g_value_set_boxed (value, self->path_patterns); break;
    case PROP_POLLING_INTERVAL: g_value_set_uint64 (value, self->polling_interval); break;
    case PROP_PARSER: g_value_set_string (value, self->parser_name); break;
    case PROP_TRY_READ_HEADERS_JSON:
      g_value_set_boolean (value, self->try_read_headers_json);
      break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_opendal_source_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (object);

  switch (prop_id)
    {
    case PROP_KIND: g_free (self->kind); self->kind = g_value_dup_string (value); break;
    case PROP_PARAMETERS:
      g_clear_pointer (&self->parameters, json_node_unref);
      self->parameters = g_value_dup_boxed (value);
      break;
    case PROP_RECURSIVE: self->recursive = g_value_get_boolean (value); break;
    case PROP_PATH_PATTERNS:
      g_strfreev (self->path_patterns);
      self->path_patterns = g_value_dup_boxed (value);
      break;
    case PROP_POLLING_INTERVAL: self->polling_interval = g_value_get_uint64 (value); break;
    case PROP_PARSER:
      g_free (self->parser_name);
      self->parser_name = g_value_dup_string (value);
      break;
    case PROP_TRY_READ_HEADERS_JSON:
      self->try_read_headers_json = g_value_get_boolean (value);
      break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_opendal_source_finalize (GObject *object)
{
  CdvizOpendalSource *self = CDVIZ_OPENDAL_SOURCE (object);

  g_free (self->kind);
  g_clear_pointer (&self->parameters, json_node_unref);
  g_strfreev (self->path_patterns);
  g_free (self->parser_name);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_free (self->root);
  g_clear_pointer (&self->patterns, cdviz_path_patterns_free);
  g_clear_object (&self->state);
  cdviz_files_worker_clear (&self->worker);
  G_OBJECT_CLASS (cdviz_opendal_source_parent_class)->finalize (object);
}

static void
cdviz_opendal_source_class_init (CdvizOpendalSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_opendal_source_get_property;
  object_class->set_property = cdviz_opendal_source_set_property;
  object_class->finalize = cdviz_opendal_source_finalize;

  properties[PROP_KIND] =
    g_param_spec_string ("kind", NULL,
                         "The storage service (required): \"fs\", files on this machine; "
                         "cdviz-collector's other OpenDAL services (s3, gcs, azblob…) are "
                         "not available in this build",
                         NULL, flags);
  properties[PROP_PARAMETERS] =
    g_param_spec_boxed ("parameters", NULL,
                        "The service's parameters (required), strings; for \"fs\": "
                        "`root`, the directory to read (relative to the working directory)",
                        JSON_TYPE_NODE, flags);
  properties[PROP_RECURSIVE] =
    g_param_spec_boolean ("recursive", NULL, "Read the root's subdirectories too",
                          FALSE, flags);
  properties[PROP_PATH_PATTERNS] =
    g_param_spec_boxed ("path-patterns", NULL,
                        "Globs on the path under the root (\"**/*.json\"): `*` within a "
                        "directory, `**` across them; a pattern starting with `!` "
                        "excludes; none: every file",
                        G_TYPE_STRV, flags);
  properties[PROP_POLLING_INTERVAL] =
    cdviz_param_spec_duration ("polling-interval", NULL,
                               "Time between two scans; a file is read once modified more "
                               "than 1 s before a scan, and only if modified since the "
                               "previous one (remembered in [state] across restarts)",
                               10, G_MAXUINT32, 60000, flags);
  properties[PROP_PARSER] =
    g_param_spec_string ("parser", NULL, "How a file becomes messages: "
                         CDVIZ_FILE_PARSER_DOC,
                         "auto", flags);
  properties[PROP_TRY_READ_HEADERS_JSON] =
    g_param_spec_boolean ("try-read-headers-json", NULL,
                          "Take the messages' headers from BASE.headers.json beside "
                          "BASE.EXT (a JSON object of strings), when it exists",
                          FALSE, flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL,
                        "Metadata of every message (a table); the file's `name`, `path`, "
                        "`root` and `last_modified` are set over it",
                        JSON_TYPE_NODE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_opendal_source_init (CdvizOpendalSource *self)
{
  self->polling_interval = 60000;
  self->parser_name = g_strdup ("auto");
  cdviz_files_worker_init (&self->worker, CDVIZ_SOURCE (self));
}
