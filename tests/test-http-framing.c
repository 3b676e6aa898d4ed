/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz-http-framing-private.h"

/* The request framing follower (cdviz-http-framing.c): what it lets
 * through, where it stops, and why. */

typedef struct {
  const char *name;
  const char *input;
  guint status;            /* 0: all valid */
  const char *stop_at;     /* the first refused byte starts this text;
                              NULL: the last byte */
  const char *reason;
} Case;

static void
check_case (const Case *c,
            gsize       step)
{
  CdvizHttpFraming framing;
  gsize length = strlen (c->input), done = 0;

  cdviz_http_framing_init (&framing);
  /* Fed in pieces of @step bytes: the answer must not depend on how the
   * bytes arrive. */
  while (done < length)
    {
      gsize n = MIN (step, length - done);
      gsize valid = cdviz_http_framing_feed (&framing, (const guint8 *) c->input + done, n);

      done += valid;
      if (valid < n)
        break;
    }

  if (c->status == 0)
    {
      if (cdviz_http_framing_failed (&framing))
        g_error ("%s (step %" G_GSIZE_FORMAT "): refused at byte %" G_GSIZE_FORMAT ": %s",
                 c->name, step, done, framing.reason);
      g_assert_cmpuint (done, ==, length);
      return;
    }

  if (!cdviz_http_framing_failed (&framing))
    g_error ("%s (step %" G_GSIZE_FORMAT "): accepted", c->name, step);
  g_assert_cmpuint (framing.status, ==, c->status);
  g_assert_cmpstr (framing.reason, ==, c->reason);
  if (done != (c->stop_at != NULL ? (gsize) (strstr (c->input, c->stop_at) - c->input)
                                   : length - 1))
    g_error ("%s (step %" G_GSIZE_FORMAT "): refused at byte %" G_GSIZE_FORMAT " (%s)",
             c->name, step, done, framing.reason);
  /* Once failed, nothing more is accepted. */
  g_assert_cmpuint (cdviz_http_framing_feed (&framing, (const guint8 *) "GET", 3), ==, 0);
}

static const Case cases[] = {
  { "get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL, NULL },
  { "bare LF", "GET / HTTP/1.1\nHost: a\n\n", 0, NULL, NULL },
  { "length body", "POST /w HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0, NULL, NULL },
  { "length zero", "POST /w HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, NULL, NULL },
  { "length padded", "POST /w HTTP/1.1\r\nconTent-lEngth:   5 \t\r\n\r\nhello", 0, NULL, NULL },
  { "pipelined",
    "POST /w HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    "GET /x HTTP/1.1\r\n\r\n", 0, NULL, NULL },
  { "chunked", "POST /w HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
    "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", 0, NULL, NULL },
  { "chunk size in hex, upper and lower", "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "a\r\n0123456789\r\n0\r\n\r\n", 0, NULL, NULL },
  { "leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", 0, NULL, NULL },
  { "other names starting alike", "GET / HTTP/1.1\r\nContent-Lengths: x\r\n"
    "Content-Type: y\r\nTransfer: z\r\n\r\n", 0, NULL, NULL },
  { "obs-text in a value", "GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", 0, NULL, NULL },

  { "length and encoding",
    "POST /w HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
    400, "\nhello", "both Content-Length and Transfer-Encoding" },
  { "two lengths",
    "POST /w HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    400, "\n\r\nhello", "more than one Content-Length header field" },
  { "two equal lengths",
    "POST /w HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    400, "\n\r\nhello", "more than one Content-Length header field" },
  { "space before colon", "POST /w HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
    400, " : 5", "whitespace between a header field name and its colon" },
  { "plus sign", "POST /w HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
    400, "\n\r\nhello", "invalid Content-Length" },
  { "minus one", "POST /w HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    400, "\n\r\n", "invalid Content-Length" },
  { "2^63", "POST /w HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
    400, "\n\r\n", "invalid Content-Length" },
  { "a list of lengths", "POST /w HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
    400, "\n\r\nhello", "invalid Content-Length" },
  { "empty length", "POST /w HTTP/1.1\r\nContent-Length:\r\n\r\n",
    400, "\n\r\n", "invalid Content-Length" },
  { "gzip", "POST /w HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501, "\n\r\n", "unsupported Transfer-Encoding (only chunked is)" },
  { "two encodings",
    "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    400, "\n\r\n", "more than one Transfer-Encoding header field" },
  { "0x5", "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    400, "x5\r\n", "invalid chunk size" },
  { "empty chunk size", "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
    400, ";x", "invalid chunk size" },
  { "space in chunk size", "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello",
    400, " \r\nhello", "invalid chunk size" },
  { "chunk data without CRLF",
    "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    400, "XX0", "chunk data not followed by CRLF" },
  { "chunk data with LF only",
    "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    400, "\n0\r\n", "chunk data not followed by CRLF" },
  { "chunk size with LF only",
    "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    400, "\nhello", "invalid chunk size" },
  { "huge chunk", "POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000F\r\n",
    400, "F\r\n", "chunk size too large" },
  { "folding", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400, " b\r\n",
    "obsolete line folding in the request head" },
  { "no colon", "GET / HTTP/1.1\r\nX-A\r\n\r\n", 400, "\r\n\r\n", "header field without a colon" },
  { "empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400, ": a", "empty header field name" },
  { "bad name", "GET / HTTP/1.1\r\nX(A): a\r\n\r\n", 400, "(A)",
    "invalid character in a header field name" },
  { "bare CR", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400, "b\r\n",
    "CR not followed by LF in the request head" },
  { "NUL in a value", "GET / HTTP/1.1\r\nX-A: a\001b\r\n\r\n", 400, "\001b",
    "control character in a header field value" },
  { "smuggled after a valid request",
    "POST /w HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPOST /w HTTP/1.1\r\nContent-Length: 2\r\n"
    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400, "\n0\r\n", "both Content-Length and Transfer-Encoding" },
};

static void
test_cases (void)
{
  static const gsize steps[] = { 1, 2, 3, 7, 64, G_MAXSIZE };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint j = 0; j < G_N_ELEMENTS (steps); j++)
      check_case (&cases[i], steps[j]);
}

/* A long body is skipped in bulk, and counted exactly. */
static void
test_large_body (void)
{
  CdvizHttpFraming framing;
  static const char head[] = "POST /w HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
  g_autofree guint8 *body = g_malloc0 (1000000);

  cdviz_http_framing_init (&framing);
  g_assert_cmpuint (cdviz_http_framing_feed (&framing, (const guint8 *) head, strlen (head)),
                    ==, strlen (head));
  g_assert_true (cdviz_http_framing_in_body (&framing));
  g_assert_cmpuint (cdviz_http_framing_feed (&framing, body, 999999), ==, 999999);
  g_assert_true (cdviz_http_framing_in_body (&framing));
  g_assert_cmpuint (cdviz_http_framing_feed (&framing, body, 1), ==, 1);
  g_assert_false (cdviz_http_framing_in_body (&framing));
  g_assert_cmpuint (framing.requests, ==, 1);
  /* The NUL bytes that follow are no request line. */
  g_assert_cmpuint (cdviz_http_framing_feed (&framing, body, 10), ==, 0);
  g_assert_true (cdviz_http_framing_failed (&framing));
  g_assert_cmpstr (framing.reason, ==, "control character in the request line");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/http-framing/cases", test_cases);
  g_test_add_func ("/http-framing/large-body", test_large_body);

  return g_test_run ();
}
