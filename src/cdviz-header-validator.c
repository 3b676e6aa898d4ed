/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <gcrypt.h>
#include <glib/gi18n-lib.h>

#include "cdviz-config.h"
#include "cdviz-header-validator.h"
#include "cdviz-header-validator-private.h"

/**
 * CdvizHeaderValidator:
 *
 * Checks the headers (and, for signatures, the body) of an incoming HTTP
 * request against a table of rules, the way cdviz-collector does.
 *
 * A validator is built once from a rules table — header name → rule — and
 * then used for every request. It is immutable after construction, so one
 * validator can be used from several threads at once.
 *
 * ```toml
 * [sinks.sse.headers]
 * "Authorization" = { type = "equals", prefix = "Bearer ", value = "s3cr3t" }
 * "X-Api-Key" = { type = "secret", value_file = "/run/secrets/sse-api-key" }
 * "User-Agent" = { type = "matches", pattern = "^curl/" }
 * "X-Hub-Signature-256" = { type = "signature", token = "…", signature_prefix = "sha256=" }
 * ```
 *
 * Rules run in the order of the table (the configuration loader keeps the
 * document order) and the first one that fails decides the answer. Header
 * names are matched case-insensitively and only the first value of a
 * repeated header is checked. A header that is present but empty counts as
 * missing for every rule type.
 *
 * Rule types:
 *
 * - `exists`: the header must be present and non-empty (else 401).
 * - `equals`: `value` (string, required), `case_sensitive` (boolean, default
 *   true), `prefix` and `suffix` (strings, default empty). The header must be
 *   exactly `prefix + value + suffix`, as cdviz-collector's outgoing header
 *   sources build it (`prefix = "Bearer "`). Missing: 401; different: 403.
 *   When `case_sensitive` is false, both sides are ASCII-folded first.
 * - `matches`: `pattern` (string, required), a Perl-compatible regular
 *   expression searched anywhere in the value (anchor it with `^…$` to match
 *   the whole value). It is compiled once, when the validator is built.
 *   Missing: 401; no match: 403.
 * - `signature`: an HMAC-SHA256 of the request. `token` (string, required)
 *   is the key, `token_encoding` says how it is written (`"raw"`, the
 *   default, `"hex"` or `"base64"`). `signature_on` is `"body"` (default) or
 *   `{ headers_then_body = { separator = ".", headers = ["svix-id",
 *   "svix-timestamp"] } }`, in which case the signed data is the value of each
 *   listed header followed by the separator, then the body (Svix:
 *   `id.timestamp.body`). The expected header value is `signature_prefix`
 *   followed by the MAC in `signature_encoding` (`"hex"`, lower-case, the
 *   default, or `"base64"`). The header may carry several space-separated
 *   signatures (Svix sends `v1,… v1,…` during key rotation); one match is
 *   enough. Every failure is a 401.
 *
 *   Replay protection (not in cdviz-collector): when one of the signed
 *   headers holds the time the request was signed, a request signed more
 *   than `timestamp_tolerance` ago, or that far in the future, is refused
 *   (401), so a captured request cannot be replayed later. The header is
 *   `timestamp_header` (a name from `signature_on.headers_then_body.headers`,
 *   whose value is a Unix time in seconds); when it is not set,
 *   `webhook-timestamp` (Standard Webhooks) or `svix-timestamp` (Svix) is
 *   used if it is among the signed headers. `timestamp_tolerance` is a
 *   duration (`"5m"`, or an integer number of seconds), 300 seconds by
 *   default; 0 turns the check off. A signature over the body alone carries
 *   no time and cannot be protected this way.
 * - `secret`: like `equals` (case-sensitive), for a value that is a secret,
 *   as in cdviz-collector: `value` is the secret itself (in a configuration
 *   file, write `value_file = "path"` to read it from a file, or set it from
 *   the environment with `CDVIZ_COLLECTOR__…`). An empty secret is an error.
 *   `prefix` and `suffix` are accepted as for `equals`. No message ever
 *   shows the secret.
 *
 * Every rule but the MAC of a `signature` needs only the request head, so a
 * caller that reads the body itself can check in two steps:
 * [method@HeaderValidator.check_head] as soon as the headers are in (all
 * `exists`, `equals`, `matches` and `secret` rules, and for `signature`
 * rules the presence of the signature and signed headers and the
 * timestamp), then, only if that passed, [method@HeaderValidator.check_body]
 * once the body is read (the MACs). A request passes both steps exactly when
 * it passes [method@HeaderValidator.check], but the first failure may then
 * be a different rule than in a single check: the head step runs first.
 *
 * All value and signature comparisons run in constant time (see
 * [func@secure_equal]). Secret values, tokens and header values never appear
 * in errors, answers or logs: only header names and outcomes do.
 *
 * The answer to a failed check is the HTTP status and a plain-text message,
 * identical to cdviz-collector's:
 *
 * - `Header validation failed: Header 'X-Api-Key' is missing` (401)
 * - `Header validation failed: Header 'X-Api-Key' has invalid value` (403)
 * - `Header validation failed: Header 'User-Agent' pattern validation failed` (403)
 * - `Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: Signature verification mismatch` (401)
 */

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

