/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline.h"
#include "cdviz-cdevent-private.h"
#include "cdviz-config-private.h"

/**
 * CdvizPipeline:
 *
 * Sources → each source's transformer chain → every enabled sink.
 *
 * A pipeline is built from a [class@Config]: every component is created
 * and configured by [ctor@Pipeline.new], so a configuration error is
 * reported before anything listens. [method@Pipeline.start] starts the sinks,
 * the sources, the HTTP server and the pipeline thread.
 *
 * Sources hand messages over with [method@Pipeline.push_async] (or
 * [method@Pipeline.push]) from any thread. The hand-over queue is bounded
 * (`[pipeline] queue_capacity`, default 1024): when it is full the push fails
 * with %CDVIZ_PIPELINE_ERROR_FULL and the refusal is counted; an accepted
 * message is never dropped. The pipeline thread takes messages in order, runs
 * the source's transformers and delivers every resulting message to every
 * sink, so order is kept per source, end to end. Transformers and sinks are
 * called on the pipeline thread only.
 *
 * [method@Pipeline.stop] stops the sources, processes everything already
 * accepted, stops the sinks (which close their streams) and the HTTP server.
 */

typedef struct {
  char *name;
  CdvizSource *source;        /* nullable: a source fed only by push() */
  GPtrArray *chain;           /* CdvizTransformer */
} SourceEntry;

typedef struct {
  char *name;
  CdvizSink *sink;
  gsize sent;                 /* atomic */
  gsize failed;               /* atomic */
} SinkEntry;

typedef enum {
  ITEM_MESSAGE,
  ITEM_FLUSH,
  ITEM_STOP,
} ItemKind;

typedef struct {
  ItemKind kind;
  SourceEntry *source;
  CdvizMessage *message;
  GTask *task;                /* nullable */
  /* ITEM_FLUSH */
  GMutex *lock;
  GCond *cond;
  gboolean *done;
} WorkItem;

struct _CdvizPipeline
{
  GObject parent_instance;

  CdvizConfig *config;
  CdvizRegistry *registry;
  CdvizHttpServer *http;

  GPtrArray *sources;           /* SourceEntry */
  GHashTable *sources_by_name;  /* name → SourceEntry */
  GHashTable *transformers;     /* name → CdvizTransformer */
  GPtrArray *sinks;             /* SinkEntry */

  GAsyncQueue *queue;
  int pending;                  /* atomic: messages waiting in the queue */
  guint capacity;
  GThread *worker;
  GMainContext *owner_context;
  int running;                  /* atomic */
  gboolean started;

  gsize accepted;               /* atomic counters */
  gsize refused;
  gsize rejected;
  gsize filtered;
  gsize processed;
};

G_DEFINE_FINAL_TYPE (CdvizPipeline, cdviz_pipeline, G_TYPE_OBJECT)

/* Counters are written by one thread and read by the HTTP thread. */
#define COUNT(counter) ((void) g_atomic_pointer_add (&(counter), 1))
#define COUNTER(counter) ((guint64) (gsize) g_atomic_pointer_get (&(counter)))

/**
 * cdviz_pipeline_error_quark:
 *
 * The error domain of [enum@PipelineError], also available as
 * %CDVIZ_PIPELINE_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-pipeline-error-quark, cdviz_pipeline_error)

enum {
  SIGNAL_MESSAGE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
source_entry_free (gpointer data)
{
  SourceEntry *entry = data;

  g_clear_object (&entry->source);
  g_clear_pointer (&entry->chain, g_ptr_array_unref);
  g_free (entry->name);
  g_free (entry);
}

static void
sink_entry_free (gpointer data)
{
  SinkEntry *entry = data;

  g_clear_object (&entry->sink);
  g_free (entry->name);
  g_free (entry);
}

static void
cdviz_pipeline_dispose (GObject *object)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  cdviz_pipeline_stop (self);

  G_OBJECT_CLASS (cdviz_pipeline_parent_class)->dispose (object);
}

static void
cdviz_pipeline_finalize (GObject *object)
{
  CdvizPipeline *self = CDVIZ_PIPELINE (object);

  g_clear_pointer (&self->sources, g_ptr_array_unref);
  g_clear_pointer (&self->sources_by_name, g_hash_table_unref);
  g_clear_pointer (&self->transformers, g_hash_table_unref);
  g_clear_pointer (&self->sinks, g_ptr_array_unref);
  g_clear_pointer (&self->queue, g_async_queue_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_object (&self->http);
  g_clear_object (&self->registry);
  g_clear_object (&self->config);

  G_OBJECT_CLASS (cdviz_pipeline_parent_class)->finalize (object);
}

static void
cdviz_pipeline_class_init (CdvizPipelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdviz_pipeline_dispose;
  object_class->finalize = cdviz_pipeline_finalize;

  /**
   * CdvizPipeline::message:
   * @self: the pipeline
   * @message: a message that was delivered to the sinks
   *
   * Emitted, for every message handed to the sinks, on the thread-default
   * main context of the thread that called [method@Pipeline.start]. It costs
   * nothing when no handler is connected.
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, CDVIZ_TYPE_MESSAGE);
}

static void
cdviz_pipeline_init (CdvizPipeline *self)
{
  self->sources = g_ptr_array_new_with_free_func (source_entry_free);
  self->sources_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->transformers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->sinks = g_ptr_array_new_with_free_func (sink_entry_free);
  self->queue = g_async_queue_new ();
  self->capacity = 1024;
}

/* --- building from the configuration ------------------------------------ */

static const char * const top_level_keys[] = {
  "http", "pipeline", "sources", "transformers", "sinks", NULL
};
static const char * const http_keys[] = {
  "host", "port", "tls_certificate", "tls_key", "tls_min_version", "header_timeout", "body_timeout",
  "idle_timeout", "max_connections", "max_headers", "max_header_size", NULL
};
static const char * const pipeline_keys[] = { "queue_capacity", NULL };
static const char * const source_keys[] = {
  "enabled", "extractor", "transformer_refs", NULL
};

/* What `cdviz-pipeline config --describe` (and so doc/configuration.md) says
 * about the keys listed above: key, type, default, description. Adding a key
 * to a list above? Add its line here too, or the docs test fails on an
 * “undocumented” key. */
typedef struct {
  const char *key, *type, *default_value, *blurb;
} KeyDoc;

