/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorConnection: one SSE stream the monitor watches. It runs a
 * CdvizSseClient (which reconnects with Last-Event-ID by itself), turns
 * each event into a CdvizMonitorEvent, and keeps a status line for people:
 * connecting, live, retrying in N s (counting down), refused with the
 * producer's message, and the events the producer said were lost.
 * Main thread only.
 */
#include "config.h"

#include "cdviz-monitor-connection.h"

#include <glib/gi18n.h>
#include <string.h>

struct _CdvizMonitorConnection
{
  GObject parent_instance;

  CdvizSseClient *client;
  char *status;
  char *reason;
  gboolean refused;
  gint64 retry_at_us;
  guint countdown_id;
};

G_DEFINE_FINAL_TYPE (CdvizMonitorConnection, cdviz_monitor_connection, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATUS, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_EVENT, N_SIGNALS };
static guint signals[N_SIGNALS];

/**
 * cdviz_monitor_connection_describe:
 * @state: the client's state
 * @refused: whether the last attempt was refused (HTTP 401 or 403)
 * @seconds_left: when retrying: seconds before the next attempt
 * @reason: (nullable): why the last attempt failed, as the client says it
 *   (with the producer's message when it refused)
 * @lagged: events the producer said were lost
 *
 * Returns: (transfer full): the status line of a connection
 */
char *
cdviz_monitor_connection_describe (CdvizSseClientState  state,
                                   gboolean             refused,
                                   guint                seconds_left,
                                   const char          *reason,
                                   guint64              lagged)
{
  g_autofree char *line = NULL;

  switch (state)
    {
    case CDVIZ_SSE_CLIENT_STATE_CONNECTING:
      line = g_strdup (_("Connecting…"));
      break;
    case CDVIZ_SSE_CLIENT_STATE_OPEN:
      line = g_strdup (_("Live"));
      break;
    case CDVIZ_SSE_CLIENT_STATE_RETRYING:
      if (refused)
        /* Translators: the first %s is the producer's answer (it says
         * HTTP 401 or 403, and why) */
        line = g_strdup_printf (ngettext ("Refused: %s — retrying in %u second",
                                             "Refused: %s — retrying in %u seconds", seconds_left),
                                reason != NULL ? reason : "", seconds_left);
      else
        /* Translators: %s says why the connection failed */
        line = g_strdup_printf (ngettext ("Retrying in %u second: %s",
                                             "Retrying in %u seconds: %s", seconds_left),
                                seconds_left, reason != NULL ? reason : "");
      break;
    case CDVIZ_SSE_CLIENT_STATE_FAILED:
      /* Translators: %s says why the last attempt failed */
      line = g_strdup_printf (_("Gave up: %s"), reason != NULL ? reason : "");
      break;
    case CDVIZ_SSE_CLIENT_STATE_STOPPED:
    default:
      line = g_strdup (_("Stopped"));
      break;
    }
  if (lagged > 0)
    {
      guint n = (guint) MIN (lagged, G_MAXUINT);
      g_autofree char *lost = g_strdup_printf (ngettext ("%u event lost", "%u events lost", n), n);
      return g_strdup_printf ("%s · %s", line, lost);
    }
  return g_steal_pointer (&line);
}

/**
 * cdviz_monitor_parse_header:
 * @header: `Name: value`, as given to `--header`
 * @name: (out): the name
 * @value: (out): the value, without the blanks around it
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @header is a valid header line
 */
gboolean
cdviz_monitor_parse_header (const char  *header,
                            char       **name,
                            char       **value,
                            GError     **error)
{
  const char *colon = strchr (header, ':');
  g_autofree char *n = NULL;

  if (colon != NULL)
    n = g_strstrip (g_strndup (header, colon - header));
  if (n == NULL || *n == '\0' || strpbrk (n, " \t\r\n") != NULL
      || strpbrk (colon + 1, "\r\n") != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* Translators: %s is what was given to --header */
                   _("invalid header “%s”: write it as “Name: value”"), header);
      return FALSE;
    }
  *name = g_steal_pointer (&n);
  *value = g_strstrip (g_strdup (colon + 1));
  return TRUE;
}

