/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-builtins-private.h"

/* `extractor = { type = "noop" }` (or `"sleep"`, cdviz-collector's other
 * name for it): produces nothing until the pipeline stops, as
 * cdviz-collector's default extractor. Its source can still be fed through
 * cdviz_pipeline_push_async(). */

struct _CdvizNoopSource
{
  GObject parent_instance;
};

static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizNoopSource, cdviz_noop_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

static gboolean
noop_start_source (CdvizSource    *source,
                   CdvizPipeline  *pipeline,
                   GError        **error)
{
  return TRUE;
}

static void
noop_stop_source (CdvizSource *source)
{
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = noop_start_source;
  iface->stop_source = noop_stop_source;
}

static void
cdviz_noop_source_class_init (CdvizNoopSourceClass *klass)
{
}

static void
cdviz_noop_source_init (CdvizNoopSource *self)
{
}
