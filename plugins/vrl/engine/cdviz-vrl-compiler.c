/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-runtime.h"

/* The compile step: resolves variables to slots and functions to the
 * table, matches arguments to parameters, infers the kinds each expression
 * may produce, and applies upstream's checks:
 *
 *  - always errors: undefined variable (E701) or function (E105), argument
 *    count and names (E106-E108), an argument that can never have the right
 *    kind (E110), a non-boolean predicate (E102), closures (E109, E120);
 *  - fallibility (E100 unhandled error, E103 unhandled fallible assignment,
 *    E110 fallible predicate, E630 fallible argument, E620 `!` on an
 *    infallible call, E651 unnecessary `??`, E104 unnecessary `, err`):
 *    errors with CDVIZ_VRL_COMPILE_STRICT, as upstream; otherwise warnings,
 *    and the error happens at run time (the message is then rejected).
 *
 * Types (cdviz-vrl-type.c) flow through assignments into variables, `.`
 * and `%`; a branch saves the state and merges it after (TypeState). */

typedef struct {
  CdvizVrlProgram *program;
  CdvizVrlCompileFlags flags;
  GPtrArray *scopes;            /* GHashTable name → GINT_TO_POINTER (slot + 1) */
  GPtrArray *slot_types;        /* CdvizVrlType per slot */
  CdvizVrlType *event_type;     /* `.` */
  CdvizVrlType *meta_type;      /* `%` */
  GError *error;
  guint error_offset;
} Compiler;

G_GNUC_PRINTF (4, 5) static void
diagnose (Compiler   *c,
          guint       offset,
          gboolean    fallibility,
          const char *format,
          ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (fallibility && !(c->flags & CDVIZ_VRL_COMPILE_STRICT))
    {
      guint line, column;

      cdviz_vrl_offset_to_position (c->program->source, offset, &line, &column);
      g_ptr_array_add (c->program->warnings, g_strdup_printf ("%u:%u: %s", line, column, message));
      return;
    }
  if (c->error != NULL)
    return;
  c->error = g_error_new_literal (CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_COMPILE, message);
  c->error_offset = offset;
}

static void check (Compiler *c, CdvizVrlNode *node);

/* --- scopes ----------------------------------------------------------------- */

static int
lookup_variable (Compiler   *c,
                 const char *name)
{
  for (guint i = c->scopes->len; i > 0; i--)
    {
      gpointer slot = g_hash_table_lookup (c->scopes->pdata[i - 1], name);

      if (slot != NULL)
        return GPOINTER_TO_INT (slot) - 1;
    }
  return -1;
}

static int
new_slot (Compiler   *c,
          const char *name)
{
  int slot = c->program->slot_names->len;

  g_ptr_array_add (c->program->slot_names, g_strdup (name));
  g_ptr_array_add (c->slot_types, cdviz_vrl_type_any ());
  g_hash_table_insert (c->scopes->pdata[c->scopes->len - 1], g_strdup (name),
                       GINT_TO_POINTER (slot + 1));
  return slot;
}

static void
push_scope (Compiler *c)
{
  g_ptr_array_add (c->scopes, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL));
}

static void
pop_scope (Compiler *c)
{
  g_ptr_array_remove_index (c->scopes, c->scopes->len - 1);
}

/* --- types along the program ------------------------------------------------ */

/* What is known of the variables, `.` and `%` at one point: saved before a
 * branch and merged after it, as upstream merges type states. */
typedef struct {
  GPtrArray *slots;
  CdvizVrlType *event, *meta;
} TypeState;

static TypeState *
state_save (Compiler *c)
{
  TypeState *s = g_new0 (TypeState, 1);

  s->slots = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_type_unref);
  for (guint i = 0; i < c->slot_types->len; i++)
    g_ptr_array_add (s->slots, cdviz_vrl_type_ref (c->slot_types->pdata[i]));
  s->event = cdviz_vrl_type_ref (c->event_type);
  s->meta = cdviz_vrl_type_ref (c->meta_type);
  return s;
}