struct _CdvizHeaderValidator
{
  GObject parent_instance;

  GPtrArray *rules;       /* Rule*, config order */
  gboolean needs_body;
  gint64 now_for_testing; /* Unix seconds; 0: the real clock */
};

G_DEFINE_FINAL_TYPE (CdvizHeaderValidator, cdviz_header_validator, G_TYPE_OBJECT)

/**
 * cdviz_header_validator_error_quark:
 *
 * The error domain of [enum@HeaderValidatorError], also available as
 * %CDVIZ_HEADER_VALIDATOR_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-header-validator-error-quark, cdviz_header_validator_error)

#define MESSAGE_PREFIX "Header validation failed: "
#define REASON_SIGNATURE_NOT_FOUND "signature not found or readable"
#define REASON_SIGNATURE_MISMATCH "Signature verification mismatch"
#define HMAC_SHA256_LEN 32
#define DEFAULT_TIMESTAMP_TOLERANCE_MS (300 * 1000)
/* Unix seconds, at most 15 digits: far beyond any real date, and no
 * overflow in milliseconds. */
#define MAX_TIMESTAMP_DIGITS 15

static const char *
rule_type_to_string (RuleType type)
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

/* Overwrites @len bytes at @p in a way the compiler may not elide. */
static void
secure_wipe (gpointer p,
             gsize    len)
{
  volatile guint8 *v = p;

  if (p == NULL)
    return;
  while (len--)
    *v++ = 0;
}

static void
rule_free (Rule *rule)
{
  secure_wipe (rule->expected, rule->expected_len);
  g_free (rule->expected);
  secure_wipe (rule->key, rule->key_len);
  g_free (rule->key);
  g_free (rule->name);
  g_free (rule->lname);
  g_clear_pointer (&rule->regex, g_regex_unref);
  g_free (rule->signature_prefix);
  g_free (rule->separator);
  g_strfreev (rule->signed_headers);
  g_free (rule);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rule, rule_free)

static void
cdviz_header_validator_finalize (GObject *object)
{
  CdvizHeaderValidator *self = CDVIZ_HEADER_VALIDATOR (object);

  g_clear_pointer (&self->rules, g_ptr_array_unref);

  G_OBJECT_CLASS (cdviz_header_validator_parent_class)->finalize (object);
}

static void
cdviz_header_validator_class_init (CdvizHeaderValidatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_header_validator_finalize;
}

static void
cdviz_header_validator_init (CdvizHeaderValidator *self)
{
  self->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) rule_free);
}

/* libgcrypt must be told once which version we need before anything else
 * is used. Initialisation proper (secure memory, "finished") belongs to the
 * application; we do not use secure memory. */
static void
ensure_gcrypt (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      if (gcry_check_version (GCRYPT_VERSION) == NULL)
        g_error ("libgcrypt is older than the %s this program was built with",
                 GCRYPT_VERSION);
      g_once_init_leave (&initialised, 1);
    }
}

/* ---------------------------------------------------------------------- */
/* Constant-time helpers                                                    */

/**
 * cdviz_secure_equal:
 * @a: (array length=a_len) (nullable): the value received (untrusted)
 * @a_len: the length of @a in bytes
 * @b: (array length=b_len) (nullable): the expected value (secret)
 * @b_len: the length of @b in bytes
 *
 * Compares two byte strings in constant time with respect to their
 * contents.
 *
 * Every byte of both strings is read, and the loop always runs
 * `MAX (a_len, b_len)` times, whatever the contents and even when the
 * lengths differ: the time taken depends on the lengths only, never on the
 * position of the first difference. Use it for anything secret — tokens,
 * API keys, signatures.
 *
 * Returns: %TRUE if the two strings have the same length and the same bytes
 */
