/* SPDX-License-Identifier: Apache-2.0 */
#include <gcrypt.h>
#include <gio/gio.h>

#include "cdviz-vrl-stdlib-private.h"

/* Encodings, hashes, JSON, URLs, key/value text. JSON through json-glib,
 * hashes through GChecksum/GHmac (SHA-3 through libgcrypt), URLs through
 * GUri, base64 through GLib. */

static CdvizVrlValue *
take_gstring (GString *s)
{
  gsize len = s->len;

  return cdviz_vrl_bytes_take (g_string_free (s, FALSE), len);
}

/* --- JSON --------------------------------------------------------------- */

static int
json_depth (JsonNode *node)
{
  int max = 0;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (a); i++)
        max = MAX (max, json_depth (json_array_get_element (a, i)));
      return max + 1;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, NULL, &member))
        max = MAX (max, json_depth (member));
      return max + 1;
    }
  return 0;
}

static CdvizVrlValue *
truncate_depth (JsonNode *node,
                int       depth)
{
  if (depth <= 0 && (JSON_NODE_HOLDS_ARRAY (node) || JSON_NODE_HOLDS_OBJECT (node)))
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();

      json_generator_set_root (gen, node);
      return cdviz_vrl_string_take (json_generator_to_data (gen, NULL));
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      CdvizVrlValue *out = cdviz_vrl_array_new ();

      for (guint i = 0; i < json_array_get_length (a); i++)
        cdviz_vrl_array_append (out, truncate_depth (json_array_get_element (a, i), depth - 1));
      return out;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      JsonNode *member;
      const char *key;
      CdvizVrlValue *out = cdviz_vrl_object_new ();

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &key, &member))
        cdviz_vrl_object_insert (out, key, truncate_depth (member, depth - 1));
      return out;
    }
  return cdviz_vrl_value_from_json (node);
}

IMPL (f_parse_json)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, STR (0), LEN (0), &local_error))
    return cdviz_vrl_fail (error, "unable to parse json: %s", local_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL)
    return cdviz_vrl_fail (error, "unable to parse json: empty input");
  if (args[1] != NULL)
    {
      if (args[1]->integer < 1 || args[1]->integer > 128)
        return cdviz_vrl_fail (error, "max_depth value should be greater than 0 and less than 128, got %" G_GINT64_FORMAT, args[1]->integer);
      if (json_depth (root) > args[1]->integer)
        return truncate_depth (root, args[1]->integer);
    }
  return cdviz_vrl_value_from_json (root);
}

IMPL (f_is_json)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, STR (0), LEN (0), NULL) ||
      (root = json_parser_get_root (parser)) == NULL)
    return cdviz_vrl_boolean (FALSE);
  if (args[1] != NULL)
    {
      g_autofree char *variant = g_strndup (STR (1), LEN (1));
      JsonNodeType t = json_node_get_node_type (root);
      GType vt = t == JSON_NODE_VALUE ? json_node_get_value_type (root) : G_TYPE_INVALID;

      if (g_str_equal (variant, "object"))
        return cdviz_vrl_boolean (t == JSON_NODE_OBJECT);
      if (g_str_equal (variant, "array"))
        return cdviz_vrl_boolean (t == JSON_NODE_ARRAY);
      if (g_str_equal (variant, "null"))
        return cdviz_vrl_boolean (t == JSON_NODE_NULL);
      if (g_str_equal (variant, "string"))
        return cdviz_vrl_boolean (vt == G_TYPE_STRING);
      if (g_str_equal (variant, "number"))
        return cdviz_vrl_boolean (vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE);
      if (g_str_equal (variant, "bool"))
        return cdviz_vrl_boolean (vt == G_TYPE_BOOLEAN);
      return cdviz_vrl_fail (error, "invalid variant");
    }
  return cdviz_vrl_boolean (TRUE);
}

IMPL (f_encode_json)
{
  return cdviz_vrl_string_take (cdviz_vrl_value_to_json (args[0], BOOL_ARG (1, FALSE)));
}

/* --- base64 / base16 ------------------------------------------------------- */

