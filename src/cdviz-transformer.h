/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib-object.h>

#include "cdviz-version.h"
#include "cdviz-message.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_TRANSFORMER (cdviz_transformer_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (CdvizTransformer, cdviz_transformer, CDVIZ, TRANSFORMER, GObject)

/**
 * CdvizTransformerInterface:
 * @transform: turn one message into zero or more; called on the pipeline thread
 *
 * The interface of transformers.
 */
struct _CdvizTransformerInterface
{
  GTypeInterface g_iface;

  GPtrArray *(*transform) (CdvizTransformer  *self,
                           CdvizMessage      *message,
                           GError           **error);

  /*< private >*/
  gpointer padding[8];
};

CDVIZ_AVAILABLE_IN_1_0
GPtrArray *cdviz_transformer_transform (CdvizTransformer  *self,
                                        CdvizMessage      *message,
                                        GError           **error);

G_END_DECLS