gboolean
cdviz_secure_equal (const guint8 *a,
                    gsize         a_len,
                    const guint8 *b,
                    gsize         b_len)
{
  volatile guint8 diff;
  gsize n = MAX (a_len, b_len);

  g_return_val_if_fail (a != NULL || a_len == 0, FALSE);
  g_return_val_if_fail (b != NULL || b_len == 0, FALSE);

  diff = (guint8) (a_len != b_len);
  for (gsize i = 0; i < n; i++)
    {
      /* The conditions depend on the lengths, not on the contents. */
      guint8 x = i < a_len ? a[i] : 0;
      guint8 y = i < b_len ? b[i] : 0;

      diff |= (guint8) (x ^ y);
    }

  return diff == 0;
}

/* ASCII lower-case without a data-dependent branch. */
static inline guint8
fold_ascii (guint8 c)
{
  guint8 is_upper = (guint8) ((guint8) (c - 'A') < 26);

  return (guint8) (c | (is_upper << 5));
}

static void
fold_ascii_buffer (guint8 *dst,
                   const guint8 *src,
                   gsize         len)
{
  for (gsize i = 0; i < len; i++)
    dst[i] = fold_ascii (src[i]);
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

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_is_boolean (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

static gboolean
check_fields (const char         *header,
              const char         *type_name,
              JsonObject         *obj,
              const char * const *allowed,
              GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *field = l->data;

      if (g_str_equal (field, "type") || g_strv_contains (allowed, field))
        continue;
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': unknown field '%s' for rule type '%s'"),
                   header, field, type_name);
      return FALSE;
    }
  return TRUE;
}

/* Sets *out to the field's string, or to @default_value when the field is
 * absent and not @required. */
static gboolean
get_string_field (const char  *header,
                  const char  *type_name,
                  JsonObject  *obj,
                  const char  *field,
                  gboolean     required,
                  const char  *default_value,
                  const char **out,
                  GError     **error)
{
  JsonNode *node = json_object_get_member (obj, field);

  if (node == NULL)
    {
      if (required)
        {
          g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       _("header '%s': missing field '%s' for rule type '%s'"),
                       header, field, type_name);
          return FALSE;
        }
      *out = default_value;
      return TRUE;
    }
  if (!node_is_string (node))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field '%s' for rule type '%s' must be a string"),
                   header, field, type_name);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_bool_field (const char  *header,
                const char  *type_name,
                JsonObject  *obj,
                const char  *field,
                gboolean     default_value,
                gboolean    *out,
                GError     **error)
{
  JsonNode *node = json_object_get_member (obj, field);

  if (node == NULL)
    {
      *out = default_value;
      return TRUE;
    }
  if (!node_is_boolean (node))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field '%s' for rule type '%s' must be a boolean"),
                   header, field, type_name);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
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

/* Strict hex: even length, hex digits only (either case). */
static guint8 *
decode_hex (const char *text,
            gsize      *out_len)
{
  gsize len = strlen (text);
  g_autofree guint8 *out = NULL;

  if (len % 2 != 0)
    return NULL;
  out = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len; i += 2)
    {
      int hi = g_ascii_xdigit_value (text[i]);
      int lo = g_ascii_xdigit_value (text[i + 1]);

      if (hi < 0 || lo < 0)
        {
          secure_wipe (out, i / 2);
          return NULL;
        }
      out[i / 2] = (guint8) ((hi << 4) | lo);
    }
  *out_len = len / 2;
  return g_steal_pointer (&out);
}

static int
base64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

/* Strict standard base64 with padding (as Rust's base64 STANDARD engine):
 * g_base64_decode() alone silently skips invalid characters. */
static guint8 *
decode_base64 (const char *text,
               gsize      *out_len)
{
  gsize len = strlen (text);
  gsize pad = 0;

  if (len == 0 || len % 4 != 0)
    return NULL;
  if (text[len - 1] == '=')
    pad++;
  if (text[len - 2] == '=')
    pad++;
  for (gsize i = 0; i < len - pad; i++)
    if (base64_value (text[i]) < 0)
      return NULL;
  /* Unused trailing bits must be zero (canonical encoding). */
  if (pad == 1 && (base64_value (text[len - 2]) & 0x03) != 0)
    return NULL;
  if (pad == 2 && (base64_value (text[len - 3]) & 0x0f) != 0)
    return NULL;

  return g_base64_decode (text, out_len);
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
    fold_ascii_buffer (buf, buf, len);
  *out_len = len;
  return buf;
}

