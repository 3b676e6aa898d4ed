/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-builtins-private.h"

/* `type = "discard_all"`: drops every message. */

struct _CdvizDiscardAllTransformer
{
  GObject parent_instance;
};

static void transformer_iface_init (CdvizTransformerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizDiscardAllTransformer, cdviz_discard_all_transformer,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER,
                                                      transformer_iface_init))

static GPtrArray *
discard_all_transform (CdvizTransformer  *transformer,
                       CdvizMessage      *message,
                       GError           **error)
{
  return g_ptr_array_new_with_free_func (g_object_unref);
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = discard_all_transform;
}

static void
cdviz_discard_all_transformer_class_init (CdvizDiscardAllTransformerClass *klass)
{
}

static void
cdviz_discard_all_transformer_init (CdvizDiscardAllTransformer *self)
{
}
