/* SPDX-License-Identifier: Apache-2.0 */
#include "cdviz-vrl-stdlib-private.h"

/* String functions. Regular expressions are GRegex (PCRE2). */

static CdvizVrlValue *
take_gstring (GString *s)
{
  gsize len = s->len;

  return cdviz_vrl_bytes_take (g_string_free (s, FALSE), len);
}

IMPL (f_upcase) { return cdviz_vrl_string_take (g_utf8_strup (STR (0), LEN (0))); }
IMPL (f_downcase) { return cdviz_vrl_string_take (g_utf8_strdown (STR (0), LEN (0))); }
IMPL (f_strlen) { return cdviz_vrl_integer (g_utf8_strlen (STR (0), LEN (0))); }

static gboolean
has_sub (const char *hay,
         gsize       hay_len,
         const char *needle,
         gsize       needle_len,
         gboolean    case_sensitive)
{
  if (!case_sensitive)
    {
      g_autofree char *h = g_utf8_strdown (hay, hay_len);
      g_autofree char *n = g_utf8_strdown (needle, needle_len);

      return strstr (h, n) != NULL;
    }
  return g_strstr_len (hay, hay_len, needle) != NULL || needle_len == 0;
}

IMPL (f_contains)
{
  return cdviz_vrl_boolean (has_sub (STR (0), LEN (0), STR (1), LEN (1), BOOL_ARG (2, TRUE)));
}

IMPL (f_contains_all)
{
  for (guint i = 0; i < args[1]->array->len; i++)
    {
      CdvizVrlValue *s = g_ptr_array_index (args[1]->array, i);

      if (s->kind != S)
        return cdviz_vrl_fail_kind (error, S, s);
      if (!has_sub (STR (0), LEN (0), s->bytes.data, s->bytes.len, BOOL_ARG (2, TRUE)))
        return cdviz_vrl_boolean (FALSE);
    }
  return cdviz_vrl_boolean (TRUE);
}

static gboolean
affix (CdvizVrlValue **args,
       gboolean        prefix)
{
  gboolean cs = BOOL_ARG (2, TRUE);
  g_autofree char *h = cs ? g_strndup (STR (0), LEN (0)) : g_utf8_strdown (STR (0), LEN (0));
  g_autofree char *n = cs ? g_strndup (STR (1), LEN (1)) : g_utf8_strdown (STR (1), LEN (1));

  return prefix ? g_str_has_prefix (h, n) : g_str_has_suffix (h, n);
}

IMPL (f_starts_with) { return cdviz_vrl_boolean (affix (args, TRUE)); }
IMPL (f_ends_with) { return cdviz_vrl_boolean (affix (args, FALSE)); }

/* slice(value, start, end): strings by character? upstream: by bytes for
 * strings, by element for arrays; negative offsets from the end. */
IMPL (f_slice)
{
  gint64 len = args[0]->kind == S ? (gint64) LEN (0) : (gint64) args[0]->array->len;
  gint64 start = args[1]->integer, end = args[2] ? args[2]->integer : len;

  if (start < 0)
    start += len;
  if (end < 0)
    end += len;
  if (start < 0)
    start = 0;
  if (end > len)
    end = len;
  if (start > end)
    return cdviz_vrl_fail (error, "\"start\" must be between \"0\" and \"%" G_GINT64_FORMAT "\"", len);
  if (args[0]->kind == S)
    return cdviz_vrl_bytes (STR (0) + start, end - start);
  {
    CdvizVrlValue *out = cdviz_vrl_array_new ();

    for (gint64 i = start; i < end; i++)
      cdviz_vrl_array_append (out, cdviz_vrl_value_ref (g_ptr_array_index (args[0]->array, i)));
    return out;
  }
}

IMPL (f_strip_whitespace)
{
  g_autofree char *copy = g_strndup (STR (0), LEN (0));

  return vrl_str (g_strstrip (copy));
}

