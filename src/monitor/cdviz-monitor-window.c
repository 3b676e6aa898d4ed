/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorWindow: the events of every connection, newest first, in a
 * GtkColumnView over a CdvizMonitorFilterModel; the filters; the chart; a
 * status line per connection; the selected event's JSON and links. An
 * AdwLeaflet folds list and detail into one column in a narrow window.
 *
 * With CDVIZ_MONITOR_TEST_HOOK=1 in the environment it prints, on standard
 * output, each change of the list as it is shown (`list\t<n>\t<rows>`), each
 * notification sent and each status line: what tests/monitor reads.
 */
#include "config.h"

#include "cdviz-monitor-window.h"

#include <glib/gi18n.h>

#include "cdviz-monitor-chart.h"
#include "cdviz-monitor-filter-model.h"
#include "cdviz-monitor-rate.h"
#include "cdviz-monitor-rules.h"

/* The events kept; the oldest go first. */
#define MAX_EVENTS 5000

struct _CdvizMonitorWindow
{
  AdwApplicationWindow parent_instance;

  GListStore *store;
  CdvizMonitorFilterModel *filter;
  GtkSingleSelection *selection;
  CdvizMonitorRate *rate;
  GPtrArray *connections;
  GSettings *settings;   /* nullable: the schema is not installed */
  gboolean test_hook;

  AdwLeaflet *leaflet;
  AdwWindowTitle *title;
  GtkWidget *list_page;
  GtkWidget *detail_page;
  GtkWidget *detail_stack;
  GtkWidget *column_view;
  GtkWidget *kind_dropdown;
  GtkWidget *subject_entry;
  GtkWidget *text_entry;
  GtkWidget *status_box;
  GtkWidget *empty_page;
  GtkWidget *list_stack;
  GtkLabel *detail_heading;
  GtkLabel *detail_links;
  GtkTextBuffer *detail_buffer;
};

G_DEFINE_FINAL_TYPE (CdvizMonitorWindow, cdviz_monitor_window, ADW_TYPE_APPLICATION_WINDOW)

static void
hook_print (CdvizMonitorWindow *self,
            const char         *format,
            ...) G_GNUC_PRINTF (2, 3);

static void
hook_print (CdvizMonitorWindow *self,
            const char         *format,
            ...)
{
  va_list args;

  if (!self->test_hook)
    return;
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  putchar ('\n');
  fflush (stdout);
}

/* --- the list ---------------------------------------------------------- */

typedef enum {
  COLUMN_TIME,
  COLUMN_TYPE,
  COLUMN_SUBJECT,
  COLUMN_SOURCE,
  COLUMN_OUTCOME,
} Column;

static void
setup_label (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  column)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  if (GPOINTER_TO_INT (column) == COLUMN_TIME)
    gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
setup_type (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  column)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (box), gtk_image_new ());
  gtk_box_append (GTK_BOX (box), label);
  gtk_list_item_set_child (item, box);
}

static void
bind_type (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  column)
{
  CdvizMonitorEvent *event = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  GtkWidget *image = gtk_widget_get_first_child (box);
  CdvizMonitorKind kind = cdviz_monitor_event_get_kind (event);

  gtk_image_set_from_icon_name (GTK_IMAGE (image), cdviz_monitor_kind_get_icon (kind));
  gtk_widget_set_tooltip_text (image, cdviz_monitor_kind_get_label (kind));
  gtk_accessible_update_property (GTK_ACCESSIBLE (image), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  cdviz_monitor_kind_get_label (kind), -1);
  gtk_label_set_text (GTK_LABEL (gtk_widget_get_last_child (box)),
                      cdviz_monitor_event_get_short_type (event));
  gtk_widget_set_tooltip_text (gtk_widget_get_last_child (box),
                               cdviz_monitor_event_get_event_type (event));
}

