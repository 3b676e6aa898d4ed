/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdviz-vrl-value.h"

/* The value type of the VRL interpreter. Values are reference counted and
 * immutable while shared; writers call cdviz_vrl_value_unshare() first
 * (copy on write, one level at a time), so assigning `.a.b = 1` copies only
 * the containers on the way to `b`. */

static CdvizVrlValue *
value_new (CdvizVrlKind kind)
{
  CdvizVrlValue *value = g_slice_new0 (CdvizVrlValue);

  value->ref_count = 1;
  value->kind = kind;
  return value;
}

CdvizVrlValue *
cdviz_vrl_value_ref (CdvizVrlValue *value)
{
  g_atomic_int_inc (&value->ref_count);
  return value;
}

static void
entry_clear (gpointer data)
{
  CdvizVrlEntry *entry = data;

  g_free (entry->key);
  cdviz_vrl_value_unref (entry->value);
}

void
cdviz_vrl_value_unref (CdvizVrlValue *value)
{
  if (value == NULL || !g_atomic_int_dec_and_test (&value->ref_count))
    return;

  switch (value->kind)
    {
    case CDVIZ_VRL_BYTES:
      g_free (value->bytes.data);
      break;
    case CDVIZ_VRL_REGEX:
      g_regex_unref (value->re.regex);
      g_free (value->re.pattern);
      break;
    case CDVIZ_VRL_ARRAY:
      g_ptr_array_unref (value->array);
      break;
    case CDVIZ_VRL_OBJECT:
      g_array_unref (value->object);
      break;
    default:
      break;
    }
  g_slice_free (CdvizVrlValue, value);
}

CdvizVrlValue *
cdviz_vrl_null (void)
{
  static CdvizVrlValue null_value = { G_MAXINT / 2, CDVIZ_VRL_NULL, { 0 } };

  return cdviz_vrl_value_ref (&null_value);
}

CdvizVrlValue *
cdviz_vrl_boolean (gboolean b)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_BOOLEAN);

  value->boolean = !!b;
  return value;
}

CdvizVrlValue *
cdviz_vrl_integer (gint64 i)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_INTEGER);

  value->integer = i;
  return value;
}

CdvizVrlValue *
cdviz_vrl_float (double f)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_FLOAT);

  value->number = f;
  return value;
}

CdvizVrlValue *
cdviz_vrl_bytes (const char *data,
                 gssize      len)
{
  char *copy;

  if (len < 0)
    len = strlen (data);
  /* not g_strndup(): it stops at the first NUL (and pads with zeros), and
   * VRL strings are bytes (gzip, HMACs, ip_pton…) */
  copy = g_malloc (len + 1);
  memcpy (copy, data, len);
  copy[len] = '\0';
  return cdviz_vrl_bytes_take (copy, len);
}

CdvizVrlValue *
cdviz_vrl_bytes_take (char  *data,
                      gsize  len)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_BYTES);

  value->bytes.data = data;
  value->bytes.len = len;
  return value;
}

CdvizVrlValue *
cdviz_vrl_string_take (char *text)
{
  return cdviz_vrl_bytes_take (text, strlen (text));
}

CdvizVrlValue *
cdviz_vrl_timestamp (gint64 seconds,
                     gint32 nanos)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_TIMESTAMP);

  while (nanos < 0)
    {
      nanos += 1000000000;
      seconds--;
    }
  while (nanos >= 1000000000)
    {
      nanos -= 1000000000;
      seconds++;
    }
  value->ts.seconds = seconds;
  value->ts.nanos = nanos;
  return value;
}

CdvizVrlValue *
cdviz_vrl_timestamp_from_datetime (GDateTime *dt)
{
  return cdviz_vrl_timestamp (g_date_time_to_unix (dt),
                              g_date_time_get_microsecond (dt) * 1000);
}

GDateTime *
cdviz_vrl_timestamp_to_datetime (const CdvizVrlValue *value)
{
  g_autoptr(GDateTime) base = g_date_time_new_from_unix_utc (value->ts.seconds);

  if (base == NULL)
    return NULL;
  return g_date_time_add (base, value->ts.nanos / 1000);
}

