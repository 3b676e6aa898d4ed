/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include <gcrypt.h>

#include "cdviz-vrl-stdlib-private.h"

/* Parsing and coercion functions of upstream's standard library that need
 * nothing beyond GLib: units (parse_bytes, parse_duration), syslog names,
 * CSV rows, punycode (GLib's IDNA), character sets and MIME words (GLib's
 * iconv), character filters (sieve, redact) and random values (GRand). */

/* --- units ----------------------------------------------------------------- */

typedef struct {
  const char *name;
  double factor;
} Unit;

static const Unit duration_units[] = {
  { "ns", 1e-9 }, { "us", 1e-6 }, { "µs", 1e-6 }, { "ms", 1e-3 }, { "cs", 1e-2 },
  { "ds", 1e-1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, { "w", 604800 },
  { NULL, 0 }
};

static gboolean
unit_factor (const Unit *units,
             const char *name,
             gsize       len,
             double     *factor)
{
  for (guint i = 0; units[i].name != NULL; i++)
    if (strlen (units[i].name) == len && strncmp (units[i].name, name, len) == 0)
      {
        *factor = units[i].factor;
        return TRUE;
      }
  return FALSE;
}

/* "1s 1ms", "1005ms": a sum of NUMBER UNIT terms, in @unit. */
IMPL (f_parse_duration)
{
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  const char *s = text;
  double total = 0, out;
  gboolean any = FALSE;

  if (!unit_factor (duration_units, STR (1), LEN (1), &out))
    return cdviz_vrl_fail (error, "unknown unit format: '%.*s'", (int) LEN (1), STR (1));
  while (*s)
    {
      char *end;
      double n, factor;
      const char *u;

      while (g_ascii_isspace (*s))
        s++;
      if (*s == '\0')
        break;
      n = g_ascii_strtod (s, &end);
      if (end == s)
        return cdviz_vrl_fail (error, "unable to parse duration: '%s'", text);
      u = end;
      while (*end && !g_ascii_isspace (*end) && !g_ascii_isdigit (*end) && *end != '.')
        end++;
      if (!unit_factor (duration_units, u, end - u, &factor))
        return cdviz_vrl_fail (error, "unable to parse duration: '%s'", text);
      total += n * factor;
      any = TRUE;
      s = end;
    }
  if (!any)
    return cdviz_vrl_fail (error, "unable to parse duration: '%s'", text);
  return cdviz_vrl_float (total / out);
}

/* B, kB/KB, KiB, … EiB; "KB" means 1024 with base "2" (the default). */
static gboolean
bytes_factor (const char *unit,
              gsize       len,
              gboolean    binary,
              double     *factor)
{
  static const char prefixes[] = "KMGTPE";
  const char *p;

  if (len == 1 && unit[0] == 'B')
    {
      *factor = 1;
      return TRUE;
    }
  if (len < 2 || unit[len - 1] != 'B' || (p = strchr (prefixes, g_ascii_toupper (unit[0]))) == NULL)
    return FALSE;
  if (len == 3 && unit[1] == 'i')
    *factor = pow (1024, p - prefixes + 1);
  else if (len == 2)
    *factor = pow (binary ? 1024 : 1000, p - prefixes + 1);
  else
    return FALSE;
  return TRUE;
}

IMPL (f_parse_bytes)
{
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  gboolean binary = args[2] == NULL || (LEN (2) == 1 && STR (2)[0] == '2');
  double n, from, to;
  char *end;

  if (args[2] != NULL && !(LEN (2) == 1 && (STR (2)[0] == '2' || STR (2)[0] == '0')) &&
      !(LEN (2) == 2 && strncmp (STR (2), "10", 2) == 0))
    return cdviz_vrl_fail (error, "unknown base: '%.*s'", (int) LEN (2), STR (2));
  if (!bytes_factor (STR (1), LEN (1), binary, &to))
    return cdviz_vrl_fail (error, "unknown unit format: '%.*s'", (int) LEN (1), STR (1));
  n = g_ascii_strtod (text, &end);
  if (end == text)
    return cdviz_vrl_fail (error, "unable to parse bytes: '%s'", text);
  while (g_ascii_isspace (*end))
    end++;
  if (!bytes_factor (end, strlen (end), binary, &from))
    return cdviz_vrl_fail (error, "unable to parse bytes: '%s'", text);
  return cdviz_vrl_float (n * from / to);
}

/* --- syslog ---------------------------------------------------------------- */

static const char *const levels[] = {
  "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL
};
static const char *const facilities[] = {
  "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
  "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
  "local2", "local3", "local4", "local5", "local6", "local7", NULL
};

static CdvizVrlValue *
code_to_name (const char *const *names,
              gint64             code,
              const char        *what,
              GError           **error)
{
  if (code < 0 || code >= (gint64) g_strv_length ((char **) names))
    return cdviz_vrl_fail (error, "%s code %" G_GINT64_FORMAT " is invalid", what, code);
  return vrl_str (names[code]);
}

static CdvizVrlValue *
name_to_code (const char *const *names,
              const CdvizVrlValue *value,
              const char        *what,
              GError           **error)
{
  g_autofree char *name = g_strndup (value->bytes.data, value->bytes.len);

  for (guint i = 0; names[i] != NULL; i++)
    if (g_str_equal (names[i], name))
      return cdviz_vrl_integer (i);
  if (names == levels)
    {
      static const struct { const char *name; gint64 code; } aliases[] = {
        { "emergency", 0 }, { "panic", 0 }, { "critical", 2 }, { "error", 3 },
        { "warn", 4 }, { "informational", 6 },
      };

      for (guint i = 0; i < G_N_ELEMENTS (aliases); i++)
        if (g_str_equal (aliases[i].name, name))
          return cdviz_vrl_integer (aliases[i].code);
    }
  return cdviz_vrl_fail (error, "%s %s is invalid", what, name);
}

IMPL (f_to_syslog_level)
{
  return code_to_name (levels, args[0]->integer, "severity level", error);
}

IMPL (f_to_syslog_severity)
{
  return name_to_code (levels, args[0], "syslog level", error);
}

IMPL (f_to_syslog_facility)
{
  return code_to_name (facilities, args[0]->integer, "facility code", error);
}

IMPL (f_to_syslog_facility_code)
{
  return name_to_code (facilities, args[0], "syslog facility", error);
}

/* --- CSV --------------------------------------------------------------------- */

/* One row, RFC 4180 quoting: "a,""b""" → a,"b". */
IMPL (f_parse_csv)
{
  const char *s = STR (0), *end = s + LEN (0);
  char delimiter = args[1] ? (LEN (1) == 1 ? STR (1)[0] : 0) : ',';
  CdvizVrlValue *row;
  g_autoptr(GString) field = g_string_new (NULL);

  if (delimiter == 0)
    return cdviz_vrl_fail (error, "delimiter must be a single character");
  row = cdviz_vrl_array_new ();
  if (s == end)
    return row;
  for (;;)
    {
      g_string_truncate (field, 0);
      if (s < end && *s == '"')
        {
          for (s++; s < end; s++)
            {
              if (*s == '"' && s + 1 < end && s[1] == '"')
                g_string_append_c (field, *s++);
              else if (*s == '"')
                {
                  s++;
                  break;
                }
              else
                g_string_append_c (field, *s);
            }
          while (s < end && *s != delimiter && *s != '\n')
            g_string_append_c (field, *s++);
        }
      else
        while (s < end && *s != delimiter && *s != '\n' && !(*s == '\r' && s + 1 < end && s[1] == '\n'))
          g_string_append_c (field, *s++);
      cdviz_vrl_array_append (row, cdviz_vrl_bytes (field->str, field->len));
      if (s < end && *s == delimiter)
        {
          s++;
          continue;
        }
      break;
    }
  return row;
}

IMPL (f_encode_csv)
{
  char delimiter = args[1] ? (LEN (1) == 1 ? STR (1)[0] : 0) : ',';
  g_autoptr(GString) out = g_string_new (NULL);

  if (delimiter == 0)
    return cdviz_vrl_fail (error, "delimiter must be a single character");
  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *item = args[0]->array->pdata[i];
      g_autofree char *text = NULL;
      gsize len;

      if (item->kind == CDVIZ_VRL_BYTES)
        {
          text = g_strndup (item->bytes.data, item->bytes.len);
          len = item->bytes.len;
        }
      else if (item->kind == CDVIZ_VRL_NULL)
        text = g_strdup ("");
      else if (item->kind & (CDVIZ_VRL_INTEGER | CDVIZ_VRL_FLOAT | CDVIZ_VRL_BOOLEAN))
        text = cdviz_vrl_value_to_json (item, FALSE);
      else
        return cdviz_vrl_fail (error, "encode_csv: unsupported item kind %s",
                               cdviz_vrl_kind_name (item->kind));
      len = strlen (text);
      if (i > 0)
        g_string_append_c (out, delimiter);
      if (memchr (text, delimiter, len) || memchr (text, '"', len) || memchr (text, '\n', len) ||
          memchr (text, '\r', len))
        {
          g_string_append_c (out, '"');
          for (gsize j = 0; j < len; j++)
            {
              if (text[j] == '"')
                g_string_append_c (out, '"');
              g_string_append_c (out, text[j]);
            }
          g_string_append_c (out, '"');
        }
      else
        g_string_append_len (out, text, len);
    }
  return cdviz_vrl_bytes (out->str, out->len);
}

