/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorApplication: the command line, the saved connections, the
 * application actions. `cdviz-monitor URL… [--header "K: V"]…` watches
 * those streams (each header goes to every URL given) and saves them: the
 * URLs in GSettings (`connections`), the headers in the keyring
 * (cdviz-monitor-secrets.c). Without a URL it watches the saved ones.
 */
#include "config.h"

#include "cdviz-monitor-application.h"

#include <glib/gi18n.h>

#include "cdviz-monitor-connection.h"
#include "cdviz-monitor-secrets.h"
#include "cdviz-monitor-window.h"

#define APP_ID "dev.cdviz.Monitor"

struct _CdvizMonitorApplication
{
  AdwApplication parent_instance;

  GSettings *settings;   /* nullable: the schema is not installed */
};

G_DEFINE_FINAL_TYPE (CdvizMonitorApplication, cdviz_monitor_application, ADW_TYPE_APPLICATION)

static CdvizMonitorWindow *
get_window (CdvizMonitorApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (cdviz_monitor_window_new (ADW_APPLICATION (self)));
  return CDVIZ_MONITOR_WINDOW (window);
}

static int
cdviz_monitor_application_command_line (GApplication            *app,
                                        GApplicationCommandLine *command_line)
{
  CdvizMonitorApplication *self = CDVIZ_MONITOR_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_autofree const char **urls = NULL;
  g_autofree const char **headers = NULL;
  g_auto(GStrv) saved = NULL;
  g_autoptr(GPtrArray) connections = NULL;
  CdvizMonitorWindow *window;
  gboolean from_settings = FALSE;

  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&s", &urls);
  g_variant_dict_lookup (options, "header", "^a&s", &headers);

  for (gsize i = 0; headers != NULL && headers[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;
      g_autoptr(GError) error = NULL;
      if (!cdviz_monitor_parse_header (headers[i], &name, &value, &error))
        {
          g_application_command_line_printerr (command_line, "cdviz-monitor: %s\n", error->message);
          return 2;
        }
    }
  if ((urls == NULL || urls[0] == NULL) && self->settings != NULL)
    {
      saved = g_settings_get_strv (self->settings, "connections");
      urls = (const char **) g_memdup2 (saved, (g_strv_length (saved) + 1) * sizeof (char *));
      from_settings = TRUE;
    }

  /* Every connection first: a bad URL changes nothing. */
  connections = g_ptr_array_new_with_free_func (g_object_unref);
  for (gsize i = 0; urls != NULL && urls[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) stored = NULL;
      const char * const *these = (const char * const *) headers;
      CdvizMonitorConnection *connection;

      if (from_settings)
        {
          stored = cdviz_monitor_secrets_lookup (urls[i], &error);
          if (stored == NULL)
            {
              g_warning ("%s: headers not read: %s", urls[i], error->message);
              g_clear_error (&error);
            }
          these = (const char * const *) stored;
        }
      connection = cdviz_monitor_connection_new (urls[i], these, &error);
      if (connection == NULL || !cdviz_monitor_connection_start (connection, &error))
        {
          g_application_command_line_printerr (command_line, "cdviz-monitor: %s\n", error->message);
          g_clear_object (&connection);
          return 2;
        }
      g_ptr_array_add (connections, connection);
    }
  for (gsize i = 0; !from_settings && urls != NULL && urls[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      if (!cdviz_monitor_secrets_store (urls[i], (const char * const *) headers, &error))
        g_warning ("%s: headers not saved: %s", urls[i], error->message);
    }
  window = get_window (self);
  for (guint i = 0; i < connections->len; i++)
    cdviz_monitor_window_add_connection (window, g_ptr_array_index (connections, i));
  if (!from_settings && urls != NULL && self->settings != NULL)
    g_settings_set_strv (self->settings, "connections", urls);
  gtk_window_present (GTK_WINDOW (window));
  return 0;
}

static void
show_event (GSimpleAction *action,
            GVariant      *parameter,
            gpointer       data)
{
  CdvizMonitorWindow *window = get_window (data);

  cdviz_monitor_window_show_event (window, g_variant_get_string (parameter, NULL));
  gtk_window_present (GTK_WINDOW (window));
}

static void
show_about (GSimpleAction *action,
            GVariant      *parameter,
            gpointer       data)
{
  GtkApplication *app = data;

  adw_show_about_window (gtk_application_get_active_window (app),
                         "application-name", _("CDEvents Monitor"),
                         "application-icon", APP_ID,
                         "developer-name", _("The cdviz-pipeline authors"),
                         "version", PACKAGE_VERSION,
                         "license-type", GTK_LICENSE_APACHE_2_0,
                         "comments", _("Watch builds, tests, deployments and incidents arrive "
                                       "as CDEvents, live."),
                         NULL);
}

static void
quit (GSimpleAction *action,
      GVariant      *parameter,
      gpointer       data)
{
  g_application_quit (data);
}

static void
cdviz_monitor_application_startup (GApplication *app)
{
  CdvizMonitorApplication *self = CDVIZ_MONITOR_APPLICATION (app);
  static const GActionEntry entries[] = {
    { "show-event", show_event, "s", NULL, NULL, { 0 } },
    { "about", show_about, NULL, NULL, NULL, { 0 } },
    { "quit", quit, NULL, NULL, NULL, { 0 } },
  };
  const char *quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (cdviz_monitor_application_parent_class)->startup (app);
  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  if (self->settings != NULL)
    {
      g_autoptr(GAction) failures = g_settings_create_action (self->settings, "notify-failures");
      g_autoptr(GAction) incidents = g_settings_create_action (self->settings, "notify-incidents");
      g_action_map_add_action (G_ACTION_MAP (app), failures);
      g_action_map_add_action (G_ACTION_MAP (app), incidents);
    }
}

static void
cdviz_monitor_application_finalize (GObject *object)
{
  g_clear_object (&CDVIZ_MONITOR_APPLICATION (object)->settings);
  G_OBJECT_CLASS (cdviz_monitor_application_parent_class)->finalize (object);
}

static void
cdviz_monitor_application_class_init (CdvizMonitorApplicationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_monitor_application_finalize;
  G_APPLICATION_CLASS (klass)->command_line = cdviz_monitor_application_command_line;
  G_APPLICATION_CLASS (klass)->startup = cdviz_monitor_application_startup;
}

static void
cdviz_monitor_application_init (CdvizMonitorApplication *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema =
    source != NULL ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;
  const GOptionEntry entries[] = {
    { "header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, NULL,
      N_("A header sent to every URL given, as “Name: value” (repeatable); saved in the keyring"),
      N_("HEADER") },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, NULL, N_("[URL…]") },
    { NULL },
  };

  if (schema != NULL)
    self->settings = g_settings_new (APP_ID);
  else
    g_message ("GSettings schema %s not installed: connections are not saved", APP_ID);
  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[URL…]"));
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Watch CDEvents arrive from Server-Sent Events "
                                              "streams (this project’s SSE sink or "
                                              "cdviz-collector’s). Without a URL, watch the "
                                              "streams of the last run."));
}

CdvizMonitorApplication *
cdviz_monitor_application_new (void)
{
  return g_object_new (CDVIZ_TYPE_MONITOR_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       NULL);
}
