/* SPDX-License-Identifier: Apache-2.0 */
#include "cdviz-vrl-stdlib-private.h"

/* Objects, arrays, paths and the functions that take closures. */

#define CLOSURE CDVIZ_VRL_FN_CLOSURE

IMPL (f_length)
{
  switch (args[0]->kind)
    {
    case CDVIZ_VRL_ARRAY: return cdviz_vrl_integer (args[0]->array->len);
    case CDVIZ_VRL_OBJECT: return cdviz_vrl_integer (args[0]->object->len);
    default: return cdviz_vrl_integer (LEN (0));
    }
}

IMPL (f_keys)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();

  for (guint i = 0; i < args[0]->object->len; i++)
    cdviz_vrl_array_append (out, vrl_str (cdviz_vrl_object_entry (args[0], i)->key));
  return out;
}

IMPL (f_values)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();

  for (guint i = 0; i < args[0]->object->len; i++)
    cdviz_vrl_array_append (out, cdviz_vrl_value_ref (cdviz_vrl_object_entry (args[0], i)->value));
  return out;
}

static CdvizVrlValue *
merge_deep (CdvizVrlValue *to,
            CdvizVrlValue *from,
            gboolean       deep)
{
  CdvizVrlValue *out = cdviz_vrl_value_shallow_copy (to);

  for (guint i = 0; i < from->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (from, i);
      CdvizVrlValue *existing = cdviz_vrl_object_get (out, e->key);

      if (deep && existing && existing->kind == O && e->value->kind == O)
        cdviz_vrl_object_insert (out, e->key, merge_deep (existing, e->value, TRUE));
      else
        cdviz_vrl_object_insert (out, e->key, cdviz_vrl_value_ref (e->value));
    }
  return out;
}

IMPL (f_merge) { return merge_deep (args[0], args[1], BOOL_ARG (2, FALSE)); }

IMPL (f_push)
{
  CdvizVrlValue *out = cdviz_vrl_value_shallow_copy (args[0]);

  cdviz_vrl_array_append (out, cdviz_vrl_value_ref (args[1]));
  return out;
}

IMPL (f_append)
{
  CdvizVrlValue *out = cdviz_vrl_value_shallow_copy (args[0]);

  for (guint i = 0; i < args[1]->array->len; i++)
    cdviz_vrl_array_append (out, cdviz_vrl_value_ref (g_ptr_array_index (args[1]->array, i)));
  return out;
}

IMPL (f_pop)
{
  CdvizVrlValue *out = cdviz_vrl_value_shallow_copy (args[0]);

  if (out->array->len > 0)
    g_ptr_array_remove_index (out->array, out->array->len - 1);
  return out;
}

IMPL (f_includes)
{
  for (guint i = 0; i < args[0]->array->len; i++)
    if (cdviz_vrl_value_equal (g_ptr_array_index (args[0]->array, i), args[1]))
      return cdviz_vrl_boolean (TRUE);
  return cdviz_vrl_boolean (FALSE);
}

static void
flatten_into (CdvizVrlValue *out,
              const char    *prefix,
              CdvizVrlValue *v,
              const char    *sep)
{
  if (v->kind == A)
    {
      for (guint i = 0; i < v->array->len; i++)
        {
          CdvizVrlValue *item = g_ptr_array_index (v->array, i);

          if (item->kind == A)
            flatten_into (out, NULL, item, sep);
          else
            cdviz_vrl_array_append (out, cdviz_vrl_value_ref (item));
        }
      return;
    }
  for (guint i = 0; i < v->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (v, i);
      g_autofree char *key = prefix ? g_strconcat (prefix, sep, e->key, NULL) : g_strdup (e->key);

      if (e->value->kind == O && e->value->object->len > 0)
        flatten_into (out, key, e->value, sep);
      else
        cdviz_vrl_object_insert (out, key, cdviz_vrl_value_ref (e->value));
    }
}

IMPL (f_flatten)
{
  CdvizVrlValue *out = args[0]->kind == A ? cdviz_vrl_array_new () : cdviz_vrl_object_new ();

  flatten_into (out, NULL, args[0], args[1] ? STR (1) : ".");
  return out;
}

