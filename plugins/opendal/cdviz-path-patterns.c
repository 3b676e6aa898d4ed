/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include <cdviz.h>

#include "cdviz-path-patterns.h"

struct _CdvizPathPatterns
{
  GPtrArray *include;  /* GRegex */
  GPtrArray *exclude;  /* GRegex */
};

/* The glob @pattern as an anchored regular expression. */
static char *
glob_to_regex (const char  *pattern,
               GError     **error)
{
  g_autoptr(GString) re = g_string_new ("^");
  guint braces = 0;

  for (const char *p = pattern; *p != '\0'; p++)
    {
      if (p[0] == '*' && p[1] == '*')
        {
          gboolean at_start = p == pattern || p[-1] == '/';

          if (at_start && p[2] == '/')
            {
              g_string_append (re, "(?:.*/)?");
              p += 2;
            }
          else if (at_start && p[2] == '\0')
            {
              g_string_append (re, ".*");
              p += 1;
            }
          else
            {
              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “path_patterns”: “%s”: “**” must be a whole path segment"),
                           pattern);
              return NULL;
            }
        }
      else if (*p == '*')
        g_string_append (re, "[^/]*");
      else if (*p == '?')
        g_string_append (re, "[^/]");
      else if (*p == '[')
        {
          const char *close = strchr (p + 2, ']');

          if (close == NULL)
            {
              g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “path_patterns”: “%s”: “[” is not closed"), pattern);
              return NULL;
            }
          g_string_append_c (re, '[');
          p++;
          if (*p == '!' || *p == '^')
            {
              g_string_append_c (re, '^');
              p++;
            }
          for (; p < close; p++)
            {
              if (*p == '\\' || *p == '[')
                g_string_append_c (re, '\\');
              g_string_append_c (re, *p);
            }
          g_string_append_c (re, ']');
        }
      else if (*p == '{')
        {
          braces++;
          g_string_append (re, "(?:");
        }
      else if (*p == '}' && braces > 0)
        {
          braces--;
          g_string_append_c (re, ')');
        }
      else if (*p == ',' && braces > 0)
        g_string_append_c (re, '|');
      else
        {
          char c[2] = { *p, '\0' };
          g_autofree char *escaped = g_regex_escape_string (c, 1);

          g_string_append (re, escaped);
        }
    }
  if (braces > 0)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “path_patterns”: “%s”: “{” is not closed"), pattern);
      return NULL;
    }
  g_string_append_c (re, '$');
  return g_string_free (g_steal_pointer (&re), FALSE);
}

void
cdviz_path_patterns_free (CdvizPathPatterns *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->include);
  g_ptr_array_unref (self->exclude);
  g_free (self);
}

CdvizPathPatterns *
cdviz_path_patterns_new (const char * const  *patterns,
                         GError             **error)
{
  g_autoptr(CdvizPathPatterns) self = g_new0 (CdvizPathPatterns, 1);

  self->include = g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref);
  self->exclude = g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref);
  for (guint i = 0; patterns != NULL && patterns[i] != NULL; i++)
    {
      gboolean negated = patterns[i][0] == '!';
      g_autofree char *re = glob_to_regex (patterns[i] + negated, error);
      GRegex *regex;

      if (re == NULL)
        return NULL;
      regex = g_regex_new (re, G_REGEX_OPTIMIZE, 0, NULL);
      if (regex == NULL)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “path_patterns”: “%s” is not a glob"), patterns[i]);
          return NULL;
        }
      g_ptr_array_add (negated ? self->exclude : self->include, regex);
    }
  return g_steal_pointer (&self);
}

static gboolean
any_matches (GPtrArray  *regexes,
             const char *path)
{
  for (guint i = 0; i < regexes->len; i++)
    if (g_regex_match (regexes->pdata[i], path, 0, NULL))
      return TRUE;
  return FALSE;
}

/* @path: relative to the root, '/'-separated. */
gboolean
cdviz_path_patterns_accept (CdvizPathPatterns *self,
                            const char        *path)
{
  return (self->include->len == 0 || any_matches (self->include, path)) &&
         !any_matches (self->exclude, path);
}
