/* SPDX-License-Identifier: Apache-2.0 */
/* The rules of a CdvizHeaderValidator (see its documentation in
 * cdviz-header-validator.c for what each type does): building one from its
 * table, checking a request against one. */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-config.h"
#include "cdviz-header-validator.h"
#include "cdviz-header-rule-private.h"
#include "cdviz-json-fields-private.h"
#include "cdviz-secure-private.h"

#define REASON_SIGNATURE_NOT_FOUND "signature not found or readable"
#define REASON_SIGNATURE_MISMATCH "Signature verification mismatch"
#define DEFAULT_TIMESTAMP_TOLERANCE_MS (300 * 1000)
/* Unix seconds, at most 15 digits: far beyond any real date, and no
 * overflow in milliseconds. */
#define MAX_TIMESTAMP_DIGITS 15

const char *
_cdviz_header_rule_type_to_string (RuleType type)
{
  switch (type)
    {
    case RULE_EXISTS: return "exists";
    case RULE_EQUALS: return "equals";
    case RULE_MATCHES: return "matches";
    case RULE_SIGNATURE: return "signature";
    case RULE_SECRET: return "secret";
    default: g_assert_not_reached ();
    }
}

void
_cdviz_header_rule_free (Rule *rule)
{
  _cdviz_secure_wipe (rule->expected, rule->expected_len);
  g_free (rule->expected);
  _cdviz_secure_wipe (rule->key, rule->key_len);
  g_free (rule->key);
  g_free (rule->name);
  g_free (rule->lname);
  g_clear_pointer (&rule->regex, g_regex_unref);
  g_free (rule->signature_prefix);
  g_free (rule->separator);
  g_strfreev (rule->signed_headers);
  g_free (rule);
}

/* ---------------------------------------------------------------------- */
/* Building rules                                                           */

/* RFC 9110 token characters. */
static gboolean
is_valid_header_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p; p++)
    {
      if (g_ascii_isalnum (*p))
        continue;
      if (strchr ("!#$%&'*+-.^_`|~", *p) == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Where a rule's fields are read, for the messages. */
typedef enum {
  FIELDS_BEFORE_TYPE,          /* the rule's `type` itself */
  FIELDS_OF_RULE,              /* the fields of a rule of type type_name */
  FIELDS_OF_HEADERS_THEN_BODY, /* signature_on.headers_then_body */
} FieldsScope;

typedef struct {
  const char *header;
  const char *type_name;
  FieldsScope scope;
} RuleContext;

static void
report_rule_field (gpointer               user_data,
                   const CdvizFieldError *field_error,
                   GError               **error)
{
  const RuleContext *context = user_data;
  const char *header = context->header, *key = field_error->key;
  gboolean wants_bool = field_error->expected == G_TYPE_BOOLEAN;
  int code = CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE;

  switch (context->scope)
    {
    case FIELDS_BEFORE_TYPE:  /* only `type` is read, as a string */
      if (field_error->problem == CDVIZ_FIELD_MISSING)
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': missing field 'type'"), header);
      else
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': field 'type' must be a string"), header);
      break;

    case FIELDS_OF_RULE:
      if (field_error->problem == CDVIZ_FIELD_UNKNOWN)
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': unknown field '%s' for rule type '%s'"),
                     header, key, context->type_name);
      else if (field_error->problem == CDVIZ_FIELD_MISSING)
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': missing field '%s' for rule type '%s'"),
                     header, key, context->type_name);
      else
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     wants_bool ?
                     _("header '%s': field '%s' for rule type '%s' must be a boolean") :
                     _("header '%s': field '%s' for rule type '%s' must be a string"),
                     header, key, context->type_name);
      break;

    case FIELDS_OF_HEADERS_THEN_BODY:  /* only `separator` is read as a string */
      if (field_error->problem == CDVIZ_FIELD_UNKNOWN)
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': unknown field '%s' in signature_on.headers_then_body"),
                     header, key);
      else if (field_error->problem == CDVIZ_FIELD_MISSING)
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': missing field '%s' in signature_on.headers_then_body"),
                     header, key);
      else
        g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code,
                     _("header '%s': field 'separator' in signature_on.headers_then_body must be a string"),
                     header);
      break;

    default:
      g_assert_not_reached ();
    }
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
parse_encoding (const char  *header,
                const char  *field,
                const char  *value,
                gboolean     allow_raw,
                Encoding    *out,
                GError     **error)
{
  if (allow_raw && g_str_equal (value, "raw"))
    *out = ENCODING_RAW;
  else if (g_str_equal (value, "hex"))
    *out = ENCODING_HEX;
  else if (g_str_equal (value, "base64"))
    *out = ENCODING_BASE64;
  else
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   allow_raw ?
                   _("header '%s': invalid value '%s' for field '%s' (expected 'raw', 'hex' or 'base64')") :
                   _("header '%s': invalid value '%s' for field '%s' (expected 'hex' or 'base64')"),
                   header, value, field);
      return FALSE;
    }
  return TRUE;
}

