/* SPDX-License-Identifier: Apache-2.0 */
/* The SSE sink's pure units: frame formatting and the ring of frames with
 * its cursor arithmetic. No network, no plugin loading: the units' sources
 * are compiled into this executable. */
#include <string.h>

#include <glib.h>

#include "cdviz-sse-frame.h"
#include "cdviz-sse-query.h"
#include "cdviz-sse-ring.h"

static void
assert_bytes_eq (GBytes     *bytes,
                 const char *expected)
{
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  g_autofree char *text = g_strndup (data, length);

  g_assert_cmpstr (text, ==, expected);
  g_assert_cmpuint (length, ==, strlen (expected));
}

static GBytes *
frame_for (guint n)
{
  g_autofree char *id = g_strdup_printf ("id-%u", n);
  g_autofree char *data = g_strdup_printf ("{\"n\":%u}", n);

  return cdviz_sse_frame_event (id, data, strlen (data));
}

static guint
frame_number (GBytes *frame)
{
  gsize length;
  const char *data = g_bytes_get_data (frame, &length);
  const char *n = g_strstr_len (data, length, "{\"n\":");

  g_assert_nonnull (n);
  return (guint) g_ascii_strtoull (n + 5, NULL, 10);
}

/* --- frames ------------------------------------------------------------- */

static void
test_frame_event (void)
{
  const char *json = "{\"context\":{\"id\":\"abc\"},\"subject\":{}}";
  g_autoptr(GBytes) frame = cdviz_sse_frame_event ("abc", json, strlen (json));

  assert_bytes_eq (frame,
                   "event: cdevent\n"
                   "id: abc\n"
                   "data: {\"context\":{\"id\":\"abc\"},\"subject\":{}}\n"
                   "\n");
}

static void
test_frame_event_without_id (void)
{
  g_autoptr(GBytes) none = cdviz_sse_frame_event (NULL, "{}", 2);
  g_autoptr(GBytes) empty = cdviz_sse_frame_event ("", "{}", 2);

  assert_bytes_eq (none, "event: cdevent\ndata: {}\n\n");
  assert_bytes_eq (empty, "event: cdevent\ndata: {}\n\n");
}

static void
test_frame_event_unusual_id (void)
{
  /* Unicode, spaces, colons and quotes are fine in an id... */
  const char *id = "dev.cdevents:é \"quoted\" ✓ 42";
  g_autoptr(GBytes) frame = cdviz_sse_frame_event (id, "{}", 2);
  g_autofree char *expected = g_strdup_printf ("event: cdevent\nid: %s\ndata: {}\n\n", id);

  assert_bytes_eq (frame, expected);
  g_assert_true (cdviz_sse_frame_id_is_valid (id));

  /* ...line breaks are not: they would inject fields. */
  g_assert_false (cdviz_sse_frame_id_is_valid ("a\nevent: evil"));
  g_assert_false (cdviz_sse_frame_id_is_valid ("a\rb"));
  g_assert_false (cdviz_sse_frame_id_is_valid (""));
  g_assert_false (cdviz_sse_frame_id_is_valid (NULL));
  {
    g_autoptr(GBytes) evil = cdviz_sse_frame_event ("a\nevent: evil", "{}", 2);
    assert_bytes_eq (evil, "event: cdevent\ndata: {}\n\n");
  }
}

static void
test_frame_event_data_one_line (void)
{
  /* json-glib escapes line breaks inside strings: data stays as it is. */
  const char *escaped = "{\"s\":\"line1\\nline2\\r\\n\\u2028 data: x\"}";
  g_autoptr(GBytes) kept = cdviz_sse_frame_event ("x", escaped, strlen (escaped));
  g_autofree char *expected = g_strdup_printf ("event: cdevent\nid: x\ndata: %s\n\n", escaped);
  /* Raw line breaks can only be whitespace between JSON tokens. */
  const char *raw = "{\n  \"a\": 1,\r\n  \"b\": [\r1, 2]\n}";
  g_autoptr(GBytes) flattened = cdviz_sse_frame_event ("y", raw, strlen (raw));
  gsize length;
  const char *data;

  assert_bytes_eq (kept, expected);
  assert_bytes_eq (flattened,
                   "event: cdevent\nid: y\ndata: {   \"a\": 1,    \"b\": [ 1, 2] }\n\n");

  /* Exactly four line breaks: three field ends and the blank line. */
  data = g_bytes_get_data (flattened, &length);
  {
    guint n = 0;
    for (gsize i = 0; i < length; i++)
      n += data[i] == '\n' || data[i] == '\r';
    g_assert_cmpuint (n, ==, 4);
  }
}

