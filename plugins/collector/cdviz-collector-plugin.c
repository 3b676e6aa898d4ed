/* SPDX-License-Identifier: Apache-2.0 */
/* The collector plugin: the consuming end of collector-to-collector. */
#include <cdviz.h>

#include "cdviz-sse-source.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "sse",
                                       CDVIZ_TYPE_SSE_SOURCE, error);
}

CDVIZ_PLUGIN_DEFINE ("collector",
                     "Collector to collector: the SSE source (another collector's stream)",
                     register_types)
