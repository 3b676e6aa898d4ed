/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz-rust-log.h"

/* cdviz-collector's modules and the log domain of the code that does their
 * work here: the library is `cdviz`, each plugin its own (G_LOG_DOMAIN in
 * plugins/NAME/meson.build). A target names every module under it. */
static const struct {
  const char *module;
  const char *domain;
} modules[] = {
  { "cdviz_collector", "cdviz" },
  { "cdviz_collector::sinks::debug", "cdviz" },
  { "cdviz_collector::sinks::sse", "cdviz-sse" },
  { "cdviz_collector::sinks::db", "cdviz-db" },
  { "cdviz_collector::sinks::http", "cdviz-collector" },
  { "cdviz_collector::sinks::folder", "cdviz-collector" },
  { "cdviz_collector::sinks::nats", "cdviz-nats" },
  { "cdviz_collector::sources::webhook", "cdviz-webhook" },
  { "cdviz_collector::sources::sse", "cdviz-collector" },
  { "cdviz_collector::sources::nats", "cdviz-nats" },
  { "cdviz_collector::transformers::log", "cdviz" },
  { "cdviz_collector::transformers::vrl", "cdviz-vrl" },
};

/* Whether module path @path is @ancestor or under it. */
static gboolean
is_under (const char *path,
          const char *ancestor)
{
  gsize n = strlen (ancestor);

  return strncmp (path, ancestor, n) == 0 && (path[n] == '\0' || g_str_has_prefix (path + n, "::"));
}

static void
add_domain (GPtrArray  *domains,
            const char *domain)
{
  if (!g_ptr_array_find_with_equal_func (domains, domain, g_str_equal, NULL))
    g_ptr_array_add (domains, (gpointer) domain);
}

/* Adds to @domains those of the modules under @target, or else that of
 * the closest module @target is under. */
static void
add_target (GPtrArray  *domains,
            const char *target)
{
  const char *closest = NULL;
  gsize closest_len = 0;
  gboolean any = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (modules); i++)
    if (is_under (modules[i].module, target))
      {
        add_domain (domains, modules[i].domain);
        any = TRUE;
      }
  if (any)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (modules); i++)
    if (is_under (target, modules[i].module) && strlen (modules[i].module) > closest_len)
      {
        closest = modules[i].domain;
        closest_len = strlen (modules[i].module);
      }
  if (closest != NULL)
    add_domain (domains, closest);
}

static gboolean
is_level (const char *word)
{
  static const char * const levels[] = { "trace", "debug", "info", "warn", "error", "off", NULL };

  return g_strv_contains (levels, word);
}

char *
cdviz_rust_log_domains (const char *filter,
                        gboolean   *quiet)
{
  g_autoptr(GPtrArray) domains = g_ptr_array_new_null_terminated (4, NULL, TRUE);
  g_auto(GStrv) directives = g_strsplit (filter, ",", -1);

  for (guint i = 0; directives[i] != NULL; i++)
    {
      g_autofree char *target = NULL;
      g_autofree char *level = NULL;
      char *directive = g_strstrip (directives[i]);
      char *equal = strchr (directive, '=');
      char *span;

      /* `target[span{field=value}]=level`: the span filter is not kept */
      span = strchr (directive, '[');
      if (span != NULL && (equal == NULL || span < equal))
        {
          char *close = strrchr (directive, ']');

          if (close == NULL)
            continue;
          memmove (span, close + 1, strlen (close + 1) + 1);
          equal = strchr (directive, '=');
        }

      if (equal != NULL)
        {
          *equal = '\0';
          target = g_strdelimit (g_ascii_strdown (g_strstrip (directive), -1), "-", '_');
          level = g_ascii_strdown (g_strstrip (equal + 1), -1);
        }
      else if (is_level (directive) || g_ascii_strcasecmp (directive, "warning") == 0)
        level = g_ascii_strdown (directive, -1);
      else
        {
          target = g_strdelimit (g_ascii_strdown (directive, -1), "-", '_');
          level = g_strdup ("trace");
        }

      if (target == NULL || *target == '\0')
        {
          if (g_str_equal (level, "warn") || g_str_equal (level, "warning") ||
              g_str_equal (level, "error") || g_str_equal (level, "off"))
            *quiet = TRUE;
          else if (g_str_equal (level, "debug") || g_str_equal (level, "trace"))
            add_target (domains, "cdviz_collector");
          continue;
        }
      if ((g_str_equal (level, "debug") || g_str_equal (level, "trace")) &&
          is_under (target, "cdviz_collector"))
        add_target (domains, target);
    }

  if (domains->len == 0)
    return NULL;
  return g_strjoinv (" ", (char **) domains->pdata);
}
