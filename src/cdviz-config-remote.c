/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "cdviz-config-private.h"
#include "cdviz-fetch-private.h"
#include "cdviz-pipeline-private.h"

/* Configuration from the network: `--config URL`
 * ([method@Config.add_location]), and `[remote.NAME]` with `_rfile` keys, as cdviz-collector's: a string key
 * `KEY_rfile = "NAME:///path"` anywhere in the configuration is replaced,
 * once every layer is in, by `KEY` holding the file `path` of the remote
 * `NAME` (typically `template_rfile` of a VRL transformer, from the
 * transformers-community repository on GitHub).
 *
 * Files are fetched over HTTP(S) when the configuration is resolved, before
 * the pipeline builds, and kept in $XDG_CACHE_HOME/cdviz-pipeline/remote/;
 * when a fetch fails, a cached copy is used (and the log says so). Without a
 * cached copy, the failure is an error naming the key, its file and line and
 * the URL — except for `config --check`, which warns about a file it cannot
 * reach (it checks the rest of the configuration without the key). */

/* A configuration fetched with `--config URL` is at most this big. */
#define CONFIG_MAX_BYTES (4 * 1024 * 1024)
#define CONFIG_TIMEOUT_S 30

/* A remote file is at most this big (VRL programs are a few KiB). */
#define REMOTE_MAX_BYTES (1024 * 1024)
#define REMOTE_TIMEOUT_S 30
#define REMOTE_CHECK_TIMEOUT_S 5

/* Test-only: where `type = "github"` remotes are read from. */
#define GITHUB_URL_ENV "CDVIZ_PIPELINE_TEST_GITHUB_URL"
#define GITHUB_URL "https://raw.githubusercontent.com"

const CdvizKeyDoc _cdviz_remote_docs[] = {
  { "type", "string", "(required)",
    "`\"github\"` (a GitHub repository's default branch, read from raw.githubusercontent.com), "
    "`\"github://OWNER/REPO\"` (the same, owner and repository in the type) or `\"http\"` "
    "(files under `endpoint`). A key `KEY_rfile = \"NAME:///path\"` anywhere in the "
    "configuration becomes `KEY` holding that file. Files are fetched at start, cached under "
    "`$XDG_CACHE_HOME/cdviz-pipeline/remote/` and read from the cache when the fetch fails; "
    "`config --check` only warns about a file neither reachable nor cached. For tests only, "
    "the environment variable `CDVIZ_PIPELINE_TEST_GITHUB_URL` replaces "
    "`https://raw.githubusercontent.com`" },
  { "owner", "string", "(required for `github`)", "The repository's owner" },
  { "repo", "string", "(required for `github`)", "The repository" },
  { "root", "string", "none", "A folder of the repository (or under `endpoint`) paths start from" },
  { "endpoint", "string (URL)", "(required for `http`)", "Base URL of the files" },
  { "token", "string", "none", "Sent as `Authorization: Bearer TOKEN` (a private repository)" },
  { "username", "string", "none", "With `password`, HTTP basic authentication (`http`)" },
  { "password", "string", "none", "See `username`" },
  { NULL }
};

static const char * const github_keys[] = { "type", "owner", "repo", "root", "token", NULL };
static const char * const github_uri_keys[] = { "type", "root", "token", NULL };
static const char * const http_keys[] = {
  "type", "endpoint", "root", "token", "username", "password", NULL
};

/* Joins URL parts with exactly one slash between them; empty parts skipped. */
static char *
join_url (const char *first, ...)
{
  GString *url = g_string_new (NULL);
  va_list args;

  va_start (args, first);
  for (const char *part = first; part != NULL; part = va_arg (args, const char *))
    {
      g_autofree char *trimmed = NULL;
      const char *p = part;

      if (url->len > 0)
        while (*p == '/')
          p++;
      trimmed = g_strdup (p);
      while (*trimmed != '\0' && trimmed[strlen (trimmed) - 1] == '/')
        trimmed[strlen (trimmed) - 1] = '\0';
      if (*trimmed == '\0')
        continue;
      if (url->len > 0)
        g_string_append_c (url, '/');
      g_string_append (url, trimmed);
    }
  va_end (args);
  return g_string_free (url, FALSE);
}

/* Sets @error: "FILE:LINE: key “PATH.KEY”: REASON" (@reason printf-like,
 * one string argument). Returns NULL. */
