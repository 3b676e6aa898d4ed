/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-monitor-event.h"

G_BEGIN_DECLS

#define CDVIZ_MONITOR_RATE_MINUTES 60

#define CDVIZ_TYPE_MONITOR_RATE (cdviz_monitor_rate_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorRate, cdviz_monitor_rate, CDVIZ, MONITOR_RATE, GObject)

CdvizMonitorRate *cdviz_monitor_rate_new       (void);
void              cdviz_monitor_rate_add       (CdvizMonitorRate *self,
                                                CdvizMonitorKind  kind,
                                                gint64            time_us);
guint             cdviz_monitor_rate_get       (CdvizMonitorRate *self,
                                                gint64            now_us,
                                                guint             minutes_ago,
                                                CdvizMonitorKind  kind);
guint             cdviz_monitor_rate_get_total (CdvizMonitorRate *self,
                                                gint64            now_us,
                                                guint             minutes_ago);
guint             cdviz_monitor_rate_get_max   (CdvizMonitorRate *self,
                                                gint64            now_us);

G_END_DECLS
