/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz-http-access-log-private.h"

#define START_KEY "cdviz-access-log-start"

gboolean
_cdviz_http_access_log_matches (const char * const *filter,
                                guint               status)
{
  char exact[8], class[8];

  if (filter == NULL)
    return FALSE;
  g_snprintf (exact, sizeof exact, "%u", status);
  g_snprintf (class, sizeof class, "%uxx", status / 100);
  for (; *filter != NULL; filter++)
    if (g_str_equal (*filter, exact) || g_str_equal (*filter, class))
      return TRUE;
  return FALSE;
}

void
_cdviz_http_access_log_start (SoupServerMessage *msg)
{
  gint64 *start;

  if (g_object_get_data (G_OBJECT (msg), START_KEY) != NULL)
    return;
  start = g_new (gint64, 1);
  *start = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (msg), START_KEY, start, g_free);
}

static const char *
header_or_dash (SoupMessageHeaders *headers,
                const char         *name)
{
  const char *value = soup_message_headers_get_one (headers, name);

  return value != NULL ? value : "-";
}

void
_cdviz_http_access_log_finish (const char * const *filter,
                               SoupServerMessage  *msg,
                               guint               status)
{
  SoupMessageHeaders *headers;
  /* A request libsoup could not parse has neither. */
  GUri *uri = soup_server_message_get_uri (msg);
  const char *method = soup_server_message_get_method (msg);
  const char *path = uri != NULL ? g_uri_get_path (uri) : "-";
  const char *query = uri != NULL ? g_uri_get_query (uri) : NULL;
  gint64 *start;

  if (!_cdviz_http_access_log_matches (filter, status))
    return;
  /* Once per request: a refused one is not logged again when it ends. */
  if (g_object_get_data (G_OBJECT (msg), "cdviz-access-logged") != NULL)
    return;
  g_object_set_data (G_OBJECT (msg), "cdviz-access-logged", GINT_TO_POINTER (1));

  headers = soup_server_message_get_request_headers (msg);
  start = g_object_get_data (G_OBJECT (msg), START_KEY);
  g_message ("access http_status=%u method=%s uri=%s%s%s elapsed_ms=%" G_GINT64_FORMAT
             " content_length=%s content_encoding=%s transfer_encoding=%s expect=%s",
             status, method != NULL ? method : "-",
             path, query != NULL ? "?" : "", query != NULL ? query : "",
             start != NULL ? (g_get_monotonic_time () - *start) / 1000 : 0,
             header_or_dash (headers, "Content-Length"),
             header_or_dash (headers, "Content-Encoding"),
             header_or_dash (headers, "Transfer-Encoding"),
             header_or_dash (headers, "Expect"));
}