static const KeyDoc key_docs_http[] = {
  { "host", "string", "`\"127.0.0.1\"`",
    "Address to listen on: an IP address (`0.0.0.0`, `::` for every interface) or a host name" },
  { "port", "integer (0–65535)", "`8080`",
    "TCP port; 0 picks a free port (the log line “Listening on …” shows it)" },
  { "tls_certificate", "string (path)", "none",
    "PEM file of the server certificate (and chain); with `tls_key`, the server speaks HTTPS only" },
  { "tls_key", "string (path)", "none",
    "PEM file of the certificate's private key (may be the same file as `tls_certificate`)" },
  { "tls_min_version", "string (`\"1.2\"`, `\"1.3\"`)", "`\"1.2\"`",
    "Oldest TLS version accepted; with 1.2, only forward-secret AEAD cipher suites "
    "(no static RSA key exchange, no CBC). `G_TLS_GNUTLS_PRIORITY` in the environment overrides it" },
  { "header_timeout", "duration", "`\"10s\"`",
    "A client must send a request's complete headers within this time (from the connection, "
    "TLS handshake included, or from the first byte of a kept-alive connection's next request); "
    "slower clients are disconnected; 0 disables it" },
  { "body_timeout", "duration", "`\"60s\"`",
    "A client must send a request's body within this time once its headers are in; "
    "slower clients are disconnected and their request is not handled; 0 disables it" },
  { "idle_timeout", "duration", "`\"60s\"`",
    "A kept-alive connection idle for this long between two requests is closed; 0 disables it" },
  { "max_connections", "integer (0–1048576)", "`10000`",
    "Open connections at most (SSE streams included); more are closed when accepted; 0 = no limit. "
    "The process needs as many file descriptors (`ulimit -n`)" },
  { "max_headers", "integer (0–100000)", "`100`",
    "Header fields of a request at most; more are answered 431; 0 = no limit" },
  { "max_header_size", "integer (0–1048576)", "`65536`",
    "Total bytes of a request's header fields at most; more are answered 431; 0 = no limit. "
    "libsoup drops connections whose request head exceeds 64 KiB whatever the setting" },
  { NULL }
};
static const KeyDoc key_docs_pipeline[] = {
  { "queue_capacity", "integer (1–16777216)", "`1024`",
    "Events accepted but not yet processed; beyond it webhooks answer 503 with Retry-After" },
  { NULL }
};
static const KeyDoc key_docs_source[] = {
  { "enabled", "boolean", "`true`", "A disabled source is skipped (its other keys are not checked)" },
  { "extractor", "table", "—",
    "Where events come from: `{ type = \"webhook\", id = … }` (see the source types); "
    "without it the source is fed only through the API" },
  { "transformer_refs", "array of strings", "`[]`",
    "Names of `[transformers.NAME]` applied in order to this source's events" },
  { NULL }
};

static JsonObject *
get_table (CdvizConfig  *config,
           JsonObject   *parent,
           const char   *parent_path,
           const char   *key,
           GError      **error)
{
  JsonNode *node = json_object_get_member (parent, key);
  g_autofree char *path = parent_path ? _cdviz_config_join (parent_path, key)
                                      : g_strdup (key);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *where = _cdviz_config_describe (config, path);
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: expected a table"), where, path);
      return NULL;
    }
  return json_node_get_object (node);
}

static gboolean
build_http (CdvizPipeline  *self,
            JsonObject     *root,
            GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonObject *http = get_table (self->config, root, NULL, "http", &local_error);
  const char *host = "127.0.0.1";
  const char *certificate_path = NULL, *key_path = NULL, *tls_min_version = NULL;
  gint64 port = 8080;
  gint64 max_connections = 10000, max_headers = 100, max_header_size = 65536;
  guint64 header_timeout = 10000, body_timeout = 60000, idle_timeout = 60000;
  g_autoptr(GTlsCertificate) certificate = NULL;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (http != NULL)
    {
      if (!_cdviz_config_check_keys (self->config, "http", http, http_keys, error) ||
          !_cdviz_config_get_string (self->config, "http", http, "host", FALSE, &host, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "port", 0, 65535, 8080, &port, error) ||
          !_cdviz_config_get_string (self->config, "http", http, "tls_certificate", FALSE,
                                     &certificate_path, error) ||
          !_cdviz_config_get_string (self->config, "http", http, "tls_key", FALSE,
                                     &key_path, error) ||
          !_cdviz_config_get_string (self->config, "http", http, "tls_min_version", FALSE,
                                     &tls_min_version, error) ||
          !_cdviz_config_get_duration (self->config, "http", http, "header_timeout",
                                       G_MAXUINT32, header_timeout, &header_timeout, error) ||
          !_cdviz_config_get_duration (self->config, "http", http, "body_timeout",
                                       G_MAXUINT32, body_timeout, &body_timeout, error) ||
          !_cdviz_config_get_duration (self->config, "http", http, "idle_timeout",
                                       G_MAXUINT32, idle_timeout, &idle_timeout, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "max_connections", 0, 1048576,
                                  max_connections, &max_connections, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "max_headers", 0, 100000,
                                  max_headers, &max_headers, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "max_header_size", 0, 1048576,
                                  max_header_size, &max_header_size, error))
        return FALSE;
      if (host == NULL)
        host = "127.0.0.1";
    }

  if (tls_min_version != NULL && !g_str_equal (tls_min_version, "1.2") &&
      !g_str_equal (tls_min_version, "1.3"))
    {
      g_autofree char *where = _cdviz_config_describe (self->config, "http.tls_min_version");

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: “%s” is not a TLS version this server offers "
                     "(“1.2” or “1.3”)"), where, "http.tls_min_version", tls_min_version);
      return FALSE;
    }

  if ((certificate_path == NULL) != (key_path == NULL))
    {
      const char *missing = certificate_path == NULL ? "http.tls_certificate" : "http.tls_key";
      const char *given = certificate_path == NULL ? "http.tls_key" : "http.tls_certificate";
      g_autofree char *where = _cdviz_config_describe (self->config, given);

      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                   _("%s: key “%s” needs “%s” too"), where, given, missing);
      return FALSE;
    }
  if (certificate_path != NULL)
    {
      g_autoptr(GError) tls_error = NULL;

      /* Which file failed: the certificate alone, then both. */
      certificate = g_tls_certificate_new_from_file (certificate_path, &tls_error);
      if (certificate != NULL)
        {
          g_clear_object (&certificate);
          certificate = g_tls_certificate_new_from_files (certificate_path, key_path,
                                                           &tls_error);
          if (certificate == NULL)
            {
              g_autofree char *where = _cdviz_config_describe (self->config, "http.tls_key");

              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("%s: key “%s”: cannot load the private key %s for %s: %s"),
                           where, "http.tls_key", key_path, certificate_path,
                           tls_error->message);
              return FALSE;
            }
        }
      else
        {
          g_autofree char *where = _cdviz_config_describe (self->config, "http.tls_certificate");

          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("%s: key “%s”: cannot load the certificate %s: %s"),
                       where, "http.tls_certificate", certificate_path, tls_error->message);
          return FALSE;
        }
    }

  self->http = cdviz_http_server_new (host, (guint) port);
  cdviz_http_server_set_tls_certificate (self->http, certificate);
  if (tls_min_version != NULL && g_str_equal (tls_min_version, "1.3"))
    cdviz_http_server_set_tls_min_version (self->http, G_TLS_PROTOCOL_VERSION_TLS_1_3);
  cdviz_http_server_set_header_timeout (self->http, header_timeout);
  cdviz_http_server_set_body_timeout (self->http, body_timeout);
  cdviz_http_server_set_idle_timeout (self->http, idle_timeout);
  cdviz_http_server_set_max_connections (self->http, (guint) max_connections);
  cdviz_http_server_set_max_headers (self->http, (guint) max_headers);
  cdviz_http_server_set_max_header_size (self->http, (gsize) max_header_size);
  return TRUE;
}