IMPL (f_truncate)
{
  gint64 limit = args[1]->integer;
  gboolean ellipsis = BOOL_ARG (2, FALSE);
  const char *suffix = args[3] ? STR (3) : (ellipsis ? "..." : "");
  glong chars = g_utf8_strlen (STR (0), LEN (0));
  const char *cut;
  GString *out;

  if (limit < 0)
    limit = 0;
  if (chars <= limit)
    return cdviz_vrl_value_ref (args[0]);
  cut = g_utf8_offset_to_pointer (STR (0), limit);
  out = g_string_new_len (STR (0), cut - STR (0));
  g_string_append (out, suffix);
  return take_gstring (out);
}

IMPL (f_split)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();
  gint64 limit = INT_ARG (2, G_MAXINT64);
  gint64 count = 0;

  if (args[1]->kind == R)
    {
      g_auto(GStrv) parts = g_regex_split_full (args[1]->re.regex, STR (0), LEN (0), 0, 0,
                                                limit > G_MAXINT ? 0 : (int) limit, NULL);

      for (guint i = 0; parts && parts[i]; i++)
        cdviz_vrl_array_append (out, vrl_str (parts[i]));
      return out;
    }
  {
    const char *p = STR (0), *end = STR (0) + LEN (0);

    if (LEN (1) == 0)
      {
        /* split into characters, with empty ends as Rust's str::split("") */
        cdviz_vrl_array_append (out, vrl_str (""));
        for (const char *c = p; c < end; c = g_utf8_next_char (c))
          cdviz_vrl_array_append (out, cdviz_vrl_bytes (c, g_utf8_next_char (c) - c));
        cdviz_vrl_array_append (out, vrl_str (""));
        return out;
      }
    while (TRUE)
      {
        const char *hit = count + 1 < limit ? g_strstr_len (p, end - p, STR (1)) : NULL;

        if (hit == NULL)
          {
            cdviz_vrl_array_append (out, cdviz_vrl_bytes (p, end - p));
            break;
          }
        cdviz_vrl_array_append (out, cdviz_vrl_bytes (p, hit - p));
        count++;
        p = hit + LEN (1);
      }
  }
  return out;
}

IMPL (f_join)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *s = g_ptr_array_index (args[0]->array, i);

      if (s->kind != S)
        {
          g_string_free (out, TRUE);
          return cdviz_vrl_fail_kind (error, S, s);
        }
      if (i > 0 && args[1])
        g_string_append_len (out, STR (1), LEN (1));
      g_string_append_len (out, s->bytes.data, s->bytes.len);
    }
  return take_gstring (out);
}

IMPL (f_replace)
{
  gint64 count = INT_ARG (3, -1);

  if (args[1]->kind == R)
    {
      /* $1, ${name}: PCRE-style references in GRegex are \1 and \g<name> */
      g_autoptr(GString) repl = g_string_new (NULL);
      const char *w = STR (2);
      g_autofree char *result = NULL;

      for (; *w; w++)
        {
          if (*w == '$' && w[1] == '$')
            {
              g_string_append_c (repl, '$');
              w++;
            }
          else if (*w == '$' && w[1] == '{')
            {
              const char *close = strchr (w, '}');

              if (close == NULL)
                g_string_append_c (repl, *w);
              else
                {
                  g_string_append_printf (repl, "\\g<%.*s>", (int) (close - w - 2), w + 2);
                  w = close;
                }
            }
          else if (*w == '$' && (g_ascii_isalnum (w[1]) || w[1] == '_'))
            {
              const char *s = w + 1;

              while (g_ascii_isalnum (*s) || *s == '_')
                s++;
              g_string_append_printf (repl, "\\g<%.*s>", (int) (s - w - 1), w + 1);
              w = s - 1;
            }
          else if (*w == '\\')
            g_string_append (repl, "\\\\");
          else
            g_string_append_c (repl, *w);
        }
      if (count < 0)
        result = g_regex_replace (args[1]->re.regex, STR (0), LEN (0), 0, repl->str, 0, error);
      else
        {
          /* replace the first @count matches */
          g_autoptr(GMatchInfo) info = NULL;
          GString *out = g_string_new (NULL);
          gint last = 0;
          gint64 n = 0;

          g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), 0, 0, &info, NULL);
          while (n < count && g_match_info_matches (info))
            {
              gint s, e;
              g_autofree char *expanded = g_match_info_expand_references (info, repl->str, NULL);

              g_match_info_fetch_pos (info, 0, &s, &e);
              g_string_append_len (out, STR (0) + last, s - last);
              g_string_append (out, expanded ? expanded : "");
              last = e;
              n++;
              g_match_info_next (info, NULL);
            }
          g_string_append_len (out, STR (0) + last, LEN (0) - last);
          return take_gstring (out);
        }
      if (result == NULL)
        return NULL;
      return cdviz_vrl_string_take (g_steal_pointer (&result));
    }
  {
    GString *out = g_string_new (NULL);
    const char *p = STR (0), *end = STR (0) + LEN (0);
    gint64 n = 0;

    if (LEN (1) == 0)
      {
        g_string_free (out, TRUE);
        return cdviz_vrl_value_ref (args[0]);
      }
    while (p <= end)
      {
        const char *hit = (count < 0 || n < count) ? g_strstr_len (p, end - p, STR (1)) : NULL;

        if (hit == NULL)
          {
            g_string_append_len (out, p, end - p);
            break;
          }
        g_string_append_len (out, p, hit - p);
        g_string_append_len (out, STR (2), LEN (2));
        p = hit + LEN (1);
        n++;
      }
    return take_gstring (out);
  }
}

