/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-pipeline-private.h"
#include "cdviz-config-private.h"

/* Building a pipeline's parts from its configuration: the `[http]` server,
 * `[pipeline]`, and one component per table of `[transformers]`,
 * `[sources]` and `[sinks]`, walked by foreach_table(). Every error is a
 * %CDVIZ_CONFIG_ERROR naming the file, line and key. */

static const char * const top_level_keys[] = {
  "http", "pipeline", "sources", "transformers", "sinks", "state", "remote", NULL
};

/* The keys of the fixed sections, with what `cdviz-pipeline config
 * --describe` (and so doc/configuration.md) says about them: key, type,
 * default, description. The builder accepts exactly these keys. */
static const CdvizKeyDoc http_docs[] = {
  { "host", "string", "`\"0.0.0.0\"` (`\"127.0.0.1\"` without `--config`)",
    "Address to listen on: an IP address (`0.0.0.0`, `::` for every interface) or a host name; "
    "the start-up log line “Listening on …” shows it" },
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
  { "threads", "integer (1–64)", "`1`",
    "HTTP threads serving requests: the first accepts every connection and hands each to the "
    "thread with the fewest. More than one needs every route's handlers to be thread-safe (the "
    "`webhook` sources' and `sse` sinks' are; a Python component's route must say so with "
    "`set_thread_safe()`), else the pipeline does not start" },
  { "max_headers", "integer (0–100000)", "`100`",
    "Header fields of a request at most; more are answered 431; 0 = no limit" },
  { "max_header_size", "integer (0–1048576)", "`65536`",
    "Total bytes of a request's header fields at most; more are answered 431; 0 = no limit. "
    "libsoup drops connections whose request head exceeds 64 KiB whatever the setting" },
  /* cdviz-collector's, checked in cdviz-pipeline-compat.c */
  { "root_url", "string (URL)", "none",
    "The server's public URL: an event that comes out of source NAME's transformers without "
    "`context.source` gets `ROOT_URL?source=NAME`, as in cdviz-collector (whose default is "
    "`http://cdviz-collector.example.com`); without it, `http://HOST:PORT/?source=NAME`" },
  { "request_timeout", "duration", "none",
    "A request whose body is not in this long after its headers is answered 408 (empty body) "
    "and its connection closed, as cdviz-collector answers (its default is 3s); the handlers "
    "here answer without waiting, so the body is what it bounds. Without it, `body_timeout` "
    "disconnects slow clients without an answer" },
  { "access_log", "table", "`{ filter = [\"4xx\", \"5xx\"] }`",
    "`filter`: the answers logged, one line each, as cdviz-collector's access log: status "
    "codes (`\"404\"`) or classes (`\"4xx\"`); `[]` logs none. A line reads "
    "`access http_status=404 method=GET uri=/x elapsed_ms=0 content_length=- "
    "content_encoding=- transfer_encoding=- expect=-`; answers given before a request's "
    "headers are parsed (400 for ambiguous framing, 431) are not logged" },
  { NULL }
};
static const CdvizKeyDoc pipeline_docs[] = {
  { "queue_capacity", "integer (1–16777216)", "`1024`",
    "Events accepted but not yet processed; beyond it webhooks answer 503 with Retry-After" },
  { "transformer_refs", "array of strings", "`[]`",
    "Names of `[transformers.NAME]` applied to every source's events, after the source's own "
    "`transformer_refs` (as cdviz-collector appends them)" },
  { NULL }
};
static const CdvizKeyDoc source_docs[] = {
  { "enabled", "boolean", "`false`",
    "A disabled source is skipped (its other keys are not checked). As in cdviz-collector, "
    "a source without this key is disabled, with a warning at start" },
  { "extractor", "table", "`{ type = \"noop\" }`",
    "Where events come from: `{ type = \"webhook\", id = … }` (see the source types); "
    "without it the source produces nothing (cdviz-collector's `noop`) and is fed only "
    "through the API" },
  { "transformer_refs", "array of strings", "`[]`",
    "Names of `[transformers.NAME]` applied in order to this source's events" },
  { NULL }
};