static gboolean
build_transformers (CdvizPipeline  *self,
                    JsonObject     *root,
                    GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonObject *section = get_table (self->config, root, NULL, "transformers", &local_error);
  g_autoptr(GList) names = NULL;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (section == NULL)
    return TRUE;

  names = json_object_get_members (section);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      g_autofree char *path = _cdviz_config_join ("transformers", name);
      JsonObject *table = get_table (self->config, section, "transformers", name, error);
      GObject *object;

      if (table == NULL)
        return FALSE;
      object = _cdviz_config_create_component (self->config, self->registry,
                                               CDVIZ_COMPONENT_TRANSFORMER,
                                               path, table, NULL, error);
      if (object == NULL)
        return FALSE;
      g_hash_table_insert (self->transformers, g_strdup (name), object);
    }
  return TRUE;
}

static gboolean
build_sources (CdvizPipeline  *self,
               JsonObject     *root,
               GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonObject *section = get_table (self->config, root, NULL, "sources", &local_error);
  g_autoptr(GList) names = NULL;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (section == NULL)
    return TRUE;

  names = json_object_get_members (section);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      g_autofree char *path = _cdviz_config_join ("sources", name);
      JsonObject *table = get_table (self->config, section, "sources", name, error);
      JsonObject *extractor;
      JsonNode *refs;
      SourceEntry *entry;
      gboolean enabled;

      if (table == NULL)
        return FALSE;
      if (!_cdviz_config_check_keys (self->config, path, table, source_keys, error) ||
          !_cdviz_config_get_bool (self->config, path, table, "enabled", TRUE, &enabled, error))
        return FALSE;
      if (!enabled)
        {
          g_debug ("Source %s is disabled", name);
          continue;
        }

      entry = g_new0 (SourceEntry, 1);
      entry->name = g_strdup (name);
      entry->chain = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (self->sources, entry);
      g_hash_table_insert (self->sources_by_name, entry->name, entry);

      refs = json_object_get_member (table, "transformer_refs");
      if (refs != NULL)
        {
          g_autofree char *refs_path = _cdviz_config_join (path, "transformer_refs");
          JsonArray *array;

          if (!JSON_NODE_HOLDS_ARRAY (refs))
            {
              g_autofree char *where = _cdviz_config_describe (self->config, refs_path);
              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("%s: key “%s”: expected an array of transformer names"),
                           where, refs_path);
              return FALSE;
            }
          array = json_node_get_array (refs);
          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              JsonNode *ref = json_array_get_element (array, i);
              g_autofree char *elem_path = g_strdup_printf ("%s[%u]", refs_path, i);
              g_autofree char *where = _cdviz_config_describe (self->config, elem_path);
              GObject *transformer;

              if (json_node_get_value_type (ref) != G_TYPE_STRING)
                {
                  g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                               _("%s: key “%s”: expected an array of transformer names"),
                               where, refs_path);
                  return FALSE;
                }
              transformer = g_hash_table_lookup (self->transformers, json_node_get_string (ref));
              if (transformer == NULL)
                {
                  g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
                               _("%s: key “%s”: no transformer named “%s” (define [transformers.%s])"),
                               where, refs_path, json_node_get_string (ref),
                               json_node_get_string (ref));
                  return FALSE;
                }
              g_ptr_array_add (entry->chain, g_object_ref (transformer));
            }
        }

      extractor = get_table (self->config, table, path, "extractor", &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (extractor != NULL)
        {
          g_autofree char *extractor_path = _cdviz_config_join (path, "extractor");
          GObject *source = _cdviz_config_create_component (self->config, self->registry,
                                                            CDVIZ_COMPONENT_SOURCE,
                                                            extractor_path, extractor,
                                                            NULL, error);
          if (source == NULL)
            return FALSE;
          entry->source = CDVIZ_SOURCE (source);
        }
      else
        g_debug ("Source %s has no extractor: it is fed by cdviz_pipeline_push() only", name);
    }
  return TRUE;
}

static gboolean
build_sinks (CdvizPipeline  *self,
             JsonObject     *root,
             GError        **error)
{
  static const char * const skip[] = { "enabled", NULL };
  g_autoptr(GError) local_error = NULL;
  JsonObject *section = get_table (self->config, root, NULL, "sinks", &local_error);
  g_autoptr(GList) names = NULL;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (section == NULL)
    return TRUE;

  names = json_object_get_members (section);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      g_autofree char *path = _cdviz_config_join ("sinks", name);
      JsonObject *table = get_table (self->config, section, "sinks", name, error);
      SinkEntry *entry;
      GObject *sink;
      gboolean enabled;

      if (table == NULL)
        return FALSE;
      if (!_cdviz_config_get_bool (self->config, path, table, "enabled", TRUE, &enabled, error))
        return FALSE;
      if (!enabled)
        {
          g_debug ("Sink %s is disabled", name);
          continue;
        }
      sink = _cdviz_config_create_component (self->config, self->registry,
                                             CDVIZ_COMPONENT_SINK, path, table,
                                             skip, error);
      if (sink == NULL)
        return FALSE;

      entry = g_new0 (SinkEntry, 1);
      entry->name = g_strdup (name);
      entry->sink = CDVIZ_SINK (sink);
      g_ptr_array_add (self->sinks, entry);
    }
  return TRUE;
}