static char *set_key_error (CdvizConfig *config, const char *path, const char *key, gint code,
                            GError **error, const char *reason, ...) G_GNUC_PRINTF (6, 7);

static char *
set_key_error (CdvizConfig  *config,
               const char   *path,
               const char   *key,
               gint          code,
               GError      **error,
               const char   *reason,
               ...)
{
  g_autofree char *key_path = _cdviz_config_join (path, key);
  g_autofree char *where = _cdviz_config_describe (config, key_path);
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, reason);
  text = g_strdup_vprintf (reason, args);
  va_end (args);

  g_set_error (error, CDVIZ_CONFIG_ERROR, code, _("%s: key “%s”: %s"), where, key_path, text);
  return NULL;
}

/* The URL of @file in the remote at @path and the headers to send. */
static char *
remote_url (CdvizConfig  *config,
            const char   *path,
            JsonObject   *remote,
            const char   *file,
            GStrv        *headers_out,
            GError      **error)
{
  const char *type = NULL, *root = NULL, *token = NULL;
  g_autoptr(GStrvBuilder) headers = g_strv_builder_new ();
  g_autofree char *url = NULL;

  if (!_cdviz_config_get_string (config, path, remote, "type", TRUE, &type, error))
    return NULL;

  if (g_str_equal (type, "github") || g_str_has_prefix (type, "github://"))
    {
      const char *base = g_getenv (GITHUB_URL_ENV);
      const char *owner = NULL, *repo = NULL;
      g_auto(GStrv) parts = NULL;
      gboolean uri = g_str_has_prefix (type, "github://");

      if (!_cdviz_config_check_keys (config, path, remote, uri ? github_uri_keys : github_keys,
                                     error) ||
          !_cdviz_config_get_string (config, path, remote, "root", FALSE, &root, error) ||
          !_cdviz_config_get_string (config, path, remote, "token", FALSE, &token, error))
        return NULL;
      if (uri)
        {
          parts = g_strsplit (type + strlen ("github://"), "/", 3);
          if (g_strv_length (parts) < 2 || *parts[0] == '\0' || *parts[1] == '\0')
            return set_key_error (config, path, "type", CDVIZ_CONFIG_ERROR_INVALID_VALUE, error,
                                  _("“%s” is not of the form “github://OWNER/REPO”"), type);
          owner = parts[0];
          repo = parts[1];
          if (root == NULL && parts[2] != NULL)
            root = parts[2];
        }
      else if (!_cdviz_config_get_string (config, path, remote, "owner", TRUE, &owner, error) ||
               !_cdviz_config_get_string (config, path, remote, "repo", TRUE, &repo, error))
        return NULL;
      /* HEAD: the default branch. */
      url = join_url (base != NULL && *base != '\0' ? base : GITHUB_URL, owner, repo, "HEAD",
                      root != NULL ? root : "", file, NULL);
    }
  else if (g_str_equal (type, "http"))
    {
      const char *endpoint = NULL, *username = NULL, *password = NULL;

      if (!_cdviz_config_check_keys (config, path, remote, http_keys, error) ||
          !_cdviz_config_get_string (config, path, remote, "endpoint", TRUE, &endpoint, error) ||
          !_cdviz_config_get_string (config, path, remote, "root", FALSE, &root, error) ||
          !_cdviz_config_get_string (config, path, remote, "token", FALSE, &token, error) ||
          !_cdviz_config_get_string (config, path, remote, "username", FALSE, &username, error) ||
          !_cdviz_config_get_string (config, path, remote, "password", FALSE, &password, error))
        return NULL;
      if (!_cdviz_fetch_is_url (endpoint))
        return set_key_error (config, path, "endpoint", CDVIZ_CONFIG_ERROR_INVALID_VALUE, error,
                              _("“%s” is not an http:// or https:// URL"), endpoint);
      if (username != NULL)
        {
          g_autofree char *pair = g_strdup_printf ("%s:%s", username,
                                                   password != NULL ? password : "");
          g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
          g_autofree char *header = g_strdup_printf ("Authorization: Basic %s", encoded);

          g_strv_builder_add (headers, header);
        }
      url = join_url (endpoint, root != NULL ? root : "", file, NULL);
    }
  else
    return set_key_error (config, path, "type", CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE, error,
                          _("remote type “%s” is not supported by cdviz-pipeline "
                            "(“github”, “github://OWNER/REPO”, “http”)"), type);

  if (token != NULL)
    {
      g_autofree char *header = g_strdup_printf ("Authorization: Bearer %s", token);

      g_strv_builder_add (headers, header);
    }
  *headers_out = g_strv_builder_end (headers);
  return g_steal_pointer (&url);
}

