/* SPDX-License-Identifier: Apache-2.0 */
/* The vrl plugin: transformers written in VRL (Vector Remap Language). */
#include <cdviz.h>

#include "cdviz-vrl-transformer.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_TRANSFORMER, "vrl",
                                       CDVIZ_TYPE_VRL_TRANSFORMER, error);
}

CDVIZ_PLUGIN_DEFINE ("vrl", "Transformers written in VRL (Vector Remap Language)", register_types)