static void
state_free (TypeState *s)
{
  g_ptr_array_unref (s->slots);
  cdviz_vrl_type_unref (s->event);
  cdviz_vrl_type_unref (s->meta);
  g_free (s);
}

static void
replace_type (CdvizVrlType **where,
              CdvizVrlType  *type)      /* takes */
{
  cdviz_vrl_type_unref (*where);
  *where = type;
}

/* The current state becomes @s (merge FALSE) or its union with @s. */
static void
state_apply (Compiler  *c,
             TypeState *s,
             gboolean   merge)
{
  for (guint i = 0; i < s->slots->len; i++)
    replace_type ((CdvizVrlType **) &c->slot_types->pdata[i],
                  merge ? cdviz_vrl_type_union (c->slot_types->pdata[i], s->slots->pdata[i])
                        : cdviz_vrl_type_ref (s->slots->pdata[i]));
  replace_type (&c->event_type, merge ? cdviz_vrl_type_union (c->event_type, s->event)
                                      : cdviz_vrl_type_ref (s->event));
  replace_type (&c->meta_type, merge ? cdviz_vrl_type_union (c->meta_type, s->meta)
                                     : cdviz_vrl_type_ref (s->meta));
  state_free (s);
}

static CdvizVrlType **
root_type (Compiler     *c,
           CdvizVrlNode *query)
{
  switch (query->target)
    {
    case VRL_TARGET_EVENT: return &c->event_type;
    case VRL_TARGET_METADATA: return &c->meta_type;
    case VRL_TARGET_VARIABLE:
      return query->slot >= 0 ? (CdvizVrlType **) &c->slot_types->pdata[query->slot] : NULL;
    default: return NULL;
    }
}

static void
set_target_type (Compiler     *c,
                 CdvizVrlNode *target,
                 CdvizVrlType *type)
{
  CdvizVrlType **root;

  if (target->kind == VRL_N_VARIABLE ||
      (target->kind == VRL_N_QUERY && target->target == VRL_TARGET_VARIABLE))
    {
      int slot = lookup_variable (c, target->name);

      if (slot < 0)
        slot = new_slot (c, target->name);
      target->slot = slot;
    }
  if (target->kind == VRL_N_VARIABLE)
    {
      replace_type ((CdvizVrlType **) &c->slot_types->pdata[target->slot],
                    cdviz_vrl_type_defined (type));
      return;
    }
  root = root_type (c, target);
  if (root != NULL)
    replace_type (root, cdviz_vrl_type_set (*root, target->path, 0, type));
}

/* --- checks ------------------------------------------------------------------ */

static void
check_statement (Compiler     *c,
                 CdvizVrlNode *node,
                 gboolean      root)
{
  check (c, node);
  if (root && node->fallible && node->kind != VRL_N_ASSIGN)
    diagnose (c, node->start, TRUE,
              _("error[E100]: unhandled error: this expression can fail; handle it with "
                "“!”, “??” or “value, err = …”"));
}

/* @root: the program or a closure body, where an unhandled error is
 * refused; a nested block passes its statements' fallibility up to the
 * expression that may handle it (`{ … } ?? x`), as upstream. */
static void
check_block (Compiler     *c,
             CdvizVrlNode *node,
             gboolean      root)
{
  gboolean fallible = FALSE;

  node->type = CDVIZ_VRL_NULL;
  for (guint i = 0; i < node->children->len && c->error == NULL; i++)
    {
      CdvizVrlNode *child = node->children->pdata[i];

      check_statement (c, child, root);
      node->type = child->type;
      if (child->tdef != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_ref (child->tdef));
      fallible |= child->fallible && child->kind != VRL_N_ASSIGN;
    }
  node->fallible = root ? FALSE : fallible;
}

