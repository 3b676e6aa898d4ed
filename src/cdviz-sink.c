/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-sink.h"

/**
 * CdvizSink:
 *
 * Delivers events: SSE streams, stdout, files… A sink is created from a
 * `[sinks.NAME]` table; every enabled sink receives every message that comes
 * out of any source's transformer chain, in the order the pipeline
 * processed them.
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
 * Prepares @self for delivery.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_sink_start_sink (CdvizSink      *self,
                       CdvizPipeline  *pipeline,
                       GError        **error)
{
  CdvizSinkInterface *iface;

  g_return_val_if_fail (CDVIZ_IS_SINK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SINK_GET_IFACE (self);
  if (iface->start_sink == NULL)
    return TRUE;
  return iface->start_sink (self, pipeline, error);
}

/**
 * cdviz_sink_send_message:
 * @self: a #CdvizSink
 * @message: the message to deliver
 * @error: return location for a #GError
 *
 * Delivers @message. A failure is logged and counted by the pipeline; it
 * does not stop delivery to other sinks.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_sink_send_message (CdvizSink     *self,
                         CdvizMessage  *message,
                         GError       **error)
{
  CdvizSinkInterface *iface;

  g_return_val_if_fail (CDVIZ_IS_SINK (self), FALSE);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SINK_GET_IFACE (self);
  g_return_val_if_fail (iface->send_message != NULL, FALSE);
  return iface->send_message (self, message, error);
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
