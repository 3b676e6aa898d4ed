/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-compiler-private.h"

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


G_GNUC_PRINTF (4, 5) void
vrl_diagnose (Compiler   *c,
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


/* --- scopes ----------------------------------------------------------------- */

int
vrl_lookup_variable (Compiler   *c,
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

int
vrl_new_slot (Compiler   *c,
          const char *name)
{
  int slot = c->program->slot_names->len;

  g_ptr_array_add (c->program->slot_names, g_strdup (name));
  g_ptr_array_add (c->slot_types, cdviz_vrl_type_any ());
  g_hash_table_insert (c->scopes->pdata[c->scopes->len - 1], g_strdup (name),
                       GINT_TO_POINTER (slot + 1));
  return slot;
}

void
vrl_push_scope (Compiler *c)
{
  g_ptr_array_add (c->scopes, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL));
}

void
vrl_pop_scope (Compiler *c)
{
  g_ptr_array_remove_index (c->scopes, c->scopes->len - 1);
}

/* --- types along the program ------------------------------------------------ */


TypeState *
vrl_state_save (Compiler *c)
{
  TypeState *s = g_new0 (TypeState, 1);

  s->slots = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_type_unref);
  for (guint i = 0; i < c->slot_types->len; i++)
    g_ptr_array_add (s->slots, cdviz_vrl_type_ref (c->slot_types->pdata[i]));
  s->event = cdviz_vrl_type_ref (c->event_type);
  s->meta = cdviz_vrl_type_ref (c->meta_type);
  return s;
}

void
vrl_state_free (TypeState *s)
{
  g_ptr_array_unref (s->slots);
  cdviz_vrl_type_unref (s->event);
  cdviz_vrl_type_unref (s->meta);
  g_free (s);
}

void
vrl_replace_type (CdvizVrlType **where,
              CdvizVrlType  *type)      /* takes */
{
  cdviz_vrl_type_unref (*where);
  *where = type;
}

/* The current state becomes @s (merge FALSE) or its union with @s. */
void
vrl_state_apply (Compiler  *c,
             TypeState *s,
             gboolean   merge)
{
  for (guint i = 0; i < s->slots->len; i++)
    vrl_replace_type ((CdvizVrlType **) &c->slot_types->pdata[i],
                  merge ? cdviz_vrl_type_union (c->slot_types->pdata[i], s->slots->pdata[i])
                        : cdviz_vrl_type_ref (s->slots->pdata[i]));
  vrl_replace_type (&c->event_type, merge ? cdviz_vrl_type_union (c->event_type, s->event)
                                      : cdviz_vrl_type_ref (s->event));
  vrl_replace_type (&c->meta_type, merge ? cdviz_vrl_type_union (c->meta_type, s->meta)
                                     : cdviz_vrl_type_ref (s->meta));
  vrl_state_free (s);
}

CdvizVrlType **
vrl_root_type (Compiler     *c,
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

static gboolean
same_segment (const CdvizVrlSegment *a,
              const CdvizVrlSegment *b)
{
  if (a->kind != b->kind)
    return FALSE;
  if (a->kind == VRL_SEG_FIELD)
    return g_str_equal (a->field, b->field);
  return a->kind == VRL_SEG_INDEX && a->index == b->index;
}

/* E315: the target is a read-only path, one of its parents, or under a
 * recursive one; E642: a parent is known to be neither a container of the
 * right kind nor absent (`x = "s"; x.a = 1`). */
gboolean
vrl_check_mutable (Compiler     *c,
                   CdvizVrlNode *target,
                   CdvizVrlType *root)
{
  g_autoptr(CdvizVrlType) parent = cdviz_vrl_type_ref (root);

  for (guint i = 0; c->read_only != NULL && i < c->read_only->len; i++)
    {
      CdvizVrlProgram *ro = c->read_only->pdata[i];
      CdvizVrlNode *q = ro->root->children->pdata[0];
      gboolean recursive = g_array_index (c->read_only_recursive, gboolean, i);
      guint n = MIN (q->path->len, target->path->len), same = 0;

      if (q->target != target->target)
        continue;
      while (same < n && same_segment (&g_array_index (q->path, CdvizVrlSegment, same),
                                       &g_array_index (target->path, CdvizVrlSegment, same)))
        same++;
      if (same == target->path->len || (recursive && same == q->path->len))
        {
          vrl_diagnose (c, target->start, FALSE,
                        _("error[E315]: mutation of read-only value"));
          return FALSE;
        }
    }
  for (guint i = 0; i < target->path->len; i++)
    {
      CdvizVrlSegment *s = &g_array_index (target->path, CdvizVrlSegment, i);
      guint need = s->kind == VRL_SEG_INDEX ? CDVIZ_VRL_ARRAY : CDVIZ_VRL_OBJECT;
      CdvizVrlType *next;

      if (s->kind == VRL_SEG_COALESCE)
        break;
      if (!(parent->kinds & (need | CDVIZ_VRL_NULL | CDVIZ_VRL_UNDEFINED)))
        {
          vrl_diagnose (c, target->start, FALSE,
                        _("error[E642]: parent path segment rejects this mutation"));
          return FALSE;
        }
      {
        /* one step down (the segment is borrowed: no clear function) */
        g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (CdvizVrlSegment));

        g_array_append_val (one, *s);
        next = cdviz_vrl_type_get (parent, one, 0);
      }
      vrl_replace_type (&parent, next);
    }
  return TRUE;
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
      int slot = vrl_lookup_variable (c, target->name);

      if (slot < 0)
        slot = vrl_new_slot (c, target->name);
      target->slot = slot;
    }
  if (target->kind == VRL_N_VARIABLE)
    {
      vrl_replace_type ((CdvizVrlType **) &c->slot_types->pdata[target->slot],
                        cdviz_vrl_type_defined (type));
      return;
    }
  root = vrl_root_type (c, target);
  if (root == NULL)
    return;
  if (!vrl_check_mutable (c, target, *root))
    return;
  vrl_replace_type (root, cdviz_vrl_type_set (*root, target->path, 0, type));
}

