/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "src/cdviz-sse-parser-private.h"

/* The SSE parser of CdvizSseClient against the rules of the WHATWG
 * specification. Every stream is parsed twice, whole and one byte per
 * feed, and both must give the same events. */

/* The events of @stream as "type|id|data" lines ("-|id" for an id-only
 * update), parsed in feeds of @step bytes (0: whole). */
static char *
parse_with (const char *stream,
            gsize       length,
            gsize       step,
            gsize       max_size)
{
  g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (max_size);
  GString *out = g_string_new (NULL);
  CdvizSseEvent *event;

  if (step == 0)
    _cdviz_sse_parser_feed (parser, (const guint8 *) stream, length);
  else
    for (gsize i = 0; i < length; i += step)
      _cdviz_sse_parser_feed (parser, (const guint8 *) stream + i, MIN (step, length - i));

  while ((event = _cdviz_sse_parser_pop (parser)) != NULL)
    {
      if (event->data == NULL)
        g_string_append_printf (out, "-|%s\n", event->id);
      else
        {
          g_string_append_printf (out, "%s|%s|", event->type, event->id);
          for (gsize i = 0; i < event->data_len; i++)
            {
              if (event->data[i] == '\n')
                g_string_append (out, "\\n");
              else if (event->data[i] == '\0')
                g_string_append (out, "\\0");
              else
                g_string_append_c (out, event->data[i]);
            }
          g_string_append_c (out, '\n');
        }
      _cdviz_sse_event_free (event);
    }
  return g_string_free (out, FALSE);
}

static void
check_len (const char *stream,
           gsize       length,
           const char *expected)
{
  g_autofree char *whole = parse_with (stream, length, 0, 0);
  g_autofree char *bytewise = parse_with (stream, length, 1, 0);
  g_autofree char *pairs = parse_with (stream, length, 2, 0);

  g_assert_cmpstr (whole, ==, expected);
  g_assert_cmpstr (bytewise, ==, expected);
  g_assert_cmpstr (pairs, ==, expected);
}

static void
check (const char *stream,
       const char *expected)
{
  check_len (stream, strlen (stream), expected);
}

static void
test_basic (void)
{
  check ("event: cdevent\nid: a1\ndata: {\"x\":1}\n\n", "cdevent|a1|{\"x\":1}\n");
  /* No blank line: nothing is dispatched. */
  check ("event: cdevent\nid: a1\ndata: {}\n", "");
  /* No event field: "message". */
  check ("data: hello\n\n", "message||hello\n");
}

static void
test_spaces (void)
{
  check ("data:  two\n\n", "message|| two\n");
  check ("data:none\n\n", "message||none\n");
}

static void
test_line_endings (void)
{
  const char *expected = "cdevent|1|a\\nb\nmessage|1|c\n";

  check ("event: cdevent\nid: 1\ndata: a\ndata: b\n\ndata: c\n\n", expected);
  check ("event: cdevent\rid: 1\rdata: a\rdata: b\r\rdata: c\r\r", expected);
  check ("event: cdevent\r\nid: 1\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", expected);
  check ("event: cdevent\r\nid: 1\rdata: a\ndata: b\r\n\rdata: c\n\r\n", expected);
  /* CR CR is two line ends (a blank line), CR LF one. */
  check ("data: x\r\r", "message||x\n");
  check ("data: x\r\n", "");
}

static void
test_multiline_data (void)
{
  check ("data: a\ndata: b\ndata: c\n\n", "message||a\\nb\\nc\n");
  /* A field without colon has an empty value: data with an empty line. */
  check ("data\n\n", "message||\n");
  check ("data\ndata\n\n", "message||\\n\n");
  check ("data:\n\n", "message||\n");
  /* No data field: no event. */
  check ("event: cdevent\n\n", "");
  /* The event type does not leak into the next event. */
  check ("event: cdevent\n\ndata: x\n\n", "message||x\n");
}

static void
test_comments (void)
{
  check (": keep-alive\n\n", "");
  check (":\n:comment\ndata: a\n: inside\ndata: b\n\n", "message||a\\nb\n");
  /* Unknown fields are ignored, names are case-sensitive. */
  check ("Data: no\nfoo: bar\nDATA: no\ndata: yes\n\n", "message||yes\n");
}