static const CdvizKeyDoc transformer_docs[] = {
  { "type", "string", "(required)", "A transformer type (below); its other keys are the type's" },
  { NULL }
};
static const CdvizKeyDoc sink_docs[] = {
  { "enabled", "boolean", "`true`", "A disabled sink is skipped (its other keys are not checked)" },
  { "type", "string", "(required)", "A sink type (below); its other keys are the type's" },
  { "source_refs", "array of strings", "every source",
    "Names of `[sources.NAME]` whose events this sink receives; a disabled source "
    "may be named (it sends nothing), an unknown one is an error" },
  { "transformer_refs", "array of strings", "`[]`",
    "Names of `[transformers.NAME]` applied, for this sink only, to each event it receives, "
    "as cdviz-collector's debug and http sinks do: they see the event as `.body`, its headers, "
    "an empty `.metadata`; their outputs are sent as they are (any JSON, e.g. a chat "
    "message), not checked as CDEvents" },
  { NULL }
};

const CdvizSectionDoc _cdviz_section_docs[] = {
  { "http", ": the HTTP server", http_docs },
  { "pipeline", "", pipeline_docs },
  { "sources.NAME", "", source_docs },
  { "transformers.NAME", "", transformer_docs },
  { "sinks.NAME", "", sink_docs },
  { "state", ": cdviz-collector's state store", _cdviz_state_docs },
  { "remote.NAME", ": files fetched over HTTP(S) for `_rfile` keys", _cdviz_remote_docs },
  { NULL }
};

void
_cdviz_source_entry_free (gpointer data)
{
  SourceEntry *entry = data;

  g_clear_object (&entry->source);
  g_clear_pointer (&entry->chain, g_ptr_array_unref);
  g_free (entry->default_source);
  g_free (entry->name);
  g_free (entry);
}

void
_cdviz_sink_entry_free (gpointer data)
{
  SinkEntry *entry = data;

  g_clear_object (&entry->sink);
  g_clear_pointer (&entry->sources, g_hash_table_unref);
  g_clear_pointer (&entry->chain, g_ptr_array_unref);
  g_free (entry->name);
  g_free (entry);
}

/* Checks @table's members against the keys of @docs. */
static gboolean
check_keys (CdvizPipeline     *self,
            const char        *path,
            JsonObject        *table,
            const CdvizKeyDoc *docs,
            GError           **error)
{
  const char *allowed[32];
  guint n;

  for (n = 0; docs[n].key != NULL; n++)
    {
      g_assert (n < G_N_ELEMENTS (allowed) - 1);
      allowed[n] = docs[n].key;
    }
  allowed[n] = NULL;
  return _cdviz_config_check_keys (self->config, path, table, allowed, error);
}

/* @key of @parent (at @parent_path) as a table: %TRUE with *@out NULL when
 * there is no such key; %FALSE when it is not a table. */
static gboolean
get_table (CdvizConfig  *config,
           JsonObject   *parent,
           const char   *parent_path,
           const char   *key,
           JsonObject  **out,
           GError      **error)
{
  JsonNode *node = json_object_get_member (parent, key);
  g_autofree char *path = parent_path ? _cdviz_config_join (parent_path, key)
                                      : g_strdup (key);

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *where = _cdviz_config_describe (config, path);
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: expected a table"), where, path);
      return FALSE;
    }
  *out = json_node_get_object (node);
  return TRUE;
}

/* Builds one `[SECTION.NAME]` table at @path. */
typedef gboolean (*BuildOne) (CdvizPipeline  *self,
                              const char     *name,
                              const char     *path,
                              JsonObject     *table,
                              GError        **error);

/* The errors of one build, so that `config --check` lists them all: one per
 * component or fixed section (its first), section by section (the top
 * level, `[http]`, `[state]`, `[pipeline]`, transformers, sources, sinks,
 * each in the file's order), those naming a component type no plugin
 * provides last (often only a missing plugin; the others are worth fixing
 * first). */
