/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-compiler-private.h"

/* Checking function calls: arguments to parameters, their kinds and
 * fallibility, closures (their parameters' types), the functions' own
 * compile-time checks, del's effect on types and type_def(). */

/* A literal, or an array or object of literals. */
static gboolean
is_constant (const CdvizVrlNode *node)
{
  if (node->kind == VRL_N_LITERAL)
    return TRUE;
  if (node->kind != VRL_N_ARRAY && node->kind != VRL_N_OBJECT)
    return FALSE;
  for (guint i = 0; node->children != NULL && i < node->children->len; i++)
    if (!is_constant (node->children->pdata[i]))
      return FALSE;
  return TRUE;
}

/* del(path) and exists(path): the type of what is there; del removes it. */
static void
check_query_call (Compiler     *c,
                  CdvizVrlNode *node)
{
  CdvizVrlNode *arg = node->args[0];
  CdvizVrlType **root = arg->target == VRL_TARGET_EXPR ? NULL : vrl_root_type (c, arg);

  if (root == NULL || !g_str_equal (node->function->name, "del") ||
      !vrl_check_mutable (c, arg, *root))
    return;
  vrl_replace_type (&node->tdef, cdviz_vrl_type_get (*root, arg->path, 0));
  node->type = cdviz_vrl_type_kinds (node->tdef);
  if (arg->path->len == 0)
    vrl_replace_type (root, cdviz_vrl_type_new (CDVIZ_VRL_NULL));
  else
    vrl_replace_type (root, cdviz_vrl_type_remove (*root, arg->path, 0));
}