/* replace_with(value, pattern, count) -> |match| { … } */
IMPL (f_replace_with)
{
  g_autoptr(GMatchInfo) info = NULL;
  GString *out = g_string_new (NULL);
  gint64 count = INT_ARG (2, -1), n = 0;
  gint last = 0;
  g_auto(GStrv) names = NULL;

  g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), 0, 0, &info, NULL);
  while ((count < 0 || n < count) && g_match_info_matches (info))
    {
      g_autoptr(CdvizVrlValue) m = cdviz_vrl_object_new ();
      g_autoptr(CdvizVrlValue) captures = cdviz_vrl_array_new ();
      g_autoptr(CdvizVrlValue) result = NULL;
      g_autofree char *whole = g_match_info_fetch (info, 0);
      gint s, e, groups = g_match_info_get_match_count (info);

      for (int i = 1; i < g_regex_get_capture_count (args[1]->re.regex) + 1; i++)
        {
          gint cs, ce;

          if (i < groups && g_match_info_fetch_pos (info, i, &cs, &ce) && cs >= 0)
            cdviz_vrl_array_append (captures, cdviz_vrl_bytes (STR (0) + cs, ce - cs));
          else
            cdviz_vrl_array_append (captures, cdviz_vrl_null ());
        }
      cdviz_vrl_object_insert (m, "string", vrl_str (whole));
      cdviz_vrl_object_insert (m, "captures", g_steal_pointer (&captures));
      g_match_info_fetch_pos (info, 0, &s, &e);
      result = cdviz_vrl_call_closure (call, &m, 1, error);
      if (result == NULL)
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      if (result->kind != S)
        {
          g_string_free (out, TRUE);
          return cdviz_vrl_fail_kind (error, S, result);
        }
      g_string_append_len (out, STR (0) + last, s - last);
      g_string_append_len (out, result->bytes.data, result->bytes.len);
      last = e;
      n++;
      g_match_info_next (info, NULL);
    }
  g_string_append_len (out, STR (0) + last, LEN (0) - last);
  return take_gstring (out);
}

IMPL (f_match)
{
  return cdviz_vrl_boolean (g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), 0, 0, NULL, NULL));
}

IMPL (f_match_any)
{
  for (guint i = 0; i < args[1]->array->len; i++)
    {
      CdvizVrlValue *re = g_ptr_array_index (args[1]->array, i);

      if (re->kind != R)
        return cdviz_vrl_fail_kind (error, R, re);
      if (g_regex_match_full (re->re.regex, STR (0), LEN (0), 0, 0, NULL, NULL))
        return cdviz_vrl_boolean (TRUE);
    }
  return cdviz_vrl_boolean (FALSE);
}

