/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>
#include <cdviz.h>

#include "cdviz-outgoing-headers.h"

typedef enum {
  OUT_STATIC,
  OUT_SECRET,
  OUT_SIGNATURE,
} OutType;

typedef struct {
  OutType type;
  char *name;
  char *value;            /* static, secret: prefix + value + suffix; wiped */
  guint8 *key;            /* signature: decoded token; wiped */
  gsize key_len;
  char *signature_prefix; /* never NULL */
  gboolean base64;        /* signature_encoding */
  char *separator;        /* NULL: signature_on = "body" */
  GStrv signed_headers;
} OutRule;

struct _CdvizOutgoingHeaders
{
  GPtrArray *rules;       /* OutRule */
};

static void
wipe_free (char *text, gsize length)
{
  if (text == NULL)
    return;
  explicit_bzero (text, length);
  g_free (text);
}

static void
out_rule_free (OutRule *rule)
{
  g_free (rule->name);
  wipe_free (rule->value, rule->value ? strlen (rule->value) : 0);
  wipe_free ((char *) rule->key, rule->key_len);
  g_free (rule->signature_prefix);
  g_free (rule->separator);
  g_strfreev (rule->signed_headers);
  g_free (rule);
}

void
cdviz_outgoing_headers_free (CdvizOutgoingHeaders *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->rules);
  g_free (self);
}

gboolean
cdviz_outgoing_headers_is_empty (CdvizOutgoingHeaders *self)
{
  return self->rules->len == 0;
}

static gboolean
fail (GError    **error,
      const char *header,
      const char *reason)
{
  g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
               _("outgoing header “%s”: %s"), header, reason);
  return FALSE;
}

/* @field of @rule as a string: %TRUE with *@out NULL when absent and not
 * @required. */
static gboolean
get_string (JsonObject  *rule,
            const char  *header,
            const char  *field,
            gboolean     required,
            const char **out,
            GError     **error)
{
  JsonNode *node = json_object_get_member (rule, field);

  *out = NULL;
  if (node == NULL)
    {
      if (required)
        {
          g_autofree char *reason = g_strdup_printf (_("the field “%s” is required"), field);
          return fail (error, header, reason);
        }
      return TRUE;
    }
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_autofree char *reason = g_strdup_printf (_("the field “%s” must be a string"), field);
      return fail (error, header, reason);
    }
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
check_fields (JsonObject         *rule,
              const char         *header,
              const char * const *allowed,
              GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (rule);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "type") && !g_strv_contains (allowed, l->data))
      {
        g_autofree char *known = g_strjoinv ("”, “", (char **) allowed);
        g_autofree char *reason = g_strdup_printf (_("unknown field “%s” (known: “%s”)"),
                                                   (char *) l->data, known);
        return fail (error, header, reason);
      }
  return TRUE;
}

static gboolean
valid_value (const char *value)
{
  return strpbrk (value, "\r\n") == NULL;
}

static gboolean
decode_hex (const char *text,
            guint8    **out,
            gsize      *out_len)
{
  gsize length = strlen (text);

  if (length % 2 != 0)
    return FALSE;
  *out = g_malloc (length / 2 + 1);
  for (gsize i = 0; i < length; i += 2)
    {
      int hi = g_ascii_xdigit_value (text[i]), lo = g_ascii_xdigit_value (text[i + 1]);
      if (hi < 0 || lo < 0)
        {
          g_clear_pointer (out, g_free);
          return FALSE;
        }
      (*out)[i / 2] = (guint8) (hi << 4 | lo);
    }
  *out_len = length / 2;
  return TRUE;
}

