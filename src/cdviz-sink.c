/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "cdviz-sink.h"

/**
 * CdvizSink:
 *
 * Delivers events: SSE streams, stdout, files… A sink is created from a
 * `[sinks.NAME]` table; every enabled sink receives every message that comes
 * out of a source's transformer chain (of every source, or of the sources
 * its `source_refs` names), in the order the pipeline processed them.
 */

G_DEFINE_INTERFACE (CdvizSink, cdviz_sink, G_TYPE_OBJECT)

static void
cdviz_sink_default_init (CdvizSinkInterface *iface)
{
}

/**
 * cdviz_sink_start_sink:
 * @self: a #CdvizSink
 * @pipeline: the pipeline @self belongs to
 * @error: return location for a #GError
 *
 * Prepares @self for delivery. An implementation that fails without setting
 * @error gets a generic one, so that a failure is never silent.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_sink_start_sink (CdvizSink      *self,
                       CdvizPipeline  *pipeline,
                       GError        **error)
{
  CdvizSinkInterface *iface;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (CDVIZ_IS_SINK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SINK_GET_IFACE (self);
  if (iface->start_sink == NULL)
    return TRUE;
  if (iface->start_sink (self, pipeline, &local_error))
    return TRUE;
  /* FALSE without an error (a binding's False) must not fail silently. */
  if (local_error == NULL)
    g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 _("sink %s failed to start without giving a reason"),
                 G_OBJECT_TYPE_NAME (self));
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * cdviz_sink_send_message:
 * @self: a #CdvizSink
 * @message: the message to deliver
 * @error: return location for a #GError
 *
 * Delivers @message. A failure is logged and counted by the pipeline; it
 * does not stop delivery to other sinks. An implementation that fails
 * without setting @error gets a generic one.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_sink_send_message (CdvizSink     *self,
                         CdvizMessage  *message,
                         GError       **error)
{
  CdvizSinkInterface *iface;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (CDVIZ_IS_SINK (self), FALSE);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SINK_GET_IFACE (self);
  g_return_val_if_fail (iface->send_message != NULL, FALSE);
  if (iface->send_message (self, message, &local_error))
    return TRUE;
  if (local_error == NULL)
    g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 _("sink %s failed without giving a reason"), G_OBJECT_TYPE_NAME (self));
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * cdviz_sink_stop_sink:
 * @self: a #CdvizSink
 *
 * Flushes and stops @self.
 */
void
cdviz_sink_stop_sink (CdvizSink *self)
{
  CdvizSinkInterface *iface;

  g_return_if_fail (CDVIZ_IS_SINK (self));

  iface = CDVIZ_SINK_GET_IFACE (self);
  if (iface->stop_sink != NULL)
    iface->stop_sink (self);
}
