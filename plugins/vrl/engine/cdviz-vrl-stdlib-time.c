/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <time.h>

#include "cdviz-vrl-stdlib-private.h"

/* Timestamps: chrono's format specifiers mapped onto GDateTime (which does
 * the calendar and time zones), glibc's strptime() for parsing. */

static GTimeZone *
timezone_arg (CdvizVrlValue  *arg,
              GError        **error)
{
  g_autofree char *name = NULL;
  GTimeZone *tz;

  if (arg == NULL)
    return g_time_zone_new_utc ();
  name = g_strndup (arg->bytes.data, arg->bytes.len);
  if (g_str_equal (name, "local"))
    return g_time_zone_new_local ();
  tz = g_time_zone_new_identifier (name);
  if (tz == NULL)
    cdviz_vrl_fail (error, "unable to parse timezone: %s", name);
  return tz;
}

static void
append_fraction (GString *out,
                 gint32   nanos,
                 int      digits,
                 gboolean dot,
                 gboolean automatic)
{
  if (automatic)
    {
      if (nanos == 0)
        return;
      digits = nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
    }
  if (dot)
    g_string_append_c (out, '.');
  {
    char buf[16];

    g_snprintf (buf, sizeof buf, "%09d", nanos);
    g_string_append_len (out, buf, digits);
  }
}

/* chrono's strftime on GDateTime. */
static char *
format_datetime (GDateTime  *dt,
                 gint32      nanos,
                 const char *format)
{
  GString *out = g_string_new (NULL);

  for (const char *p = format; *p; p++)
    {
      char spec[8] = { 0 };
      g_autofree char *piece = NULL;

      if (*p != '%')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      if (*p == '\0')
        break;
      switch (*p)
        {
        case '+':
          piece = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
          g_string_append (out, piece);
          append_fraction (out, nanos, 0, TRUE, TRUE);
          g_clear_pointer (&piece, g_free);
          piece = g_date_time_format (dt, "%:z");
          break;
        case 'v':
          piece = g_date_time_format (dt, "%e-%b-%Y");
          break;
        case 's':
          piece = g_strdup_printf ("%" G_GINT64_FORMAT, g_date_time_to_unix (dt));
          break;
        case 'f':
          append_fraction (out, nanos, 9, FALSE, FALSE);
          break;
        case 'D':
          piece = g_date_time_format (dt, "%m/%d/%y");
          break;
        case 'n':
          g_string_append_c (out, '\n');
          break;
        case '.':
          if (p[1] == 'f')
            {
              append_fraction (out, nanos, 0, TRUE, TRUE);
              p++;
            }
          else if (g_ascii_isdigit (p[1]) && p[2] == 'f')
            {
              append_fraction (out, nanos, p[1] - '0', TRUE, FALSE);
              p += 2;
            }
          break;
        case '3': case '6': case '9':
          if (p[1] == 'f')
            {
              append_fraction (out, nanos, *p - '0', FALSE, FALSE);
              p++;
            }
          break;
        case ':':
          if (p[1] == 'z')
            {
              piece = g_date_time_format (dt, "%:z");
              p++;
            }
          break;
        case 'Z':
          {
            GTimeZone *tz = g_date_time_get_timezone (dt);
            const char *id = g_time_zone_get_identifier (tz);

            if (g_str_equal (id, "UTC"))
              piece = g_strdup ("UTC");
            else
              piece = g_date_time_format (dt, "%Z");
          }
          break;
        case 'z':
          piece = g_date_time_format (dt, "%z");
          break;
        case '-': case '_': case '0':
          /* padding modifiers: %-d, %_d */
          spec[0] = '%';
          spec[1] = *p;
          spec[2] = p[1];
          if (p[1])
            p++;
          piece = g_date_time_format (dt, spec);
          break;
        default:
          spec[0] = '%';
          spec[1] = *p;
          piece = g_date_time_format (dt, spec);
          break;
        }
      if (piece)
        g_string_append (out, piece);
    }
  return g_string_free (out, FALSE);
}

