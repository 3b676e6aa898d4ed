/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "cdviz-source.h"

/**
 * CdvizSource:
 *
 * A source of events: a webhook endpoint, another collector's stream, a
 * folder… Sources are created from a `[sources.NAME] extractor` table, each
 * key of which is a property of the implementing class.
 */

G_DEFINE_INTERFACE (CdvizSource, cdviz_source, G_TYPE_OBJECT)

static void
cdviz_source_default_init (CdvizSourceInterface *iface)
{
}

/**
 * cdviz_source_start_source:
 * @self: a #CdvizSource
 * @pipeline: the pipeline to feed
 * @error: return location for a #GError
 *
 * Starts @self. Implementations keep a reference to @pipeline until
 * [method@Source.stop_source]. An implementation that fails without setting
 * @error gets a generic one, so that a failure is never silent.
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_source_start_source (CdvizSource    *self,
                           CdvizPipeline  *pipeline,
                           GError        **error)
{
  CdvizSourceInterface *iface;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (CDVIZ_IS_SOURCE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SOURCE_GET_IFACE (self);
  if (iface->start_source == NULL)
    return TRUE;
  if (iface->start_source (self, pipeline, &local_error))
    return TRUE;
  /* FALSE without an error (a binding's False) must not fail silently. */
  if (local_error == NULL)
    g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 _("source %s failed to start without giving a reason"),
                 G_OBJECT_TYPE_NAME (self));
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * cdviz_source_stop_source:
 * @self: a #CdvizSource
 *
 * Stops @self: it pushes no more events.
 */
void
cdviz_source_stop_source (CdvizSource *self)
{
  CdvizSourceInterface *iface;

  g_return_if_fail (CDVIZ_IS_SOURCE (self));

  iface = CDVIZ_SOURCE_GET_IFACE (self);
  if (iface->stop_source != NULL)
    iface->stop_source (self);
}