CdvizVrlValue *
cdviz_vrl_regex_flags (const char          *pattern,
                       GRegexCompileFlags   flags,
                       GError             **error)
{
  GRegex *regex = g_regex_new (pattern, flags | G_REGEX_OPTIMIZE, 0, error);
  CdvizVrlValue *value;

  if (regex == NULL)
    return NULL;
  value = value_new (CDVIZ_VRL_REGEX);
  value->re.regex = regex;
  value->re.pattern = g_strdup (pattern);
  return value;
}

CdvizVrlValue *
cdviz_vrl_regex (const char  *pattern,
                 GError     **error)
{
  return cdviz_vrl_regex_flags (pattern, 0, error);
}

CdvizVrlValue *
cdviz_vrl_array_new (void)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_ARRAY);

  value->array = g_ptr_array_new_with_free_func ((GDestroyNotify) cdviz_vrl_value_unref);
  return value;
}

CdvizVrlValue *
cdviz_vrl_object_new (void)
{
  CdvizVrlValue *value = value_new (CDVIZ_VRL_OBJECT);

  value->object = g_array_new (FALSE, FALSE, sizeof (CdvizVrlEntry));
  g_array_set_clear_func (value->object, entry_clear);
  return value;
}

void
cdviz_vrl_array_append (CdvizVrlValue *array,
                        CdvizVrlValue *item)
{
  g_ptr_array_add (array->array, item);
}

/* Binary search: index of @key, or -(insertion point) - 1. */
static gssize
object_find (const CdvizVrlValue *object,
             const char          *key)
{
  gssize lo = 0, hi = (gssize) object->object->len - 1;

  while (lo <= hi)
    {
      gssize mid = (lo + hi) / 2;
      int c = strcmp (g_array_index (object->object, CdvizVrlEntry, mid).key, key);

      if (c == 0)
        return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid - 1;
    }
  return -lo - 1;
}

void
cdviz_vrl_object_insert (CdvizVrlValue *object,
                         const char    *key,
                         CdvizVrlValue *value)
{
  gssize at = object_find (object, key);

  if (at >= 0)
    {
      CdvizVrlEntry *entry = &g_array_index (object->object, CdvizVrlEntry, at);

      cdviz_vrl_value_unref (entry->value);
      entry->value = value;
    }
  else
    {
      CdvizVrlEntry entry = { g_strdup (key), value };

      g_array_insert_val (object->object, -at - 1, entry);
    }
}

CdvizVrlValue *
cdviz_vrl_object_get (const CdvizVrlValue *object,
                      const char          *key)
{
  gssize at = object_find (object, key);

  return at >= 0 ? g_array_index (object->object, CdvizVrlEntry, at).value : NULL;
}

gboolean
cdviz_vrl_object_remove (CdvizVrlValue *object,
                         const char    *key)
{
  gssize at = object_find (object, key);

  if (at < 0)
    return FALSE;
  g_array_remove_index (object->object, at);
  return TRUE;
}

guint
cdviz_vrl_object_size (const CdvizVrlValue *object)
{
  return object->object->len;
}

CdvizVrlValue *
cdviz_vrl_value_shallow_copy (const CdvizVrlValue *value)
{
  CdvizVrlValue *copy;

  switch (value->kind)
    {
    case CDVIZ_VRL_ARRAY:
      copy = cdviz_vrl_array_new ();
      g_ptr_array_set_size (copy->array, 0);
      for (guint i = 0; i < value->array->len; i++)
        g_ptr_array_add (copy->array, cdviz_vrl_value_ref (g_ptr_array_index (value->array, i)));
      return copy;
    case CDVIZ_VRL_OBJECT:
      copy = cdviz_vrl_object_new ();
      g_array_set_size (copy->object, value->object->len);
      for (guint i = 0; i < value->object->len; i++)
        {
          CdvizVrlEntry *from = cdviz_vrl_object_entry (value, i);
          CdvizVrlEntry *to = cdviz_vrl_object_entry (copy, i);

          to->key = g_strdup (from->key);
          to->value = cdviz_vrl_value_ref (from->value);
        }
      return copy;
    case CDVIZ_VRL_BYTES:
      return cdviz_vrl_bytes (value->bytes.data, value->bytes.len);
    default:
      /* Scalars are never mutated in place. */
      return cdviz_vrl_value_ref ((CdvizVrlValue *) value);
    }
}

