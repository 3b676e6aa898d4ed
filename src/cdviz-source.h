/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib-object.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

typedef struct _CdvizPipeline CdvizPipeline;

#define CDVIZ_TYPE_SOURCE (cdviz_source_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (CdvizSource, cdviz_source, CDVIZ, SOURCE, GObject)

/**
 * CdvizSourceInterface:
 * @start_source: begin receiving events and push them into @pipeline with
 *   [method@Pipeline.push_async]; called on the thread that starts the
 *   pipeline, before the HTTP server listens
 * @stop_source: stop receiving events; called once, before the pipeline drains
 *
 * The interface of event sources.
 *
 * Python classes implement `do_start_source (self, pipeline)` and
 * `do_stop_source (self)`. A source that keeps @pipeline must drop it in
 * `do_stop_source`, or the two keep each other alive.
 */
struct _CdvizSourceInterface
{
  GTypeInterface g_iface;

  gboolean (*start_source) (CdvizSource    *self,
                            CdvizPipeline  *pipeline,
                            GError        **error);
  void     (*stop_source)  (CdvizSource    *self);

  /*< private >*/
  gpointer padding[8];
};

CDVIZ_AVAILABLE_IN_1_0
gboolean cdviz_source_start_source (CdvizSource    *self,
                                    CdvizPipeline  *pipeline,
                                    GError        **error);
CDVIZ_AVAILABLE_IN_1_0
void     cdviz_source_stop_source  (CdvizSource    *self);

G_END_DECLS