static CdvizVrlValue *
captures_object (GRegex     *regex,
                 GMatchInfo *info,
                 const char *subject,
                 gboolean    numeric)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();
  int n = g_regex_get_capture_count (regex);

  for (int i = 0; i <= n; i++)
    {
      gint s, e;
      CdvizVrlValue *v;
      char key[16];

      if (g_match_info_fetch_pos (info, i, &s, &e) && s >= 0)
        v = cdviz_vrl_bytes (subject + s, e - s);
      else
        v = cdviz_vrl_null ();
      if (numeric)
        {
          g_snprintf (key, sizeof key, "%d", i);
          cdviz_vrl_object_insert (out, key, cdviz_vrl_value_ref (v));
        }
      cdviz_vrl_value_unref (v);
    }
  /* named groups */
  {
    g_autoptr(GRegex) names_re = g_regex_new ("\\(\\?P?<([A-Za-z_][A-Za-z0-9_]*)>", 0, 0, NULL);
    g_autoptr(GMatchInfo) names = NULL;
    const char *pattern = g_regex_get_pattern (regex);

    g_regex_match (names_re, pattern, 0, &names);
    while (g_match_info_matches (names))
      {
        g_autofree char *name = g_match_info_fetch (names, 1);
        gint s, e;

        if (g_match_info_fetch_named_pos (info, name, &s, &e) && s >= 0)
          cdviz_vrl_object_insert (out, name, cdviz_vrl_bytes (subject + s, e - s));
        else
          cdviz_vrl_object_insert (out, name, cdviz_vrl_null ());
        g_match_info_next (names, NULL);
      }
  }
  return out;
}

IMPL (f_parse_regex)
{
  g_autoptr(GMatchInfo) info = NULL;

  if (!g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), 0, 0, &info, NULL))
    return cdviz_vrl_fail (error, "could not find any pattern matches");
  return captures_object (args[1]->re.regex, info, STR (0), BOOL_ARG (2, FALSE));
}

IMPL (f_parse_regex_all)
{
  g_autoptr(GMatchInfo) info = NULL;
  CdvizVrlValue *out = cdviz_vrl_array_new ();

  g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), 0, 0, &info, NULL);
  while (g_match_info_matches (info))
    {
      cdviz_vrl_array_append (out, captures_object (args[1]->re.regex, info, STR (0),
                                                    BOOL_ARG (2, FALSE)));
      g_match_info_next (info, NULL);
    }
  return out;
}

IMPL (f_find)
{
  gint64 from = INT_ARG (2, 0);

  if (from < 0 || from > (gint64) LEN (0))
    return cdviz_vrl_null ();
  if (args[1]->kind == R)
    {
      g_autoptr(GMatchInfo) info = NULL;
      gint s, e;

      if (!g_regex_match_full (args[1]->re.regex, STR (0), LEN (0), from, 0, &info, NULL))
        return cdviz_vrl_null ();
      g_match_info_fetch_pos (info, 0, &s, &e);
      return cdviz_vrl_integer (s);
    }
  {
    const char *hit = g_strstr_len (STR (0) + from, LEN (0) - from, STR (1));

    return hit ? cdviz_vrl_integer (hit - STR (0)) : cdviz_vrl_null ();
  }
}

/* --- case conversion: words split on non-alphanumerics and case changes --- */

static GPtrArray *
split_words (const char *text)
{
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  GString *word = g_string_new (NULL);

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gunichar next = g_utf8_get_char (g_utf8_next_char (p));

      if (!g_unichar_isalnum (c))
        {
          if (word->len)
            g_ptr_array_add (words, g_strdup (word->str));
          g_string_truncate (word, 0);
          continue;
        }
      if (word->len && g_unichar_isupper (c))
        {
          gunichar prev = g_utf8_get_char (g_utf8_prev_char (word->str + word->len));

          if (!g_unichar_isupper (prev) || (next && g_unichar_islower (next)))
            {
              g_ptr_array_add (words, g_strdup (word->str));
              g_string_truncate (word, 0);
            }
        }
      g_string_append_unichar (word, c);
    }
  if (word->len)
    g_ptr_array_add (words, g_strdup (word->str));
  g_string_free (word, TRUE);
  return words;
}

