/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_SSE_SINK (cdviz_sse_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizSseSink, cdviz_sse_sink, CDVIZ, SSE_SINK, GObject)

G_END_DECLS
