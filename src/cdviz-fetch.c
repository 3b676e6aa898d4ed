/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "cdviz-fetch-private.h"

gboolean
_cdviz_fetch_is_url (const char *location)
{
  return g_ascii_strncasecmp (location, "http://", 7) == 0 ||
         g_ascii_strncasecmp (location, "https://", 8) == 0;
}

static gboolean
add_header (SoupMessageHeaders  *request_headers,
            const char          *header,
            GError             **error)
{
  const char *colon = strchr (header, ':');
  g_autofree char *name = NULL;
  g_autofree char *value = NULL;

  if (colon == NULL || colon == header)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("header “%s” is not of the form “Name: value”"), header);
      return FALSE;
    }
  name = g_strstrip (g_strndup (header, colon - header));
  value = g_strstrip (g_strdup (colon + 1));
  soup_message_headers_append (request_headers, name, value);
  return TRUE;
}

GBytes *
_cdviz_fetch_url (const char         *url,
                  const char * const *headers,
                  gsize               max_bytes,
                  guint               timeout_s,
                  guint              *status_out,
                  GError            **error)
{
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GError) local_error = NULL;
  guint status;

  if (status_out != NULL)
    *status_out = 0;
  msg = soup_message_new (SOUP_METHOD_GET, url);
  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid URL"), url);
      return NULL;
    }
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    if (!add_header (soup_message_get_request_headers (msg), headers[i], error))
      return NULL;

  session = soup_session_new_with_options ("timeout", timeout_s,
                                           "user-agent", "cdviz-pipeline/" PACKAGE_VERSION,
                                           NULL);
  stream = soup_session_send (session, msg, NULL, &local_error);
  if (stream == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                   _("cannot fetch %s: %s"), url, local_error->message);
      return NULL;
    }
  status = soup_message_get_status (msg);
  if (status_out != NULL)
    *status_out = status;
  if (status < 200 || status > 299)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("cannot fetch %s: the server answered %u %s"), url, status,
                   soup_message_get_reason_phrase (msg));
      return NULL;
    }

  for (;;)
    {
      guint8 buffer[16384];
      gssize n = g_input_stream_read (stream, buffer, sizeof buffer, NULL, &local_error);

      if (n < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("cannot fetch %s: %s"), url, local_error->message);
          return NULL;
        }
      if (n == 0)
        break;
      if (body->len + (gsize) n > max_bytes)
        {
          g_autofree char *limit = g_format_size (max_bytes);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       _("cannot fetch %s: larger than %s"), url, limit);
          return NULL;
        }
      g_byte_array_append (body, buffer, n);
    }
  g_input_stream_close (stream, NULL, NULL);
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}