static gboolean
parse_equals (Rule        *rule,
              JsonObject  *obj,
              GError     **error)
{
  static const char * const allowed[] = { "value", "case_sensitive", "prefix", "suffix", NULL };
  const char *value, *prefix, *suffix;

  if (!check_fields (rule->name, "equals", obj, allowed, error) ||
      !get_string_field (rule->name, "equals", obj, "value", TRUE, NULL, &value, error) ||
      !get_bool_field (rule->name, "equals", obj, "case_sensitive", TRUE, &rule->case_sensitive, error) ||
      !get_string_field (rule->name, "equals", obj, "prefix", FALSE, "", &prefix, error) ||
      !get_string_field (rule->name, "equals", obj, "suffix", FALSE, "", &suffix, error))
    return FALSE;

  rule->expected = build_expected (prefix, value, suffix, rule->case_sensitive,
                                   &rule->expected_len);
  return TRUE;
}

static gboolean
parse_secret (Rule        *rule,
              JsonObject  *obj,
              GError     **error)
{
  static const char * const allowed[] = { "value", "prefix", "suffix", NULL };
  const char *secret, *prefix, *suffix;

  /* As cdviz-collector: `value` is the secret itself (from the file with
   * `value_file`, from the environment with CDVIZ_COLLECTOR__…). Neither it
   * nor a file's content ever appears in a message. */
  if (!check_fields (rule->name, "secret", obj, allowed, error) ||
      !get_string_field (rule->name, "secret", obj, "value", TRUE, NULL, &secret, error) ||
      !get_string_field (rule->name, "secret", obj, "prefix", FALSE, "", &prefix, error) ||
      !get_string_field (rule->name, "secret", obj, "suffix", FALSE, "", &suffix, error))
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
parse_matches (Rule        *rule,
               JsonObject  *obj,
               GError     **error)
{
  static const char * const allowed[] = { "pattern", NULL };
  const char *pattern;
  g_autoptr(GError) local_error = NULL;

  if (!check_fields (rule->name, "matches", obj, allowed, error) ||
      !get_string_field (rule->name, "matches", obj, "pattern", TRUE, NULL, &pattern, error))
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
  JsonObject *outer, *inner;
  JsonNode *inner_node, *separator, *headers;
  JsonArray *array;
  g_autoptr(GList) members = NULL;
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

  inner = json_node_get_object (inner_node);
  members = json_object_get_members (inner);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *field = l->data;

      if (g_str_equal (field, "separator") || g_str_equal (field, "headers"))
        continue;
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': unknown field '%s' in signature_on.headers_then_body"),
                   rule->name, field);
      return FALSE;
    }

  separator = json_object_get_member (inner, "separator");
  headers = json_object_get_member (inner, "headers");
  if (separator == NULL || headers == NULL)
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': missing field '%s' in signature_on.headers_then_body"),
                   rule->name, separator == NULL ? "separator" : "headers");
      return FALSE;
    }
  if (!node_is_string (separator))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field 'separator' in signature_on.headers_then_body must be a string"),
                   rule->name);
      return FALSE;
    }
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

  rule->separator = g_strdup (json_node_get_string (separator));
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
parse_timestamp (Rule        *rule,
                 JsonObject  *obj,
                 GError     **error)
{
  const char *header;
  JsonNode *tolerance = json_object_get_member (obj, "timestamp_tolerance");

  if (!get_string_field (rule->name, "signature", obj, "timestamp_header", FALSE, NULL,
                         &header, error))
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
  if (JSON_NODE_HOLDS_VALUE (tolerance) && json_node_get_value_type (tolerance) == G_TYPE_INT64 &&
      json_node_get_int (tolerance) >= 0 && json_node_get_int (tolerance) <= G_MAXINT32)
    {
      rule->timestamp_tolerance_ms = (guint64) json_node_get_int (tolerance) * 1000;
      return TRUE;
    }
  if (node_is_string (tolerance) &&
      cdviz_parse_duration (json_node_get_string (tolerance), &rule->timestamp_tolerance_ms) &&
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
parse_signature (Rule        *rule,
                 JsonObject  *obj,
                 GError     **error)
{
  static const char * const allowed[] = {
    "token", "token_encoding", "signature_prefix", "signature_on", "signature_encoding",
    "timestamp_header", "timestamp_tolerance", NULL
  };
  const char *token, *token_encoding, *signature_prefix, *signature_encoding;
  Encoding encoding;

  if (!check_fields (rule->name, "signature", obj, allowed, error) ||
      !get_string_field (rule->name, "signature", obj, "token", TRUE, NULL, &token, error) ||
      !get_string_field (rule->name, "signature", obj, "token_encoding", FALSE, "raw", &token_encoding, error) ||
      !get_string_field (rule->name, "signature", obj, "signature_prefix", FALSE, "", &signature_prefix, error) ||
      !get_string_field (rule->name, "signature", obj, "signature_encoding", FALSE, "hex", &signature_encoding, error) ||
      !parse_encoding (rule->name, "token_encoding", token_encoding, TRUE, &encoding, error) ||
      !parse_encoding (rule->name, "signature_encoding", signature_encoding, FALSE,
                       &rule->signature_encoding, error) ||
      !parse_signature_on (rule, json_object_get_member (obj, "signature_on"), error))
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
      rule->key = decode_hex (token, &rule->key_len);
      break;
    case ENCODING_BASE64:
      rule->key = decode_base64 (token, &rule->key_len);
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
  return parse_timestamp (rule, obj, error);
}

static Rule *
rule_new (const char  *name,
          JsonNode    *node,
          GError     **error)
{
  g_autoptr(Rule) rule = NULL;
  JsonObject *obj;
  JsonNode *type_node;
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
  obj = json_node_get_object (node);
  type_node = json_object_get_member (obj, "type");
  if (type_node == NULL)
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': missing field 'type'"), name);
      return NULL;
    }
  if (!node_is_string (type_node))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header '%s': field 'type' must be a string"), name);
      return NULL;
    }
  type_name = json_node_get_string (type_node);

  rule = g_new0 (Rule, 1);
  rule->name = g_strdup (name);
  rule->lname = g_ascii_strdown (name, -1);

  if (g_str_equal (type_name, "exists"))
    {
      static const char * const allowed[] = { NULL };

      rule->type = RULE_EXISTS;
      ok = check_fields (name, type_name, obj, allowed, error);
    }
  else if (g_str_equal (type_name, "equals"))
    {
      rule->type = RULE_EQUALS;
      ok = parse_equals (rule, obj, error);
    }
  else if (g_str_equal (type_name, "matches"))
    {
      rule->type = RULE_MATCHES;
      ok = parse_matches (rule, obj, error);
    }
  else if (g_str_equal (type_name, "signature"))
    {
      rule->type = RULE_SIGNATURE;
      ok = parse_signature (rule, obj, error);
    }
  else if (g_str_equal (type_name, "secret"))
    {
      rule->type = RULE_SECRET;
      ok = parse_secret (rule, obj, error);
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

/**
 * cdviz_header_validator_new:
 * @rules: (nullable): the rules table: a JSON object mapping each header
 *   name to a rule object with a `type` member, or %NULL for no rules
 * @error: return location for a #GError
 *
 * Builds a validator from a rules table, as found under `headers` in a
 * source's or sink's configuration. See [class@HeaderValidator] for the rule
 * types and their fields.
 *
 * Rules keep the order of @rules' members. Everything that can be checked
 * ahead is checked here: unknown rule types and fields, fields of the wrong
 * type, missing fields, regular expressions (compiled once, here), token
 * encodings, and the environment variables named by `secret` rules (read
 * once, here). A %NULL or empty @rules gives a validator that accepts every
 * request.
 *
 * Returns: (transfer full): a new validator, or %NULL with @error set
 *   (in the %CDVIZ_HEADER_VALIDATOR_ERROR domain)
 */
CdvizHeaderValidator *
cdviz_header_validator_new (JsonNode  *rules,
                            GError   **error)
{
  g_autoptr(CdvizHeaderValidator) self = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (CDVIZ_TYPE_HEADER_VALIDATOR, NULL);
  if (rules == NULL || JSON_NODE_HOLDS_NULL (rules))
    return g_steal_pointer (&self);

  if (!JSON_NODE_HOLDS_OBJECT (rules))
    {
      g_set_error (error, CDVIZ_HEADER_VALIDATOR_ERROR,
                   CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                   _("header rules must be a table mapping header names to rules"));
      return NULL;
    }

  obj = json_node_get_object (rules);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      Rule *rule = rule_new (name, json_object_get_member (obj, name), error);

      if (rule == NULL)
        return NULL;
      if (rule->type == RULE_SIGNATURE)
        {
          ensure_gcrypt ();
          self->needs_body = TRUE;
        }
      g_ptr_array_add (self->rules, rule);
      g_debug ("header rule %u: '%s' (%s)", self->rules->len, rule->name,
               rule_type_to_string (rule->type));
    }

  return g_steal_pointer (&self);
}

/**
 * cdviz_header_validator_is_empty:
 * @self: a #CdvizHeaderValidator
 *
 * Whether the validator has no rules, and therefore accepts every request.
 * Callers can use it to skip collecting headers altogether.
 *
 * Returns: %TRUE if there are no rules
 */
gboolean
cdviz_header_validator_is_empty (CdvizHeaderValidator *self)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), TRUE);

  return self->rules->len == 0;
}