/* --- punycode (GLib's IDNA) -------------------------------------------------- */

IMPL (f_encode_punycode)
{
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  g_autofree char *ascii = NULL;

  if (g_str_is_ascii (text) && !BOOL_ARG (1, TRUE))
    return cdviz_vrl_value_ref (args[0]);
  ascii = g_hostname_to_ascii (text);
  if (ascii == NULL)
    return cdviz_vrl_fail (error, "unable to encode to punycode: '%s'", text);
  return cdviz_vrl_string_take (g_steal_pointer (&ascii));
}

IMPL (f_decode_punycode)
{
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  g_autofree char *unicode = g_hostname_to_unicode (text);

  if (unicode == NULL)
    return cdviz_vrl_fail (error, "unable to decode punycode: '%s'", text);
  return cdviz_vrl_string_take (g_utf8_strdown (unicode, -1));
}

/* --- character sets (GLib's iconv) -------------------------------------------- */

IMPL (f_encode_charset)
{
  g_autofree char *to = g_strndup (STR (1), LEN (1));
  g_autoptr(GError) local = NULL;
  gsize written = 0;
  char *out = g_convert (STR (0), LEN (0), to, "UTF-8", NULL, &written, &local);

  if (out == NULL)
    return cdviz_vrl_fail (error, "unable to encode to %s: %s", to, local->message);
  return cdviz_vrl_bytes_take (out, written);
}