static void
check_query (Compiler     *c,
             CdvizVrlNode *node)
{
  node->type = CDVIZ_VRL_ANY;
  node->fallible = FALSE;
  switch (node->target)
    {
    case VRL_TARGET_VARIABLE:
      node->slot = lookup_variable (c, node->name);
      if (node->slot < 0)
        {
          diagnose (c, node->start, FALSE, _("error[E701]: call to undefined variable “%s”"),
                    node->name);
          return;
        }
      break;
    case VRL_TARGET_EXPR:
      check (c, node->expr);
      node->fallible = node->expr->fallible;
      if (node->expr->tdef != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_get (node->expr->tdef, node->path, 0));
      break;
    case VRL_TARGET_EVENT:
    case VRL_TARGET_METADATA:
      break;
    }
  if (node->target != VRL_TARGET_EXPR)
    {
      CdvizVrlType **root = root_type (c, node);

      if (root != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_get (*root, node->path, 0));
    }
  if (node->tdef != NULL)
    node->type = cdviz_vrl_type_kinds (node->tdef);
}

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
  CdvizVrlType **root = arg->target == VRL_TARGET_EXPR ? NULL : root_type (c, arg);

  if (root == NULL || !g_str_equal (node->function->name, "del"))
    return;
  replace_type (&node->tdef, cdviz_vrl_type_get (*root, arg->path, 0));
  node->type = cdviz_vrl_type_kinds (node->tdef);
  if (arg->path->len == 0)
    replace_type (root, cdviz_vrl_type_new (CDVIZ_VRL_NULL));
  else
    replace_type (root, cdviz_vrl_type_remove (*root, arg->path, 0));
}

