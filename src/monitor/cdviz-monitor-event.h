/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

/**
 * CdvizMonitorKind:
 *
 * The family of an event's subject: what the list's icon and the chart's
 * colour show. Several CDEvents subjects share one family (a test case run
 * and a test suite run are both tests).
 */
typedef enum {
  CDVIZ_MONITOR_KIND_OTHER,
  CDVIZ_MONITOR_KIND_PIPELINE,
  CDVIZ_MONITOR_KIND_BUILD,
  CDVIZ_MONITOR_KIND_TEST,
  CDVIZ_MONITOR_KIND_ARTIFACT,
  CDVIZ_MONITOR_KIND_DEPLOYMENT,
  CDVIZ_MONITOR_KIND_INCIDENT,
  CDVIZ_MONITOR_KIND_SOURCE_CODE,
  CDVIZ_MONITOR_KIND_TICKET,
  CDVIZ_MONITOR_N_KINDS,
} CdvizMonitorKind;

CdvizMonitorKind  cdviz_monitor_kind_from_subject (const char       *subject);
const char       *cdviz_monitor_kind_get_label    (CdvizMonitorKind  kind);
const char       *cdviz_monitor_kind_get_icon     (CdvizMonitorKind  kind);

#define CDVIZ_TYPE_MONITOR_EVENT (cdviz_monitor_event_get_type ())
G_DECLARE_FINAL_TYPE (CdvizMonitorEvent, cdviz_monitor_event, CDVIZ, MONITOR_EVENT, GObject)

CdvizMonitorEvent *cdviz_monitor_event_new           (const char        *data,
                                                      const char        *origin,
                                                      gint64             received_us,
                                                      GError           **error);
CdvizMessage      *cdviz_monitor_event_get_message   (CdvizMonitorEvent *self);
gint64             cdviz_monitor_event_get_received  (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_origin    (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_id        (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_event_type (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_short_type (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_subject   (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_predicate (CdvizMonitorEvent *self);
CdvizMonitorKind   cdviz_monitor_event_get_kind      (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_subject_id (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_source    (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_outcome   (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_chain_id  (CdvizMonitorEvent *self);
const char        *cdviz_monitor_event_get_data      (CdvizMonitorEvent *self);
char              *cdviz_monitor_event_format_time   (CdvizMonitorEvent *self);
char              *cdviz_monitor_event_to_pretty_json (CdvizMonitorEvent *self);
char              *cdviz_monitor_event_describe_links (CdvizMonitorEvent *self);
gboolean           cdviz_monitor_event_matches       (CdvizMonitorEvent *self,
                                                      CdvizMonitorKind   kind,
                                                      const char        *subject,
                                                      const char        *text);

G_END_DECLS
