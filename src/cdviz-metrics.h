/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined (__CDVIZ_H_INSIDE__) && !defined (CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

CDVIZ_AVAILABLE_IN_1_0
void cdviz_metrics_append_label_value (GString    *out,
                                       const char *value);
CDVIZ_AVAILABLE_IN_1_0
void cdviz_metrics_append_sample      (GString    *out,
                                       const char *family,
                                       guint64     value,
                                       ...) G_GNUC_NULL_TERMINATED;

/**
 * CdvizMetricFamily: (skip)
 * @name: the family's name, e.g. `cdviz_http_sink_delivered_total`
 * @type: `"counter"` or `"gauge"`
 * @help: its `# HELP` text
 * @sample: its value for one component (called on an HTTP thread, one
 *   scrape at a time)
 *
 * One metric family of a kind of component, for
 * cdviz_metrics_append_families().
 */
typedef struct {
  const char *name;
  const char *type;
  const char *help;
  guint64   (*sample) (gpointer component);
} CdvizMetricFamily;

CDVIZ_AVAILABLE_IN_1_0
void cdviz_metrics_append_families    (GString                 *out,
                                       const CdvizMetricFamily *families,
                                       gsize                    n_families,
                                       GPtrArray               *components,
                                       const char              *label,
                                       const char *           (*label_value) (gpointer component));

G_END_DECLS