static void
check_call (Compiler     *c,
            CdvizVrlNode *node)
{
  const CdvizVrlFunction *fn = cdviz_vrl_function_lookup (node->name);
  guint n_params = 0;
  gboolean fallible;

  node->type = CDVIZ_VRL_ANY;
  if (fn == NULL)
    {
      diagnose (c, node->start, FALSE, _("error[E105]: call to undefined function “%s”"),
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
              diagnose (c, arg->start, FALSE,
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
              diagnose (c, arg->start, FALSE,
                        _("error[E106]: function argument count mismatch: “%s” takes %u "
                          "arguments"), fn->name, n_params);
              return;
            }
        }
      if (node->args[index] != NULL)
        {
          diagnose (c, arg->start, FALSE,
                    _("error[E106]: argument “%s” of “%s” given twice"),
                    fn->params[index].name, fn->name);
          return;
        }
      node->args[index] = arg;
    }
  for (guint i = 0; i < n_params; i++)
    if (fn->params[i].required && node->args[i] == NULL)
      {
        diagnose (c, node->start, FALSE,
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
              diagnose (c, arg->start, FALSE,
                        _("error[E110]: invalid argument type: “%s” expects a path such as "
                          ".field or variable.field"), fn->name);
              return;
            }
          if (arg->target == VRL_TARGET_VARIABLE)
            {
              arg->slot = lookup_variable (c, arg->name);
              if (arg->slot < 0)
                {
                  /* exists(x.y) on an unknown variable is simply false; del must know it */
                  if (g_str_equal (fn->name, "del"))
                    {
                      diagnose (c, arg->start, FALSE,
                                _("error[E701]: call to undefined variable “%s”"), arg->name);
                      return;
                    }
                }
            }
          continue;
        }
      check (c, arg);
      if (arg->fallible && !g_str_equal (fn->name, "type_def"))
        diagnose (c, arg->start, TRUE,
                  _("error[E630]: fallible argument: handle the error of this argument "
                    "before passing it to “%s”"), fn->name);
      if ((arg->type & fn->params[i].kinds) == 0)
        {
          g_autofree char *want = cdviz_vrl_kinds_describe (fn->params[i].kinds);
          g_autofree char *got = cdviz_vrl_kinds_describe (arg->type);

          diagnose (c, arg->start, FALSE,
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
      diagnose (c, node->closure->start, FALSE,
                _("error[E109]: “%s” does not take a closure"), fn->name);
      return;
    }
  if (node->closure == NULL && (fn->flags & CDVIZ_VRL_FN_CLOSURE))
    {
      diagnose (c, node->end, FALSE, _("error[E120]: “%s” needs a closure: -> |…| { … }"),
                fn->name);
      return;
    }
  if (node->closure != NULL &&
      (node->n_closure < fn->closure_min || node->n_closure > fn->closure_max))
    {
      diagnose (c, node->closure->start, FALSE,
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

      push_scope (c);
      node->closure_slots = g_new0 (int, MAX (node->n_closure, 1));
      for (guint i = 0; i < node->n_closure; i++)
        {
          CdvizVrlType *pt;

          if (node->closure_names[i][0] == '\0')
            {
              node->closure_slots[i] = -1;
              continue;
            }
          node->closure_slots[i] = new_slot (c, node->closure_names[i]);
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
          replace_type ((CdvizVrlType **) &c->slot_types->pdata[node->closure_slots[i]], pt);
        }
      before = state_save (c);
      check_block (c, node->closure, TRUE);
      state_apply (c, before, TRUE);
      pop_scope (c);
    }

  if (fallible && (fn->flags & CDVIZ_VRL_FN_CONST_OK))
    {
      gboolean constant = TRUE;

      for (guint i = 0; i < n_params && constant; i++)
        constant = node->args[i] == NULL || is_constant (node->args[i]);
      if (constant)
        fallible = FALSE;
    }

  if (node->abort_on_error)
    {
      if (!fallible)
        diagnose (c, node->start, TRUE,
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
      replace_type (&node->tdef, cdviz_vrl_type_narrow (node->args[0]->tdef, fn->returns));
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
      replace_type (&node->tdef, cdviz_vrl_type_of_value (node->value));
    }
}

static void
check_op (Compiler     *c,
          CdvizVrlNode *node)
{
  CdvizVrlNode *l = node->lhs, *r = node->rhs;
  const guint num = CDVIZ_VRL_INTEGER | CDVIZ_VRL_FLOAT;
  gboolean own = FALSE, never = FALSE;

  check (c, l);
  if (node->op == VRL_OP_COALESCE || node->op == VRL_OP_OR || node->op == VRL_OP_AND)
    {
      /* the right-hand side may not run: its assignments are conditional,
       * unless a literal left-hand side decides (upstream's short circuit) */
      gboolean lit = l->kind == VRL_N_LITERAL && l->value->kind == CDVIZ_VRL_BOOLEAN;
      gboolean always;
      TypeState *before = state_save (c);

      never = node->op == VRL_OP_COALESCE ? !l->fallible :
              lit && (node->op == VRL_OP_OR) == l->value->boolean;
      always = node->op != VRL_OP_COALESCE && lit && !never;

      check (c, r);
      if (always)
        state_free (before);
      else
        state_apply (c, before, !never);
    }
  else
    check (c, r);

  switch (node->op)
    {
    case VRL_OP_COALESCE:
      if (!l->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E651]: unnecessary error coalescing operation: the left-hand "
                    "side cannot fail"));
      node->type = l->type | r->type;
      node->fallible = l->fallible && r->fallible;
      if (l->tdef != NULL && r->tdef != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_union (l->tdef, r->tdef));
      return;
    case VRL_OP_OR:
      if (l->type == CDVIZ_VRL_NULL ||
          (l->kind == VRL_N_LITERAL && l->value->kind == CDVIZ_VRL_BOOLEAN && !l->value->boolean))
        node->type = r->type;
      else if (l->kind == VRL_N_LITERAL && l->value->kind == CDVIZ_VRL_BOOLEAN)
        node->type = l->type;
      else if (!(l->type & (CDVIZ_VRL_NULL | CDVIZ_VRL_BOOLEAN)))
        node->type = l->type;
      else
        node->type = (l->type & ~CDVIZ_VRL_NULL) | r->type;
      break;
    case VRL_OP_AND:
      own = (l->type & ~(CDVIZ_VRL_NULL | CDVIZ_VRL_BOOLEAN)) ||
            (r->type & ~(CDVIZ_VRL_NULL | CDVIZ_VRL_BOOLEAN));
      node->type = CDVIZ_VRL_BOOLEAN;
      break;
    case VRL_OP_EQ:
    case VRL_OP_NE:
      node->type = CDVIZ_VRL_BOOLEAN;
      break;
    case VRL_OP_LT: case VRL_OP_LE: case VRL_OP_GT: case VRL_OP_GE:
      node->type = CDVIZ_VRL_BOOLEAN;
      if (!((l->type == CDVIZ_VRL_BYTES && r->type == CDVIZ_VRL_BYTES) ||
            (l->type == CDVIZ_VRL_TIMESTAMP && r->type == CDVIZ_VRL_TIMESTAMP)))
        own = (l->type & ~num) || (r->type & ~num);
      break;
    case VRL_OP_DIV:
      node->type = CDVIZ_VRL_FLOAT;
      own = TRUE;
      /* a literal divisor, or a variable known to hold one */
      if (r->tdef != NULL && r->tdef->constant != NULL && !(l->type & ~num) &&
          ((r->tdef->constant->kind == CDVIZ_VRL_INTEGER && r->tdef->constant->integer != 0) ||
           (r->tdef->constant->kind == CDVIZ_VRL_FLOAT && r->tdef->constant->number != 0)))
        own = FALSE;
      break;
    case VRL_OP_MERGE:
      node->type = CDVIZ_VRL_OBJECT;
      own = l->type != CDVIZ_VRL_OBJECT || r->type != CDVIZ_VRL_OBJECT;
      if (l->tdef != NULL && r->tdef != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_merge_objects (l->tdef, r->tdef));
      break;
    case VRL_OP_ADD: case VRL_OP_SUB: case VRL_OP_MUL:
      if (node->op == VRL_OP_ADD && (l->type == CDVIZ_VRL_BYTES || r->type == CDVIZ_VRL_BYTES))
        {
          node->type = CDVIZ_VRL_BYTES;
          own = (l->type & ~(CDVIZ_VRL_BYTES | CDVIZ_VRL_NULL)) ||
                (r->type & ~(CDVIZ_VRL_BYTES | CDVIZ_VRL_NULL));
        }
      else if (l->type == CDVIZ_VRL_FLOAT || r->type == CDVIZ_VRL_FLOAT)
        {
          node->type = CDVIZ_VRL_FLOAT;
          own = (l->type & ~num) || (r->type & ~num);
        }
      else if (l->type == CDVIZ_VRL_INTEGER && r->type == CDVIZ_VRL_INTEGER)
        node->type = CDVIZ_VRL_INTEGER;
      else if (node->op == VRL_OP_MUL &&
               ((l->type == CDVIZ_VRL_BYTES && r->type == CDVIZ_VRL_INTEGER) ||
                (l->type == CDVIZ_VRL_INTEGER && r->type == CDVIZ_VRL_BYTES)))
        node->type = CDVIZ_VRL_BYTES;
      else
        {
          own = TRUE;
          node->type = node->op == VRL_OP_SUB ? num : num | CDVIZ_VRL_BYTES;
        }
      break;
    }
  node->fallible = own || l->fallible || (r->fallible && !never);
}

static void
check_assign (Compiler     *c,
              CdvizVrlNode *node)
{
  CdvizVrlNode *rhs = node->expr;
  g_autoptr(CdvizVrlType) value_type = NULL;

  check (c, rhs);
  if (c->error != NULL)
    return;
  value_type = cdviz_vrl_type_ref (rhs->tdef);
  if (node->op == 1)
    {
      /* `target |= value`: the target must have been defined */
      if (node->lhs->kind == VRL_N_VARIABLE)
        {
          node->lhs->slot = lookup_variable (c, node->lhs->name);
          if (node->lhs->slot < 0)
            {
              diagnose (c, node->lhs->start, FALSE,
                        _("error[E701]: call to undefined variable “%s”"), node->lhs->name);
              return;
            }
          replace_type (&node->lhs->tdef, cdviz_vrl_type_ref (c->slot_types->pdata[node->lhs->slot]));
        }
      if (node->lhs->kind == VRL_N_QUERY)
        check_query (c, node->lhs);
      replace_type (&value_type, node->lhs->tdef != NULL ?
                    cdviz_vrl_type_merge_objects (node->lhs->tdef, rhs->tdef) :
                    cdviz_vrl_type_new (CDVIZ_VRL_OBJECT));
      if (rhs->type != CDVIZ_VRL_OBJECT)
        rhs->fallible = TRUE;
    }

  if (node->rhs != NULL)
    {
      /* ok, err = … */
      if (!rhs->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E104]: unnecessary error assignment: this expression cannot fail"));
      /* the value on success, or the default of its kinds on failure */
      if (node->lhs->kind != VRL_N_NOOP)
        set_target_type (c, node->lhs, value_type);
      if (node->rhs->kind != VRL_N_NOOP)
        {
          g_autoptr(CdvizVrlType) err = cdviz_vrl_type_new (CDVIZ_VRL_BYTES | CDVIZ_VRL_NULL);

          set_target_type (c, node->rhs, err);
        }
    }
  else
    {
      if (rhs->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E103]: unhandled fallible assignment: handle the error with "
                    "“!”, “??” or “value, err = …”"));
      if (node->lhs->kind != VRL_N_NOOP)
        set_target_type (c, node->lhs, value_type);
    }
  node->type = rhs->type;
  replace_type (&node->tdef, cdviz_vrl_type_ref (rhs->tdef));
  node->fallible = FALSE;
}

