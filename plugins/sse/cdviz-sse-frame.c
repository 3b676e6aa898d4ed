/* SPDX-License-Identifier: Apache-2.0 */
#include "cdviz-sse-frame.h"

#include <string.h>

/* Appends @length bytes of @data as the value of one field line: the SSE
 * format ends a line at CR, LF or CRLF, so any raw line break becomes a
 * space. For the JSON bodies this is lossless: json-glib escapes line
 * breaks inside strings, so a raw one can only be insignificant whitespace
 * between tokens. */
static void
append_one_line (GString    *out,
                 const char *data,
                 gsize       length)
{
  const char *p = data;
  const char *end = data + length;

  while (p < end)
    {
      const char *brk = p;

      while (brk < end && *brk != '\n' && *brk != '\r')
        brk++;
      g_string_append_len (out, p, brk - p);
      if (brk == end)
        break;
      g_string_append_c (out, ' ');
      p = brk + 1;
    }
}

/**
 * cdviz_sse_frame_id_is_valid:
 * @id: (nullable): an event id
 *
 * Whether @id can be sent as an `id:` field: not %NULL, not empty, and
 * without CR, LF or NUL (browsers ignore an id holding NUL, and a line
 * break would let the id inject fields).
 *
 * Returns: %TRUE if @id can be sent
 */
gboolean
cdviz_sse_frame_id_is_valid (const char *id)
{
  if (id == NULL || *id == '\0')
    return FALSE;
  return strpbrk (id, "\r\n") == NULL;
}

/**
 * cdviz_sse_frame_event:
 * @id: (nullable): the CDEvent's `context.id`; omitted when %NULL or not
 *   valid (see cdviz_sse_frame_id_is_valid())
 * @data: the compact JSON of the event
 * @length: the length of @data
 *
 * Formats `event: cdevent\nid: <id>\ndata: <data>\n\n`. The data is always
 * one line.
 *
 * Returns: (transfer full): the frame
 */
GBytes *
cdviz_sse_frame_event (const char *id,
                       const char *data,
                       gsize       length)
{
  gboolean with_id = cdviz_sse_frame_id_is_valid (id);
  GString *out = g_string_sized_new (length + 32 + (with_id ? strlen (id) + 5 : 0));

  g_string_append_len (out, "event: cdevent\n", 15);
  if (with_id)
    {
      g_string_append_len (out, "id: ", 4);
      g_string_append (out, id);
      g_string_append_c (out, '\n');
    }
  g_string_append_len (out, "data: ", 6);
  if (memchr (data, '\n', length) == NULL && memchr (data, '\r', length) == NULL)
    g_string_append_len (out, data, length);
  else
    append_one_line (out, data, length);
  g_string_append_len (out, "\n\n", 2);
  return g_string_free_to_bytes (out);
}

/**
 * cdviz_sse_frame_id:
 * @id: (nullable): an event's id
 *
 * Formats `id: <id>\n\n`: a frame without data, which sets a client's last
 * event id without dispatching an event (the SSE specification's dispatch
 * steps), so that a filtered client that skipped events resumes after them.
 *
 * Returns: (transfer full) (nullable): the frame, or %NULL when @id is
 *   %NULL or not valid (see cdviz_sse_frame_id_is_valid())
 */
GBytes *
cdviz_sse_frame_id (const char *id)
{
  GString *out;

  if (!cdviz_sse_frame_id_is_valid (id))
    return NULL;
  out = g_string_sized_new (strlen (id) + 6);
  g_string_append_len (out, "id: ", 4);
  g_string_append (out, id);
  g_string_append_len (out, "\n\n", 2);
  return g_string_free_to_bytes (out);
}

/**
 * cdviz_sse_frame_error:
 * @message: what went wrong, e.g. `lagged: 3 messages skipped`
 *
 * Formats `event: error\ndata: <message>\n\n` (no `id:` line).
 *
 * Returns: (transfer full): the frame
 */
GBytes *
cdviz_sse_frame_error (const char *message)
{
  GString *out = g_string_sized_new (32 + strlen (message));

  g_string_append_len (out, "event: error\ndata: ", 19);
  append_one_line (out, message, strlen (message));
  g_string_append_len (out, "\n\n", 2);
  return g_string_free_to_bytes (out);
}

/**
 * cdviz_sse_frame_lagged:
 * @skipped: how many events the client will never see
 *
 * Returns: (transfer full): `event: error\ndata: lagged: N messages skipped\n\n`
 */
GBytes *
cdviz_sse_frame_lagged (guint64 skipped)
{
  char text[64];

  g_snprintf (text, sizeof text, "lagged: %" G_GUINT64_FORMAT " messages skipped", skipped);
  return cdviz_sse_frame_error (text);
}

/**
 * cdviz_sse_frame_retry:
 * @retry_ms: the reconnection time in milliseconds
 *
 * Returns: (transfer full): `retry: <ms>\n\n`
 */
GBytes *
cdviz_sse_frame_retry (guint64 retry_ms)
{
  char *text = g_strdup_printf ("retry: %" G_GUINT64_FORMAT "\n\n", retry_ms);

  return g_bytes_new_take (text, strlen (text));
}

/**
 * cdviz_sse_chunk_header:
 * @length: the size of the chunk's data
 * @buffer: where to write the header
 * @buffer_size: the size of @buffer (20 bytes are always enough)
 *
 * Writes the HTTP/1.1 chunk-size line, `<hex length>\r\n`.
 *
 * Returns: the length of the header
 */
gsize
cdviz_sse_chunk_header (gsize  length,
                        char  *buffer,
                        gsize  buffer_size)
{
  static const char hex[] = "0123456789abcdef";
  char digits[2 * sizeof (gsize)];
  gsize n = 0, out = 0;

  do
    {
      digits[n++] = hex[length & 0xf];
      length >>= 4;
    }
  while (length != 0);

  g_return_val_if_fail (buffer_size >= n + 2, 0);
  while (n > 0)
    buffer[out++] = digits[--n];
  buffer[out++] = '\r';
  buffer[out++] = '\n';
  return out;
}