static guint8 *
build_expected (const char *prefix,
                const char *value,
                const char *suffix,
                gboolean    case_sensitive,
                gsize      *out_len)
{
  gsize plen = strlen (prefix), vlen = strlen (value), slen = strlen (suffix);
  gsize len = plen + vlen + slen;
  guint8 *buf = g_malloc (len + 1);

  memcpy (buf, prefix, plen);
  memcpy (buf + plen, value, vlen);
  memcpy (buf + plen + vlen, suffix, slen);
  buf[len] = '\0';
  if (!case_sensitive)
    _cdviz_fold_ascii_buffer (buf, buf, len);
  *out_len = len;
  return buf;
}

static gboolean
parse_equals (Rule               *rule,
              const CdvizFields  *fields,
              GError            **error)
{
  static const char * const allowed[] = {
    "type", "value", "case_sensitive", "prefix", "suffix", NULL
  };
  const char *value, *prefix, *suffix;

  if (!_cdviz_fields_check_keys (fields, allowed, error) ||
      !_cdviz_fields_get_string (fields, "value", TRUE, NULL, &value, error) ||
      !_cdviz_fields_get_bool (fields, "case_sensitive", TRUE, &rule->case_sensitive, error) ||
      !_cdviz_fields_get_string (fields, "prefix", FALSE, "", &prefix, error) ||
      !_cdviz_fields_get_string (fields, "suffix", FALSE, "", &suffix, error))
    return FALSE;

  rule->expected = build_expected (prefix, value, suffix, rule->case_sensitive,
                                   &rule->expected_len);
  return TRUE;
}

static gboolean
parse_secret (Rule               *rule,
              const CdvizFields  *fields,
              GError            **error)
{
  static const char * const allowed[] = { "type", "value", "prefix", "suffix", NULL };
  const char *secret, *prefix, *suffix;

  /* As cdviz-collector: `value` is the secret itself (from the file with
   * `value_file`, from the environment with CDVIZ_COLLECTOR__…). Neither it
   * nor a file's content ever appears in a message. */
  if (!_cdviz_fields_check_keys (fields, allowed, error) ||
      !_cdviz_fields_get_string (fields, "value", TRUE, NULL, &secret, error) ||
      !_cdviz_fields_get_string (fields, "prefix", FALSE, "", &prefix, error) ||
      !_cdviz_fields_get_string (fields, "suffix", FALSE, "", &suffix, error))
    return FALSE;

  if (*secret == '\0')
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_MISSING_SECRET,
                   _("header '%s': the secret (value) is empty"), rule->name);
      return FALSE;
    }

  rule->case_sensitive = TRUE;
  rule->expected = build_expected (prefix, secret, suffix, TRUE, &rule->expected_len);
  return TRUE;
}

static gboolean
parse_matches (Rule               *rule,
               const CdvizFields  *fields,
               GError            **error)
{
  static const char * const allowed[] = { "type", "pattern", NULL };
  const char *pattern;
  g_autoptr(GError) local_error = NULL;

  if (!_cdviz_fields_check_keys (fields, allowed, error) ||
      !_cdviz_fields_get_string (fields, "pattern", TRUE, NULL, &pattern, error))
    return FALSE;

  rule->regex = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, &local_error);
  if (rule->regex == NULL)
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': invalid pattern '%s': %s"),
                   rule->name, pattern, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
signature_on_error (const char  *header,
                    GError     **error)
{
  g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
               CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
               _("header '%s': field 'signature_on' for rule type 'signature' must be "
                 "\"body\" or { headers_then_body = { separator = \"…\", headers = [\"…\"] } }"),
               header);
  return FALSE;
}

