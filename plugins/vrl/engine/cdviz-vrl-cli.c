/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-cli.h"
#include "cdviz-vrl-runtime.h"

int
cdviz_vrl_cli_run (int    argc,
                   char **argv)
{
  g_autofree char *input = NULL;
  gboolean print_object = FALSE;
  gboolean lenient = FALSE;
  guint64 max_steps = 0;
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input,
      N_("The event the program runs on (a JSON object; {} without it)"), N_("EVENT.json") },
    { "print-object", 'o', 0, G_OPTION_ARG_NONE, &print_object,
      N_("Print the event after the program instead of the program's value"), NULL },
    { "lenient", 0, 0, G_OPTION_ARG_NONE, &lenient,
      N_("Accept unhandled fallible expressions, as the vrl transformer does without strict"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PROGRAM.vrl — run a VRL program on one event"));
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  g_autoptr(CdvizVrlProgram) program = NULL;
  g_autoptr(CdvizVrlValue) target = NULL;
  g_autoptr(CdvizVrlValue) metadata = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) result = NULL;
  g_autofree char *json = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("cdviz-pipeline vrl: %s\n", error->message);
      return 2;
    }
  if (argc != 2)
    {
      g_printerr (_("cdviz-pipeline vrl: expected one program file (see --help)\n"));
      return 2;
    }
  if (!g_file_get_contents (argv[1], &source, NULL, &error))
    {
      g_printerr ("cdviz-pipeline vrl: %s\n", error->message);
      return 2;
    }

  if (input != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (!json_parser_load_from_file (parser, input, &error))
        {
          g_printerr ("cdviz-pipeline vrl: %s: %s\n", input, error->message);
          return 2;
        }
      target = cdviz_vrl_value_from_json (json_parser_get_root (parser));
    }
  else
    target = cdviz_vrl_object_new ();

  program = cdviz_vrl_compile (source, lenient ? 0 : CDVIZ_VRL_COMPILE_STRICT, &error);
  if (program == NULL)
    {
      g_printerr ("%s:%s\n", argv[1], error->message);
      return 2;
    }
  for (guint i = 0; i < program->warnings->len; i++)
    g_printerr (_("%s:%s (warning)\n"), argv[1], (const char *) program->warnings->pdata[i]);

  result = cdviz_vrl_run (program, &target, &metadata, max_steps, &error);
  if (result == NULL)
    {
      g_printerr ("%s: %s\n", argv[1], error->message);
      return 1;
    }
  json = cdviz_vrl_value_to_json (print_object ? target : result, FALSE);
  g_print ("%s\n", json);
  return 0;
}
