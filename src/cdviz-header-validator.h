/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

/**
 * CDVIZ_HEADER_VALIDATOR_ERROR:
 *
 * Error domain for building a [class@HeaderValidator] from its rules.
 */
#define CDVIZ_HEADER_VALIDATOR_ERROR (cdviz_header_validator_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_header_validator_error_quark (void);

/**
 * CdvizHeaderValidatorError:
 * @CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE: a rule is malformed (unknown
 *   type, unknown or mistyped field, missing field, bad regular expression,
 *   undecodable or empty token, invalid header name), or the rules are not a
 *   table
 * @CDVIZ_HEADER_VALIDATOR_ERROR_MISSING_SECRET: a `secret` rule names an
 *   environment variable that is not set, or is empty
 *
 * Errors raised while building a validator.
 */
typedef enum {
  CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
  CDVIZ_HEADER_VALIDATOR_ERROR_MISSING_SECRET,
} CdvizHeaderValidatorError;

#define CDVIZ_TYPE_HEADER_VALIDATOR (cdviz_header_validator_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizHeaderValidator, cdviz_header_validator, CDVIZ, HEADER_VALIDATOR, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizHeaderValidator *cdviz_header_validator_new (JsonNode  *rules,
                                                  GError   **error);

CDVIZ_AVAILABLE_IN_1_0
gboolean              cdviz_header_validator_is_empty (CdvizHeaderValidator *self);

CDVIZ_AVAILABLE_IN_1_0
gboolean              cdviz_header_validator_needs_body (CdvizHeaderValidator *self);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check (CdvizHeaderValidator  *self,
                                                    GHashTable            *headers,
                                                    GBytes                *body,
                                                    char                 **message);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check_soup (CdvizHeaderValidator  *self,
                                                         SoupMessageHeaders    *headers,
                                                         GBytes                *body,
                                                         char                 **message);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check_head (CdvizHeaderValidator  *self,
                                                         GHashTable            *headers,
                                                         char                 **message);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check_head_soup (CdvizHeaderValidator  *self,
                                                              SoupMessageHeaders    *headers,
                                                              char                 **message);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check_body (CdvizHeaderValidator  *self,
                                                         GHashTable            *headers,
                                                         GBytes                *body,
                                                         char                 **message);

CDVIZ_AVAILABLE_IN_1_0
guint                 cdviz_header_validator_check_body_soup (CdvizHeaderValidator  *self,
                                                              SoupMessageHeaders    *headers,
                                                              GBytes                *body,
                                                              char                 **message);

CDVIZ_AVAILABLE_IN_1_0
gboolean              cdviz_secure_equal (const guint8 *a,
                                          gsize         a_len,
                                          const guint8 *b,
                                          gsize         b_len);

G_END_DECLS
