/* SPDX-License-Identifier: Apache-2.0 */

#include <string.h>

#include "cdviz-header-validator.h"
#include "cdviz-header-validator-private.h"

#define PYTHON "/usr/bin/python3"

/* Every debug message the validator logs, to check that no secret leaks.
 * Debug and info messages are captured instead of printed; everything else
 * goes to GTest's handler. */
static GString *captured_log;
static GLogFunc gtest_log_handler;

static void
capture_log_handler (const char     *log_domain,
                     GLogLevelFlags  log_level,
                     const char     *message,
                     gpointer        user_data)
{
  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    {
      g_string_append (captured_log, message);
      g_string_append_c (captured_log, '\n');
      return;
    }
  gtest_log_handler (log_domain, log_level, message, user_data);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                  */

static CdvizHeaderValidator *
validator_try (const char  *json,
               GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(JsonNode) node = json_from_string (json, &parse_error);

  g_assert_no_error (parse_error);
  return cdviz_header_validator_new (node, error);
}

static CdvizHeaderValidator *
validator_new (const char *json)
{
  g_autoptr(GError) error = NULL;
  CdvizHeaderValidator *validator = validator_try (json, &error);

  g_assert_no_error (error);
  g_assert_true (CDVIZ_IS_HEADER_VALIDATOR (validator));
  return validator;
}

static void
assert_config_error (const char *json,
                     gint        code,
                     const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizHeaderValidator) validator = validator_try (json, &error);

  g_assert_null (validator);
  g_assert_error (error, CDVIZ_HEADER_VALIDATOR_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
}

static GHashTable *
no_headers (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* NULL-terminated list of name, value pairs; names are lower-cased as the
 * callers of cdviz_header_validator_check() do. */
G_GNUC_NULL_TERMINATED
static GHashTable *
headers_new (const char *first_name,
             ...)
{
  GHashTable *headers = no_headers ();
  const char *name = first_name;
  va_list args;

  va_start (args, first_name);
  while (name != NULL)
    {
      const char *value = va_arg (args, const char *);

      g_hash_table_insert (headers, g_ascii_strdown (name, -1), g_strdup (value));
      name = va_arg (args, const char *);
    }
  va_end (args);
  return headers;
}

static void
assert_check (CdvizHeaderValidator *validator,
              GHashTable           *headers,
              const char           *body,
              guint                 status,
              const char           *message)
{
  g_autoptr(GBytes) bytes = body != NULL ? g_bytes_new (body, strlen (body)) : NULL;
  g_autofree char *got_message = NULL;
  guint got;

  got = cdviz_header_validator_check (validator, headers, bytes, &got_message);
  g_assert_cmpuint (got, ==, status);
  g_assert_cmpstr (got_message, ==, message);

  /* The message is optional. */
  got = cdviz_header_validator_check (validator, headers, bytes, NULL);
  g_assert_cmpuint (got, ==, status);
}

/* The same request, with one header, must give the same result. */
static void
assert_one (CdvizHeaderValidator *validator,
            const char           *name,
            const char           *value,
            guint                 status,
            const char           *message)
{
  g_autoptr(GHashTable) headers = name != NULL ? headers_new (name, value, NULL) : no_headers ();

  assert_check (validator, headers, NULL, status, message);
}

/* HMAC-SHA256 computed by an independent implementation. */
static char *
python_hmac_hex (const char *token,
                 const char *body)
{
  const char *argv[] = {
    PYTHON, "-c",
    "import hmac,hashlib,sys;"
    "sys.stdout.write(hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())",
    token, body, NULL
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int wait_status;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    return NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                &wait_status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (wait_status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (out), ==, 64);
  return g_steal_pointer (&out);
}

/* ---------------------------------------------------------------------- */
/* Empty                                                                    */

static void
test_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizHeaderValidator) none = cdviz_header_validator_new (NULL, &error);
  g_autoptr(CdvizHeaderValidator) empty = validator_new ("{}");
  g_autoptr(GHashTable) headers = headers_new ("x-any", "thing", NULL);
  char *message = (char *) "stale";

  g_assert_no_error (error);
  g_assert_true (cdviz_header_validator_is_empty (none));
  g_assert_false (cdviz_header_validator_needs_body (none));
  g_assert_true (cdviz_header_validator_is_empty (empty));
  g_assert_false (cdviz_header_validator_needs_body (empty));

  assert_check (none, headers, NULL, SOUP_STATUS_OK, NULL);
  assert_check (empty, NULL, NULL, SOUP_STATUS_OK, NULL);

  /* The out message is reset on success. */
  g_assert_cmpuint (cdviz_header_validator_check (none, headers, NULL, &message), ==, SOUP_STATUS_OK);
  g_assert_null (message);
}

/* ---------------------------------------------------------------------- */
/* exists                                                                   */

static void
test_exists (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new ("{\"X-Api-Key\": {\"type\": \"exists\"}}");

  g_assert_false (cdviz_header_validator_is_empty (v));
  g_assert_false (cdviz_header_validator_needs_body (v));
  assert_one (v, "x-api-key", "anything", SOUP_STATUS_OK, NULL);
  assert_one (v, NULL, NULL, SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
  assert_one (v, "x-other", "anything", SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
}

static void
test_exists_empty (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new ("{\"X-Api-Key\": {\"type\": \"exists\"}}");

  assert_one (v, "x-api-key", "", SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
}

/* ---------------------------------------------------------------------- */
/* equals                                                                   */

static void
test_equals (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"X-Api-Key\": {\"type\": \"equals\", \"value\": \"s3cr3t\"}}");

  assert_one (v, "x-api-key", "s3cr3t", SOUP_STATUS_OK, NULL);
  assert_one (v, "x-api-key", "s3cr3T", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Api-Key' has invalid value");
  assert_one (v, "x-api-key", "s3cr3t ", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Api-Key' has invalid value");
  assert_one (v, "x-api-key", "s3cr3", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Api-Key' has invalid value");
  assert_one (v, NULL, NULL, SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
  assert_one (v, "x-api-key", "", SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
}

static void
test_equals_case_sensitive_default (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"Content-Type\": {\"type\": \"equals\", \"value\": \"Application/JSON\"}}");
  g_autoptr(CdvizHeaderValidator) explicit =
    validator_new ("{\"Content-Type\": {\"type\": \"equals\", \"value\": \"Application/JSON\","
                   " \"case_sensitive\": true}}");

  assert_one (v, "content-type", "Application/JSON", SOUP_STATUS_OK, NULL);
  assert_one (v, "content-type", "application/json", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Content-Type' has invalid value");
  assert_one (explicit, "content-type", "application/json", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Content-Type' has invalid value");
}

static void
test_equals_case_insensitive (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"Content-Type\": {\"type\": \"equals\", \"value\": \"Application/JSON\","
                   " \"case_sensitive\": false}}");

  assert_one (v, "content-type", "application/json", SOUP_STATUS_OK, NULL);
  assert_one (v, "content-type", "APPLICATION/JSON", SOUP_STATUS_OK, NULL);
  assert_one (v, "content-type", "Application/JSON", SOUP_STATUS_OK, NULL);
  assert_one (v, "content-type", "application/jsonx", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Content-Type' has invalid value");
  /* Only ASCII letters fold: '@' (0x40) and '`' (0x60) stay different. */
  assert_one (v, "content-type", "application/json@", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Content-Type' has invalid value");
  assert_one (v, "content-type", "text/plain", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Content-Type' has invalid value");
}

static void
test_equals_case_insensitive_long (void)
{
  /* Longer than the scratch buffer on the stack. */
  g_autofree char *expected = g_strnfill (600, 'a');
  g_autofree char *json =
    g_strdup_printf ("{\"X-Long\": {\"type\": \"equals\", \"value\": \"%s\", \"case_sensitive\": false}}",
                     expected);
  g_autofree char *upper = g_ascii_strup (expected, -1);
  g_autoptr(CdvizHeaderValidator) v = validator_new (json);

  assert_one (v, "x-long", upper, SOUP_STATUS_OK, NULL);
  upper[599] = 'B';
  assert_one (v, "x-long", upper, SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Long' has invalid value");
}

static void
test_equals_prefix_suffix (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"Authorization\": {\"type\": \"equals\", \"prefix\": \"Bearer \","
                   " \"value\": \"abc\", \"suffix\": \"!\"}}");
  g_autoptr(CdvizHeaderValidator) bearer =
    validator_new ("{\"Authorization\": {\"type\": \"equals\", \"prefix\": \"Bearer \","
                   " \"value\": \"abc\", \"case_sensitive\": false}}");

  assert_one (v, "authorization", "Bearer abc!", SOUP_STATUS_OK, NULL);
  assert_one (v, "authorization", "abc", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' has invalid value");
  assert_one (v, "authorization", "Bearer abc", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' has invalid value");
  assert_one (v, "authorization", "abc!", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' has invalid value");

  assert_one (bearer, "authorization", "bearer ABC", SOUP_STATUS_OK, NULL);
  assert_one (bearer, "authorization", "Basic abc", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' has invalid value");
}

/* ---------------------------------------------------------------------- */
/* matches                                                                  */

static void
test_matches (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"Authorization\": {\"type\": \"matches\", \"pattern\": \"^Bearer \\\\w+$\"}}");

  assert_one (v, "authorization", "Bearer abc123", SOUP_STATUS_OK, NULL);
  assert_one (v, "authorization", "Basic abc123", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' pattern validation failed");
  assert_one (v, "authorization", "Bearer abc 123", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' pattern validation failed");
  assert_one (v, NULL, NULL, SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'Authorization' is missing");
}

static void
test_matches_unanchored (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"User-Agent\": {\"type\": \"matches\", \"pattern\": \"curl/[0-9]\"}}");

  assert_one (v, "user-agent", "Mozilla/5.0 (compatible) curl/8.1", SOUP_STATUS_OK, NULL);
  assert_one (v, "user-agent", "curl/", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'User-Agent' pattern validation failed");
}

/* ---------------------------------------------------------------------- */
/* secret                                                                   */

#define TEST_SECRET "hunter2-very-secret-value"

static void
test_secret (void)
{
  g_autoptr(CdvizHeaderValidator) v = NULL;
  g_autoptr(CdvizHeaderValidator) bearer = NULL;

  /* As cdviz-collector: the value is the secret itself. */
  v = validator_new ("{\"X-Api-Key\": {\"type\": \"secret\", \"value\": \"" TEST_SECRET "\"}}");
  bearer = validator_new ("{\"Authorization\": {\"type\": \"secret\", \"prefix\": \"Bearer \","
                          " \"value\": \"" TEST_SECRET "\"}}");

  g_assert_false (cdviz_header_validator_needs_body (v));
  assert_one (v, "x-api-key", TEST_SECRET, SOUP_STATUS_OK, NULL);
  assert_one (v, "x-api-key", "Bearer " TEST_SECRET, SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Api-Key' has invalid value");
  /* secret comparisons are case-sensitive. */
  assert_one (v, "x-api-key", "HUNTER2-VERY-SECRET-VALUE", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-Api-Key' has invalid value");
  assert_one (v, NULL, NULL, SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");
  assert_one (v, "x-api-key", "", SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-Api-Key' is missing");

  assert_one (bearer, "authorization", "Bearer " TEST_SECRET, SOUP_STATUS_OK, NULL);
  assert_one (bearer, "authorization", TEST_SECRET, SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'Authorization' has invalid value");
}

static void
test_secret_not_logged (void)
{
  g_autoptr(CdvizHeaderValidator) v = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autofree char *message = NULL;

  g_string_truncate (captured_log, 0);
  v = validator_new ("{\"X-Api-Key\": {\"type\": \"secret\", \"value\": \"" TEST_SECRET "\"},"
                     " \"X-Token\": {\"type\": \"equals\", \"value\": \"plain-token-value\"}}");

  headers = headers_new ("x-api-key", "wrong-sent-value", NULL);
  g_assert_cmpuint (cdviz_header_validator_check (v, headers, NULL, &message), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_null (strstr (message, TEST_SECRET));
  g_assert_null (strstr (message, "wrong-sent-value"));
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-api-key", TEST_SECRET, "x-token", "wrong-token-value", NULL);
  g_assert_cmpuint (cdviz_header_validator_check (v, headers, NULL, &message), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Token' has invalid value");
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-api-key", TEST_SECRET, "x-token", "plain-token-value", NULL);
  g_assert_cmpuint (cdviz_header_validator_check (v, headers, NULL, &message), ==, SOUP_STATUS_OK);

  /* The outcomes were logged, by header name, without any value. */
  g_assert_nonnull (strstr (captured_log->str, "X-Api-Key"));
  g_assert_nonnull (strstr (captured_log->str, "X-Token"));
  g_assert_null (strstr (captured_log->str, TEST_SECRET));
  g_assert_null (strstr (captured_log->str, "wrong-sent-value"));
  g_assert_null (strstr (captured_log->str, "wrong-token-value"));
  g_assert_null (strstr (captured_log->str, "plain-token-value"));
}

/* ---------------------------------------------------------------------- */
/* signature                                                                */

#define GITHUB_TOKEN "mySecretToken"
#define GITHUB_BODY "{\"action\":\"in_progress\",\"workflow_job\":{}}"
#define GITHUB_RULES \
  "{\"X-Hub-Signature-256\": {\"type\": \"signature\", \"token\": \"" GITHUB_TOKEN "\"," \
  " \"signature_prefix\": \"sha256=\"}}"

static void
test_signature_github (void)
{
  g_autofree char *mac = python_hmac_hex (GITHUB_TOKEN, GITHUB_BODY);
  g_autofree char *good = NULL;
  g_autoptr(CdvizHeaderValidator) v = validator_new (GITHUB_RULES);
  g_autoptr(GHashTable) headers = NULL;

  if (mac == NULL)
    {
      g_test_skip (PYTHON " is not available");
      return;
    }
  good = g_strconcat ("sha256=", mac, NULL);

  g_assert_true (cdviz_header_validator_needs_body (v));

  headers = headers_new ("x-hub-signature-256", good, NULL);
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_OK, NULL);

  /* Another body. */
  assert_check (v, headers, GITHUB_BODY " ", SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: "
                "Signature verification mismatch");
  g_clear_pointer (&headers, g_hash_table_unref);

  /* Without the prefix. */
  headers = headers_new ("x-hub-signature-256", mac, NULL);
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: "
                "Signature verification mismatch");
  g_clear_pointer (&headers, g_hash_table_unref);

  /* Upper-case hex is not what cdviz-collector produces. */
  {
    g_autofree char *upper = g_ascii_strup (good, -1);

    memcpy (upper, "sha256=", 7);
    headers = headers_new ("x-hub-signature-256", upper, NULL);
    assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_UNAUTHORIZED,
                  "Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: "
                  "Signature verification mismatch");
    g_clear_pointer (&headers, g_hash_table_unref);
  }

  /* Missing or empty. */
  headers = no_headers ();
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: "
                "signature not found or readable");
  g_clear_pointer (&headers, g_hash_table_unref);
  headers = headers_new ("x-hub-signature-256", "", NULL);
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Hub-Signature-256' signature validation failed: "
                "signature not found or readable");
}

/* The vector from cdviz-collector's own tests (src/security/signature.rs). */
static void
test_signature_upstream_vector (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new (GITHUB_RULES);
  g_autoptr(GHashTable) headers =
    headers_new ("x-hub-signature-256",
                 "sha256=87e3e2d8cd7cb08800390443ccfcf9e287c0c2538467bff9068293ccf98fc264", NULL);

  assert_check (v, headers, "{\"action\":\"in_progress\",\"workflow_job\":{ ... }}",
                SOUP_STATUS_OK, NULL);
}

static void
test_signature_hex_token (void)
{
  /* "mySecretToken" in hex, MAC in base64, no prefix. */
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"X-Signature\": {\"type\": \"signature\", \"token\": \"6D79536563726574546f6b656e\","
                   " \"token_encoding\": \"hex\", \"signature_encoding\": \"base64\","
                   " \"signature_on\": \"body\"}}");
  g_autofree char *mac = python_hmac_hex (GITHUB_TOKEN, GITHUB_BODY);
  guint8 raw[32];
  g_autofree char *b64 = NULL;
  g_autoptr(GHashTable) headers = NULL;

  if (mac == NULL)
    {
      g_test_skip (PYTHON " is not available");
      return;
    }
  for (guint i = 0; i < 32; i++)
    raw[i] = (guint8) (g_ascii_xdigit_value (mac[2 * i]) << 4 | g_ascii_xdigit_value (mac[2 * i + 1]));
  b64 = g_base64_encode (raw, sizeof raw);

  headers = headers_new ("x-signature", b64, NULL);
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_OK, NULL);
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-signature", mac, NULL);
  assert_check (v, headers, GITHUB_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Signature' signature validation failed: "
                "Signature verification mismatch");
}

static void
test_signature_empty_body (void)
{
  g_autofree char *mac = python_hmac_hex (GITHUB_TOKEN, "");
  g_autofree char *good = NULL;
  g_autoptr(CdvizHeaderValidator) v = validator_new (GITHUB_RULES);
  g_autoptr(GHashTable) headers = NULL;

  if (mac == NULL)
    {
      g_test_skip (PYTHON " is not available");
      return;
    }
  good = g_strconcat ("sha256=", mac, NULL);
  headers = headers_new ("x-hub-signature-256", good, NULL);
  /* A NULL body counts as empty. */
  assert_check (v, headers, NULL, SOUP_STATUS_OK, NULL);
  assert_check (v, headers, "", SOUP_STATUS_OK, NULL);
}

#define SVIX_RULES \
  "{\"Svix-Signature\": {\"type\": \"signature\"," \
  " \"token\": \"C2FVsBQIhrscChlQIMV+b5sSYspob7oD\", \"token_encoding\": \"base64\"," \
  " \"signature_prefix\": \"v1,\"," \
  " \"signature_on\": {\"headers_then_body\": {\"separator\": \".\"," \
  "                                           \"headers\": [\"svix-id\", \"Svix-Timestamp\"]}}," \
  " \"signature_encoding\": \"base64\"}}"
#define SVIX_ID "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"
#define SVIX_TIMESTAMP "1649367553"
#define SVIX_BODY "{\"email\":\"test@example.com\",\"username\":\"test_user\"}"
#define SVIX_SIGNATURE "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="

/* Svix's test vector was signed at SVIX_TIMESTAMP: check it at that time,
 * since svix-timestamp is checked against a tolerance. */
static CdvizHeaderValidator *
svix_validator_new (void)
{
  CdvizHeaderValidator *v = validator_new (SVIX_RULES);

  _cdviz_header_validator_set_now (v, g_ascii_strtoll (SVIX_TIMESTAMP, NULL, 10));
  return v;
}

static void
test_signature_svix (void)
{
  g_autoptr(CdvizHeaderValidator) v = svix_validator_new ();
  g_autoptr(GHashTable) headers = NULL;

  g_assert_true (cdviz_header_validator_needs_body (v));

  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", SVIX_SIGNATURE, "x-foo", "bar", NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_OK, NULL);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* A signed header changed. */
  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", "1649367554",
                         "svix-signature", SVIX_SIGNATURE, NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "Signature verification mismatch");
  g_clear_pointer (&headers, g_hash_table_unref);

  /* A signed header missing. */
  headers = headers_new ("svix-timestamp", SVIX_TIMESTAMP, "svix-signature", SVIX_SIGNATURE, NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "missing header 'svix-id'");
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("svix-id", SVIX_ID, "svix-signature", SVIX_SIGNATURE, NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "missing header 'svix-timestamp'");
}

static void
test_signature_several (void)
{
  g_autoptr(CdvizHeaderValidator) v = svix_validator_new ();
  g_autoptr(GHashTable) headers = NULL;

  /* Svix sends one signature per active key, space-separated. */
  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", "v1,Ym9ndXMgc2lnbmF0dXJl " SVIX_SIGNATURE, NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_OK, NULL);
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", SVIX_SIGNATURE "  v1,Ym9ndXMgc2lnbmF0dXJl", NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_OK, NULL);
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", "v1,Ym9ndXMgc2lnbmF0dXJl v1,YW5vdGhlcg==", NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "Signature verification mismatch");
  g_clear_pointer (&headers, g_hash_table_unref);

  /* A space alone is no signature. */
  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", " ", NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "Signature verification mismatch");
}

static void
test_signature_token_not_logged (void)
{
  g_autoptr(CdvizHeaderValidator) v = NULL;
  g_autoptr(GHashTable) headers = NULL;

  g_string_truncate (captured_log, 0);
  v = svix_validator_new ();
  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", "v1,Ym9ndXMgc2lnbmF0dXJl", NULL);
  assert_check (v, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "Signature verification mismatch");
  g_assert_nonnull (strstr (captured_log->str, "Svix-Signature"));
  g_assert_null (strstr (captured_log->str, "C2FVsBQIhrscChlQIMV"));
  g_assert_null (strstr (captured_log->str, "tZ1I4"));
  g_assert_null (strstr (captured_log->str, "Ym9ndXMgc2lnbmF0dXJl"));
  g_assert_null (strstr (captured_log->str, SVIX_ID));
}

/* ---------------------------------------------------------------------- */
/* Order and names                                                          */

static void
test_order (void)
{
  /* Members deliberately not in alphabetical order. */
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"X-Zulu\": {\"type\": \"equals\", \"value\": \"z\"},"
                   " \"X-Alpha\": {\"type\": \"exists\"},"
                   " \"X-Mike\": {\"type\": \"matches\", \"pattern\": \"^m\"}}");
  g_autoptr(GHashTable) headers = NULL;

  /* Everything missing: the first rule answers. */
  headers = no_headers ();
  assert_check (v, headers, NULL, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Zulu' is missing");
  g_clear_pointer (&headers, g_hash_table_unref);

  /* A 403 from the first rule beats a 401 from a later one. */
  headers = headers_new ("x-zulu", "wrong", NULL);
  assert_check (v, headers, NULL, SOUP_STATUS_FORBIDDEN,
                "Header validation failed: Header 'X-Zulu' has invalid value");
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-zulu", "z", "x-mike", "nope", NULL);
  assert_check (v, headers, NULL, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Alpha' is missing");
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-zulu", "z", "x-alpha", "1", "x-mike", "nope", NULL);
  assert_check (v, headers, NULL, SOUP_STATUS_FORBIDDEN,
                "Header validation failed: Header 'X-Mike' pattern validation failed");
  g_clear_pointer (&headers, g_hash_table_unref);

  headers = headers_new ("x-zulu", "z", "x-alpha", "1", "x-mike", "mike", NULL);
  assert_check (v, headers, NULL, SOUP_STATUS_OK, NULL);
}

static void
test_names_case_insensitive (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"X-API-Key\": {\"type\": \"equals\", \"value\": \"k\"}}");

  /* Looked up lower-case, reported as configured. */
  assert_one (v, "X-Api-KEY", "k", SOUP_STATUS_OK, NULL);
  assert_one (v, "x-api-key", "k", SOUP_STATUS_OK, NULL);
  assert_one (v, "x-api-key", "K", SOUP_STATUS_FORBIDDEN,
              "Header validation failed: Header 'X-API-Key' has invalid value");
  assert_one (v, NULL, NULL, SOUP_STATUS_UNAUTHORIZED,
              "Header validation failed: Header 'X-API-Key' is missing");
}

/* ---------------------------------------------------------------------- */
/* libsoup                                                                  */

static guint
check_soup (CdvizHeaderValidator  *v,
            SoupMessageHeaders    *headers,
            const char            *body,
            char                 **message)
{
  g_autoptr(GBytes) bytes = body != NULL ? g_bytes_new (body, strlen (body)) : NULL;

  return cdviz_header_validator_check_soup (v, headers, bytes, message);
}

static void
test_soup_repeated_header (void)
{
  g_autoptr(CdvizHeaderValidator) v =
    validator_new ("{\"X-Api-Key\": {\"type\": \"equals\", \"value\": \"good\"},"
                   " \"Authorization\": {\"type\": \"equals\", \"value\": \"Bearer good\"}}");
  SoupMessageHeaders *headers;
  g_autofree char *message = NULL;

  /* First value good, later ones bad: accepted (an uncommon header and a
   * header libsoup stores in its common table). */
  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_append (headers, "X-Api-Key", "good");
  soup_message_headers_append (headers, "x-api-key", "bad");
  soup_message_headers_append (headers, "Authorization", "Bearer good");
  soup_message_headers_append (headers, "authorization", "Bearer bad");
  g_assert_cmpuint (check_soup (v, headers, NULL, &message), ==, SOUP_STATUS_OK);
  g_assert_null (message);
  soup_message_headers_unref (headers);

  /* First value bad, a later one good: refused. */
  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_append (headers, "X-API-KEY", "bad");
  soup_message_headers_append (headers, "X-Api-Key", "good");
  soup_message_headers_append (headers, "Authorization", "Bearer good");
  g_assert_cmpuint (check_soup (v, headers, NULL, &message), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' has invalid value");
  g_clear_pointer (&message, g_free);
  soup_message_headers_unref (headers);

  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_append (headers, "X-Api-Key", "good");
  soup_message_headers_append (headers, "Authorization", "Bearer bad");
  soup_message_headers_append (headers, "Authorization", "Bearer good");
  g_assert_cmpuint (check_soup (v, headers, NULL, &message), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'Authorization' has invalid value");
  g_clear_pointer (&message, g_free);
  soup_message_headers_unref (headers);

  /* Missing. */
  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_assert_cmpuint (check_soup (v, headers, NULL, &message), ==, SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' is missing");
  g_clear_pointer (&message, g_free);
  soup_message_headers_unref (headers);

  g_assert_cmpuint (check_soup (v, NULL, NULL, &message), ==, SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' is missing");
}

static void
test_soup_signature (void)
{
  g_autoptr(CdvizHeaderValidator) v = svix_validator_new ();
  SoupMessageHeaders *headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree char *message = NULL;

  soup_message_headers_append (headers, "SVIX-ID", SVIX_ID);
  soup_message_headers_append (headers, "Svix-Timestamp", SVIX_TIMESTAMP);
  soup_message_headers_append (headers, "svix-signature", SVIX_SIGNATURE);
  soup_message_headers_append (headers, "Svix-Id", "msg_other");
  g_assert_cmpuint (check_soup (v, headers, SVIX_BODY, &message), ==, SOUP_STATUS_OK);
  g_assert_null (message);
  soup_message_headers_unref (headers);
}

/* ---------------------------------------------------------------------- */
/* Configuration errors                                                     */

static void
test_config_unknown_type (void)
{
  assert_config_error ("{\"X-A\": {\"type\": \"regex\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': unknown rule type 'regex' (expected exists, equals, matches, signature or secret)");
  assert_config_error ("{\"X-A\": {\"value\": \"v\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': missing field 'type'");
  assert_config_error ("{\"X-A\": {\"type\": 1}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': field 'type' must be a string");
}

static void
test_config_unknown_field (void)
{
  assert_config_error ("{\"X-Api-Key\": {\"type\": \"equals\", \"valeu\": \"v\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Api-Key': unknown field 'valeu' for rule type 'equals'");
  assert_config_error ("{\"X-Api-Key\": {\"type\": \"exists\", \"value\": \"v\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Api-Key': unknown field 'value' for rule type 'exists'");
  assert_config_error ("{\"X-Api-Key\": {\"type\": \"matches\", \"pattern\": \"a\", \"case_sensitive\": false}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Api-Key': unknown field 'case_sensitive' for rule type 'matches'");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"prefix\": \"sha256=\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': unknown field 'prefix' for rule type 'signature'");
}

static void
test_config_missing_field (void)
{
  assert_config_error ("{\"X-A\": {\"type\": \"equals\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': missing field 'value' for rule type 'equals'");
  assert_config_error ("{\"X-A\": {\"type\": \"matches\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': missing field 'pattern' for rule type 'matches'");
  assert_config_error ("{\"X-A\": {\"type\": \"signature\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': missing field 'token' for rule type 'signature'");
  assert_config_error ("{\"X-A\": {\"type\": \"secret\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': missing field 'value' for rule type 'secret'");
}

static void
test_config_wrong_type (void)
{
  assert_config_error ("{\"X-A\": {\"type\": \"equals\", \"value\": 42}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': field 'value' for rule type 'equals' must be a string");
  assert_config_error ("{\"X-A\": {\"type\": \"equals\", \"value\": \"v\", \"case_sensitive\": \"no\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': field 'case_sensitive' for rule type 'equals' must be a boolean");
  assert_config_error ("{\"X-A\": {\"type\": \"signature\", \"token\": [\"t\"]}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': field 'token' for rule type 'signature' must be a string");
  assert_config_error ("{\"X-A\": \"exists\"}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': rule must be a table with a 'type' field");
  assert_config_error ("[{\"X-A\": {\"type\": \"exists\"}}]",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header rules must be a table mapping header names to rules");
  assert_config_error ("{\"X A\": {\"type\": \"exists\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "invalid header name 'X A' in header rules");
}

static void
test_config_bad_regex (void)
{
  g_autoptr(GError) regex_error = NULL;
  g_autoptr(GRegex) regex = g_regex_new ("^Bearer ([a-z", G_REGEX_OPTIMIZE, 0, &regex_error);
  g_autofree char *expected = NULL;

  g_assert_null (regex);
  g_assert_nonnull (regex_error);
  expected = g_strdup_printf ("header 'Authorization': invalid pattern '^Bearer ([a-z': %s",
                              regex_error->message);
  assert_config_error ("{\"Authorization\": {\"type\": \"matches\", \"pattern\": \"^Bearer ([a-z\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE, expected);
}

static void
test_config_bad_token (void)
{
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"zz\", \"token_encoding\": \"hex\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid hex");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"abc\", \"token_encoding\": \"hex\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid hex");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"not base64!\", \"token_encoding\": \"base64\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid base64");
  /* Missing padding. */
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"YWJjZA\", \"token_encoding\": \"base64\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid base64");
  /* Non-zero trailing bits. */
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"YWJjZB==\", \"token_encoding\": \"base64\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid base64");
  /* Padding in the middle. */
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"YW=jZA==\", \"token_encoding\": \"base64\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' is not valid base64");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'token' for rule type 'signature' must not be empty");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"token_encoding\": \"rot13\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': invalid value 'rot13' for field 'token_encoding' (expected 'raw', 'hex' or 'base64')");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_encoding\": \"raw\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': invalid value 'raw' for field 'signature_encoding' (expected 'hex' or 'base64')");
}

static void
test_config_bad_signature_on (void)
{
  static const char *expected =
    "header 'X-Sig': field 'signature_on' for rule type 'signature' must be "
    "\"body\" or { headers_then_body = { separator = \"…\", headers = [\"…\"] } }";

  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_on\": \"headers\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE, expected);
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_on\": {\"body\": {}}}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE, expected);
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_on\":"
                       " {\"headers_then_body\": {\"separator\": \".\", \"headers\": [], \"order\": 1}}}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': unknown field 'order' in signature_on.headers_then_body");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_on\":"
                       " {\"headers_then_body\": {\"headers\": [\"a\"]}}}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': missing field 'separator' in signature_on.headers_then_body");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\", \"signature_on\":"
                       " {\"headers_then_body\": {\"separator\": \".\", \"headers\": \"a\"}}}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'headers' in signature_on.headers_then_body must be an array of header names");
}

static void
test_config_empty_secret (void)
{
  assert_config_error ("{\"Authorization\": {\"type\": \"secret\", \"value\": \"\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_MISSING_SECRET,
                       "header 'Authorization': the secret (value) is empty");
}

/* ---------------------------------------------------------------------- */
/* cdviz_secure_equal()                                                     */

static gboolean
secure_equal_str (const char *a,
                  const char *b)
{
  return cdviz_secure_equal ((const guint8 *) a, strlen (a), (const guint8 *) b, strlen (b));
}

static void
test_secure_equal (void)
{
  g_assert_true (secure_equal_str ("secret", "secret"));
  g_assert_true (secure_equal_str ("", ""));
  g_assert_true (cdviz_secure_equal (NULL, 0, NULL, 0));

  /* First byte, last byte. */
  g_assert_false (secure_equal_str ("Xecret", "secret"));
  g_assert_false (secure_equal_str ("secreX", "secret"));

  /* Length, both ways, including a prefix and the empty string. */
  g_assert_false (secure_equal_str ("secret", "secret!"));
  g_assert_false (secure_equal_str ("secret!", "secret"));
  g_assert_false (secure_equal_str ("", "secret"));
  g_assert_false (secure_equal_str ("secret", ""));

  /* Embedded NUL bytes are compared like any other byte. */
  g_assert_true (cdviz_secure_equal ((const guint8 *) "a\0b", 3, (const guint8 *) "a\0b", 3));
  g_assert_false (cdviz_secure_equal ((const guint8 *) "a\0b", 3, (const guint8 *) "a\0c", 3));
  g_assert_false (cdviz_secure_equal ((const guint8 *) "ab", 2, (const guint8 *) "ab\0", 3));
}

/* ---------------------------------------------------------------------- */
/* Head, then body                                                          */

/* Standard Webhooks (https://www.standardwebhooks.com/): the key is
 * "whsec_" + base64; the signature is "v1," + base64 (HMAC-SHA256 of
 * "id.timestamp.body"). */
#define SW_KEY_B64 "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_RULES_WITH(extra) \
  "{\"webhook-signature\": {\"type\": \"signature\"," \
  " \"token\": \"" SW_KEY_B64 "\", \"token_encoding\": \"base64\"," \
  " \"signature_prefix\": \"v1,\", \"signature_encoding\": \"base64\"," \
  " \"signature_on\": {\"headers_then_body\": {\"separator\": \".\"," \
  "                    \"headers\": [\"webhook-id\", \"webhook-timestamp\"]}}" extra "}," \
  " \"X-Api-Key\": {\"type\": \"equals\", \"value\": \"k3y\"}}"
#define SW_RULES SW_RULES_WITH ("")
#define SW_ID "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define SW_BODY "{\"type\":\"dev.cdevents.build.started.0.2.0\"}"

/* Signs like a Standard Webhooks sender, with GLib's HMAC (independent of
 * the validator's libgcrypt). */
static char *
sw_sign (const char *id,
         gint64      timestamp,
         const char *body)
{
  gsize key_len;
  g_autofree guchar *key = g_base64_decode (SW_KEY_B64, &key_len);
  g_autofree char *data = g_strdup_printf ("%s.%" G_GINT64_FORMAT ".%s", id, timestamp, body);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  guint8 mac[32];
  gsize mac_len = sizeof mac;
  g_autofree char *b64 = NULL;

  g_hmac_update (hmac, (const guchar *) data, -1);
  g_hmac_get_digest (hmac, mac, &mac_len);
  b64 = g_base64_encode (mac, mac_len);
  return g_strconcat ("v1,", b64, NULL);
}

static GHashTable *
sw_headers (gint64      timestamp,
            const char *signature,
            const char *api_key)
{
  g_autofree char *ts = g_strdup_printf ("%" G_GINT64_FORMAT, timestamp);
  GHashTable *headers = headers_new ("webhook-id", SW_ID, "webhook-timestamp", ts, NULL);

  if (signature != NULL)
    g_hash_table_insert (headers, g_strdup ("webhook-signature"), g_strdup (signature));
  if (api_key != NULL)
    g_hash_table_insert (headers, g_strdup ("x-api-key"), g_strdup (api_key));
  return headers;
}

/* Checks in two steps as a server reading the body itself does, and that
 * the two steps accept exactly what one check accepts. Returns the status
 * of the first failing step (the head one fails first). */
static guint
check_split (CdvizHeaderValidator  *v,
             GHashTable            *headers,
             const char            *body,
             gboolean              *failed_on_head,
             char                 **message)
{
  g_autoptr(GBytes) bytes = body != NULL ? g_bytes_new (body, strlen (body)) : NULL;
  guint head, all, status;

  all = cdviz_header_validator_check (v, headers, bytes, NULL);
  head = cdviz_header_validator_check_head (v, headers, message);
  *failed_on_head = head != SOUP_STATUS_OK;
  if (head != SOUP_STATUS_OK)
    status = head;
  else
    status = cdviz_header_validator_check_body (v, headers, bytes, message);
  g_assert_cmpuint (status == SOUP_STATUS_OK, ==, all == SOUP_STATUS_OK);
  return status;
}

static void
test_split_signature_and_equals (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new (SW_RULES);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *good = sw_sign (SW_ID, now, SW_BODY);
  g_autofree char *message = NULL;
  g_autoptr(GHashTable) headers = NULL;
  gboolean on_head;

  g_assert_true (cdviz_header_validator_needs_body (v));

  /* Everything right. */
  headers = sw_headers (now, good, "k3y");
  g_assert_cmpuint (check_split (v, headers, SW_BODY, &on_head, &message), ==, SOUP_STATUS_OK);
  g_assert_null (message);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* No API key: refused by the head alone, without a body, even though the
   * signature rule comes first. */
  headers = sw_headers (now, good, NULL);
  g_assert_cmpuint (cdviz_header_validator_check_head (v, headers, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' is missing");
  g_clear_pointer (&message, g_free);
  g_assert_cmpuint (check_split (v, headers, SW_BODY, &on_head, NULL), ==, SOUP_STATUS_UNAUTHORIZED);
  g_assert_true (on_head);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* Wrong API key: 403 from the head. */
  headers = sw_headers (now, good, "nope");
  g_assert_cmpuint (check_split (v, headers, SW_BODY, &on_head, &message), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_true (on_head);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' has invalid value");
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* No signature at all: the head says so. */
  headers = sw_headers (now, NULL, "k3y");
  g_assert_cmpuint (check_split (v, headers, SW_BODY, &on_head, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_true (on_head);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'webhook-signature' signature "
                   "validation failed: signature not found or readable");
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* A signed header missing: the head says so. */
  headers = sw_headers (now, good, "k3y");
  g_hash_table_remove (headers, "webhook-id");
  g_assert_cmpuint (check_split (v, headers, SW_BODY, &on_head, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_true (on_head);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'webhook-signature' signature "
                   "validation failed: missing header 'webhook-id'");
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);

  /* Credentials right, body tampered with: only the body step sees it. */
  headers = sw_headers (now, good, "k3y");
  g_assert_cmpuint (check_split (v, headers, SW_BODY " ", &on_head, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_false (on_head);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'webhook-signature' signature "
                   "validation failed: Signature verification mismatch");
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&headers, g_hash_table_unref);
}

static void
test_split_body_checks_only_macs (void)
{
  g_autoptr(CdvizHeaderValidator) plain =
    validator_new ("{\"X-A\": {\"type\": \"exists\"}, \"X-B\": {\"type\": \"matches\", \"pattern\": \"^b$\"}}");
  g_autoptr(CdvizHeaderValidator) v = validator_new (SW_RULES);
  g_autoptr(GHashTable) none = no_headers ();
  g_autofree char *message = NULL;

  /* Without signature rules, the head step is the whole check and the
   * body step has nothing to do. */
  g_assert_false (cdviz_header_validator_needs_body (plain));
  g_assert_cmpuint (cdviz_header_validator_check_head (plain, none, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-A' is missing");
  g_clear_pointer (&message, g_free);
  g_assert_cmpuint (cdviz_header_validator_check_body (plain, none, NULL, &message), ==, SOUP_STATUS_OK);
  g_assert_null (message);

  /* The body step does not repeat the other rules. */
  {
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;
    g_autofree char *good = sw_sign (SW_ID, now, SW_BODY);
    g_autoptr(GHashTable) headers = sw_headers (now, good, NULL);
    g_autoptr(GBytes) body = g_bytes_new_static (SW_BODY, strlen (SW_BODY));

    g_assert_cmpuint (cdviz_header_validator_check_body (v, headers, body, NULL), ==, SOUP_STATUS_OK);
  }
}

static void
test_split_soup (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new (SW_RULES);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *good = sw_sign (SW_ID, now, SW_BODY);
  g_autofree char *ts = g_strdup_printf ("%" G_GINT64_FORMAT, now);
  g_autoptr(GBytes) body = g_bytes_new_static (SW_BODY, strlen (SW_BODY));
  g_autofree char *message = NULL;
  SoupMessageHeaders *headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);

  soup_message_headers_append (headers, "Webhook-Id", SW_ID);
  soup_message_headers_append (headers, "Webhook-Timestamp", ts);
  soup_message_headers_append (headers, "Webhook-Signature", good);
  g_assert_cmpuint (cdviz_header_validator_check_head_soup (v, headers, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'X-Api-Key' is missing");
  g_clear_pointer (&message, g_free);

  soup_message_headers_append (headers, "X-Api-Key", "k3y");
  g_assert_cmpuint (cdviz_header_validator_check_head_soup (v, headers, &message), ==, SOUP_STATUS_OK);
  g_assert_cmpuint (cdviz_header_validator_check_body_soup (v, headers, body, &message), ==,
                    SOUP_STATUS_OK);
  g_assert_null (message);
  g_clear_pointer (&body, g_bytes_unref);
  body = g_bytes_new_static ("{}", 2);
  g_assert_cmpuint (cdviz_header_validator_check_body_soup (v, headers, body, &message), ==,
                    SOUP_STATUS_UNAUTHORIZED);
  g_assert_cmpstr (message, ==, "Header validation failed: Header 'webhook-signature' signature "
                   "validation failed: Signature verification mismatch");
  soup_message_headers_unref (headers);
}

/* ---------------------------------------------------------------------- */
/* Timestamps                                                               */

static void
assert_timestamp (CdvizHeaderValidator *v,
                  gint64                now,
                  gint64                timestamp,
                  guint                 status,
                  const char           *reason)
{
  g_autofree char *signature = sw_sign (SW_ID, timestamp, SW_BODY);
  g_autoptr(GHashTable) headers = sw_headers (timestamp, signature, "k3y");
  g_autofree char *message = NULL;
  g_autofree char *expected = NULL;

  _cdviz_header_validator_set_now (v, now);
  if (reason != NULL)
    expected = g_strconcat ("Header validation failed: Header 'webhook-signature' signature "
                            "validation failed: ", reason, NULL);
  /* The head step refuses a stale request before its body is read. */
  g_assert_cmpuint (cdviz_header_validator_check_head (v, headers, &message), ==, status);
  g_assert_cmpstr (message, ==, expected);
  assert_check (v, headers, SW_BODY, status, expected);
}

static void
test_timestamp_standard_webhooks (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new (SW_RULES);
  const gint64 now = 1767225600; /* 2026-01-01T00:00:00Z */

  assert_timestamp (v, now, now, SOUP_STATUS_OK, NULL);
  assert_timestamp (v, now, now - 300, SOUP_STATUS_OK, NULL);
  assert_timestamp (v, now, now + 300, SOUP_STATUS_OK, NULL);
  assert_timestamp (v, now, now - 301, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too old (tolerance 300 s)");
  assert_timestamp (v, now, now - 86400 * 365, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too old (tolerance 300 s)");
  assert_timestamp (v, now, now + 301, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too far in the future (tolerance 300 s)");
  assert_timestamp (v, now, 0, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too old (tolerance 300 s)");

  /* With the real clock. */
  _cdviz_header_validator_set_now (v, 0);
  {
    gint64 real = g_get_real_time () / G_USEC_PER_SEC;
    g_autofree char *fresh = sw_sign (SW_ID, real, SW_BODY);
    g_autofree char *stale = sw_sign (SW_ID, real - 3600, SW_BODY);
    g_autoptr(GHashTable) ok = sw_headers (real, fresh, "k3y");
    g_autoptr(GHashTable) replayed = sw_headers (real - 3600, stale, "k3y");

    assert_check (v, ok, SW_BODY, SOUP_STATUS_OK, NULL);
    assert_check (v, replayed, SW_BODY, SOUP_STATUS_UNAUTHORIZED,
                  "Header validation failed: Header 'webhook-signature' signature validation failed: "
                  "timestamp in header 'webhook-timestamp' is too old (tolerance 300 s)");
  }
}

static void
test_timestamp_invalid (void)
{
  g_autoptr(CdvizHeaderValidator) v = validator_new (SW_RULES);
  const char * const bad[] = { "", "abc", "-5", "+1767225600", "1767225600.5", " 1767225600",
                               "1767225600 ", "0x1", "1234567890123456", NULL };

  _cdviz_header_validator_set_now (v, 1767225600);
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GHashTable) headers = sw_headers (0, "v1,AAAA", "k3y");
      g_autofree char *message = NULL;

      g_hash_table_insert (headers, g_strdup ("webhook-timestamp"), g_strdup (bad[i]));
      g_assert_cmpuint (cdviz_header_validator_check_head (v, headers, &message), ==,
                        SOUP_STATUS_UNAUTHORIZED);
      g_assert_cmpstr (message, ==, "Header validation failed: Header 'webhook-signature' signature "
                       "validation failed: invalid timestamp in header 'webhook-timestamp' "
                       "(expected Unix seconds)");
    }
}

static void
test_timestamp_tolerance (void)
{
  g_autoptr(CdvizHeaderValidator) off = validator_new (SW_RULES_WITH (", \"timestamp_tolerance\": 0"));
  g_autoptr(CdvizHeaderValidator) ten = validator_new (SW_RULES_WITH (", \"timestamp_tolerance\": \"10m\""));
  g_autoptr(CdvizHeaderValidator) secs = validator_new (SW_RULES_WITH (", \"timestamp_tolerance\": 5"));
  const gint64 now = 1767225600;

  /* 0 turns the check off (as cdviz-collector, which has none). */
  assert_timestamp (off, now, 1649367553, SOUP_STATUS_OK, NULL);
  assert_timestamp (off, now, now + 86400, SOUP_STATUS_OK, NULL);

  assert_timestamp (ten, now, now - 600, SOUP_STATUS_OK, NULL);
  assert_timestamp (ten, now, now - 601, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too old (tolerance 600 s)");

  assert_timestamp (secs, now, now + 5, SOUP_STATUS_OK, NULL);
  assert_timestamp (secs, now, now + 6, SOUP_STATUS_UNAUTHORIZED,
                    "timestamp in header 'webhook-timestamp' is too far in the future (tolerance 5 s)");
}

static void
test_timestamp_svix_and_custom_header (void)
{
  g_autoptr(CdvizHeaderValidator) svix = svix_validator_new ();
  g_autoptr(CdvizHeaderValidator) custom = NULL;
  g_autoptr(CdvizHeaderValidator) unprotected = NULL;
  g_autoptr(GHashTable) headers = NULL;

  /* svix-timestamp is found without configuration. */
  headers = headers_new ("svix-id", SVIX_ID, "svix-timestamp", SVIX_TIMESTAMP,
                         "svix-signature", SVIX_SIGNATURE, NULL);
  assert_check (svix, headers, SVIX_BODY, SOUP_STATUS_OK, NULL);
  _cdviz_header_validator_set_now (svix, g_ascii_strtoll (SVIX_TIMESTAMP, NULL, 10) + 301);
  assert_check (svix, headers, SVIX_BODY, SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'Svix-Signature' signature validation failed: "
                "timestamp in header 'svix-timestamp' is too old (tolerance 300 s)");

  /* Any signed header can be named; its case does not matter. */
  custom = validator_new ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                          " \"signature_on\": {\"headers_then_body\": {\"separator\": \":\","
                          "                    \"headers\": [\"X-Request-Time\"]}},"
                          " \"timestamp_header\": \"x-request-TIME\", \"timestamp_tolerance\": 60}}");
  g_clear_pointer (&headers, g_hash_table_unref);
  headers = headers_new ("x-request-time", "1767225000", "x-sig", "whatever", NULL);
  _cdviz_header_validator_set_now (custom, 1767225600);
  assert_check (custom, headers, "{}", SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Sig' signature validation failed: "
                "timestamp in header 'x-request-time' is too old (tolerance 60 s)");

  /* Other signed headers carry no time: nothing is checked. */
  unprotected = validator_new ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                               " \"signature_on\": {\"headers_then_body\": {\"separator\": \":\","
                               "                    \"headers\": [\"X-Request-Time\"]}}}}");
  _cdviz_header_validator_set_now (unprotected, 1767225600);
  assert_check (unprotected, headers, "{}", SOUP_STATUS_UNAUTHORIZED,
                "Header validation failed: Header 'X-Sig' signature validation failed: "
                "Signature verification mismatch");
}

static void
test_config_timestamp (void)
{
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                       " \"timestamp_header\": \"X-Time\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'timestamp_header' ('X-Time') must be one of the "
                       "headers of signature_on.headers_then_body, so that it is signed");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                       " \"signature_on\": {\"headers_then_body\": {\"separator\": \".\", \"headers\": [\"a\"]}},"
                       " \"timestamp_header\": \"X-Time\"}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'timestamp_header' ('X-Time') must be one of the "
                       "headers of signature_on.headers_then_body, so that it is signed");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                       " \"timestamp_tolerance\": 60}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'timestamp_tolerance' needs a signed timestamp header "
                       "(set 'timestamp_header' to one of signature_on.headers_then_body.headers)");
  assert_config_error ("{\"X-Sig\": {\"type\": \"signature\", \"token\": \"t\","
                       " \"timestamp_header\": 5}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-Sig': field 'timestamp_header' for rule type 'signature' must be a string");
  assert_config_error (SW_RULES_WITH (", \"timestamp_tolerance\": -1"),
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'webhook-signature': field 'timestamp_tolerance' must be a duration "
                       "such as \"5m\" or a number of seconds (0 turns the check off)");
  assert_config_error (SW_RULES_WITH (", \"timestamp_tolerance\": \"soon\""),
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'webhook-signature': field 'timestamp_tolerance' must be a duration "
                       "such as \"5m\" or a number of seconds (0 turns the check off)");
  assert_config_error (SW_RULES_WITH (", \"timestamp_tolerance\": true"),
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'webhook-signature': field 'timestamp_tolerance' must be a duration "
                       "such as \"5m\" or a number of seconds (0 turns the check off)");
  /* Only the rule types that take them. */
  assert_config_error ("{\"X-A\": {\"type\": \"exists\", \"timestamp_tolerance\": 60}}",
                       CDVIZ_HEADER_VALIDATOR_ERROR_INVALID_RULE,
                       "header 'X-A': unknown field 'timestamp_tolerance' for rule type 'exists'");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  captured_log = g_string_new (NULL);
  gtest_log_handler = g_log_set_default_handler (capture_log_handler, NULL);

  g_test_add_func ("/header-validator/empty", test_empty);
  g_test_add_func ("/header-validator/exists/present-or-missing", test_exists);
  g_test_add_func ("/header-validator/exists/empty", test_exists_empty);
  g_test_add_func ("/header-validator/equals/basic", test_equals);
  g_test_add_func ("/header-validator/equals/case-sensitive-default", test_equals_case_sensitive_default);
  g_test_add_func ("/header-validator/equals/case-insensitive", test_equals_case_insensitive);
  g_test_add_func ("/header-validator/equals/case-insensitive-long", test_equals_case_insensitive_long);
  g_test_add_func ("/header-validator/equals/prefix-suffix", test_equals_prefix_suffix);
  g_test_add_func ("/header-validator/matches/basic", test_matches);
  g_test_add_func ("/header-validator/matches/unanchored", test_matches_unanchored);
  g_test_add_func ("/header-validator/secret/basic", test_secret);
  g_test_add_func ("/header-validator/secret/not-logged", test_secret_not_logged);
  g_test_add_func ("/header-validator/signature/github", test_signature_github);
  g_test_add_func ("/header-validator/signature/upstream-vector", test_signature_upstream_vector);
  g_test_add_func ("/header-validator/signature/hex-token", test_signature_hex_token);
  g_test_add_func ("/header-validator/signature/empty-body", test_signature_empty_body);
  g_test_add_func ("/header-validator/signature/svix", test_signature_svix);
  g_test_add_func ("/header-validator/signature/several", test_signature_several);
  g_test_add_func ("/header-validator/signature/token-not-logged", test_signature_token_not_logged);
  g_test_add_func ("/header-validator/order/first-failure-decides", test_order);
  g_test_add_func ("/header-validator/names/case-insensitive", test_names_case_insensitive);
  g_test_add_func ("/header-validator/soup/repeated-header", test_soup_repeated_header);
  g_test_add_func ("/header-validator/soup/signature", test_soup_signature);
  g_test_add_func ("/header-validator/config/unknown-type", test_config_unknown_type);
  g_test_add_func ("/header-validator/config/unknown-field", test_config_unknown_field);
  g_test_add_func ("/header-validator/config/missing-field", test_config_missing_field);
  g_test_add_func ("/header-validator/config/wrong-type", test_config_wrong_type);
  g_test_add_func ("/header-validator/config/bad-regex", test_config_bad_regex);
  g_test_add_func ("/header-validator/config/bad-token", test_config_bad_token);
  g_test_add_func ("/header-validator/config/bad-signature-on", test_config_bad_signature_on);
  g_test_add_func ("/header-validator/config/empty-secret", test_config_empty_secret);
  g_test_add_func ("/header-validator/secure-equal", test_secure_equal);
  g_test_add_func ("/header-validator/split/signature-and-equals", test_split_signature_and_equals);
  g_test_add_func ("/header-validator/split/body-checks-only-macs", test_split_body_checks_only_macs);
  g_test_add_func ("/header-validator/split/soup", test_split_soup);
  g_test_add_func ("/header-validator/timestamp/standard-webhooks", test_timestamp_standard_webhooks);
  g_test_add_func ("/header-validator/timestamp/invalid", test_timestamp_invalid);
  g_test_add_func ("/header-validator/timestamp/tolerance", test_timestamp_tolerance);
  g_test_add_func ("/header-validator/timestamp/svix-and-custom-header", test_timestamp_svix_and_custom_header);
  g_test_add_func ("/header-validator/config/timestamp", test_config_timestamp);

  return g_test_run ();
}
