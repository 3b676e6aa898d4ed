/* SPDX-License-Identifier: Apache-2.0 */
/* The files plugin: cdviz-collector's `opendal` source (kind "fs") and
 * `cli` and `subprocess` sources, with their parsers. */
#include <cdviz.h>

#include "cdviz-cli-source.h"
#include "cdviz-opendal-source.h"
#include "cdviz-subprocess-source.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "opendal",
                                       CDVIZ_TYPE_OPENDAL_SOURCE, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "cli",
                                       CDVIZ_TYPE_CLI_SOURCE, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "subprocess",
                                       CDVIZ_TYPE_SUBPROCESS_SOURCE, error);
}

CDVIZ_PLUGIN_DEFINE ("opendal",
                     "opendal (files under a directory, polled), cli and subprocess sources",
                     register_types)