static gboolean
decode_base64 (const char *text,
               guint8    **out,
               gsize      *out_len)
{
  gsize length = strlen (text);

  if (length == 0 || length % 4 != 0 ||
      strspn (text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != length)
    return FALSE;
  *out = g_base64_decode (text, out_len);
  return *out != NULL;
}

static gboolean
parse_signature (OutRule     *out,
                 JsonObject  *rule,
                 const char  *header,
                 GError     **error)
{
  static const char * const fields[] = {
    "token", "token_encoding", "signature_prefix", "signature_on", "signature_encoding", NULL
  };
  const char *token, *token_encoding, *prefix, *encoding;
  JsonNode *on;

  if (!check_fields (rule, header, fields, error) ||
      !get_string (rule, header, "token", TRUE, &token, error) ||
      !get_string (rule, header, "token_encoding", FALSE, &token_encoding, error) ||
      !get_string (rule, header, "signature_prefix", FALSE, &prefix, error) ||
      !get_string (rule, header, "signature_encoding", FALSE, &encoding, error))
    return FALSE;

  if (token_encoding == NULL || g_str_equal (token_encoding, "raw"))
    {
      out->key_len = strlen (token);
      out->key = (guint8 *) g_strdup (token);
    }
  else if (g_str_equal (token_encoding, "hex"))
    {
      if (!decode_hex (token, &out->key, &out->key_len))
        return fail (error, header, _("the token is not valid hex (token_encoding = \"hex\")"));
    }
  else if (g_str_equal (token_encoding, "base64"))
    {
      if (!decode_base64 (token, &out->key, &out->key_len))
        return fail (error, header,
                     _("the token is not valid base64 (token_encoding = \"base64\")"));
    }
  else
    return fail (error, header, _("token_encoding must be \"hex\" or \"base64\""));
  if (out->key_len == 0)
    return fail (error, header, _("the token is empty"));

  if (encoding == NULL || g_str_equal (encoding, "hex"))
    out->base64 = FALSE;
  else if (g_str_equal (encoding, "base64"))
    out->base64 = TRUE;
  else
    return fail (error, header, _("signature_encoding must be \"hex\" or \"base64\""));
  if (prefix != NULL && !valid_value (prefix))
    return fail (error, header, _("signature_prefix holds a line break"));
  out->signature_prefix = g_strdup (prefix != NULL ? prefix : "");

  on = json_object_get_member (rule, "signature_on");
  if (on == NULL || (json_node_get_value_type (on) == G_TYPE_STRING &&
                     g_str_equal (json_node_get_string (on), "body")))
    return TRUE;
  if (JSON_NODE_HOLDS_OBJECT (on) &&
      json_object_get_size (json_node_get_object (on)) == 1 &&
      json_object_has_member (json_node_get_object (on), "headers_then_body") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (json_node_get_object (on),
                                                      "headers_then_body")))
    {
      JsonObject *htb = json_object_get_object_member (json_node_get_object (on),
                                                       "headers_then_body");
      JsonNode *separator = json_object_get_member (htb, "separator");
      JsonNode *names = json_object_get_member (htb, "headers");
      g_autoptr(GPtrArray) list = g_ptr_array_new ();

      if (separator == NULL || json_node_get_value_type (separator) != G_TYPE_STRING ||
          names == NULL || !JSON_NODE_HOLDS_ARRAY (names))
        return fail (error, header, _("signature_on.headers_then_body needs “separator” "
                                      "(a string) and “headers” (an array of names)"));
      for (guint i = 0; i < json_array_get_length (json_node_get_array (names)); i++)
        {
          JsonNode *name = json_array_get_element (json_node_get_array (names), i);
          if (json_node_get_value_type (name) != G_TYPE_STRING)
            return fail (error, header, _("signature_on.headers_then_body.headers must be "
                                          "an array of header names"));
          g_ptr_array_add (list, g_strdup (json_node_get_string (name)));
        }
      g_ptr_array_add (list, NULL);
      out->separator = g_strdup (json_node_get_string (separator));
      out->signed_headers = (GStrv) g_ptr_array_free (g_steal_pointer (&list), FALSE);
      return TRUE;
    }
  return fail (error, header, _("signature_on must be \"body\" or "
                                "{ headers_then_body = { separator, headers } }"));
}

