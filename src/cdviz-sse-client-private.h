/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <libsoup/soup.h>

#include "cdviz-sse-client.h"
#include "cdviz-sse-parser-private.h"

G_BEGIN_DECLS

/* Shared by cdviz-sse-client.c (the object, its properties and API) and
 * cdviz-sse-client-io.c (connecting, reading, reconnecting). Everything
 * runs on the thread-default main context the client was started on. */

#define HEALTHY_SECONDS 10
#define MIN_DELAY_MS 50
#define READ_SIZE (64 * 1024)
#define REFUSAL_BODY_MAX 512

struct _CdvizSseClient
{
  GObject parent_instance;

  char *url;
  char *user_agent;
  GPtrArray *header_names;      /* (owned) char* */
  GPtrArray *header_values;     /* (owned) char*, parallel */
  char *last_event_id;          /* never NULL; "" = none */
  guint retry_delay;            /* ms */
  guint max_retry_delay;        /* ms */
  int max_retries;              /* -1: forever */
  guint max_event_size;
  gboolean paused;

  CdvizSseClientState state;
  guint64 lagged_events;
  guint reconnects;
  guint64 bytes_received;       /* atomic: read from any thread */
  guint status_code;
  char *last_error;

  GMainContext *context;        /* (owned) (nullable): from start() */
  SoupSession *session;         /* (owned) (nullable) */
  SoupMessage *msg;             /* (owned) (nullable): the current request */
  GInputStream *stream;         /* (owned) (nullable): its body */
  GCancellable *cancellable;    /* (owned) (nullable): the current connection's */
  CdvizSseParser *parser;       /* (owned) */
  GSource *timer;               /* (owned) (nullable): the next attempt */
  GSource *unpause;             /* (owned) (nullable) */
  gboolean reading;             /* a read is pending */
  GBytes *read_buffer;          /* (owned) (nullable): READ_SIZE bytes the
                                 * reads fill, kept from one to the next */
  gint64 server_retry;          /* ms from `retry:`, -1: none */
  guint failures;               /* in a row */
  guint events_this_connection;
  gint64 opened_at;             /* monotonic µs */
};


enum {
  PROP_0,
  PROP_URL,
  PROP_USER_AGENT,
  PROP_HEADERS,
  PROP_LAST_EVENT_ID,
  PROP_STATE,
  PROP_PAUSED,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  PROP_MAX_RETRIES,
  PROP_MAX_EVENT_SIZE,
  PROP_LAGGED_EVENTS,
  PROP_RECONNECTS,
  PROP_STATUS_CODE,
  PROP_LAST_ERROR,
  N_PROPS
};



enum {
  SIGNAL_EVENT,
  SIGNAL_ERROR_EVENT,
  SIGNAL_OPENED,
  SIGNAL_RETRYING,
  N_SIGNALS
};


extern GParamSpec *_cdviz_sse_client_properties[];
extern guint _cdviz_sse_client_signals[];

void _cdviz_sse_client_set_state      (CdvizSseClient      *self,
                                       CdvizSseClientState  state);
void _cdviz_sse_client_set_last_error (CdvizSseClient      *self,
                                       const char          *message);
void _cdviz_sse_client_set_last_id    (CdvizSseClient      *self,
                                       const char          *id);
void _cdviz_sse_client_connect_now    (CdvizSseClient      *self);
void _cdviz_sse_client_drop_connection (CdvizSseClient     *self);
void _cdviz_sse_client_destroy_source (GSource            **source);
void _cdviz_sse_client_resume_reading (CdvizSseClient      *self);

G_END_DECLS