IMPL (f_encode_base64)
{
  g_autofree char *text = g_base64_encode ((const guchar *) STR (0), LEN (0));
  gboolean padding = BOOL_ARG (1, TRUE);
  gboolean url = args[2] && LEN (2) == 8 && memcmp (STR (2), "url_safe", 8) == 0;

  if (url)
    g_strdelimit (g_strdelimit (text, "+", '-'), "/", '_');
  if (!padding)
    {
      gsize n = strlen (text);

      while (n > 0 && text[n - 1] == '=')
        text[--n] = '\0';
    }
  return vrl_str (text);
}

IMPL (f_decode_base64)
{
  g_autoptr(GString) s = g_string_new_len (STR (0), LEN (0));
  gsize len;
  guchar *data;

  g_strdelimit (s->str, "-", '+');
  g_strdelimit (s->str, "_", '/');
  for (gsize i = 0; i < s->len; i++)
    if (!(g_ascii_isalnum (s->str[i]) || s->str[i] == '+' || s->str[i] == '/' || s->str[i] == '='))
      return cdviz_vrl_fail (error, "unable to decode value from base64");
  while (s->len % 4 != 0)
    g_string_append_c (s, '=');
  data = g_base64_decode (s->str, &len);
  return cdviz_vrl_bytes_take ((char *) g_realloc (data, len + 1), len);
}

IMPL (f_encode_base16)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < LEN (0); i++)
    g_string_append_printf (out, "%02x", (guchar) STR (0)[i]);
  return take_gstring (out);
}

IMPL (f_decode_base16)
{
  GString *out = g_string_new (NULL);

  if (LEN (0) % 2 != 0)
    {
      g_string_free (out, TRUE);
      return cdviz_vrl_fail (error, "unable to decode value from base16");
    }
  for (gsize i = 0; i < LEN (0); i += 2)
    {
      int h = g_ascii_xdigit_value (STR (0)[i]), l = g_ascii_xdigit_value (STR (0)[i + 1]);

      if (h < 0 || l < 0)
        {
          g_string_free (out, TRUE);
          return cdviz_vrl_fail (error, "unable to decode value from base16");
        }
      g_string_append_c (out, (char) (h * 16 + l));
    }
  return take_gstring (out);
}

/* --- percent ------------------------------------------------------------- */

IMPL (f_encode_percent)
{
  g_autofree char *set = args[1] ? g_strndup (STR (1), LEN (1)) : g_strdup ("NON_ALPHANUMERIC");
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < LEN (0); i++)
    {
      guchar c = STR (0)[i];
      gboolean encode;

      if (c < 0x20 || c >= 0x7f)
        encode = TRUE;
      else if (g_str_equal (set, "CONTROLS"))
        encode = FALSE;
      else if (g_str_equal (set, "NON_ALPHANUMERIC"))
        encode = !g_ascii_isalnum (c);
      else if (g_str_equal (set, "FRAGMENT"))
        encode = strchr (" \"<>`", c) != NULL;
      else if (g_str_equal (set, "QUERY"))
        encode = strchr (" \"#<>", c) != NULL;
      else if (g_str_equal (set, "SPECIAL"))
        encode = strchr (" \"#<>'", c) != NULL;
      else if (g_str_equal (set, "PATH"))
        encode = strchr (" \"#<>?`{}", c) != NULL;
      else if (g_str_equal (set, "USERINFO"))
        encode = strchr (" \"#<>?`{}/:;=@[\\]^|", c) != NULL;
      else if (g_str_equal (set, "COMPONENT"))
        encode = strchr (" \"#<>?`{}/:;=@[\\]^|$%&+,", c) != NULL;
      else
        encode = strchr (" \"#<>?`{}/:;=@[\\]^|$%&+,!'()~", c) != NULL;
      if (encode)
        g_string_append_printf (out, "%%%02X", c);
      else
        g_string_append_c (out, c);
    }
  return take_gstring (out);
}

IMPL (f_decode_percent)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < LEN (0); i++)
    {
      if (STR (0)[i] == '%' && i + 2 < LEN (0) + 0 + 1 && i + 2 <= LEN (0) - 1 + 1 &&
          g_ascii_isxdigit (STR (0)[i + 1]) && g_ascii_isxdigit (STR (0)[i + 2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (STR (0)[i + 1]) * 16 +
                                          g_ascii_xdigit_value (STR (0)[i + 2])));
          i += 2;
        }
      else
        g_string_append_c (out, STR (0)[i]);
    }
  return take_gstring (out);
}