static void
test_frame_event_binary_length (void)
{
  /* The data length is honoured (no reliance on a terminating NUL). */
  const char data[] = "{\"a\":1}garbage";
  g_autoptr(GBytes) frame = cdviz_sse_frame_event ("i", data, 7);

  assert_bytes_eq (frame, "event: cdevent\nid: i\ndata: {\"a\":1}\n\n");
}

static void
test_frame_error (void)
{
  g_autoptr(GBytes) lagged = cdviz_sse_frame_lagged (15);
  g_autoptr(GBytes) big = cdviz_sse_frame_lagged (G_MAXUINT64);
  g_autoptr(GBytes) error = cdviz_sse_frame_error ("serialization error: bad\nthing");

  assert_bytes_eq (lagged, "event: error\ndata: lagged: 15 messages skipped\n\n");
  assert_bytes_eq (big, "event: error\ndata: lagged: 18446744073709551615 messages skipped\n\n");
  assert_bytes_eq (error, "event: error\ndata: serialization error: bad thing\n\n");
  g_assert_cmpstr (CDVIZ_SSE_FRAME_KEEP_ALIVE, ==, ": keep-alive\n\n");
}

static void
test_frame_retry (void)
{
  g_autoptr(GBytes) retry = cdviz_sse_frame_retry (3000);

  assert_bytes_eq (retry, "retry: 3000\n\n");
}

static void
test_chunk_header (void)
{
  char buffer[24];
  gsize n;

  n = cdviz_sse_chunk_header (0, buffer, sizeof buffer);
  g_assert_cmpmem (buffer, n, "0\r\n", 3);
  n = cdviz_sse_chunk_header (10, buffer, sizeof buffer);
  g_assert_cmpmem (buffer, n, "a\r\n", 3);
  n = cdviz_sse_chunk_header (0x1f3a, buffer, sizeof buffer);
  g_assert_cmpmem (buffer, n, "1f3a\r\n", 6);
  n = cdviz_sse_chunk_header (G_MAXSIZE, buffer, sizeof buffer);
  g_assert_cmpuint (n, ==, 2 * sizeof (gsize) + 2);
}

/* --- the ring ----------------------------------------------------------- */

static void
test_ring_empty (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (3, 0);
  GBytes *frames[4];
  guint64 cursor = 0;

  g_assert_cmpuint (cdviz_sse_ring_get_capacity (ring), ==, 3);
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_get_next (ring), ==, 0);
  g_assert_null (cdviz_sse_ring_peek (ring, 0));
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &cursor), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_collect (ring, &cursor, frames, 4, 1024, NULL), ==, 0);
  g_assert_cmpuint (cursor, ==, 0);
}

static void
test_ring_wrap_around (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (4, 0);

  /* Ten times around a ring of four. */
  for (guint i = 0; i < 40; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);

      g_assert_cmpuint (cdviz_sse_ring_push (ring, NULL, frame), ==, i);
      g_assert_cmpuint (cdviz_sse_ring_get_next (ring), ==, i + 1);
      g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, MIN (i + 1, 4));
      g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, i + 1 > 4 ? i + 1 - 4 : 0);

      for (guint64 seq = 0; seq <= i + 1; seq++)
        {
          GBytes *held = cdviz_sse_ring_peek (ring, seq);

          if (seq + 4 <= i || seq > i)
            g_assert_null (held);
          else
            g_assert_cmpuint (frame_number (held), ==, seq);
        }
    }
}

static void
test_ring_frames_shared (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (2, 0);
  g_autoptr(GBytes) frame = frame_for (1);
  GBytes *out[2];
  guint64 cursor = 0;

  cdviz_sse_ring_push (ring, "id-1", frame);
  /* The ring and the client reference the same buffer: no copy. */
  g_assert_cmpuint (cdviz_sse_ring_collect (ring, &cursor, out, 2, 1024, NULL), ==, 1);
  g_assert_true (out[0] == frame);
  g_bytes_unref (out[0]);

  /* Once evicted, the ring drops its reference. */
  cdviz_sse_ring_push (ring, NULL, frame);
  cdviz_sse_ring_push (ring, NULL, frame);
  cdviz_sse_ring_push (ring, NULL, frame);
  g_assert_null (cdviz_sse_ring_peek (ring, 0));
}

