/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "cdviz-vrl-stdlib-private.h"

/* Type checks, assertions, coercions and numbers. */

#define IS(fname, test) IMPL (fname) { return cdviz_vrl_boolean (test); }
IS (f_is_string, args[0]->kind == S)
IS (f_is_integer, args[0]->kind == I)
IS (f_is_float, args[0]->kind == F)
IS (f_is_boolean, args[0]->kind == B)
IS (f_is_null, args[0]->kind == N)
IS (f_is_array, args[0]->kind == A)
IS (f_is_object, args[0]->kind == O)
IS (f_is_timestamp, args[0]->kind == T)
IS (f_is_regex, args[0]->kind == R)

IMPL (f_is_nullish)
{
  CdvizVrlValue *v = args[0];

  if (v->kind == N)
    return cdviz_vrl_boolean (TRUE);
  if (v->kind == S)
    {
      g_autofree char *s = g_strndup (v->bytes.data, v->bytes.len);

      return cdviz_vrl_boolean (g_str_equal (s, "-") || *g_strstrip (s) == '\0');
    }
  return cdviz_vrl_boolean (FALSE);
}

IMPL (f_is_empty)
{
  CdvizVrlValue *v = args[0];

  if (v->kind == S)
    return cdviz_vrl_boolean (v->bytes.len == 0);
  if (v->kind == A)
    return cdviz_vrl_boolean (v->array->len == 0);
  return cdviz_vrl_boolean (v->object->len == 0);
}

/* string(), int(), … : the value itself when it has that kind. */
static CdvizVrlValue *
assert_kind (CdvizVrlValue  *v,
             guint           kind,
             GError        **error)
{
  if (v->kind != kind)
    return cdviz_vrl_fail_kind (error, kind, v);
  return cdviz_vrl_value_ref (v);
}

IMPL (f_string) { return assert_kind (args[0], S, error); }
IMPL (f_int) { return assert_kind (args[0], I, error); }
IMPL (f_float) { return assert_kind (args[0], F, error); }
IMPL (f_bool) { return assert_kind (args[0], B, error); }
IMPL (f_object) { return assert_kind (args[0], O, error); }
IMPL (f_array) { return assert_kind (args[0], A, error); }
IMPL (f_timestamp) { return assert_kind (args[0], T, error); }

IMPL (f_to_int)
{
  CdvizVrlValue *v = args[0];

  switch (v->kind)
    {
    case CDVIZ_VRL_INTEGER: return cdviz_vrl_value_ref (v);
    case CDVIZ_VRL_FLOAT: return cdviz_vrl_integer ((gint64) v->number);
    case CDVIZ_VRL_BOOLEAN: return cdviz_vrl_integer (v->boolean);
    case CDVIZ_VRL_NULL: return cdviz_vrl_integer (0);
    case CDVIZ_VRL_TIMESTAMP: return cdviz_vrl_integer (v->ts.seconds);
    case CDVIZ_VRL_BYTES:
      {
        g_autofree char *s = g_strndup (v->bytes.data, v->bytes.len);
        char *end;
        gint64 n;

        errno = 0;
        n = g_ascii_strtoll (s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0 || g_ascii_isspace (*s))
          return cdviz_vrl_fail (error, "Invalid integer \"%s\": invalid digit found in string", s);
        return cdviz_vrl_integer (n);
      }
    default:
      return cdviz_vrl_fail (error, "unable to coerce %s into integer", cdviz_vrl_kind_name (v->kind));
    }
}

IMPL (f_to_float)
{
  CdvizVrlValue *v = args[0];

  switch (v->kind)
    {
    case CDVIZ_VRL_INTEGER: return cdviz_vrl_float (v->integer);
    case CDVIZ_VRL_FLOAT: return cdviz_vrl_value_ref (v);
    case CDVIZ_VRL_BOOLEAN: return cdviz_vrl_float (v->boolean);
    case CDVIZ_VRL_NULL: return cdviz_vrl_float (0);
    case CDVIZ_VRL_TIMESTAMP: return cdviz_vrl_float (v->ts.seconds + v->ts.nanos / 1e9);
    case CDVIZ_VRL_BYTES:
      {
        g_autofree char *s = g_strndup (v->bytes.data, v->bytes.len);
        char *end;
        double d = g_ascii_strtod (s, &end);

        if (*s == '\0' || *end != '\0' || g_ascii_isspace (*s))
          return cdviz_vrl_fail (error, "Invalid floating point number \"%s\": invalid float literal", s);
        return cdviz_vrl_float (d);
      }
    default:
      return cdviz_vrl_fail (error, "unable to coerce %s into float", cdviz_vrl_kind_name (v->kind));
    }
}