static gboolean
build (CdvizPipeline  *self,
       GError        **error)
{
  JsonObject *root;
  JsonObject *pipeline;
  g_autoptr(GError) local_error = NULL;

  if (!_cdviz_config_finish (self->config, error))
    return FALSE;

  root = json_node_get_object (cdviz_config_get_root (self->config));
  if (!_cdviz_config_check_keys (self->config, NULL, root, top_level_keys, error))
    return FALSE;

  if (!build_http (self, root, error))
    return FALSE;

  pipeline = get_table (self->config, root, NULL, "pipeline", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (pipeline != NULL)
    {
      gint64 capacity;

      if (!_cdviz_config_check_keys (self->config, "pipeline", pipeline, pipeline_keys, error) ||
          !_cdviz_config_get_int (self->config, "pipeline", pipeline, "queue_capacity",
                                  1, 1 << 24, 1024, &capacity, error))
        return FALSE;
      self->capacity = (guint) capacity;
    }

  return build_transformers (self, root, error) &&
         build_sources (self, root, error) &&
         build_sinks (self, root, error);
}

/**
 * cdviz_pipeline_new:
 * @config: the merged configuration
 * @registry: (nullable): where component types are looked up; %NULL for the
 *   default registry
 * @error: return location for a #GError
 *
 * Creates every enabled component of @config and checks the whole
 * configuration. Errors are %CDVIZ_CONFIG_ERROR and name the file, line and
 * key.
 *
 * Returns: (transfer full) (nullable): a new pipeline, or %NULL on error
 */
CdvizPipeline *
cdviz_pipeline_new (CdvizConfig    *config,
                    CdvizRegistry  *registry,
                    GError        **error)
{
  g_autoptr(CdvizPipeline) self = NULL;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (config), NULL);
  g_return_val_if_fail (registry == NULL || CDVIZ_IS_REGISTRY (registry), NULL);

  self = g_object_new (CDVIZ_TYPE_PIPELINE, NULL);
  self->config = g_object_ref (config);
  self->registry = g_object_ref (registry ? registry : cdviz_registry_get_default ());

  if (!build (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* --- the pipeline thread ------------------------------------------------ */

typedef struct {
  CdvizPipeline *pipeline;
  CdvizMessage *message;
} Emission;

static gboolean
emit_message (gpointer data)
{
  Emission *emission = data;

  g_signal_emit (emission->pipeline, signals[SIGNAL_MESSAGE], 0, emission->message);
  return G_SOURCE_REMOVE;
}

static void
emission_free (gpointer data)
{
  Emission *emission = data;

  g_object_unref (emission->pipeline);
  g_object_unref (emission->message);
  g_free (emission);
}

static void
deliver (CdvizPipeline *self,
         CdvizMessage  *message)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      g_autoptr(GError) error = NULL;

      if (cdviz_sink_send_message (entry->sink, message, &error))
        COUNT (entry->sent);
      else
        {
          COUNT (entry->failed);
          g_warning ("Sink %s failed to deliver event %s: %s", entry->name,
                     cdviz_message_get_id (message) ?: "(no id)",
                     error ? error->message : "unknown error");
        }
    }

  if (g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE], 0, TRUE))
    {
      Emission *emission = g_new0 (Emission, 1);
      GSource *source;

      emission->pipeline = g_object_ref (self);
      emission->message = g_object_ref (message);
      /* Always through a source: g_main_context_invoke() would call
       * emit_message() right here, on the pipeline thread, whenever the
       * owner context is the global default one and nobody iterates it at
       * this instant. */
      source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, emit_message, emission, emission_free);
      g_source_set_static_name (source, "[cdviz] pipeline message");
      g_source_attach (source, self->owner_context);
      g_source_unref (source);
    }
}

static void
process (CdvizPipeline *self,
         WorkItem      *item)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  GPtrArray *chain = item->source->chain;

  g_ptr_array_add (messages, g_object_ref (item->message));

  for (guint t = 0; t < chain->len && messages->len > 0; t++)
    {
      CdvizTransformer *transformer = g_ptr_array_index (chain, t);
      g_autoptr(GPtrArray) next = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint m = 0; m < messages->len; m++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GPtrArray) out = NULL;

          out = cdviz_transformer_transform (transformer, g_ptr_array_index (messages, m), &error);
          if (out == NULL)
            {
              COUNT (self->rejected);
              g_debug ("Source %s: transformer %s rejected event %s: %s",
                       item->source->name, G_OBJECT_TYPE_NAME (transformer),
                       cdviz_message_get_id (item->message) ?: "(no id)",
                       error ? error->message : "no reason given");
              if (item->task != NULL)
                g_task_return_new_error (item->task, CDVIZ_PIPELINE_ERROR,
                                         CDVIZ_PIPELINE_ERROR_REJECTED, "%s",
                                         error ? error->message : _("rejected by a transformer"));
              return;
            }
          for (guint k = 0; k < out->len; k++)
            g_ptr_array_add (next, g_object_ref (g_ptr_array_index (out, k)));
        }
      g_ptr_array_unref (messages);
      messages = g_steal_pointer (&next);
    }

  /* Any JSON into a source: a raw message becomes CDEvents only here, after
   * the source's transformers, as in cdviz-collector. */
  if (cdviz_message_is_raw (item->message))
    {
      g_autoptr(GError) error = NULL;

      if (!_cdviz_cdevent_normalize_messages (messages, item->message, &error))
        {
          COUNT (self->rejected);
          g_debug ("Source %s: not a CDEvent after the transformers: %s",
                   item->source->name, error->message);
          if (item->task != NULL)
            g_task_return_new_error (item->task, CDVIZ_PIPELINE_ERROR,
                                     CDVIZ_PIPELINE_ERROR_REJECTED, "%s", error->message);
          return;
        }
    }

  if (messages->len == 0)
    COUNT (self->filtered);
  for (guint m = 0; m < messages->len; m++)
    deliver (self, g_ptr_array_index (messages, m));
  COUNT (self->processed);

  if (item->task != NULL)
    g_task_return_boolean (item->task, TRUE);
}

