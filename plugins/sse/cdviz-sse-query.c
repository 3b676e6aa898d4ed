/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-sse-query.h"

G_DEFINE_QUARK (cdviz-sse-query-error-quark, cdviz_sse_query_error)

void
cdviz_sse_query_free (CdvizSseQuery *query)
{
  if (query == NULL)
    return;
  g_free (query->last_event_id);
  g_free (query);
}

/* application/x-www-form-urlencoded: `+` is a space, then %XX. NULL when
 * a %-escape is malformed. */
static char *
form_decode (const char *text,
             gsize       length)
{
  g_autofree char *plus = g_strndup (text, length);

  for (char *p = plus; *p != '\0'; p++)
    if (*p == '+')
      *p = ' ';
  return g_uri_unescape_string (plus, NULL);
}

/* Digits only; a number too large for 64 bits saturates (the ring bounds
 * it anyway). */
static gboolean
parse_count (const char *text,
             guint64    *out)
{
  guint64 n = 0;

  if (*text == '\0')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      if (n > (G_MAXUINT64 - 9) / 10)
        n = G_MAXUINT64;
      else
        n = n * 10 + (guint64) (*p - '0');
    }
  *out = n;
  return TRUE;
}

/**
 * cdviz_sse_query_parse:
 * @query: (nullable): the raw query string, without `?`
 * @error: set when a key is malformed, given twice, or has a bad value
 *
 * Returns: (transfer full) (nullable): the parsed query, or %NULL with
 *   @error set; its message is short, for a 400 answer
 */
CdvizSseQuery *
cdviz_sse_query_parse (const char  *query,
                       GError     **error)
{
  g_autoptr(CdvizSseQuery) parsed = g_new0 (CdvizSseQuery, 1);
  const char *p = query;

  while (p != NULL && *p != '\0')
    {
      const char *end = strchr (p, '&');
      gsize length = end != NULL ? (gsize) (end - p) : strlen (p);
      const char *eq = memchr (p, '=', length);
      gsize key_length = eq != NULL ? (gsize) (eq - p) : length;
      g_autofree char *key = form_decode (p, key_length);
      g_autofree char *value = eq != NULL ? form_decode (eq + 1, length - key_length - 1)
                                          : g_strdup ("");

      p = end != NULL ? end + 1 : NULL;
      if (key == NULL || value == NULL)
        {
          g_set_error_literal (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                               _("malformed percent-escape in the query string"));
          return NULL;
        }

      if (strcmp (key, "lastEventId") == 0)
        {
          if (parsed->last_event_id != NULL)
            {
              g_set_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                           _("query key '%s' given more than once"), key);
              return NULL;
            }
          parsed->last_event_id = g_steal_pointer (&value);
        }
      else if (strcmp (key, "replay") == 0)
        {
          if (parsed->has_replay)
            {
              g_set_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                           _("query key '%s' given more than once"), key);
              return NULL;
            }
          if (!parse_count (value, &parsed->replay))
            {
              g_set_error_literal (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                                   _("query key 'replay': expected a number of events (0 or more)"));
              return NULL;
            }
          parsed->has_replay = TRUE;
        }
      /* Other keys (a cache buster, a proxy's own) are ignored. */
    }
  return g_steal_pointer (&parsed);
}