static void
bind_label (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  column)
{
  CdvizMonitorEvent *event = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  g_autofree char *time = NULL;
  const char *text = "";
  const char *outcome;

  gtk_widget_remove_css_class (label, "error");
  gtk_widget_remove_css_class (label, "success");
  switch (GPOINTER_TO_INT (column))
    {
    case COLUMN_TIME:
      text = time = cdviz_monitor_event_format_time (event);
      break;
    case COLUMN_SUBJECT:
      text = cdviz_monitor_event_get_subject_id (event);
      break;
    case COLUMN_SOURCE:
      text = cdviz_monitor_event_get_source (event);
      break;
    case COLUMN_OUTCOME:
      text = outcome = cdviz_monitor_event_get_outcome (event);
      if (g_ascii_strcasecmp (outcome, "failure") == 0 || g_ascii_strcasecmp (outcome, "error") == 0)
        gtk_widget_add_css_class (label, "error");
      else if (g_ascii_strcasecmp (outcome, "success") == 0 || g_ascii_strcasecmp (outcome, "pass") == 0)
        gtk_widget_add_css_class (label, "success");
      break;
    default:
      break;
    }
  gtk_label_set_text (GTK_LABEL (label), text);
  gtk_widget_set_tooltip_text (label, *text ? text : NULL);
}

static void
add_column (CdvizMonitorWindow *self,
            const char         *title,
            Column              column,
            gboolean            expand,
            int                 fixed_width)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *col;

  if (column == COLUMN_TYPE)
    {
      g_signal_connect (factory, "setup", G_CALLBACK (setup_type), GINT_TO_POINTER (column));
      g_signal_connect (factory, "bind", G_CALLBACK (bind_type), GINT_TO_POINTER (column));
    }
  else
    {
      g_signal_connect (factory, "setup", G_CALLBACK (setup_label), GINT_TO_POINTER (column));
      g_signal_connect (factory, "bind", G_CALLBACK (bind_label), GINT_TO_POINTER (column));
    }
  col = gtk_column_view_column_new (title, factory);
  gtk_column_view_column_set_expand (col, expand);
  gtk_column_view_column_set_resizable (col, TRUE);
  if (fixed_width > 0)
    gtk_column_view_column_set_fixed_width (col, fixed_width);
  gtk_column_view_append_column (GTK_COLUMN_VIEW (self->column_view), col);
  g_object_unref (col);
}

static void
update_title (CdvizMonitorWindow *self)
{
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filter));
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  g_autofree char *subtitle = NULL;

  if (shown == total)
    subtitle = g_strdup_printf (ngettext ("%u event", "%u events", total),
                                total);
  else
    /* Translators: events shown by the filters, of all events received */
    subtitle = g_strdup_printf (ngettext ("%u of %u event",
                                             "%u of %u events", total), shown, total);
  adw_window_title_set_subtitle (self->title, subtitle);
}

static void
shown_changed (GListModel         *model,
               guint               position,
               guint               removed,
               guint               added,
               CdvizMonitorWindow *self)
{
  update_title (self);
  if (self->test_hook)
    {
      GString *rows = g_string_new (NULL);
      guint n = g_list_model_get_n_items (model);

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(CdvizMonitorEvent) event = g_list_model_get_item (model, i);
          g_string_append_printf (rows, "\t%s %s %s", cdviz_monitor_event_get_short_type (event),
                                  cdviz_monitor_event_get_subject_id (event),
                                  *cdviz_monitor_event_get_outcome (event)
                                    ? cdviz_monitor_event_get_outcome (event) : "-");
        }
      hook_print (self, "list\t%u%s", n, rows->str);
      g_string_free (rows, TRUE);
    }
}

/* --- the detail pane ---------------------------------------------------- */

static void
show_detail (CdvizMonitorWindow *self,
             CdvizMonitorEvent  *event)
{
  g_autofree char *json = NULL;
  g_autofree char *links = NULL;
  g_autofree char *heading = NULL;

  if (event == NULL)
    {
      gtk_stack_set_visible_child_name (GTK_STACK (self->detail_stack), "none");
      return;
    }
  json = cdviz_monitor_event_to_pretty_json (event);
  links = cdviz_monitor_event_describe_links (event);
  /* Translators: the detail pane's heading: event type, then subject id */
  heading = g_strdup_printf (_("%s of %s"), cdviz_monitor_event_get_short_type (event),
                             cdviz_monitor_event_get_subject_id (event));
  gtk_label_set_text (self->detail_heading, heading);
  gtk_label_set_text (self->detail_links, links);
  gtk_widget_set_visible (GTK_WIDGET (self->detail_links), *links != '\0');
  gtk_text_buffer_set_text (self->detail_buffer, json, -1);
  gtk_stack_set_visible_child_name (GTK_STACK (self->detail_stack), "event");
}