static void
work_item_free (WorkItem *item)
{
  g_clear_object (&item->message);
  g_clear_object (&item->task);
  g_free (item);
}

static gpointer
pipeline_thread (gpointer data)
{
  CdvizPipeline *self = data;

  for (;;)
    {
      WorkItem *item = g_async_queue_pop (self->queue);

      switch (item->kind)
        {
        case ITEM_MESSAGE:
          /* Out of the queue: the slot is free before the publisher hears
           * back, so an immediate retry cannot be refused spuriously. */
          g_atomic_int_add (&self->pending, -1);
          process (self, item);
          break;
        case ITEM_FLUSH:
          g_mutex_lock (item->lock);
          *item->done = TRUE;
          g_cond_signal (item->cond);
          g_mutex_unlock (item->lock);
          break;
        case ITEM_STOP:
          work_item_free (item);
          return NULL;
        }
      work_item_free (item);
    }
}

/* --- metrics ------------------------------------------------------------ */

static void
pipeline_metrics (GString  *out,
                  gpointer  user_data)
{
  CdvizPipeline *self = user_data;

  g_string_append (out,
                   "# HELP cdviz_pipeline_events_total Events handed to the pipeline, by outcome.\n"
                   "# TYPE cdviz_pipeline_events_total counter\n");
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"accepted\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->accepted));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"refused_full\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->refused));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"rejected\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->rejected));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"filtered\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->filtered));
  g_string_append_printf (out, "cdviz_pipeline_events_total{outcome=\"processed\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER (self->processed));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_length Events waiting in the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_length gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_length %d\n", g_atomic_int_get (&self->pending));
  g_string_append (out,
                   "# HELP cdviz_pipeline_queue_capacity Bound of the pipeline queue.\n"
                   "# TYPE cdviz_pipeline_queue_capacity gauge\n");
  g_string_append_printf (out, "cdviz_pipeline_queue_capacity %u\n", self->capacity);
  g_string_append (out,
                   "# HELP cdviz_sink_messages_total Messages handed to each sink, by outcome.\n"
                   "# TYPE cdviz_sink_messages_total counter\n");
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);

      g_string_append_printf (out, "cdviz_sink_messages_total{sink=\"%s\",outcome=\"sent\"} %" G_GUINT64_FORMAT "\n",
                              entry->name, COUNTER (entry->sent));
      g_string_append_printf (out, "cdviz_sink_messages_total{sink=\"%s\",outcome=\"failed\"} %" G_GUINT64_FORMAT "\n",
                              entry->name, COUNTER (entry->failed));
    }
}

/* --- life cycle --------------------------------------------------------- */

static gboolean
start_components (CdvizPipeline  *self,
                  GError        **error)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      g_autofree char *path = _cdviz_config_join ("sinks", entry->name);

      if (!cdviz_sink_start_sink (entry->sink, self, error))
        {
          g_prefix_error (error, "%s: ", path);
          _cdviz_config_prefix_error (self->config, path, error);
          return FALSE;
        }
    }
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);
      g_autofree char *path = _cdviz_config_join ("sources", entry->name);

      if (entry->source != NULL && !cdviz_source_start_source (entry->source, self, error))
        {
          g_prefix_error (error, "%s: ", path);
          _cdviz_config_prefix_error (self->config, path, error);
          return FALSE;
        }
    }
  return TRUE;
}

static void
stop_sources (CdvizPipeline *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);
      if (entry->source != NULL)
        cdviz_source_stop_source (entry->source);
    }
}

static void
stop_sinks (CdvizPipeline *self)
{
  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      cdviz_sink_stop_sink (entry->sink);
    }
}

/**
 * cdviz_pipeline_check:
 * @self: a #CdvizPipeline that is not running
 * @error: return location for a #GError
 *
 * Starts and stops every sink and source without listening, which finds
 * conflicts only visible then (two components claiming the same route).
 * Used by `cdviz-pipeline config --check`.
 *
 * Returns: %TRUE if the pipeline could start
 */
gboolean
cdviz_pipeline_check (CdvizPipeline  *self,
                      GError        **error)
{
  gboolean ok;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  ok = start_components (self, error);
  stop_sources (self);
  stop_sinks (self);
  /* Routes registered by the dry run must not linger. */
  g_clear_object (&self->http);
  {
    g_autoptr(GError) ignored = NULL;
    JsonObject *root = json_node_get_object (cdviz_config_get_root (self->config));
    build_http (self, root, &ignored);
  }
  return ok;
}

/**
 * cdviz_pipeline_start:
 * @self: a #CdvizPipeline
 * @error: return location for a #GError
 *
 * Starts the sinks, the sources, the HTTP server and the pipeline thread.
 * The [signal@Pipeline::message] signal is emitted on the calling thread's
 * thread-default main context.
 *
 * Returns: %TRUE on success; on failure nothing is left running
 */
gboolean
cdviz_pipeline_start (CdvizPipeline  *self,
                      GError        **error)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);

  if (self->started)
    return TRUE;

  self->owner_context = g_main_context_ref_thread_default ();
  cdviz_http_server_add_metrics_func (self->http, pipeline_metrics, self, NULL);

  if (!start_components (self, error))
    {
      stop_sources (self);
      stop_sinks (self);
      return FALSE;
    }

  g_atomic_int_set (&self->running, TRUE);
  self->worker = g_thread_new ("cdviz-pipeline", pipeline_thread, self);
  self->started = TRUE;

  if (!cdviz_http_server_start (self->http, error))
    {
      cdviz_pipeline_stop (self);
      return FALSE;
    }

  cdviz_http_server_set_ready (self->http, TRUE);
  g_info ("Listening on %s://%s:%u", cdviz_http_server_is_tls (self->http) ? "https" : "http",
          cdviz_http_server_get_host (self->http),
          cdviz_http_server_get_port (self->http));
  return TRUE;
}

/**
 * cdviz_pipeline_stop:
 * @self: a #CdvizPipeline
 *
 * Stops the sources, processes every message already accepted, stops the
 * sinks and the HTTP server. Safe to call more than once.
 */
