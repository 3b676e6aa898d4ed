/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cdviz-vrl-ast.h"
#include "cdviz-vrl-type.h"

/* Compile-time types, after upstream's `Kind` (src/value/kind/): enough of
 * it for types to flow through assignments, paths, branches and closures,
 * and for `type_def()` to print what upstream prints in the common cases. */

#define ALL (CDVIZ_VRL_ANY | CDVIZ_VRL_UNDEFINED)

static CdvizVrlType any_type = { G_MAXINT / 2, ALL, NULL, &any_type, NULL, &any_type };

static void
entry_clear (gpointer data)
{
  CdvizVrlTypeEntry *e = data;

  g_free (e->key);
  cdviz_vrl_type_unref (e->type);
}

static GArray *
entries_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (CdvizVrlTypeEntry));

  g_array_set_clear_func (a, entry_clear);
  return a;
}

CdvizVrlType *
cdviz_vrl_type_ref (CdvizVrlType *type)
{
  if (type != &any_type)
    g_atomic_int_inc (&type->ref_count);
  return type;
}

void
cdviz_vrl_type_unref (CdvizVrlType *type)
{
  if (type == NULL || type == &any_type || !g_atomic_int_dec_and_test (&type->ref_count))
    return;
  g_clear_pointer (&type->fields, g_array_unref);
  g_clear_pointer (&type->items, g_array_unref);
  g_clear_pointer (&type->field_unknown, cdviz_vrl_type_unref);
  g_clear_pointer (&type->item_unknown, cdviz_vrl_type_unref);
  g_clear_pointer (&type->constant, cdviz_vrl_value_unref);
  g_free (type);
}

static CdvizVrlType *
type_alloc (guint kinds)
{
  CdvizVrlType *t = g_new0 (CdvizVrlType, 1);

  t->ref_count = 1;
  t->kinds = kinds;
  return t;
}

CdvizVrlType *
cdviz_vrl_type_any (void)
{
  return &any_type;
}

CdvizVrlType *
cdviz_vrl_type_new (guint kinds)
{
  CdvizVrlType *t;

  if ((kinds & ALL) == ALL)
    return &any_type;
  t = type_alloc (kinds);
  if (kinds & CDVIZ_VRL_OBJECT)
    t->field_unknown = &any_type;
  if (kinds & CDVIZ_VRL_ARRAY)
    t->item_unknown = &any_type;
  return t;
}

static void
entries_add (GArray       *a,
             const char   *key,
             gint64        index,
             CdvizVrlType *type)       /* takes */
{
  CdvizVrlTypeEntry e = { g_strdup (key), index, type };

  g_array_append_val (a, e);
}

static CdvizVrlTypeEntry *
entries_find (GArray     *a,
              const char *key,
              gint64      index)
{
  for (guint i = 0; a != NULL && i < a->len; i++)
    {
      CdvizVrlTypeEntry *e = &g_array_index (a, CdvizVrlTypeEntry, i);

      if (key != NULL ? g_strcmp0 (e->key, key) == 0 : e->index == index)
        return e;
    }
  return NULL;
}

static int
entry_cmp (gconstpointer a,
           gconstpointer b)
{
  const CdvizVrlTypeEntry *x = a, *y = b;

  if (x->key != NULL)
    return strcmp (x->key, y->key);
  return x->index < y->index ? -1 : x->index > y->index;
}

CdvizVrlType *
cdviz_vrl_type_collection (char         **keys,
                           CdvizVrlType **types,
                           guint          n)
{
  CdvizVrlType *t = type_alloc (keys != NULL ? CDVIZ_VRL_OBJECT : CDVIZ_VRL_ARRAY);
  GArray *a = entries_new ();

  for (guint i = 0; i < n; i++)
    {
      CdvizVrlTypeEntry *old = keys != NULL ? entries_find (a, keys[i], 0) : NULL;

      CdvizVrlType *item = cdviz_vrl_type_defined (types[i]);

      cdviz_vrl_type_unref (types[i]);
      if (old != NULL)
        {
          cdviz_vrl_type_unref (old->type);
          old->type = item;
        }
      else
        entries_add (a, keys != NULL ? keys[i] : NULL, i, item);
    }
  g_array_sort (a, entry_cmp);
  if (keys != NULL)
    t->fields = a;
  else
    t->items = a;
  return t;
}

