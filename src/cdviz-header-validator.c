/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-header-validator.h"
#include "cdviz-header-validator-private.h"
#include "cdviz-header-rule-private.h"
#include "cdviz-secure-private.h"

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
  self->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) _cdviz_header_rule_free);
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
 * encodings, and empty `secret` values. A %NULL or empty @rules (an empty
 * table, or the empty array `[]`) gives a validator that accepts every
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
  /* `headers = []`, cdviz-collector's documented empty value, is no rules. */
  if (rules == NULL || JSON_NODE_HOLDS_NULL (rules) ||
      (JSON_NODE_HOLDS_ARRAY (rules) && json_array_get_length (json_node_get_array (rules)) == 0))
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
      Rule *rule = _cdviz_header_rule_new (name, json_object_get_member (obj, name), error);

      if (rule == NULL)
        return NULL;
      if (rule->type == RULE_SIGNATURE)
        {
          _cdviz_secure_init ();
          self->needs_body = TRUE;
        }
      g_ptr_array_add (self->rules, rule);
      g_debug ("header rule %u: '%s' (%s)", self->rules->len, rule->name,
               _cdviz_header_rule_type_to_string (rule->type));
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
      Outcome outcome = _cdviz_header_rule_check (rule, lookup, data, body, phase, now_ms, &reason);
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
               _cdviz_header_rule_type_to_string (rule->type), status, text + strlen (MESSAGE_PREFIX));
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