/* --- hashes ---------------------------------------------------------------- */

static CdvizVrlValue *
checksum (GChecksumType  type,
          CdvizVrlValue *v)
{
  return cdviz_vrl_string_take (g_compute_checksum_for_data (type, (const guchar *) v->bytes.data,
                                                            v->bytes.len));
}

IMPL (f_md5) { return checksum (G_CHECKSUM_MD5, args[0]); }
IMPL (f_sha1) { return checksum (G_CHECKSUM_SHA1, args[0]); }

static CdvizVrlValue *
gcrypt_hex (int            algo,
            CdvizVrlValue *v)
{
  guint n = gcry_md_get_algo_dlen (algo);
  g_autofree guchar *digest = g_malloc (n);
  GString *out = g_string_new (NULL);

  gcry_md_hash_buffer (algo, digest, v->bytes.data, v->bytes.len);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%02x", digest[i]);
  return take_gstring (out);
}

IMPL (f_sha2)
{
  g_autofree char *variant = args[1] ? g_strndup (STR (1), LEN (1)) : g_strdup ("SHA-512/256");

  if (g_str_equal (variant, "SHA-224"))
    return gcrypt_hex (GCRY_MD_SHA224, args[0]);
  if (g_str_equal (variant, "SHA-256"))
    return checksum (G_CHECKSUM_SHA256, args[0]);
  if (g_str_equal (variant, "SHA-384"))
    return checksum (G_CHECKSUM_SHA384, args[0]);
  if (g_str_equal (variant, "SHA-512"))
    return checksum (G_CHECKSUM_SHA512, args[0]);
  if (g_str_equal (variant, "SHA-512/224"))
    return gcrypt_hex (GCRY_MD_SHA512_224, args[0]);
  if (g_str_equal (variant, "SHA-512/256"))
    return gcrypt_hex (GCRY_MD_SHA512_256, args[0]);
  return cdviz_vrl_fail (error, "invalid variant: %s", variant);
}

IMPL (f_sha3)
{
  g_autofree char *variant = args[1] ? g_strndup (STR (1), LEN (1)) : g_strdup ("SHA3-512");

  if (g_str_equal (variant, "SHA3-224"))
    return gcrypt_hex (GCRY_MD_SHA3_224, args[0]);
  if (g_str_equal (variant, "SHA3-256"))
    return gcrypt_hex (GCRY_MD_SHA3_256, args[0]);
  if (g_str_equal (variant, "SHA3-384"))
    return gcrypt_hex (GCRY_MD_SHA3_384, args[0]);
  if (g_str_equal (variant, "SHA3-512"))
    return gcrypt_hex (GCRY_MD_SHA3_512, args[0]);
  return cdviz_vrl_fail (error, "invalid variant: %s", variant);
}

IMPL (f_hmac)
{
  g_autofree char *algo = args[2] ? g_strndup (STR (2), LEN (2)) : g_strdup ("SHA-256");
  GChecksumType type;
  g_autoptr(GHmac) hmac = NULL;
  guint8 digest[64];
  gsize len = sizeof digest;

  if (g_str_equal (algo, "SHA1"))
    type = G_CHECKSUM_SHA1;
  else if (g_str_equal (algo, "SHA-256"))
    type = G_CHECKSUM_SHA256;
  else if (g_str_equal (algo, "SHA-384"))
    type = G_CHECKSUM_SHA384;
  else if (g_str_equal (algo, "SHA-512"))
    type = G_CHECKSUM_SHA512;
  else if (g_str_equal (algo, "SHA-224"))
    {
      gcry_md_hd_t hd;
      guint n = gcry_md_get_algo_dlen (GCRY_MD_SHA224);
      CdvizVrlValue *out;

      gcry_md_open (&hd, GCRY_MD_SHA224, GCRY_MD_FLAG_HMAC);
      gcry_md_setkey (hd, STR (1), LEN (1));
      gcry_md_write (hd, STR (0), LEN (0));
      out = cdviz_vrl_bytes ((const char *) gcry_md_read (hd, GCRY_MD_SHA224), n);
      gcry_md_close (hd);
      return out;
    }
  else
    return cdviz_vrl_fail (error, "invalid algorithm: %s", algo);
  hmac = g_hmac_new (type, (const guchar *) STR (1), LEN (1));
  g_hmac_update (hmac, (const guchar *) STR (0), LEN (0));
  g_hmac_get_digest (hmac, digest, &len);
  return cdviz_vrl_bytes ((const char *) digest, len);
}

