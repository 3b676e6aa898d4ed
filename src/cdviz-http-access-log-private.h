/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* cdviz-collector's `[http] access_log`: one log line per answered request
 * whose status matches the filter (`"404"`, or a class `"4xx"`), with what
 * the client said about its body, so that a 408 or a 413 can be diagnosed:
 *
 *   access http_status=408 method=POST uri=/webhook/in elapsed_ms=3000
 *          content_length=100 content_encoding=- transfer_encoding=- expect=-
 *
 * Logged with g_message () in the "cdviz-http" domain. Everything runs on
 * the HTTP thread. */

/* Whether @filter (status codes and classes) takes @status. Pure. */
gboolean  _cdviz_http_access_log_matches (const char * const *filter,
                                          guint               status);

/* Notes the time @msg's headers were read (once per request). */
void      _cdviz_http_access_log_start   (SoupServerMessage  *msg);

/* Logs @msg answered with @status, when @filter takes it. */
void      _cdviz_http_access_log_finish  (const char * const *filter,
                                          SoupServerMessage  *msg,
                                          guint               status);

G_END_DECLS
