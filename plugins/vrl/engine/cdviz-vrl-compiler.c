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
 * The kind inference is simpler than upstream's: it knows the kinds of
 * literals, variables (last assignment, widened inside branches), event
 * paths assigned earlier, and function results; everything read from the
 * event is "any". */

typedef struct {
  CdvizVrlProgram *program;
  CdvizVrlCompileFlags flags;
  GPtrArray *scopes;            /* GHashTable name → GINT_TO_POINTER (slot + 1) */
  GArray *slot_kinds;           /* guint per slot */
  GHashTable *path_kinds;       /* "prefix.path" → kinds */
  int branch_depth;
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
  guint any = CDVIZ_VRL_ANY;

  g_ptr_array_add (c->program->slot_names, g_strdup (name));
  g_array_append_val (c->slot_kinds, any);
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

static char *
path_key (CdvizVrlNode *query)
{
  GString *key = g_string_new (query->target == VRL_TARGET_METADATA ? "%" : ".");

  for (guint i = 0; i < query->path->len; i++)
    {
      CdvizVrlSegment *s = &g_array_index (query->path, CdvizVrlSegment, i);

      if (s->kind == VRL_SEG_FIELD)
        g_string_append_printf (key, ".%s", s->field);
      else if (s->kind == VRL_SEG_INDEX)
        g_string_append_printf (key, "[%" G_GINT64_FORMAT "]", s->index);
      else
        {
          g_string_free (key, TRUE);
          return NULL;
        }
    }
  return g_string_free (key, FALSE);
}

static void
set_target_kind (Compiler     *c,
                 CdvizVrlNode *target,
                 guint         kinds)
{
  if (target->kind == VRL_N_VARIABLE ||
      (target->kind == VRL_N_QUERY && target->target == VRL_TARGET_VARIABLE))
    {
      int slot = lookup_variable (c, target->name);

      if (slot < 0)
        slot = new_slot (c, target->name);
      target->slot = slot;
      if (target->kind == VRL_N_VARIABLE)
        {
          guint *k = &g_array_index (c->slot_kinds, guint, slot);

          if (c->branch_depth > 0 && *k != CDVIZ_VRL_ANY)
            *k |= kinds;
          else
            *k = kinds;
        }
      else
        {
          /* `x.a = 1` makes x an object (or array) */
          guint *k = &g_array_index (c->slot_kinds, guint, slot);
          CdvizVrlSegment *s = &g_array_index (target->path, CdvizVrlSegment, 0);

          *k = s->kind == VRL_SEG_INDEX ? CDVIZ_VRL_ARRAY : CDVIZ_VRL_OBJECT;
        }
    }
  else if (target->kind == VRL_N_QUERY)
    {
      g_autofree char *key = path_key (target);
      GHashTableIter iter;
      gpointer k;

      if (key == NULL)
        return;
      /* forget what was known under this path */
      g_hash_table_iter_init (&iter, c->path_kinds);
      while (g_hash_table_iter_next (&iter, &k, NULL))
        if (g_str_has_prefix (k, key))
          g_hash_table_iter_remove (&iter);
      if (target->path->len > 0)
        g_hash_table_insert (c->path_kinds, g_steal_pointer (&key),
                             GUINT_TO_POINTER (c->branch_depth > 0 ? CDVIZ_VRL_ANY : kinds));
    }
}

/* --- checks ------------------------------------------------------------------ */

static gboolean
is_literal_value (CdvizVrlNode *node)
{
  return node->kind == VRL_N_LITERAL;
}

static void
check_statement (Compiler     *c,
                 CdvizVrlNode *node)
{
  check (c, node);
  if (node->fallible && node->kind != VRL_N_ASSIGN)
    diagnose (c, node->start, TRUE,
              _("error[E100]: unhandled error: this expression can fail; handle it with "
                "“!”, “??” or “value, err = …”"));
}

static void
check_block (Compiler     *c,
             CdvizVrlNode *node)
{
  node->type = CDVIZ_VRL_NULL;
  for (guint i = 0; i < node->children->len && c->error == NULL; i++)
    {
      CdvizVrlNode *child = node->children->pdata[i];

      check_statement (c, child);
      node->type = child->type;
    }
  node->fallible = FALSE;
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
      if (node->path->len > 0 && !(node->expr->type & (CDVIZ_VRL_OBJECT | CDVIZ_VRL_ARRAY)))
        node->type = CDVIZ_VRL_NULL;
      break;
    case VRL_TARGET_EVENT:
    case VRL_TARGET_METADATA:
      if (node->path->len == 0)
        node->type = CDVIZ_VRL_OBJECT;
      else
        {
          g_autofree char *key = path_key (node);
          gpointer kinds;

          if (key != NULL && g_hash_table_lookup_extended (c->path_kinds, key, NULL, &kinds))
            node->type = GPOINTER_TO_UINT (kinds);
        }
      break;
    }
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
      if (arg->fallible)
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
  if (node->closure != NULL)
    {
      if (node->n_closure < fn->closure_min || node->n_closure > fn->closure_max)
        {
          diagnose (c, node->closure->start, FALSE,
                    _("error[E120]: the closure of “%s” takes %u parameter(s), not %u"),
                    fn->name, fn->closure_max, node->n_closure);
          return;
        }
      push_scope (c);
      node->closure_slots = g_new0 (int, MAX (node->n_closure, 1));
      for (guint i = 0; i < node->n_closure; i++)
        {
          if (node->closure_names[i][0] == '\0')
            node->closure_slots[i] = -1;
          else
            {
              node->closure_slots[i] = new_slot (c, node->closure_names[i]);
              if (node->n_closure == 2 && i == 0)
                g_array_index (c->slot_kinds, guint, node->closure_slots[i]) =
                  CDVIZ_VRL_BYTES | CDVIZ_VRL_INTEGER;
            }
        }
      c->branch_depth++;
      check_block (c, node->closure);
      c->branch_depth--;
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
    node->type = node->args[0]->type & fn->returns;
}

static void
check_op (Compiler     *c,
          CdvizVrlNode *node)
{
  CdvizVrlNode *l = node->lhs, *r = node->rhs;
  const guint num = CDVIZ_VRL_INTEGER | CDVIZ_VRL_FLOAT;
  gboolean own = FALSE;

  check (c, l);
  if (node->op == VRL_OP_COALESCE || node->op == VRL_OP_OR || node->op == VRL_OP_AND)
    c->branch_depth++;
  check (c, r);
  if (node->op == VRL_OP_COALESCE || node->op == VRL_OP_OR || node->op == VRL_OP_AND)
    c->branch_depth--;

  switch (node->op)
    {
    case VRL_OP_COALESCE:
      if (!l->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E651]: unnecessary error coalescing operation: the left-hand "
                    "side cannot fail"));
      node->type = l->type | r->type;
      node->fallible = l->fallible && r->fallible;
      return;
    case VRL_OP_OR:
      if (l->type == CDVIZ_VRL_NULL)
        node->type = r->type;
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
      if (is_literal_value (r) && !(l->type & ~num) &&
          ((r->value->kind == CDVIZ_VRL_INTEGER && r->value->integer != 0) ||
           (r->value->kind == CDVIZ_VRL_FLOAT && r->value->number != 0)))
        own = FALSE;
      break;
    case VRL_OP_MERGE:
      node->type = CDVIZ_VRL_OBJECT;
      own = l->type != CDVIZ_VRL_OBJECT || r->type != CDVIZ_VRL_OBJECT;
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
  node->fallible = own || l->fallible || r->fallible;
}

