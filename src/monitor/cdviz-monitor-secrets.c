/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The headers of a connection (`Authorization: Bearer …`) are secrets: they
 * never go to GSettings. They go to the keyring through libsecret when it
 * was built in and a Secret Service answers; else (or with
 * CDVIZ_MONITOR_SECRETS=file) to $XDG_CONFIG_HOME/cdviz-monitor/headers, a
 * key file only its owner can read (0600). Main thread; blocking calls, made
 * once at start-up.
 */
#include "config.h"

#include "cdviz-monitor-secrets.h"

#include <errno.h>
#include <glib/gstdio.h>
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#ifdef HAVE_LIBSECRET
static const SecretSchema *
headers_schema (void)
{
  static const SecretSchema schema = {
    "dev.cdviz.Monitor.Headers", SECRET_SCHEMA_NONE,
    {
      { "url", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };
  return &schema;
}
#endif

static gboolean
use_keyring (void)
{
#ifdef HAVE_LIBSECRET
  return g_strcmp0 (g_getenv ("CDVIZ_MONITOR_SECRETS"), "file") != 0;
#else
  return FALSE;
#endif
}

static char *
file_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "cdviz-monitor", "headers", NULL);
}

static gboolean
file_store (const char         *url,
            const char * const *headers,
            GError            **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autofree char *path = file_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *data = NULL;
  gsize length;

  g_key_file_load_from_file (keys, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
  if (headers == NULL || headers[0] == NULL)
    g_key_file_remove_group (keys, url, NULL);
  else
    g_key_file_set_string_list (keys, url, "headers", headers, g_strv_length ((char **) headers));
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", dir,
                   g_strerror (errsv));
      return FALSE;
    }
  data = g_key_file_to_data (keys, &length, NULL);
  return g_file_set_contents_full (path, data, length, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

static char **
file_lookup (const char  *url,
             GError     **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autofree char *path = file_path ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file (keys, path, G_KEY_FILE_NONE, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_new0 (char *, 1);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!g_key_file_has_group (keys, url))
    return g_new0 (char *, 1);
  return g_key_file_get_string_list (keys, url, "headers", NULL, error);
}

/**
 * cdviz_monitor_secrets_store:
 * @url: a connection's URL
 * @headers: (nullable): its `Name: value` headers; %NULL or empty to forget them
 * @error: return location for a #GError
 *
 * Returns: %TRUE when stored
 */
gboolean
cdviz_monitor_secrets_store (const char         *url,
                             const char * const *headers,
                             GError            **error)
{
#ifdef HAVE_LIBSECRET
  if (use_keyring ())
    {
      g_autoptr(GError) local_error = NULL;
      gboolean done;

      if (headers == NULL || headers[0] == NULL)
        done = secret_password_clear_sync (headers_schema (), NULL, &local_error,
                                           "url", url, NULL) || local_error == NULL;
      else
        {
          g_autofree char *joined = g_strjoinv ("\n", (char **) headers);
          g_autofree char *label = g_strdup_printf ("cdviz-monitor: %s", url);
          done = secret_password_store_sync (headers_schema (), SECRET_COLLECTION_DEFAULT, label,
                                             joined, NULL, &local_error, "url", url, NULL);
        }
      if (done)
        return TRUE;
      g_debug ("keyring unavailable (%s): headers stored in a 0600 file", local_error->message);
    }
#endif
  return file_store (url, headers, error);
}

/**
 * cdviz_monitor_secrets_lookup:
 * @url: a connection's URL
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the headers stored for @url, empty when none;
 *   %NULL on error
 */
char **
cdviz_monitor_secrets_lookup (const char  *url,
                              GError     **error)
{
#ifdef HAVE_LIBSECRET
  if (use_keyring ())
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *joined = secret_password_lookup_sync (headers_schema (), NULL,
                                                             &local_error, "url", url, NULL);
      if (joined != NULL)
        return g_strsplit (joined, "\n", -1);
      if (local_error == NULL)
        return file_lookup (url, error);
      g_debug ("keyring unavailable (%s): headers read from the 0600 file", local_error->message);
    }
#endif
  return file_lookup (url, error);
}