IMPL (f_unflatten)
{
  const char *sep = args[1] ? STR (1) : ".";
  gboolean recursive = BOOL_ARG (2, TRUE);
  CdvizVrlValue *out = cdviz_vrl_object_new ();

  for (guint i = 0; i < args[0]->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (args[0], i);
      g_auto(GStrv) parts = g_strsplit (e->key, sep, recursive ? -1 : 2);
      guint n = g_strv_length (parts);
      GArray *path = g_array_new (FALSE, TRUE, sizeof (CdvizVrlSegment));
      CdvizVrlValue *value = cdviz_vrl_value_ref (e->value);

      if (recursive && value->kind == O)
        {
          CdvizVrlValue *sub[3] = { value, args[1], NULL };
          CdvizVrlValue *u = f_unflatten (call, sub, error);

          cdviz_vrl_value_unref (value);
          value = u;
        }
      for (guint j = 0; j < n; j++)
        {
          CdvizVrlSegment s = { VRL_SEG_FIELD, parts[j], 0, NULL };

          g_array_append_val (path, s);
        }
      /* a scalar on the way is replaced by an object, as upstream */
      cdviz_vrl_path_set (&out, path, 0, value);
      g_array_free (path, TRUE);
    }
  return out;
}

IMPL (f_unique)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *item = g_ptr_array_index (args[0]->array, i);
      gboolean seen = FALSE;

      for (guint j = 0; j < out->array->len && !seen; j++)
        seen = cdviz_vrl_value_equal (g_ptr_array_index (out->array, j), item);
      if (!seen)
        cdviz_vrl_array_append (out, cdviz_vrl_value_ref (item));
    }
  return out;
}

typedef struct {
  gboolean recursive, null, string, object, array, nullish;
} CompactOptions;

static gboolean
compact_drop (CdvizVrlValue        *v,
              const CompactOptions *o)
{
  switch (v->kind)
    {
    case CDVIZ_VRL_NULL: return o->null || o->nullish;
    case CDVIZ_VRL_BYTES:
      if (o->string && v->bytes.len == 0)
        return TRUE;
      if (o->nullish)
        {
          g_autofree char *s = g_strndup (v->bytes.data, v->bytes.len);

          return g_str_equal (g_strstrip (s), "") || g_str_equal (s, "-");
        }
      return FALSE;
    case CDVIZ_VRL_OBJECT: return o->object && v->object->len == 0;
    case CDVIZ_VRL_ARRAY: return o->array && v->array->len == 0;
    default: return FALSE;
    }
}

static CdvizVrlValue *
compact (CdvizVrlValue        *v,
         const CompactOptions *o)
{
  CdvizVrlValue *out;

  if (v->kind == A)
    {
      out = cdviz_vrl_array_new ();
      for (guint i = 0; i < v->array->len; i++)
        {
          CdvizVrlValue *item = g_ptr_array_index (v->array, i);
          CdvizVrlValue *c = o->recursive && (item->kind & (A | O)) ? compact (item, o)
                                                                    : cdviz_vrl_value_ref (item);

          if (compact_drop (c, o))
            cdviz_vrl_value_unref (c);
          else
            cdviz_vrl_array_append (out, c);
        }
      return out;
    }
  out = cdviz_vrl_object_new ();
  for (guint i = 0; i < v->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (v, i);
      CdvizVrlValue *c = o->recursive && (e->value->kind & (A | O)) ? compact (e->value, o)
                                                                    : cdviz_vrl_value_ref (e->value);

      if (compact_drop (c, o))
        cdviz_vrl_value_unref (c);
      else
        cdviz_vrl_object_insert (out, e->key, c);
    }
  return out;
}

IMPL (f_compact)
{
  CompactOptions o = { BOOL_ARG (1, TRUE), BOOL_ARG (2, TRUE), BOOL_ARG (3, TRUE),
                       BOOL_ARG (4, TRUE), BOOL_ARG (5, TRUE), BOOL_ARG (6, FALSE) };

  return compact (args[0], &o);
}

