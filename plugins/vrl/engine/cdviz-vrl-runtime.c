/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-runtime.h"

/* The tree-walking interpreter. eval() returns a new reference, or NULL
 * when the expression failed (error set) or a `return` unwinds (error not
 * set, runtime->returning). Every evaluated node costs one step; with a
 * budget, a program that runs out is stopped with CDVIZ_VRL_ERROR_BUDGET.
 * Runtime errors (CDVIZ_VRL_ERROR_RUNTIME) are what `??` and `, err =`
 * catch; `abort` and the budget are not caught. */

#define MAX_BYTES (64 * 1024 * 1024)

struct _CdvizVrlRuntime
{
  CdvizVrlProgram *program;
  CdvizVrlValue **target;
  CdvizVrlValue **metadata;
  CdvizVrlValue **slots;
  guint64 steps;
  guint64 max_steps;
  gboolean returning;
  CdvizVrlValue *return_value;
};

static CdvizVrlValue *eval (CdvizVrlRuntime *rt, CdvizVrlNode *node, GError **error);

/* --- queries and assignment -------------------------------------------------- */

static CdvizVrlValue **
query_root (CdvizVrlRuntime *rt,
            CdvizVrlNode    *query)
{
  switch (query->target)
    {
    case VRL_TARGET_EVENT:
      return rt->target;
    case VRL_TARGET_METADATA:
      return rt->metadata;
    case VRL_TARGET_VARIABLE:
      return query->slot >= 0 ? &rt->slots[query->slot] : NULL;
    default:
      return NULL;
    }
}

static CdvizVrlValue *
eval_query (CdvizVrlRuntime  *rt,
            CdvizVrlNode     *node,
            GError          **error)
{
  g_autoptr(CdvizVrlValue) base = NULL;
  CdvizVrlValue **root;
  CdvizVrlValue *found;

  if (node->target == VRL_TARGET_EXPR)
    {
      base = eval (rt, node->expr, error);
      if (base == NULL)
        return NULL;
      found = cdviz_vrl_path_get (base, node->path);
    }
  else
    {
      root = query_root (rt, node);
      found = root != NULL && *root != NULL ? cdviz_vrl_path_get (*root, node->path) : NULL;
    }
  return found ? cdviz_vrl_value_ref (found) : cdviz_vrl_null ();
}

static void
assign (CdvizVrlRuntime *rt,
        CdvizVrlNode    *target,
        CdvizVrlValue   *value)      /* takes value */
{
  CdvizVrlValue **root;

  switch (target->kind)
    {
    case VRL_N_NOOP:
      cdviz_vrl_value_unref (value);
      return;
    case VRL_N_VARIABLE:
      cdviz_vrl_value_unref (rt->slots[target->slot]);
      rt->slots[target->slot] = value;
      return;
    case VRL_N_QUERY:
      root = query_root (rt, target);
      if (root == NULL)
        {
          cdviz_vrl_value_unref (value);
          return;
        }
      if (*root == NULL)
        *root = cdviz_vrl_null ();
      cdviz_vrl_path_set (root, target->path, 0, value);
      return;
    default:
      cdviz_vrl_value_unref (value);
    }
}

static CdvizVrlValue *
target_value (CdvizVrlRuntime *rt,
              CdvizVrlNode    *target)
{
  if (target->kind == VRL_N_VARIABLE)
    return rt->slots[target->slot] ? cdviz_vrl_value_ref (rt->slots[target->slot]) : cdviz_vrl_null ();
  if (target->kind == VRL_N_QUERY)
    return eval_query (rt, target, NULL);
  return cdviz_vrl_null ();
}

static CdvizVrlValue *
default_of (guint kinds)
{
  switch (kinds)
    {
    case CDVIZ_VRL_INTEGER: return cdviz_vrl_integer (0);
    case CDVIZ_VRL_FLOAT: return cdviz_vrl_float (0);
    case CDVIZ_VRL_BYTES: return cdviz_vrl_bytes ("", 0);
    case CDVIZ_VRL_BOOLEAN: return cdviz_vrl_boolean (FALSE);
    case CDVIZ_VRL_OBJECT: return cdviz_vrl_object_new ();
    case CDVIZ_VRL_ARRAY: return cdviz_vrl_array_new ();
    case CDVIZ_VRL_TIMESTAMP: return cdviz_vrl_timestamp (0, 0);
    default: return cdviz_vrl_null ();
    }
}

