/* SPDX-License-Identifier: Apache-2.0 */
/* cdviz-monitor [URL…] [--header "Name: value"]: watch CDEvents arrive. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "cdviz-monitor-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CdvizMonitorApplication) app = NULL;

  setlocale (LC_ALL, "");
#ifdef ENABLE_NLS
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
#endif
  app = cdviz_monitor_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