static gboolean
parse_signature_on (Rule        *rule,
                    JsonNode    *node,
                    GError     **error)
{
  static const char * const allowed[] = { "separator", "headers", NULL };
  RuleContext context = { rule->name, "signature", FIELDS_OF_HEADERS_THEN_BODY };
  CdvizFields inner = { NULL, report_rule_field, &context };
  JsonObject *outer;
  JsonNode *inner_node, *separator, *headers;
  const char *separator_text;
  JsonArray *array;
  g_autoptr(GPtrArray) names = NULL;
  guint n;

  if (node == NULL)
    return TRUE;
  if (node_is_string (node))
    {
      if (g_str_equal (json_node_get_string (node), "body"))
        return TRUE;
      return signature_on_error (rule->name, error);
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return signature_on_error (rule->name, error);

  outer = json_node_get_object (node);
  inner_node = json_object_get_member (outer, "headers_then_body");
  if (json_object_get_size (outer) != 1 || inner_node == NULL ||
      !JSON_NODE_HOLDS_OBJECT (inner_node))
    return signature_on_error (rule->name, error);

  inner.table = json_node_get_object (inner_node);
  if (!_cdviz_fields_check_keys (&inner, allowed, error) ||
      !_cdviz_fields_get_member (&inner, "separator", TRUE, &separator, error) ||
      !_cdviz_fields_get_member (&inner, "headers", TRUE, &headers, error) ||
      !_cdviz_fields_get_string (&inner, "separator", TRUE, NULL, &separator_text, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (headers))
    goto bad_headers;

  array = json_node_get_array (headers);
  n = json_array_get_length (array);
  names = g_ptr_array_new_full (n + 1, g_free);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *name;

      if (!node_is_string (element))
        goto bad_headers;
      name = json_node_get_string (element);
      if (!is_valid_header_name (name))
        {
          g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       _("header '%s': invalid header name '%s' in signature_on.headers_then_body"),
                       rule->name, name);
          return FALSE;
        }
      g_ptr_array_add (names, g_ascii_strdown (name, -1));
    }

  rule->separator = g_strdup (separator_text);
  g_ptr_array_add (names, NULL);
  rule->signed_headers = (GStrv) g_ptr_array_steal (names, NULL);
  return TRUE;

bad_headers:
  g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
               CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
               _("header '%s': field 'headers' in signature_on.headers_then_body must be an array of header names"),
               rule->name);
  return FALSE;
}

/* Sets rule->timestamp_header and rule->timestamp_tolerance_ms from the
 * `timestamp_header` and `timestamp_tolerance` fields; needs
 * rule->signed_headers. */
static gboolean
parse_timestamp (Rule               *rule,
                 const CdvizFields  *fields,
                 GError            **error)
{
  const char *header;
  JsonNode *tolerance;

  if (!_cdviz_fields_get_string (fields, "timestamp_header", FALSE, NULL, &header, error) ||
      !_cdviz_fields_get_member (fields, "timestamp_tolerance", FALSE, &tolerance, error))
    return FALSE;

  if (header != NULL)
    {
      for (guint i = 0; rule->signed_headers != NULL && rule->signed_headers[i] != NULL; i++)
        {
          if (g_ascii_strcasecmp (rule->signed_headers[i], header) == 0)
            rule->timestamp_header = rule->signed_headers[i];
        }
      if (rule->timestamp_header == NULL)
        {
          /* An unsigned timestamp could be changed at will. */
          g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       _("header '%s': field 'timestamp_header' ('%s') must be one of the "
                         "headers of signature_on.headers_then_body, so that it is signed"),
                       rule->name, header);
          return FALSE;
        }
    }
  else if (rule->signed_headers != NULL)
    {
      const char * const *signed_headers = (const char * const *) rule->signed_headers;

      /* Standard Webhooks, then Svix (static strings) */
      if (g_strv_contains (signed_headers, "webhook-timestamp"))
        rule->timestamp_header = "webhook-timestamp";
      else if (g_strv_contains (signed_headers, "svix-timestamp"))
        rule->timestamp_header = "svix-timestamp";
    }

  rule->timestamp_tolerance_ms = DEFAULT_TIMESTAMP_TOLERANCE_MS;
  if (tolerance == NULL)
    return TRUE;

  if (rule->timestamp_header == NULL)
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field 'timestamp_tolerance' needs a signed timestamp header "
                     "(set 'timestamp_header' to one of signature_on.headers_then_body.headers)"),
                   rule->name);
      return FALSE;
    }
  if (_cdviz_json_node_get_duration (tolerance, &rule->timestamp_tolerance_ms) &&
      rule->timestamp_tolerance_ms <= (guint64) G_MAXINT32 * 1000)
    return TRUE;

  g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
               CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
               _("header '%s': field 'timestamp_tolerance' must be a duration such as \"5m\" "
                 "or a number of seconds (0 turns the check off)"),
               rule->name);
  return FALSE;
}

