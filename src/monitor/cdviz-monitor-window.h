/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <adwaita.h>

#include "cdviz-monitor-connection.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_MONITOR_WINDOW (cdviz_monitor_window_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorWindow, cdviz_monitor_window, CDVIZ, MONITOR_WINDOW,
                      AdwApplicationWindow)

CdvizMonitorWindow *cdviz_monitor_window_new            (AdwApplication         *application);
void                cdviz_monitor_window_add_connection (CdvizMonitorWindow     *self,
                                                         CdvizMonitorConnection *connection);
gboolean            cdviz_monitor_window_show_event     (CdvizMonitorWindow     *self,
                                                         const char             *id);

G_END_DECLS
