/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-jq-json.h"
#include "cdviz-jq-transformer.h"

/* 2^53: from here on not every integer is a double. */
#define EXACT_LIMIT 9007199254740992.0
/* 2^63: the first double beyond gint64. */
#define INT64_LIMIT 9223372036854775808.0

/* Stored in CdvizJqNumbers.exact when two different integers of the input
 * round to the same double: the output cannot tell them apart. */
static gint64 ambiguous_mark;

static guint
double_bits_hash (gconstpointer key)
{
  return g_int64_hash (key);
}

static gboolean
double_bits_equal (gconstpointer a,
                   gconstpointer b)
{
  return g_int64_equal (a, b);
}

static gint64
double_bits (double d)
{
  gint64 bits;

  memcpy (&bits, &d, sizeof bits);
  return bits;
}

void
cdviz_jq_numbers_clear (CdvizJqNumbers *numbers)
{
  g_clear_pointer (&numbers->exact, g_hash_table_unref);
}

static void
numbers_remember (CdvizJqNumbers *numbers,
                  gint64          value,
                  double          rounded)
{
  gint64 bits = double_bits (rounded);
  gint64 *known;

  if (numbers->exact == NULL)
    numbers->exact = g_hash_table_new_full (double_bits_hash, double_bits_equal, g_free,
                                            NULL);

  known = g_hash_table_lookup (numbers->exact, &bits);
  if (known == NULL)
    {
      gint64 *key = g_new (gint64, 2);

      /* key[0]: the double's bits, key[1]: the exact value; one allocation */
      key[0] = bits;
      key[1] = value;
      g_hash_table_insert (numbers->exact, key, &key[1]);
    }
  else if (known != &ambiguous_mark && *known != value)
    {
      g_hash_table_replace (numbers->exact, g_memdup2 (&bits, sizeof bits), &ambiguous_mark);
    }
}

static gboolean
numbers_lookup (CdvizJqNumbers *numbers,
                double          d,
                gint64         *out)
{
  gint64 bits = double_bits (d);
  gint64 *known;

  if (numbers == NULL || numbers->exact == NULL)
    return FALSE;
  known = g_hash_table_lookup (numbers->exact, &bits);
  if (known == NULL || known == &ambiguous_mark)
    return FALSE;
  *out = *known;
  return TRUE;
}

/* --- JSON-GLib → jv ------------------------------------------------------ */

static jv
too_deep (void)
{
  return jv_invalid_with_msg (jv_string_fmt (_("the event is nested deeper than %d levels"),
                                             CDVIZ_JQ_MAX_DEPTH));
}

static jv
jv_from_value (JsonNode       *node,
               CdvizJqNumbers *numbers)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      {
        gint64 value = json_node_get_int (node);
        double rounded = (double) value;

        if (numbers != NULL && fabs (rounded) >= EXACT_LIMIT)
          numbers_remember (numbers, value, rounded);
        return jv_number (rounded);
      }
    case G_TYPE_DOUBLE:
      return jv_number (json_node_get_double (node));
    case G_TYPE_BOOLEAN:
      return jv_bool (json_node_get_boolean (node));
    case G_TYPE_STRING:
      {
        const char *s = json_node_get_string (node);
        gsize length = s ? strlen (s) : 0;

        if (length > G_MAXINT)
          return jv_invalid_with_msg (jv_string (_("a string of the event is too long for jq")));
        return jv_string_sized (s ? s : "", (int) length);
      }
    default:
      return jv_null ();
    }
}

static jv
jv_from_node (JsonNode       *node,
              CdvizJqNumbers *numbers,
              guint           depth)
{
  if (node == NULL)
    return jv_null ();

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      return jv_null ();

    case JSON_NODE_VALUE:
      return jv_from_value (node, numbers);

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint length = json_array_get_length (array);
        jv out;

        if (depth >= CDVIZ_JQ_MAX_DEPTH)
          return too_deep ();
        out = jv_array_sized ((int) MIN (length, G_MAXINT));
        for (guint i = 0; i < length; i++)
          {
            jv item = jv_from_node (json_array_get_element (array, i), numbers, depth + 1);

            if (!jv_is_valid (item))
              {
                jv_free (out);
                return item;
              }
            out = jv_array_append (out, item);
          }
        return out;
      }

    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        jv out;

        if (depth >= CDVIZ_JQ_MAX_DEPTH)
          return too_deep ();
        out = jv_object ();
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            jv value = jv_from_node (member, numbers, depth + 1);

            if (!jv_is_valid (value))
              {
                jv_free (out);
                return value;
              }
            out = jv_object_set (out, jv_string (name), value);
          }
        return out;
      }

    default:
      return jv_null ();
    }
}

/*
 * cdviz_jq_jv_from_json:
 * @node: (nullable): a JSON node; %NULL gives jq's null
 * @numbers: (nullable): where to remember exact big integers
 *
 * Returns: a new jv; invalid with a message when @node is too deep
 */
