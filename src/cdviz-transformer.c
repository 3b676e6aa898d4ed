/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-transformer.h"

/**
 * CdvizTransformer:
 *
 * Filters and reshapes events. A transformer is created from a
 * `[transformers.NAME]` table and referenced from a source's
 * `transformer_refs`; the source's transformers run in that order, each
 * on every message the previous one produced.
 *
 * Transformers run on the pipeline thread, one message at a time.
 */

G_DEFINE_INTERFACE (CdvizTransformer, cdviz_transformer, G_TYPE_OBJECT)

static void
cdviz_transformer_default_init (CdvizTransformerInterface *iface)
{
}

/**
 * cdviz_transformer_transform:
 * @self: a #CdvizTransformer
 * @message: the message to transform
 * @error: return location for a #GError
 *
 * Transforms @message. An empty array drops it; an error rejects it (a
 * webhook publisher then receives 422 with the error's message).
 *
 * Returns: (transfer full) (element-type CdvizMessage) (nullable): the
 *   messages to pass on, or %NULL with @error set
 */
GPtrArray *
cdviz_transformer_transform (CdvizTransformer  *self,
                             CdvizMessage      *message,
                             GError           **error)
{
  CdvizTransformerInterface *iface;
  GPtrArray *result;

  g_return_val_if_fail (CDVIZ_IS_TRANSFORMER (self), NULL);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = CDVIZ_TRANSFORMER_GET_IFACE (self);
  g_return_val_if_fail (iface->transform != NULL, NULL);

  result = iface->transform (self, message, error);
  if (result == NULL && (error == NULL || *error == NULL))
    g_critical ("%s returned NULL without setting an error",
                G_OBJECT_TYPE_NAME (self));
  return result;
}