IMPL (f_to_bool)
{
  CdvizVrlValue *v = args[0];

  switch (v->kind)
    {
    case CDVIZ_VRL_BOOLEAN: return cdviz_vrl_value_ref (v);
    case CDVIZ_VRL_INTEGER: return cdviz_vrl_boolean (v->integer != 0);
    case CDVIZ_VRL_FLOAT: return cdviz_vrl_boolean (v->number != 0);
    case CDVIZ_VRL_NULL: return cdviz_vrl_boolean (FALSE);
    case CDVIZ_VRL_BYTES:
      {
        g_autofree char *s = g_ascii_strdown (v->bytes.data, v->bytes.len);
        static const char *const yes[] = { "true", "t", "yes", "y", "1", NULL };
        static const char *const no[] = { "false", "f", "no", "n", "0", NULL };

        if (g_strv_contains (yes, s))
          return cdviz_vrl_boolean (TRUE);
        if (g_strv_contains (no, s))
          return cdviz_vrl_boolean (FALSE);
        return cdviz_vrl_fail (error, "Invalid boolean value \"%.*s\"", (int) v->bytes.len, v->bytes.data);
      }
    default:
      return cdviz_vrl_fail (error, "unable to coerce %s into boolean", cdviz_vrl_kind_name (v->kind));
    }
}

/* Rust's Display for f64: no exponent, shortest digits, "1" for 1.0. */
static char *
display_float (double d)
{
  char *text = cdviz_vrl_format_float (d);

  if (strchr (text, 'e') != NULL)
    {
      g_free (text);
      text = g_strdup_printf ("%.17g", d);
    }
  if (g_str_has_suffix (text, ".0"))
    text[strlen (text) - 2] = '\0';
  return text;
}

IMPL (f_to_string)
{
  CdvizVrlValue *v = args[0];

  switch (v->kind)
    {
    case CDVIZ_VRL_BYTES: return cdviz_vrl_value_ref (v);
    case CDVIZ_VRL_INTEGER: return cdviz_vrl_string_take (g_strdup_printf ("%" G_GINT64_FORMAT, v->integer));
    case CDVIZ_VRL_FLOAT: return cdviz_vrl_string_take (display_float (v->number));
    case CDVIZ_VRL_BOOLEAN: return vrl_str (v->boolean ? "true" : "false");
    case CDVIZ_VRL_NULL: return vrl_str ("");
    case CDVIZ_VRL_TIMESTAMP: return cdviz_vrl_string_take (cdviz_vrl_timestamp_to_rfc3339 (v, TRUE));
    default:
      return cdviz_vrl_fail (error, "unable to coerce %s into string", cdviz_vrl_kind_name (v->kind));
    }
}

IMPL (f_to_regex)
{
  g_autofree char *pattern = g_strndup (STR (0), LEN (0));
  g_autoptr(GError) local_error = NULL;
  CdvizVrlValue *re = cdviz_vrl_regex (pattern, &local_error);

  if (re == NULL)
    return cdviz_vrl_fail (error, "could not create regex from pattern: %s", local_error->message);
  return re;
}

IMPL (f_parse_int)
{
  g_autofree char *s = g_strndup (STR (0), LEN (0));
  const char *p = s;
  gboolean neg = FALSE;
  int base = args[1] ? (int) args[1]->integer : 10;
  guint64 n;
  char *end;

  if (*p == '-')
    {
      neg = TRUE;
      p++;
    }
  if (args[1] == NULL)
    {
      if (g_str_has_prefix (p, "0x")) { base = 16; p += 2; }
      else if (g_str_has_prefix (p, "0o")) { base = 8; p += 2; }
      else if (g_str_has_prefix (p, "0b")) { base = 2; p += 2; }
      else if (p[0] == '0' && p[1] != '\0') { base = 8; p += 1; }
    }
  if (base < 2 || base > 36)
    return cdviz_vrl_fail (error, "invalid base %d: must be be between 2 and 36 (inclusive)", base);
  errno = 0;
  n = g_ascii_strtoull (p, &end, base);
  if (*p == '\0' || *end != '\0' || errno != 0 || *p == '+' || *p == '-')
    return cdviz_vrl_fail (error, "could not parse integer: invalid digit found in string");
  return cdviz_vrl_integer (neg ? -(gint64) n : (gint64) n);
}