static void
check (Compiler     *c,
       CdvizVrlNode *node)
{
  if (c->error != NULL || node == NULL)
    return;

  node->fallible = FALSE;
  switch (node->kind)
    {
    case VRL_N_LITERAL:
      node->type = node->value->kind;
      replace_type (&node->tdef, cdviz_vrl_type_of_value (node->value));
      break;
    case VRL_N_TEMPLATE:
      node->type = CDVIZ_VRL_BYTES;
      for (guint i = 0; i < node->children->len; i++)
        {
          CdvizVrlNode *part = node->children->pdata[i];

          check (c, part);
          node->fallible |= part->fallible;
          if (!(part->type & CDVIZ_VRL_BYTES))
            diagnose (c, node->start, FALSE,
                      _("error[E400]: a template string can only hold strings"));
        }
      break;
    case VRL_N_ARRAY:
    case VRL_N_OBJECT:
      node->type = node->kind == VRL_N_ARRAY ? CDVIZ_VRL_ARRAY : CDVIZ_VRL_OBJECT;
      for (guint i = 0; i < node->children->len; i++)
        {
          CdvizVrlNode *item = node->children->pdata[i];

          check (c, item);
          node->fallible |= item->fallible;
        }
      if (c->error == NULL)
        {
          CdvizVrlType **types = g_new (CdvizVrlType *, node->children->len + 1);

          for (guint i = 0; i < node->children->len; i++)
            types[i] = cdviz_vrl_type_ref (((CdvizVrlNode *) node->children->pdata[i])->tdef);
          replace_type (&node->tdef, cdviz_vrl_type_collection (node->kind == VRL_N_OBJECT ?
                                                                node->keys : NULL,
                                                                types, node->children->len));
          g_free (types);
        }
      break;
    case VRL_N_BLOCK:
      check_block (c, node, FALSE);
      break;
    case VRL_N_GROUP:
      check (c, node->expr);
      node->type = node->expr->type;
      if (node->expr->tdef != NULL)
        replace_type (&node->tdef, cdviz_vrl_type_ref (node->expr->tdef));
      node->fallible = node->expr->fallible;
      break;
    case VRL_N_VARIABLE:
      node->slot = lookup_variable (c, node->name);
      if (node->slot < 0)
        diagnose (c, node->start, FALSE, _("error[E701]: call to undefined variable “%s”"),
                  node->name);
      else
        {
          replace_type (&node->tdef, cdviz_vrl_type_ref (c->slot_types->pdata[node->slot]));
          node->type = cdviz_vrl_type_kinds (node->tdef);
        }
      break;
    case VRL_N_QUERY:
      check_query (c, node);
      break;
    case VRL_N_CALL:
      check_call (c, node);
      break;
    case VRL_N_NOT:
      check (c, node->expr);
      node->type = CDVIZ_VRL_BOOLEAN;
      node->fallible = node->expr->fallible || node->expr->type != CDVIZ_VRL_BOOLEAN;
      if (!(node->expr->type & CDVIZ_VRL_BOOLEAN))
        diagnose (c, node->start, FALSE,
                  _("error[E102]: “!” applies to booleans only"));
      break;
    case VRL_N_OP:
      check_op (c, node);
      break;
    case VRL_N_IF:
      check (c, node->expr);
      if (c->error != NULL)
        return;
      if (!(node->expr->type & CDVIZ_VRL_BOOLEAN))
        {
          diagnose (c, node->expr->start, FALSE,
                    _("error[E102]: non-boolean predicate: an “if” condition must be a boolean"));
          return;
        }
      if (node->expr->fallible)
        diagnose (c, node->expr->start, TRUE,
                  _("error[E110]: fallible predicate: handle the error of the “if” condition"));
      {
        TypeState *before = state_save (c);
        g_autoptr(CdvizVrlType) null_type = cdviz_vrl_type_new (CDVIZ_VRL_NULL);

        check (c, node->lhs);
        if (node->rhs != NULL)
          {
            TypeState *after_then = state_save (c);

            state_apply (c, before, FALSE);
            check (c, node->rhs);
            state_apply (c, after_then, TRUE);
          }
        else
          state_apply (c, before, TRUE);
        if (c->error != NULL)
          return;
        node->type = node->lhs->type | (node->rhs ? node->rhs->type : CDVIZ_VRL_NULL);
        replace_type (&node->tdef, cdviz_vrl_type_union (node->lhs->tdef, node->rhs ? node->rhs->tdef
                                                                                  : null_type));
        node->fallible = node->expr->fallible || node->lhs->fallible ||
                         (node->rhs != NULL && node->rhs->fallible);
      }
      break;
    case VRL_N_ASSIGN:
      check_assign (c, node);
      break;
    case VRL_N_ABORT:
      if (node->expr != NULL)
        {
          check (c, node->expr);
          if (!(node->expr->type & CDVIZ_VRL_BYTES))
            diagnose (c, node->expr->start, FALSE,
                      _("error[E300]: the message of “abort” must be a string"));
          if (node->expr->fallible)
            diagnose (c, node->expr->start, TRUE,
                      _("error[E100]: unhandled error in the message of “abort”"));
        }
      node->type = CDVIZ_VRL_NULL;
      break;
    case VRL_N_RETURN:
      check (c, node->expr);
      node->fallible = node->expr->fallible;
      node->type = CDVIZ_VRL_ANY;
      break;
    case VRL_N_NOOP:
      node->type = CDVIZ_VRL_NULL;
      break;
    }
  if (node->tdef == NULL)
    node->tdef = cdviz_vrl_type_new (node->type);
}

CdvizVrlProgram *
cdviz_vrl_compile (const char            *source,
                   CdvizVrlCompileFlags   flags,
                   GError               **error)
{
  g_autoptr(CdvizVrlProgram) program = cdviz_vrl_parse (source, error);
  Compiler c = { 0 };

  if (program == NULL)
    return NULL;

  c.program = program;
  c.flags = flags;
  c.scopes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  c.slot_types = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_type_unref);
  c.event_type = cdviz_vrl_type_new (CDVIZ_VRL_OBJECT);
  c.meta_type = cdviz_vrl_type_new (CDVIZ_VRL_OBJECT);
  push_scope (&c);
  check_block (&c, program->root, TRUE);
  g_ptr_array_unref (c.scopes);
  g_ptr_array_unref (c.slot_types);
  cdviz_vrl_type_unref (c.event_type);
  cdviz_vrl_type_unref (c.meta_type);

  if (c.error != NULL)
    {
      guint line, column;

      cdviz_vrl_offset_to_position (source, c.error_offset, &line, &column);
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_COMPILE, "%u:%u: %s",
                   line, column, c.error->message);
      g_error_free (c.error);
      return NULL;
    }
  return g_steal_pointer (&program);
}
