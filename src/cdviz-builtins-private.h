/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-registry.h"
#include "cdviz-transformer.h"
#include "cdviz-sink.h"
#include "cdviz-source.h"

G_BEGIN_DECLS

/* Built-in components: one class per file pair, declared here together
 * because none of them is public API. */

#define CDVIZ_TYPE_PASSTHROUGH_TRANSFORMER (cdviz_passthrough_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizPassthroughTransformer, cdviz_passthrough_transformer,
                      CDVIZ, PASSTHROUGH_TRANSFORMER, GObject)

#define CDVIZ_TYPE_LOG_TRANSFORMER (cdviz_log_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizLogTransformer, cdviz_log_transformer,
                      CDVIZ, LOG_TRANSFORMER, GObject)

#define CDVIZ_TYPE_DISCARD_ALL_TRANSFORMER (cdviz_discard_all_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizDiscardAllTransformer, cdviz_discard_all_transformer,
                      CDVIZ, DISCARD_ALL_TRANSFORMER, GObject)

#define CDVIZ_TYPE_DEDUPLICATE_TRANSFORMER (cdviz_deduplicate_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizDeduplicateTransformer, cdviz_deduplicate_transformer,
                      CDVIZ, DEDUPLICATE_TRANSFORMER, GObject)

#define CDVIZ_TYPE_DEBUG_SINK (cdviz_debug_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizDebugSink, cdviz_debug_sink, CDVIZ, DEBUG_SINK, GObject)

#define CDVIZ_TYPE_NOOP_SOURCE (cdviz_noop_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizNoopSource, cdviz_noop_source, CDVIZ, NOOP_SOURCE, GObject)

void _cdviz_register_builtins (CdvizRegistry *registry);

G_END_DECLS