CdvizVrlType *
cdviz_vrl_type_of_value (const CdvizVrlValue *value)
{
  CdvizVrlType *t;

  switch (value->kind)
    {
    case CDVIZ_VRL_OBJECT:
      t = type_alloc (CDVIZ_VRL_OBJECT);
      t->fields = entries_new ();
      for (guint i = 0; i < value->object->len; i++)
        {
          CdvizVrlEntry *e = cdviz_vrl_object_entry (value, i);

          entries_add (t->fields, e->key, 0, cdviz_vrl_type_of_value (e->value));
        }
      return t;
    case CDVIZ_VRL_ARRAY:
      t = type_alloc (CDVIZ_VRL_ARRAY);
      t->items = entries_new ();
      for (guint i = 0; i < value->array->len; i++)
        entries_add (t->items, NULL, i, cdviz_vrl_type_of_value (value->array->pdata[i]));
      return t;
    default:
      t = type_alloc (value->kind);
      t->constant = cdviz_vrl_value_ref ((CdvizVrlValue *) value);
      return t;
    }
}

guint
cdviz_vrl_type_kinds (const CdvizVrlType *type)
{
  guint k = type->kinds & CDVIZ_VRL_ANY;

  if (type->kinds & CDVIZ_VRL_UNDEFINED)
    k |= CDVIZ_VRL_NULL;
  return k;
}

static CdvizVrlType *
maybe_union (CdvizVrlType       *a,    /* takes, may be NULL */
             const CdvizVrlType *b)
{
  CdvizVrlType *u;

  if (a == NULL)
    return b != NULL ? cdviz_vrl_type_ref ((CdvizVrlType *) b) : NULL;
  if (b == NULL)
    return a;
  u = cdviz_vrl_type_union (a, b);
  cdviz_vrl_type_unref (a);
  return u;
}

static CdvizVrlType undefined_type = { G_MAXINT / 2, CDVIZ_VRL_UNDEFINED, NULL, NULL, NULL, NULL };

/* The type of one side's member @key/@index (an absent one is undefined). */
static const CdvizVrlType *
member (GArray             *known,
        const CdvizVrlType *unknown,
        const char         *key,
        gint64              index)
{
  CdvizVrlTypeEntry *e = entries_find (known, key, index);

  if (e != NULL)
    return e->type;
  return unknown != NULL ? unknown : &undefined_type;
}

static GArray *
merge_entries (GArray             *a,
               const CdvizVrlType *au,
               GArray             *b,
               const CdvizVrlType *bu)
{
  GArray *out = entries_new ();

  if (a == NULL && b == NULL)
    {
      g_array_unref (out);
      return NULL;
    }
  for (guint side = 0; side < 2; side++)
    {
      GArray *src = side == 0 ? a : b;

      for (guint i = 0; src != NULL && i < src->len; i++)
        {
          CdvizVrlTypeEntry *e = &g_array_index (src, CdvizVrlTypeEntry, i);

          if (entries_find (out, e->key, e->index) != NULL)
            continue;
          entries_add (out, e->key, e->index,
                       cdviz_vrl_type_union (member (a, au, e->key, e->index),
                                             member (b, bu, e->key, e->index)));
        }
    }
  g_array_sort (out, entry_cmp);
  return out;
}