typedef struct {
  GPtrArray *errors;            /* (owned) GError */
  GPtrArray *late;              /* (owned) GError: CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE */
} BuildErrors;

/* Moves *@error (if set) into @errors. */
static void
collect (BuildErrors  *errors,
         GError      **error)
{
  GError *e = g_steal_pointer (error);

  if (e == NULL)
    return;
  if (g_error_matches (e, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE))
    g_ptr_array_add (errors->late, e);
  else
    g_ptr_array_add (errors->errors, e);
}

/* %TRUE without errors; else sets @error to the only one, or to a
 * %CDVIZ_CONFIG_ERROR_SEVERAL listing them one per line (a message's own
 * further lines indented). */
static gboolean
report (BuildErrors  *errors,
        GError      **error)
{
  g_autoptr(GString) text = NULL;

  while (errors->late->len > 0)
    g_ptr_array_add (errors->errors, g_ptr_array_steal_index (errors->late, 0));
  if (errors->errors->len == 0)
    return TRUE;
  if (errors->errors->len == 1)
    {
      g_propagate_error (error, g_ptr_array_steal_index (errors->errors, 0));
      return FALSE;
    }

  text = g_string_new (NULL);
  for (guint i = 0; i < errors->errors->len; i++)
    {
      g_auto(GStrv) lines = g_strsplit (((GError *) errors->errors->pdata[i])->message, "\n", -1);

      for (guint j = 0; lines[j] != NULL; j++)
        g_string_append_printf (text, "%s%s%s", text->len > 0 ? "\n" : "",
                                j > 0 ? "  " : "", lines[j]);
    }
  g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_SEVERAL, text->str);
  return FALSE;
}

/* Calls @build_one on every table of the `[@section]` table, if any,
 * collecting their errors. */
static void
foreach_table (CdvizPipeline  *self,
               JsonObject     *root,
               const char     *section,
               BuildOne        build_one,
               BuildErrors    *errors)
{
  g_autoptr(GList) names = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *tables;

  if (!get_table (self->config, root, NULL, section, &tables, &error))
    collect (errors, &error);
  if (tables == NULL)
    return;

  names = json_object_get_members (tables);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      g_autofree char *path = _cdviz_config_join (section, name);
      JsonObject *table;

      if (!get_table (self->config, tables, section, name, &table, &error) ||
          !build_one (self, name, path, table, &error))
        collect (errors, &error);
    }
}

/* `enabled` (@default_value when absent) of a source or sink table; @what and @name say
 * which in the debug log. */
static gboolean
is_enabled (CdvizPipeline  *self,
            gboolean        default_value,
            const char     *what,
            const char     *name,
            const char     *path,
            JsonObject     *table,
            gboolean       *enabled,
            GError        **error)
{
  if (!_cdviz_config_get_bool (self->config, path, table, "enabled", default_value, enabled,
                               error))
    return FALSE;
  if (!*enabled)
    g_debug ("%s %s is disabled", what, name);
  return TRUE;
}

static GParamSpec *
pspec (GTypeClass *klass,
       const char *name)
{
  GParamSpec *spec = g_object_class_find_property (G_OBJECT_CLASS (klass), name);

  g_assert (spec != NULL);
  return spec;
}