static CdvizVrlValue *
convert_case (const char *text,
              const char *sep,
              int         style)   /* 0 lower, 1 upper, 2 camel, 3 pascal */
{
  g_autoptr(GPtrArray) words = split_words (text);
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < words->len; i++)
    {
      g_autofree char *lower = g_utf8_strdown (words->pdata[i], -1);

      if (i > 0)
        g_string_append (out, sep);
      if (style == 1)
        {
          g_autofree char *upper = g_utf8_strup (words->pdata[i], -1);

          g_string_append (out, upper);
        }
      else if ((style == 2 && i > 0) || style == 3)
        {
          g_string_append_unichar (out, g_unichar_toupper (g_utf8_get_char (lower)));
          g_string_append (out, g_utf8_next_char (lower));
        }
      else
        g_string_append (out, lower);
    }
  return take_gstring (out);
}

IMPL (f_camelcase) { return convert_case (STR (0), "", 2); }
IMPL (f_pascalcase) { return convert_case (STR (0), "", 3); }
IMPL (f_snakecase) { return convert_case (STR (0), "_", 0); }
IMPL (f_kebabcase) { return convert_case (STR (0), "-", 0); }
IMPL (f_screamingsnakecase) { return convert_case (STR (0), "_", 1); }

IMPL (f_basename)
{
  g_autofree char *copy = g_strndup (STR (0), LEN (0));
  gsize n = strlen (copy);

  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = '\0';
  if (n == 0 || g_str_equal (copy, "/"))
    return cdviz_vrl_null ();
  {
    const char *slash = strrchr (copy, '/');
    const char *base = slash ? slash + 1 : copy;

    if (g_str_equal (base, "..") || g_str_equal (base, "."))
      return cdviz_vrl_null ();
    return vrl_str (base);
  }
}

IMPL (f_dirname)
{
  g_autofree char *copy = g_strndup (STR (0), LEN (0));
  gsize n = strlen (copy);
  char *slash;

  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = '\0';
  slash = strrchr (copy, '/');
  if (slash == NULL)
    return vrl_str (".");
  if (slash == copy)
    return vrl_str ("/");
  *slash = '\0';
  while (slash > copy + 1 && slash[-1] == '/')
    *--slash = '\0';
  return vrl_str (copy);
}

IMPL (f_split_path)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();
  g_auto(GStrv) parts = g_strsplit (STR (0), "/", -1);

  if (STR (0)[0] == '/')
    cdviz_vrl_array_append (out, vrl_str ("/"));
  for (guint i = 0; parts[i]; i++)
    if (*parts[i])
      cdviz_vrl_array_append (out, vrl_str (parts[i]));
  return out;
}

IMPL (f_shannon_entropy)
{
  const char *seg = args[1] ? STR (1) : "byte";
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  double total = 0, entropy = 0;
  GHashTableIter iter;
  gpointer k, v;

  if (g_str_equal (seg, "byte"))
    for (gsize i = 0; i < LEN (0); i++)
      {
        char key[2] = { STR (0)[i], 0 };
        char *dup = g_strdup_printf ("%d", (guchar) key[0]);

        g_hash_table_insert (counts, dup, GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (counts, dup)) + 1));
        total++;
      }
  else
    for (const char *p = STR (0); *p; p = g_utf8_next_char (p))
      {
        char *dup = g_strndup (p, g_utf8_next_char (p) - p);

        g_hash_table_insert (counts, dup, GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (counts, dup)) + 1));
        total++;
      }
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, &k, &v))
    {
      double p = GPOINTER_TO_INT (v) / total;

      entropy -= p * log2 (p);
    }
  return cdviz_vrl_float (entropy);
}

