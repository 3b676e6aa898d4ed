/* SPDX-License-Identifier: Apache-2.0 */
/* The db plugin: a sink that stores every event in PostgreSQL, in the
 * schema of cdviz-db, through libpq. */
#include <cdviz.h>

#include "cdviz-db-sink.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "db",
                                       CDVIZ_TYPE_DB_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("db", "PostgreSQL sink: stores events with cdviz-db's cdviz.store_cdevent (libpq)",
                     register_types)