IMPL (f_parse_float)
{
  g_autofree char *s = g_strndup (STR (0), LEN (0));
  char *end;
  double d = g_ascii_strtod (s, &end);

  if (*s == '\0' || *end != '\0')
    return cdviz_vrl_fail (error, "could not parse float: invalid float literal");
  return cdviz_vrl_float (d);
}

IMPL (f_abs)
{
  if (args[0]->kind == I)
    return cdviz_vrl_integer (args[0]->integer < 0 ? -args[0]->integer : args[0]->integer);
  return cdviz_vrl_float (fabs (args[0]->number));
}

static CdvizVrlValue *
rounding (CdvizVrlValue **args,
          double (*op) (double))
{
  gint64 precision = INT_ARG (1, 0);
  double scale = pow (10, precision);

  if (args[0]->kind == I)
    return cdviz_vrl_value_ref (args[0]);
  if (precision == 0)
    return cdviz_vrl_float (op (args[0]->number));
  return cdviz_vrl_float (op (args[0]->number * scale) / scale);
}

IMPL (f_ceil) { return rounding (args, ceil); }
IMPL (f_floor) { return rounding (args, floor); }
IMPL (f_round) { return rounding (args, round); }

IMPL (f_mod)
{
  double x = vrl_number (args[0]), y = vrl_number (args[1]);

  if (y == 0)
    return cdviz_vrl_fail (error, "can't calculate remainder with a divisor of zero");
  if (args[0]->kind == I && args[1]->kind == I)
    return cdviz_vrl_integer (args[1]->integer == -1 ? 0 : args[0]->integer % args[1]->integer);
  return cdviz_vrl_float (fmod (x, y));
}

IMPL (f_format_int)
{
  gint64 base = INT_ARG (1, 10), n = args[0]->integer;
  GString *out = g_string_new (NULL);
  guint64 u = n < 0 ? (guint64) (-(n + 1)) + 1 : (guint64) n;

  if (base < 2 || base > 36)
    {
      g_string_free (out, TRUE);
      return cdviz_vrl_fail (error, "invalid base %" G_GINT64_FORMAT ": must be be between 2 and 36 (inclusive)", base);
    }
  do
    {
      g_string_prepend_c (out, "0123456789abcdefghijklmnopqrstuvwxyz"[u % base]);
      u /= base;
    }
  while (u > 0);
  if (n < 0)
    g_string_prepend_c (out, '-');
  return cdviz_vrl_string_take (g_string_free (out, FALSE));
}

IMPL (f_format_number)
{
  double d = vrl_number (args[0]);
  const char *dec = args[2] ? STR (2) : ".", *group = args[3] ? STR (3) : "";
  g_autofree char *text = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  char *point;
  gsize int_len, start;

  if (args[1] != NULL)
    text = g_strdup_printf ("%.*f", (int) args[1]->integer, d);
  else if (args[0]->kind == I)
    text = g_strdup_printf ("%" G_GINT64_FORMAT, args[0]->integer);
  else
    text = display_float (d);
  point = strchr (text, '.');
  int_len = point ? (gsize) (point - text) : strlen (text);
  start = text[0] == '-' ? 1 : 0;
  g_string_append_len (out, text, start);
  for (gsize i = start; i < int_len; i++)
    {
      if (i > start && (int_len - i) % 3 == 0)
        g_string_append (out, group);
      g_string_append_c (out, text[i]);
    }
  if (point)
    {
      g_string_append (out, dec);
      g_string_append (out, point + 1);
    }
  return cdviz_vrl_bytes (out->str, out->len);
}

IMPL (f_assert)
{
  if (!args[0]->boolean)
    {
      if (args[1])
        return cdviz_vrl_fail (error, "%.*s", (int) LEN (1), STR (1));
      return cdviz_vrl_fail (error, "assertion failed");
    }
  return cdviz_vrl_boolean (TRUE);
}

IMPL (f_assert_eq)
{
  if (!cdviz_vrl_value_equal (args[0], args[1]))
    {
      g_autofree char *l = NULL, *r = NULL;

      if (args[2])
        return cdviz_vrl_fail (error, "%.*s", (int) LEN (2), STR (2));
      l = cdviz_vrl_value_to_vrl (args[0]);
      r = cdviz_vrl_value_to_vrl (args[1]);
      return cdviz_vrl_fail (error, "assertion failed: %s == %s", l, r);
    }
  return cdviz_vrl_boolean (TRUE);
}