void
cdviz_vrl_value_unshare (CdvizVrlValue **value)
{
  if (g_atomic_int_get (&(*value)->ref_count) > 1)
    {
      CdvizVrlValue *copy = cdviz_vrl_value_shallow_copy (*value);

      cdviz_vrl_value_unref (*value);
      *value = copy;
    }
}

gboolean
cdviz_vrl_value_equal (const CdvizVrlValue *a,
                       const CdvizVrlValue *b)
{
  if (a == b)
    return TRUE;
  if (a->kind != b->kind)
    {
      /* Integers and floats compare by value. */
      if (a->kind == CDVIZ_VRL_INTEGER && b->kind == CDVIZ_VRL_FLOAT)
        return (double) a->integer == b->number;
      if (a->kind == CDVIZ_VRL_FLOAT && b->kind == CDVIZ_VRL_INTEGER)
        return a->number == (double) b->integer;
      return FALSE;
    }
  switch (a->kind)
    {
    case CDVIZ_VRL_NULL:
      return TRUE;
    case CDVIZ_VRL_BOOLEAN:
      return a->boolean == b->boolean;
    case CDVIZ_VRL_INTEGER:
      return a->integer == b->integer;
    case CDVIZ_VRL_FLOAT:
      return a->number == b->number;
    case CDVIZ_VRL_BYTES:
      return a->bytes.len == b->bytes.len && memcmp (a->bytes.data, b->bytes.data, a->bytes.len) == 0;
    case CDVIZ_VRL_TIMESTAMP:
      return a->ts.seconds == b->ts.seconds && a->ts.nanos == b->ts.nanos;
    case CDVIZ_VRL_REGEX:
      return g_str_equal (a->re.pattern, b->re.pattern);
    case CDVIZ_VRL_ARRAY:
      if (a->array->len != b->array->len)
        return FALSE;
      for (guint i = 0; i < a->array->len; i++)
        if (!cdviz_vrl_value_equal (g_ptr_array_index (a->array, i), g_ptr_array_index (b->array, i)))
          return FALSE;
      return TRUE;
    case CDVIZ_VRL_OBJECT:
      if (a->object->len != b->object->len)
        return FALSE;
      for (guint i = 0; i < a->object->len; i++)
        {
          CdvizVrlEntry *x = cdviz_vrl_object_entry (a, i), *y = cdviz_vrl_object_entry (b, i);

          if (!g_str_equal (x->key, y->key) || !cdviz_vrl_value_equal (x->value, y->value))
            return FALSE;
        }
      return TRUE;
    }
  return FALSE;
}

gboolean
cdviz_vrl_value_is_truthy (const CdvizVrlValue *value)
{
  return !(value->kind == CDVIZ_VRL_NULL ||
           (value->kind == CDVIZ_VRL_BOOLEAN && !value->boolean));
}

const char *
cdviz_vrl_kind_name (guint kind)
{
  switch (kind)
    {
    case CDVIZ_VRL_NULL: return "null";
    case CDVIZ_VRL_BOOLEAN: return "boolean";
    case CDVIZ_VRL_INTEGER: return "integer";
    case CDVIZ_VRL_FLOAT: return "float";
    case CDVIZ_VRL_BYTES: return "string";
    case CDVIZ_VRL_TIMESTAMP: return "timestamp";
    case CDVIZ_VRL_REGEX: return "regex";
    case CDVIZ_VRL_ARRAY: return "array";
    case CDVIZ_VRL_OBJECT: return "object";
    default: return "any";
    }
}

char *
cdviz_vrl_kinds_describe (guint kinds)
{
  GString *out = g_string_new (NULL);
  static const guint order[] = { CDVIZ_VRL_BYTES, CDVIZ_VRL_INTEGER, CDVIZ_VRL_FLOAT,
                                 CDVIZ_VRL_BOOLEAN, CDVIZ_VRL_OBJECT, CDVIZ_VRL_ARRAY,
                                 CDVIZ_VRL_TIMESTAMP, CDVIZ_VRL_REGEX, CDVIZ_VRL_NULL };

  if ((kinds & CDVIZ_VRL_ANY) == CDVIZ_VRL_ANY)
    return g_strdup ("any");
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (kinds & order[i])
      g_string_append_printf (out, "%s%s", out->len ? " or " : "", cdviz_vrl_kind_name (order[i]));
  return g_string_free (out, FALSE);
}
