/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cdviz-vrl-runtime.h"

/* The function table: every family's functions, sorted by name once. */

static const CdvizVrlFunction **all_functions;
static guint n_functions;

static int
compare_functions (gconstpointer a,
                   gconstpointer b)
{
  const CdvizVrlFunction *x = *(const CdvizVrlFunction **) a;
  const CdvizVrlFunction *y = *(const CdvizVrlFunction **) b;

  return strcmp (x->name, y->name);
}

static gpointer
build_table (gpointer data)
{
  const CdvizVrlFunction *(*families[]) (void) = {
    cdviz_vrl_stdlib_string, cdviz_vrl_stdlib_collection, cdviz_vrl_stdlib_type,
    cdviz_vrl_stdlib_time, cdviz_vrl_stdlib_codec, cdviz_vrl_stdlib_cdviz, cdviz_vrl_stdlib_net,
    cdviz_vrl_stdlib_parse, cdviz_vrl_stdlib_libs,
  };
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    for (const CdvizVrlFunction *fn = families[i] (); fn->name != NULL; fn++)
      g_ptr_array_add (list, (gpointer) fn);
  g_ptr_array_sort (list, compare_functions);
  n_functions = list->len;
  g_ptr_array_add (list, NULL);
  all_functions = (const CdvizVrlFunction **) g_ptr_array_free (list, FALSE);
  return NULL;
}

const CdvizVrlFunction *const *
cdviz_vrl_function_list (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, build_table, NULL);
  return all_functions;
}

const CdvizVrlFunction *
cdviz_vrl_function_lookup (const char *name)
{
  const CdvizVrlFunction *const *list = cdviz_vrl_function_list ();
  gssize lo = 0, hi = (gssize) n_functions - 1;

  while (lo <= hi)
    {
      gssize mid = (lo + hi) / 2;
      int c = strcmp (list[mid]->name, name);

      if (c == 0)
        return list[mid];
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid - 1;
    }
  return NULL;
}