CdvizVrlType *
cdviz_vrl_type_union (const CdvizVrlType *a,
                      const CdvizVrlType *b)
{
  CdvizVrlType *t;

  if (a == &any_type || b == &any_type)
    return &any_type;
  t = type_alloc (a->kinds | b->kinds);
  if ((a->kinds & CDVIZ_VRL_OBJECT) && (b->kinds & CDVIZ_VRL_OBJECT))
    {
      t->fields = merge_entries (a->fields, a->field_unknown, b->fields, b->field_unknown);
      t->field_unknown = maybe_union (a->field_unknown ? cdviz_vrl_type_ref (a->field_unknown) : NULL,
                                      b->field_unknown);
    }
  else if ((a->kinds | b->kinds) & CDVIZ_VRL_OBJECT)
    {
      const CdvizVrlType *o = (a->kinds & CDVIZ_VRL_OBJECT) ? a : b;

      t->fields = o->fields ? g_array_ref (o->fields) : NULL;
      t->field_unknown = o->field_unknown ? cdviz_vrl_type_ref (o->field_unknown) : NULL;
    }
  if ((a->kinds & CDVIZ_VRL_ARRAY) && (b->kinds & CDVIZ_VRL_ARRAY))
    {
      t->items = merge_entries (a->items, a->item_unknown, b->items, b->item_unknown);
      t->item_unknown = maybe_union (a->item_unknown ? cdviz_vrl_type_ref (a->item_unknown) : NULL,
                                     b->item_unknown);
    }
  else if ((a->kinds | b->kinds) & CDVIZ_VRL_ARRAY)
    {
      const CdvizVrlType *o = (a->kinds & CDVIZ_VRL_ARRAY) ? a : b;

      t->items = o->items ? g_array_ref (o->items) : NULL;
      t->item_unknown = o->item_unknown ? cdviz_vrl_type_ref (o->item_unknown) : NULL;
    }
  return t;
}

static CdvizVrlType *
copy_shallow (const CdvizVrlType *src,
              guint               kinds)
{
  CdvizVrlType *t = type_alloc (kinds);

  if ((kinds & CDVIZ_VRL_OBJECT) && (src->kinds & CDVIZ_VRL_OBJECT))
    {
      t->fields = src->fields ? g_array_ref (src->fields) : NULL;
      t->field_unknown = src->field_unknown ? cdviz_vrl_type_ref (src->field_unknown) : NULL;
    }
  else if (kinds & CDVIZ_VRL_OBJECT)
    t->field_unknown = &any_type;
  if ((kinds & CDVIZ_VRL_ARRAY) && (src->kinds & CDVIZ_VRL_ARRAY))
    {
      t->items = src->items ? g_array_ref (src->items) : NULL;
      t->item_unknown = src->item_unknown ? cdviz_vrl_type_ref (src->item_unknown) : NULL;
    }
  else if (kinds & CDVIZ_VRL_ARRAY)
    t->item_unknown = &any_type;
  return t;
}

CdvizVrlType *
cdviz_vrl_type_defined (const CdvizVrlType *type)
{
  CdvizVrlType *t;

  if (!(type->kinds & CDVIZ_VRL_UNDEFINED) || type == &any_type)
    return cdviz_vrl_type_ref ((CdvizVrlType *) type);
  t = copy_shallow (type, (type->kinds & ~CDVIZ_VRL_UNDEFINED) | CDVIZ_VRL_NULL);
  return t;
}

CdvizVrlType *
cdviz_vrl_type_narrow (const CdvizVrlType *type,
                       guint               kinds)
{
  return copy_shallow (type, type->kinds & kinds);
}

static gint64
known_length (const CdvizVrlType *t)
{
  return t->items != NULL && t->items->len > 0 ?
    g_array_index (t->items, CdvizVrlTypeEntry, t->items->len - 1).index + 1 : 0;
}

