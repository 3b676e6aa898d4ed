/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-sse-query.h"

G_DEFINE_QUARK (cdviz-sse-query-error-quark, cdviz_sse_query_error)

void
cdviz_sse_filter_free (CdvizSseFilter *filter)
{
  if (filter == NULL)
    return;
  g_clear_pointer (&filter->types, g_ptr_array_unref);
  g_clear_pointer (&filter->subjects, g_ptr_array_unref);
  g_free (filter);
}

static gboolean
match_any (GPtrArray  *patterns,
           const char *text,
           gsize       length)
{
  if (patterns == NULL)
    return TRUE;
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < patterns->len; i++)
    if (g_pattern_spec_match (patterns->pdata[i], length, text, NULL))
      return TRUE;
  return FALSE;
}

/**
 * cdviz_sse_filter_match:
 * @filter: (nullable): a filter; %NULL matches everything
 * @type: (nullable): the event's context.type
 * @type_length: its length
 * @subject: (nullable): the event's subject.id
 * @subject_length: its length
 *
 * An event without the field a key filters on never matches that key.
 *
 * Returns: whether the client is sent the event
 */
gboolean
cdviz_sse_filter_match (const CdvizSseFilter *filter,
                        const char           *type,
                        gsize                 type_length,
                        const char           *subject,
                        gsize                 subject_length)
{
  if (filter == NULL)
    return TRUE;
  return match_any (filter->types, type, type_length) &&
         match_any (filter->subjects, subject, subject_length);
}

/* Adds a glob to the patterns of @key (`type` or `subject`). */
static gboolean
filter_add (CdvizSseQuery  *parsed,
            const char     *key,
            const char     *glob,
            GError        **error)
{
  GPtrArray **patterns;

  if (*glob == '\0' || strlen (glob) > CDVIZ_SSE_FILTER_MAX_PATTERN_LENGTH)
    {
      g_set_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                   _("query key '%s': a pattern must have 1 to %d bytes"),
                   key, CDVIZ_SSE_FILTER_MAX_PATTERN_LENGTH);
      return FALSE;
    }
  if (parsed->filter == NULL)
    parsed->filter = g_new0 (CdvizSseFilter, 1);
  patterns = key[0] == 't' ? &parsed->filter->types : &parsed->filter->subjects;
  if (*patterns == NULL)
    *patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_pattern_spec_free);
  if ((*patterns)->len == CDVIZ_SSE_FILTER_MAX_PATTERNS)
    {
      g_set_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID,
                   _("query key '%s': at most %d patterns"), key,
                   CDVIZ_SSE_FILTER_MAX_PATTERNS);
      return FALSE;
    }
  g_ptr_array_add (*patterns, g_pattern_spec_new (glob));
  return TRUE;
}

void
cdviz_sse_query_free (CdvizSseQuery *query)
{
  if (query == NULL)
    return;
  cdviz_sse_filter_free (query->filter);
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
      else if (strcmp (key, "type") == 0 || strcmp (key, "subject") == 0)
        {
          if (!filter_add (parsed, key, value, error))
            return NULL;
        }
      /* Other keys (a cache buster, a proxy's own) are ignored. */
    }
  return g_steal_pointer (&parsed);
}
