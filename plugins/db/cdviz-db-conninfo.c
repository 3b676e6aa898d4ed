/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>
#include <libpq-fe.h>

#include "cdviz-db-conninfo.h"

/* cdviz-collector reads `url` with sqlx, which takes two query parameters
 * libpq refuses: `search_path` (its deployments write `?search_path=cdviz`)
 * becomes the server option `-c search_path=…`, and
 * `statement-cache-capacity` (a client-side cache) is dropped. Everything
 * else is libpq's: a URI (`postgres://`, `postgresql://`) or a
 * `key=value` string. */

static gboolean
is_uri (const char *url)
{
  return g_str_has_prefix (url, "postgresql://") || g_str_has_prefix (url, "postgres://");
}

/* The password of a URI's userinfo, as written (percent-encoded). */
static char *
uri_password (const char *url)
{
  const char *authority = strstr (url, "://") + 3;
  const char *end = authority + strcspn (authority, "/?#");
  const char *at = NULL, *colon;

  for (const char *p = authority; p < end; p++)
    if (*p == '@')
      at = p;
  if (at == NULL)
    return NULL;
  colon = memchr (authority, ':', at - authority);
  if (colon == NULL || colon + 1 == at)
    return NULL;
  return g_strndup (colon + 1, at - colon - 1);
}

/* Takes `search_path` and `statement-cache-capacity` out of a URI's query;
 * returns the URI without them, *search_path (decoded) if it was there. */