/* --- URLs and key/value text ------------------------------------------------- */

static CdvizVrlValue *
query_object (const char *query)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();
  g_auto(GStrv) pairs = NULL;

  if (query == NULL || *query == '\0')
    return out;
  pairs = g_strsplit (query, "&", -1);
  for (guint i = 0; pairs[i]; i++)
    {
      char *eq = strchr (pairs[i], '=');
      g_autofree char *k = NULL, *v = NULL;
      CdvizVrlValue *existing;

      if (*pairs[i] == '\0')
        continue;
      g_strdelimit (pairs[i], "+", ' ');
      if (eq)
        *eq = '\0';
      k = g_uri_unescape_string (pairs[i], NULL);
      v = eq ? g_uri_unescape_string (eq + 1, NULL) : g_strdup ("");
      if (k == NULL)
        k = g_strdup (pairs[i]);
      if (v == NULL)
        v = g_strdup (eq + 1);
      existing = cdviz_vrl_object_get (out, k);
      if (existing == NULL)
        cdviz_vrl_object_insert (out, k, vrl_str (v));
      else if (existing->kind == A)
        {
          cdviz_vrl_value_ref (existing);
          cdviz_vrl_object_insert (out, k, cdviz_vrl_null ());
          cdviz_vrl_value_unshare (&existing);
          cdviz_vrl_array_append (existing, vrl_str (v));
          cdviz_vrl_object_insert (out, k, existing);
        }
      else
        {
          CdvizVrlValue *list = cdviz_vrl_array_new ();

          cdviz_vrl_array_append (list, cdviz_vrl_value_ref (existing));
          cdviz_vrl_array_append (list, vrl_str (v));
          cdviz_vrl_object_insert (out, k, list);
        }
    }
  return out;
}

IMPL (f_parse_query_string)
{
  g_autofree char *s = g_strndup (STR (0), LEN (0));

  return query_object (s[0] == '?' ? s + 1 : s);
}

IMPL (f_parse_url)
{
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GUri) uri = g_uri_parse (text, G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD, &local_error);
  CdvizVrlValue *out;
  const char *scheme;
  int port;
  g_autofree char *user = NULL, *password = NULL, *fragment = NULL;

  if (uri == NULL)
    return cdviz_vrl_fail (error, "unable to parse url: %s", local_error->message);
  out = cdviz_vrl_object_new ();
  scheme = g_uri_get_scheme (uri);
  port = g_uri_get_port (uri);
  if (port < 0 && BOOL_ARG (1, FALSE))
    port = g_str_equal (scheme, "https") ? 443 : g_str_equal (scheme, "http") ? 80 : -1;
  cdviz_vrl_object_insert (out, "scheme", vrl_str (scheme));
  cdviz_vrl_object_insert (out, "host", g_uri_get_host (uri) ? vrl_str (g_uri_get_host (uri)) : cdviz_vrl_null ());
  cdviz_vrl_object_insert (out, "port", port >= 0 ? cdviz_vrl_integer (port) : cdviz_vrl_null ());
  cdviz_vrl_object_insert (out, "path", vrl_str (*g_uri_get_path (uri) ? g_uri_get_path (uri) : "/"));
  user = g_uri_get_user (uri) ? g_uri_unescape_string (g_uri_get_user (uri), NULL) : g_strdup ("");
  password = g_uri_get_password (uri) ? g_uri_unescape_string (g_uri_get_password (uri), NULL) : g_strdup ("");
  cdviz_vrl_object_insert (out, "username", vrl_str (user));
  cdviz_vrl_object_insert (out, "password", vrl_str (password));
  fragment = g_uri_get_fragment (uri) ? g_uri_unescape_string (g_uri_get_fragment (uri), NULL) : NULL;
  cdviz_vrl_object_insert (out, "fragment", fragment ? vrl_str (fragment) : cdviz_vrl_null ());
  cdviz_vrl_object_insert (out, "query", query_object (g_uri_get_query (uri)));
  return out;
}

