/* SPDX-License-Identifier: Apache-2.0 */
/* The collector plugin: the consuming end of collector-to-collector. */
#include <cdviz.h>

#include "cdviz-folder-sink.h"
#include "cdviz-http-sink.h"
#ifdef HAVE_VRL
#include "cdviz-http-polling-source.h"
#endif
#include "cdviz-sse-source.h"

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "sse",
                                       CDVIZ_TYPE_SSE_SOURCE, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "http",
                                       CDVIZ_TYPE_HTTP_SINK, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "folder",
                                       CDVIZ_TYPE_FOLDER_SINK, error)
#ifdef HAVE_VRL
         && cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SOURCE, "http_polling",
                                          CDVIZ_TYPE_HTTP_POLLING_SOURCE, error)
#endif
         ;
}

CDVIZ_PLUGIN_DEFINE ("collector",
                     "Collector to collector: the SSE source (another collector's stream), "
                     "the http_polling source, the http and folder sinks",
                     register_types)