/**
 * cdviz_header_validator_needs_body:
 * @self: a #CdvizHeaderValidator
 *
 * Whether some rule (a `signature`) covers the request body, so that the
 * caller must read the whole body before calling
 * [method@HeaderValidator.check]. When this is %FALSE the body may be
 * passed as %NULL.
 *
 * Returns: %TRUE if the body is needed to check a request
 */
gboolean
cdviz_header_validator_needs_body (CdvizHeaderValidator *self)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), FALSE);

  return self->needs_body;
}

/* ---------------------------------------------------------------------- */
/* Checking                                                                 */

/* Returns the first value of the header with lower-case name @lname, or
 * NULL when absent. */
typedef const char *(*LookupFunc) (gpointer    data,
                                   const char *lname);

static const char *
lookup_hash (gpointer    data,
             const char *lname)
{
  GHashTable *headers = data;

  return headers != NULL ? g_hash_table_lookup (headers, lname) : NULL;
}

/* soup_message_headers_get_one() returns the *last* copy of a repeated
 * header (libsoup 3.2), so walk the headers, which the iterator yields in
 * arrival order for any one name, and stop at the first match. */
static const char *
lookup_soup (gpointer    data,
             const char *lname)
{
  SoupMessageHeaders *headers = data;
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (headers == NULL)
    return NULL;
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      if (g_ascii_strcasecmp (name, lname) == 0)
        return value;
    }
  return NULL;
}