IMPL (f_strip_ansi_escape_codes)
{
  g_autoptr(GRegex) re = g_regex_new ("\\x1b\\[[0-9;?]*[A-Za-z]|\\x1b\\][^\\x07]*\\x07", 0, 0, NULL);

  return cdviz_vrl_string_take (g_regex_replace_literal (re, STR (0), LEN (0), 0, "", 0, NULL));
}

static const CdvizVrlFunction functions[] = {
  FN ("basename", f_basename, FALLIBLE, S | N, REQ ("value", S)),
  FN ("camelcase", f_camelcase, 0, S, REQ ("value", S), OPT ("original_case", S)),
  FN ("contains", f_contains, 0, B, REQ ("value", S), REQ ("substring", S), OPT ("case_sensitive", B)),
  FN ("contains_all", f_contains_all, 0, B, REQ ("value", S), REQ ("substrings", A), OPT ("case_sensitive", B)),
  FN ("dirname", f_dirname, FALLIBLE, S, REQ ("value", S)),
  FN ("downcase", f_downcase, 0, S, REQ ("value", S)),
  FN ("ends_with", f_ends_with, 0, B, REQ ("value", S), REQ ("substring", S), OPT ("case_sensitive", B)),
  FN ("find", f_find, 0, I | N, REQ ("value", S), REQ ("pattern", S | R), OPT ("from", I)),
  FN ("join", f_join, FALLIBLE, S, REQ ("value", A), OPT ("separator", S)),
  FN ("kebabcase", f_kebabcase, 0, S, REQ ("value", S), OPT ("original_case", S)),
  FN ("match", f_match, 0, B, REQ ("value", S), REQ ("pattern", R)),
  FN ("match_any", f_match_any, 0, B, REQ ("value", S), REQ ("patterns", A)),
  FN ("parse_regex", f_parse_regex, FALLIBLE, O, REQ ("value", S), REQ ("pattern", R), OPT ("numeric_groups", B)),
  FN ("parse_regex_all", f_parse_regex_all, FALLIBLE, A, REQ ("value", S), REQ ("pattern", R), OPT ("numeric_groups", B)),
  FN ("pascalcase", f_pascalcase, 0, S, REQ ("value", S), OPT ("original_case", S)),
  FN ("replace", f_replace, 0, S, REQ ("value", S), REQ ("pattern", S | R), REQ ("with", S), OPT ("count", I)),
  { .name = "replace_with", .impl = f_replace_with, .flags = CDVIZ_VRL_FN_CLOSURE, .returns = S,
    .closure_min = 1, .closure_max = 1,
    .params = { REQ ("value", S), REQ ("pattern", R), OPT ("count", I) } },
  FN ("screamingsnakecase", f_screamingsnakecase, 0, S, REQ ("value", S), OPT ("original_case", S)),
  FN ("shannon_entropy", f_shannon_entropy, 0, F, REQ ("value", S), OPT ("segmentation", S)),
  FN ("slice", f_slice, FALLIBLE | CDVIZ_VRL_FN_RETURNS_ARG0, S | A, REQ ("value", S | A), REQ ("start", I), OPT ("end", I)),
  FN ("snakecase", f_snakecase, 0, S, REQ ("value", S), OPT ("original_case", S)),
  FN ("split", f_split, 0, A, REQ ("value", S), REQ ("pattern", S | R), OPT ("limit", I)),
  FN ("split_path", f_split_path, 0, A, REQ ("value", S)),
  FN ("starts_with", f_starts_with, 0, B, REQ ("value", S), REQ ("substring", S), OPT ("case_sensitive", B)),
  FN ("strip_ansi_escape_codes", f_strip_ansi_escape_codes, 0, S, REQ ("value", S)),
  FN ("strip_whitespace", f_strip_whitespace, 0, S, REQ ("value", S)),
  FN ("strlen", f_strlen, 0, I, REQ ("value", S)),
  FN ("truncate", f_truncate, 0, S, REQ ("value", S), REQ ("limit", I), OPT ("ellipsis", B), OPT ("suffix", S)),
  FN ("upcase", f_upcase, 0, S, REQ ("value", S)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_string (void)
{
  return functions;
}
