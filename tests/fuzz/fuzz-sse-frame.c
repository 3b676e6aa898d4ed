/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the SSE frame formatter (plugins/sse/cdviz-sse-frame.c, compiled
 * in). The first line of the input is an event id, the rest the event data;
 * any bytes, CR, LF and NUL included. Checks the frame byte for byte
 * against the rules: `event: cdevent`, an `id:` line only for a valid id,
 * one `data:` line where each CR or LF became a space, a blank line, and
 * no other line break anywhere (a client could not be made to see a
 * second event or field). Error frames and chunk headers likewise. */
#include <string.h>

#include "cdviz-sse-frame.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static gsize
count_breaks (const char *text,
              gsize       length)
{
  gsize n = 0;

  for (gsize i = 0; i < length; i++)
    n += text[i] == '\n' || text[i] == '\r';
  return n;
}

static void
check_data_line (const char *field,
                 const char *data,
                 gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (data[i] == '\n' || data[i] == '\r')
        g_assert_cmpint (field[i], ==, ' ');
      else
        g_assert_cmpint (field[i], ==, data[i]);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *input,
                        size_t        size)
{
  const char *text = (const char *) input;
  const char *eol = memchr (text, '\n', size);
  g_autofree char *id = g_strndup (text, eol ? (gsize) (eol - text) : size);
  const char *data = eol ? eol + 1 : text + size;
  gsize length = eol ? size - (gsize) (eol + 1 - text) : 0;
  gboolean valid = cdviz_sse_frame_id_is_valid (id);
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) error = NULL;
  g_autofree char *message = NULL;
  const char *out;
  gsize out_len, head_len;
  char chunk[32];
  guint64 n = 0;
  gsize chunk_len;

  /* An id is valid when non-empty (as a C string) without CR or LF. */
  g_assert_true (valid == (*id != '\0' && strpbrk (id, "\r\n") == NULL));

  frame = cdviz_sse_frame_event (id, data, length);
  out = g_bytes_get_data (frame, &out_len);
  head_len = 15 + (valid ? 4 + strlen (id) + 1 : 0) + 6;
  g_assert_cmpuint (out_len, ==, head_len + length + 2);
  g_assert_true (memcmp (out, "event: cdevent\n", 15) == 0);
  if (valid)
    {
      g_assert_true (memcmp (out + 15, "id: ", 4) == 0);
      g_assert_true (memcmp (out + 19, id, strlen (id)) == 0);
      g_assert_cmpint (out[19 + strlen (id)], ==, '\n');
    }
  g_assert_true (memcmp (out + head_len - 6, "data: ", 6) == 0);
  check_data_line (out + head_len, data, length);
  g_assert_true (memcmp (out + out_len - 2, "\n\n", 2) == 0);
  g_assert_cmpuint (count_breaks (out, out_len), ==, valid ? 4 : 3);

  /* Error frames: the message is text (up to its first NUL). */
  message = g_strndup (data, length);
  error = cdviz_sse_frame_error (message);
  out = g_bytes_get_data (error, &out_len);
  g_assert_cmpuint (out_len, ==, 19 + strlen (message) + 2);
  g_assert_true (memcmp (out, "event: error\ndata: ", 19) == 0);
  check_data_line (out + 19, message, strlen (message));
  g_assert_cmpuint (count_breaks (out, out_len), ==, 3);

  /* Chunk headers: hex, CRLF, and back. */
  memcpy (&n, input, MIN (size, sizeof n));
  chunk_len = cdviz_sse_chunk_header ((gsize) n, chunk, sizeof chunk);
  g_assert_cmpuint (chunk_len, >=, 3);
  g_assert_true (chunk[chunk_len - 2] == '\r' && chunk[chunk_len - 1] == '\n');
  chunk[chunk_len - 2] = '\0';
  g_assert_cmpuint (g_ascii_strtoull (chunk, NULL, 16), ==, (guint64) (gsize) n);
  return 0;
}