static char *
strip_sqlx_parameters (const char  *url,
                       char       **search_path)
{
  const char *query = strchr (url, '?');
  g_autoptr(GString) out = NULL;
  g_auto(GStrv) pairs = NULL;
  gboolean first = TRUE;

  *search_path = NULL;
  if (query == NULL)
    return g_strdup (url);

  out = g_string_new_len (url, query - url);
  pairs = g_strsplit (query + 1, "&", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const char *eq = strchr (pairs[i], '=');
      g_autofree char *key = eq ? g_strndup (pairs[i], eq - pairs[i]) : g_strdup (pairs[i]);

      if (g_str_equal (key, "search_path"))
        {
          g_free (*search_path);
          *search_path = eq ? g_uri_unescape_string (eq + 1, NULL) : g_strdup ("");
          continue;
        }
      if (g_str_equal (key, "statement-cache-capacity"))
        continue;
      if (*pairs[i] == '\0')
        continue;
      g_string_append_c (out, first ? '?' : '&');
      g_string_append (out, pairs[i]);
      first = FALSE;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* `-c search_path=VALUE` with the spaces and backslashes of VALUE escaped,
 * as libpq's `options` wants. */
static void
append_search_path_option (GString    *options,
                           const char *search_path)
{
  if (options->len > 0)
    g_string_append_c (options, ' ');
  g_string_append (options, "-c search_path=");
  for (const char *p = search_path; *p; p++)
    {
      if (*p == ' ' || *p == '\\')
        g_string_append_c (options, '\\');
      g_string_append_c (options, *p);
    }
}

static void
add_secret (GPtrArray  *secrets,
            const char *secret)
{
  if (secret != NULL && strlen (secret) >= 1)
    g_ptr_array_add (secrets, g_strdup (secret));
}

static char *
redact (GPtrArray  *secrets,
        const char *text)
{
  g_autoptr(GString) out = g_string_new (text);

  for (guint i = 0; i < secrets->len; i++)
    g_string_replace (out, g_ptr_array_index (secrets, i), "<redacted>", 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/**
 * cdviz_db_conninfo_new:
 * @url: the sink's `url`
 * @password: (nullable): the sink's `password`, which wins over the URL's
 * @connect_timeout_s: libpq's `connect_timeout` unless @url sets one (0: none)
 * @error: return location for a #GError
 *
 * Parses @url as libpq does, after taking sqlx's own parameters out.
 * Error messages never hold the password.
 *
 * Returns: (transfer full): the parameters, or %NULL with @error set
 */
CdvizDbConninfo *
cdviz_db_conninfo_new (const char  *url,
                       const char  *password,
                       guint        connect_timeout_s,
                       GError     **error)
{
  g_autoptr(CdvizDbConninfo) info = g_new0 (CdvizDbConninfo, 1);
  g_autoptr(GPtrArray) secrets = g_ptr_array_new_null_terminated (2, g_free, TRUE);
  g_autoptr(GPtrArray) keywords = g_ptr_array_new_null_terminated (16, g_free, TRUE);
  g_autoptr(GPtrArray) values = g_ptr_array_new_null_terminated (16, g_free, TRUE);
  g_autoptr(GString) options = g_string_new (NULL);
  g_autofree char *search_path = NULL;
  g_autofree char *cleaned = NULL;
  char *parse_error = NULL;
  PQconninfoOption *parsed;
  const char *user = NULL, *host = NULL, *hostaddr = NULL, *port = NULL, *dbname = NULL;
  gboolean has_timeout = FALSE;

  if (is_uri (url))
    {
      g_autofree char *raw = uri_password (url);

      if (raw != NULL)
        {
          g_autofree char *decoded = g_uri_unescape_string (raw, NULL);

          add_secret (secrets, raw);
          add_secret (secrets, decoded);
        }
      cleaned = strip_sqlx_parameters (url, &search_path);
    }
  else
    cleaned = g_strdup (url);
  add_secret (secrets, password);

  parsed = PQconninfoParse (cleaned, &parse_error);
  if (parsed == NULL)
    {
      g_autofree char *message = NULL;

      if (parse_error != NULL)
        {
          g_strchomp (parse_error);
          message = redact (secrets, parse_error);
          PQfreemem (parse_error);
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key 'url': not a PostgreSQL connection URL (%s); "
                     "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
                   message != NULL ? message : _("out of memory"));
      return NULL;
    }

  for (PQconninfoOption *o = parsed; o->keyword != NULL; o++)
    {
      if (o->val == NULL)
        continue;
      if (g_str_equal (o->keyword, "password"))
        {
          add_secret (secrets, o->val);
          if (password != NULL)
            continue;
        }
      if (g_str_equal (o->keyword, "options"))
        {
          g_string_append (options, o->val);
          continue;
        }
      if (g_str_equal (o->keyword, "connect_timeout"))
        has_timeout = TRUE;
      g_ptr_array_add (keywords, g_strdup (o->keyword));
      g_ptr_array_add (values, g_strdup (o->val));
    }
  PQconninfoFree (parsed);
  info->secrets = (char **) g_ptr_array_steal (secrets, NULL);

  if (password != NULL)
    {
      g_ptr_array_add (keywords, g_strdup ("password"));
      g_ptr_array_add (values, g_strdup (password));
    }
  if (search_path != NULL)
    append_search_path_option (options, search_path);
  if (options->len > 0)
    {
      g_ptr_array_add (keywords, g_strdup ("options"));
      g_ptr_array_add (values, g_strdup (options->str));
    }
  if (!has_timeout && connect_timeout_s > 0)
    {
      g_ptr_array_add (keywords, g_strdup ("connect_timeout"));
      g_ptr_array_add (values, g_strdup_printf ("%u", MAX (connect_timeout_s, 2)));
    }
  g_ptr_array_add (keywords, g_strdup ("fallback_application_name"));
  g_ptr_array_add (values, g_strdup ("cdviz-pipeline"));

  for (guint i = 0; i < keywords->len; i++)
    {
      const char *k = g_ptr_array_index (keywords, i), *v = g_ptr_array_index (values, i);

      if (g_str_equal (k, "user"))
        user = v;
      else if (g_str_equal (k, "host"))
        host = v;
      else if (g_str_equal (k, "hostaddr"))
        hostaddr = v;
      else if (g_str_equal (k, "port"))
        port = v;
      else if (g_str_equal (k, "dbname"))
        dbname = v;
    }
  info->description = g_strdup_printf ("%s%s%s:%s/%s", user ? user : "", user ? "@" : "",
                                       host ? host : hostaddr ? hostaddr : "localhost",
                                       port ? port : "5432", dbname ? dbname : (user ? user : ""));
  info->keywords = (char **) g_ptr_array_steal (keywords, NULL);
  info->values = (char **) g_ptr_array_steal (values, NULL);
  return g_steal_pointer (&info);
}

void
cdviz_db_conninfo_free (CdvizDbConninfo *info)
{
  if (info == NULL)
    return;
  if (info->values != NULL)
    for (guint i = 0; info->values[i] != NULL; i++)
      explicit_bzero (info->values[i], strlen (info->values[i]));
  if (info->secrets != NULL)
    for (guint i = 0; info->secrets[i] != NULL; i++)
      explicit_bzero (info->secrets[i], strlen (info->secrets[i]));
  g_strfreev (info->keywords);
  g_strfreev (info->values);
  g_strfreev (info->secrets);
  g_free (info->description);
  g_free (info);
}

/**
 * cdviz_db_conninfo_redact:
 * @info: connection parameters
 * @text: a message (libpq's, say)
 *
 * Returns: (transfer full): @text with every secret of @info (the password,
 *   as written in the URL and decoded) replaced by `<redacted>`
 */
char *
cdviz_db_conninfo_redact (const CdvizDbConninfo *info,
                          const char            *text)
{
  g_autoptr(GString) out = g_string_new (text);

  for (guint i = 0; info->secrets != NULL && info->secrets[i] != NULL; i++)
    g_string_replace (out, info->secrets[i], "<redacted>", 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/**
 * cdviz_db_classify_sqlstate:
 * @sqlstate: (nullable): an error's SQLSTATE (PG_DIAG_SQLSTATE)
 *
 * Tells what an error means for the event that got it. Only what the event
 * itself is to blame for (a value PostgreSQL refuses, a constraint other
 * than the unique one, an exception raised by the procedure) is
 * %CDVIZ_DB_ERROR_EVENT; whatever else might go away (a restart, a schema
 * applied later) is retried, so that no event is lost to it.
 */
CdvizDbErrorKind
cdviz_db_classify_sqlstate (const char *sqlstate)
{
  static const char * const setup[] = {
    "3F000",   /* invalid_schema_name: cdviz-db's migrations not applied */
    "42883",   /* undefined_function: no cdviz.store_cdevent(jsonb) */
    "42P01",   /* undefined_table */
    "42501",   /* insufficient_privilege */
    "3D000",   /* invalid_catalog_name: no such database */
    "42704",   /* undefined_object (a type of the schema) */
  };

  if (sqlstate == NULL || strlen (sqlstate) != 5)
    return CDVIZ_DB_ERROR_TRANSIENT;
  if (g_str_equal (sqlstate, "23505"))
    return CDVIZ_DB_ERROR_DUPLICATE;
  for (guint i = 0; i < G_N_ELEMENTS (setup); i++)
    if (g_str_equal (sqlstate, setup[i]))
      return CDVIZ_DB_ERROR_SETUP;
  if (g_str_has_prefix (sqlstate, "28"))   /* invalid authorization */
    return CDVIZ_DB_ERROR_SETUP;
  if (g_str_has_prefix (sqlstate, "22") || g_str_has_prefix (sqlstate, "23") ||
      g_str_has_prefix (sqlstate, "P0"))
    return CDVIZ_DB_ERROR_EVENT;
  return CDVIZ_DB_ERROR_TRANSIENT;
}