/* get/set/remove take a path as an array of strings and integers. */
static GArray *
path_from_array (CdvizVrlValue  *array,
                 GError        **error)
{
  GArray *path = g_array_new (FALSE, TRUE, sizeof (CdvizVrlSegment));

  g_array_set_clear_func (path, NULL);
  for (guint i = 0; i < array->array->len; i++)
    {
      CdvizVrlValue *item = g_ptr_array_index (array->array, i);
      CdvizVrlSegment s = { 0 };

      if (item->kind == S)
        {
          s.kind = VRL_SEG_FIELD;
          s.field = item->bytes.data;
        }
      else if (item->kind == I)
        {
          s.kind = VRL_SEG_INDEX;
          s.index = item->integer;
        }
      else
        {
          g_array_free (path, TRUE);
          cdviz_vrl_fail (error, "path segment must be either string or integer, not %s",
                          cdviz_vrl_kind_name (item->kind));
          return NULL;
        }
      g_array_append_val (path, s);
    }
  return path;
}

IMPL (f_get)
{
  GArray *path = path_from_array (args[1], error);
  CdvizVrlValue *found;

  if (path == NULL)
    return NULL;
  found = cdviz_vrl_path_get (args[0], path);
  g_array_free (path, TRUE);
  return found ? cdviz_vrl_value_ref (found) : cdviz_vrl_null ();
}

IMPL (f_set)
{
  GArray *path = path_from_array (args[1], error);
  CdvizVrlValue *out;

  if (path == NULL)
    return NULL;
  out = cdviz_vrl_value_ref (args[0]);
  cdviz_vrl_path_set (&out, path, 0, cdviz_vrl_value_ref (args[2]));
  g_array_free (path, TRUE);
  return out;
}

IMPL (f_remove)
{
  GArray *path = path_from_array (args[1], error);
  CdvizVrlValue *out, *removed = NULL;

  if (path == NULL)
    return NULL;
  out = cdviz_vrl_value_ref (args[0]);
  if (path->len > 0)
    removed = cdviz_vrl_path_remove (&out, path, 0, BOOL_ARG (2, FALSE));
  else
    {
      cdviz_vrl_value_unref (out);
      out = args[0]->kind == A ? cdviz_vrl_array_new () : cdviz_vrl_object_new ();
    }
  g_clear_pointer (&removed, cdviz_vrl_value_unref);
  g_array_free (path, TRUE);
  return out;
}

IMPL (f_del)
{
  return cdviz_vrl_call_query_delete (call, BOOL_ARG (1, FALSE), error);
}

IMPL (f_exists)
{
  CdvizVrlNode *query = call->node->args[0];
  g_autoptr(CdvizVrlValue) v = NULL;

  if (query->target == VRL_TARGET_VARIABLE && query->slot < 0)
    return cdviz_vrl_boolean (FALSE);
  if (query->path->len == 0)
    return cdviz_vrl_boolean (TRUE);
  /* exists: the path resolves, even to null */
  {
    CdvizVrlNode parent = *query;
    GArray *path = query->path;
    CdvizVrlSegment *last = &g_array_index (path, CdvizVrlSegment, path->len - 1);
    GArray *prefix = g_array_sized_new (FALSE, TRUE, sizeof (CdvizVrlSegment), path->len);
    CdvizVrlCall sub = *call;
    CdvizVrlNode *saved = call->node->args[0];
    gboolean found = FALSE;

    g_array_append_vals (prefix, path->data, path->len - 1);
    parent.path = prefix;
    call->node->args[0] = &parent;
    v = cdviz_vrl_call_query_get (&sub, error);
    call->node->args[0] = saved;
    g_array_free (prefix, TRUE);
    if (v == NULL)
      return NULL;
    if (last->kind == VRL_SEG_FIELD && v->kind == O)
      found = cdviz_vrl_object_get (v, last->field) != NULL;
    else if (last->kind == VRL_SEG_INDEX && v->kind == A)
      {
        gint64 i = last->index < 0 ? (gint64) v->array->len + last->index : last->index;

        found = i >= 0 && i < (gint64) v->array->len;
      }
    else if (last->kind == VRL_SEG_COALESCE && v->kind == O)
      for (guint j = 0; last->fields[j] && !found; j++)
        found = cdviz_vrl_object_get (v, last->fields[j]) != NULL;
    return cdviz_vrl_boolean (found);
  }
}

