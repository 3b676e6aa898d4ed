/* SPDX-License-Identifier: Apache-2.0 */
#include <libsoup/soup.h>

#include "cdviz-http-retry.h"

gboolean
cdviz_http_retry_is_transient (guint status)
{
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

gint64
cdviz_http_retry_after_ms (const char *value,
                           gint64      now_unix)
{
  g_autoptr(GDateTime) date = NULL;
  const char *end = NULL;
  guint64 seconds;

  if (value == NULL)
    return -1;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_isdigit (*value))
    {
      seconds = g_ascii_strtoull (value, (char **) &end, 10);
      while (g_ascii_isspace (*end))
        end++;
      if (*end != '\0')
        return -1;
      return (gint64) MIN (seconds, (guint64) G_MAXINT64 / 1000 / 2) * 1000;
    }
  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;
  return MAX (g_date_time_to_unix (date) - now_unix, 0) * 1000;
}

guint64
cdviz_http_retry_backoff_ms (guint   attempt,
                             guint64 first_ms,
                             guint64 max_ms,
                             double  random)
{
  guint64 delay = first_ms;

  for (guint i = 0; i < attempt && delay > 0 && delay < max_ms; i++)
    delay = delay > G_MAXUINT64 / 2 ? G_MAXUINT64 : delay * 2;
  delay = MIN (delay, max_ms);
  return delay / 2 + (guint64) ((double) (delay - delay / 2) * random);
}