static void
test_ring_collect_bounds (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (100, 0);
  GBytes *out[10];
  guint64 cursor = 0;
  gsize bytes = 0, size;
  guint n;

  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  size = g_bytes_get_size (cdviz_sse_ring_peek (ring, 0));   /* alike for 0..9 */

  /* Bounded by the number of frames... */
  n = cdviz_sse_ring_collect (ring, &cursor, out, 10, G_MAXSIZE, &bytes);
  g_assert_cmpuint (n, ==, 10);
  g_assert_cmpuint (cursor, ==, 10);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_number (out[i]), ==, i);
      g_bytes_unref (out[i]);
    }
  g_assert_cmpuint (bytes, ==, 10 * size);
  size = g_bytes_get_size (cdviz_sse_ring_peek (ring, 10));  /* alike for 10..49 */

  /* ...by bytes, whole frames only... */
  n = cdviz_sse_ring_collect (ring, &cursor, out, 10, 3 * size + 1, &bytes);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpuint (cursor, ==, 13);
  for (guint i = 0; i < n; i++)
    g_bytes_unref (out[i]);

  /* ...but always at least one frame. */
  n = cdviz_sse_ring_collect (ring, &cursor, out, 10, 1, &bytes);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (frame_number (out[0]), ==, 13);
  g_assert_cmpuint (cursor, ==, 14);
  g_bytes_unref (out[0]);

  /* Up to the end and no further. */
  while ((n = cdviz_sse_ring_collect (ring, &cursor, out, 10, G_MAXSIZE, NULL)) > 0)
    for (guint i = 0; i < n; i++)
      g_bytes_unref (out[i]);
  g_assert_cmpuint (cursor, ==, 50);
}

static void
test_ring_lagged (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (5, 0);
  guint64 fast = 0, slow = 0, live;
  GBytes *out[16];
  guint n;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  /* The fast client reads everything so far. */
  n = cdviz_sse_ring_collect (ring, &fast, out, 16, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < n; i++)
    g_bytes_unref (out[i]);
  live = cdviz_sse_ring_get_next (ring);
  g_assert_cmpuint (live, ==, 3);

  /* 20 more events: the ring (5) holds 18..22. */
  for (guint i = 3; i < 23; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 18);

  /* Skipped counts are exactly the frames never to be seen. */
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &slow), ==, 18);   /* 0..17 */
  g_assert_cmpuint (slow, ==, 18);
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &fast), ==, 15);   /* 3..17 */
  g_assert_cmpuint (fast, ==, 18);
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &live), ==, 15);
  /* A second catch-up finds nothing more. */
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &slow), ==, 0);

  /* Then it continues with the oldest frame still held, in order. */
  n = cdviz_sse_ring_collect (ring, &slow, out, 16, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 5);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_number (out[i]), ==, 18 + i);
      g_bytes_unref (out[i]);
    }
  /* Seen + skipped == sent. */
  g_assert_cmpuint (18 + n, ==, cdviz_sse_ring_get_next (ring));
}

static void
test_ring_lagged_capacity_one (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (1, 0);
  guint64 cursor = 0;

  for (guint i = 0; i < 7; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 1);
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &cursor), ==, 6);
  g_assert_cmpuint (frame_number (cdviz_sse_ring_peek (ring, cursor)), ==, 6);
}

static void
test_ring_resume (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (4, 0);
  gboolean found = TRUE;
  const char *ids[] = { "a", "b", NULL, "c", "b", "d" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, ids[i], frame);
    }
  /* Held: 2 (no id), 3 "c", 4 "b", 5 "d". */

  /* No Last-Event-ID: live. */
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, NULL, &found), ==, 6);
  g_assert_false (found);
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "", &found), ==, 6);
  g_assert_false (found);

  /* Right after that frame. */
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "c", &found), ==, 4);
  g_assert_true (found);
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "d", &found), ==, 6);
  g_assert_true (found);

  /* The newest frame with that id ("b" is 1, evicted, and 4). */
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "b", &found), ==, 5);
  g_assert_true (found);

  /* Evicted or unknown: live. */
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "a", &found), ==, 6);
  g_assert_false (found);
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "zzz", NULL), ==, 6);
}

static void
test_ring_resume_empty (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (4, 0);
  gboolean found = TRUE;

  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "a", &found), ==, 0);
  g_assert_false (found);
}

static GBytes *
frame_of_size (guint n,
               gsize size)
{
  g_autofree char *data = g_strdup_printf ("{\"n\":%u}", n);
  GString *frame = g_string_new (data);

  g_assert_cmpuint (size, >=, frame->len);
  while (frame->len < size)
    g_string_append_c (frame, ' ');
  return g_string_free_to_bytes (frame);
}

/* Bytes held are counted; a count-only ring (max_bytes 0) never evicts for
 * size. */
static void
test_ring_bytes_counted (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (3, 0);

  g_assert_cmpuint (cdviz_sse_ring_get_max_bytes (ring), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 0);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GBytes) frame = frame_of_size (i, 1000 * (i + 1));
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  /* Held: 2, 3, 4 (3000 + 4000 + 5000 bytes). */
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 3);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 12000);
}