/* --- closures ----------------------------------------------------------------- */

static CdvizVrlValue *
each_pair (CdvizVrlCall   *call,
           CdvizVrlValue  *container,
           guint           i,
           CdvizVrlValue **key_out,
           CdvizVrlValue **value_out)
{
  if (container->kind == A)
    {
      *key_out = cdviz_vrl_integer (i);
      *value_out = g_ptr_array_index (container->array, i);
    }
  else
    {
      *key_out = vrl_str (cdviz_vrl_object_entry (container, i)->key);
      *value_out = cdviz_vrl_object_entry (container, i)->value;
    }
  return NULL;
}

static guint
container_len (CdvizVrlValue *v)
{
  return v->kind == A ? v->array->len : v->object->len;
}

IMPL (f_for_each)
{
  g_autoptr(CdvizVrlValue) c = cdviz_vrl_value_ref (args[0]);

  for (guint i = 0; i < container_len (c); i++)
    {
      CdvizVrlValue *params[2], *r;

      each_pair (call, c, i, &params[0], &params[1]);
      r = cdviz_vrl_call_closure (call, params, 2, error);
      cdviz_vrl_value_unref (params[0]);
      if (r == NULL)
        return NULL;
      cdviz_vrl_value_unref (r);
    }
  return cdviz_vrl_null ();
}

IMPL (f_filter)
{
  g_autoptr(CdvizVrlValue) c = cdviz_vrl_value_ref (args[0]);
  g_autoptr(CdvizVrlValue) out = c->kind == A ? cdviz_vrl_array_new () : cdviz_vrl_object_new ();

  for (guint i = 0; i < container_len (c); i++)
    {
      CdvizVrlValue *params[2];
      g_autoptr(CdvizVrlValue) r = NULL;

      each_pair (call, c, i, &params[0], &params[1]);
      r = cdviz_vrl_call_closure (call, params, 2, error);
      if (r == NULL)
        {
          cdviz_vrl_value_unref (params[0]);
          return NULL;
        }
      if (r->kind != B)
        {
          cdviz_vrl_value_unref (params[0]);
          return cdviz_vrl_fail_kind (error, B, r);
        }
      if (r->boolean)
        {
          if (c->kind == A)
            cdviz_vrl_array_append (out, cdviz_vrl_value_ref (params[1]));
          else
            cdviz_vrl_object_insert (out, params[0]->bytes.data, cdviz_vrl_value_ref (params[1]));
        }
      cdviz_vrl_value_unref (params[0]);
    }
  return g_steal_pointer (&out);
}

static CdvizVrlValue *
map_values (CdvizVrlCall   *call,
            CdvizVrlValue  *c,
            gboolean        recursive,
            GError        **error)
{
  g_autoptr(CdvizVrlValue) out = c->kind == A ? cdviz_vrl_array_new () : cdviz_vrl_object_new ();

  for (guint i = 0; i < container_len (c); i++)
    {
      CdvizVrlValue *key, *value;
      g_autoptr(CdvizVrlValue) mapped = NULL;

      each_pair (call, c, i, &key, &value);
      if (recursive && (value->kind & (A | O)))
        mapped = map_values (call, value, TRUE, error);
      else
        mapped = cdviz_vrl_call_closure (call, &value, 1, error);
      if (mapped == NULL)
        {
          cdviz_vrl_value_unref (key);
          return NULL;
        }
      if (recursive && (value->kind & (A | O)))
        {
          CdvizVrlValue *again = cdviz_vrl_call_closure (call, &mapped, 1, error);

          g_clear_pointer (&mapped, cdviz_vrl_value_unref);
          if (again == NULL)
            {
              cdviz_vrl_value_unref (key);
              return NULL;
            }
          mapped = again;
        }
      if (c->kind == A)
        cdviz_vrl_array_append (out, g_steal_pointer (&mapped));
      else
        cdviz_vrl_object_insert (out, key->bytes.data, g_steal_pointer (&mapped));
      cdviz_vrl_value_unref (key);
    }
  return g_steal_pointer (&out);
}

IMPL (f_map_values)
{
  g_autoptr(CdvizVrlValue) c = cdviz_vrl_value_ref (args[0]);

  return map_values (call, c, BOOL_ARG (1, FALSE), error);
}