gboolean
_cdviz_pipeline_build_http (CdvizPipeline  *self,
                            GError        **error)
{
  JsonObject *root = json_node_get_object (cdviz_config_get_root (self->config));
  JsonObject *http;
  /* The defaults are the server's own (its properties'). */
  g_autoptr(GTypeClass) klass = g_type_class_ref (CDVIZ_TYPE_HTTP_SERVER);
  const char *host = G_PARAM_SPEC_STRING (pspec (klass, "host"))->default_value;
  const char *certificate_path = NULL, *key_path = NULL, *tls_min_version = NULL;
  const char *root_url = NULL;
  guint64 request_timeout = 0;
  g_auto(GStrv) access_log_filter = NULL;
  gint64 port = G_PARAM_SPEC_UINT (pspec (klass, "port"))->default_value;
  gint64 max_connections = G_PARAM_SPEC_UINT (pspec (klass, "max-connections"))->default_value;
  gint64 threads = G_PARAM_SPEC_UINT (pspec (klass, "threads"))->default_value;
  gint64 max_headers = G_PARAM_SPEC_UINT (pspec (klass, "max-headers"))->default_value;
  gint64 max_header_size = G_PARAM_SPEC_UINT (pspec (klass, "max-header-size"))->default_value;
  guint64 header_timeout = G_PARAM_SPEC_UINT64 (pspec (klass, "header-timeout"))->default_value;
  guint64 body_timeout = G_PARAM_SPEC_UINT64 (pspec (klass, "body-timeout"))->default_value;
  guint64 idle_timeout = G_PARAM_SPEC_UINT64 (pspec (klass, "idle-timeout"))->default_value;
  g_autoptr(GTlsCertificate) certificate = NULL;

  if (!get_table (self->config, root, NULL, "http", &http, error))
    return FALSE;
  if (http != NULL)
    {
      if (!check_keys (self, "http", http, http_docs, error) ||
          !_cdviz_config_get_string (self->config, "http", http, "host", FALSE, &host, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "port", 0, 65535, port, &port, error) ||
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
          !_cdviz_config_get_int (self->config, "http", http, "threads", 1, 64,
                                  threads, &threads, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "max_headers", 0, 100000,
                                  max_headers, &max_headers, error) ||
          !_cdviz_config_get_int (self->config, "http", http, "max_header_size", 0, 1048576,
                                  max_header_size, &max_header_size, error) ||
          !_cdviz_pipeline_check_http_compat (self, http, &root_url, &request_timeout,
                                              &access_log_filter, error))
        return FALSE;
      if (host == NULL)
        host = G_PARAM_SPEC_STRING (pspec (klass, "host"))->default_value;
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

  self->http = g_object_new (CDVIZ_TYPE_HTTP_SERVER,
                             "host", host,
                             "port", (guint) port,
                             "tls-certificate", certificate,
                             "tls-min-version",
                             tls_min_version != NULL && g_str_equal (tls_min_version, "1.3")
                             ? G_TLS_PROTOCOL_VERSION_TLS_1_3 : G_TLS_PROTOCOL_VERSION_TLS_1_2,
                             "header-timeout", header_timeout,
                             "body-timeout", body_timeout,
                             "idle-timeout", idle_timeout,
                             "max-connections", (guint) max_connections,
                             "threads", (guint) threads,
                             "max-headers", (guint) max_headers,
                             "max-header-size", (guint) max_header_size,
                             "root-url", root_url,
                             "request-timeout", request_timeout,
                             "access-log-filter", access_log_filter,
                             NULL);
  return TRUE;
}

static gboolean
build_transformer (CdvizPipeline  *self,
                   const char     *name,
                   const char     *path,
                   JsonObject     *table,
                   GError        **error)
{
  GObject *object = _cdviz_config_create_component (self->config, self->registry,
                                                    CDVIZ_COMPONENT_TRANSFORMER,
                                                    path, table, NULL, error);

  if (object == NULL)
    return FALSE;
  g_hash_table_insert (self->transformers, g_strdup (name), object);
  return TRUE;
}

/* Whether the configuration has a `[@section.@name]`. */
static gboolean
is_configured (CdvizPipeline *self,
               const char    *section,
               const char    *name)
{
  JsonObject *root = json_node_get_object (cdviz_config_get_root (self->config));
  JsonNode *tables = json_object_get_member (root, section);

  return tables != NULL && JSON_NODE_HOLDS_OBJECT (tables) &&
         json_object_has_member (json_node_get_object (tables), name);
}

/* The transformers named by `transformer_refs`, in order, into @chain. */
static gboolean
resolve_transformer_refs (CdvizPipeline  *self,
                          const char     *path,
                          JsonObject     *table,
                          GPtrArray      *chain,
                          GError        **error)
{
  JsonNode *refs = json_object_get_member (table, "transformer_refs");
  g_autofree char *refs_path = _cdviz_config_join (path, "transformer_refs");
  JsonArray *array;

  if (refs == NULL)
    return TRUE;
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
      if (transformer == NULL && is_configured (self, "transformers", json_node_get_string (ref)))
        continue;             /* it failed to build: its own error says why */
      if (transformer == NULL)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
                       _("%s: key “%s”: no transformer named “%s” (define [transformers.%s])"),
                       where, refs_path, json_node_get_string (ref),
                       json_node_get_string (ref));
          return FALSE;
        }
      g_ptr_array_add (chain, g_object_ref (transformer));
    }
  return TRUE;
}