/* The byte bound evicts the oldest frames, as many as needed, before the
 * count bound does. */
static void
test_ring_byte_bound (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (100, 1000);

  g_assert_cmpuint (cdviz_sse_ring_get_max_bytes (ring), ==, 1000);
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(GBytes) frame = frame_of_size (i, 100);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  /* Exactly at the bound: nothing evicted. */
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 10);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 1000);
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 0);

  /* Over by one frame: the oldest frame goes. */
  {
    g_autoptr(GBytes) frame = frame_of_size (10, 100);
    cdviz_sse_ring_push (ring, NULL, frame);
  }
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 1);
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 10);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 1000);
  g_assert_null (cdviz_sse_ring_peek (ring, 0));
  g_assert_cmpuint (frame_number (cdviz_sse_ring_peek (ring, 1)), ==, 1);

  /* A big frame evicts several: 1000 + 550 needs 6 frames out (1..6). */
  {
    g_autoptr(GBytes) frame = frame_of_size (11, 550);
    cdviz_sse_ring_push (ring, NULL, frame);
  }
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 7);
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 5);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 950);
  g_assert_null (cdviz_sse_ring_peek (ring, 6));
  g_assert_cmpuint (frame_number (cdviz_sse_ring_peek (ring, 7)), ==, 7);
  g_assert_cmpuint (frame_number (cdviz_sse_ring_peek (ring, 11)), ==, 11);
}

/* A frame larger than the byte bound is held alone: live clients still get
 * it. */
static void
test_ring_byte_bound_huge_frame (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (10, 100);
  GBytes *out[4];
  guint64 cursor;

  {
    g_autoptr(GBytes) frame = frame_of_size (0, 50);
    cdviz_sse_ring_push (ring, "a", frame);
  }
  cursor = cdviz_sse_ring_get_next (ring);
  {
    g_autoptr(GBytes) frame = frame_of_size (1, 5000);
    cdviz_sse_ring_push (ring, "b", frame);
  }
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 1);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 5000);
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &cursor), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_collect (ring, &cursor, out, 4, 1024, NULL), ==, 1);
  g_assert_cmpuint (frame_number (out[0]), ==, 1);
  g_bytes_unref (out[0]);

  /* The next small frame evicts it. */
  {
    g_autoptr(GBytes) frame = frame_of_size (2, 50);
    cdviz_sse_ring_push (ring, "c", frame);
  }
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 1);
  g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, 50);
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 2);
}

/* Frames evicted by bytes make a slow client lag exactly as a wrap by count
 * does; a Last-Event-ID among them resumes live. */
static void
test_ring_byte_bound_lagged_and_resume (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (1000, 500);
  guint64 slow = 0;
  gboolean found = TRUE;
  GBytes *out[16];
  guint n;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *id = g_strdup_printf ("id-%u", i);
      g_autoptr(GBytes) frame = frame_of_size (i, 100);
      cdviz_sse_ring_push (ring, id, frame);
    }
  /* 500 bytes: 15..19 held, far below the count bound. */
  g_assert_cmpuint (cdviz_sse_ring_get_oldest (ring), ==, 15);
  g_assert_cmpuint (cdviz_sse_ring_get_length (ring), ==, 5);

  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &slow), ==, 15);
  n = cdviz_sse_ring_collect (ring, &slow, out, 16, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 5);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_number (out[i]), ==, 15 + i);
      g_bytes_unref (out[i]);
    }

  /* Evicted: live, not found. Held: right after it. */
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "id-3", &found), ==, 20);
  g_assert_false (found);
  g_assert_cmpuint (cdviz_sse_ring_resume_cursor (ring, "id-16", &found), ==, 17);
  g_assert_true (found);
}

/* Both bounds at once: whichever is exceeded evicts; bytes stay exact
 * across wrap-arounds. */
static void
test_ring_both_bounds (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (4, 1000);
  guint64 expected_bytes;

  for (guint i = 0; i < 40; i++)
    {
      g_autoptr(GBytes) frame = frame_of_size (i, 100 + 50 * (i % 7));
      cdviz_sse_ring_push (ring, NULL, frame);

      g_assert_cmpuint (cdviz_sse_ring_get_length (ring), <=, 4);
      g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), <=, 1000);
      expected_bytes = 0;
      for (guint64 seq = cdviz_sse_ring_get_oldest (ring);
           seq < cdviz_sse_ring_get_next (ring); seq++)
        {
          GBytes *held = cdviz_sse_ring_peek (ring, seq);

          g_assert_cmpuint (frame_number (held), ==, seq);
          expected_bytes += g_bytes_get_size (held);
        }
      g_assert_cmpuint (cdviz_sse_ring_get_bytes (ring), ==, expected_bytes);
      /* Nothing evicted that would have fitted. */
      if (cdviz_sse_ring_get_oldest (ring) > 0 && cdviz_sse_ring_get_length (ring) < 4)
        {
          guint64 before = cdviz_sse_ring_get_oldest (ring) - 1;
          guint size_before = 100 + 50 * (before % 7);
          g_assert_cmpuint (expected_bytes + size_before, >, 1000);
        }
    }
}