static CdvizVrlValue *
map_keys (CdvizVrlCall   *call,
          CdvizVrlValue  *c,
          gboolean        recursive,
          GError        **error)
{
  g_autoptr(CdvizVrlValue) out = c->kind == A ? cdviz_vrl_array_new () : cdviz_vrl_object_new ();

  for (guint i = 0; i < container_len (c); i++)
    {
      CdvizVrlValue *key, *value;
      g_autoptr(CdvizVrlValue) child = NULL;

      each_pair (call, c, i, &key, &value);
      child = recursive && (value->kind & (A | O)) ? map_keys (call, value, TRUE, error)
                                                   : cdviz_vrl_value_ref (value);
      if (child == NULL)
        {
          cdviz_vrl_value_unref (key);
          return NULL;
        }
      if (c->kind == A)
        cdviz_vrl_array_append (out, g_steal_pointer (&child));
      else
        {
          g_autoptr(CdvizVrlValue) k = cdviz_vrl_call_closure (call, &key, 1, error);

          if (k == NULL)
            {
              cdviz_vrl_value_unref (key);
              return NULL;
            }
          if (k->kind != S)
            {
              cdviz_vrl_value_unref (key);
              return cdviz_vrl_fail_kind (error, S, k);
            }
          cdviz_vrl_object_insert (out, k->bytes.data, g_steal_pointer (&child));
        }
      cdviz_vrl_value_unref (key);
    }
  return g_steal_pointer (&out);
}

IMPL (f_map_keys)
{
  g_autoptr(CdvizVrlValue) c = cdviz_vrl_value_ref (args[0]);

  return map_keys (call, c, BOOL_ARG (1, FALSE), error);
}

/* --- more arrays -------------------------------------------------------------- */

IMPL (f_chunks)
{
  gint64 size = args[1]->integer;
  CdvizVrlValue *out;

  if (size < 1)
    return cdviz_vrl_fail (error, "\"chunk_size\" must be at least 1 byte");
  out = cdviz_vrl_array_new ();
  if (args[0]->kind == S)
    for (gsize i = 0; i < LEN (0); i += size)
      cdviz_vrl_array_append (out, cdviz_vrl_bytes (STR (0) + i, MIN ((gsize) size, LEN (0) - i)));
  else
    for (guint i = 0; i < args[0]->array->len; i += size)
      {
        CdvizVrlValue *chunk = cdviz_vrl_array_new ();

        for (guint j = i; j < args[0]->array->len && j < i + size; j++)
          cdviz_vrl_array_append (chunk, cdviz_vrl_value_ref (g_ptr_array_index (args[0]->array, j)));
        cdviz_vrl_array_append (out, chunk);
      }
  return out;
}

IMPL (f_zip)
{
  GPtrArray *arrays = g_ptr_array_new ();
  CdvizVrlValue *out = cdviz_vrl_array_new ();
  guint n = G_MAXUINT;

  if (args[1] != NULL)
    {
      g_ptr_array_add (arrays, args[0]);
      g_ptr_array_add (arrays, args[1]);
    }
  else
    for (guint i = 0; i < args[0]->array->len; i++)
      {
        CdvizVrlValue *a = g_ptr_array_index (args[0]->array, i);

        if (a->kind != A)
          {
            g_ptr_array_free (arrays, TRUE);
            cdviz_vrl_value_unref (out);
            return cdviz_vrl_fail_kind (error, A, a);
          }
        g_ptr_array_add (arrays, a);
      }
  for (guint i = 0; i < arrays->len; i++)
    n = MIN (n, ((CdvizVrlValue *) arrays->pdata[i])->array->len);
  for (guint j = 0; arrays->len > 0 && j < n; j++)
    {
      CdvizVrlValue *tuple = cdviz_vrl_array_new ();

      for (guint i = 0; i < arrays->len; i++)
        cdviz_vrl_array_append (tuple, cdviz_vrl_value_ref (g_ptr_array_index (((CdvizVrlValue *) arrays->pdata[i])->array, j)));
      cdviz_vrl_array_append (out, tuple);
    }
  g_ptr_array_free (arrays, TRUE);
  return out;
}