void
vrl_check_call (Compiler     *c,
            CdvizVrlNode *node)
{
  const CdvizVrlFunction *fn = cdviz_vrl_function_lookup (node->name);
  guint n_params = 0;
  gboolean fallible;

  node->type = CDVIZ_VRL_ANY;
  if (fn == NULL)
    {
      vrl_diagnose (c, node->start, FALSE, _("error[E105]: call to undefined function “%s”"),
                node->name);
      return;
    }
  node->function = fn;
  while (n_params < G_N_ELEMENTS (fn->params) && fn->params[n_params].name != NULL)
    n_params++;
  node->args = g_new0 (CdvizVrlNode *, MAX (n_params, 1));

  /* arguments → parameters */
  for (guint i = 0, position = 0; i < node->children->len; i++)
    {
      CdvizVrlNode *arg = node->children->pdata[i];
      const char *name = node->arg_names[i];
      guint index;

      if (name != NULL)
        {
          for (index = 0; index < n_params; index++)
            if (g_str_equal (fn->params[index].name, name))
              break;
          if (index == n_params)
            {
              vrl_diagnose (c, arg->start, FALSE,
                        _("error[E108]: unknown function argument “%s” for “%s”"), name, fn->name);
              return;
            }
        }
      else
        {
          while (position < n_params && node->args[position] != NULL)
            position++;
          index = position;
          if (index >= n_params)
            {
              vrl_diagnose (c, arg->start, FALSE,
                        _("error[E106]: function argument count mismatch: “%s” takes %u "
                          "arguments"), fn->name, n_params);
              return;
            }
        }
      if (node->args[index] != NULL)
        {
          vrl_diagnose (c, arg->start, FALSE,
                    _("error[E106]: argument “%s” of “%s” given twice"),
                    fn->params[index].name, fn->name);
          return;
        }
      node->args[index] = arg;
    }
  for (guint i = 0; i < n_params; i++)
    if (fn->params[i].required && node->args[i] == NULL)
      {
        vrl_diagnose (c, node->start, FALSE,
                  _("error[E107]: required argument missing: “%s” of “%s”"),
                  fn->params[i].name, fn->name);
        return;
      }

  fallible = (fn->flags & CDVIZ_VRL_FN_FALLIBLE) != 0 ||
             ((fn->flags & CDVIZ_VRL_FN_FALLIBLE_WITH_ARG1) && n_params > 1 && node->args[1] != NULL);
  for (guint i = 0; i < n_params && c->error == NULL; i++)
    {
      CdvizVrlNode *arg = node->args[i];

      if (arg == NULL)
        continue;
      if (i == 0 && (fn->flags & CDVIZ_VRL_FN_QUERY_ARG))
        {
          if (arg->kind != VRL_N_QUERY || arg->target == VRL_TARGET_EXPR)
            {
              vrl_diagnose (c, arg->start, FALSE,
                        _("error[E110]: invalid argument type: “%s” expects a path such as "
                          ".field or variable.field"), fn->name);
              return;
            }
          if (arg->target == VRL_TARGET_VARIABLE)
            {
              arg->slot = vrl_lookup_variable (c, arg->name);
              if (arg->slot < 0)
                {
                  /* exists(x.y) on an unknown variable is simply false; del must know it */
                  if (g_str_equal (fn->name, "del"))
                    {
                      vrl_diagnose (c, arg->start, FALSE,
                                _("error[E701]: call to undefined variable “%s”"), arg->name);
                      return;
                    }
                }
            }
          continue;
        }
      vrl_check (c, arg);
      if (arg->fallible && !g_str_equal (fn->name, "type_def"))
        vrl_diagnose (c, arg->start, TRUE,
                  _("error[E630]: fallible argument: handle the error of this argument "
                    "before passing it to “%s”"), fn->name);
      if ((arg->type & fn->params[i].kinds) == 0)
        {
          g_autofree char *want = cdviz_vrl_kinds_describe (fn->params[i].kinds);
          g_autofree char *got = cdviz_vrl_kinds_describe (arg->type);

          vrl_diagnose (c, arg->start, FALSE,
                    _("error[E110]: invalid argument type: argument “%s” of “%s” must be %s, "
                      "not %s"), fn->params[i].name, fn->name, want, got);
          return;
        }
      if (arg->type & ~fn->params[i].kinds)
        fallible = TRUE;
      if (i == 0 && fn->infallible_if != 0)
        fallible = fallible || (arg->type & ~fn->infallible_if) != 0;
    }

  /* the closure */
  if (node->closure != NULL && !(fn->flags & CDVIZ_VRL_FN_CLOSURE))
    {
      vrl_diagnose (c, node->closure->start, FALSE,
                _("error[E109]: “%s” does not take a closure"), fn->name);
      return;
    }
  if (node->closure == NULL && (fn->flags & CDVIZ_VRL_FN_CLOSURE))
    {
      vrl_diagnose (c, node->end, FALSE, _("error[E120]: “%s” needs a closure: -> |…| { … }"),
                fn->name);
      return;
    }
  if (node->closure != NULL &&
      (node->n_closure < fn->closure_min || node->n_closure > fn->closure_max))
    {
      vrl_diagnose (c, node->closure->start, FALSE,
                _("error[E120]: the closure of “%s” takes %u parameter(s), not %u"),
                fn->name, fn->closure_max, node->n_closure);
      return;
    }
  if (node->closure != NULL)
    {
      CdvizVrlType *coll = node->args[0] && node->args[0]->tdef ? node->args[0]->tdef
                                                                 : cdviz_vrl_type_any ();
      guint ck = cdviz_vrl_type_kinds (coll) & (CDVIZ_VRL_OBJECT | CDVIZ_VRL_ARRAY);
      TypeState *before;

      vrl_push_scope (c);
      node->closure_slots = g_new0 (int, MAX (node->n_closure, 1));
      for (guint i = 0; i < node->n_closure; i++)
        {
          CdvizVrlType *pt;

          if (node->closure_names[i][0] == '\0')
            {
              node->closure_slots[i] = -1;
              continue;
            }
          node->closure_slots[i] = vrl_new_slot (c, node->closure_names[i]);
          /* |key, value|, |index, value|; map_keys: |key|, map_values: |value| */
          if ((node->n_closure == 2 && i == 0) || g_str_equal (fn->name, "map_keys"))
            pt = cdviz_vrl_type_new (ck == CDVIZ_VRL_OBJECT ? CDVIZ_VRL_BYTES :
                                     ck == CDVIZ_VRL_ARRAY ? CDVIZ_VRL_INTEGER :
                                     CDVIZ_VRL_BYTES | CDVIZ_VRL_INTEGER);
          else if (ck != 0 && !g_str_equal (fn->name, "replace_with") &&
                   !((g_str_equal (fn->name, "map_values") || g_str_equal (fn->name, "map_keys")) &&
                     node->args[1] != NULL))
            pt = cdviz_vrl_type_elements (coll);
          else
            pt = cdviz_vrl_type_any ();
          vrl_replace_type ((CdvizVrlType **) &c->slot_types->pdata[node->closure_slots[i]], pt);
        }
      before = vrl_state_save (c);
      vrl_check_block (c, node->closure, TRUE);
      vrl_state_apply (c, before, TRUE);
      vrl_pop_scope (c);
    }

  if (fallible && (fn->flags & CDVIZ_VRL_FN_CONST_OK))
    {
      gboolean constant = TRUE;

      for (guint i = 0; i < n_params && constant; i++)
        constant = node->args[i] == NULL || is_constant (node->args[i]);
      if (constant)
        fallible = FALSE;
    }

  if (fn->compile != NULL && c->error == NULL)
    {
      g_autoptr(GError) local = NULL;

      if (!fn->compile (node, &local))
        {
          vrl_diagnose (c, node->start, FALSE,
                        _("error[E610]: function compilation error: %s"), local->message);
          return;
        }
    }

  if (node->abort_on_error)
    {
      if (!fallible)
        vrl_diagnose (c, node->start, TRUE,
                  _("error[E620]: can't abort infallible function “%s”: remove the “!”"),
                  fn->name);
      fallible = FALSE;
    }
  node->fallible = fallible;
  node->type = fn->returns;
  if ((fn->flags & CDVIZ_VRL_FN_RETURNS_ARG0) && node->args[0] != NULL &&
      (node->args[0]->type & fn->returns) != 0)
    {
      node->type = node->args[0]->type & fn->returns;
      vrl_replace_type (&node->tdef, cdviz_vrl_type_narrow (node->args[0]->tdef, fn->returns));
    }
  if (fn->flags & CDVIZ_VRL_FN_QUERY_ARG)
    check_query_call (c, node);
  if (g_str_equal (fn->name, "type_def"))
    {
      /* known when compiling: the call becomes its result, and its
       * argument is never run (upstream's TypeDefFn) */
      node->kind = VRL_N_LITERAL;
      node->value = cdviz_vrl_type_to_value (node->args[0]->tdef, node->args[0]->fallible);
      node->fallible = FALSE;
      node->type = CDVIZ_VRL_OBJECT;
      vrl_replace_type (&node->tdef, cdviz_vrl_type_of_value (node->value));
    }
}
