/* SPDX-License-Identifier: Apache-2.0 */
/* The NATS plugin: cdviz-collector's `nats` source and sink, core NATS or
 * JetStream. */
#include <cdviz.h>

#include "cdviz-nats-sink.h"
#include "cdviz-nats-source.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "nats",
                                       CDVIZ_TYPE_NATS_SOURCE, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "nats",
                                       CDVIZ_TYPE_NATS_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("nats",
                     "NATS source and sink: core publish/subscribe or JetStream streams",
                     register_types)
