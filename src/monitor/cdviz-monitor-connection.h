/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-monitor-event.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_MONITOR_CONNECTION (cdviz_monitor_connection_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorConnection, cdviz_monitor_connection,
                      CDVIZ, MONITOR_CONNECTION, GObject)

CdvizMonitorConnection *cdviz_monitor_connection_new        (const char              *url,
                                                             const char * const      *headers,
                                                             GError                 **error);
gboolean                cdviz_monitor_connection_start      (CdvizMonitorConnection  *self,
                                                             GError                 **error);
void                    cdviz_monitor_connection_stop       (CdvizMonitorConnection  *self);
const char             *cdviz_monitor_connection_get_url    (CdvizMonitorConnection  *self);
const char             *cdviz_monitor_connection_get_status (CdvizMonitorConnection  *self);
CdvizSseClient         *cdviz_monitor_connection_get_client (CdvizMonitorConnection  *self);

char                   *cdviz_monitor_connection_describe   (CdvizSseClientState      state,
                                                             gboolean                 refused,
                                                             guint                    seconds_left,
                                                             const char              *reason,
                                                             guint64                  lagged);
gboolean                cdviz_monitor_parse_header          (const char              *header,
                                                             char                   **name,
                                                             char                   **value,
                                                             GError                 **error);

G_END_DECLS