static OutRule *
parse_rule (const char  *header,
            JsonNode    *node,
            GError     **error)
{
  g_autoptr(GError) local = NULL;
  OutRule *out;
  JsonObject *rule;
  const char *type;

  if (!g_regex_match_simple ("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", header, 0, 0))
    {
      fail (error, header, _("not a valid header name"));
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, header, _("expected a table with a “type”"));
      return NULL;
    }
  rule = json_node_get_object (node);
  if (!get_string (rule, header, "type", TRUE, &type, error))
    return NULL;

  out = g_new0 (OutRule, 1);
  out->name = g_strdup (header);
  if (g_str_equal (type, "static") || g_str_equal (type, "secret"))
    {
      static const char * const fields[] = { "value", "prefix", "suffix", NULL };
      const char *value, *prefix, *suffix;

      out->type = g_str_equal (type, "static") ? OUT_STATIC : OUT_SECRET;
      if (!check_fields (rule, header, fields, &local) ||
          !get_string (rule, header, "value", TRUE, &value, &local) ||
          !get_string (rule, header, "prefix", FALSE, &prefix, &local) ||
          !get_string (rule, header, "suffix", FALSE, &suffix, &local))
        goto failed;
      out->value = g_strconcat (prefix ? prefix : "", value, suffix ? suffix : "", NULL);
      if (!valid_value (out->value))
        {
          fail (&local, header, _("the value holds a line break"));
          goto failed;
        }
    }
  else if (g_str_equal (type, "signature"))
    {
      out->type = OUT_SIGNATURE;
      if (!parse_signature (out, rule, header, &local))
        goto failed;
    }
  else
    {
      g_autofree char *reason =
        g_strdup_printf (_("unknown type “%s” (outgoing headers are “static”, “secret” "
                           "or “signature”)"), type);
      fail (&local, header, reason);
      goto failed;
    }
  return out;

failed:
  out_rule_free (out);
  g_propagate_error (error, g_steal_pointer (&local));
  return NULL;
}

CdvizOutgoingHeaders *
cdviz_outgoing_headers_new (JsonNode  *rules,
                            GError   **error)
{
  g_autoptr(CdvizOutgoingHeaders) self = g_new0 (CdvizOutgoingHeaders, 1);

  self->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) out_rule_free);
  if (rules == NULL ||
      (JSON_NODE_HOLDS_ARRAY (rules) && json_array_get_length (json_node_get_array (rules)) == 0))
    return g_steal_pointer (&self);
  if (!JSON_NODE_HOLDS_OBJECT (rules))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("headers must be a table: header name → rule"));
      return NULL;
    }
  {
    JsonObject *object = json_node_get_object (rules);
    g_autoptr(GList) names = json_object_get_members (object);

    for (GList *l = names; l != NULL; l = l->next)
      {
        OutRule *rule = parse_rule (l->data, json_object_get_member (object, l->data), error);
        if (rule == NULL)
          return NULL;
        g_ptr_array_add (self->rules, rule);
      }
  }
  return g_steal_pointer (&self);
}

static char *
sign (OutRule            *rule,
      SoupMessageHeaders *headers,
      const guint8       *body,
      gsize               body_len)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, rule->key, rule->key_len);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autofree char *encoded = NULL;

  for (guint i = 0; rule->signed_headers != NULL && rule->signed_headers[i] != NULL; i++)
    {
      const char *value = soup_message_headers_get_one (headers, rule->signed_headers[i]);
      /* As upstream: an absent header contributes nothing, not even the
       * separator. */
      if (value == NULL)
        continue;
      g_hmac_update (hmac, (const guchar *) value, strlen (value));
      g_hmac_update (hmac, (const guchar *) rule->separator, strlen (rule->separator));
    }
  if (body_len > 0)
    g_hmac_update (hmac, body, body_len);
  g_hmac_get_digest (hmac, digest, &digest_len);
  if (rule->base64)
    encoded = g_base64_encode (digest, digest_len);
  else
    {
      encoded = g_malloc (digest_len * 2 + 1);
      for (gsize i = 0; i < digest_len; i++)
        g_snprintf (encoded + 2 * i, 3, "%02x", digest[i]);
    }
  return g_strconcat (rule->signature_prefix, encoded, NULL);
}

void
cdviz_outgoing_headers_apply (CdvizOutgoingHeaders *self,
                              SoupMessageHeaders   *headers,
                              const guint8         *body,
                              gsize                 body_len)
{
  for (guint i = 0; i < self->rules->len; i++)
    {
      OutRule *rule = g_ptr_array_index (self->rules, i);

      if (rule->type == OUT_SIGNATURE)
        {
          g_autofree char *signature = sign (rule, headers, body, body_len);
          soup_message_headers_replace (headers, rule->name, signature);
        }
      else
        soup_message_headers_replace (headers, rule->name, rule->value);
    }
}