IMPL (f_format_timestamp)
{
  g_autoptr(GTimeZone) tz = timezone_arg (args[2], error);
  g_autoptr(GDateTime) utc = NULL;
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *format = g_strndup (STR (1), LEN (1));

  if (tz == NULL)
    return NULL;
  utc = g_date_time_new_from_unix_utc (args[0]->ts.seconds);
  if (utc == NULL)
    return cdviz_vrl_fail (error, "timestamp out of range");
  dt = g_date_time_to_timezone (utc, tz);
  return cdviz_vrl_string_take (format_datetime (dt, args[0]->ts.nanos, format));
}

IMPL (f_now)
{
  gint64 us = g_get_real_time ();

  return cdviz_vrl_timestamp (us / G_USEC_PER_SEC, (us % G_USEC_PER_SEC) * 1000);
}

/* strptime does not know chrono's %:z, %.f, %v, %+. */
static CdvizVrlValue *
parse_with_format (const char  *text,
                   const char  *format,
                   GTimeZone   *tz,
                   GError     **error)
{
  g_autoptr(GString) fmt = g_string_new (NULL);
  struct tm tm = { 0 };
  const char *rest;
  gboolean has_offset = FALSE;
  gint32 nanos = 0;
  const char *frac_at = NULL;

  if (g_str_equal (format, "%+") || g_str_equal (format, "%Y-%m-%dT%H:%M:%S%.f%:z") ||
      g_str_equal (format, "%Y-%m-%dT%H:%M:%S%:z") || g_str_equal (format, "%Y-%m-%dT%H:%M:%S%z"))
    {
      gint64 seconds;

      if (cdviz_vrl_parse_rfc3339 (text, &seconds, &nanos))
        return cdviz_vrl_timestamp (seconds, nanos);
      return cdviz_vrl_fail (error, "unable to parse timestamp: %s", text);
    }

  for (const char *p = format; *p; p++)
    {
      if (p[0] == '%' && p[1] == ':' && p[2] == 'z')
        {
          g_string_append (fmt, "%z");
          has_offset = TRUE;
          p += 2;
        }
      else if (p[0] == '%' && (p[1] == 'z' || p[1] == 's'))
        {
          has_offset = TRUE;
          g_string_append_len (fmt, p, 2);
          p++;
        }
      else if (p[0] == '%' && p[1] == 'v')
        {
          g_string_append (fmt, "%e-%b-%Y");
          p++;
        }
      else if (p[0] == '%' && p[1] == '.' && p[2] == 'f')
        {
          frac_at = "";
          g_string_append (fmt, "\x01");
          p += 2;
        }
      else
        g_string_append_c (fmt, *p);
    }

  if (frac_at != NULL)
    {
      /* split at the marker: parse before, the fraction, then after */
      g_auto(GStrv) halves = g_strsplit (fmt->str, "\x01", 2);
      const char *after;
      int digits = 0;

      rest = strptime (text, halves[0], &tm);
      if (rest == NULL)
        return cdviz_vrl_fail (error, "unable to parse timestamp: %s", text);
      if (*rest == '.')
        {
          rest++;
          while (g_ascii_isdigit (*rest))
            {
              if (digits < 9)
                {
                  nanos = nanos * 10 + (*rest - '0');
                  digits++;
                }
              rest++;
            }
          for (; digits < 9; digits++)
            nanos *= 10;
        }
      after = strptime (rest, halves[1], &tm);
      rest = after;
    }
  else
    rest = strptime (text, fmt->str, &tm);
  if (rest == NULL || *rest != '\0')
    return cdviz_vrl_fail (error, "unable to parse timestamp: %s", text);

  if (has_offset)
    {
      g_autoptr(GDateTime) dt = NULL;
      g_autoptr(GTimeZone) offset = g_time_zone_new_offset (tm.tm_gmtoff);

      dt = g_date_time_new (offset, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec);
      if (dt == NULL)
        return cdviz_vrl_fail (error, "unable to parse timestamp: %s", text);
      return cdviz_vrl_timestamp (g_date_time_to_unix (dt), nanos);
    }
  else
    {
      g_autoptr(GDateTime) dt = g_date_time_new (tz, tm.tm_year + 1900, tm.tm_mon + 1,
                                                 tm.tm_mday ? tm.tm_mday : 1,
                                                 tm.tm_hour, tm.tm_min, tm.tm_sec);

      if (dt == NULL)
        return cdviz_vrl_fail (error, "unable to parse timestamp: %s", text);
      return cdviz_vrl_timestamp (g_date_time_to_unix (dt), nanos);
    }
}