void
cdviz_pipeline_stop (CdvizPipeline *self)
{
  WorkItem *item;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));

  if (!self->started)
    return;
  self->started = FALSE;

  if (self->http != NULL)
    cdviz_http_server_set_ready (self->http, FALSE);
  stop_sources (self);

  g_atomic_int_set (&self->running, FALSE);
  item = g_new0 (WorkItem, 1);
  item->kind = ITEM_STOP;
  g_async_queue_push (self->queue, item);
  g_thread_join (g_steal_pointer (&self->worker));

  stop_sinks (self);
  if (self->http != NULL)
    cdviz_http_server_stop (self->http);
}

/**
 * cdviz_pipeline_is_running:
 * @self: a #CdvizPipeline
 *
 * Tells whether the pipeline was started and not stopped.
 *
 * Returns: whether the pipeline accepts messages
 */
gboolean
cdviz_pipeline_is_running (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  return g_atomic_int_get (&self->running);
}

/* --- pushing ------------------------------------------------------------ */

static gboolean
enqueue (CdvizPipeline  *self,
         SourceEntry    *source,
         CdvizMessage   *message,
         GTask          *task,
         GError        **error)
{
  WorkItem *item;

  if (!g_atomic_int_get (&self->running))
    {
      g_set_error_literal (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING,
                           _("the pipeline is not running"));
      return FALSE;
    }
  if ((guint) g_atomic_int_add (&self->pending, 1) >= self->capacity)
    {
      g_atomic_int_add (&self->pending, -1);
      COUNT (self->refused);
      g_debug ("Pipeline queue full (%u): refusing an event from %s",
               self->capacity, source->name);
      g_set_error (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL,
                   _("the pipeline queue is full (%u events)"), self->capacity);
      return FALSE;
    }

  COUNT (self->accepted);
  item = g_new0 (WorkItem, 1);
  item->kind = ITEM_MESSAGE;
  item->source = source;
  item->message = g_object_ref (message);
  item->task = task ? g_object_ref (task) : NULL;
  g_async_queue_push (self->queue, item);
  return TRUE;
}

static SourceEntry *
find_source (CdvizPipeline *self,
             CdvizSource   *source)
{
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);
      if (entry->source == source)
        return entry;
    }
  return NULL;
}

/**
 * cdviz_pipeline_get_source_name:
 * @self: a #CdvizPipeline
 * @source: a source of @self
 *
 * Gets the name under which @source was configured.
 *
 * Returns: (nullable): the name of @source in the configuration
 */
const char *
cdviz_pipeline_get_source_name (CdvizPipeline *self,
                                CdvizSource   *source)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  entry = find_source (self, source);
  return entry ? entry->name : NULL;
}

/**
 * cdviz_pipeline_get_sink_name:
 * @self: a #CdvizPipeline
 * @sink: a sink of @self
 *
 * Gets the name under which @sink was configured.
 *
 * Returns: (nullable): the name of @sink in the configuration
 */
const char *
cdviz_pipeline_get_sink_name (CdvizPipeline *self,
                              CdvizSink     *sink)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);

  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      if (entry->sink == sink)
        return entry->name;
    }
  return NULL;
}

/**
 * cdviz_pipeline_get_sink:
 * @self: a #CdvizPipeline
 * @name: a sink name (`[sinks.NAME]`)
 *
 * Looks up an enabled sink by its name in the configuration.
 *
 * Returns: (transfer none) (nullable): the enabled sink called @name
 */
CdvizSink *
cdviz_pipeline_get_sink (CdvizPipeline *self,
                         const char    *name)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);

  for (guint i = 0; i < self->sinks->len; i++)
    {
      SinkEntry *entry = g_ptr_array_index (self->sinks, i);
      if (g_str_equal (entry->name, name))
        return entry->sink;
    }
  return NULL;
}

/**
 * cdviz_pipeline_push_async:
 * @self: a #CdvizPipeline
 * @source: the source @message comes from
 * @message: the message
 * @cancellable: (nullable): not used yet
 * @callback: (scope async) (closure user_data): called, on the caller's
 *   thread-default main context, once the message went through the
 *   transformers and reached every sink (or was rejected)
 * @user_data: data for @callback
 *
 * Hands @message over to the pipeline. This never blocks: when the queue is
 * full, @callback gets %CDVIZ_PIPELINE_ERROR_FULL at once.
 */
void
cdviz_pipeline_push_async (CdvizPipeline       *self,
                           CdvizSource         *source,
                           CdvizMessage        *message,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  SourceEntry *entry;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));
  g_return_if_fail (CDVIZ_IS_SOURCE (source));
  g_return_if_fail (CDVIZ_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdviz_pipeline_push_async);

  entry = find_source (self, source);
  if (entry == NULL)
    {
      g_task_return_new_error (task, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
                               _("this source is not part of the pipeline"));
      return;
    }
  if (!enqueue (self, entry, message, task, &error))
    g_task_return_error (task, g_steal_pointer (&error));
}

/**
 * cdviz_pipeline_push_finish:
 * @self: a #CdvizPipeline
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@Pipeline.push_async].
 *
 * Returns: %TRUE if the message was processed and delivered (or dropped by a
 *   filter); %FALSE with %CDVIZ_PIPELINE_ERROR_FULL, _REJECTED or
 *   _NOT_RUNNING
 */
gboolean
cdviz_pipeline_push_finish (CdvizPipeline  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * cdviz_pipeline_push:
 * @self: a #CdvizPipeline
 * @source_name: the name of a source in the configuration (`[sources.NAME]`)
 * @message: the message
 * @error: return location for a #GError
 *
 * Hands @message over to the pipeline as if @source_name had received it,
 * without waiting for it to be processed (see [method@Pipeline.flush]).
 * Callable from any thread.
 *
 * Returns: %TRUE if the message was accepted
 */
gboolean
cdviz_pipeline_push (CdvizPipeline  *self,
                     const char     *source_name,
                     CdvizMessage   *message,
                     GError        **error)
{
  SourceEntry *entry;

  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (source_name != NULL, FALSE);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), FALSE);

  entry = g_hash_table_lookup (self->sources_by_name, source_name);
  if (entry == NULL)
    {
      g_set_error (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
                   _("no enabled source named “%s”"), source_name);
      return FALSE;
    }
  return enqueue (self, entry, message, NULL, error);
}