static void
selection_changed (CdvizMonitorWindow *self)
{
  CdvizMonitorEvent *event = gtk_single_selection_get_selected_item (self->selection);

  show_detail (self, event);
  if (event != NULL)
    hook_print (self, "selected\t%s", cdviz_monitor_event_get_id (event));
}

static void
row_activated (GtkColumnView      *view,
               guint               position,
               CdvizMonitorWindow *self)
{
  gtk_single_selection_set_selected (self->selection, position);
  adw_leaflet_set_visible_child (self->leaflet, self->detail_page);
}

static void
go_back (CdvizMonitorWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/**
 * cdviz_monitor_window_show_event:
 * @self: the window
 * @id: an event's `context.id`
 *
 * Selects the newest event with that id (clearing the filters if they hide
 * it) and shows its detail.
 *
 * Returns: %TRUE when the event is still in the list
 */
gboolean
cdviz_monitor_window_show_event (CdvizMonitorWindow *self,
                                 const char         *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdvizMonitorEvent) event = g_list_model_get_item (G_LIST_MODEL (self->store), i);
      if (g_strcmp0 (cdviz_monitor_event_get_id (event), id) != 0)
        continue;
      gtk_drop_down_set_selected (GTK_DROP_DOWN (self->kind_dropdown), 0);
      gtk_editable_set_text (GTK_EDITABLE (self->subject_entry), "");
      gtk_editable_set_text (GTK_EDITABLE (self->text_entry), "");
      /* The search entries tell after a delay: clear the model now, so
       * that positions in the store are positions in the list. */
      cdviz_monitor_filter_model_set_kind (self->filter, CDVIZ_MONITOR_N_KINDS);
      cdviz_monitor_filter_model_set_subject (self->filter, NULL);
      cdviz_monitor_filter_model_set_text (self->filter, NULL);
      gtk_single_selection_set_selected (self->selection, i);
      adw_leaflet_set_visible_child (self->leaflet, self->detail_page);
      return TRUE;
    }
  return FALSE;
}

/* --- filters ----------------------------------------------------------- */

static void
kind_selected (CdvizMonitorWindow *self)
{
  guint selected = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->kind_dropdown));

  /* Item 0 is "All kinds"; then the families in their enum order. */
  cdviz_monitor_filter_model_set_kind (self->filter, selected == 0 || selected == GTK_INVALID_LIST_POSITION
                                                       ? CDVIZ_MONITOR_N_KINDS : selected - 1);
}

static void
subject_changed (CdvizMonitorWindow *self)
{
  cdviz_monitor_filter_model_set_subject (self->filter,
                                          gtk_editable_get_text (GTK_EDITABLE (self->subject_entry)));
}

static void
text_changed (CdvizMonitorWindow *self)
{
  cdviz_monitor_filter_model_set_text (self->filter,
                                       gtk_editable_get_text (GTK_EDITABLE (self->text_entry)));
}

/* --- events ------------------------------------------------------------ */

static CdvizMonitorRules
enabled_rules (CdvizMonitorWindow *self)
{
  CdvizMonitorRules rules = CDVIZ_MONITOR_RULE_FAILURES | CDVIZ_MONITOR_RULE_INCIDENTS;

  if (self->settings != NULL)
    {
      if (!g_settings_get_boolean (self->settings, "notify-failures"))
        rules &= ~CDVIZ_MONITOR_RULE_FAILURES;
      if (!g_settings_get_boolean (self->settings, "notify-incidents"))
        rules &= ~CDVIZ_MONITOR_RULE_INCIDENTS;
    }
  return rules;
}

static void
on_event (CdvizMonitorConnection *connection,
          CdvizMonitorEvent      *event,
          CdvizMonitorWindow     *self)
{
  guint n;
  CdvizMonitorRules rule;

  g_list_store_insert (self->store, 0, event);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  if (n > MAX_EVENTS)
    g_list_store_remove (self->store, n - 1);
  cdviz_monitor_rate_add (self->rate, cdviz_monitor_event_get_kind (event),
                          cdviz_monitor_event_get_received (event));
  gtk_stack_set_visible_child (GTK_STACK (self->list_stack),
                               gtk_widget_get_parent (self->column_view));

  rule = cdviz_monitor_rules_match (event, enabled_rules (self));
  if (rule != CDVIZ_MONITOR_RULE_NONE)
    {
      g_autoptr(GNotification) notification = cdviz_monitor_rules_notification (event, rule);
      GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

      hook_print (self, "notification\t%s\t%s\t%s", cdviz_monitor_event_get_id (event),
                  cdviz_monitor_rules_get_title (event, rule),
                  cdviz_monitor_event_get_subject_id (event));
      if (app != NULL)
        g_application_send_notification (app, cdviz_monitor_event_get_id (event), notification);
    }
}