static gboolean
build_source (CdvizPipeline  *self,
              const char     *name,
              const char     *path,
              JsonObject     *table,
              GError        **error)
{
  JsonObject *extractor;
  SourceEntry *entry;
  gboolean enabled;

  if (!check_keys (self, path, table, source_docs, error) ||
      !is_enabled (self, FALSE, "Source", name, path, table, &enabled, error))
    return FALSE;
  if (!json_object_has_member (table, "enabled"))
    {
      g_autofree char *where = _cdviz_config_describe (self->config, path);

      /* cdviz-collector's default: a file written for it behaves the same. */
      g_warning (_("%s: %s has no “enabled” key: disabled, as cdviz-collector does; "
                   "add enabled = true"), where, path);
    }
  if (!enabled)
    return TRUE;

  entry = g_new0 (SourceEntry, 1);
  entry->name = g_strdup (name);
  entry->chain = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (self->sources, entry);
  g_hash_table_insert (self->sources_by_name, entry->name, entry);

  if (!resolve_transformer_refs (self, path, table, entry->chain, error) ||
      !get_table (self->config, table, path, "extractor", &extractor, error))
    return FALSE;
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
      g_hash_table_insert (self->sources_by_object, entry->source, entry);
    }
  else
    g_debug ("Source %s has no extractor: it is fed by cdviz_pipeline_push() only", name);
  return TRUE;
}

/* `source_refs` of a sink: the set of SourceEntry it takes events from,
 * into *@sources (left NULL without the key: every source). A name must be
 * a `[sources.NAME]` table; a disabled source is accepted and sends
 * nothing. Sources are built before sinks. */
static gboolean
resolve_source_refs (CdvizPipeline  *self,
                     const char     *path,
                     JsonObject     *table,
                     GHashTable    **sources,
                     GError        **error)
{
  JsonNode *refs = json_object_get_member (table, "source_refs");
  g_autofree char *refs_path = _cdviz_config_join (path, "source_refs");
  g_autoptr(GHashTable) set = NULL;
  JsonArray *array;

  *sources = NULL;
  if (refs == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (refs))
    {
      g_autofree char *where = _cdviz_config_describe (self->config, refs_path);
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: key “%s”: expected an array of source names"), where, refs_path);
      return FALSE;
    }
  set = g_hash_table_new (NULL, NULL);
  array = json_node_get_array (refs);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *ref = json_array_get_element (array, i);
      g_autofree char *elem_path = g_strdup_printf ("%s[%u]", refs_path, i);
      const char *name;
      SourceEntry *source;

      if (json_node_get_value_type (ref) != G_TYPE_STRING)
        {
          g_autofree char *where = _cdviz_config_describe (self->config, elem_path);
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("%s: key “%s”: expected an array of source names"),
                       where, refs_path);
          return FALSE;
        }
      name = json_node_get_string (ref);
      source = g_hash_table_lookup (self->sources_by_name, name);
      if (source != NULL)
        g_hash_table_add (set, source);
      else if (!is_configured (self, "sources", name))
        {
          g_autofree char *where = _cdviz_config_describe (self->config, elem_path);
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
                       _("%s: key “%s”: no source named “%s” (define [sources.%s])"),
                       where, refs_path, name, name);
          return FALSE;
        }
      else
        g_debug ("%s: source %s is disabled: it sends nothing to this sink", refs_path, name);
    }
  *sources = g_steal_pointer (&set);
  return TRUE;
}

