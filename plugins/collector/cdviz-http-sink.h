/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_HTTP_SINK (cdviz_http_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizHttpSink, cdviz_http_sink, CDVIZ, HTTP_SINK, GObject)

G_END_DECLS
