/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The deepest nesting of arrays and objects accepted in untrusted JSON:
 * serde_json's default recursion limit, which cdviz-collector uses. */
#define CDVIZ_JSON_MAX_DEPTH 128

JsonNode *_cdviz_json_parse_single (const char  *data,
                                    gsize        length,
                                    GError     **error);
JsonNode *_cdviz_json_parse_single_full (const char  *data,
                                         gsize        length,
                                         gboolean     sealed,
                                         GError     **error);

void      _cdviz_json_append       (GString     *out,
                                    JsonNode    *node,
                                    gboolean     sort_keys,
                                    const char  *skip_member);

G_END_DECLS