/* parse_key_value(value, key_value_delimiter: "=", field_delimiter: " ",
 * whitespace: "lenient", accept_standalone_key: true) */
IMPL (f_parse_key_value)
{
  const char *kv = args[1] ? STR (1) : "=";
  const char *fd = args[2] ? STR (2) : " ";
  gboolean standalone = BOOL_ARG (4, TRUE);
  CdvizVrlValue *out = cdviz_vrl_object_new ();
  const char *p = STR (0), *end = STR (0) + LEN (0);
  gsize kvl = strlen (kv), fdl = strlen (fd);

  while (p < end)
    {
      GString *key = g_string_new (NULL), *value = NULL;
      gboolean quoted;

      while (p < end && g_ascii_isspace (*p) && !(fdl && strncmp (p, fd, fdl) == 0 && !g_ascii_isspace (*fd)))
        p++;
      if (p >= end)
        {
          g_string_free (key, TRUE);
          break;
        }
      quoted = *p == '"';
      if (quoted)
        {
          p++;
          while (p < end && *p != '"')
            {
              if (*p == '\\' && p + 1 < end)
                p++;
              g_string_append_c (key, *p++);
            }
          p++;
        }
      else
        while (p < end && strncmp (p, kv, kvl) != 0 && strncmp (p, fd, fdl) != 0)
          g_string_append_c (key, *p++);
      g_strchomp (key->str);
      key->len = strlen (key->str);
      while (p < end && *p == ' ' && strncmp (p, kv, kvl) != 0 && strncmp (p, fd, fdl) != 0)
        p++;
      if (p < end && strncmp (p, kv, kvl) == 0)
        {
          p += kvl;
          while (p < end && *p == ' ' && strncmp (p, fd, fdl) != 0)
            p++;
          value = g_string_new (NULL);
          if (p < end && *p == '"')
            {
              p++;
              while (p < end && *p != '"')
                {
                  if (*p == '\\' && p + 1 < end)
                    p++;
                  g_string_append_c (value, *p++);
                }
              p++;
            }
          else
            while (p < end && strncmp (p, fd, fdl) != 0)
              g_string_append_c (value, *p++);
          g_strchomp (value->str);
          value->len = strlen (value->str);
        }
      if (p < end && strncmp (p, fd, fdl) == 0)
        p += fdl;
      if (key->len > 0)
        {
          if (value != NULL)
            cdviz_vrl_object_insert (out, key->str, cdviz_vrl_bytes (value->str, value->len));
          else if (standalone)
            cdviz_vrl_object_insert (out, key->str, cdviz_vrl_boolean (TRUE));
        }
      g_string_free (key, TRUE);
      if (value)
        g_string_free (value, TRUE);
    }
  return out;
}

static void
append_kv_value (GString       *out,
                 CdvizVrlValue *v,
                 const char    *fd)
{
  g_autofree char *text = NULL;

  if (v->kind == S)
    text = g_strndup (v->bytes.data, v->bytes.len);
  else if (v->kind == N)
    text = g_strdup ("");
  else
    text = cdviz_vrl_value_to_json (v, FALSE);
  if (strpbrk (text, " \"=") != NULL || strstr (text, fd) != NULL)
    {
      g_autoptr(GString) q = g_string_new (text);

      g_string_replace (q, "\\", "\\\\", 0);
      g_string_replace (q, "\"", "\\\"", 0);
      g_string_append_printf (out, "\"%s\"", q->str);
    }
  else
    g_string_append (out, text);
}

