/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

/*
 * CdvizVrlTransformer: `type = "vrl"`. Runs a VRL program on
 * `{metadata, headers, body}`; the program's value is an array of such
 * objects (one message each), or null to pass the message on unchanged.
 * Runtime errors and `abort` reject the message with CDVIZ_VRL_ERROR.
 * Compiled once in g_initable_init(); transform() may run on any thread
 * (the compiled program is read-only).
 */
#define CDVIZ_TYPE_VRL_TRANSFORMER (cdviz_vrl_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizVrlTransformer, cdviz_vrl_transformer, CDVIZ, VRL_TRANSFORMER, GObject)

G_END_DECLS