static void
test_ring_replay (void)
{
  g_autoptr(CdvizSseRing) ring = cdviz_sse_ring_new (4, 0);
  GBytes *out[8];
  guint64 cursor;
  guint n;

  /* Empty: nothing to replay, whatever N. */
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 0, NULL), ==, 0);
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 5, NULL), ==, 0);

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      cdviz_sse_ring_push (ring, NULL, frame);
    }
  /* Held: 2..5. */
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 0, NULL), ==, 6);   /* live */
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 1, NULL), ==, 5);
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 4, NULL), ==, 2);
  /* Over the ring: what it holds, never a lag. */
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 5, NULL), ==, 2);
  cursor = cdviz_sse_ring_replay_cursor (ring, G_MAXUINT64, NULL);
  g_assert_cmpuint (cursor, ==, 2);
  g_assert_cmpuint (cdviz_sse_ring_catch_up (ring, &cursor), ==, 0);

  cursor = cdviz_sse_ring_replay_cursor (ring, 3, NULL);
  n = cdviz_sse_ring_collect (ring, &cursor, out, G_N_ELEMENTS (out), G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_number (out[i]), ==, 3 + i);
      g_bytes_unref (out[i]);
    }
}

/* --- query -------------------------------------------------------------- */

static void
test_query_empty (void)
{
  const char *queries[] = { NULL, "", "_=1700000000", "token&x=y", "&&" };

  for (guint i = 0; i < G_N_ELEMENTS (queries); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdvizSseQuery) q = cdviz_sse_query_parse (queries[i], &error);

      g_assert_no_error (error);
      g_assert_null (q->last_event_id);
      g_assert_false (q->has_replay);
    }
}

static void
test_query_last_event_id (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizSseQuery) q = NULL;

  q = cdviz_sse_query_parse ("x=1&lastEventId=ev%2D4+b%C3%A9&y", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q->last_event_id, ==, "ev-4 b\xc3\xa9");
  g_assert_false (q->has_replay);
  g_clear_pointer (&q, cdviz_sse_query_free);

  /* An empty value is kept: the sink treats it as no id, as the header. */
  q = cdviz_sse_query_parse ("lastEventId=", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q->last_event_id, ==, "");
  g_clear_pointer (&q, cdviz_sse_query_free);

  q = cdviz_sse_query_parse ("lastEventId=a&lastEventId=b", &error);
  g_assert_null (q);
  g_assert_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID);
  g_clear_error (&error);

  q = cdviz_sse_query_parse ("lastEventId=%zz", &error);
  g_assert_null (q);
  g_assert_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID);
}

static void
test_query_replay (void)
{
  struct { const char *query; guint64 replay; } good[] = {
    { "replay=0", 0 },
    { "replay=7", 7 },
    { "replay=007", 7 },
    { "lastEventId=a&replay=1000", 1000 },
    { "replay=18446744073709551615", G_MAXUINT64 },
    { "replay=99999999999999999999999", G_MAXUINT64 },   /* saturates */
  };
  const char *bad[] = {
    "replay", "replay=", "replay=-1", "replay=+1", "replay=1e3", "replay=%201",
    "replay=abc", "replay=1.5", "replay=0x10", "replay=1&replay=2",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdvizSseQuery) q = cdviz_sse_query_parse (good[i].query, &error);

      g_assert_no_error (error);
      g_assert_true (q->has_replay);
      g_assert_cmpuint (q->replay, ==, good[i].replay);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdvizSseQuery) q = cdviz_sse_query_parse (bad[i], &error);

      g_assert_null (q);
      g_assert_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "replay"));
    }
}

static CdvizSseQuery *
query_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  CdvizSseQuery *q = cdviz_sse_query_parse (text, &error);

  g_assert_no_error (error);
  return q;
}

static gboolean
filter_says (const CdvizSseFilter *filter,
             const char           *type,
             const char           *subject)
{
  return cdviz_sse_filter_match (filter, type, type != NULL ? strlen (type) : 0,
                                 subject, subject != NULL ? strlen (subject) : 0);
}