IMPL (f_object_from_array)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *item = g_ptr_array_index (args[0]->array, i);
      CdvizVrlValue *key, *value;

      if (args[1] != NULL)
        {
          key = i < args[1]->array->len ? g_ptr_array_index (args[1]->array, i) : NULL;
          value = item;
        }
      else
        {
          if (item->kind != A || item->array->len < 1)
            {
              cdviz_vrl_value_unref (out);
              return cdviz_vrl_fail (error, "expected array of pairs");
            }
          key = g_ptr_array_index (item->array, 0);
          value = item->array->len > 1 ? g_ptr_array_index (item->array, 1) : NULL;
        }
      if (key == NULL || key->kind == N)
        continue;
      if (key->kind != S)
        {
          cdviz_vrl_value_unref (out);
          return cdviz_vrl_fail (error, "object keys must be strings");
        }
      cdviz_vrl_object_insert (out, key->bytes.data, value ? cdviz_vrl_value_ref (value) : cdviz_vrl_null ());
    }
  return out;
}

IMPL (f_to_entries)
{
  CdvizVrlValue *out = cdviz_vrl_array_new ();

  /* an array's entries are its indices and items */
  for (guint i = 0; args[0]->kind == A && i < args[0]->array->len; i++)
    {
      CdvizVrlValue *pair = cdviz_vrl_object_new ();

      cdviz_vrl_object_insert (pair, "key", cdviz_vrl_integer (i));
      cdviz_vrl_object_insert (pair, "value", cdviz_vrl_value_ref (args[0]->array->pdata[i]));
      cdviz_vrl_array_append (out, pair);
    }
  for (guint i = 0; args[0]->kind == O && i < args[0]->object->len; i++)
    {
      CdvizVrlEntry *e = cdviz_vrl_object_entry (args[0], i);
      CdvizVrlValue *pair = cdviz_vrl_object_new ();

      cdviz_vrl_object_insert (pair, "key", vrl_str (e->key));
      cdviz_vrl_object_insert (pair, "value", cdviz_vrl_value_ref (e->value));
      cdviz_vrl_array_append (out, pair);
    }
  return out;
}

IMPL (f_from_entries)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *e = g_ptr_array_index (args[0]->array, i);
      CdvizVrlValue *k = e->kind == O ? cdviz_vrl_object_get (e, "key") : NULL;
      CdvizVrlValue *v = e->kind == O ? cdviz_vrl_object_get (e, "value") : NULL;

      if (k == NULL || k->kind != S)
        {
          cdviz_vrl_value_unref (out);
          return cdviz_vrl_fail (error, "each entry must be an object with a string \"key\"");
        }
      cdviz_vrl_object_insert (out, k->bytes.data, v ? cdviz_vrl_value_ref (v) : cdviz_vrl_null ());
    }
  return out;
}

IMPL (f_tally)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *item = g_ptr_array_index (args[0]->array, i);
      CdvizVrlValue *n;

      if (item->kind != S)
        {
          cdviz_vrl_value_unref (out);
          return cdviz_vrl_fail_kind (error, S, item);
        }
      n = cdviz_vrl_object_get (out, item->bytes.data);
      cdviz_vrl_object_insert (out, item->bytes.data, cdviz_vrl_integer (n ? n->integer + 1 : 1));
    }
  return out;
}

IMPL (f_tally_value)
{
  gint64 n = 0;

  for (guint i = 0; i < args[0]->array->len; i++)
    n += cdviz_vrl_value_equal (g_ptr_array_index (args[0]->array, i), args[1]);
  return cdviz_vrl_integer (n);
}

IMPL (f_match_array)
{
  gboolean all = BOOL_ARG (2, FALSE);
  guint matched = 0;

  for (guint i = 0; i < args[0]->array->len; i++)
    {
      CdvizVrlValue *s = g_ptr_array_index (args[0]->array, i);

      if (s->kind == S &&
          g_regex_match_full (args[1]->re.regex, s->bytes.data, s->bytes.len, 0, 0, NULL, NULL))
        matched++;
    }
  return cdviz_vrl_boolean (all ? matched == args[0]->array->len && matched > 0 : matched > 0);
}

