/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorRate: events per minute per family over the last hour, what
 * the chart draws. Events are counted by arrival time (the clock of the
 * machine that shows them: producers' clocks and replayed events would put
 * them anywhere). One slot per minute of the hour, reused round-robin: a
 * slot remembers which minute it counts, so minutes without events read 0
 * and nothing needs a timer. Callers pass the time, so tests pin it.
 */
#include "config.h"

#include "cdviz-monitor-rate.h"

#include <string.h>

#define MINUTE_US (60LL * G_USEC_PER_SEC)

typedef struct {
  gint64 minute;   /* time_us / MINUTE_US, -1 when never used */
  guint counts[CDVIZ_MONITOR_N_KINDS];
} Slot;

struct _CdvizMonitorRate
{
  GObject parent_instance;
  Slot slots[CDVIZ_MONITOR_RATE_MINUTES];
};

G_DEFINE_FINAL_TYPE (CdvizMonitorRate, cdviz_monitor_rate, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
cdviz_monitor_rate_class_init (CdvizMonitorRateClass *klass)
{
  /**
   * CdvizMonitorRate::changed:
   *
   * An event was counted.
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
cdviz_monitor_rate_init (CdvizMonitorRate *self)
{
  for (guint i = 0; i < CDVIZ_MONITOR_RATE_MINUTES; i++)
    self->slots[i].minute = -1;
}

CdvizMonitorRate *
cdviz_monitor_rate_new (void)
{
  return g_object_new (CDVIZ_TYPE_MONITOR_RATE, NULL);
}

static Slot *
slot_of (CdvizMonitorRate *self,
         gint64            minute)
{
  return &self->slots[minute % CDVIZ_MONITOR_RATE_MINUTES];
}

/**
 * cdviz_monitor_rate_add:
 * @self: a rate
 * @kind: the event's family
 * @time_us: when it arrived (g_get_real_time())
 *
 * Counts one event. An event older than the minutes already counted in its
 * slot (more than an hour before the newest) is ignored.
 */
void
cdviz_monitor_rate_add (CdvizMonitorRate *self,
                        CdvizMonitorKind  kind,
                        gint64            time_us)
{
  gint64 minute;
  Slot *slot;

  g_return_if_fail (CDVIZ_IS_MONITOR_RATE (self));
  g_return_if_fail (kind < CDVIZ_MONITOR_N_KINDS);
  g_return_if_fail (time_us >= 0);

  minute = time_us / MINUTE_US;
  slot = slot_of (self, minute);
  if (slot->minute > minute)
    return;
  if (slot->minute < minute)
    {
      memset (slot->counts, 0, sizeof slot->counts);
      slot->minute = minute;
    }
  slot->counts[kind]++;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/**
 * cdviz_monitor_rate_get:
 * @self: a rate
 * @now_us: the time now
 * @minutes_ago: 0 for the current minute, up to 59
 * @kind: a family
 *
 * Returns: how many events of @kind arrived in that minute
 */
guint
cdviz_monitor_rate_get (CdvizMonitorRate *self,
                        gint64            now_us,
                        guint             minutes_ago,
                        CdvizMonitorKind  kind)
{
  gint64 minute;
  Slot *slot;

  g_return_val_if_fail (CDVIZ_IS_MONITOR_RATE (self), 0);
  g_return_val_if_fail (kind < CDVIZ_MONITOR_N_KINDS, 0);
  minute = now_us / MINUTE_US - minutes_ago;
  if (minutes_ago >= CDVIZ_MONITOR_RATE_MINUTES || minute < 0)
    return 0;
  slot = slot_of (self, minute);
  return slot->minute == minute ? slot->counts[kind] : 0;
}

/**
 * cdviz_monitor_rate_get_total:
 * @self: a rate
 * @now_us: the time now
 * @minutes_ago: 0 for the current minute, up to 59
 *
 * Returns: how many events arrived in that minute, all families
 */
guint
cdviz_monitor_rate_get_total (CdvizMonitorRate *self,
                              gint64            now_us,
                              guint             minutes_ago)
{
  guint total = 0;

  for (guint k = 0; k < CDVIZ_MONITOR_N_KINDS; k++)
    total += cdviz_monitor_rate_get (self, now_us, minutes_ago, k);
  return total;
}

/**
 * cdviz_monitor_rate_get_max:
 * @self: a rate
 * @now_us: the time now
 *
 * Returns: the largest total of one minute of the last hour (the chart's scale)
 */
guint
cdviz_monitor_rate_get_max (CdvizMonitorRate *self,
                            gint64            now_us)
{
  guint max = 0;

  for (guint m = 0; m < CDVIZ_MONITOR_RATE_MINUTES; m++)
    max = MAX (max, cdviz_monitor_rate_get_total (self, now_us, m));
  return max;
}
