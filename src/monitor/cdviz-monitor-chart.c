/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorChart: events per minute per family over the last hour, as
 * stacked bars, oldest on the left, drawn with GtkSnapshot. It reads a
 * CdvizMonitorRate and redraws when it changes, and every half minute so
 * that the bars move left as time passes.
 */
#include "config.h"

#include "cdviz-monitor-chart.h"

#include <glib/gi18n.h>

struct _CdvizMonitorChart
{
  GtkWidget parent_instance;

  CdvizMonitorRate *rate;
  guint tick_id;
};

G_DEFINE_FINAL_TYPE (CdvizMonitorChart, cdviz_monitor_chart, GTK_TYPE_WIDGET)

/* The GNOME palette (the HIG's), one colour per family. */
static const char *const kind_colors[CDVIZ_MONITOR_N_KINDS] = {
  [CDVIZ_MONITOR_KIND_OTHER] = "#9a9996",
  [CDVIZ_MONITOR_KIND_PIPELINE] = "#3584e4",
  [CDVIZ_MONITOR_KIND_BUILD] = "#ff7800",
  [CDVIZ_MONITOR_KIND_TEST] = "#33d17a",
  [CDVIZ_MONITOR_KIND_ARTIFACT] = "#986a44",
  [CDVIZ_MONITOR_KIND_DEPLOYMENT] = "#9141ac",
  [CDVIZ_MONITOR_KIND_INCIDENT] = "#e01b24",
  [CDVIZ_MONITOR_KIND_SOURCE_CODE] = "#2190a4",
  [CDVIZ_MONITOR_KIND_TICKET] = "#f6d32d",
};

/**
 * cdviz_monitor_chart_get_color:
 * @kind: a family
 * @color: (out): its colour in the chart
 */
void
cdviz_monitor_chart_get_color (CdvizMonitorKind  kind,
                               GdkRGBA          *color)
{
  if (kind >= CDVIZ_MONITOR_N_KINDS)
    kind = CDVIZ_MONITOR_KIND_OTHER;
  gdk_rgba_parse (color, kind_colors[kind]);
}

static void
cdviz_monitor_chart_snapshot (GtkWidget   *widget,
                              GtkSnapshot *snapshot)
{
  CdvizMonitorChart *self = CDVIZ_MONITOR_CHART (widget);
  float width = gtk_widget_get_width (widget);
  float height = gtk_widget_get_height (widget);
  gint64 now = g_get_real_time ();
  guint max = cdviz_monitor_rate_get_max (self->rate, now);
  float slot = width / CDVIZ_MONITOR_RATE_MINUTES;
  float gap = slot > 4 ? 1 : 0;
  GdkRGBA axis;

  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &axis);
  axis.alpha = 0.25;
  gtk_snapshot_append_color (snapshot, &axis, &GRAPHENE_RECT_INIT (0, height - 1, width, 1));
  if (max == 0)
    return;
  for (guint m = 0; m < CDVIZ_MONITOR_RATE_MINUTES; m++)
    {
      float x = width - (m + 1) * slot;
      float y = height - 1;

      for (guint k = 0; k < CDVIZ_MONITOR_N_KINDS; k++)
        {
          guint count = cdviz_monitor_rate_get (self->rate, now, m, k);
          float h;
          GdkRGBA color;

          if (count == 0)
            continue;
          h = (height - 2) * count / max;
          y -= h;
          cdviz_monitor_chart_get_color (k, &color);
          gtk_snapshot_append_color (snapshot, &color,
                                     &GRAPHENE_RECT_INIT (x + gap, y, slot - 2 * gap, h));
        }
    }
}

static void
cdviz_monitor_chart_measure (GtkWidget      *widget,
                             GtkOrientation  orientation,
                             int             for_size,
                             int            *minimum,
                             int            *natural,
                             int            *minimum_baseline,
                             int            *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = CDVIZ_MONITOR_RATE_MINUTES * 2;
      *natural = CDVIZ_MONITOR_RATE_MINUTES * 8;
    }
  else
    *minimum = *natural = 48;
}

static void
update_tooltip (CdvizMonitorChart *self)
{
  gint64 now = g_get_real_time ();
  guint current = cdviz_monitor_rate_get_total (self->rate, now, 0);
  guint max = cdviz_monitor_rate_get_max (self->rate, now);
  g_autofree char *text =
    /* Translators: the chart's tooltip: events this minute, then the
     * busiest minute of the last hour */
    g_strdup_printf (_("This minute: %u events · busiest minute of the last hour: %u"),
                     current, max);

  gtk_widget_set_tooltip_text (GTK_WIDGET (self), text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  text, -1);
}

static void
rate_changed (CdvizMonitorChart *self)
{
  update_tooltip (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
tick (gpointer data)
{
  rate_changed (data);
  return G_SOURCE_CONTINUE;
}

static void
cdviz_monitor_chart_dispose (GObject *object)
{
  CdvizMonitorChart *self = CDVIZ_MONITOR_CHART (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->rate != NULL)
    g_signal_handlers_disconnect_by_data (self->rate, self);
  g_clear_object (&self->rate);
  G_OBJECT_CLASS (cdviz_monitor_chart_parent_class)->dispose (object);
}

static void
cdviz_monitor_chart_class_init (CdvizMonitorChartClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cdviz_monitor_chart_dispose;
  widget_class->snapshot = cdviz_monitor_chart_snapshot;
  widget_class->measure = cdviz_monitor_chart_measure;
  gtk_widget_class_set_css_name (widget_class, "chart");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
cdviz_monitor_chart_init (CdvizMonitorChart *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Events per minute over the last hour"), -1);
}

GtkWidget *
cdviz_monitor_chart_new (CdvizMonitorRate *rate)
{
  CdvizMonitorChart *self = g_object_new (CDVIZ_TYPE_MONITOR_CHART, NULL);

  self->rate = g_object_ref (rate);
  g_signal_connect_swapped (rate, "changed", G_CALLBACK (rate_changed), self);
  self->tick_id = g_timeout_add_seconds (30, tick, self);
  update_tooltip (self);
  return GTK_WIDGET (self);
}
