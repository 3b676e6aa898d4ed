/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the SSE parser of CdvizSseClient (src/cdviz-sse-parser.c). The
 * first byte of the input picks a feed size (1 to 256 bytes), the rest is
 * the stream. Checks that feeding in pieces gives exactly the events of one
 * whole feed (CRLF and BOM split anywhere), and what the specification
 * guarantees of every event: no CR or LF in its type or id, no NUL in its
 * id, no CR in its data, all of it valid UTF-8 once NULs are set aside, and
 * nothing longer than the bound. */
#include <string.h>

#include "src/cdviz-sse-parser-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

#define MAX_SIZE 4096

static void
check_text (const char *text,
            gsize       length,
            gboolean    line_breaks_allowed,
            gboolean    nul_allowed)
{
  gsize start = 0;

  for (gsize i = 0; i <= length; i++)
    {
      if (i < length && text[i] == '\r')
        g_assert_not_reached ();
      if (i < length && text[i] == '\n' && !line_breaks_allowed)
        g_assert_not_reached ();
      if (i == length || text[i] == '\0')
        {
          g_assert_true (i == length || nul_allowed);
          g_assert_true (g_utf8_validate_len (text + start, i - start, NULL));
          start = i + 1;
        }
    }
}

static GPtrArray *
parse (const guint8 *stream,
       gsize         length,
       gsize         step)
{
  g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (MAX_SIZE);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  CdvizSseEvent *event;

  for (gsize i = 0; i < length; i += step)
    _cdviz_sse_parser_feed (parser, stream + i, MIN (step, length - i));
  while ((event = _cdviz_sse_parser_pop (parser)) != NULL)
    {
      g_assert_nonnull (event->id);
      check_text (event->id, strlen (event->id), FALSE, FALSE);
      if (event->data != NULL)
        {
          g_assert_nonnull (event->type);
          check_text (event->type, strlen (event->type), FALSE, FALSE);
          check_text (event->data, event->data_len, TRUE, TRUE);
          g_assert_cmpuint (event->data_len, <, MAX_SIZE);
          g_ptr_array_add (out, g_strdup_printf ("%s|%s|%" G_GSIZE_FORMAT "|%s", event->type,
                                                 event->id, event->data_len, event->data));
        }
      else
        g_ptr_array_add (out, g_strdup_printf ("-|%s", event->id));
      _cdviz_sse_event_free (event);
    }
  g_assert_cmpint (_cdviz_sse_parser_take_retry (parser), >=, -1);
  return out;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GPtrArray) whole = NULL;
  g_autoptr(GPtrArray) pieces = NULL;
  gsize step;

  if (size < 1)
    return 0;
  step = (gsize) data[0] + 1;
  data++, size--;

  whole = parse (data, size, MAX (size, 1));
  pieces = parse (data, size, step);
  g_assert_cmpuint (whole->len, ==, pieces->len);
  for (guint i = 0; i < whole->len; i++)
    g_assert_cmpstr (g_ptr_array_index (whole, i), ==, g_ptr_array_index (pieces, i));
  return 0;
}