/* --- checks ------------------------------------------------------------------ */

static void
check_statement (Compiler     *c,
                 CdvizVrlNode *node,
                 gboolean      root)
{
  vrl_check (c, node);
  if (root && node->fallible && node->kind != VRL_N_ASSIGN)
    vrl_diagnose (c, node->start, TRUE,
              _("error[E100]: unhandled error: this expression can fail; handle it with "
                "“!”, “??” or “value, err = …”"));
}

/* @root: the program or a closure body, where an unhandled error is
 * refused; a nested block passes its statements' fallibility up to the
 * expression that may handle it (`{ … } ?? x`), as upstream. */
void
vrl_check_block (Compiler     *c,
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
        vrl_replace_type (&node->tdef, cdviz_vrl_type_ref (child->tdef));
      fallible |= child->fallible && child->kind != VRL_N_ASSIGN;
    }
  node->fallible = root ? FALSE : fallible;
}

void
vrl_check_query (Compiler     *c,
             CdvizVrlNode *node)
{
  node->type = CDVIZ_VRL_ANY;
  node->fallible = FALSE;
  switch (node->target)
    {
    case VRL_TARGET_VARIABLE:
      node->slot = vrl_lookup_variable (c, node->name);
      if (node->slot < 0)
        {
          vrl_diagnose (c, node->start, FALSE, _("error[E701]: call to undefined variable “%s”"),
                    node->name);
          return;
        }
      break;
    case VRL_TARGET_EXPR:
      vrl_check (c, node->expr);
      node->fallible = node->expr->fallible;
      if (node->expr->tdef != NULL)
        vrl_replace_type (&node->tdef, cdviz_vrl_type_get (node->expr->tdef, node->path, 0));
      break;
    case VRL_TARGET_EVENT:
    case VRL_TARGET_METADATA:
      break;
    }
  if (node->target != VRL_TARGET_EXPR)
    {
      CdvizVrlType **root = vrl_root_type (c, node);

      if (root != NULL)
        vrl_replace_type (&node->tdef, cdviz_vrl_type_get (*root, node->path, 0));
    }
  if (node->tdef != NULL)
    node->type = cdviz_vrl_type_kinds (node->tdef);
}