/**
 * cdviz_pipeline_flush:
 * @self: a #CdvizPipeline
 *
 * Blocks until every message accepted before the call has been delivered to
 * the sinks. Does nothing when the pipeline is not running.
 */
void
cdviz_pipeline_flush (CdvizPipeline *self)
{
  GMutex lock;
  GCond cond;
  gboolean done = FALSE;
  WorkItem *item;

  g_return_if_fail (CDVIZ_IS_PIPELINE (self));

  if (!g_atomic_int_get (&self->running))
    return;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  item = g_new0 (WorkItem, 1);
  item->kind = ITEM_FLUSH;
  item->lock = &lock;
  item->cond = &cond;
  item->done = &done;
  g_async_queue_push (self->queue, item);

  g_mutex_lock (&lock);
  while (!done)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
}

/**
 * cdviz_pipeline_get_http_server:
 * @self: a #CdvizPipeline
 *
 * Gets the HTTP server of the pipeline. With `port = 0`, its port is known
 * once the pipeline started.
 *
 * Returns: (transfer none): the HTTP server (`[http]`)
 */
CdvizHttpServer *
cdviz_pipeline_get_http_server (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  return self->http;
}

/**
 * cdviz_pipeline_get_config:
 * @self: a #CdvizPipeline
 *
 * Gets the configuration the pipeline was built from.
 *
 * Returns: (transfer none): the configuration
 */
CdvizConfig *
cdviz_pipeline_get_config (CdvizPipeline *self)
{
  g_return_val_if_fail (CDVIZ_IS_PIPELINE (self), NULL);
  return self->config;
}

/* --- describing the configuration --------------------------------------- */

/* Markdown table cells: no pipes, no line breaks. */
static void
append_cell (GString    *out,
             const char *text)
{
  g_string_append (out, " ");
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '|')
        g_string_append (out, "\\|");
      else if (*p == '\n')
        g_string_append_c (out, ' ');
      else
        g_string_append_c (out, *p);
    }
  g_string_append (out, " |");
}

static void
append_row (GString    *out,
            const char *key,
            const char *type,
            const char *default_value,
            const char *blurb)
{
  g_autofree char *quoted = g_strdup_printf ("`%s`", key);

  g_string_append (out, "|");
  append_cell (out, quoted);
  append_cell (out, type);
  append_cell (out, default_value);
  append_cell (out, blurb);
  g_string_append_c (out, '\n');
}

static void
append_table_head (GString *out)
{
  g_string_append (out, "| key | type | default | description |\n"
                        "| --- | --- | --- | --- |\n");
}

static void
append_key_docs (GString            *out,
                 const char * const *keys,
                 const KeyDoc       *docs)
{
  append_table_head (out);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const KeyDoc *doc = NULL;

      for (guint j = 0; docs[j].key != NULL; j++)
        if (g_str_equal (docs[j].key, keys[i]))
          doc = &docs[j];
      if (doc != NULL)
        append_row (out, keys[i], doc->type, doc->default_value, doc->blurb);
      else
        append_row (out, keys[i], "?", "?", "(undocumented)");
    }
}

static char *
format_duration (guint64 ms)
{
  if (ms == 0)
    return g_strdup ("`0`");
  if (ms % 1000 != 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "ms\"`", ms);
  if (ms % (3600 * 1000) == 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "h\"`", ms / (3600 * 1000));
  if (ms % (60 * 1000) == 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "m\"`", ms / (60 * 1000));
  return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "s\"`", ms / 1000);
}

/* An integer range, leaving out the bounds of the C type itself. */
static char *
format_range (gint64   minimum,
              guint64  maximum,
              gboolean min_is_type_bound,
              gboolean max_is_type_bound)
{
  if (min_is_type_bound && max_is_type_bound)
    return g_strdup ("integer");
  if (max_is_type_bound)
    return g_strdup_printf ("integer ≥ %" G_GINT64_FORMAT, minimum);
  return g_strdup_printf ("integer (%" G_GINT64_FORMAT "–%" G_GUINT64_FORMAT ")",
                          minimum, maximum);
}

static void
describe_pspec (GParamSpec  *pspec,
                char       **out_type,
                char       **out_default)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  const GValue *def = g_param_spec_get_default_value (pspec);

  if (g_param_spec_get_qdata (pspec, g_quark_from_static_string ("cdviz-duration")) != NULL)
    {
      GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
      g_autofree char *lo = format_duration (spec->minimum);
      g_autofree char *hi = format_duration (spec->maximum);

      if (spec->maximum >= G_MAXUINT32 && spec->minimum == 0)
        *out_type = g_strdup ("duration");
      else if (spec->maximum >= G_MAXUINT32)
        *out_type = g_strdup_printf ("duration ≥ %s", lo);
      else
        *out_type = g_strdup_printf ("duration (%s–%s)", lo, hi);
      *out_default = format_duration (spec->default_value);
      return;
    }

  if (type == G_TYPE_STRV)
    {
      *out_type = g_strdup ("array of strings");
      *out_default = g_strdup ("`[]`");
      return;
    }
  if (G_TYPE_IS_BOXED (type))
    {
      *out_type = g_strdup ("table");
      *out_default = g_strdup ("—");
      return;
    }

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN:
      *out_type = g_strdup ("boolean");
      *out_default = g_strdup (g_value_get_boolean (def) ? "`true`" : "`false`");
      return;
    case G_TYPE_STRING:
      *out_type = g_strdup ("string");
      *out_default = g_value_get_string (def) != NULL
                     ? g_strdup_printf ("`\"%s\"`", g_value_get_string (def))
                     : g_strdup ("—");
      return;
    case G_TYPE_INT:
      {
        GParamSpecInt *spec = G_PARAM_SPEC_INT (pspec);
        *out_type = format_range (spec->minimum, (guint64) MAX (spec->maximum, 0),
                                  spec->minimum == G_MININT, spec->maximum == G_MAXINT);
        *out_default = g_strdup_printf ("`%d`", spec->default_value);
        return;
      }
    case G_TYPE_UINT:
      {
        GParamSpecUInt *spec = G_PARAM_SPEC_UINT (pspec);
        *out_type = format_range (spec->minimum, spec->maximum, spec->minimum == 0,
                                  spec->maximum == G_MAXUINT);
        *out_default = g_strdup_printf ("`%u`", spec->default_value);
        return;
      }
    case G_TYPE_INT64:
      {
        GParamSpecInt64 *spec = G_PARAM_SPEC_INT64 (pspec);
        *out_type = format_range (spec->minimum, (guint64) MAX (spec->maximum, 0),
                                  spec->minimum == G_MININT64, spec->maximum == G_MAXINT64);
        *out_default = g_strdup_printf ("`%" G_GINT64_FORMAT "`", spec->default_value);
        return;
      }
    case G_TYPE_UINT64:
      {
        GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
        *out_type = format_range ((gint64) spec->minimum, spec->maximum, spec->minimum == 0,
                                  spec->maximum == G_MAXUINT64);
        *out_default = g_strdup_printf ("`%" G_GUINT64_FORMAT "`", spec->default_value);
        return;
      }
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        *out_type = g_strdup ("number");
        *out_default = g_strdup_printf ("`%s`",
          g_ascii_dtostr (buf, sizeof buf, G_PARAM_SPEC_DOUBLE (pspec)->default_value));
        return;
      }
    case G_TYPE_ENUM:
      {
        GParamSpecEnum *spec = G_PARAM_SPEC_ENUM (pspec);
        GEnumValue *dv = g_enum_get_value (spec->enum_class, spec->default_value);
        GString *names = g_string_new ("one of ");

        for (guint i = 0; i < spec->enum_class->n_values; i++)
          g_string_append_printf (names, "%s`\"%s\"`", i ? ", " : "",
                                  spec->enum_class->values[i].value_nick);
        *out_type = g_string_free (names, FALSE);
        *out_default = g_strdup_printf ("`\"%s\"`", dv ? dv->value_nick : "");
        return;
      }
    default:
      *out_type = g_strdup (g_type_name (type));
      *out_default = g_strdup ("—");
      return;
    }
}

