/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the header validator: the input is split into a request (header
 * lines, a blank line, a body) checked against a fixed set of rules of every
 * type; the first line, when it starts with '{', is also tried as a rules
 * table. */
#include "config.h"

#include "cdviz-header-validator.h"
#include "cdviz-json-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static CdvizHeaderValidator *fixed;

static CdvizHeaderValidator *
fixed_validator (void)
{
  static const char rules[] =
    "{\"X-Exists\": {\"type\": \"exists\"},"
    " \"Authorization\": {\"type\": \"equals\", \"value\": \"secret\", \"prefix\": \"Bearer \", \"case_sensitive\": false},"
    " \"X-Client\": {\"type\": \"matches\", \"pattern\": \"^client-[0-9]+$\"},"
    " \"X-Secret\": {\"type\": \"secret\", \"value\": \"CDVIZ_FUZZ_SECRET\"},"
    " \"X-Hub-Signature-256\": {\"type\": \"signature\", \"token\": \"mySecretToken\", \"signature_prefix\": \"sha256=\"},"
    " \"Svix-Signature\": {\"type\": \"signature\", \"token\": \"C2FVsBQIhrscChlQIMV+b5sSYspob7oD\", \"token_encoding\": \"base64\","
    "   \"signature_prefix\": \"v1,\", \"signature_encoding\": \"base64\","
    "   \"signature_on\": {\"headers_then_body\": {\"separator\": \".\", \"headers\": [\"svix-id\", \"svix-timestamp\"]}}}}";
  g_autoptr(JsonNode) node = json_from_string (rules, NULL);

  g_setenv ("CDVIZ_FUZZ_SECRET", "s3cr3t", TRUE);
  return cdviz_header_validator_new (node, NULL);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(SoupMessageHeaders) soup_headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr(GBytes) body = NULL;
  g_autofree char *message = NULL;
  char *sep, *line, *next;
  guint status;

  if (fixed == NULL)
    fixed = fixed_validator ();

  sep = strstr (text, "\n\n");
  body = g_bytes_new (sep ? sep + 2 : "", sep ? strlen (sep + 2) : 0);
  if (sep)
    *sep = '\0';

  if (text[0] == '{')
    {
      char *eol = strchr (text, '\n');
      gsize n = eol ? (gsize) (eol - text) : strlen (text);
      g_autoptr(JsonNode) rules = _cdviz_json_parse_single (text, n, NULL);

      if (rules != NULL)
        {
          g_autoptr(CdvizHeaderValidator) v = cdviz_header_validator_new (rules, NULL);
          if (v != NULL)
            {
              g_autofree char *m = NULL;
              status = cdviz_header_validator_check (v, headers, body, &m);
              g_assert (status == 200 || status == 401 || status == 403);
            }
        }
    }

  for (line = text; line && *line; line = next)
    {
      char *colon;

      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      colon = strchr (line, ':');
      if (colon == NULL)
        continue;
      *colon = '\0';
      if (*line == '\0')
        continue;
      g_hash_table_insert (headers, g_ascii_strdown (line, -1), g_strdup (g_strstrip (colon + 1)));
      if (g_utf8_validate (line, -1, NULL) && g_utf8_validate (colon + 1, -1, NULL))
        soup_message_headers_append (soup_headers, line, g_strstrip (colon + 1));
    }

  status = cdviz_header_validator_check (fixed, headers, body, &message);
  g_assert (status == 200 || status == 401 || status == 403);
  g_assert ((status == 200) == (message == NULL));
  g_clear_pointer (&message, g_free);
  status = cdviz_header_validator_check_soup (fixed, soup_headers, body, &message);
  g_assert (status == 200 || status == 401 || status == 403);
  return 0;
}
