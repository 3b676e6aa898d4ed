/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what the webhook does with a request body: cdviz_cdevent_parse()
 * (untrusted JSON, CDEvent checks, normalisation: timestamp, source,
 * content id), the message's cached compact serialisation, and the SSE
 * frame every client would receive. Checks, for every accepted body: the
 * event has a non-empty UTF-8 context.id without CR, LF or NUL; its
 * serialisation is one line of JSON that parses back to an equal event;
 * the frame is exactly `event: cdevent`, `id: <id>`, `data: <json>`, blank
 * line. Rejected bodies must come with a CDVIZ_CDEVENT_ERROR. Every
 * document the one-pass reader accepts is also read by JsonParser, and
 * the two trees must be the same. */
#include "config.h"

#include <string.h>

#include "cdviz-cdevent.h"
#include "cdviz-message.h"
#include "cdviz-json-private.h"
#include "cdviz-sse-frame.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) event = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) tree = NULL;
  g_autoptr(CdvizMessage) message = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autofree char *expected = NULL;
  const char *id, *json, *text;
  gsize json_len, frame_len;

  /* The tree the one-pass reader builds is JsonParser's (which may read
   * it: it is at most 128 levels deep): same values, same types (the
   * writer tells 1 from 1.0), same member order. */
  tree = _cdviz_json_parse_single_full ((const char *) data, size, FALSE, NULL);
  if (tree != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GString) ours = g_string_new (NULL);
      g_autoptr(GString) theirs = g_string_new (NULL);

      g_assert_true (json_parser_load_from_data (parser, (const char *) data, (gssize) size, NULL));
      g_assert_true (json_node_equal (tree, json_parser_get_root (parser)));
      _cdviz_json_append (ours, tree, FALSE, NULL);
      _cdviz_json_append (theirs, json_parser_get_root (parser), FALSE, NULL);
      g_assert_cmpstr (ours->str, ==, theirs->str);
    }

  event = cdviz_cdevent_parse ((const char *) data, (gssize) size, "/fuzz/source", &error);
  if (event == NULL)
    {
      g_assert_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_true (json_node_is_immutable (event));

  message = cdviz_message_new (event, NULL, NULL);
  id = cdviz_message_get_id (message);
  g_assert_nonnull (id);
  g_assert_cmpuint (strlen (id), >, 0);
  g_assert_true (g_utf8_validate (id, -1, NULL));
  g_assert_null (strpbrk (id, "\r\n"));

  json = g_bytes_get_data (cdviz_message_get_body_bytes (message), &json_len);
  g_assert_nonnull (json);
  g_assert_null (memchr (json, '\n', json_len));
  g_assert_null (memchr (json, '\r', json_len));
  g_assert_null (memchr (json, '\0', json_len));
  g_assert_true (g_utf8_validate (json, (gssize) json_len, NULL));

  again = _cdviz_json_parse_single (json, json_len, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (event, again));

  frame = cdviz_sse_frame_event (id, json, json_len);
  text = g_bytes_get_data (frame, &frame_len);
  expected = g_strdup_printf ("event: cdevent\nid: %s\ndata: %.*s\n\n", id, (int) json_len, json);
  g_assert_cmpuint (frame_len, ==, strlen (expected));
  g_assert_true (memcmp (text, expected, frame_len) == 0);
  return 0;
}
