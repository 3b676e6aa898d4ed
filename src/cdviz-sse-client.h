/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <gio/gio.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

/**
 * CDVIZ_SSE_CLIENT_ERROR:
 *
 * Error domain of [class@SseClient]: why a connection ended or was refused.
 */
#define CDVIZ_SSE_CLIENT_ERROR (cdviz_sse_client_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_sse_client_error_quark (void);

/**
 * CdvizSseClientError:
 * @CDVIZ_SSE_CLIENT_ERROR_INVALID_URL: the URL is not an absolute http(s) URL
 * @CDVIZ_SSE_CLIENT_ERROR_HTTP: the producer answered with a status other
 *   than 200 (the message says which)
 * @CDVIZ_SSE_CLIENT_ERROR_REFUSED: the producer answered 401 or 403: the
 *   headers (credentials) are missing or wrong
 * @CDVIZ_SSE_CLIENT_ERROR_NOT_EVENT_STREAM: 200, but not `text/event-stream`
 * @CDVIZ_SSE_CLIENT_ERROR_CLOSED: the producer ended the stream
 * @CDVIZ_SSE_CLIENT_ERROR_NO_CONTENT: the producer answered 204: it asks
 *   its clients not to reconnect
 *
 * Errors of [class@SseClient]. Network errors are %G_IO_ERROR or
 * %G_RESOLVER_ERROR, as libsoup reports them.
 */
typedef enum {
  CDVIZ_SSE_CLIENT_ERROR_INVALID_URL,
  CDVIZ_SSE_CLIENT_ERROR_HTTP,
  CDVIZ_SSE_CLIENT_ERROR_REFUSED,
  CDVIZ_SSE_CLIENT_ERROR_NOT_EVENT_STREAM,
  CDVIZ_SSE_CLIENT_ERROR_CLOSED,
  CDVIZ_SSE_CLIENT_ERROR_NO_CONTENT,
} CdvizSseClientError;

/**
 * CdvizSseClientState:
 * @CDVIZ_SSE_CLIENT_STATE_STOPPED: not started, or stopped
 * @CDVIZ_SSE_CLIENT_STATE_CONNECTING: a request is on its way
 * @CDVIZ_SSE_CLIENT_STATE_OPEN: the stream is open
 * @CDVIZ_SSE_CLIENT_STATE_RETRYING: waiting before the next attempt
 *   ([signal@SseClient::retrying] said how long and why)
 * @CDVIZ_SSE_CLIENT_STATE_FAILED: gave up: more than
 *   [property@SseClient:max-retries] attempts in a row failed, or the
 *   producer answered 204
 *
 * Where a [class@SseClient] is.
 */
typedef enum {
  CDVIZ_SSE_CLIENT_STATE_STOPPED,
  CDVIZ_SSE_CLIENT_STATE_CONNECTING,
  CDVIZ_SSE_CLIENT_STATE_OPEN,
  CDVIZ_SSE_CLIENT_STATE_RETRYING,
  CDVIZ_SSE_CLIENT_STATE_FAILED,
} CdvizSseClientState;

/**
 * CdvizSseClientResume:
 * @CDVIZ_SSE_CLIENT_RESUME_NONE: no `Last-Event-ID` was sent (no event seen yet)
 * @CDVIZ_SSE_CLIENT_RESUME_UNCONFIRMED: `Last-Event-ID` was sent; the
 *   producer did not say whether it still had that event (cdviz-collector
 *   and most servers do not)
 * @CDVIZ_SSE_CLIENT_RESUME_RESUMED: the producer still had the event: the
 *   stream continues right after it, nothing lost
 * @CDVIZ_SSE_CLIENT_RESUME_UNKNOWN_ID: the producer no longer had the
 *   event (restarted, or the event left its buffer): the stream starts
 *   live, events in between may be lost
 *
 * How a connection resumed, as [signal@SseClient::opened] tells it. The
 * producer says it with the response header `X-Cdviz-Resume: resumed` or
 * `X-Cdviz-Resume: unknown-id` (cdviz-pipeline's SSE sink does).
 */
typedef enum {
  CDVIZ_SSE_CLIENT_RESUME_NONE,
  CDVIZ_SSE_CLIENT_RESUME_UNCONFIRMED,
  CDVIZ_SSE_CLIENT_RESUME_RESUMED,
  CDVIZ_SSE_CLIENT_RESUME_UNKNOWN_ID,
} CdvizSseClientResume;

#define CDVIZ_TYPE_SSE_CLIENT (cdviz_sse_client_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizSseClient, cdviz_sse_client, CDVIZ, SSE_CLIENT, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizSseClient      *cdviz_sse_client_new                (const char      *url);
CDVIZ_AVAILABLE_IN_1_0
gboolean             cdviz_sse_client_start              (CdvizSseClient  *self,
                                                          GError         **error);
CDVIZ_AVAILABLE_IN_1_0
void                 cdviz_sse_client_stop               (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
void                 cdviz_sse_client_set_header         (CdvizSseClient  *self,
                                                          const char      *name,
                                                          const char      *value);
CDVIZ_AVAILABLE_IN_1_0
void                 cdviz_sse_client_set_paused         (CdvizSseClient  *self,
                                                          gboolean         paused);
CDVIZ_AVAILABLE_IN_1_0
gboolean             cdviz_sse_client_get_paused         (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
const char          *cdviz_sse_client_get_url            (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
CdvizSseClientState  cdviz_sse_client_get_state          (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
const char          *cdviz_sse_client_get_last_event_id  (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
void                 cdviz_sse_client_set_last_event_id  (CdvizSseClient  *self,
                                                          const char      *id);
CDVIZ_AVAILABLE_IN_1_0
guint64              cdviz_sse_client_get_lagged_events  (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
const char          *cdviz_sse_client_get_last_error     (CdvizSseClient  *self);
CDVIZ_AVAILABLE_IN_1_0
guint64              cdviz_sse_client_get_bytes_received (CdvizSseClient  *self);

G_END_DECLS
