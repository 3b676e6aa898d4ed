/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-monitor-event.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_MONITOR_FILTER_MODEL (cdviz_monitor_filter_model_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorFilterModel, cdviz_monitor_filter_model,
                      CDVIZ, MONITOR_FILTER_MODEL, GObject)

CdvizMonitorFilterModel *cdviz_monitor_filter_model_new         (GListModel              *model);
GListModel              *cdviz_monitor_filter_model_get_model   (CdvizMonitorFilterModel *self);
void                     cdviz_monitor_filter_model_set_kind    (CdvizMonitorFilterModel *self,
                                                                 CdvizMonitorKind         kind);
CdvizMonitorKind         cdviz_monitor_filter_model_get_kind    (CdvizMonitorFilterModel *self);
void                     cdviz_monitor_filter_model_set_subject (CdvizMonitorFilterModel *self,
                                                                 const char              *subject);
const char              *cdviz_monitor_filter_model_get_subject (CdvizMonitorFilterModel *self);
void                     cdviz_monitor_filter_model_set_text    (CdvizMonitorFilterModel *self,
                                                                 const char              *text);
const char              *cdviz_monitor_filter_model_get_text    (CdvizMonitorFilterModel *self);

G_END_DECLS