jv
cdviz_jq_jv_from_json (JsonNode       *node,
                       CdvizJqNumbers *numbers)
{
  return jv_from_node (node, numbers, 0);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/*
 * cdviz_jq_jv_from_headers:
 * @headers: (nullable) (element-type utf8 utf8): header name → value
 *
 * Returns: a new jv object, names in sorted order (stable across runs)
 */
jv
cdviz_jq_jv_from_headers (GHashTable *headers)
{
  g_autofree gpointer *names = NULL;
  guint length = 0;
  jv out = jv_object ();

  if (headers == NULL)
    return out;

  names = g_hash_table_get_keys_as_array (headers, &length);
  qsort (names, length, sizeof (gpointer), compare_names);
  for (guint i = 0; i < length; i++)
    out = jv_object_set (out, jv_string (names[i]),
                         jv_string (g_hash_table_lookup (headers, names[i])));
  return out;
}

/* --- jv → JSON-GLib ------------------------------------------------------ */

static JsonNode *
node_from_number (double          d,
                  CdvizJqNumbers *numbers)
{
  gint64 exact;

  /* What jq itself prints: null for NaN, the largest double for ±infinity. */
  if (isnan (d))
    return json_node_init_null (json_node_alloc ());
  if (isinf (d))
    return json_node_init_double (json_node_alloc (), d > 0 ? G_MAXDOUBLE : -G_MAXDOUBLE);

  if (fabs (d) >= EXACT_LIMIT && numbers_lookup (numbers, d, &exact))
    return json_node_init_int (json_node_alloc (), exact);
  if (d == trunc (d) && d >= -INT64_LIMIT && d < INT64_LIMIT)
    return json_node_init_int (json_node_alloc (), (gint64) d);
  return json_node_init_double (json_node_alloc (), d);
}

static JsonNode *
node_from_jv (jv               value,
              CdvizJqNumbers  *numbers,
              guint            depth,
              GError         **error)
{
  switch (jv_get_kind (value))
    {
    case JV_KIND_NULL:
      return json_node_init_null (json_node_alloc ());
    case JV_KIND_FALSE:
      return json_node_init_boolean (json_node_alloc (), FALSE);
    case JV_KIND_TRUE:
      return json_node_init_boolean (json_node_alloc (), TRUE);
    case JV_KIND_NUMBER:
      return node_from_number (jv_number_value (value), numbers);
    case JV_KIND_STRING:
      /* JSON-GLib strings end at the first NUL, as when it parses "\u0000". */
      return json_node_init_string (json_node_alloc (), jv_string_value (value));

    case JV_KIND_ARRAY:
      {
        int length = jv_array_length (jv_copy (value));
        g_autoptr(JsonArray) array = NULL;
        JsonNode *node;

        if (depth >= CDVIZ_JQ_MAX_DEPTH)
          break;
        array = json_array_sized_new ((guint) length);
        for (int i = 0; i < length; i++)
          {
            jv item = jv_array_get (jv_copy (value), i);
            JsonNode *child = node_from_jv (item, numbers, depth + 1, error);

            jv_free (item);
            if (child == NULL)
              return NULL;
            json_array_add_element (array, child);
          }
        node = json_node_alloc ();
        json_node_init_array (node, array);
        return node;
      }

    case JV_KIND_OBJECT:
      {
        g_autoptr(JsonObject) object = NULL;
        JsonNode *node;

        if (depth >= CDVIZ_JQ_MAX_DEPTH)
          break;
        object = json_object_new ();
        for (int it = jv_object_iter (value); jv_object_iter_valid (value, it);
             it = jv_object_iter_next (value, it))
          {
            jv key = jv_object_iter_key (value, it);
            jv member = jv_object_iter_value (value, it);
            JsonNode *child = node_from_jv (member, numbers, depth + 1, error);

            jv_free (member);
            if (child == NULL)
              {
                jv_free (key);
                return NULL;
              }
            json_object_set_member (object, jv_string_value (key), child);
            jv_free (key);
          }
        node = json_node_alloc ();
        json_node_init_object (node, object);
        return node;
      }

    case JV_KIND_INVALID:
    default:
      g_set_error_literal (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                           _("the jq filter produced an invalid value"));
      return NULL;
    }

  g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
               _("the jq filter produced a value nested deeper than %d levels"),
               CDVIZ_JQ_MAX_DEPTH);
  return NULL;
}

/*
 * cdviz_jq_json_from_jv:
 * @value: (transfer none): a valid jv
 * @numbers: (nullable): the exact integers of the input
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new, unsealed node
 */
JsonNode *
cdviz_jq_json_from_jv (jv               value,
                       CdvizJqNumbers  *numbers,
                       GError         **error)
{
  return node_from_jv (value, numbers, 0, error);
}
