/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The retry policy of the http sink, pure functions (tests/test-http-retry.c).
 * Plugin-private. */

/* Whether an HTTP status is worth another attempt: 408, 429, every 5xx. */
gboolean cdviz_http_retry_is_transient  (guint        status);

/* A Retry-After value (delta-seconds or an HTTP-date) as milliseconds from
 * @now_unix (seconds since the epoch); -1 when absent or not understood. A
 * date in the past is 0. */
gint64   cdviz_http_retry_after_ms      (const char  *value,
                                         gint64       now_unix);

/* The delay before attempt @attempt + 1 (@attempt ≥ 0 failures so far):
 * @first_ms doubled per failure, capped at @max_ms, with "equal jitter"
 * (a random value in [d/2, d]). @random in [0, 1). */
guint64  cdviz_http_retry_backoff_ms    (guint        attempt,
                                         guint64      first_ms,
                                         guint64      max_ms,
                                         double       random);

G_END_DECLS
