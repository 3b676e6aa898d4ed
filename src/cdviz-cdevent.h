/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <json-glib/json-glib.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

/**
 * CDVIZ_CDEVENT_ERROR:
 *
 * Error domain of CDEvent validation.
 */
#define CDVIZ_CDEVENT_ERROR (cdviz_cdevent_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_cdevent_error_quark (void);

/**
 * CdvizCdeventError:
 * @CDVIZ_CDEVENT_ERROR_INVALID: the document is not a CDEvent
 *
 * Errors of CDEvent validation.
 */
typedef enum {
  CDVIZ_CDEVENT_ERROR_INVALID,
} CdvizCdeventError;

CDVIZ_AVAILABLE_IN_1_0
JsonNode *cdviz_cdevent_normalize  (JsonNode    *body,
                                    const char  *default_source,
                                    GError     **error);
CDVIZ_AVAILABLE_IN_1_0
char     *cdviz_cdevent_compute_id (JsonNode    *body);
CDVIZ_AVAILABLE_IN_1_0
JsonNode *cdviz_cdevent_parse      (const char  *data,
                                    gssize       length,
                                    const char  *default_source,
                                    GError     **error);

G_END_DECLS