static gboolean
parse_signature (Rule               *rule,
                 const CdvizFields  *fields,
                 GError            **error)
{
  static const char * const allowed[] = {
    "type", "token", "token_encoding", "signature_prefix", "signature_on", "signature_encoding",
    "timestamp_header", "timestamp_tolerance", NULL
  };
  const char *token, *token_encoding, *signature_prefix, *signature_encoding;
  Encoding encoding;

  if (!_cdviz_fields_check_keys (fields, allowed, error) ||
      !_cdviz_fields_get_string (fields, "token", TRUE, NULL, &token, error) ||
      !_cdviz_fields_get_string (fields, "token_encoding", FALSE, "raw", &token_encoding, error) ||
      !_cdviz_fields_get_string (fields, "signature_prefix", FALSE, "", &signature_prefix, error) ||
      !_cdviz_fields_get_string (fields, "signature_encoding", FALSE, "hex", &signature_encoding, error) ||
      !parse_encoding (rule->name, "token_encoding", token_encoding, TRUE, &encoding, error) ||
      !parse_encoding (rule->name, "signature_encoding", signature_encoding, FALSE,
                       &rule->signature_encoding, error) ||
      !parse_signature_on (rule, json_object_get_member (fields->table, "signature_on"), error))
    return FALSE;

  if (*token == '\0')
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field 'token' for rule type 'signature' must not be empty"),
                   rule->name);
      return FALSE;
    }

  switch (encoding)
    {
    case ENCODING_RAW:
      rule->key_len = strlen (token);
      rule->key = g_memdup2 (token, rule->key_len);
      break;
    case ENCODING_HEX:
      rule->key = _cdviz_decode_hex (token, &rule->key_len);
      break;
    case ENCODING_BASE64:
      rule->key = _cdviz_decode_base64 (token, &rule->key_len);
      break;
    default:
      g_assert_not_reached ();
    }
  if (rule->key == NULL)
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field 'token' is not valid %s"),
                   rule->name, token_encoding);
      return FALSE;
    }

  rule->signature_prefix = g_strdup (signature_prefix);
  return parse_timestamp (rule, fields, error);
}

Rule *
_cdviz_header_rule_new (const char  *name,
                        JsonNode    *node,
                        GError     **error)
{
  g_autoptr(Rule) rule = NULL;
  RuleContext context = { name, NULL, FIELDS_BEFORE_TYPE };
  CdvizFields fields = { NULL, report_rule_field, &context };
  const char *type_name;
  gboolean ok;

  if (!is_valid_header_name (name))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("invalid header name '%s' in header rules"), name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': rule must be a table with a 'type' field"), name);
      return NULL;
    }
  fields.table = json_node_get_object (node);
  if (!_cdviz_fields_get_string (&fields, "type", TRUE, NULL, &type_name, error))
    return NULL;
  context.type_name = type_name;
  context.scope = FIELDS_OF_RULE;

  rule = g_new0 (Rule, 1);
  rule->name = g_strdup (name);
  rule->lname = g_ascii_strdown (name, -1);

  if (g_str_equal (type_name, "exists"))
    {
      static const char * const allowed[] = { "type", NULL };

      rule->type = RULE_EXISTS;
      ok = _cdviz_fields_check_keys (&fields, allowed, error);
    }
  else if (g_str_equal (type_name, "equals"))
    {
      rule->type = RULE_EQUALS;
      ok = parse_equals (rule, &fields, error);
    }
  else if (g_str_equal (type_name, "matches"))
    {
      rule->type = RULE_MATCHES;
      ok = parse_matches (rule, &fields, error);
    }
  else if (g_str_equal (type_name, "signature"))
    {
      rule->type = RULE_SIGNATURE;
      ok = parse_signature (rule, &fields, error);
    }
  else if (g_str_equal (type_name, "secret"))
    {
      rule->type = RULE_SECRET;
      ok = parse_secret (rule, &fields, error);
    }
  else
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': unknown rule type '%s' (expected exists, equals, matches, signature or secret)"),
                   name, type_name);
      ok = FALSE;
    }

  return ok ? g_steal_pointer (&rule) : NULL;
}

/* ---------------------------------------------------------------------- */
/* Checking                                                                 */

