/* SPDX-License-Identifier: Apache-2.0 */
/* Durations in configuration: the parser and the GParamSpec that marks a
 * property as one (declared in cdviz-config.h). */
#include "config.h"

#include <errno.h>

#include "cdviz-config.h"
#include "cdviz-config-private.h"

/**
 * cdviz_parse_duration:
 * @text: a duration such as `30s`, `500ms`, `1m30s`, `2h` or `45` (seconds)
 * @out_ms: (out): the duration in milliseconds
 *
 * Parses a human-readable duration. Units: `ms`, `s`, `m`, `h`, `d`.
 *
 * Returns: %TRUE if @text is a valid duration
 */
gboolean
cdviz_parse_duration (const char *text,
                      guint64    *out_ms)
{
  guint64 total = 0;
  const char *p = text;

  g_return_val_if_fail (text != NULL, FALSE);

  while (g_ascii_isspace (*p))
    p++;
  if (*p == '\0')
    return FALSE;

  while (*p != '\0')
    {
      char *end;
      guint64 number, unit;

      if (!g_ascii_isdigit (*p))
        return FALSE;
      errno = 0;
      number = g_ascii_strtoull (p, &end, 10);
      if (errno != 0)
        return FALSE;
      p = end;
      while (*p == ' ')
        p++;
      if (g_str_has_prefix (p, "ms"))
        unit = 1, p += 2;
      else if (*p == 's')
        unit = 1000, p++;
      else if (*p == 'm')
        unit = 60 * 1000, p++;
      else if (*p == 'h')
        unit = 3600 * 1000, p++;
      else if (*p == 'd')
        unit = 24 * 3600 * 1000, p++;
      else if (*p == '\0' && p == end && total == 0)
        unit = 1000; /* a plain number: seconds */
      else
        return FALSE;
      if (number > G_MAXUINT64 / unit || total + number * unit < total)
        return FALSE;
      total += number * unit;
      while (*p == ' ')
        p++;
    }

  *out_ms = total;
  return TRUE;
}

/**
 * cdviz_param_spec_duration:
 * @name: the property name
 * @nick: (nullable): a nick
 * @blurb: (nullable): a description
 * @minimum_ms: the minimum, in milliseconds
 * @maximum_ms: the maximum, in milliseconds
 * @default_ms: the default, in milliseconds
 * @flags: the flags
 *
 * Creates a #guint64 property holding milliseconds that the configuration
 * loader also fills from a duration string (`"30s"`, see
 * cdviz_parse_duration()) or an integer number of seconds: a
 * g_param_spec_uint64() with %CDVIZ_PARAM_DURATION in its flags.
 *
 * Returns: (transfer floating): a new #GParamSpec
 */
GParamSpec *
cdviz_param_spec_duration (const char  *name,
                           const char  *nick,
                           const char  *blurb,
                           guint64      minimum_ms,
                           guint64      maximum_ms,
                           guint64      default_ms,
                           GParamFlags  flags)
{
  return g_param_spec_uint64 (name, nick, blurb, minimum_ms, maximum_ms, default_ms,
                              flags | CDVIZ_PARAM_DURATION);
}

G_STATIC_ASSERT (CDVIZ_PARAM_DURATION == 1 << G_PARAM_USER_SHIFT);

gboolean
_cdviz_param_spec_is_duration (GParamSpec *pspec)
{
  return (pspec->flags & CDVIZ_PARAM_DURATION) != 0 && G_IS_PARAM_SPEC_UINT64 (pspec);
}
