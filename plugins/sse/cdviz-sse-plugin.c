/* SPDX-License-Identifier: Apache-2.0 */
/* The SSE plugin: a sink that streams events to HTTP clients. */
#include <cdviz.h>

#include "cdviz-sse-sink.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "sse",
                                       CDVIZ_TYPE_SSE_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("sse", "Server-Sent Events sink: streams events to HTTP clients",
                     register_types)