static void
test_query_filter (void)
{
  g_autoptr(CdvizSseQuery) none = query_ok ("replay=3");
  g_autoptr(CdvizSseQuery) one = query_ok ("type=dev.cdevents.build.*");
  g_autoptr(CdvizSseQuery) or = query_ok ("type=dev.cdevents.build.*&type=*.artifact.published.*");
  g_autoptr(CdvizSseQuery) and = query_ok ("type=dev.cdevents.build.*&subject=repo%2Fa%3F&subject=x*");
  g_autoptr(CdvizSseQuery) subject = query_ok ("subject=*");

  /* No key: no filter, everything. */
  g_assert_null (none->filter);
  g_assert_true (filter_says (NULL, NULL, NULL));

  g_assert_true (filter_says (one->filter, "dev.cdevents.build.started.0.1.1", "s"));
  g_assert_true (filter_says (one->filter, "dev.cdevents.build.finished.0.1.1", NULL));
  g_assert_false (filter_says (one->filter, "dev.cdevents.service.deployed.0.1.1", "s"));
  g_assert_false (filter_says (one->filter, "xdev.cdevents.build.started", "s"));
  g_assert_false (filter_says (one->filter, NULL, "s"));   /* no type: no match */

  /* Repeated: OR within the key. */
  g_assert_true (filter_says (or->filter, "dev.cdevents.build.queued.0.1.1", NULL));
  g_assert_true (filter_says (or->filter, "dev.cdevents.artifact.published.0.1.1", NULL));
  g_assert_false (filter_says (or->filter, "dev.cdevents.artifact.packaged.0.1.1", NULL));

  /* Across keys: AND; "?" is one character, %-escapes are decoded. */
  g_assert_true (filter_says (and->filter, "dev.cdevents.build.started", "repo/ab"));
  g_assert_true (filter_says (and->filter, "dev.cdevents.build.started", "xyz"));
  g_assert_false (filter_says (and->filter, "dev.cdevents.build.started", "repo/abc"));
  g_assert_false (filter_says (and->filter, "dev.cdevents.build.started", NULL));
  g_assert_false (filter_says (and->filter, "dev.cdevents.service.deployed", "xyz"));

  /* "*" needs a subject id, even an empty one. */
  g_assert_true (filter_says (subject->filter, "t", ""));
  g_assert_false (filter_says (subject->filter, "t", NULL));
}

static void
test_query_filter_limits (void)
{
  GString *many = g_string_new ("");
  g_autofree char *long_pattern = g_strnfill (CDVIZ_SSE_FILTER_MAX_PATTERN_LENGTH + 1, 'a');
  g_autofree char *long_query = g_strconcat ("subject=", long_pattern, NULL);
  const char *bad[] = { "type=", "type", "subject=&type=a", long_query };

  for (guint i = 0; i < CDVIZ_SSE_FILTER_MAX_PATTERNS; i++)
    g_string_append_printf (many, "type=t%u&", i);
  {
    g_autoptr(CdvizSseQuery) q = query_ok (many->str);
    g_assert_cmpuint (q->filter->types->len, ==, CDVIZ_SSE_FILTER_MAX_PATTERNS);
  }
  g_string_append (many, "type=one-too-many");
  g_string_prepend (many, "subject=a&");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CdvizSseQuery) q = cdviz_sse_query_parse (many->str, &error);
    g_assert_null (q);
    g_assert_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdvizSseQuery) q = cdviz_sse_query_parse (bad[i], &error);

      g_assert_null (q);
      g_assert_error (error, CDVIZ_SSE_QUERY_ERROR, CDVIZ_SSE_QUERY_ERROR_INVALID);
    }
  g_string_free (many, TRUE);
}

/* Pushes events 0..n-1: even ones are builds, odd ones deployments. */
static CdvizSseRing *
typed_ring (guint capacity,
            guint n)
{
  CdvizSseRing *ring = cdviz_sse_ring_new (capacity, 0);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GBytes) frame = frame_for (i);
      g_autofree char *id = g_strdup_printf ("id-%u", i);
      g_autofree char *subject = g_strdup_printf ("s%u", i);

      cdviz_sse_ring_push_event (ring, id, i % 2 == 0 ? "dev.cdevents.build.started"
                                 : "dev.cdevents.service.deployed", subject, frame);
    }
  return ring;
}