IMPL (f_decode_charset)
{
  g_autofree char *from = g_strndup (STR (1), LEN (1));
  g_autoptr(GError) local = NULL;
  gsize written = 0;
  char *out = g_convert (STR (0), LEN (0), "UTF-8", from, NULL, &written, &local);

  if (out == NULL)
    return cdviz_vrl_fail (error, "unable to decode from %s: %s", from, local->message);
  return cdviz_vrl_bytes_take (out, written);
}

/* RFC 2047 encoded words, =?charset?b|q?text?= (the =? … ?= may be left out). */
IMPL (f_decode_mime_q)
{
  g_autoptr(GRegex) word = g_regex_new ("(?:=\\?([^?\\s]*))?\\?([bBqQ])\\?([^?\\s]*)(?:\\?=)?",
                                        0, 0, NULL);
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GMatchInfo) info = NULL;
  const char *last = text;

  g_regex_match (word, text, 0, &info);
  while (g_match_info_matches (info))
    {
      g_autofree char *charset = g_match_info_fetch (info, 1);
      g_autofree char *kind = g_match_info_fetch (info, 2);
      g_autofree char *data = g_match_info_fetch (info, 3);
      g_autofree char *decoded = NULL;
      gsize len = 0;
      int start, end;

      g_match_info_fetch_pos (info, 0, &start, &end);
      g_string_append_len (out, last, text + start - last);
      if (g_ascii_tolower (kind[0]) == 'b')
        decoded = (char *) g_base64_decode (data, &len);
      else
        {
          GString *q = g_string_new (NULL);

          for (const char *p = data; *p; p++)
            if (*p == '_')
              g_string_append_c (q, ' ');
            else if (*p == '=' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
              {
                g_string_append_c (q, (char) (g_ascii_xdigit_value (p[1]) * 16 +
                                              g_ascii_xdigit_value (p[2])));
                p += 2;
              }
            else
              g_string_append_c (q, *p);
          len = q->len;
          decoded = g_string_free (q, FALSE);
        }
      if (charset != NULL && *charset != '\0' && g_ascii_strcasecmp (charset, "utf-8") != 0)
        {
          char *converted = g_convert (decoded, len, "UTF-8", charset, NULL, &len, NULL);

          if (converted == NULL)
            return cdviz_vrl_fail (error, "unable to decode from %s", charset);
          g_free (decoded);
          decoded = converted;
        }
      g_string_append_len (out, decoded, len);
      last = text + end;
      g_match_info_next (info, NULL);
    }
  g_string_append (out, last);
  return cdviz_vrl_bytes (out->str, out->len);
}