/* type_def(): the compiler replaces the call by its result. */
IMPL (f_type_def)
{
  return cdviz_vrl_null ();
}

#define TYPE_ASSERT(fname, fimpl, kind) \
  { .name = fname, .impl = fimpl, .flags = CDVIZ_VRL_FN_RETURNS_ARG0, .returns = kind, \
    .infallible_if = kind, \
    .params = { REQ ("value", ANY) } }
#define COERCE(fname, fimpl, kind, ok) \
  { .name = fname, .impl = fimpl, .returns = kind, .infallible_if = ok, \
    .params = { REQ ("value", ANY) } }

static const CdvizVrlFunction functions[] = {
  FN ("abs", f_abs, CDVIZ_VRL_FN_RETURNS_ARG0, I | F, REQ ("value", I | F)),
  TYPE_ASSERT ("array", f_array, A),
  FN ("assert", f_assert, FALLIBLE, B, REQ ("condition", B), OPT ("message", S)),
  FN ("assert_eq", f_assert_eq, FALLIBLE, B, REQ ("left", ANY), REQ ("right", ANY), OPT ("message", S)),
  TYPE_ASSERT ("bool", f_bool, B),
  TYPE_ASSERT ("boolean", f_bool, B),
  FN ("ceil", f_ceil, CDVIZ_VRL_FN_RETURNS_ARG0, I | F, REQ ("value", I | F), OPT ("precision", I)),
  TYPE_ASSERT ("float", f_float, F),
  FN ("floor", f_floor, CDVIZ_VRL_FN_RETURNS_ARG0, I | F, REQ ("value", I | F), OPT ("precision", I)),
  FN ("format_int", f_format_int, FALLIBLE, S, REQ ("value", I), OPT ("base", I)),
  FN ("format_number", f_format_number, 0, S, REQ ("value", I | F), OPT ("scale", I),
      OPT ("decimal_separator", S), OPT ("grouping_separator", S)),
  TYPE_ASSERT ("int", f_int, I),
  TYPE_ASSERT ("integer", f_int, I),
  FN ("is_array", f_is_array, 0, B, REQ ("value", ANY)),
  FN ("is_boolean", f_is_boolean, 0, B, REQ ("value", ANY)),
  FN ("is_empty", f_is_empty, 0, B, REQ ("value", S | A | O)),
  FN ("is_float", f_is_float, 0, B, REQ ("value", ANY)),
  FN ("is_integer", f_is_integer, 0, B, REQ ("value", ANY)),
  FN ("is_null", f_is_null, 0, B, REQ ("value", ANY)),
  FN ("is_nullish", f_is_nullish, 0, B, REQ ("value", ANY)),
  FN ("is_object", f_is_object, 0, B, REQ ("value", ANY)),
  FN ("is_regex", f_is_regex, 0, B, REQ ("value", ANY)),
  FN ("is_string", f_is_string, 0, B, REQ ("value", ANY)),
  FN ("is_timestamp", f_is_timestamp, 0, B, REQ ("value", ANY)),
  FN ("mod", f_mod, FALLIBLE | CONST_OK, I | F, REQ ("value", I | F), REQ ("modulus", I | F)),
  TYPE_ASSERT ("object", f_object, O),
  FN ("parse_float", f_parse_float, FALLIBLE, F, REQ ("value", S)),
  FN ("parse_int", f_parse_int, FALLIBLE, I, REQ ("value", S), OPT ("base", I)),
  FN ("round", f_round, CDVIZ_VRL_FN_RETURNS_ARG0, I | F, REQ ("value", I | F), OPT ("precision", I)),
  TYPE_ASSERT ("string", f_string, S),
  TYPE_ASSERT ("timestamp", f_timestamp, T),
  COERCE ("to_bool", f_to_bool, B, B | I | F | N),
  COERCE ("to_float", f_to_float, F, I | F | B | N | T),
  COERCE ("to_int", f_to_int, I, I | F | B | N | T),
  FN ("to_regex", f_to_regex, FALLIBLE, R, REQ ("value", S)),
  COERCE ("to_string", f_to_string, S, S | I | F | B | N | T),
  FN ("type_def", f_type_def, 0, O, REQ ("value", ANY)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_type (void)
{
  return functions;
}