static void
on_status (CdvizMonitorConnection *connection,
           GParamSpec             *pspec,
           GtkLabel               *label)
{
  CdvizMonitorWindow *self =
    CDVIZ_MONITOR_WINDOW (gtk_widget_get_ancestor (GTK_WIDGET (label), CDVIZ_TYPE_MONITOR_WINDOW));
  const char *status = cdviz_monitor_connection_get_status (connection);
  CdvizSseClientState state =
    cdviz_sse_client_get_state (cdviz_monitor_connection_get_client (connection));
  GtkWidget *icon = gtk_widget_get_prev_sibling (GTK_WIDGET (label));

  gtk_label_set_text (label, status);
  gtk_widget_set_tooltip_text (GTK_WIDGET (label), status);
  gtk_widget_remove_css_class (icon, "success");
  gtk_widget_remove_css_class (icon, "warning");
  gtk_widget_remove_css_class (icon, "error");
  gtk_widget_add_css_class (icon, state == CDVIZ_SSE_CLIENT_STATE_OPEN ? "success"
                                  : state == CDVIZ_SSE_CLIENT_STATE_CONNECTING ? "warning"
                                  : "error");
  if (self != NULL)
    hook_print (self, "status\t%s\t%s", cdviz_monitor_connection_get_url (connection), status);
}

/**
 * cdviz_monitor_window_add_connection:
 * @self: the window
 * @connection: a connection, started or not
 *
 * Shows the events and the status of @connection. The window keeps it and
 * stops it when it is destroyed.
 */
