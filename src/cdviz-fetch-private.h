/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Fetching configuration material over HTTP(S) before a pipeline starts:
 * `--config URL` and `[remote.NAME]` files. Synchronous (libsoup's blocking
 * API); call from the main thread before the main loop runs. */

/* GETs @url with @headers ("Name: value" strings, may be NULL), reading at
 * most @max_bytes of body, giving up after @timeout_s seconds of silence.
 * A non-2xx status is an error naming the URL and the status; @status_out
 * (nullable) gets the status (0: no response). */
GBytes   *_cdviz_fetch_url              (const char         *url,
                                         const char * const *headers,
                                         gsize               max_bytes,
                                         guint               timeout_s,
                                         guint              *status_out,
                                         GError            **error);

/* Whether @location is an http:// or https:// URL. */
gboolean  _cdviz_fetch_is_url           (const char         *location);

G_END_DECLS
