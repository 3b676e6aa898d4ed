/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>

#include "cdviz-metrics.h"

/**
 * cdviz_metrics_append_label_value:
 * @out: the `/metrics` text being written
 * @value: a label value (a component's name, an id…), UTF-8
 *
 * Appends @value escaped as the Prometheus text format requires inside
 * double quotes: `\` as `\\`, `"` as `\"`, a line feed as `\n`. Every label
 * value written to `/metrics` goes through here, so that no name a user
 * chose can break the format.
 */
void
cdviz_metrics_append_label_value (GString    *out,
                                  const char *value)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (value != NULL);

  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

/**
 * cdviz_metrics_append_sample: (skip)
 * @out: the `/metrics` text being written
 * @family: the metric's name, e.g. `cdviz_sink_messages_total`
 * @value: the sample's value
 * @...: label names and values (`const char *`), in pairs, ending with %NULL
 *
 * Appends one sample line, `family{name="value",…} value`, its label
 * values escaped (see cdviz_metrics_append_label_value()).
 */
void
cdviz_metrics_append_sample (GString    *out,
                             const char *family,
                             guint64     value,
                             ...)
{
  va_list args;
  const char *name;
  gboolean first = TRUE;

  g_return_if_fail (out != NULL);
  g_return_if_fail (family != NULL);

  g_string_append (out, family);
  va_start (args, value);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      const char *label_value = va_arg (args, const char *);

      g_string_append (out, first ? "{" : ",");
      g_string_append_printf (out, "%s=\"", name);
      cdviz_metrics_append_label_value (out, label_value != NULL ? label_value : "");
      g_string_append_c (out, '"');
      first = FALSE;
    }
  va_end (args);
  if (!first)
    g_string_append_c (out, '}');
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", value);
}

/**
 * cdviz_metrics_append_families: (skip)
 * @out: the `/metrics` text being written
 * @families: (array length=n_families): the families of one kind of component
 * @n_families: their number
 * @components: the components (as cdviz_http_server_add_shared_metrics()
 *   gives them)
 * @label: the label that names a component, e.g. `sink`
 * @label_value: gives a component's name
 *
 * Appends each family once, its `# HELP` and `# TYPE` lines, then one
 * sample per component labelled `label="name"`: what a group of
 * components that share families writes for `GET /metrics`.
 */
void
cdviz_metrics_append_families (GString                 *out,
                               const CdvizMetricFamily *families,
                               gsize                    n_families,
                               GPtrArray               *components,
                               const char              *label,
                               const char *           (*label_value) (gpointer component))
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (families != NULL || n_families == 0);
  g_return_if_fail (components != NULL && label != NULL && label_value != NULL);

  for (gsize f = 0; f < n_families; f++)
    {
      g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                              families[f].help, families[f].name, families[f].type);
      for (guint i = 0; i < components->len; i++)
        {
          gpointer component = g_ptr_array_index (components, i);

          cdviz_metrics_append_sample (out, families[f].name, families[f].sample (component),
                                       label, label_value (component), NULL);
        }
    }
}
