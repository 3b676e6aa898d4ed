/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The notification rules: which events deserve a desktop notification, and
 * what it says. Pure GIO (a GNotification is a GIO object), tested without
 * a display or a notification server.
 */
#include "config.h"

#include "cdviz-monitor-rules.h"

#include <glib/gi18n.h>

static gboolean
is_failure (const char *outcome)
{
  return g_ascii_strcasecmp (outcome, "failure") == 0
      || g_ascii_strcasecmp (outcome, "error") == 0;
}

/**
 * cdviz_monitor_rules_match:
 * @event: an event
 * @enabled: the rules in force
 *
 * Returns: the rule of @enabled that @event meets, or
 *   %CDVIZ_MONITOR_RULE_NONE
 */
CdvizMonitorRules
cdviz_monitor_rules_match (CdvizMonitorEvent *event,
                           CdvizMonitorRules  enabled)
{
  const char *subject, *predicate;

  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (event), CDVIZ_MONITOR_RULE_NONE);
  subject = cdviz_monitor_event_get_subject (event);
  predicate = cdviz_monitor_event_get_predicate (event);

  if ((enabled & CDVIZ_MONITOR_RULE_FAILURES)
      && g_str_equal (predicate, "finished")
      && (g_str_equal (subject, "pipelinerun") || g_str_equal (subject, "build")
          || g_str_equal (subject, "testcaserun"))
      && is_failure (cdviz_monitor_event_get_outcome (event)))
    return CDVIZ_MONITOR_RULE_FAILURES;
  if ((enabled & CDVIZ_MONITOR_RULE_INCIDENTS)
      && g_str_equal (subject, "incident") && g_str_equal (predicate, "detected"))
    return CDVIZ_MONITOR_RULE_INCIDENTS;
  return CDVIZ_MONITOR_RULE_NONE;
}

/**
 * cdviz_monitor_rules_get_title:
 * @event: an event
 * @rule: the rule it met ([func@monitor_rules_match])
 *
 * Returns: the title of its notification (translated)
 */
const char *
cdviz_monitor_rules_get_title (CdvizMonitorEvent *event,
                               CdvizMonitorRules  rule)
{
  const char *subject = cdviz_monitor_event_get_subject (event);
  gboolean error = g_ascii_strcasecmp (cdviz_monitor_event_get_outcome (event), "error") == 0;

  if (rule == CDVIZ_MONITOR_RULE_INCIDENTS)
    return _("Incident detected");
  if (g_str_equal (subject, "pipelinerun"))
    return error ? _("Pipeline run ended in error") : _("Pipeline run failed");
  if (g_str_equal (subject, "build"))
    return error ? _("Build ended in error") : _("Build failed");
  return error ? _("Test case run ended in error") : _("Test case run failed");
}

/**
 * cdviz_monitor_rules_notification:
 * @event: an event
 * @rule: the rule it met ([func@monitor_rules_match])
 *
 * The notification to send; its id (for g_application_send_notification())
 * is the event's id, so that a resent event replaces its notification.
 *
 * Returns: (transfer full): the notification
 */
GNotification *
cdviz_monitor_rules_notification (CdvizMonitorEvent *event,
                                  CdvizMonitorRules  rule)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GIcon) icon = NULL;

  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (event), NULL);
  g_return_val_if_fail (rule != CDVIZ_MONITOR_RULE_NONE, NULL);

  notification = g_notification_new (cdviz_monitor_rules_get_title (event, rule));
  /* Translators: a notification's text: the subject's id, then the event's
   * source (a URI reference) */
  body = g_strdup_printf (_("%s from %s"), cdviz_monitor_event_get_subject_id (event),
                          cdviz_monitor_event_get_source (event));
  g_notification_set_body (notification, body);
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  icon = g_themed_icon_new (rule == CDVIZ_MONITOR_RULE_INCIDENTS ? "dialog-warning-symbolic"
                                                                 : "dialog-error-symbolic");
  g_notification_set_icon (notification, icon);
  g_notification_set_default_action_and_target (notification, "app.show-event", "s",
                                                cdviz_monitor_event_get_id (event));
  return g_steal_pointer (&notification);
}