static void
test_bom (void)
{
  check ("\xEF\xBB\xBF" "data: a\n\n", "message||a\n");
  /* A second BOM is content: a field named "\uFEFFdata", ignored. */
  check ("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", "message||b\n");
  /* A partial BOM is content too. */
  check ("\xEF\xBB" "data: a\n\ndata: b\n\n", "message||b\n");
  /* Not at the start: content. */
  check ("data: \xEF\xBB\xBF" "a\n\n", "message||\xEF\xBB\xBF" "a\n");
}

static void
test_bom_after_reset (void)
{
  g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (0);
  g_autoptr(CdvizSseEvent) event = NULL;

  _cdviz_sse_parser_feed (parser, (const guint8 *) "\xEF\xBB\xBF" "id: 5\ndata: x", 17);
  g_assert_null (_cdviz_sse_parser_pop (parser));
  /* A new connection: the partial event is gone, the BOM is allowed again;
   * the last event id stays what was dispatched (nothing: "" here). */
  _cdviz_sse_parser_reset (parser);
  _cdviz_sse_parser_feed (parser, (const guint8 *) "\xEF\xBB\xBF" "data: y\n\n", 12);
  event = _cdviz_sse_parser_pop (parser);
  g_assert_nonnull (event);
  g_assert_cmpstr (event->data, ==, "y");
  g_assert_cmpstr (event->id, ==, "");
}

static void
test_id (void)
{
  /* The id persists to the following events until changed. */
  check ("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n",
         "message|1|a\nmessage|1|b\nmessage|2|c\n");
  /* An empty id resets it. */
  check ("id: 1\ndata: a\n\nid\ndata: b\n\n", "message|1|a\nmessage||b\n");
  check ("id: 1\ndata: a\n\nid:\ndata: b\n\n", "message|1|a\nmessage||b\n");
  /* An id without data updates the last event id, in order. */
  check ("id: 7\n\ndata: a\n\n", "-|7\nmessage|7|a\n");
  /* An id line with a NUL is ignored. */
  check_len ("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n", 32, "message|1|a\nmessage|1|b\n");
  /* The id is only taken at dispatch: a partial event's id is not. */
  {
    g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (0);

    _cdviz_sse_parser_feed (parser, (const guint8 *) "id: 1\ndata: a\n\nid: 2\ndata: b\n", 29);
    g_assert_cmpstr (_cdviz_sse_parser_get_last_id (parser), ==, "1");
    _cdviz_sse_parser_reset (parser);
    g_assert_cmpstr (_cdviz_sse_parser_get_last_id (parser), ==, "1");
    _cdviz_sse_parser_feed (parser, (const guint8 *) "data: c\n\n", 9);
    g_assert_cmpuint (_cdviz_sse_parser_n_queued (parser), ==, 1);
    {
      g_autoptr(CdvizSseEvent) event = _cdviz_sse_parser_pop (parser);
      g_assert_cmpstr (event->id, ==, "1");
    }
    _cdviz_sse_parser_set_last_id (parser, "from-disk");
    _cdviz_sse_parser_feed (parser, (const guint8 *) "data: d\n\n", 9);
    {
      g_autoptr(CdvizSseEvent) event = _cdviz_sse_parser_pop (parser);
      g_assert_cmpstr (event->id, ==, "from-disk");
    }
  }
}

