/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-builtins-private.h"

/* `type = "passthrough"`: passes every message on unchanged. */

struct _CdvizPassthroughTransformer
{
  GObject parent_instance;
};

static void transformer_iface_init (CdvizTransformerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizPassthroughTransformer, cdviz_passthrough_transformer,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER,
                                                      transformer_iface_init))

static GPtrArray *
passthrough_transform (CdvizTransformer  *transformer,
                       CdvizMessage      *message,
                       GError           **error)
{
  GPtrArray *out = g_ptr_array_new_full (1, g_object_unref);

  g_ptr_array_add (out, g_object_ref (message));
  return out;
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = passthrough_transform;
}

static void
cdviz_passthrough_transformer_class_init (CdvizPassthroughTransformerClass *klass)
{
}

static void
cdviz_passthrough_transformer_init (CdvizPassthroughTransformer *self)
{
}