IMPL (f_parse_timestamp)
{
  g_autoptr(GTimeZone) tz = NULL;
  g_autofree char *text = NULL, *format = NULL;

  if (args[0]->kind == T)
    return cdviz_vrl_value_ref (args[0]);
  tz = timezone_arg (args[2], error);
  if (tz == NULL)
    return NULL;
  text = g_strndup (STR (0), LEN (0));
  format = g_strndup (STR (1), LEN (1));
  return parse_with_format (text, format, tz, error);
}

static gint64
unit_scale (CdvizVrlValue *unit)
{
  if (unit == NULL || (unit->bytes.len == 7 && memcmp (unit->bytes.data, "seconds", 7) == 0))
    return 1;
  if (memcmp (unit->bytes.data, "milliseconds", MIN (unit->bytes.len, 12)) == 0)
    return 1000;
  if (memcmp (unit->bytes.data, "microseconds", MIN (unit->bytes.len, 12)) == 0)
    return 1000000;
  if (memcmp (unit->bytes.data, "nanoseconds", MIN (unit->bytes.len, 11)) == 0)
    return 1000000000;
  return 0;
}

IMPL (f_to_unix_timestamp)
{
  gint64 scale = unit_scale (args[1]);

  if (scale == 0)
    return cdviz_vrl_fail (error, "invalid unit");
  return cdviz_vrl_integer (args[0]->ts.seconds * scale + (gint64) args[0]->ts.nanos / (1000000000 / scale));
}

IMPL (f_from_unix_timestamp)
{
  gint64 scale = unit_scale (args[1]);
  gint64 v = args[0]->integer;

  if (scale == 0)
    return cdviz_vrl_fail (error, "invalid unit");
  {
    gint64 seconds = v / scale, rem = v % scale;

    if (rem < 0)
      {
        rem += scale;
        seconds--;
      }
    return cdviz_vrl_timestamp (seconds, (gint32) (rem * (1000000000 / scale)));
  }
}

IMPL (f_get_timezone_name)
{
  g_autoptr(GTimeZone) tz = g_time_zone_new_local ();

  return vrl_str (g_time_zone_get_identifier (tz));
}

static const CdvizVrlFunction functions[] = {
  FN ("format_timestamp", f_format_timestamp, FALLIBLE, S, REQ ("value", T), REQ ("format", S), OPT ("timezone", S)),
  FN ("from_unix_timestamp", f_from_unix_timestamp, FALLIBLE, T, REQ ("value", I), OPT ("unit", S)),
  FN ("get_timezone_name", f_get_timezone_name, FALLIBLE, S),
  FN ("now", f_now, CDVIZ_VRL_FN_IMPURE, T),
  FN ("parse_timestamp", f_parse_timestamp, FALLIBLE, T, REQ ("value", S | T), REQ ("format", S), OPT ("timezone", S)),
  FN ("to_unix_timestamp", f_to_unix_timestamp, 0, I, REQ ("value", T), OPT ("unit", S)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_time (void)
{
  return functions;
}