static void
test_retry (void)
{
  g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (0);
  static const struct { const char *line; gint64 retry; } cases[] = {
    { "retry: 1500\n", 1500 },
    { "retry:0\n", 0 },
    { "retry: 15x\n", -1 },
    { "retry: -5\n", -1 },
    { "retry: 1.5\n", -1 },
    { "retry:\n", -1 },
    { "retry\n", -1 },
    { "retry:  20\n", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      _cdviz_sse_parser_feed (parser, (const guint8 *) cases[i].line, strlen (cases[i].line));
      g_assert_cmpint (_cdviz_sse_parser_take_retry (parser), ==, cases[i].retry);
    }
  /* retry: alone dispatches nothing. */
  _cdviz_sse_parser_feed (parser, (const guint8 *) "\n", 1);
  g_assert_cmpuint (_cdviz_sse_parser_n_queued (parser), ==, 0);
}

static void
test_utf8 (void)
{
  /* Invalid bytes become U+FFFD; valid multibyte text is kept. */
  check ("data: caf\xC3\xA9 \xFF!\n\n", "message||caf\xC3\xA9 \xEF\xBF\xBD!\n");
  check ("event: x\xC3\n" "data: a\n\n", "x\xEF\xBF\xBD|" "|a\n");
  /* A NUL in data is kept. */
  check_len ("data: a\0b\n\n", 11, "message||a\\0b\n");
}

static void
test_oversized (void)
{
  g_autofree char *big = g_strnfill (100, 'x');
  g_autofree char *stream = g_strdup_printf ("id: 1\ndata: ok\n\n"
                                             "id: 2\ndata: %s\n\n"
                                             "data: a\ndata: %s\ndata: b\n\n"
                                             "id: 3\ndata: after\n\n", big, big);
  g_autoptr(CdvizSseParser) parser = _cdviz_sse_parser_new (64);
  g_autoptr(GString) seen = g_string_new (NULL);
  CdvizSseEvent *event;

  for (gsize i = 0; stream[i] != '\0'; i++)
    _cdviz_sse_parser_feed (parser, (const guint8 *) stream + i, 1);
  while ((event = _cdviz_sse_parser_pop (parser)) != NULL)
    {
      g_string_append_printf (seen, "%s:%s;", event->id, event->data ? event->data : "-");
      _cdviz_sse_event_free (event);
    }
  /* The long events are gone, their ids are not; the stream goes on. */
  g_assert_cmpstr (seen->str, ==, "1:ok;2:-;3:after;");
  g_assert_cmpuint (_cdviz_sse_parser_n_oversized (parser), ==, 2);

  /* An event made too long by many lines, each short. */
  {
    g_autoptr(CdvizSseParser) small = _cdviz_sse_parser_new (16);
    const char *lines = "data: 12345\ndata: 12345\ndata: 12345\n\ndata: ok\n\n";

    _cdviz_sse_parser_feed (small, (const guint8 *) lines, strlen (lines));
    event = _cdviz_sse_parser_pop (small);
    g_assert_cmpstr (event->data, ==, "ok");
    _cdviz_sse_event_free (event);
    g_assert_cmpuint (_cdviz_sse_parser_n_oversized (small), ==, 1);
  }
}

static void
test_lagged (void)
{
  g_assert_cmpuint (_cdviz_sse_parse_lagged ("lagged: 12 messages skipped"), ==, 12);
  g_assert_cmpuint (_cdviz_sse_parse_lagged ("lagged: 3"), ==, 3);
  g_assert_cmpuint (_cdviz_sse_parse_lagged ("lagged: x"), ==, 0);
  g_assert_cmpuint (_cdviz_sse_parse_lagged ("serialization error: bad"), ==, 0);
  g_assert_cmpuint (_cdviz_sse_parse_lagged (NULL), ==, 0);
  check ("event: error\ndata: lagged: 5 messages skipped\n\n",
         "error||lagged: 5 messages skipped\n");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sse-parser/basic", test_basic);
  g_test_add_func ("/sse-parser/spaces", test_spaces);
  g_test_add_func ("/sse-parser/line-endings", test_line_endings);
  g_test_add_func ("/sse-parser/multiline-data", test_multiline_data);
  g_test_add_func ("/sse-parser/comments", test_comments);
  g_test_add_func ("/sse-parser/bom", test_bom);
  g_test_add_func ("/sse-parser/bom-after-reset", test_bom_after_reset);
  g_test_add_func ("/sse-parser/id", test_id);
  g_test_add_func ("/sse-parser/retry", test_retry);
  g_test_add_func ("/sse-parser/utf8", test_utf8);
  g_test_add_func ("/sse-parser/oversized", test_oversized);
  g_test_add_func ("/sse-parser/lagged", test_lagged);
  return g_test_run ();
}
