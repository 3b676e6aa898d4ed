/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cdviz-vrl-runtime.h"

/* Paths on values (get, set with copy on write, remove with compaction)
 * and the error helpers of function implementations: what the interpreter
 * and the standard library share without the interpreter's state. Split
 * from cdviz-vrl-runtime.c. */

CdvizVrlValue *
cdviz_vrl_fail (GError     **error,
                const char  *format,
                ...)
{
  va_list args;

  va_start (args, format);
  if (error != NULL && *error == NULL)
    *error = g_error_new_valist (CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME, format, args);
  va_end (args);
  return NULL;
}

CdvizVrlValue *
cdviz_vrl_fail_kind (GError              **error,
                     guint                 expected,
                     const CdvizVrlValue  *got)
{
  g_autofree char *want = cdviz_vrl_kinds_describe (expected);

  return cdviz_vrl_fail (error, "expected %s, got %s", want, cdviz_vrl_kind_name (got->kind));
}

/* --- paths ----------------------------------------------------------------- */

CdvizVrlValue *
cdviz_vrl_path_get (CdvizVrlValue *root,
                    GArray        *path)
{
  CdvizVrlValue *v = root;

  for (guint i = 0; v != NULL && i < path->len; i++)
    {
      CdvizVrlSegment *s = &g_array_index (path, CdvizVrlSegment, i);

      switch (s->kind)
        {
        case VRL_SEG_FIELD:
          v = v->kind == CDVIZ_VRL_OBJECT ? cdviz_vrl_object_get (v, s->field) : NULL;
          break;
        case VRL_SEG_COALESCE:
          {
            CdvizVrlValue *found = NULL;

            if (v->kind == CDVIZ_VRL_OBJECT)
              for (guint j = 0; s->fields[j] != NULL && found == NULL; j++)
                {
                  found = cdviz_vrl_object_get (v, s->fields[j]);
                  if (found != NULL && found->kind == CDVIZ_VRL_NULL)
                    found = NULL;
                }
            v = found;
          }
          break;
        case VRL_SEG_INDEX:
          if (v->kind != CDVIZ_VRL_ARRAY)
            v = NULL;
          else
            {
              gint64 index = s->index < 0 ? (gint64) v->array->len + s->index : s->index;

              v = index >= 0 && index < (gint64) v->array->len ? g_ptr_array_index (v->array, index)
                                                             : NULL;
            }
          break;
        }
    }
  return v;
}

static const char *
segment_field (CdvizVrlValue   *object,
               CdvizVrlSegment *s)
{
  if (s->kind == VRL_SEG_FIELD)
    return s->field;
  /* (a|b): the first that exists, else the last */
  for (guint j = 0; s->fields[j] != NULL; j++)
    if (object->kind == CDVIZ_VRL_OBJECT && cdviz_vrl_object_get (object, s->fields[j]) != NULL)
      return s->fields[j];
  return s->fields[g_strv_length (s->fields) - 1];
}

void
cdviz_vrl_path_set (CdvizVrlValue **root,
                    GArray         *path,
                    guint           from,
                    CdvizVrlValue  *value)
{
  CdvizVrlSegment *s;

  if (from >= path->len)
    {
      cdviz_vrl_value_unref (*root);
      *root = value;
      return;
    }
  s = &g_array_index (path, CdvizVrlSegment, from);
  if (s->kind == VRL_SEG_INDEX)
    {
      gint64 index;
      CdvizVrlValue *child;

      if ((*root)->kind != CDVIZ_VRL_ARRAY)
        {
          cdviz_vrl_value_unref (*root);
          *root = cdviz_vrl_array_new ();
        }
      cdviz_vrl_value_unshare (root);
      index = s->index;
      if (index < 0)
        {
          index += (*root)->array->len;
          while (index < 0)
            {
              g_ptr_array_insert ((*root)->array, 0, cdviz_vrl_null ());
              index++;
            }
        }
      while ((gint64) (*root)->array->len <= index)
        g_ptr_array_add ((*root)->array, cdviz_vrl_null ());
      child = (*root)->array->pdata[index];
      (*root)->array->pdata[index] = cdviz_vrl_null ();
      cdviz_vrl_path_set (&child, path, from + 1, value);
      cdviz_vrl_value_unref ((*root)->array->pdata[index]);
      (*root)->array->pdata[index] = child;
    }
  else
    {
      const char *field;
      CdvizVrlValue *child;

      if ((*root)->kind != CDVIZ_VRL_OBJECT)
        {
          cdviz_vrl_value_unref (*root);
          *root = cdviz_vrl_object_new ();
        }
      cdviz_vrl_value_unshare (root);
      field = segment_field (*root, s);
      child = cdviz_vrl_object_get (*root, field);
      if (child != NULL)
        {
          cdviz_vrl_value_ref (child);
          /* drop the object's reference so that the child is not shared */
          cdviz_vrl_object_insert (*root, field, cdviz_vrl_null ());
        }
      else
        child = cdviz_vrl_null ();
      cdviz_vrl_path_set (&child, path, from + 1, value);
      cdviz_vrl_object_insert (*root, field, child);
    }
}

static gboolean
is_empty_container (CdvizVrlValue *v)
{
  return (v->kind == CDVIZ_VRL_OBJECT && v->object->len == 0) ||
         (v->kind == CDVIZ_VRL_ARRAY && v->array->len == 0);
}

CdvizVrlValue *
cdviz_vrl_path_remove (CdvizVrlValue **root,
                       GArray         *path,
                       guint           from,
                       gboolean        compact)
{
  CdvizVrlSegment *s = &g_array_index (path, CdvizVrlSegment, from);
  gboolean last = from + 1 == path->len;
  CdvizVrlValue *removed = NULL;

  if (s->kind == VRL_SEG_INDEX)
    {
      gint64 index;

      if ((*root)->kind != CDVIZ_VRL_ARRAY)
        return NULL;
      index = s->index < 0 ? (gint64) (*root)->array->len + s->index : s->index;
      if (index < 0 || index >= (gint64) (*root)->array->len)
        return NULL;
      cdviz_vrl_value_unshare (root);
      if (last)
        removed = g_ptr_array_steal_index ((*root)->array, index);
      else
        {
          CdvizVrlValue **child = (CdvizVrlValue **) &(*root)->array->pdata[index];

          removed = cdviz_vrl_path_remove (child, path, from + 1, compact);
          if (compact && removed != NULL && is_empty_container (*child))
            g_ptr_array_remove_index ((*root)->array, index);
        }
    }
  else
    {
      const char *field;
      CdvizVrlValue *child;

      if ((*root)->kind != CDVIZ_VRL_OBJECT)
        return NULL;
      field = segment_field (*root, s);
      child = cdviz_vrl_object_get (*root, field);
      if (child == NULL)
        return NULL;
      cdviz_vrl_value_unshare (root);
      if (last)
        {
          removed = cdviz_vrl_value_ref (child);
          cdviz_vrl_object_remove (*root, field);
        }
      else
        {
          cdviz_vrl_value_ref (child);
          cdviz_vrl_object_insert (*root, field, cdviz_vrl_null ());
          removed = cdviz_vrl_path_remove (&child, path, from + 1, compact);
          if (compact && removed != NULL && is_empty_container (child))
            {
              cdviz_vrl_object_remove (*root, field);
              cdviz_vrl_value_unref (child);
            }
          else
            cdviz_vrl_object_insert (*root, field, child);
        }
    }
  return removed;
}