/* --- filters ----------------------------------------------------------------- */

IMPL (f_sieve)
{
  GRegex *re = args[1]->re.regex;
  g_autofree char *text = g_strndup (STR (0), LEN (0));
  g_autoptr(GString) out = g_string_new (NULL);
  guint removed = 0;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      char one[8] = { 0 };
      gboolean keep;

      memcpy (one, p, g_utf8_next_char (p) - p);
      keep = g_regex_match (re, one, 0, NULL);
      if (!keep)
        {
          removed++;
          continue;
        }
      if (removed == 1 && args[2] != NULL)
        g_string_append_len (out, STR (2), LEN (2));
      else if (removed > 1 && args[3] != NULL)
        g_string_append_len (out, STR (3), LEN (3));
      removed = 0;
      g_string_append (out, one);
    }
  if (removed == 1 && args[2] != NULL)
    g_string_append_len (out, STR (2), LEN (2));
  else if (removed > 1 && args[3] != NULL)
    g_string_append_len (out, STR (3), LEN (3));
  return cdviz_vrl_bytes (out->str, out->len);
}

#define SSN_PATTERN \
  "(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6[0-57-9][0-9]|66[0-57-9])-" \
  "(?:0[1-9]|[1-9]0|[1-9][1-9])-(?:000[1-9]|00[1-9]0|0[1-9]00|[1-9]000|[1-9]{4})"

typedef struct {
  GPtrArray *regexes;           /* GRegex */
  char *kind;                   /* "full", "text", "sha2", "sha3" */
  char *text, *variant, *encoding;
} Redactor;

static const struct { const char *name; int algo; } hashes[] = {
  { "SHA-224", GCRY_MD_SHA224 }, { "SHA-256", GCRY_MD_SHA256 }, { "SHA-384", GCRY_MD_SHA384 },
  { "SHA-512", GCRY_MD_SHA512 }, { "SHA-512/224", GCRY_MD_SHA512_224 },
  { "SHA-512/256", GCRY_MD_SHA512_256 }, { "SHA3-224", GCRY_MD_SHA3_224 },
  { "SHA3-256", GCRY_MD_SHA3_256 }, { "SHA3-384", GCRY_MD_SHA3_384 },
  { "SHA3-512", GCRY_MD_SHA3_512 },
};

static char *
redaction (Redactor   *r,
           const char *match)
{
  const char *variant = r->variant;
  guint8 digest[64];
  int algo = 0;

  if (g_str_equal (r->kind, "full"))
    return g_strdup ("[REDACTED]");
  if (g_str_equal (r->kind, "text"))
    return g_strdup (r->text);
  if (variant == NULL)
    variant = g_str_equal (r->kind, "sha3") ? "SHA3-512" : "SHA-512/256";
  for (guint i = 0; i < G_N_ELEMENTS (hashes); i++)
    if (g_str_equal (hashes[i].name, variant))
      algo = hashes[i].algo;
  if (algo == 0)
    return NULL;
  gcry_md_hash_buffer (algo, digest, match, strlen (match));
  if (g_strcmp0 (r->encoding, "base16") == 0)
    {
      GString *hex = g_string_new (NULL);

      for (guint i = 0; i < gcry_md_get_algo_dlen (algo); i++)
        g_string_append_printf (hex, "%02x", digest[i]);
      return g_string_free (hex, FALSE);
    }
  return g_base64_encode (digest, gcry_md_get_algo_dlen (algo));
}

