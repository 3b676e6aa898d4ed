/* SPDX-License-Identifier: Apache-2.0 */
/* The jq plugin: transformers written in jq, run by libjq. */
#include <cdviz.h>

#include "cdviz-jq-transformer.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_TRANSFORMER, "jq",
                                       CDVIZ_TYPE_JQ_TRANSFORMER, error);
}

CDVIZ_PLUGIN_DEFINE ("jq", "Transformers written in jq (libjq)", register_types)
