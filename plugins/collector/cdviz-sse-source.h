/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_SSE_SOURCE (cdviz_sse_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizSseSource, cdviz_sse_source, CDVIZ, SSE_SOURCE, GObject)

G_END_DECLS