static void
update_status (CdvizMonitorConnection *self)
{
  guint seconds_left = 0;
  gint64 now = g_get_monotonic_time ();

  if (self->retry_at_us > now)
    seconds_left = (self->retry_at_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
  g_free (self->status);
  self->status = cdviz_monitor_connection_describe (cdviz_sse_client_get_state (self->client),
                                                    self->refused, seconds_left, self->reason,
                                                    cdviz_sse_client_get_lagged_events (self->client));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static gboolean
countdown_tick (gpointer data)
{
  CdvizMonitorConnection *self = data;

  update_status (self);
  if (cdviz_sse_client_get_state (self->client) != CDVIZ_SSE_CLIENT_STATE_RETRYING)
    {
      self->countdown_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_retrying (CdvizSseClient         *client,
             guint                   delay_ms,
             GError                 *error,
             CdvizMonitorConnection *self)
{
  g_free (self->reason);
  self->reason = g_strdup (error != NULL ? error->message : "");
  self->refused = g_error_matches (error, CDVIZ_SSE_CLIENT_ERROR, CDVIZ_SSE_CLIENT_ERROR_REFUSED);
  self->retry_at_us = g_get_monotonic_time () + (gint64) delay_ms * 1000;
  if (self->countdown_id == 0)
    self->countdown_id = g_timeout_add_seconds (1, countdown_tick, self);
  update_status (self);
}

static void
on_state (CdvizSseClient         *client,
          GParamSpec             *pspec,
          CdvizMonitorConnection *self)
{
  if (cdviz_sse_client_get_state (client) == CDVIZ_SSE_CLIENT_STATE_OPEN)
    {
      self->refused = FALSE;
      g_clear_pointer (&self->reason, g_free);
    }
  update_status (self);
}

static void
on_event (CdvizSseClient         *client,
          const char             *type,
          const char             *id,
          const char             *data,
          CdvizMonitorConnection *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizMonitorEvent) event =
    cdviz_monitor_event_new (data, cdviz_sse_client_get_url (client), g_get_real_time (), &error);

  if (event == NULL)
    {
      g_message ("%s: event %s skipped: %s", cdviz_sse_client_get_url (client), id,
                 error->message);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
}

static void
cdviz_monitor_connection_dispose (GObject *object)
{
  CdvizMonitorConnection *self = CDVIZ_MONITOR_CONNECTION (object);

  g_clear_handle_id (&self->countdown_id, g_source_remove);
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (cdviz_monitor_connection_parent_class)->dispose (object);
}

static void
cdviz_monitor_connection_finalize (GObject *object)
{
  CdvizMonitorConnection *self = CDVIZ_MONITOR_CONNECTION (object);

  g_free (self->status);
  g_free (self->reason);
  G_OBJECT_CLASS (cdviz_monitor_connection_parent_class)->finalize (object);
}

static void
cdviz_monitor_connection_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  CdvizMonitorConnection *self = CDVIZ_MONITOR_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_STATUS: g_value_set_string (value, self->status); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_monitor_connection_class_init (CdvizMonitorConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdviz_monitor_connection_dispose;
  object_class->finalize = cdviz_monitor_connection_finalize;
  object_class->get_property = cdviz_monitor_connection_get_property;

  /* The status line (translated). */
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdvizMonitorConnection::event:
   * @self: the connection
   * @event: the event that arrived
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDVIZ_TYPE_MONITOR_EVENT);
}

static void
cdviz_monitor_connection_init (CdvizMonitorConnection *self)
{
}

/**
 * cdviz_monitor_connection_new:
 * @url: the stream's URL
 * @headers: (nullable): `Name: value` lines sent with every request
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the connection, not started, or %NULL when a
 *   header is not `Name: value`
 */
CdvizMonitorConnection *
cdviz_monitor_connection_new (const char         *url,
                              const char * const *headers,
                              GError            **error)
{
  g_autoptr(CdvizMonitorConnection) self = g_object_new (CDVIZ_TYPE_MONITOR_CONNECTION, NULL);

  self->client = cdviz_sse_client_new (url);
  g_object_set (self->client, "user-agent", "cdviz-monitor/" PACKAGE_VERSION, NULL);
  for (gsize i = 0; headers != NULL && headers[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;
      if (!cdviz_monitor_parse_header (headers[i], &name, &value, error))
        return NULL;
      cdviz_sse_client_set_header (self->client, name, value);
    }
  g_signal_connect (self->client, "event", G_CALLBACK (on_event), self);
  g_signal_connect (self->client, "retrying", G_CALLBACK (on_retrying), self);
  g_signal_connect (self->client, "notify::state", G_CALLBACK (on_state), self);
  g_signal_connect_swapped (self->client, "notify::lagged-events", G_CALLBACK (update_status),
                            self);
  update_status (self);
  return g_steal_pointer (&self);
}

gboolean
cdviz_monitor_connection_start (CdvizMonitorConnection  *self,
                                GError                 **error)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_CONNECTION (self), FALSE);
  if (!cdviz_sse_client_start (self->client, error))
    return FALSE;
  update_status (self);
  return TRUE;
}

void
cdviz_monitor_connection_stop (CdvizMonitorConnection *self)
{
  g_return_if_fail (CDVIZ_IS_MONITOR_CONNECTION (self));
  cdviz_sse_client_stop (self->client);
  g_clear_handle_id (&self->countdown_id, g_source_remove);
  update_status (self);
}

const char *
cdviz_monitor_connection_get_url (CdvizMonitorConnection *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_CONNECTION (self), NULL);
  return cdviz_sse_client_get_url (self->client);
}

const char *
cdviz_monitor_connection_get_status (CdvizMonitorConnection *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_CONNECTION (self), NULL);
  return self->status;
}

CdvizSseClient *
cdviz_monitor_connection_get_client (CdvizMonitorConnection *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_CONNECTION (self), NULL);
  return self->client;
}
