/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <json-glib/json-glib.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_MESSAGE (cdviz_message_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizMessage, cdviz_message, CDVIZ, MESSAGE, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizMessage *cdviz_message_new            (JsonNode     *body,
                                            JsonNode     *metadata,
                                            GHashTable   *headers);
CDVIZ_AVAILABLE_IN_1_0
CdvizMessage *cdviz_message_new_raw        (JsonNode     *body,
                                            JsonNode     *metadata,
                                            GHashTable   *headers);
CDVIZ_AVAILABLE_IN_1_0
gboolean      cdviz_message_is_raw         (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
CdvizMessage *cdviz_message_new_from_data  (const char   *data,
                                            gssize        length,
                                            GError      **error);
CDVIZ_AVAILABLE_IN_1_0
CdvizMessage *cdviz_message_new_raw_from_data (const char   *data,
                                               gssize        length,
                                               JsonNode     *metadata,
                                               GHashTable   *headers,
                                               GError      **error);
CDVIZ_AVAILABLE_IN_1_0
JsonObject   *cdviz_message_build_metadata (JsonNode     *configured);
CDVIZ_AVAILABLE_IN_1_0
JsonNode     *cdviz_message_get_body       (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
JsonNode     *cdviz_message_get_metadata   (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
GHashTable   *cdviz_message_get_headers    (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
const char   *cdviz_message_get_header     (CdvizMessage *self,
                                            const char   *name);
CDVIZ_AVAILABLE_IN_1_0
const char   *cdviz_message_get_id         (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
const char   *cdviz_message_get_event_type (CdvizMessage *self);
CDVIZ_AVAILABLE_IN_1_0
GBytes       *cdviz_message_get_body_bytes (CdvizMessage *self);

G_END_DECLS