static void
test_ring_collect_filtered (void)
{
  g_autoptr(CdvizSseRing) ring = typed_ring (100, 10);
  g_autoptr(CdvizSseQuery) builds = query_ok ("type=*.build.*");
  g_autoptr(CdvizSseQuery) nothing = query_ok ("type=nothing");
  GBytes *out[8];
  guint64 cursor = 0;
  gboolean found;
  guint n;

  /* Skipped frames count as seen: the cursor moves past them. */
  n = cdviz_sse_ring_collect_filtered (ring, &cursor, builds->filter, out, 3, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (frame_number (out[i]), ==, 2 * i);
      g_bytes_unref (out[i]);
    }
  g_assert_cmpuint (cursor, ==, 5);
  n = cdviz_sse_ring_collect_filtered (ring, &cursor, builds->filter, out, 8, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (frame_number (out[0]), ==, 6);
  g_assert_cmpuint (frame_number (out[1]), ==, 8);
  g_bytes_unref (out[0]);
  g_bytes_unref (out[1]);
  g_assert_cmpuint (cursor, ==, 10);   /* up to date, 9 skipped */

  /* A resume from the last build seen skips the rest the same way. */
  cursor = cdviz_sse_ring_resume_cursor (ring, "id-4", &found);
  g_assert_true (found);
  n = cdviz_sse_ring_collect_filtered (ring, &cursor, builds->filter, out, 8, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (frame_number (out[0]), ==, 6);
  g_bytes_unref (out[0]);
  g_bytes_unref (out[1]);

  /* Nothing matches: nothing collected, all seen. */
  cursor = 0;
  g_assert_cmpuint (cdviz_sse_ring_collect_filtered (ring, &cursor, nothing->filter, out, 8,
                                                     G_MAXSIZE, NULL), ==, 0);
  g_assert_cmpuint (cursor, ==, 10);
}

/* What a filtered client skipped last, and the shared `id:` frame of it. */
static void
test_ring_id_frame (void)
{
  g_autoptr(CdvizSseRing) ring = typed_ring (100, 10);
  g_autoptr(CdvizSseQuery) builds = query_ok ("type=*.build.*");
  g_autoptr(CdvizSseQuery) nothing = query_ok ("type=nothing");
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) again = NULL;
  GBytes *out[8];
  guint64 cursor = 0, trailing = 99;
  guint n;

  /* Frames 0..9, builds even: after the last build (8), one skipped (9). */
  n = cdviz_sse_ring_collect_skipping (ring, &cursor, builds->filter, out, 8, G_MAXSIZE,
                                       NULL, &trailing);
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpuint (trailing, ==, 1);
  for (guint i = 0; i < n; i++)
    g_bytes_unref (out[i]);
  /* Stopped on a match: nothing trailing. */
  cursor = 0;
  n = cdviz_sse_ring_collect_skipping (ring, &cursor, builds->filter, out, 2, G_MAXSIZE,
                                       NULL, &trailing);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (cursor, ==, 3);
  g_assert_cmpuint (trailing, ==, 0);
  g_bytes_unref (out[0]);
  g_bytes_unref (out[1]);
  /* Nothing matches: everything trails. */
  cursor = 0;
  g_assert_cmpuint (cdviz_sse_ring_collect_skipping (ring, &cursor, nothing->filter, out, 8,
                                                     G_MAXSIZE, NULL, &trailing), ==, 0);
  g_assert_cmpuint (trailing, ==, 10);

  /* Formatted once, shared; exact bytes. */
  first = cdviz_sse_ring_id_frame (ring, cursor - 1);
  again = cdviz_sse_ring_id_frame (ring, cursor - 1);
  g_assert_true (first == again);
  g_assert_cmpmem (g_bytes_get_data (first, NULL), g_bytes_get_size (first), "id: id-9\n\n", 10);
  /* An id that cannot be sent (a line break) has no frame. */
  {
    g_autoptr(GBytes) frame = frame_for (10);
    g_autoptr(GBytes) none = NULL;

    cdviz_sse_ring_push_event (ring, "bad\nid", "t", "s", frame);
    none = cdviz_sse_ring_id_frame (ring, 10);
    g_assert_null (none);
  }
}

static void
test_ring_collect_filtered_scan_bound (void)
{
  guint total = CDVIZ_SSE_RING_MAX_SCAN * 2 + 10;
  g_autoptr(CdvizSseRing) ring = typed_ring (total, total);
  g_autoptr(CdvizSseQuery) nothing = query_ok ("subject=none");
  GBytes *out[8];
  guint64 cursor = 0;
  guint calls = 0;

  /* Bounded scans, each moving on: the caller loops until up to date. */
  while (cursor < cdviz_sse_ring_get_next (ring))
    {
      guint64 before = cursor;

      g_assert_cmpuint (cdviz_sse_ring_collect_filtered (ring, &cursor, nothing->filter, out, 8,
                                                         G_MAXSIZE, NULL), ==, 0);
      g_assert_cmpuint (cursor - before, <=, CDVIZ_SSE_RING_MAX_SCAN);
      g_assert_cmpuint (cursor, >, before);
      calls++;
    }
  g_assert_cmpuint (calls, ==, 3);
}

static void
test_ring_replay_filtered (void)
{
  g_autoptr(CdvizSseRing) ring = typed_ring (6, 10);   /* holds 4..9 */
  g_autoptr(CdvizSseQuery) deploys = query_ok ("type=*.deployed");
  g_autoptr(CdvizSseQuery) s8 = query_ok ("subject=s8");
  g_autoptr(CdvizSseQuery) nothing = query_ok ("type=nothing");
  GBytes *out[8];
  guint64 cursor;
  guint n;

  /* The last 2 deployments (7, 9) are what the client is sent. */
  cursor = cdviz_sse_ring_replay_cursor (ring, 2, deploys->filter);
  g_assert_cmpuint (cursor, ==, 7);
  n = cdviz_sse_ring_collect_filtered (ring, &cursor, deploys->filter, out, 8, G_MAXSIZE, NULL);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (frame_number (out[0]), ==, 7);
  g_assert_cmpuint (frame_number (out[1]), ==, 9);
  g_bytes_unref (out[0]);
  g_bytes_unref (out[1]);

  /* Over what it holds: from the oldest frame (5, 7, 9). */
  cursor = cdviz_sse_ring_replay_cursor (ring, 50, deploys->filter);
  g_assert_cmpuint (cursor, ==, 4);
  g_assert_cmpuint (cdviz_sse_ring_collect_filtered (ring, &cursor, deploys->filter, out, 8,
                                                     G_MAXSIZE, NULL), ==, 3);
  for (guint i = 0; i < 3; i++)
    g_bytes_unref (out[i]);

  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 1, s8->filter), ==, 8);
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 0, deploys->filter), ==, 10);
  g_assert_cmpuint (cdviz_sse_ring_replay_cursor (ring, 3, nothing->filter), ==, 4);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sse/frame/event", test_frame_event);
  g_test_add_func ("/sse/frame/event-without-id", test_frame_event_without_id);
  g_test_add_func ("/sse/frame/event-unusual-id", test_frame_event_unusual_id);
  g_test_add_func ("/sse/frame/data-one-line", test_frame_event_data_one_line);
  g_test_add_func ("/sse/frame/binary-length", test_frame_event_binary_length);
  g_test_add_func ("/sse/frame/error", test_frame_error);
  g_test_add_func ("/sse/frame/retry", test_frame_retry);
  g_test_add_func ("/sse/frame/chunk-header", test_chunk_header);
  g_test_add_func ("/sse/ring/empty", test_ring_empty);
  g_test_add_func ("/sse/ring/wrap-around", test_ring_wrap_around);
  g_test_add_func ("/sse/ring/frames-shared", test_ring_frames_shared);
  g_test_add_func ("/sse/ring/collect-bounds", test_ring_collect_bounds);
  g_test_add_func ("/sse/ring/lagged", test_ring_lagged);
  g_test_add_func ("/sse/ring/lagged-capacity-one", test_ring_lagged_capacity_one);
  g_test_add_func ("/sse/ring/resume", test_ring_resume);
  g_test_add_func ("/sse/ring/resume-empty", test_ring_resume_empty);
  g_test_add_func ("/sse/ring/bytes-counted", test_ring_bytes_counted);
  g_test_add_func ("/sse/ring/byte-bound", test_ring_byte_bound);
  g_test_add_func ("/sse/ring/byte-bound-huge-frame", test_ring_byte_bound_huge_frame);
  g_test_add_func ("/sse/ring/byte-bound-lagged-resume", test_ring_byte_bound_lagged_and_resume);
  g_test_add_func ("/sse/ring/both-bounds", test_ring_both_bounds);
  g_test_add_func ("/sse/ring/replay", test_ring_replay);
  g_test_add_func ("/sse/query/empty", test_query_empty);
  g_test_add_func ("/sse/query/last-event-id", test_query_last_event_id);
  g_test_add_func ("/sse/query/replay", test_query_replay);
  g_test_add_func ("/sse/query/filter", test_query_filter);
  g_test_add_func ("/sse/query/filter-limits", test_query_filter_limits);
  g_test_add_func ("/sse/ring/collect-filtered", test_ring_collect_filtered);
  g_test_add_func ("/sse/ring/collect-filtered-scan-bound", test_ring_collect_filtered_scan_bound);
  g_test_add_func ("/sse/ring/id-frame", test_ring_id_frame);
  g_test_add_func ("/sse/ring/replay-filtered", test_ring_replay_filtered);

  return g_test_run ();
}
