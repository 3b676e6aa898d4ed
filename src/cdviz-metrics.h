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

G_END_DECLS