static char *
cache_path (const char *url)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, url, -1);
  g_autofree char *base = g_path_get_basename (url);

  return g_build_filename (g_get_user_cache_dir (), "cdviz-pipeline", "remote",
                           digest, base, NULL);
}

static void
cache_store (const char *cache,
             GBytes     *bytes)
{
  g_autofree char *dir = g_path_get_dirname (cache);
  g_autoptr(GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents (cache, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                            &error))
    g_warning (_("cannot cache %s: %s"), cache,
               error != NULL ? error->message : g_strerror (errno));
}

typedef struct {
  gboolean check;        /* `config --check` */
  gboolean unreachable;  /* with check: a server did not answer; no more tries */
} Resolve;

/* The content of @uri for the key at @key_path; NULL with @error set, or
 * NULL without it when checking and the file is neither reachable nor
 * cached. */
static char *
fetch_remote_file (CdvizConfig  *self,
                   JsonObject   *remotes,
                   const char   *key_path,
                   const char   *uri,
                   Resolve      *resolve,
                   GError      **error)
{
  const char *sep = strstr (uri, ":///");
  g_autofree char *name = NULL;
  g_autofree char *remote_path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *cache = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) headers = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *remote;
  guint status;
  gsize length;

  if (sep == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: “%s” is not of the form “REMOTE:///path”"), key_path, uri);
      _cdviz_config_prefix_error (self, key_path, error);
      return NULL;
    }
  name = g_strndup (uri, sep - uri);
  remote = remotes != NULL ? json_object_get_member (remotes, name) : NULL;
  if (remote == NULL || !JSON_NODE_HOLDS_OBJECT (remote))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
                   _("%s: “%s” names no remote “%s” (define [remote.%s])"),
                   key_path, uri, name, name);
      _cdviz_config_prefix_error (self, key_path, error);
      return NULL;
    }
  remote_path = _cdviz_config_join ("remote", name);
  url = remote_url (self, remote_path, json_node_get_object (remote), sep + 4, &headers,
                    error);
  if (url == NULL)
    return NULL;

  cache = cache_path (url);
  /* A check that found the network unreachable does not wait again. */
  if (resolve->check && resolve->unreachable)
    {
      status = 0;
      g_set_error_literal (&local_error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                           _("not fetched: an earlier remote file was unreachable"));
    }
  else
    bytes = _cdviz_fetch_url (url, (const char * const *) headers, REMOTE_MAX_BYTES,
                              resolve->check ? REMOTE_CHECK_TIMEOUT_S : REMOTE_TIMEOUT_S,
                              &status, &local_error);
  if (bytes != NULL)
    cache_store (cache, bytes);
  else if (g_file_get_contents (cache, &contents, &length, NULL))
    {
      g_message (_("%s: using the cached copy of %s (%s)"), key_path, url,
                 local_error->message);
      bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
    }
  else if (resolve->check && status == 0)
    {
      g_autofree char *where = _cdviz_config_describe (self, key_path);

      resolve->unreachable = TRUE;
      g_warning (_("%s: %s: not checked: %s, and not in the cache (%s)"), where, key_path,
                 local_error->message, cache);
      return NULL;
    }
  else
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                   _("%s: %s, and not in the cache (%s)"), key_path, local_error->message,
                   cache);
      _cdviz_config_prefix_error (self, key_path, error);
      return NULL;
    }

  contents = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (strlen (contents) != g_bytes_get_size (bytes) || !g_utf8_validate (contents, -1, NULL))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("%s: %s is not UTF-8 text"), key_path, url);
      _cdviz_config_prefix_error (self, key_path, error);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

