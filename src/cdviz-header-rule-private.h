/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One rule of a CdvizHeaderValidator: building it from its table, and
 * checking a request against it. Private to cdviz-header-validator.c and
 * cdviz-header-rule.c. */

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  RULE_EXISTS,
  RULE_EQUALS,
  RULE_MATCHES,
  RULE_SIGNATURE,
  RULE_SECRET,
} RuleType;

typedef enum {
  ENCODING_RAW,
  ENCODING_HEX,
  ENCODING_BASE64,
} Encoding;

typedef struct
{
  RuleType type;
  char *name;             /* as configured, for messages */
  char *lname;            /* lower-case, for lookups */

  /* equals, secret: prefix + value + suffix, ASCII-folded when
   * !case_sensitive. Wiped on free. */
  guint8 *expected;
  gsize expected_len;
  gboolean case_sensitive;

  /* matches */
  GRegex *regex;

  /* signature */
  guint8 *key;            /* decoded token, wiped on free */
  gsize key_len;
  char *signature_prefix; /* never NULL */
  Encoding signature_encoding;
  char *separator;        /* NULL for signature_on = "body" */
  GStrv signed_headers;   /* lower-case, NULL for signature_on = "body" */
  const char *timestamp_header; /* one of signed_headers, or NULL */
  guint64 timestamp_tolerance_ms; /* 0: not checked */
} Rule;

/* Returns the first value of the header with lower-case name @lname, or
 * NULL when absent. */
typedef const char *(*LookupFunc) (gpointer    data,
                                   const char *lname);

typedef enum {
  OUTCOME_OK,
  OUTCOME_MISSING,
  OUTCOME_INVALID_VALUE,
  OUTCOME_PATTERN_MISMATCH,
  OUTCOME_SIGNATURE,
} Outcome;

/* What a check covers: the request head (every rule but the MACs), the
 * body (the MACs of signature rules), or both. */
typedef enum {
  PHASE_HEAD = 1 << 0,
  PHASE_BODY = 1 << 1,
  PHASE_ALL = PHASE_HEAD | PHASE_BODY,
} Phase;

/* A rule for the header @name from its table @node (a JSON object with a
 * `type` member), or NULL with @error set in CDVIZ_HEADER_VALIDATOR_ERROR. */
Rule       *_cdviz_header_rule_new            (const char  *name,
                                               JsonNode    *node,
                                               GError     **error);
void        _cdviz_header_rule_free           (Rule        *rule);
const char *_cdviz_header_rule_type_to_string (RuleType     type);

/* Checks the part @phase of a request against @rule; on OUTCOME_SIGNATURE
 * sets *@reason_out to why (never a secret). @now_ms: Unix time in ms. */
Outcome     _cdviz_header_rule_check          (const Rule  *rule,
                                               LookupFunc   lookup,
                                               gpointer     data,
                                               GBytes      *body,
                                               Phase        phase,
                                               gint64       now_ms,
                                               char       **reason_out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rule, _cdviz_header_rule_free)

G_END_DECLS