static void
flatten_kv (GString       *out,
            const char    *prefix,
            CdvizVrlValue *v,
            const char    *kv,
            const char    *fd,
            gboolean       flatten_bool)
{
  if (v->kind == O)
    {
      for (guint i = 0; i < v->object->len; i++)
        {
          CdvizVrlEntry *e = cdviz_vrl_object_entry (v, i);
          g_autofree char *key = prefix ? g_strconcat (prefix, ".", e->key, NULL) : g_strdup (e->key);

          flatten_kv (out, key, e->value, kv, fd, flatten_bool);
        }
      return;
    }
  if (v->kind == A)
    {
      for (guint i = 0; i < v->array->len; i++)
        {
          g_autofree char *key = g_strdup_printf ("%s[%u]", prefix, i);

          flatten_kv (out, key, g_ptr_array_index (v->array, i), kv, fd, flatten_bool);
        }
      return;
    }
  if (out->len > 0)
    g_string_append (out, fd);
  if (flatten_bool && v->kind == B)
    {
      if (v->boolean)
        g_string_append (out, prefix);
      else if (out->len >= strlen (fd))
        g_string_truncate (out, out->len - strlen (fd));
      return;
    }
  g_string_append (out, prefix);
  g_string_append (out, kv);
  append_kv_value (out, v, fd);
}

static CdvizVrlValue *
encode_kv (CdvizVrlValue **args,
           const char     *kv,
           const char     *fd,
           gboolean        flatten_bool)
{
  GString *out = g_string_new (NULL);
  g_autoptr(GPtrArray) done = g_ptr_array_new ();

  /* ordered fields first */
  if (args[1] != NULL)
    for (guint i = 0; i < args[1]->array->len; i++)
      {
        CdvizVrlValue *k = g_ptr_array_index (args[1]->array, i);
        CdvizVrlValue *v;

        if (k->kind != S || (v = cdviz_vrl_object_get (args[0], k->bytes.data)) == NULL)
          continue;
        flatten_kv (out, k->bytes.data, v, kv, fd, flatten_bool);
        g_ptr_array_add (done, k->bytes.data);
      }
  for (guint i = 0; i < args[0]->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (args[0], i);
      gboolean seen = FALSE;

      for (guint j = 0; j < done->len && !seen; j++)
        seen = g_str_equal (done->pdata[j], e->key);
      if (!seen)
        flatten_kv (out, e->key, e->value, kv, fd, flatten_bool);
    }
  return take_gstring (out);
}

IMPL (f_encode_key_value)
{
  return encode_kv (args, args[2] ? STR (2) : "=", args[3] ? STR (3) : " ", BOOL_ARG (4, FALSE));
}

IMPL (f_encode_logfmt)
{
  return encode_kv (args, "=", " ", FALSE);
}

IMPL (f_parse_logfmt)
{
  CdvizVrlValue *sub[5] = { args[0], NULL, NULL, NULL, NULL };

  return f_parse_key_value (call, sub, error);
}

/* --- identifiers ------------------------------------------------------------- */

IMPL (f_uuid_v4)
{
  return cdviz_vrl_string_take (g_uuid_string_random ());
}

IMPL (f_uuid_v7)
{
  guint8 b[16];
  gint64 ms;

  if (args[0] != NULL)
    ms = args[0]->ts.seconds * 1000 + args[0]->ts.nanos / 1000000;
  else
    ms = g_get_real_time () / 1000;
  gcry_randomize (b, sizeof b, GCRY_STRONG_RANDOM);
  for (int i = 0; i < 6; i++)
    b[i] = (ms >> (40 - 8 * i)) & 0xff;
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  return cdviz_vrl_string_take (g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                                                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                                                 b[10], b[11], b[12], b[13], b[14], b[15]));
}

/* --- compression (GIO's zlib converters) ------------------------------------- */

static CdvizVrlValue *
convert (GConverter     *converter,
         CdvizVrlValue  *input,
         GError        **error)
{
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_data (input->bytes.data, input->bytes.len, NULL);
  g_autoptr(GInputStream) in = g_converter_input_stream_new (mem, converter);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) local_error = NULL;
  gssize n;

  n = g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, &local_error);
  if (n < 0)
    return cdviz_vrl_fail (error, "unable to decode value: %s", local_error->message);
  {
    GMemoryOutputStream *m = G_MEMORY_OUTPUT_STREAM (out);
    gsize size = g_memory_output_stream_get_data_size (m);

    return cdviz_vrl_bytes (g_memory_output_stream_get_data (m) ? g_memory_output_stream_get_data (m) : "", size);
  }
}