static gboolean
resolve_table (CdvizConfig  *self,
               JsonObject   *remotes,
               JsonObject   *table,
               const char   *path,
               Resolve      *resolve,
               GError      **error)
{
  g_autoptr(GList) members = json_object_get_members (table);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (table, name);
      g_autofree char *child = path ? _cdviz_config_join (path, name) : g_strdup (name);

      if (JSON_NODE_HOLDS_OBJECT (value))
        {
          if (!resolve_table (self, remotes, json_node_get_object (value), child, resolve,
                              error))
            return FALSE;
        }
      else if (g_str_has_suffix (name, "_rfile") && strlen (name) > 6)
        {
          g_autofree char *target = g_strndup (name, strlen (name) - 6);
          g_autofree char *target_path = path ? _cdviz_config_join (path, target)
                                              : g_strdup (target);
          g_autofree char *contents = NULL;
          g_autoptr(GError) local_error = NULL;

          if (json_node_get_value_type (value) != G_TYPE_STRING)
            return _cdviz_config_type_error (self, path, name, _("a string"), value, error);
          contents = fetch_remote_file (self, remotes, child, json_node_get_string (value),
                                        resolve, &local_error);
          if (local_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (contents != NULL)
            {
              json_object_set_string_member (table, target, contents);
              _cdviz_config_copy_location (self, child, target_path);
            }
          json_object_remove_member (table, name);
        }
    }
  return TRUE;
}

gboolean
_cdviz_config_resolve_remote_files (CdvizConfig  *self,
                                    gboolean      check,
                                    GError      **error)
{
  JsonObject *root = json_node_get_object (cdviz_config_get_root (self));
  JsonNode *node = json_object_get_member (root, "remote");
  JsonObject *remotes = NULL;
  Resolve resolve = { check, FALSE };

  if (node != NULL)
    {
      g_autoptr(GList) names = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return _cdviz_config_type_error (self, NULL, "remote", _("a table"), node, error);
      remotes = json_node_get_object (node);
      /* Every remote is checked, used or not. */
      names = json_object_get_members (remotes);
      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonNode *remote = json_object_get_member (remotes, l->data);
          g_autofree char *path = _cdviz_config_join ("remote", l->data);
          g_auto(GStrv) headers = NULL;
          g_autofree char *url = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (remote))
            return _cdviz_config_type_error (self, "remote", l->data, _("a table"), remote,
                                             error);
          url = remote_url (self, path, json_node_get_object (remote), "", &headers, error);
          if (url == NULL)
            return FALSE;
        }
    }
  return resolve_table (self, remotes, root, NULL, &resolve, error);
}

/**
 * cdviz_config_add_location:
 * @self: a #CdvizConfig
 * @location: a TOML file, or an `http://` or `https://` URL
 * @headers: (nullable) (array zero-terminated=1): request headers
 *   `"Name: value"` for a URL (`--config-header`); ignored, with a warning,
 *   for a file
 * @error: return location for a #GError
 *
 * Merges the configuration at @location over the current configuration, as
 * [method@Config.add_file] does for a file. A URL is fetched at once; its
 * body is at most 4 MiB, the server must answer within 30 seconds, and any
 * status but 2xx is an error naming the URL and the status.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_config_add_location (CdvizConfig         *self,
                           const char          *location,
                           const char * const  *headers,
                           GError             **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (CDVIZ_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (location != NULL, FALSE);

  if (!_cdviz_fetch_is_url (location))
    {
      /* As cdviz-collector: a warning, not an error. */
      if (headers != NULL && headers[0] != NULL)
        g_warning (_("--config-header is ignored: --config %s is a local file, not a URL"),
                   location);
      return cdviz_config_add_file (self, location, error);
    }

  bytes = _cdviz_fetch_url (location, headers, CONFIG_MAX_BYTES, CONFIG_TIMEOUT_S, NULL,
                            &local_error);
  if (bytes == NULL)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                   _("Cannot read configuration: %s"), local_error->message);
      return FALSE;
    }
  text = g_strndup (g_bytes_get_data (bytes, &length), g_bytes_get_size (bytes));
  if (strlen (text) != length || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                   _("Cannot read configuration: %s is not UTF-8 text"), location);
      return FALSE;
    }
  return cdviz_config_add_string (self, text, location, error);
}

/**
 * cdviz_config_set_remote_optional:
 * @self: a #CdvizConfig
 * @optional: whether remote files may be missing
 *
 * Says what resolving the configuration does with a `KEY_rfile` whose file
 * can neither be fetched (no answer from the server) nor read from the
 * cache: an error (the default, for running a pipeline), or, when @optional,
 * a warning, `KEY` being left unset (for `config --check`, which needs no
 * network). A server's error answer (404…) is an error either way.
 */
void
cdviz_config_set_remote_optional (CdvizConfig *self,
                                  gboolean     optional)
{
  g_return_if_fail (CDVIZ_IS_CONFIG (self));
  _cdviz_config_set_remote_check (self, optional);
}