static gboolean
catchable (GError *error)
{
  return error != NULL && error->domain == CDVIZ_VRL_ERROR &&
         error->code == CDVIZ_VRL_ERROR_RUNTIME;
}

static CdvizVrlValue *merge_values (CdvizVrlValue *l, CdvizVrlValue *r, GError **error);

static CdvizVrlValue *
eval_assign (CdvizVrlRuntime  *rt,
             CdvizVrlNode     *node,
             GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  CdvizVrlValue *value = eval (rt, node->expr, &local_error);

  if (value != NULL && node->op == 1)
    {
      g_autoptr(CdvizVrlValue) current = target_value (rt, node->lhs);
      CdvizVrlValue *merged = merge_values (current, value, &local_error);

      cdviz_vrl_value_unref (value);
      value = merged;
    }

  if (value == NULL)
    {
      if (rt->returning)
        return NULL;
      if (node->rhs == NULL || !catchable (local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      /* ok, err = …: ok gets the default of the expression's kind */
      value = default_of (node->expr->type);
      assign (rt, node->lhs, cdviz_vrl_value_ref (value));
      assign (rt, node->rhs, cdviz_vrl_bytes (local_error->message, -1));
      return value;
    }
  assign (rt, node->lhs, cdviz_vrl_value_ref (value));
  if (node->rhs != NULL)
    assign (rt, node->rhs, cdviz_vrl_null ());
  return value;
}

/* --- operators ------------------------------------------------------------- */

static CdvizVrlValue *
merge_values (CdvizVrlValue  *l,
              CdvizVrlValue  *r,
              GError        **error)
{
  CdvizVrlValue *result;

  if (l->kind != CDVIZ_VRL_OBJECT || r->kind != CDVIZ_VRL_OBJECT)
    return cdviz_vrl_fail (error, "can't merge type %s into %s",
                           cdviz_vrl_kind_name (r->kind), cdviz_vrl_kind_name (l->kind));
  result = cdviz_vrl_value_shallow_copy (l);
  for (guint i = 0; i < r->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (r, i);

      cdviz_vrl_object_insert (result, e->key, cdviz_vrl_value_ref (e->value));
    }
  return result;
}

static gboolean
as_double (const CdvizVrlValue *v,
           double              *out)
{
  if (v->kind == CDVIZ_VRL_INTEGER)
    *out = (double) v->integer;
  else if (v->kind == CDVIZ_VRL_FLOAT)
    *out = v->number;
  else
    return FALSE;
  return TRUE;
}

static int
compare_bytes (const CdvizVrlValue *a,
               const CdvizVrlValue *b)
{
  int c = memcmp (a->bytes.data, b->bytes.data, MIN (a->bytes.len, b->bytes.len));

  if (c != 0)
    return c;
  return a->bytes.len < b->bytes.len ? -1 : a->bytes.len > b->bytes.len;
}

static CdvizVrlValue *
float_result (double f,
              GError **error)
{
  if (isnan (f))
    return cdviz_vrl_fail (error, "operation would produce NaN");
  return cdviz_vrl_float (f);
}

static CdvizVrlValue *
binary (int             op,
        CdvizVrlValue  *l,
        CdvizVrlValue  *r,
        GError        **error)
{
  double x, y;
  const char *lk = cdviz_vrl_kind_name (l->kind), *rk = cdviz_vrl_kind_name (r->kind);
  gboolean both_int = l->kind == CDVIZ_VRL_INTEGER && r->kind == CDVIZ_VRL_INTEGER;
  gboolean both_num = as_double (l, &x) && as_double (r, &y);

  switch (op)
    {
    case VRL_OP_EQ:
      return cdviz_vrl_boolean (cdviz_vrl_value_equal (l, r));
    case VRL_OP_NE:
      return cdviz_vrl_boolean (!cdviz_vrl_value_equal (l, r));
    case VRL_OP_ADD:
      if (both_int)
        return cdviz_vrl_integer ((gint64) ((guint64) l->integer + (guint64) r->integer));
      if (both_num)
        return float_result (x + y, error);
      if (l->kind == CDVIZ_VRL_BYTES && r->kind == CDVIZ_VRL_BYTES)
        {
          char *data;

          if (l->bytes.len + r->bytes.len > MAX_BYTES)
            return cdviz_vrl_fail (error, "string too large");
          data = g_malloc (l->bytes.len + r->bytes.len + 1);
          memcpy (data, l->bytes.data, l->bytes.len);
          memcpy (data + l->bytes.len, r->bytes.data, r->bytes.len);
          data[l->bytes.len + r->bytes.len] = '\0';
          return cdviz_vrl_bytes_take (data, l->bytes.len + r->bytes.len);
        }
      if (l->kind == CDVIZ_VRL_BYTES && r->kind == CDVIZ_VRL_NULL)
        return cdviz_vrl_value_ref (l);
      if (l->kind == CDVIZ_VRL_NULL && r->kind == CDVIZ_VRL_BYTES)
        return cdviz_vrl_value_ref (r);
      return cdviz_vrl_fail (error, "can't add type %s to %s", rk, lk);
    case VRL_OP_SUB:
      if (both_int)
        return cdviz_vrl_integer ((gint64) ((guint64) l->integer - (guint64) r->integer));
      if (both_num)
        return float_result (x - y, error);
      return cdviz_vrl_fail (error, "can't subtract type %s from %s", rk, lk);
    case VRL_OP_MUL:
      if (both_int)
        return cdviz_vrl_integer ((gint64) ((guint64) l->integer * (guint64) r->integer));
      if (both_num)
        return float_result (x * y, error);
      if ((l->kind == CDVIZ_VRL_BYTES && r->kind == CDVIZ_VRL_INTEGER) ||
          (l->kind == CDVIZ_VRL_INTEGER && r->kind == CDVIZ_VRL_BYTES))
        {
          const CdvizVrlValue *s = l->kind == CDVIZ_VRL_BYTES ? l : r;
          gint64 n = l->kind == CDVIZ_VRL_INTEGER ? l->integer : r->integer;
          GString *out;

          if (n < 0)
            n = 0;
          if (s->bytes.len > 0 && (guint64) n > MAX_BYTES / s->bytes.len)
            return cdviz_vrl_fail (error, "string too large");
          out = g_string_sized_new (s->bytes.len * n);
          for (gint64 i = 0; i < n; i++)
            g_string_append_len (out, s->bytes.data, s->bytes.len);
          {
            gsize len = out->len;

            return cdviz_vrl_bytes_take (g_string_free (out, FALSE), len);
          }
        }
      return cdviz_vrl_fail (error, "can't multiply type %s by %s", lk, rk);
    case VRL_OP_DIV:
      if ((r->kind == CDVIZ_VRL_INTEGER && r->integer == 0) ||
          (r->kind == CDVIZ_VRL_FLOAT && r->number == 0))
        return cdviz_vrl_fail (error, "can't divide by zero");
      if (both_num)
        return float_result (x / y, error);
      return cdviz_vrl_fail (error, "can't divide type %s by %s", lk, rk);
    case VRL_OP_MERGE:
      return merge_values (l, r, error);
    case VRL_OP_LT: case VRL_OP_LE: case VRL_OP_GT: case VRL_OP_GE:
      {
        int c;
        static const char *const names[] = { "<", "<=", ">", ">=" };

        if (both_int)
          c = l->integer < r->integer ? -1 : l->integer > r->integer;
        else if (both_num)
          c = x < y ? -1 : x > y ? 1 : 0;
        else if (l->kind == CDVIZ_VRL_BYTES && r->kind == CDVIZ_VRL_BYTES)
          c = compare_bytes (l, r);
        else if (l->kind == CDVIZ_VRL_TIMESTAMP && r->kind == CDVIZ_VRL_TIMESTAMP)
          c = l->ts.seconds != r->ts.seconds ? (l->ts.seconds < r->ts.seconds ? -1 : 1)
                                             : (l->ts.nanos < r->ts.nanos ? -1 : l->ts.nanos > r->ts.nanos);
        else
          return cdviz_vrl_fail (error, "can't compare %s %s %s", lk, names[op - VRL_OP_LT], rk);
        if (both_num && !both_int && (isnan (x) || isnan (y)))
          return cdviz_vrl_boolean (FALSE);
        switch (op)
          {
          case VRL_OP_LT: return cdviz_vrl_boolean (c < 0);
          case VRL_OP_LE: return cdviz_vrl_boolean (c <= 0);
          case VRL_OP_GT: return cdviz_vrl_boolean (c > 0);
          default: return cdviz_vrl_boolean (c >= 0);
          }
      }
    default:
      return cdviz_vrl_fail (error, "unknown operator");
    }
}

static CdvizVrlValue *
eval_op (CdvizVrlRuntime  *rt,
         CdvizVrlNode     *node,
         GError          **error)
{
  g_autoptr(CdvizVrlValue) l = NULL;
  g_autoptr(CdvizVrlValue) r = NULL;
  g_autoptr(GError) local_error = NULL;

  if (node->op == VRL_OP_COALESCE)
    {
      l = eval (rt, node->lhs, &local_error);
      if (l != NULL)
        return g_steal_pointer (&l);
      if (rt->returning)
        return NULL;
      if (!catchable (local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      return eval (rt, node->rhs, error);
    }

  l = eval (rt, node->lhs, error);
  if (l == NULL)
    return NULL;

  if (node->op == VRL_OP_OR)
    {
      if (cdviz_vrl_value_is_truthy (l))
        return g_steal_pointer (&l);
      return eval (rt, node->rhs, error);
    }
  if (node->op == VRL_OP_AND)
    {
      if (l->kind == CDVIZ_VRL_NULL || (l->kind == CDVIZ_VRL_BOOLEAN && !l->boolean))
        return cdviz_vrl_boolean (FALSE);
      if (l->kind != CDVIZ_VRL_BOOLEAN)
        {
          r = eval (rt, node->rhs, error);
          if (r == NULL)
            return NULL;
          return cdviz_vrl_fail (error, "can't apply an AND to types %s and %s",
                                 cdviz_vrl_kind_name (l->kind), cdviz_vrl_kind_name (r->kind));
        }
      r = eval (rt, node->rhs, error);
      if (r == NULL)
        return NULL;
      if (r->kind == CDVIZ_VRL_NULL)
        return cdviz_vrl_boolean (FALSE);
      if (r->kind != CDVIZ_VRL_BOOLEAN)
        return cdviz_vrl_fail (error, "can't apply an AND to types %s and %s",
                               cdviz_vrl_kind_name (l->kind), cdviz_vrl_kind_name (r->kind));
      return cdviz_vrl_boolean (r->boolean);
    }

  r = eval (rt, node->rhs, error);
  if (r == NULL)
    return NULL;
  return binary (node->op, l, r, error);
}

/* --- calls ------------------------------------------------------------------ */

gboolean
cdviz_vrl_call_step (CdvizVrlCall  *call,
                     guint64        steps,
                     GError       **error)
{
  CdvizVrlRuntime *rt = call->runtime;

  rt->steps += steps;
  if (rt->max_steps > 0 && rt->steps > rt->max_steps)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_BUDGET,
                   _("the program ran out of its budget of %llu"
                     " steps (max_steps)"), (unsigned long long) rt->max_steps);
      return FALSE;
    }
  return TRUE;
}

CdvizVrlValue *
cdviz_vrl_call_closure (CdvizVrlCall   *call,
                        CdvizVrlValue **params,
                        guint           n,
                        GError        **error)
{
  CdvizVrlRuntime *rt = call->runtime;
  CdvizVrlNode *node = call->node;
  CdvizVrlValue *result;

  for (guint i = 0; i < node->n_closure && i < n; i++)
    if (node->closure_slots[i] >= 0)
      {
        cdviz_vrl_value_unref (rt->slots[node->closure_slots[i]]);
        rt->slots[node->closure_slots[i]] = cdviz_vrl_value_ref (params[i]);
      }
  result = eval (rt, node->closure, error);
  if (result == NULL && rt->returning)
    {
      /* `return` inside a closure ends the closure */
      rt->returning = FALSE;
      result = g_steal_pointer (&rt->return_value);
    }
  return result;
}

CdvizVrlValue *
cdviz_vrl_call_query_get (CdvizVrlCall  *call,
                          GError       **error)
{
  return eval_query (call->runtime, call->node->args[0], error);
}

CdvizVrlValue *
cdviz_vrl_call_query_delete (CdvizVrlCall  *call,
                             gboolean       compact,
                             GError       **error)
{
  CdvizVrlNode *query = call->node->args[0];
  CdvizVrlValue **root = query_root (call->runtime, query);
  CdvizVrlValue *removed;

  if (root == NULL || *root == NULL)
    return cdviz_vrl_null ();
  if (query->path->len == 0)
    {
      removed = *root;
      *root = query->target == VRL_TARGET_VARIABLE ? cdviz_vrl_null () : cdviz_vrl_object_new ();
      return removed;
    }
  removed = cdviz_vrl_path_remove (root, query->path, 0, compact);
  return removed ? removed : cdviz_vrl_null ();
}

static CdvizVrlValue *
eval_call (CdvizVrlRuntime  *rt,
           CdvizVrlNode     *node,
           GError          **error)
{
  const CdvizVrlFunction *fn = node->function;
  CdvizVrlValue *args[G_N_ELEMENTS (fn->params)] = { NULL };
  g_autoptr(GError) local_error = NULL;
  CdvizVrlCall call = { rt, node };
  CdvizVrlValue *result = NULL;
  guint n = 0;

  while (n < G_N_ELEMENTS (fn->params) && fn->params[n].name != NULL)
    n++;
  for (guint i = 0; i < n; i++)
    {
      if (node->args[i] == NULL || (i == 0 && (fn->flags & CDVIZ_VRL_FN_QUERY_ARG)))
        continue;
      args[i] = eval (rt, node->args[i], error);
      if (args[i] == NULL)
        goto out;
      if (!(args[i]->kind & fn->params[i].kinds) &&
          !(args[i]->kind == CDVIZ_VRL_NULL && !fn->params[i].required && FALSE))
        {
          g_autofree char *want = cdviz_vrl_kinds_describe (fn->params[i].kinds);

          g_set_error (&local_error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                       "expected %s, got %s", want, cdviz_vrl_kind_name (args[i]->kind));
          break;
        }
    }
  if (local_error == NULL)
    result = fn->impl (&call, args, &local_error);
  if (result == NULL && local_error != NULL)
    {
      if (local_error->domain == CDVIZ_VRL_ERROR && local_error->code == CDVIZ_VRL_ERROR_RUNTIME)
        g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                     "function call error for \"%s\" at (%u:%u): %s",
                     fn->name, node->start, node->end, local_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
    }
out:
  for (guint i = 0; i < n; i++)
    if (args[i] != NULL)
      cdviz_vrl_value_unref (args[i]);
  return result;
}

/* --- eval ------------------------------------------------------------------- */

static CdvizVrlValue *
eval_block (CdvizVrlRuntime  *rt,
            CdvizVrlNode     *node,
            GError          **error)
{
  CdvizVrlValue *last = NULL;

  for (guint i = 0; i < node->children->len; i++)
    {
      g_clear_pointer (&last, cdviz_vrl_value_unref);
      last = eval (rt, node->children->pdata[i], error);
      if (last == NULL)
        return NULL;
    }
  return last ? last : cdviz_vrl_null ();
}

static CdvizVrlValue *
eval (CdvizVrlRuntime  *rt,
      CdvizVrlNode     *node,
      GError          **error)
{
  if (rt->max_steps > 0 && ++rt->steps > rt->max_steps)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_BUDGET,
                   _("the program ran out of its budget of %llu"
                     " steps (max_steps)"), (unsigned long long) rt->max_steps);
      return NULL;
    }

  switch (node->kind)
    {
    case VRL_N_LITERAL:
      return cdviz_vrl_value_ref (node->value);

    case VRL_N_TEMPLATE:
      {
        g_autoptr(GString) out = g_string_new (NULL);

        for (guint i = 0; i < node->children->len; i++)
          {
            g_autoptr(CdvizVrlValue) part = eval (rt, node->children->pdata[i], error);

            if (part == NULL)
              return NULL;
            if (part->kind != CDVIZ_VRL_BYTES)
              return cdviz_vrl_fail (error, "template expressions must be strings, got %s",
                                     cdviz_vrl_kind_name (part->kind));
            g_string_append_len (out, part->bytes.data, part->bytes.len);
          }
        {
          gsize len = out->len;

          return cdviz_vrl_bytes_take (g_string_free (g_steal_pointer (&out), FALSE), len);
        }
      }

    case VRL_N_ARRAY:
      {
        g_autoptr(CdvizVrlValue) array = cdviz_vrl_array_new ();

        for (guint i = 0; i < node->children->len; i++)
          {
            CdvizVrlValue *item = eval (rt, node->children->pdata[i], error);

            if (item == NULL)
              return NULL;
            g_ptr_array_add (array->array, item);
          }
        return g_steal_pointer (&array);
      }

    case VRL_N_OBJECT:
      {
        g_autoptr(CdvizVrlValue) object = cdviz_vrl_object_new ();

        for (guint i = 0; i < node->children->len; i++)
          {
            CdvizVrlValue *item = eval (rt, node->children->pdata[i], error);

            if (item == NULL)
              return NULL;
            cdviz_vrl_object_insert (object, node->keys[i], item);
          }
        return g_steal_pointer (&object);
      }

    case VRL_N_BLOCK:
      return eval_block (rt, node, error);

    case VRL_N_GROUP:
      return eval (rt, node->expr, error);

    case VRL_N_VARIABLE:
      return rt->slots[node->slot] ? cdviz_vrl_value_ref (rt->slots[node->slot]) : cdviz_vrl_null ();

    case VRL_N_QUERY:
      return eval_query (rt, node, error);

    case VRL_N_CALL:
      return eval_call (rt, node, error);

    case VRL_N_NOT:
      {
        g_autoptr(CdvizVrlValue) v = eval (rt, node->expr, error);

        if (v == NULL)
          return NULL;
        if (v->kind != CDVIZ_VRL_BOOLEAN)
          return cdviz_vrl_fail (error, "can't negate type %s", cdviz_vrl_kind_name (v->kind));
        return cdviz_vrl_boolean (!v->boolean);
      }

    case VRL_N_OP:
      return eval_op (rt, node, error);

    case VRL_N_IF:
      {
        g_autoptr(CdvizVrlValue) p = eval (rt, node->expr, error);

        if (p == NULL)
          return NULL;
        if (p->kind != CDVIZ_VRL_BOOLEAN)
          return cdviz_vrl_fail (error, "expected boolean predicate, got %s",
                                 cdviz_vrl_kind_name (p->kind));
        if (p->boolean)
          return eval (rt, node->lhs, error);
        if (node->rhs != NULL)
          return eval (rt, node->rhs, error);
        return cdviz_vrl_null ();
      }

    case VRL_N_ASSIGN:
      return eval_assign (rt, node, error);

    case VRL_N_ABORT:
      {
        g_autoptr(CdvizVrlValue) message = NULL;

        if (node->expr != NULL)
          {
            message = eval (rt, node->expr, error);
            if (message == NULL)
              return NULL;
          }
        if (message != NULL && message->kind == CDVIZ_VRL_BYTES)
          g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_ABORT, "%.*s",
                       (int) message->bytes.len, message->bytes.data);
        else
          g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_ABORT,
                       "aborted");
        return NULL;
      }

    case VRL_N_RETURN:
      {
        CdvizVrlValue *v = eval (rt, node->expr, error);

        if (v == NULL)
          return NULL;
        g_clear_pointer (&rt->return_value, cdviz_vrl_value_unref);
        rt->return_value = v;
        rt->returning = TRUE;
        return NULL;
      }

    case VRL_N_NOOP:
      return cdviz_vrl_null ();
    }
  return cdviz_vrl_null ();
}

CdvizVrlValue *
cdviz_vrl_run (CdvizVrlProgram  *program,
               CdvizVrlValue   **target,
               CdvizVrlValue   **metadata,
               guint64           max_steps,
               GError          **error)
{
  CdvizVrlRuntime rt = { 0 };
  CdvizVrlValue *result;
  guint n_slots = program->slot_names->len;

  rt.program = program;
  rt.target = target;
  rt.metadata = metadata;
  rt.max_steps = max_steps;
  rt.slots = g_new0 (CdvizVrlValue *, MAX (n_slots, 1));
  for (guint i = 0; i < n_slots; i++)
    rt.slots[i] = cdviz_vrl_null ();

  result = eval (&rt, program->root, error);
  if (result == NULL && rt.returning)
    result = g_steal_pointer (&rt.return_value);

  for (guint i = 0; i < n_slots; i++)
    cdviz_vrl_value_unref (rt.slots[i]);
  g_free (rt.slots);
  g_clear_pointer (&rt.return_value, cdviz_vrl_value_unref);
  return result;
}
