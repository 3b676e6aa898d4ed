/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>
#include <jv.h>

G_BEGIN_DECLS

/* Conversions between JSON-GLib nodes and libjq values, built directly one
 * from the other (no JSON text in between).
 *
 * libjq 1.6 holds every number as a double, so an integer beyond ±2^53
 * cannot survive a trip through jq exactly. CdvizJqNumbers remembers the
 * exact integers of one input so that a number the filter passes through
 * unchanged comes out with its original value; a number jq computed comes
 * out as jq computed it. */

/* Nesting deeper than this is refused both ways (jq's own parser stops at
 * 256 levels; CDEvents are a handful deep). */
#define CDVIZ_JQ_MAX_DEPTH 1000

typedef struct {
  /*< private >*/
  GHashTable *exact;   /* bits of a double → exact gint64 (or the ambiguity mark) */
} CdvizJqNumbers;

#define CDVIZ_JQ_NUMBERS_INIT { NULL }

void      cdviz_jq_numbers_clear   (CdvizJqNumbers  *numbers);

jv        cdviz_jq_jv_from_json    (JsonNode        *node,
                                    CdvizJqNumbers  *numbers);
jv        cdviz_jq_jv_from_headers (GHashTable      *headers);
JsonNode *cdviz_jq_json_from_jv    (jv               value,
                                    CdvizJqNumbers  *numbers,
                                    GError         **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CdvizJqNumbers, cdviz_jq_numbers_clear)

G_END_DECLS