void
cdviz_monitor_window_add_connection (CdvizMonitorWindow     *self,
                                     CdvizMonitorConnection *connection)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *icon = gtk_image_new_from_icon_name ("network-transmit-symbolic");
  GtkWidget *url = gtk_label_new (cdviz_monitor_connection_get_url (connection));
  GtkWidget *status = gtk_label_new (NULL);

  g_return_if_fail (CDVIZ_IS_MONITOR_WINDOW (self));

  gtk_label_set_selectable (GTK_LABEL (url), TRUE);
  gtk_label_set_ellipsize (GTK_LABEL (url), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_add_css_class (url, "caption-heading");
  gtk_label_set_xalign (GTK_LABEL (status), 0);
  gtk_label_set_ellipsize (GTK_LABEL (status), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (status, TRUE);
  gtk_widget_add_css_class (status, "caption");
  gtk_box_append (GTK_BOX (row), url);
  gtk_box_append (GTK_BOX (row), icon);
  gtk_box_append (GTK_BOX (row), status);
  gtk_box_append (GTK_BOX (self->status_box), row);
  gtk_widget_set_visible (self->status_box, TRUE);

  g_ptr_array_add (self->connections, g_object_ref (connection));
  g_signal_connect_object (connection, "event", G_CALLBACK (on_event), self, 0);
  g_signal_connect_object (connection, "notify::status", G_CALLBACK (on_status), status, 0);
  on_status (connection, NULL, GTK_LABEL (status));
  gtk_stack_set_visible_child (GTK_STACK (self->list_stack),
                               g_list_model_get_n_items (G_LIST_MODEL (self->store)) > 0
                                 ? gtk_widget_get_parent (self->column_view) : self->empty_page);
  adw_status_page_set_title (ADW_STATUS_PAGE (self->empty_page), _("Waiting for Events"));
  adw_status_page_set_description (ADW_STATUS_PAGE (self->empty_page),
                                   _("Events appear here as the producers send them."));
}

/* --- construction ------------------------------------------------------ */

static GtkWidget *
build_filters (CdvizMonitorWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  g_autoptr(GtkStringList) kinds = gtk_string_list_new (NULL);

  gtk_string_list_append (kinds, _("All kinds"));
  for (guint k = 0; k < CDVIZ_MONITOR_N_KINDS; k++)
    gtk_string_list_append (kinds, cdviz_monitor_kind_get_label (k));
  self->kind_dropdown = gtk_drop_down_new (G_LIST_MODEL (g_steal_pointer (&kinds)), NULL);
  gtk_widget_set_tooltip_text (self->kind_dropdown, _("Show one kind of event"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->kind_dropdown),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Kind of event"), -1);
  g_signal_connect_swapped (self->kind_dropdown, "notify::selected", G_CALLBACK (kind_selected),
                            self);

  self->subject_entry = gtk_search_entry_new ();
  g_object_set (self->subject_entry, "placeholder-text", _("Subject"), NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->subject_entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Filter by subject"), -1);
  gtk_widget_set_size_request (self->subject_entry, 120, -1);
  g_signal_connect_swapped (self->subject_entry, "search-changed", G_CALLBACK (subject_changed),
                            self);

  self->text_entry = gtk_search_entry_new ();
  g_object_set (self->text_entry, "placeholder-text", _("Search events"), NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->text_entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Search in the events"), -1);
  gtk_widget_set_hexpand (self->text_entry, TRUE);
  g_signal_connect_swapped (self->text_entry, "search-changed", G_CALLBACK (text_changed), self);

  gtk_box_append (GTK_BOX (box), self->kind_dropdown);
  gtk_box_append (GTK_BOX (box), self->subject_entry);
  gtk_box_append (GTK_BOX (box), self->text_entry);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  return box;
}

static GtkWidget *
build_list_page (CdvizMonitorWindow *self)
{
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *chart = cdviz_monitor_chart_new (self->rate);
  GtkWidget *chart_label = gtk_label_new (_("Events per minute, last hour"));
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *menu_button = gtk_menu_button_new ();
  g_autoptr(GMenu) menu = g_menu_new ();

  self->title = ADW_WINDOW_TITLE (adw_window_title_new (_("CDEvents Monitor"), NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));
  g_menu_append (menu, _("Notify on _Failures"), "app.notify-failures");
  g_menu_append (menu, _("Notify on _Incidents"), "app.notify-incidents");
  g_menu_append (menu, _("_About CDEvents Monitor"), "app.about");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (menu_button), G_MENU_MODEL (menu));
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (menu_button), "open-menu-symbolic");
  gtk_widget_set_tooltip_text (menu_button, _("Main Menu"));
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), menu_button);
  /* Unfolded, the window's buttons belong to the detail's header bar. */
  g_object_bind_property (self->leaflet, "folded", header, "show-end-title-buttons",
                          G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (page), header);
  gtk_box_append (GTK_BOX (page), build_filters (self));

  gtk_label_set_xalign (GTK_LABEL (chart_label), 0);
  gtk_widget_add_css_class (chart_label, "caption");
  gtk_widget_add_css_class (chart_label, "dim-label");
  gtk_widget_set_margin_start (chart_label, 8);
  gtk_widget_set_margin_top (chart_label, 6);
  gtk_box_append (GTK_BOX (page), chart_label);
  gtk_widget_set_margin_start (chart, 8);
  gtk_widget_set_margin_end (chart, 8);
  gtk_widget_set_margin_bottom (chart, 6);
  gtk_box_append (GTK_BOX (page), chart);

  self->column_view = gtk_column_view_new (GTK_SELECTION_MODEL (g_object_ref (self->selection)));
  gtk_column_view_set_show_row_separators (GTK_COLUMN_VIEW (self->column_view), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->column_view),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Events, newest first"), -1);
  add_column (self, _("Time"), COLUMN_TIME, FALSE, 90);
  add_column (self, _("Type"), COLUMN_TYPE, FALSE, 230);
  add_column (self, _("Subject"), COLUMN_SUBJECT, TRUE, -1);
  add_column (self, _("Source"), COLUMN_SOURCE, TRUE, -1);
  add_column (self, _("Outcome"), COLUMN_OUTCOME, FALSE, 90);
  g_signal_connect (self->column_view, "activate", G_CALLBACK (row_activated), self);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), self->column_view);
  gtk_widget_set_vexpand (scrolled, TRUE);

  self->empty_page = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (self->empty_page), "network-transmit-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (self->empty_page), _("No Connection"));
  adw_status_page_set_description (ADW_STATUS_PAGE (self->empty_page),
                                   _("Start the monitor with the URL of an SSE stream: "
                                     "cdviz-monitor http://host:8080/sse/events"));
  self->list_stack = gtk_stack_new ();
  gtk_stack_add_child (GTK_STACK (self->list_stack), self->empty_page);
  gtk_stack_add_child (GTK_STACK (self->list_stack), scrolled);
  gtk_stack_set_visible_child (GTK_STACK (self->list_stack), self->empty_page);
  gtk_widget_set_vexpand (self->list_stack, TRUE);
  gtk_box_append (GTK_BOX (page), self->list_stack);

  self->status_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_add_css_class (self->status_box, "toolbar");
  gtk_widget_set_visible (self->status_box, FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_box),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Connections"), -1);
  gtk_box_append (GTK_BOX (page), self->status_box);

  gtk_widget_set_size_request (page, 360, -1);
  gtk_widget_set_hexpand (page, TRUE);
  return page;
}

