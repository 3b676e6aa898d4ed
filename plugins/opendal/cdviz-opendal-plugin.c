/* SPDX-License-Identifier: Apache-2.0 */
/* The files plugin: cdviz-collector's `opendal` source (kind "fs") and
 * `cli` source, with their parsers. */
#include <cdviz.h>

#include "cdviz-cli-source.h"
#include "cdviz-opendal-source.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "opendal",
                                       CDVIZ_TYPE_OPENDAL_SOURCE, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "cli",
                                       CDVIZ_TYPE_CLI_SOURCE, error);
}

CDVIZ_PLUGIN_DEFINE ("opendal",
                     "opendal (files under a directory, polled) and cli sources",
                     register_types)