static void
check_op (Compiler     *c,
          CdvizVrlNode *node)
{
  CdvizVrlNode *l = node->lhs, *r = node->rhs;
  const guint num = CDVIZ_VRL_INTEGER | CDVIZ_VRL_FLOAT;
  gboolean own = FALSE, never = FALSE;

  vrl_check (c, l);
  if (node->op == VRL_OP_COALESCE || node->op == VRL_OP_OR || node->op == VRL_OP_AND)
    {
      /* the right-hand side may not run: its assignments are conditional,
       * unless a literal left-hand side decides (upstream's short circuit) */
      gboolean lit = l->kind == VRL_N_LITERAL && l->value->kind == CDVIZ_VRL_BOOLEAN;
      gboolean always;
      TypeState *before = vrl_state_save (c);

      never = node->op == VRL_OP_COALESCE ? !l->fallible :
              lit && (node->op == VRL_OP_OR) == l->value->boolean;
      always = node->op != VRL_OP_COALESCE && lit && !never;

      vrl_check (c, r);
      if (always)
        vrl_state_free (before);
      else
        vrl_state_apply (c, before, !never);
    }
  else
    vrl_check (c, r);

  switch (node->op)
    {
    case VRL_OP_COALESCE:
      if (!l->fallible)
        vrl_diagnose (c, node->start, TRUE,
                  _("error[E651]: unnecessary error coalescing operation: the left-hand "
                    "side cannot fail"));
      node->type = l->type | r->type;
      node->fallible = l->fallible && r->fallible;
      if (l->tdef != NULL && r->tdef != NULL)
        vrl_replace_type (&node->tdef, cdviz_vrl_type_union (l->tdef, r->tdef));
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
        vrl_replace_type (&node->tdef, cdviz_vrl_type_merge_objects (l->tdef, r->tdef));
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

  vrl_check (c, rhs);
  if (c->error != NULL)
    return;
  value_type = cdviz_vrl_type_ref (rhs->tdef);
  if (node->op == 1)
    {
      /* `target |= value`: the target must have been defined */
      if (node->lhs->kind == VRL_N_VARIABLE)
        {
          node->lhs->slot = vrl_lookup_variable (c, node->lhs->name);
          if (node->lhs->slot < 0)
            {
              vrl_diagnose (c, node->lhs->start, FALSE,
                        _("error[E701]: call to undefined variable “%s”"), node->lhs->name);
              return;
            }
          vrl_replace_type (&node->lhs->tdef, cdviz_vrl_type_ref (c->slot_types->pdata[node->lhs->slot]));
        }
      if (node->lhs->kind == VRL_N_QUERY)
        vrl_check_query (c, node->lhs);
      vrl_replace_type (&value_type, node->lhs->tdef != NULL ?
                    cdviz_vrl_type_merge_objects (node->lhs->tdef, rhs->tdef) :
                    cdviz_vrl_type_new (CDVIZ_VRL_OBJECT));
      if (rhs->type != CDVIZ_VRL_OBJECT)
        rhs->fallible = TRUE;
    }

  if (node->rhs != NULL)
    {
      /* ok, err = … */
      if (!rhs->fallible)
        vrl_diagnose (c, node->start, TRUE,
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
        vrl_diagnose (c, node->start, TRUE,
                  _("error[E103]: unhandled fallible assignment: handle the error with "
                    "“!”, “??” or “value, err = …”"));
      if (node->lhs->kind != VRL_N_NOOP)
        set_target_type (c, node->lhs, value_type);
    }
  node->type = rhs->type;
  vrl_replace_type (&node->tdef, cdviz_vrl_type_ref (rhs->tdef));
  node->fallible = FALSE;
}

void
vrl_check (Compiler     *c,
       CdvizVrlNode *node)
{
  if (c->error != NULL || node == NULL)
    return;

  node->fallible = FALSE;
  switch (node->kind)
    {
    case VRL_N_LITERAL:
      node->type = node->value->kind;
      vrl_replace_type (&node->tdef, cdviz_vrl_type_of_value (node->value));
      break;
    case VRL_N_TEMPLATE:
      node->type = CDVIZ_VRL_BYTES;
      for (guint i = 0; i < node->children->len; i++)
        {
          CdvizVrlNode *part = node->children->pdata[i];

          vrl_check (c, part);
          node->fallible |= part->fallible;
          if (!(part->type & CDVIZ_VRL_BYTES))
            vrl_diagnose (c, node->start, FALSE,
                      _("error[E400]: a template string can only hold strings"));
        }
      break;
    case VRL_N_ARRAY:
    case VRL_N_OBJECT:
      node->type = node->kind == VRL_N_ARRAY ? CDVIZ_VRL_ARRAY : CDVIZ_VRL_OBJECT;
      for (guint i = 0; i < node->children->len; i++)
        {
          CdvizVrlNode *item = node->children->pdata[i];

          vrl_check (c, item);
          node->fallible |= item->fallible;
        }
      if (c->error == NULL)
        {
          CdvizVrlType **types = g_new (CdvizVrlType *, node->children->len + 1);

          for (guint i = 0; i < node->children->len; i++)
            types[i] = cdviz_vrl_type_ref (((CdvizVrlNode *) node->children->pdata[i])->tdef);
          vrl_replace_type (&node->tdef, cdviz_vrl_type_collection (node->kind == VRL_N_OBJECT ?
                                                                node->keys : NULL,
                                                                types, node->children->len));
          g_free (types);
        }
      break;
    case VRL_N_BLOCK:
      vrl_check_block (c, node, FALSE);
      break;
    case VRL_N_GROUP:
      vrl_check (c, node->expr);
      node->type = node->expr->type;
      if (node->expr->tdef != NULL)
        vrl_replace_type (&node->tdef, cdviz_vrl_type_ref (node->expr->tdef));
      node->fallible = node->expr->fallible;
      break;
    case VRL_N_VARIABLE:
      node->slot = vrl_lookup_variable (c, node->name);
      if (node->slot < 0)
        vrl_diagnose (c, node->start, FALSE, _("error[E701]: call to undefined variable “%s”"),
                  node->name);
      else
        {
          vrl_replace_type (&node->tdef, cdviz_vrl_type_ref (c->slot_types->pdata[node->slot]));
          node->type = cdviz_vrl_type_kinds (node->tdef);
        }
      break;
    case VRL_N_QUERY:
      vrl_check_query (c, node);
      break;
    case VRL_N_CALL:
      vrl_check_call (c, node);
      break;
    case VRL_N_NOT:
      vrl_check (c, node->expr);
      node->type = CDVIZ_VRL_BOOLEAN;
      node->fallible = node->expr->fallible || node->expr->type != CDVIZ_VRL_BOOLEAN;
      if (!(node->expr->type & CDVIZ_VRL_BOOLEAN))
        vrl_diagnose (c, node->start, FALSE,
                  _("error[E102]: “!” applies to booleans only"));
      break;
    case VRL_N_OP:
      check_op (c, node);
      break;
    case VRL_N_IF:
      vrl_check (c, node->expr);
      if (c->error != NULL)
        return;
      if (!(node->expr->type & CDVIZ_VRL_BOOLEAN))
        {
          vrl_diagnose (c, node->expr->start, FALSE,
                    _("error[E102]: non-boolean predicate: an “if” condition must be a boolean"));
          return;
        }
      if (node->expr->fallible)
        vrl_diagnose (c, node->expr->start, TRUE,
                  _("error[E110]: fallible predicate: handle the error of the “if” condition"));
      {
        TypeState *before = vrl_state_save (c);
        g_autoptr(CdvizVrlType) null_type = cdviz_vrl_type_new (CDVIZ_VRL_NULL);

        vrl_check (c, node->lhs);
        if (node->rhs != NULL)
          {
            TypeState *after_then = vrl_state_save (c);

            vrl_state_apply (c, before, FALSE);
            vrl_check (c, node->rhs);
            vrl_state_apply (c, after_then, TRUE);
          }
        else
          vrl_state_apply (c, before, TRUE);
        if (c->error != NULL)
          return;
        node->type = node->lhs->type | (node->rhs ? node->rhs->type : CDVIZ_VRL_NULL);
        vrl_replace_type (&node->tdef, cdviz_vrl_type_union (node->lhs->tdef, node->rhs ? node->rhs->tdef
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
          vrl_check (c, node->expr);
          if (!(node->expr->type & CDVIZ_VRL_BYTES))
            vrl_diagnose (c, node->expr->start, FALSE,
                      _("error[E300]: the message of “abort” must be a string"));
          if (node->expr->fallible)
            vrl_diagnose (c, node->expr->start, TRUE,
                      _("error[E100]: unhandled error in the message of “abort”"));
        }
      node->type = CDVIZ_VRL_NULL;
      break;
    case VRL_N_RETURN:
      vrl_check (c, node->expr);
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
  return cdviz_vrl_compile_full (source, flags, NULL, 0, error);
}

CdvizVrlProgram *
cdviz_vrl_compile_full (const char                  *source,
                        CdvizVrlCompileFlags         flags,
                        const CdvizVrlReadOnlyPath  *read_only,
                        guint                        n_read_only,
                        GError                     **error)
{
  g_autoptr(CdvizVrlProgram) program = cdviz_vrl_parse (source, error);
  g_autoptr(GPtrArray) ro = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_program_free);
  g_autoptr(GArray) ro_recursive = g_array_new (FALSE, FALSE, sizeof (gboolean));
  Compiler c = { 0 };

  if (program == NULL)
    return NULL;
  for (guint i = 0; i < n_read_only; i++)
    {
      CdvizVrlProgram *path = cdviz_vrl_parse (read_only[i].path, error);
      CdvizVrlNode *q;

      if (path == NULL)
        return NULL;
      q = path->root->children->len == 1 ? path->root->children->pdata[0] : NULL;
      if (q == NULL || q->kind != VRL_N_QUERY || q->target == VRL_TARGET_VARIABLE ||
          q->target == VRL_TARGET_EXPR)
        {
          cdviz_vrl_program_free (path);
          g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_SYNTAX,
                       "“%s” is not a path such as .a.b or %%a", read_only[i].path);
          return NULL;
        }
      g_ptr_array_add (ro, path);
      g_array_append_val (ro_recursive, read_only[i].recursive);
    }

  c.read_only = ro;
  c.read_only_recursive = ro_recursive;
  c.program = program;
  c.flags = flags;
  c.scopes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  c.slot_types = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_type_unref);
  c.event_type = cdviz_vrl_type_new (CDVIZ_VRL_OBJECT);
  c.meta_type = cdviz_vrl_type_new (CDVIZ_VRL_OBJECT);
  vrl_push_scope (&c);
  vrl_check_block (&c, program->root, TRUE);
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
