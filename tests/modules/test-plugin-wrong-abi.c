/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin built for another ABI: the loader must refuse it before calling it. */
#include <cdviz.h>

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  g_error ("the loader called a plugin with the wrong ABI");
  return FALSE;
}

G_MODULE_EXPORT const CdvizPluginDescriptor cdviz_plugin_descriptor = {
  CDVIZ_PLUGIN_ABI_VERSION + 41,
  sizeof (CdvizPluginDescriptor),
  "test-wrong-abi",
  "Built for another ABI",
  "0",
  register_types,
};
