/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

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
 * [method@Source.stop_source].
 *
 * Returns: %TRUE on success
 */
gboolean
cdviz_source_start_source (CdvizSource    *self,
                           CdvizPipeline  *pipeline,
                           GError        **error)
{
  CdvizSourceInterface *iface;

  g_return_val_if_fail (CDVIZ_IS_SOURCE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = CDVIZ_SOURCE_GET_IFACE (self);
  if (iface->start_source == NULL)
    return TRUE;
  return iface->start_source (self, pipeline, error);
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