static gboolean
build_sink (CdvizPipeline  *self,
            const char     *name,
            const char     *path,
            JsonObject     *table,
            GError        **error)
{
  static const char * const skip[] = { "enabled", "source_refs", "transformer_refs", NULL };
  g_autoptr(GHashTable) sources = NULL;
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func (g_object_unref);
  SinkEntry *entry;
  GObject *sink;
  gboolean enabled;

  if (!is_enabled (self, TRUE, "Sink", name, path, table, &enabled, error))
    return FALSE;
  if (!enabled)
    return TRUE;
  if (!resolve_source_refs (self, path, table, &sources, error) ||
      !resolve_transformer_refs (self, path, table, chain, error))
    return FALSE;
  sink = _cdviz_config_create_component (self->config, self->registry,
                                         CDVIZ_COMPONENT_SINK, path, table,
                                         skip, error);
  if (sink == NULL)
    return FALSE;

  entry = g_new0 (SinkEntry, 1);
  entry->name = g_strdup (name);
  entry->sink = CDVIZ_SINK (sink);
  entry->sources = g_steal_pointer (&sources);
  entry->chain = g_steal_pointer (&chain);
  g_ptr_array_add (self->sinks, entry);
  g_hash_table_insert (self->sinks_by_name, entry->name, entry);
  g_hash_table_insert (self->sinks_by_object, entry->sink, entry);
  return TRUE;
}

/* `[pipeline] transformer_refs`: appended to every source's chain. */
static gboolean
append_global_transformers (CdvizPipeline  *self,
                            JsonObject     *pipeline,
                            GError        **error)
{
  g_autoptr(GPtrArray) global = g_ptr_array_new_with_free_func (g_object_unref);

  if (pipeline == NULL ||
      !resolve_transformer_refs (self, "pipeline", pipeline, global, error))
    return pipeline == NULL;
  for (guint i = 0; i < self->sources->len; i++)
    {
      SourceEntry *entry = g_ptr_array_index (self->sources, i);

      for (guint j = 0; j < global->len; j++)
        g_ptr_array_add (entry->chain, g_object_ref (g_ptr_array_index (global, j)));
    }
  return TRUE;
}

gboolean
_cdviz_pipeline_build (CdvizPipeline  *self,
                       GError        **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GPtrArray) late = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  BuildErrors errors = { list, late };
  g_autoptr(GError) local_error = NULL;
  JsonObject *root;
  JsonObject *pipeline;

  /* A file that does not parse, or a `_file` that cannot be read: nothing
   * more to check. */
  if (!_cdviz_config_finish (self->config, error))
    return FALSE;

  root = json_node_get_object (cdviz_config_get_root (self->config));
  if (!_cdviz_config_check_keys (self->config, NULL, root, top_level_keys, &local_error))
    collect (&errors, &local_error);
  if (!_cdviz_pipeline_build_http (self, &local_error))
    collect (&errors, &local_error);
  if (!_cdviz_pipeline_check_state (self, root, &local_error))
    collect (&errors, &local_error);
  if (!get_table (self->config, root, NULL, "pipeline", &pipeline, &local_error))
    collect (&errors, &local_error);

  if (pipeline != NULL)
    {
      gint64 capacity;

      if (!check_keys (self, "pipeline", pipeline, pipeline_docs, &local_error) ||
          !_cdviz_config_get_int (self->config, "pipeline", pipeline, "queue_capacity",
                                  1, 1 << 24, 1024, &capacity, &local_error))
        collect (&errors, &local_error);
      else
        self->capacity = (guint) capacity;
    }

  foreach_table (self, root, "transformers", build_transformer, &errors);
  foreach_table (self, root, "sources", build_source, &errors);
  if (!append_global_transformers (self, pipeline, &local_error))
    collect (&errors, &local_error);
  foreach_table (self, root, "sinks", build_sink, &errors);
  return report (&errors, error);
}