typedef enum {
  OUTCOME_OK,
  OUTCOME_MISSING,
  OUTCOME_INVALID_VALUE,
  OUTCOME_PATTERN_MISMATCH,
  OUTCOME_SIGNATURE,
} Outcome;

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
  fold_ascii_buffer (folded, (const guint8 *) value, len);
  equal = cdviz_secure_equal (folded, len, rule->expected, rule->expected_len);
  secure_wipe (folded, len);
  return equal;
}

static void
encode_hex_lower (char         *dst,
                  const guint8 *src,
                  gsize         len)
{
  static const char digits[] = "0123456789abcdef";

  for (gsize i = 0; i < len; i++)
    {
      dst[2 * i] = digits[src[i] >> 4];
      dst[2 * i + 1] = digits[src[i] & 0x0f];
    }
  dst[2 * len] = '\0';
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
  gcry_mac_hd_t hd = NULL;
  gcry_error_t err;
  guint8 mac[HMAC_SHA256_LEN];
  size_t mac_len = sizeof mac;
  char hex[2 * HMAC_SHA256_LEN + 1];
  g_autofree char *b64 = NULL;
  char *result;

  err = gcry_mac_open (&hd, GCRY_MAC_HMAC_SHA256, 0, NULL);
  if (err == 0)
    err = gcry_mac_setkey (hd, rule->key, rule->key_len);
  if (err != 0)
    {
      g_warning ("HMAC-SHA256 unavailable: %s", gcry_strerror (err));
      if (hd != NULL)
        gcry_mac_close (hd);
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
              gcry_mac_close (hd);
              *reason_owned = g_strdup_printf ("missing header '%s'", rule->signed_headers[i]);
              *reason = *reason_owned;
              return NULL;
            }
          gcry_mac_write (hd, value, strlen (value));
          gcry_mac_write (hd, rule->separator, sep_len);
        }
    }
  if (body != NULL)
    {
      gsize body_len;
      gconstpointer body_data = g_bytes_get_data (body, &body_len);

      if (body_len > 0)
        gcry_mac_write (hd, body_data, body_len);
    }

  err = gcry_mac_read (hd, mac, &mac_len);
  gcry_mac_close (hd);
  if (err != 0 || mac_len != HMAC_SHA256_LEN)
    {
      g_warning ("HMAC-SHA256 failed: %s", gcry_strerror (err));
      *reason = "failed to verify signature";
      return NULL;
    }

  if (rule->signature_encoding == ENCODING_HEX)
    {
      encode_hex_lower (hex, mac, mac_len);
      result = g_strconcat (rule->signature_prefix, hex, NULL);
    }
  else
    {
      b64 = g_base64_encode (mac, mac_len);
      result = g_strconcat (rule->signature_prefix, b64, NULL);
    }
  secure_wipe (mac, sizeof mac);
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