CdvizVrlType *
cdviz_vrl_type_get (const CdvizVrlType *type,
                    GArray             *path,
                    guint               from)
{
  CdvizVrlSegment *s;
  CdvizVrlType *result = NULL;
  gboolean other_kinds;

  if (path == NULL || from >= path->len)
    return cdviz_vrl_type_ref ((CdvizVrlType *) type);
  if (type == &any_type)
    return &any_type;
  s = &g_array_index (path, CdvizVrlSegment, from);
  if (s->kind == VRL_SEG_FIELD && (type->kinds & CDVIZ_VRL_OBJECT))
    {
      result = cdviz_vrl_type_get (member (type->fields, type->field_unknown, s->field, 0),
                                   path, from + 1);
      if (entries_find (type->fields, s->field, 0) == NULL)
        result = maybe_union (result, &undefined_type);
    }
  else if (s->kind == VRL_SEG_INDEX && (type->kinds & CDVIZ_VRL_ARRAY))
    {
      gint64 index = s->index;

      if (index < 0 && type->item_unknown == NULL)
        index += known_length (type);
      if (index >= 0)
        {
          result = cdviz_vrl_type_get (member (type->items, type->item_unknown, NULL, index),
                                       path, from + 1);
          if (entries_find (type->items, NULL, index) == NULL)
            result = maybe_union (result, &undefined_type);
        }
      else
        {
          g_autoptr(CdvizVrlType) all = cdviz_vrl_type_elements (type);

          result = cdviz_vrl_type_union (all, &undefined_type);
        }
    }
  else if (s->kind == VRL_SEG_COALESCE)
    return &any_type;
  other_kinds = s->kind == VRL_SEG_FIELD ? (type->kinds & ~CDVIZ_VRL_OBJECT) != 0
                                         : (type->kinds & ~CDVIZ_VRL_ARRAY) != 0;
  if (result == NULL || other_kinds)
    result = maybe_union (result, &undefined_type);
  return result;
}

CdvizVrlType *
cdviz_vrl_type_set (const CdvizVrlType *type,
                    GArray             *path,
                    guint               from,
                    const CdvizVrlType *value)
{
  CdvizVrlSegment *s;
  CdvizVrlType *t;

  if ((path == NULL || from >= path->len) && value->constant != NULL)
    return copy_shallow (value, value->kinds);  /* only variables keep constants */
  if (path == NULL || from >= path->len)
    return cdviz_vrl_type_ref ((CdvizVrlType *) value);
  s = &g_array_index (path, CdvizVrlSegment, from);
  if (s->kind == VRL_SEG_COALESCE)
    return &any_type;
  if (s->kind == VRL_SEG_FIELD)
    {
      const CdvizVrlType *old;
      CdvizVrlTypeEntry *e;

      t = type_alloc (CDVIZ_VRL_OBJECT);
      if (type->kinds & CDVIZ_VRL_OBJECT)
        {
          t->field_unknown = type->field_unknown ? cdviz_vrl_type_ref (type->field_unknown) : NULL;
          old = member (type->fields, type->field_unknown, s->field, 0);
        }
      else
        old = &undefined_type;
      t->fields = entries_new ();
      for (guint i = 0; type->kinds & CDVIZ_VRL_OBJECT && type->fields && i < type->fields->len; i++)
        {
          CdvizVrlTypeEntry *src = &g_array_index (type->fields, CdvizVrlTypeEntry, i);

          entries_add (t->fields, src->key, 0, cdviz_vrl_type_ref (src->type));
        }
      e = entries_find (t->fields, s->field, 0);
      if (e != NULL)
        {
          CdvizVrlType *n = cdviz_vrl_type_set (old, path, from + 1, value);

          cdviz_vrl_type_unref (e->type);
          e->type = n;
        }
      else
        entries_add (t->fields, s->field, 0, cdviz_vrl_type_set (old, path, from + 1, value));
      g_array_sort (t->fields, entry_cmp);
      return t;
    }

  /* an index */
  {
    gboolean exact = (type->kinds & CDVIZ_VRL_ARRAY) && type->item_unknown == NULL;
    gint64 len = (type->kinds & CDVIZ_VRL_ARRAY) ? known_length (type) : 0;
    gint64 index = s->index, shift = 0;
    const CdvizVrlType *old;

    if (!(type->kinds & CDVIZ_VRL_ARRAY))
      exact = TRUE;
    if (index < 0 && !exact)
      return cdviz_vrl_type_new (CDVIZ_VRL_ARRAY);
    if (index < 0)
      {
        if (-index > len)
          {
            shift = -index - len;
            len = -index;
          }
        index += len;
      }
    t = type_alloc (CDVIZ_VRL_ARRAY);
    t->items = entries_new ();
    if (!exact)
      t->item_unknown = cdviz_vrl_type_ref (type->item_unknown);
    for (guint i = 0; (type->kinds & CDVIZ_VRL_ARRAY) && type->items && i < type->items->len; i++)
      {
        CdvizVrlTypeEntry *src = &g_array_index (type->items, CdvizVrlTypeEntry, i);

        if (src->index + shift != index)
          entries_add (t->items, NULL, src->index + shift, cdviz_vrl_type_ref (src->type));
      }
    if (exact)
      for (gint64 i = 0; i < MAX (index, len); i++)
        if (i != index && entries_find (t->items, NULL, i) == NULL)
          entries_add (t->items, NULL, i, type_alloc (CDVIZ_VRL_NULL));
    old = (shift == 0 && (type->kinds & CDVIZ_VRL_ARRAY)) ?
      member (type->items, type->item_unknown, NULL, index) : &undefined_type;
    entries_add (t->items, NULL, index, cdviz_vrl_type_set (old, path, from + 1, value));
    g_array_sort (t->items, entry_cmp);
    return t;
  }
}

