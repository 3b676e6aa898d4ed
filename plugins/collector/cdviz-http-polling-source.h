/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_HTTP_POLLING_SOURCE (cdviz_http_polling_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizHttpPollingSource, cdviz_http_polling_source, CDVIZ,
                      HTTP_POLLING_SOURCE, GObject)

G_END_DECLS