/* What a check covers: the request head (every rule but the MACs), the
 * body (the MACs of signature rules), or both. */
typedef enum {
  PHASE_HEAD = 1 << 0,
  PHASE_BODY = 1 << 1,
  PHASE_ALL = PHASE_HEAD | PHASE_BODY,
} Phase;

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

static Outcome
check_rule (const Rule  *rule,
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
      secure_wipe (expected, strlen (expected));
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

static guint
check_all (CdvizHeaderValidator  *self,
           LookupFunc             lookup,
           gpointer               data,
           GBytes                *body,
           Phase                  phase,
           char                 **message)
{
  gint64 now_ms = self->now_for_testing != 0 ? self->now_for_testing * 1000
                                             : g_get_real_time () / 1000;

  if (message != NULL)
    *message = NULL;

  for (guint i = 0; i < self->rules->len; i++)
    {
      const Rule *rule = g_ptr_array_index (self->rules, i);
      g_autofree char *reason = NULL;
      Outcome outcome = check_rule (rule, lookup, data, body, phase, now_ms, &reason);
      guint status;
      char *text;

      if (outcome == OUTCOME_OK)
        continue;

      /* These strings are protocol, shared with cdviz-collector: not
       * translated. */
      switch (outcome)
        {
        case OUTCOME_MISSING:
          status = SOUP_STATUS_UNAUTHORIZED;
          text = g_strdup_printf (MESSAGE_PREFIX "Header '%s' is missing", rule->name);
          break;
        case OUTCOME_INVALID_VALUE:
          status = SOUP_STATUS_FORBIDDEN;
          text = g_strdup_printf (MESSAGE_PREFIX "Header '%s' has invalid value", rule->name);
          break;
        case OUTCOME_PATTERN_MISMATCH:
          status = SOUP_STATUS_FORBIDDEN;
          text = g_strdup_printf (MESSAGE_PREFIX "Header '%s' pattern validation failed",
                                  rule->name);
          break;
        case OUTCOME_SIGNATURE:
          status = SOUP_STATUS_UNAUTHORIZED;
          text = g_strdup_printf (MESSAGE_PREFIX "Header '%s' signature validation failed: %s",
                                  rule->name, reason);
          break;
        case OUTCOME_OK:
        default:
          g_assert_not_reached ();
        }

      g_debug ("header rule %u ('%s', %s) failed: %u %s", i + 1, rule->name,
               rule_type_to_string (rule->type), status, text + strlen (MESSAGE_PREFIX));
      if (message != NULL)
        *message = text;
      else
        g_free (text);
      return status;
    }

  if (self->rules->len > 0)
    g_debug ("all %u header rules passed%s", self->rules->len,
             phase == PHASE_HEAD ? " (head)" : phase == PHASE_BODY ? " (body)" : "");
  return SOUP_STATUS_OK;
}

/**
 * cdviz_header_validator_check:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable) (element-type utf8 utf8): the request headers, lower-case
 *   name → first value
 * @body: (nullable): the request body, needed when
 *   [method@HeaderValidator.needs_body] says so (%NULL counts as empty)
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * Runs every rule, in order, against a request. The first rule that fails
 * decides the answer, which is meant to be sent as is: the status, and
 * @message as a `text/plain` body.
 *
 * Returns: %SOUP_STATUS_OK (200) if every rule passes, else
 *   %SOUP_STATUS_UNAUTHORIZED (401: missing or empty header, bad signature)
 *   or %SOUP_STATUS_FORBIDDEN (403: wrong value, pattern not matched), with
 *   @message set
 */
guint
cdviz_header_validator_check (CdvizHeaderValidator  *self,
                              GHashTable            *headers,
                              GBytes                *body,
                              char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_hash, headers, body, PHASE_ALL, message);
}

/**
 * cdviz_header_validator_check_soup:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable): the request headers, as libsoup parsed them
 * @body: (nullable): the request body, needed when
 *   [method@HeaderValidator.needs_body] says so (%NULL counts as empty)
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * Like [method@HeaderValidator.check], reading the headers straight from
 * libsoup without copying them. When a header is repeated, its first
 * occurrence is checked (unlike soup_message_headers_get_one(), which may
 * return any of them).
 *
 * Returns: %SOUP_STATUS_OK, %SOUP_STATUS_UNAUTHORIZED or
 *   %SOUP_STATUS_FORBIDDEN, as for [method@HeaderValidator.check]
 */