static void
replace_unknown (CdvizVrlType **where,
                 CdvizVrlType  *type)
{
  cdviz_vrl_type_unref (*where);
  *where = type;
}

CdvizVrlType *
cdviz_vrl_type_remove (const CdvizVrlType *type,
                       GArray             *path,
                       guint               from)
{
  CdvizVrlSegment *s;
  CdvizVrlType *t;

  if (path == NULL || from >= path->len)
    return type_alloc (CDVIZ_VRL_NULL);
  s = &g_array_index (path, CdvizVrlSegment, from);
  if (s->kind == VRL_SEG_INDEX && (type->kinds & CDVIZ_VRL_ARRAY))
    {
      /* the indices after it move: nothing is known of them any more */
      t = copy_shallow (type, type->kinds);
      g_clear_pointer (&t->items, g_array_unref);
      replace_unknown (&t->item_unknown, &any_type);
      return t;
    }
  if (s->kind != VRL_SEG_FIELD || !(type->kinds & CDVIZ_VRL_OBJECT) || type->fields == NULL)
    return cdviz_vrl_type_ref ((CdvizVrlType *) type);
  t = copy_shallow (type, type->kinds);
  g_clear_pointer (&t->fields, g_array_unref);
  t->fields = entries_new ();
  for (guint i = 0; i < type->fields->len; i++)
    {
      CdvizVrlTypeEntry *src = &g_array_index (type->fields, CdvizVrlTypeEntry, i);

      if (g_strcmp0 (src->key, s->field) != 0)
        entries_add (t->fields, src->key, 0, cdviz_vrl_type_ref (src->type));
      else if (from + 1 < path->len)
        entries_add (t->fields, src->key, 0, cdviz_vrl_type_remove (src->type, path, from + 1));
    }
  return t;
}

CdvizVrlType *
cdviz_vrl_type_elements (const CdvizVrlType *type)
{
  CdvizVrlType *u = NULL;

  if (type == &any_type)
    return &any_type;
  if (type->kinds & CDVIZ_VRL_OBJECT)
    {
      for (guint i = 0; type->fields && i < type->fields->len; i++)
        u = maybe_union (u, g_array_index (type->fields, CdvizVrlTypeEntry, i).type);
      u = maybe_union (u, type->field_unknown);
    }
  if (type->kinds & CDVIZ_VRL_ARRAY)
    {
      for (guint i = 0; type->items && i < type->items->len; i++)
        u = maybe_union (u, g_array_index (type->items, CdvizVrlTypeEntry, i).type);
      u = maybe_union (u, type->item_unknown);
    }
  return u != NULL ? u : &any_type;
}

/* --- type_def() ------------------------------------------------------------ */

static void insert_kind (CdvizVrlValue *tree, const CdvizVrlType *type);

static void
insert_true (CdvizVrlValue *tree,
             const char    *key,
             gboolean       yes)
{
  if (yes)
    cdviz_vrl_object_insert (tree, key, cdviz_vrl_boolean (TRUE));
}