static void
describe_type (GString            *out,
               CdvizComponentKind  kind,
               const char         *name,
               GType               type)
{
  static const char * const headings[] = {
    [CDVIZ_COMPONENT_SOURCE] = "Source",
    [CDVIZ_COMPONENT_TRANSFORMER] = "Transformer",
    [CDVIZ_COMPONENT_SINK] = "Sink",
  };
  static const char * const tables[] = {
    [CDVIZ_COMPONENT_SOURCE] = "sources.NAME.extractor",
    [CDVIZ_COMPONENT_TRANSFORMER] = "transformers.NAME",
    [CDVIZ_COMPONENT_SINK] = "sinks.NAME",
  };
  g_autoptr(GTypeClass) klass = g_type_class_ref (type);
  g_autofree GParamSpec **pspecs = NULL;
  gboolean any = FALSE;
  guint n;

  g_string_append_printf (out, "### %s `%s`: `[%s] type = \"%s\"`\n\n",
                          headings[kind], name, tables[kind], name);

  pspecs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = NULL;
      g_autofree char *type_text = NULL;
      g_autofree char *default_text = NULL;
      const char *blurb;

      if (!(pspecs[i]->flags & G_PARAM_WRITABLE) || pspecs[i]->owner_type == G_TYPE_OBJECT)
        continue;
      if (!any)
        append_table_head (out);
      any = TRUE;
      key = g_strdelimit (g_strdup (pspecs[i]->name), "-", '_');
      describe_pspec (pspecs[i], &type_text, &default_text);
      blurb = g_param_spec_get_blurb (pspecs[i]);
      append_row (out, key, type_text, default_text,
                  blurb != NULL && *blurb != '\0' ? blurb : "(undocumented)");
    }
  if (!any)
    g_string_append (out, "No keys besides `type`.\n");
  g_string_append_c (out, '\n');
}

/**
 * cdviz_pipeline_describe_configuration:
 * @registry: (nullable): where component types are looked up; %NULL for the
 *   default registry
 *
 * Describes every configuration section and every key of every component
 * type registered in @registry (built-ins, loaded plugins, Python classes),
 * as Markdown: key, type, default and the property's blurb. This is what
 * `cdviz-pipeline config --describe` prints and what the reference in
 * `doc/configuration.md` is generated from.
 *
 * Returns: (transfer full): the description, in Markdown
 */
char *
cdviz_pipeline_describe_configuration (CdvizRegistry *registry)
{
  static const char * const kind_titles[] = {
    [CDVIZ_COMPONENT_SOURCE] = "Source types (`[sources.NAME.extractor]`)",
    [CDVIZ_COMPONENT_TRANSFORMER] = "Transformer types (`[transformers.NAME]`)",
    [CDVIZ_COMPONENT_SINK] = "Sink types (`[sinks.NAME]`)",
  };
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (registry == NULL || CDVIZ_IS_REGISTRY (registry), NULL);
  if (registry == NULL)
    registry = cdviz_registry_get_default ();

  g_string_append (out, "## Sections\n\n"
                        "### `[http]`: the HTTP server\n\n");
  append_key_docs (out, http_keys, key_docs_http);
  g_string_append (out, "\n### `[pipeline]`\n\n");
  append_key_docs (out, pipeline_keys, key_docs_pipeline);
  g_string_append (out, "\n### `[sources.NAME]`\n\n");
  append_key_docs (out, source_keys, key_docs_source);
  g_string_append (out, "\n### `[transformers.NAME]`\n\n");
  append_table_head (out);
  append_row (out, "type", "string", "(required)",
              "A transformer type (below); its other keys are the type's");
  g_string_append (out, "\n### `[sinks.NAME]`\n\n");
  append_table_head (out);
  append_row (out, "enabled", "boolean", "`true`",
              "A disabled sink is skipped (its other keys are not checked)");
  append_row (out, "type", "string", "(required)",
              "A sink type (below); its other keys are the type's");
  g_string_append_c (out, '\n');

  for (CdvizComponentKind kind = CDVIZ_COMPONENT_SOURCE; kind <= CDVIZ_COMPONENT_SINK; kind++)
    {
      g_auto(GStrv) names = cdviz_registry_list_types (registry, kind);

      g_string_append_printf (out, "## %s\n\n", kind_titles[kind]);
      for (guint i = 0; names[i] != NULL; i++)
        describe_type (out, kind, names[i], cdviz_registry_lookup (registry, kind, names[i]));
    }

  /* One trailing newline. */
  while (out->len > 1 && out->str[out->len - 1] == '\n' && out->str[out->len - 2] == '\n')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}
