/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

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
 * The returned array holds a reference to each message and releases them
 * when it is freed (its free function is g_object_unref(), whatever the
 * implementation set), so `g_autoptr(GPtrArray)` is all a caller needs.
 *
 * Language bindings call [method@Transformer.transform_for_bindings]
 * instead, under the name `transform`.
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
  g_autoptr(GError) local_error = NULL;
  GPtrArray *result;

  g_return_val_if_fail (CDVIZ_IS_TRANSFORMER (self), NULL);
  g_return_val_if_fail (CDVIZ_IS_MESSAGE (message), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = CDVIZ_TRANSFORMER_GET_IFACE (self);
  g_return_val_if_fail (iface->transform != NULL, NULL);

  result = iface->transform (self, message, &local_error);
  if (result == NULL)
    {
      /* A binding that returns NULL without an error: PyGObject does for
       * a Python None or exception without the Cdviz overrides (which
       * turn them into an empty array and a GError). */
      if (local_error == NULL)
        {
          g_warning ("%s returned no messages and no error",
                     G_OBJECT_TYPE_NAME (self));
          g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("transformer %s failed without giving a reason"),
                       G_OBJECT_TYPE_NAME (self));
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  /* C implementations set g_object_unref() already; PyGObject returns an
   * array that owns its references without saying so. */
  g_ptr_array_set_free_func (result, g_object_unref);
  return result;
}

/**
 * cdviz_transformer_transform_for_bindings: (rename-to cdviz_transformer_transform)
 * @self: a #CdvizTransformer
 * @message: the message to transform
 * @error: return location for a #GError
 *
 * Does what cdviz_transformer_transform() does; C code calls that one. This
 * is the same call annotated for language bindings, where it is named
 * `transform` (in Python, `transformer.transform(message)` returns a list).
 *
 * The two differ only in how the ownership of the result is described: the
 * messages belong to the array, which releases them when it is freed. A
 * `(transfer full)` array makes PyGObject 3.42 release each message once
 * more.
 *
 * Returns: (transfer container) (element-type CdvizMessage) (nullable): the
 *   messages to pass on, or %NULL with @error set
 */
GPtrArray *
cdviz_transformer_transform_for_bindings (CdvizTransformer  *self,
                                          CdvizMessage      *message,
                                          GError           **error)
{
  return cdviz_transformer_transform (self, message, error);
}