static void
insert_collection (CdvizVrlValue      *tree,
                   const char         *name,
                   GArray             *known,
                   const CdvizVrlType *unknown)
{
  CdvizVrlValue *sub = cdviz_vrl_object_new ();

  for (guint i = 0; known != NULL && i < known->len; i++)
    {
      CdvizVrlTypeEntry *e = &g_array_index (known, CdvizVrlTypeEntry, i);
      CdvizVrlValue *field = cdviz_vrl_object_new ();
      g_autofree char *index = e->key ? NULL : g_strdup_printf ("%" G_GINT64_FORMAT, e->index);

      insert_kind (field, e->type);
      cdviz_vrl_object_insert (sub, e->key ? e->key : index, field);
    }
  cdviz_vrl_object_insert (tree, name, sub);
  if (unknown != NULL && unknown->kinds != CDVIZ_VRL_UNDEFINED)
    {
      CdvizVrlValue *u = cdviz_vrl_object_new ();
      g_autofree char *key = g_strdup_printf ("%s_unknown_%s", name,
                                              unknown == &any_type ? "infinite" : "exact");

      insert_kind (u, unknown);
      cdviz_vrl_object_insert (tree, key, u);
    }
}

static void
insert_kind (CdvizVrlValue      *tree,
             const CdvizVrlType *t)
{
  if (t->kinds == 0)
    {
      insert_true (tree, "never", TRUE);
      return;
    }
  if (t == &any_type || (t->kinds & ALL) == ALL)
    {
      insert_true (tree, "any", TRUE);
      return;
    }
  insert_true (tree, "bytes", t->kinds & CDVIZ_VRL_BYTES);
  insert_true (tree, "integer", t->kinds & CDVIZ_VRL_INTEGER);
  insert_true (tree, "float", t->kinds & CDVIZ_VRL_FLOAT);
  insert_true (tree, "boolean", t->kinds & CDVIZ_VRL_BOOLEAN);
  insert_true (tree, "timestamp", t->kinds & CDVIZ_VRL_TIMESTAMP);
  insert_true (tree, "regex", t->kinds & CDVIZ_VRL_REGEX);
  insert_true (tree, "null", t->kinds & CDVIZ_VRL_NULL);
  insert_true (tree, "undefined", t->kinds & CDVIZ_VRL_UNDEFINED);
  if (t->kinds & CDVIZ_VRL_OBJECT)
    insert_collection (tree, "object", t->fields, t->field_unknown);
  if (t->kinds & CDVIZ_VRL_ARRAY)
    insert_collection (tree, "array", t->items, t->item_unknown);
}

CdvizVrlValue *
cdviz_vrl_type_to_value (const CdvizVrlType *type,
                         gboolean            fallible)
{
  CdvizVrlValue *tree = cdviz_vrl_object_new ();

  insert_kind (tree, type);
  insert_true (tree, "fallible", fallible);
  return tree;
}

CdvizVrlType *
cdviz_vrl_type_merge_objects (const CdvizVrlType *to,
                              const CdvizVrlType *from)
{
  CdvizVrlType *t;

  if (!(to->kinds & CDVIZ_VRL_OBJECT) || !(from->kinds & CDVIZ_VRL_OBJECT))
    return cdviz_vrl_type_new (CDVIZ_VRL_OBJECT);
  t = cdviz_vrl_type_narrow (to, CDVIZ_VRL_OBJECT);
  for (guint i = 0; from->fields != NULL && i < from->fields->len; i++)
    {
      CdvizVrlTypeEntry *e = &g_array_index (from->fields, CdvizVrlTypeEntry, i);
      CdvizVrlSegment s = { VRL_SEG_FIELD, e->key, 0, NULL };
      g_autoptr(GArray) path = g_array_new (FALSE, FALSE, sizeof (CdvizVrlSegment));
      CdvizVrlType *n;

      g_array_append_val (path, s);
      n = cdviz_vrl_type_set (t, path, 0, e->type);
      cdviz_vrl_type_unref (t);
      t = n;
    }
  if (from->field_unknown != NULL)
    {
      CdvizVrlType *u = maybe_union (t->field_unknown ? cdviz_vrl_type_ref (t->field_unknown) : NULL,
                                     from->field_unknown);

      g_clear_pointer (&t->field_unknown, cdviz_vrl_type_unref);
      t->field_unknown = u;
    }
  return t;
}