static gboolean
value_matches_expected (const Rule *rule,
                        const char *value)
{
  gsize len = strlen (value);
  guint8 stack_buf[256] = { 0 };
  g_autofree guint8 *heap_buf = NULL;
  guint8 *folded;
  gboolean equal;

  if (rule->case_sensitive)
    return cdviz_secure_equal ((const guint8 *) value, len,
                               rule->expected, rule->expected_len);

  folded = len <= sizeof stack_buf ? stack_buf : (heap_buf = g_malloc (len));
  _cdviz_fold_ascii_buffer (folded, (const guint8 *) value, len);
  equal = cdviz_secure_equal (folded, len, rule->expected, rule->expected_len);
  _cdviz_secure_wipe (folded, len);
  return equal;
}

/* Computes the expected header value; on failure returns NULL and sets
 * *reason (static string or newly allocated in *reason_owned). */
static char *
compute_signature (const Rule  *rule,
                   LookupFunc   lookup,
                   gpointer     data,
                   GBytes      *body,
                   const char **reason,
                   char       **reason_owned)
{
  CdvizHmac *hmac;
  guint8 mac[CDVIZ_HMAC_SHA256_LEN];
  char hex[2 * CDVIZ_HMAC_SHA256_LEN + 1];
  g_autofree char *b64 = NULL;
  char *result;

  hmac = _cdviz_hmac_sha256_new (rule->key, rule->key_len);
  if (hmac == NULL)
    {
      *reason = "failed to verify signature";
      return NULL;
    }

  if (rule->signed_headers != NULL)
    {
      gsize sep_len = strlen (rule->separator);

      for (guint i = 0; rule->signed_headers[i] != NULL; i++)
        {
          const char *value = lookup (data, rule->signed_headers[i]);

          if (value == NULL)
            {
              _cdviz_hmac_free (hmac);
              *reason_owned = g_strdup_printf ("missing header '%s'", rule->signed_headers[i]);
              *reason = *reason_owned;
              return NULL;
            }
          _cdviz_hmac_update (hmac, value, strlen (value));
          _cdviz_hmac_update (hmac, rule->separator, sep_len);
        }
    }
  if (body != NULL)
    {
      gsize body_len;
      gconstpointer body_data = g_bytes_get_data (body, &body_len);

      if (body_len > 0)
        _cdviz_hmac_update (hmac, body_data, body_len);
    }

  if (!_cdviz_hmac_finish (hmac, mac))
    {
      *reason = "failed to verify signature";
      return NULL;
    }

  if (rule->signature_encoding == ENCODING_HEX)
    {
      _cdviz_encode_hex_lower (hex, mac, sizeof mac);
      result = g_strconcat (rule->signature_prefix, hex, NULL);
    }
  else
    {
      b64 = g_base64_encode (mac, sizeof mac);
      result = g_strconcat (rule->signature_prefix, b64, NULL);
    }
  _cdviz_secure_wipe (mac, sizeof mac);
  return result;
}

/* The header may carry one signature or several separated by spaces
 * (Svix: "v1,abc v1,def"). Each candidate, and the whole value, is compared
 * in constant time, and all are compared whatever the outcome. */
static gboolean
signature_matches (const char *value,
                   const char *expected)
{
  gsize expected_len = strlen (expected);
  const char *p = value;
  gboolean found;

  found = cdviz_secure_equal ((const guint8 *) value, strlen (value),
                              (const guint8 *) expected, expected_len);
  if (strchr (value, ' ') == NULL)
    return found;

  while (*p != '\0')
    {
      const char *end;

      while (*p == ' ')
        p++;
      end = p;
      while (*end != '\0' && *end != ' ')
        end++;
      if (end > p)
        found |= cdviz_secure_equal ((const guint8 *) p, (gsize) (end - p),
                                     (const guint8 *) expected, expected_len);
      p = end;
    }
  return found;
}

/* Strict: decimal digits only, as Standard Webhooks and Svix send them. */
static gboolean
parse_unix_seconds (const char *text,
                    gint64     *out)
{
  gint64 value = 0;
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p++, n++)
    {
      if (!g_ascii_isdigit (*p) || n >= MAX_TIMESTAMP_DIGITS)
        return FALSE;
      value = value * 10 + (*p - '0');
    }
  if (n == 0)
    return FALSE;
  *out = value;
  return TRUE;
}

static char *
format_tolerance (guint64 ms)
{
  if (ms % 1000 == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " s", ms / 1000);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " ms", ms);
}

/* The timestamp is public (it is sent in clear): no need for constant
 * time here. Returns NULL when it is within the tolerance, else the
 * reason. */