static CdvizVrlValue *
redact_value (Redactor      *r,
              CdvizVrlValue *value,
              GError       **error)
{
  if (value->kind == CDVIZ_VRL_BYTES)
    {
      g_autofree char *text = g_strndup (value->bytes.data, value->bytes.len);

      for (guint i = 0; i < r->regexes->len; i++)
        {
          g_autoptr(GMatchInfo) info = NULL;
          g_autoptr(GString) out = g_string_new (NULL);
          const char *last = text;

          g_regex_match (r->regexes->pdata[i], text, 0, &info);
          while (g_match_info_matches (info))
            {
              int start, end;
              g_autofree char *m = g_match_info_fetch (info, 0);
              g_autofree char *repl = redaction (r, m);

              if (repl == NULL)
                return cdviz_vrl_fail (error, "unsupported redactor");
              g_match_info_fetch_pos (info, 0, &start, &end);
              g_string_append_len (out, last, text + start - last);
              g_string_append (out, repl);
              last = text + end;
              g_match_info_next (info, NULL);
            }
          g_string_append (out, last);
          g_free (text);
          text = g_string_free (g_steal_pointer (&out), FALSE);
        }
      return cdviz_vrl_string_take (g_steal_pointer (&text));
    }
  if (value->kind == CDVIZ_VRL_ARRAY || value->kind == CDVIZ_VRL_OBJECT)
    {
      CdvizVrlValue *copy = cdviz_vrl_value_shallow_copy (value);
      guint n = value->kind == CDVIZ_VRL_ARRAY ? value->array->len : value->object->len;

      for (guint i = 0; i < n; i++)
        {
          CdvizVrlValue **slot = value->kind == CDVIZ_VRL_ARRAY ?
            (CdvizVrlValue **) &copy->array->pdata[i] : &cdviz_vrl_object_entry (copy, i)->value;
          CdvizVrlValue *item = redact_value (r, *slot, error);

          if (item == NULL)
            {
              cdviz_vrl_value_unref (copy);
              return NULL;
            }
          cdviz_vrl_value_unref (*slot);
          *slot = item;
        }
      return copy;
    }
  return cdviz_vrl_value_ref (value);
}

static char *
object_string (const CdvizVrlValue *object,
               const char          *key)
{
  CdvizVrlValue *v = cdviz_vrl_object_get (object, key);

  return v != NULL && v->kind == CDVIZ_VRL_BYTES ? g_strndup (v->bytes.data, v->bytes.len) : NULL;
}

/* The filters must be written in the program, and known (upstream's E403). */
static gboolean
redact_compile (CdvizVrlNode  *call,
                GError       **error)
{
  CdvizVrlNode *filters = call->args[1];

  if (filters->kind != VRL_N_ARRAY)
    goto bad;
  for (guint i = 0; i < filters->children->len; i++)
    {
      CdvizVrlNode *f = filters->children->pdata[i];
      CdvizVrlValue *name = NULL;

      if (f->kind == VRL_N_LITERAL && f->value->kind == CDVIZ_VRL_REGEX)
        continue;
      if (f->kind == VRL_N_LITERAL && f->value->kind == CDVIZ_VRL_BYTES)
        name = f->value;
      else if (f->kind == VRL_N_OBJECT)
        for (guint j = 0; j < f->children->len; j++)
          if (g_str_equal (f->keys[j], "type") &&
              ((CdvizVrlNode *) f->children->pdata[j])->kind == VRL_N_LITERAL)
            name = ((CdvizVrlNode *) f->children->pdata[j])->value;
      if (name == NULL || name->kind != CDVIZ_VRL_BYTES ||
          g_strcmp0 (name->bytes.data, "us_social_security_number") != 0)
        goto bad;
    }
  return TRUE;
bad:
  g_set_error_literal (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_COMPILE,
                       "invalid argument “filters”: a literal array of regexes or known "
                       "filter names");
  return FALSE;
}

IMPL (f_redact)
{
  Redactor r = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref), NULL, NULL, NULL, NULL };
  CdvizVrlValue *result = NULL;

  for (guint i = 0; i < args[1]->array->len; i++)
    {
      CdvizVrlValue *f = args[1]->array->pdata[i];
      g_autofree char *name = NULL;

      if (f->kind == CDVIZ_VRL_REGEX)
        {
          g_ptr_array_add (r.regexes, g_regex_ref (f->re.regex));
          continue;
        }
      if (f->kind == CDVIZ_VRL_BYTES)
        name = g_strndup (f->bytes.data, f->bytes.len);
      else if (f->kind == CDVIZ_VRL_OBJECT)
        name = object_string (f, "type");
      if (g_strcmp0 (name, "us_social_security_number") != 0)
        {
          cdviz_vrl_fail (error, "unknown filter: %s", name ? name : "?");
          goto out;
        }
      g_ptr_array_add (r.regexes, g_regex_new (SSN_PATTERN, 0, 0, NULL));
    }
  if (args[2] == NULL)
    r.kind = g_strdup ("full");
  else if (args[2]->kind == CDVIZ_VRL_BYTES)
    r.kind = g_strndup (STR (2), LEN (2));
  else
    {
      r.kind = object_string (args[2], "type");
      r.text = object_string (args[2], "replacement");
      r.variant = object_string (args[2], "variant");
      r.encoding = object_string (args[2], "encoding");
    }
  if (r.kind == NULL || (g_str_equal (r.kind, "text") && r.text == NULL))
    {
      cdviz_vrl_fail (error, "invalid redactor");
      goto out;
    }
  result = redact_value (&r, args[0], error);