static void
check_assign (Compiler     *c,
              CdvizVrlNode *node)
{
  CdvizVrlNode *rhs = node->expr;
  guint kinds;

  check (c, rhs);
  if (c->error != NULL)
    return;
  kinds = rhs->type;
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
        }
      kinds = CDVIZ_VRL_OBJECT;
      if (rhs->type != CDVIZ_VRL_OBJECT)
        rhs->fallible = TRUE;
    }

  if (node->rhs != NULL)
    {
      /* ok, err = … */
      if (!rhs->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E104]: unnecessary error assignment: this expression cannot fail"));
      if (node->lhs->kind != VRL_N_NOOP)
        set_target_kind (c, node->lhs, kinds | CDVIZ_VRL_NULL | CDVIZ_VRL_INTEGER |
                         CDVIZ_VRL_FLOAT | CDVIZ_VRL_BYTES | CDVIZ_VRL_BOOLEAN | CDVIZ_VRL_OBJECT |
                         CDVIZ_VRL_ARRAY | CDVIZ_VRL_TIMESTAMP);
      if (node->rhs->kind != VRL_N_NOOP)
        set_target_kind (c, node->rhs, CDVIZ_VRL_BYTES | CDVIZ_VRL_NULL);
    }
  else
    {
      if (rhs->fallible)
        diagnose (c, node->start, TRUE,
                  _("error[E103]: unhandled fallible assignment: handle the error with "
                    "“!”, “??” or “value, err = …”"));
      if (node->lhs->kind != VRL_N_NOOP)
        set_target_kind (c, node->lhs, kinds);
    }
  node->type = rhs->type;
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
      break;
    case VRL_N_BLOCK:
      check_block (c, node);
      break;
    case VRL_N_GROUP:
      check (c, node->expr);
      node->type = node->expr->type;
      node->fallible = node->expr->fallible;
      break;
    case VRL_N_VARIABLE:
      node->slot = lookup_variable (c, node->name);
      if (node->slot < 0)
        diagnose (c, node->start, FALSE, _("error[E701]: call to undefined variable “%s”"),
                  node->name);
      else
        node->type = g_array_index (c->slot_kinds, guint, node->slot);
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
      c->branch_depth++;
      check (c, node->lhs);
      check (c, node->rhs);
      c->branch_depth--;
      node->type = node->lhs->type | (node->rhs ? node->rhs->type : CDVIZ_VRL_NULL);
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
  c.slot_kinds = g_array_new (FALSE, TRUE, sizeof (guint));
  c.path_kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  push_scope (&c);
  check_block (&c, program->root);
  g_ptr_array_unref (c.scopes);
  g_array_unref (c.slot_kinds);
  g_hash_table_unref (c.path_kinds);

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
