/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib-object.h>

#include "cdviz-version.h"
#include "cdviz-message.h"

G_BEGIN_DECLS

typedef struct _CdvizPipeline CdvizPipeline;

#define CDVIZ_TYPE_SINK (cdviz_sink_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (CdvizSink, cdviz_sink, CDVIZ, SINK, GObject)

/**
 * CdvizSinkInterface:
 * @start_sink: prepare delivery (register HTTP routes, open files); called on
 *   the thread that starts the pipeline, before the HTTP server listens
 * @send_message: deliver one message; called on the pipeline thread, in order
 * @stop_sink: flush and close; called on the thread that stops the pipeline,
 *   after the last @send_message
 *
 * The interface of sinks.
 *
 * Python classes implement `do_send_message (self, message)` and,
 * optionally, `do_start_sink` and `do_stop_sink`. With the `Cdviz`
 * PyGObject overrides, `do_send_message` and `do_start_sink` succeed unless
 * they raise (returning `None` is success), and an exception's type and text
 * become the error's message. PyGObject takes the GIL for each call.
 */
struct _CdvizSinkInterface
{
  GTypeInterface g_iface;

  gboolean (*start_sink)   (CdvizSink      *self,
                            CdvizPipeline  *pipeline,
                            GError        **error);
  gboolean (*send_message) (CdvizSink      *self,
                            CdvizMessage   *message,
                            GError        **error);
  void     (*stop_sink)    (CdvizSink      *self);

  /*< private >*/
  gpointer padding[8];
};

CDVIZ_AVAILABLE_IN_1_0
gboolean cdviz_sink_start_sink   (CdvizSink      *self,
                                  CdvizPipeline  *pipeline,
                                  GError        **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean cdviz_sink_send_message (CdvizSink      *self,
                                  CdvizMessage   *message,
                                  GError        **error);
CDVIZ_AVAILABLE_IN_1_0
void     cdviz_sink_stop_sink    (CdvizSink      *self);

G_END_DECLS
