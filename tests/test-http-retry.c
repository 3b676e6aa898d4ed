/* SPDX-License-Identifier: Apache-2.0 */
/* The http sink's retry policy (plugins/collector/cdviz-http-retry.c),
 * compiled in: no plugin, no network. */
#include <glib.h>

#include "cdviz-http-retry.h"

static void
test_transient (void)
{
  g_assert_true (cdviz_http_retry_is_transient (503));
  g_assert_true (cdviz_http_retry_is_transient (500));
  g_assert_true (cdviz_http_retry_is_transient (429));
  g_assert_true (cdviz_http_retry_is_transient (408));
  g_assert_false (cdviz_http_retry_is_transient (400));
  g_assert_false (cdviz_http_retry_is_transient (404));
  g_assert_false (cdviz_http_retry_is_transient (200));
  g_assert_false (cdviz_http_retry_is_transient (600));
}

static void
test_retry_after (void)
{
  /* Sun, 06 Nov 1994 08:49:37 GMT */
  gint64 now = 784111777;

  g_assert_cmpint (cdviz_http_retry_after_ms (NULL, now), ==, -1);
  g_assert_cmpint (cdviz_http_retry_after_ms ("", now), ==, -1);
  g_assert_cmpint (cdviz_http_retry_after_ms ("0", now), ==, 0);
  g_assert_cmpint (cdviz_http_retry_after_ms (" 120 ", now), ==, 120000);
  g_assert_cmpint (cdviz_http_retry_after_ms ("12s", now), ==, -1);
  g_assert_cmpint (cdviz_http_retry_after_ms ("-1", now), ==, -1);
  g_assert_cmpint (cdviz_http_retry_after_ms ("Sun, 06 Nov 1994 08:49:47 GMT", now), ==, 10000);
  g_assert_cmpint (cdviz_http_retry_after_ms ("Sun, 06 Nov 1994 08:49:27 GMT", now), ==, 0);
  g_assert_cmpint (cdviz_http_retry_after_ms ("tomorrow", now), ==, -1);
  g_assert_cmpint (cdviz_http_retry_after_ms ("99999999999999999999", now), >, 0);
}

static void
test_backoff (void)
{
  /* Equal jitter: [d/2, d]. */
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (0, 1000, 60000, 0.0), ==, 500);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (0, 1000, 60000, 0.999999), <=, 1000);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (1, 1000, 60000, 0.0), ==, 1000);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (3, 1000, 60000, 0.0), ==, 4000);
  /* Capped, and no overflow however many failures. */
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (10, 1000, 60000, 0.0), ==, 30000);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (G_MAXUINT, 1000, 60000, 0.999), <=, 60000);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (200, G_MAXUINT64 / 4, G_MAXUINT64, 0.0), >, 0);
  g_assert_cmpuint (cdviz_http_retry_backoff_ms (5, 0, 60000, 0.5), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-retry/transient", test_transient);
  g_test_add_func ("/http-retry/retry-after", test_retry_after);
  g_test_add_func ("/http-retry/backoff", test_backoff);
  return g_test_run ();
}