static char *
check_timestamp (const Rule *rule,
                 const char *value,
                 gint64      now_ms)
{
  g_autofree char *tolerance = NULL;
  gint64 timestamp, timestamp_ms;

  if (!parse_unix_seconds (value, &timestamp))
    return g_strdup_printf ("invalid timestamp in header '%s' (expected Unix seconds)",
                            rule->timestamp_header);
  timestamp_ms = timestamp * 1000;
  if (timestamp_ms < now_ms && (guint64) (now_ms - timestamp_ms) > rule->timestamp_tolerance_ms)
    {
      tolerance = format_tolerance (rule->timestamp_tolerance_ms);
      return g_strdup_printf ("timestamp in header '%s' is too old (tolerance %s)",
                              rule->timestamp_header, tolerance);
    }
  if (timestamp_ms > now_ms && (guint64) (timestamp_ms - now_ms) > rule->timestamp_tolerance_ms)
    {
      tolerance = format_tolerance (rule->timestamp_tolerance_ms);
      return g_strdup_printf ("timestamp in header '%s' is too far in the future (tolerance %s)",
                              rule->timestamp_header, tolerance);
    }
  return NULL;
}

/* The checks of a signature rule that need no body: every signed header is
 * there and the timestamp, if any, is within the tolerance. */
static Outcome
check_signature_head (const Rule  *rule,
                      LookupFunc   lookup,
                      gpointer     data,
                      gint64       now_ms,
                      char       **reason_out)
{
  for (guint i = 0; rule->signed_headers != NULL && rule->signed_headers[i] != NULL; i++)
    {
      if (lookup (data, rule->signed_headers[i]) == NULL)
        {
          *reason_out = g_strdup_printf ("missing header '%s'", rule->signed_headers[i]);
          return OUTCOME_SIGNATURE;
        }
    }
  if (rule->timestamp_header != NULL && rule->timestamp_tolerance_ms > 0)
    {
      *reason_out = check_timestamp (rule, lookup (data, rule->timestamp_header), now_ms);
      if (*reason_out != NULL)
        return OUTCOME_SIGNATURE;
    }
  return OUTCOME_OK;
}

Outcome
_cdviz_header_rule_check (const Rule  *rule,
                          LookupFunc   lookup,
                          gpointer     data,
                          GBytes      *body,
                          Phase        phase,
                          gint64       now_ms,
                          char       **reason_out)
{
  const char *value;
  const char *reason = NULL;
  char *reason_owned = NULL;
  g_autofree char *expected = NULL;
  Outcome outcome;
  gboolean ok;

  /* Only signature rules have anything to check in the body. */
  if (!(phase & PHASE_HEAD) && rule->type != RULE_SIGNATURE)
    return OUTCOME_OK;

  value = lookup (data, rule->lname);
  if (rule->type == RULE_SIGNATURE && (value == NULL || *value == '\0'))
    {
      *reason_out = g_strdup (REASON_SIGNATURE_NOT_FOUND);
      return OUTCOME_SIGNATURE;
    }
  if (value == NULL || *value == '\0')
    return OUTCOME_MISSING;

  switch (rule->type)
    {
    case RULE_EXISTS:
      return OUTCOME_OK;

    case RULE_EQUALS:
    case RULE_SECRET:
      return value_matches_expected (rule, value) ? OUTCOME_OK : OUTCOME_INVALID_VALUE;

    case RULE_MATCHES:
      return g_regex_match (rule->regex, value, 0, NULL) ? OUTCOME_OK : OUTCOME_PATTERN_MISMATCH;

    case RULE_SIGNATURE:
      if (phase & PHASE_HEAD)
        {
          outcome = check_signature_head (rule, lookup, data, now_ms, reason_out);
          if (outcome != OUTCOME_OK || !(phase & PHASE_BODY))
            return outcome;
        }
      expected = compute_signature (rule, lookup, data, body, &reason, &reason_owned);
      if (expected == NULL)
        {
          *reason_out = reason_owned != NULL ? reason_owned : g_strdup (reason);
          return OUTCOME_SIGNATURE;
        }
      ok = signature_matches (value, expected);
      _cdviz_secure_wipe (expected, strlen (expected));
      if (!ok)
        {
          *reason_out = g_strdup (REASON_SIGNATURE_MISMATCH);
          return OUTCOME_SIGNATURE;
        }
      return OUTCOME_OK;

    default:
      g_assert_not_reached ();
    }
}