out:
  g_ptr_array_unref (r.regexes);
  g_free (r.kind);
  g_free (r.text);
  g_free (r.variant);
  g_free (r.encoding);
  return result;
}

/* --- random (GRand, seeded per call from the system) ------------------------- */

IMPL (f_random_bool)
{
  return cdviz_vrl_boolean (g_random_boolean ());
}

IMPL (f_random_int)
{
  if (args[0]->integer >= args[1]->integer)
    return cdviz_vrl_fail (error, "max must be greater than min");
  return cdviz_vrl_integer (args[0]->integer +
                            (gint64) (g_random_double () * (double) (args[1]->integer - args[0]->integer)));
}

IMPL (f_random_float)
{
  double min = vrl_number (args[0]), max = vrl_number (args[1]);

  if (min >= max)
    return cdviz_vrl_fail (error, "max must be greater than min");
  return cdviz_vrl_float (g_random_double_range (min, max));
}

IMPL (f_random_bytes)
{
  gint64 n = args[0]->integer;
  char *data;

  if (n < 0 || n > 64 * 1024)
    return cdviz_vrl_fail (error, "length must be between 0 and 65536");
  data = g_malloc (n + 1);
  for (gint64 i = 0; i < n; i++)
    data[i] = (char) g_random_int_range (0, 256);
  data[n] = '\0';
  return cdviz_vrl_bytes_take (data, n);
}

static const CdvizVrlFunction functions[] = {
  FN ("decode_charset", f_decode_charset, FALLIBLE, S, REQ ("value", S), REQ ("from_charset", S)),
  FN ("decode_mime_q", f_decode_mime_q, FALLIBLE, S, REQ ("value", S)),
  FN ("decode_punycode", f_decode_punycode, FALLIBLE, S, REQ ("value", S), OPT ("validate", B)),
  FN ("encode_csv", f_encode_csv, FALLIBLE, S, REQ ("value", A), OPT ("delimiter", S)),
  FN ("encode_charset", f_encode_charset, FALLIBLE, S, REQ ("value", S), REQ ("to_charset", S)),
  FN ("encode_punycode", f_encode_punycode, FALLIBLE, S, REQ ("value", S), OPT ("validate", B)),
  FN ("parse_bytes", f_parse_bytes, FALLIBLE, F, REQ ("value", S), REQ ("unit", S), OPT ("base", S)),
  FN ("parse_csv", f_parse_csv, FALLIBLE, A, REQ ("value", S), OPT ("delimiter", S)),
  FN ("parse_duration", f_parse_duration, FALLIBLE, F, REQ ("value", S), REQ ("unit", S)),
  FN ("random_bool", f_random_bool, CDVIZ_VRL_FN_IMPURE, B),
  FN ("random_bytes", f_random_bytes, FALLIBLE | CDVIZ_VRL_FN_IMPURE | CONST_OK, S, REQ ("length", I)),
  FN ("random_float", f_random_float, FALLIBLE | CDVIZ_VRL_FN_IMPURE | CONST_OK, F,
      REQ ("min", I | F), REQ ("max", I | F)),
  FN ("random_int", f_random_int, FALLIBLE | CDVIZ_VRL_FN_IMPURE | CONST_OK, I,
      REQ ("min", I), REQ ("max", I)),
  { .name = "redact", .impl = f_redact, .returns = S | O | A, .compile = redact_compile,
    .params = { REQ ("value", ANY), REQ ("filters", A), OPT ("redactor", S | O) } },
  FN ("sieve", f_sieve, 0, S, REQ ("value", S), REQ ("permitted_characters", R),
      OPT ("replace_single", S), OPT ("replace_repeated", S)),
  FN ("to_syslog_facility", f_to_syslog_facility, FALLIBLE, S, REQ ("value", I)),
  FN ("to_syslog_facility_code", f_to_syslog_facility_code, FALLIBLE, I, REQ ("value", S)),
  FN ("to_syslog_level", f_to_syslog_level, FALLIBLE, S, REQ ("value", I)),
  FN ("to_syslog_severity", f_to_syslog_severity, FALLIBLE, I, REQ ("value", S)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_parse (void)
{
  return functions;
}