static GtkWidget *
build_detail_page (CdvizMonitorWindow *self)
{
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *back = gtk_button_new_from_icon_name ("go-previous-symbolic");
  GtkWidget *none = adw_status_page_new ();
  GtkWidget *event_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *text = gtk_text_view_new ();

  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_window_title_new (_("Event"), NULL));
  gtk_widget_set_tooltip_text (back, _("Back to the List"));
  g_signal_connect_swapped (back, "clicked", G_CALLBACK (go_back), self);
  g_object_bind_property (self->leaflet, "folded", back, "visible", G_BINDING_SYNC_CREATE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), back);
  g_object_bind_property (self->leaflet, "folded", header, "show-start-title-buttons",
                          G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (page), header);

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (none), "x-office-document-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (none), _("No Event Selected"));
  adw_status_page_set_description (ADW_STATUS_PAGE (none),
                                   _("Select an event to read its JSON and its links."));

  self->detail_heading = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->detail_heading, 0);
  gtk_label_set_wrap (self->detail_heading, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->detail_heading), "heading");
  self->detail_links = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->detail_links, 0);
  gtk_label_set_wrap (self->detail_links, TRUE);
  gtk_label_set_wrap_mode (self->detail_links, PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (self->detail_links, TRUE);
  /* Selectable with the mouse, but not where the focus lands. */
  gtk_widget_set_focusable (GTK_WIDGET (self->detail_links), FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->detail_links), "caption");
  gtk_text_view_set_editable (GTK_TEXT_VIEW (text), FALSE);
  gtk_text_view_set_monospace (GTK_TEXT_VIEW (text), TRUE);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (text), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (text), 6);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (text), 6);
  gtk_accessible_update_property (GTK_ACCESSIBLE (text), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("The event’s JSON"), -1);
  self->detail_buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (text));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), text);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (event_box), GTK_WIDGET (self->detail_heading));
  gtk_box_append (GTK_BOX (event_box), GTK_WIDGET (self->detail_links));
  gtk_box_append (GTK_BOX (event_box), scrolled);
  gtk_widget_set_margin_start (event_box, 12);
  gtk_widget_set_margin_end (event_box, 12);
  gtk_widget_set_margin_top (event_box, 6);
  gtk_widget_set_margin_bottom (event_box, 12);

  self->detail_stack = gtk_stack_new ();
  gtk_stack_add_named (GTK_STACK (self->detail_stack), none, "none");
  gtk_stack_add_named (GTK_STACK (self->detail_stack), event_box, "event");
  gtk_widget_set_vexpand (self->detail_stack, TRUE);
  gtk_box_append (GTK_BOX (page), self->detail_stack);
  gtk_widget_set_size_request (page, 320, -1);
  return page;
}

static void
focus_search (GtkWidget  *widget,
              const char *action,
              GVariant   *parameter)
{
  CdvizMonitorWindow *self = CDVIZ_MONITOR_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->list_page);
  gtk_widget_grab_focus (self->text_entry);
}

static gboolean
cdviz_monitor_window_close_request (GtkWindow *window)
{
  CdvizMonitorWindow *self = CDVIZ_MONITOR_WINDOW (window);
  int width, height;

  if (self->settings != NULL)
    {
      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
    }
  return GTK_WINDOW_CLASS (cdviz_monitor_window_parent_class)->close_request (window);
}

