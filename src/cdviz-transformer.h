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
 * @transform: turns one message into zero or more; see
 *   [method@Transformer.transform]. Called on the pipeline thread, one
 *   message at a time.
 *
 * The interface of transformers.
 *
 * An implementation returns a new array holding a reference to each message
 * it passes on. The array may have g_object_unref() as its free function
 * (`g_ptr_array_new_with_free_func (g_object_unref)`, the usual way in C) or
 * none (what PyGObject returns): cdviz_transformer_transform() sets it.
 *
 * Python classes implement it as `do_transform (self, message)` returning a
 * list of [class@Message]s (`None` drops the message); an exception rejects
 * it, a [struct@GLib.Error] with its own domain and code, any other with
 * its type and text as the message (the `Cdviz` PyGObject overrides do
 * this). PyGObject takes the GIL for the call.
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
CDVIZ_AVAILABLE_IN_1_0
GPtrArray *cdviz_transformer_transform_for_bindings (CdvizTransformer  *self,
                                                     CdvizMessage      *message,
                                                     GError           **error);

G_END_DECLS