IMPL (f_decode_gzip)
{
  g_autoptr(GZlibDecompressor) d = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);

  return convert (G_CONVERTER (d), args[0], error);
}

IMPL (f_decode_zlib)
{
  g_autoptr(GZlibDecompressor) d = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);

  return convert (G_CONVERTER (d), args[0], error);
}

IMPL (f_encode_gzip)
{
  g_autoptr(GZlibCompressor) c = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, (int) INT_ARG (1, 6));

  return convert (G_CONVERTER (c), args[0], error);
}

IMPL (f_encode_zlib)
{
  g_autoptr(GZlibCompressor) c = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, (int) INT_ARG (1, 6));

  return convert (G_CONVERTER (c), args[0], error);
}

static const CdvizVrlFunction functions[] = {
  FN ("decode_base16", f_decode_base16, FALLIBLE, S, REQ ("value", S)),
  FN ("decode_base64", f_decode_base64, FALLIBLE, S, REQ ("value", S), OPT ("charset", S)),
  FN ("decode_gzip", f_decode_gzip, FALLIBLE, S, REQ ("value", S)),
  FN ("decode_percent", f_decode_percent, 0, S, REQ ("value", S)),
  FN ("decode_zlib", f_decode_zlib, FALLIBLE, S, REQ ("value", S)),
  FN ("encode_base16", f_encode_base16, 0, S, REQ ("value", S)),
  FN ("encode_base64", f_encode_base64, 0, S, REQ ("value", S), OPT ("padding", B), OPT ("charset", S)),
  FN ("encode_gzip", f_encode_gzip, 0, S, REQ ("value", S), OPT ("compression_level", I)),
  FN ("encode_json", f_encode_json, 0, S, REQ ("value", ANY), OPT ("pretty", B)),
  FN ("encode_key_value", f_encode_key_value, CDVIZ_VRL_FN_FALLIBLE_WITH_ARG1, S, REQ ("value", O), OPT ("fields_ordering", A),
      OPT ("key_value_delimiter", S), OPT ("field_delimiter", S), OPT ("flatten_boolean", B)),
  FN ("encode_logfmt", f_encode_logfmt, CDVIZ_VRL_FN_FALLIBLE_WITH_ARG1, S, REQ ("value", O), OPT ("fields_ordering", A)),
  FN ("encode_percent", f_encode_percent, 0, S, REQ ("value", S), OPT ("ascii_set", S)),
  FN ("encode_zlib", f_encode_zlib, 0, S, REQ ("value", S), OPT ("compression_level", I)),
  FN ("hmac", f_hmac, 0, S, REQ ("value", S), REQ ("key", S), OPT ("algorithm", S)),
  FN ("is_json", f_is_json, 0, B, REQ ("value", S), OPT ("variant", S)),
  FN ("md5", f_md5, 0, S, REQ ("value", S)),
  FN ("parse_json", f_parse_json, FALLIBLE, ANY, REQ ("value", S), OPT ("max_depth", I), OPT ("lossy", B)),
  FN ("parse_key_value", f_parse_key_value, FALLIBLE, O, REQ ("value", S), OPT ("key_value_delimiter", S),
      OPT ("field_delimiter", S), OPT ("whitespace", S), OPT ("accept_standalone_key", B)),
  FN ("parse_logfmt", f_parse_logfmt, FALLIBLE, O, REQ ("value", S)),
  FN ("parse_query_string", f_parse_query_string, 0, O, REQ ("value", S)),
  FN ("parse_url", f_parse_url, FALLIBLE, O, REQ ("value", S), OPT ("default_known_ports", B)),
  FN ("sha1", f_sha1, 0, S, REQ ("value", S)),
  FN ("sha2", f_sha2, 0, S, REQ ("value", S), OPT ("variant", S)),
  FN ("sha3", f_sha3, 0, S, REQ ("value", S), OPT ("variant", S)),
  FN ("uuid_v4", f_uuid_v4, CDVIZ_VRL_FN_IMPURE, S),
  FN ("uuid_v7", f_uuid_v7, CDVIZ_VRL_FN_IMPURE, S, OPT ("timestamp", T)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_codec (void)
{
  return functions;
}