guint
cdviz_header_validator_check_soup (CdvizHeaderValidator  *self,
                                   SoupMessageHeaders    *headers,
                                   GBytes                *body,
                                   char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_soup, headers, body, PHASE_ALL, message);
}

/**
 * cdviz_header_validator_check_head:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable) (element-type utf8 utf8): the request headers, lower-case
 *   name → first value
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * Runs, in order, everything that needs no body: every `exists`, `equals`,
 * `matches` and `secret` rule, and of each `signature` rule the presence of
 * the signature and of the signed headers, and the timestamp (see
 * [class@HeaderValidator]). Call it as soon as the request head is read, to
 * refuse a request before reading its body; then, if it passed and
 * [method@HeaderValidator.needs_body] says so, call
 * [method@HeaderValidator.check_body] once the body is in.
 *
 * Returns: %SOUP_STATUS_OK, %SOUP_STATUS_UNAUTHORIZED or
 *   %SOUP_STATUS_FORBIDDEN, as for [method@HeaderValidator.check]
 */
guint
cdviz_header_validator_check_head (CdvizHeaderValidator  *self,
                                   GHashTable            *headers,
                                   char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_hash, headers, NULL, PHASE_HEAD, message);
}

/**
 * cdviz_header_validator_check_head_soup:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable): the request headers, as libsoup parsed them
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * [method@HeaderValidator.check_head], reading the headers straight from
 * libsoup (the first occurrence of a repeated header, as
 * [method@HeaderValidator.check_soup]).
 *
 * Returns: %SOUP_STATUS_OK, %SOUP_STATUS_UNAUTHORIZED or
 *   %SOUP_STATUS_FORBIDDEN, as for [method@HeaderValidator.check]
 */
guint
cdviz_header_validator_check_head_soup (CdvizHeaderValidator  *self,
                                        SoupMessageHeaders    *headers,
                                        char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_soup, headers, NULL, PHASE_HEAD, message);
}

/**
 * cdviz_header_validator_check_body:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable) (element-type utf8 utf8): the request headers, lower-case
 *   name → first value
 * @body: (nullable): the request body (%NULL counts as empty)
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * Runs, in order, what [method@HeaderValidator.check_head] left out: the
 * MAC of each `signature` rule over the signed headers and @body. Call it
 * only for a request that passed [method@HeaderValidator.check_head]; the
 * two together accept exactly the requests [method@HeaderValidator.check]
 * accepts (timestamps are checked once, by the head step). With no
 * `signature` rule it accepts everything.
 *
 * Returns: %SOUP_STATUS_OK, or %SOUP_STATUS_UNAUTHORIZED with @message set
 */
guint
cdviz_header_validator_check_body (CdvizHeaderValidator  *self,
                                   GHashTable            *headers,
                                   GBytes                *body,
                                   char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_hash, headers, body, PHASE_BODY, message);
}

/**
 * cdviz_header_validator_check_body_soup:
 * @self: a #CdvizHeaderValidator
 * @headers: (nullable): the request headers, as libsoup parsed them
 * @body: (nullable): the request body (%NULL counts as empty)
 * @message: (out) (optional) (nullable) (transfer full): return location for
 *   the plain-text explanation of a failure, or %NULL
 *
 * [method@HeaderValidator.check_body], reading the headers straight from
 * libsoup.
 *
 * Returns: %SOUP_STATUS_OK, or %SOUP_STATUS_UNAUTHORIZED with @message set
 */
guint
cdviz_header_validator_check_body_soup (CdvizHeaderValidator  *self,
                                        SoupMessageHeaders    *headers,
                                        GBytes                *body,
                                        char                 **message)
{
  g_return_val_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self), SOUP_STATUS_INTERNAL_SERVER_ERROR);

  return check_all (self, lookup_soup, headers, body, PHASE_BODY, message);
}

/* Tests only: checks as if the time were @unix_seconds (0: the real clock).
 * Call before the validator is shared between threads. */
void
_cdviz_header_validator_set_now (CdvizHeaderValidator *self,
                                 gint64                unix_seconds)
{
  g_return_if_fail (CDVIZ_IS_HEADER_VALIDATOR (self));

  self->now_for_testing = unix_seconds;
}
