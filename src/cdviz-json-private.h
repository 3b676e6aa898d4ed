/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The deepest nesting of arrays and objects accepted in untrusted JSON
 * (128 accepted, 129 refused). 128 is the value of serde_json's default
 * recursion limit, used by cdviz-collector; serde_json counts it down and
 * fails on reaching 0, so it accepts one level less (127). */
#define CDVIZ_JSON_MAX_DEPTH 128

JsonNode *_cdviz_json_parse_single (const char  *data,
                                    gsize        length,
                                    GError     **error);
JsonNode *_cdviz_json_parse_single_full (const char  *data,
                                         gsize        length,
                                         gboolean     sealed,
                                         GError     **error);
JsonNode *_cdviz_json_parse_compact (const char  *data,
                                     gsize        length,
                                     gboolean    *compact,
                                     GError     **error);

void      _cdviz_json_append       (GString     *out,
                                    JsonNode    *node,
                                    gboolean     sort_keys,
                                    const char  *skip_member);

JsonNode *_cdviz_json_deep_copy   (JsonNode    *node);

G_END_DECLS
