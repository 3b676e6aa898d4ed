/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_MONITOR_APPLICATION (cdviz_monitor_application_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorApplication, cdviz_monitor_application,
                      CDVIZ, MONITOR_APPLICATION, AdwApplication)

CdvizMonitorApplication *cdviz_monitor_application_new (void);

G_END_DECLS
