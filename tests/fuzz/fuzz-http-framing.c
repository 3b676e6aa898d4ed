/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the request framing follower (cdviz-http-framing.c): whatever the
 * bytes and however they are split, it never reads out of bounds, its
 * answer does not depend on the split, a refusal comes with a 400 or 501
 * and a reason, and nothing is accepted once it refused. The first input
 * byte chooses the split. */
#include "config.h"

#include <string.h>

#include "cdviz-http-framing-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static gsize
feed_all (CdvizHttpFraming *framing,
          const guint8     *data,
          gsize             size,
          gsize             step)
{
  gsize done = 0;

  cdviz_http_framing_init (framing);
  while (done < size)
    {
      gsize n = MIN (step, size - done);
      gsize valid = cdviz_http_framing_feed (framing, data + done, n);

      g_assert_cmpuint (valid, <=, n);
      done += valid;
      if (valid < n)
        break;
    }
  return done;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  CdvizHttpFraming whole, pieces;
  gsize step, a, b;

  if (size < 1)
    return 0;
  step = 1 + data[0] % 17;
  data++;
  size--;

  a = feed_all (&whole, data, size, G_MAXSIZE);
  b = feed_all (&pieces, data, size, step);
  g_assert_cmpuint (a, ==, b);
  g_assert_cmpint (cdviz_http_framing_failed (&whole), ==, cdviz_http_framing_failed (&pieces));
  if (cdviz_http_framing_failed (&whole))
    {
      g_assert_true (whole.status == 400 || whole.status == 501);
      g_assert_nonnull (whole.reason);
      g_assert_cmpstr (whole.reason, ==, pieces.reason);
      g_assert_cmpuint (cdviz_http_framing_feed (&whole, (const guint8 *) "x", 1), ==, 0);
    }
  else
    {
      g_assert_cmpuint (a, ==, size);
      g_assert_cmpuint (whole.requests, ==, pieces.requests);
    }
  return 0;
}
