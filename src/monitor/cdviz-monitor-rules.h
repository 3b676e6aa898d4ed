/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-monitor-event.h"

G_BEGIN_DECLS

/**
 * CdvizMonitorRules:
 * @CDVIZ_MONITOR_RULE_NONE: no rule
 * @CDVIZ_MONITOR_RULE_FAILURES: a pipeline run, build or test case run
 *   finished with outcome `failure` or `error`
 * @CDVIZ_MONITOR_RULE_INCIDENTS: an incident was detected
 *
 * The notification rules, as flags: which are enabled (GSettings keys
 * `notify-failures` and `notify-incidents`), and which one an event meets.
 */
typedef enum {
  CDVIZ_MONITOR_RULE_NONE = 0,
  CDVIZ_MONITOR_RULE_FAILURES = 1 << 0,
  CDVIZ_MONITOR_RULE_INCIDENTS = 1 << 1,
} CdvizMonitorRules;

CdvizMonitorRules  cdviz_monitor_rules_match        (CdvizMonitorEvent *event,
                                                     CdvizMonitorRules  enabled);
const char        *cdviz_monitor_rules_get_title    (CdvizMonitorEvent *event,
                                                     CdvizMonitorRules  rule);
GNotification     *cdviz_monitor_rules_notification (CdvizMonitorEvent *event,
                                                     CdvizMonitorRules  rule);

G_END_DECLS
