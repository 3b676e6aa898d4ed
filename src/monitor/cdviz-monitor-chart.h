/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "cdviz-monitor-rate.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_MONITOR_CHART (cdviz_monitor_chart_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorChart, cdviz_monitor_chart, CDVIZ, MONITOR_CHART, GtkWidget)

GtkWidget *cdviz_monitor_chart_new         (CdvizMonitorRate *rate);
void       cdviz_monitor_chart_get_color   (CdvizMonitorKind  kind,
                                            GdkRGBA          *color);

G_END_DECLS
