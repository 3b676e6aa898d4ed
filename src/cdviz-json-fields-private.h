/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Typed reading of the members of a JSON object (a TOML table), shared by
 * the configuration loader (cdviz-config.c) and the header-rule parser
 * (cdviz-header-rule.c). The getters decide what is wrong with a member;
 * the reader's report function says it, in the reader's own words and at
 * its own location (FILE:LINE for the configuration). */

typedef enum {
  CDVIZ_FIELD_UNKNOWN,    /* @key is not among @allowed */
  CDVIZ_FIELD_MISSING,    /* @key is required and absent */
  CDVIZ_FIELD_WRONG_TYPE, /* @key holds @got instead of an @expected */
} CdvizFieldProblem;

typedef struct {
  CdvizFieldProblem problem;
  const char *key;
  JsonNode *got;                /* UNKNOWN, WRONG_TYPE: the member */
  GType expected;               /* WRONG_TYPE: G_TYPE_STRING, _BOOLEAN or _INT64 */
  const char * const *allowed;  /* UNKNOWN: the keys allowed */
} CdvizFieldError;

/* Sets @error (never NULL-checked by the caller: it may be NULL) for
 * @field_error. */
typedef void (*CdvizFieldReportFunc) (gpointer               user_data,
                                      const CdvizFieldError *field_error,
                                      GError               **error);

typedef struct {
  JsonObject *table;
  CdvizFieldReportFunc report;
  gpointer user_data;
} CdvizFields;

/* Fails on the first member of the table that is not in @allowed. */
gboolean  _cdviz_fields_check_keys (const CdvizFields  *fields,
                                    const char * const *allowed,
                                    GError            **error);

/* Sets *@out to the member @key, or to NULL when it is absent and not
 * @required. */
gboolean  _cdviz_fields_get_member (const CdvizFields  *fields,
                                    const char         *key,
                                    gboolean            required,
                                    JsonNode          **out,
                                    GError            **error);

/* Sets *@out to the string member @key, or to @default_value when it is
 * absent and not @required. */
gboolean  _cdviz_fields_get_string (const CdvizFields  *fields,
                                    const char         *key,
                                    gboolean            required,
                                    const char         *default_value,
                                    const char        **out,
                                    GError            **error);

/* Sets *@out to the boolean member @key, or to @default_value. */
gboolean  _cdviz_fields_get_bool   (const CdvizFields  *fields,
                                    const char         *key,
                                    gboolean            default_value,
                                    gboolean           *out,
                                    GError            **error);

/* Sets *@out to the integer member @key, or to @default_value. */
gboolean  _cdviz_fields_get_int    (const CdvizFields  *fields,
                                    const char         *key,
                                    gint64              default_value,
                                    gint64             *out,
                                    GError            **error);

/* Whether @node is a duration: a string cdviz_parse_duration() accepts, or
 * a non-negative integer number of seconds; its value in milliseconds. */
gboolean  _cdviz_json_node_get_duration (JsonNode      *node,
                                         guint64       *out_ms);

G_END_DECLS