static void
folded_changed (CdvizMonitorWindow *self)
{
  hook_print (self, "folded\t%d", adw_leaflet_get_folded (self->leaflet));
}

static void
page_changed (CdvizMonitorWindow *self)
{
  hook_print (self, "page\t%s", adw_leaflet_get_visible_child (self->leaflet) == self->detail_page
                                   ? "detail" : "list");
}

static void
cdviz_monitor_window_dispose (GObject *object)
{
  CdvizMonitorWindow *self = CDVIZ_MONITOR_WINDOW (object);

  if (self->connections != NULL)
    for (guint i = 0; i < self->connections->len; i++)
      cdviz_monitor_connection_stop (g_ptr_array_index (self->connections, i));
  g_clear_pointer (&self->connections, g_ptr_array_unref);
  if (self->filter != NULL)
    g_signal_handlers_disconnect_by_data (self->filter, self);
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  G_OBJECT_CLASS (cdviz_monitor_window_parent_class)->dispose (object);
}

static void
cdviz_monitor_window_finalize (GObject *object)
{
  CdvizMonitorWindow *self = CDVIZ_MONITOR_WINDOW (object);

  g_clear_object (&self->selection);
  g_clear_object (&self->filter);
  g_clear_object (&self->store);
  g_clear_object (&self->rate);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (cdviz_monitor_window_parent_class)->finalize (object);
}

static void
cdviz_monitor_window_class_init (CdvizMonitorWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cdviz_monitor_window_dispose;
  G_OBJECT_CLASS (klass)->finalize = cdviz_monitor_window_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = cdviz_monitor_window_close_request;
  gtk_widget_class_install_action (widget_class, "win.search", NULL, focus_search);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
}

static void
cdviz_monitor_window_init (CdvizMonitorWindow *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema =
    source != NULL ? g_settings_schema_source_lookup (source, "dev.cdviz.Monitor", TRUE) : NULL;

  if (schema != NULL)
    self->settings = g_settings_new ("dev.cdviz.Monitor");
  self->test_hook = g_strcmp0 (g_getenv ("CDVIZ_MONITOR_TEST_HOOK"), "1") == 0;
  self->connections = g_ptr_array_new_with_free_func (g_object_unref);
  self->store = g_list_store_new (CDVIZ_TYPE_MONITOR_EVENT);
  self->filter = cdviz_monitor_filter_model_new (G_LIST_MODEL (self->store));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->filter)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  self->rate = cdviz_monitor_rate_new ();
  g_signal_connect (self->filter, "items-changed", G_CALLBACK (shown_changed), self);
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed), self);

  self->leaflet = ADW_LEAFLET (adw_leaflet_new ());
  adw_leaflet_set_can_navigate_back (self->leaflet, TRUE);
  self->list_page = build_list_page (self);
  self->detail_page = build_detail_page (self);
  adw_leaflet_append (self->leaflet, self->list_page);
  adw_leaflet_page_set_navigatable (adw_leaflet_append (self->leaflet,
                                                        gtk_separator_new (GTK_ORIENTATION_VERTICAL)),
                                    FALSE);
  adw_leaflet_append (self->leaflet, self->detail_page);
  adw_leaflet_set_visible_child (self->leaflet, self->list_page);
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (self), GTK_WIDGET (self->leaflet));
  gtk_window_set_title (GTK_WINDOW (self), _("CDEvents Monitor"));
  if (self->settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (self->settings, "window-width"),
                                   g_settings_get_int (self->settings, "window-height"));
      if (g_settings_get_boolean (self->settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 1200, 720);
  g_signal_connect_swapped (self->leaflet, "notify::folded", G_CALLBACK (folded_changed), self);
  g_signal_connect_swapped (self->leaflet, "notify::visible-child", G_CALLBACK (page_changed),
                            self);
  gtk_window_set_icon_name (GTK_WINDOW (self), "dev.cdviz.Monitor");
  update_title (self);
}

CdvizMonitorWindow *
cdviz_monitor_window_new (AdwApplication *application)
{
  return g_object_new (CDVIZ_TYPE_MONITOR_WINDOW, "application", application, NULL);
}