static const CdvizVrlFunction functions[] = {
  FN ("append", f_append, 0, A, REQ ("value", A), REQ ("items", A)),
  FN ("chunks", f_chunks, FALLIBLE | CONST_OK, A, REQ ("value", S | A), REQ ("chunk_size", I)),
  FN ("compact", f_compact, CDVIZ_VRL_FN_RETURNS_ARG0, A | O, REQ ("value", A | O), OPT ("recursive", B),
      OPT ("null", B), OPT ("string", B), OPT ("object", B), OPT ("array", B), OPT ("nullish", B)),
  FN ("del", f_del, CDVIZ_VRL_FN_QUERY_ARG | CDVIZ_VRL_FN_IMPURE, ANY, REQ ("target", ANY), OPT ("compact", B)),
  FN ("exists", f_exists, CDVIZ_VRL_FN_QUERY_ARG, B, REQ ("field", ANY)),
  { .name = "filter", .impl = f_filter, .flags = CLOSURE | CDVIZ_VRL_FN_RETURNS_ARG0, .returns = A | O,
    .closure_min = 2, .closure_max = 2, .params = { REQ ("value", A | O) } },
  FN ("flatten", f_flatten, CDVIZ_VRL_FN_RETURNS_ARG0, A | O, REQ ("value", A | O), OPT ("separator", S)),
  { .name = "for_each", .impl = f_for_each, .flags = CLOSURE, .returns = N,
    .closure_min = 2, .closure_max = 2, .params = { REQ ("value", A | O) } },
  FN ("from_entries", f_from_entries, FALLIBLE | CONST_OK, O, REQ ("value", A)),
  FN ("get", f_get, FALLIBLE, ANY, REQ ("value", O | A), REQ ("path", A)),
  FN ("includes", f_includes, 0, B, REQ ("value", A), REQ ("item", ANY)),
  FN ("keys", f_keys, 0, A, REQ ("value", O)),
  FN ("length", f_length, 0, I, REQ ("value", A | O | S)),
  { .name = "map_keys", .impl = f_map_keys, .flags = CLOSURE, .returns = O,
    .closure_min = 1, .closure_max = 1, .params = { REQ ("value", O), OPT ("recursive", B) } },
  { .name = "map_values", .impl = f_map_values, .flags = CLOSURE | CDVIZ_VRL_FN_RETURNS_ARG0, .returns = A | O,
    .closure_min = 1, .closure_max = 1, .params = { REQ ("value", A | O), OPT ("recursive", B) } },
  FN ("match_array", f_match_array, 0, B, REQ ("value", A), REQ ("pattern", R), OPT ("all", B)),
  FN ("merge", f_merge, 0, O, REQ ("to", O), REQ ("from", O), OPT ("deep", B)),
  FN ("object_from_array", f_object_from_array, FALLIBLE | CONST_OK, O, REQ ("values", A), OPT ("keys", A)),
  FN ("pop", f_pop, 0, A, REQ ("value", A)),
  FN ("push", f_push, 0, A, REQ ("value", A), REQ ("item", ANY)),
  FN ("remove", f_remove, FALLIBLE | CDVIZ_VRL_FN_RETURNS_ARG0, O | A, REQ ("value", O | A), REQ ("path", A), OPT ("compact", B)),
  FN ("set", f_set, FALLIBLE | CDVIZ_VRL_FN_RETURNS_ARG0, O | A, REQ ("value", O | A), REQ ("path", A), REQ ("data", ANY)),
  FN ("tally", f_tally, FALLIBLE, O, REQ ("value", A)),
  FN ("tally_value", f_tally_value, 0, I, REQ ("array", A), REQ ("value", ANY)),
  FN ("to_entries", f_to_entries, 0, A, REQ ("value", O | A)),
  FN ("unflatten", f_unflatten, 0, O, REQ ("value", O), OPT ("separator", S), OPT ("recursive", B)),
  FN ("unique", f_unique, 0, A, REQ ("value", A)),
  FN ("values", f_values, 0, A, REQ ("value", O)),
  FN ("zip", f_zip, FALLIBLE | CONST_OK, A, REQ ("array_0", A), OPT ("array_1", A)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_collection (void)
{
  return functions;
}
