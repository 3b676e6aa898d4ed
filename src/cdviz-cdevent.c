/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdviz-cdevent.h"

/**
 * cdviz_cdevent_error_quark:
 *
 * The error domain of [error@CdeventError], also available as
 * %CDVIZ_CDEVENT_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-cdevent-error-quark, cdviz_cdevent_error)

/* Multicodec / multihash / CID constants (see the multiformats tables). */
#define CID_VERSION_1    0x01
#define CODEC_RAW        0x55
#define MULTIHASH_SHA256 0x12
#define SHA256_LENGTH    32

/* --- Canonical (key-sorted, compact) JSON --------------------------------
 *
 * The bytes hashed into a content id must be reproducible by any other
 * implementation, so they do not come from json_generator (whose number
 * formatting differs from everyone else's, e.g. `1e+20.0`). The output
 * matches Python's
 * `json.dumps (obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
 * and serde_json's `to_string` of a `Value` (keys in a `BTreeMap`) for
 * every document made of objects, arrays, strings, integers, booleans and
 * null; floating-point numbers are written in Python's `repr()` style. */

static void canonical_append_node (GString *out, JsonNode *node);

static void
canonical_append_string (GString    *out,
                         const char *str)
{
  g_string_append_c (out, '"');
  for (const char *p = str; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* Python's float repr(): the shortest digits that round-trip, positional
 * notation for decimal exponents in [-4, 16), scientific otherwise, always
 * a `.0` or an exponent so that the value reads back as a float. */
static void
canonical_append_double (GString *out,
                         double   value)
{
  char buf[64];
  char digits[32];
  int exponent, n_digits, precision;
  char *e;

  if (isnan (value) || isinf (value))
    {
      /* Not JSON; json-glib does not produce these. */
      g_string_append (out, "null");
      return;
    }

  for (precision = 0; precision < 17; precision++)
    {
      g_snprintf (buf, sizeof buf, "%.*e", precision, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_snprintf (buf, sizeof buf, "%.*e", precision, value);

  /* buf is "[-]D[.DDD]e[+-]XX" */
  e = strchr (buf, 'e');
  exponent = atoi (e + 1);
  *e = '\0';
  n_digits = 0;
  for (const char *p = buf; *p != '\0'; p++)
    if (g_ascii_isdigit (*p))
      digits[n_digits++] = *p;
  digits[n_digits] = '\0';
  /* Strip trailing zeros of the mantissa (keep one digit). */
  while (n_digits > 1 && digits[n_digits - 1] == '0')
    digits[--n_digits] = '\0';

  if (value < 0 || (value == 0 && signbit (value)))
    g_string_append_c (out, '-');

  if (exponent >= -4 && exponent < 16)
    {
      if (exponent < 0)
        {
          g_string_append (out, "0.");
          for (int i = 0; i < -exponent - 1; i++)
            g_string_append_c (out, '0');
          g_string_append (out, digits);
        }
      else if (n_digits <= exponent + 1)
        {
          g_string_append (out, digits);
          for (int i = n_digits; i < exponent + 1; i++)
            g_string_append_c (out, '0');
          g_string_append (out, ".0");
        }
      else
        {
          g_string_append_len (out, digits, exponent + 1);
          g_string_append_c (out, '.');
          g_string_append (out, digits + exponent + 1);
        }
    }
  else
    {
      g_string_append_c (out, digits[0]);
      if (n_digits > 1)
        {
          g_string_append_c (out, '.');
          g_string_append (out, digits + 1);
        }
      g_string_append_printf (out, "e%c%02d", exponent < 0 ? '-' : '+', ABS (exponent));
    }
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  /* Byte order of UTF-8 is code point order, which Python and serde use. */
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
canonical_append_object (GString    *out,
                         JsonObject *object,
                         const char *skip_member)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean first = TRUE;

  for (GList *l = members; l != NULL; l = l->next)
    g_ptr_array_add (keys, l->data);
  g_ptr_array_sort (keys, compare_keys);

  g_string_append_c (out, '{');
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = keys->pdata[i];

      if (skip_member != NULL && g_str_equal (key, skip_member))
        continue;
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      canonical_append_string (out, key);
      g_string_append_c (out, ':');
      canonical_append_node (out, json_object_get_member (object, key));
    }
  g_string_append_c (out, '}');
}

static void
canonical_append_node (GString  *out,
                       JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      canonical_append_object (out, json_node_get_object (node), NULL);
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint length = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < length; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            canonical_append_node (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          canonical_append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          canonical_append_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
        }
      break;

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

/* The canonical JSON of an object, `context.id` left out. */
static GString *
canonical_without_id (JsonNode *body)
{
  GString *out = g_string_new (NULL);
  JsonObject *object;
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  g_autoptr(GList) members = NULL;
  gboolean first = TRUE;

  object = json_node_get_object (body);
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    g_ptr_array_add (keys, l->data);
  g_ptr_array_sort (keys, compare_keys);

  g_string_append_c (out, '{');
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = keys->pdata[i];
      JsonNode *member = json_object_get_member (object, key);

      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      canonical_append_string (out, key);
      g_string_append_c (out, ':');
      if (g_str_equal (key, "context") && JSON_NODE_HOLDS_OBJECT (member))
        canonical_append_object (out, json_node_get_object (member), "id");
      else
        canonical_append_node (out, member);
    }
  g_string_append_c (out, '}');
  return out;
}

/* RFC 4648 base32, lower case, no padding. */
static void
append_base32_lower (GString      *out,
                     const guint8 *data,
                     gsize         length)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  guint32 buffer = 0;
  int bits = 0;

  for (gsize i = 0; i < length; i++)
    {
      buffer = (buffer << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (out, alphabet[(buffer >> (bits - 5)) & 0x1f]);
          bits -= 5;
        }
    }
  if (bits > 0)
    g_string_append_c (out, alphabet[(buffer << (5 - bits)) & 0x1f]);
}

/**
 * cdviz_cdevent_compute_id:
 * @body: a CDEvent (a JSON object)
 *
 * Computes the content id of @body, as cdviz-collector does for events
 * whose `context.id` is missing or `"0"`.
 *
 * The id is a [CIDv1](https://github.com/multiformats/cid): version 1, codec
 * `raw` (0x55), a sha2-256 multihash (0x12 0x20 and the digest) of the
 * body's compact, key-sorted JSON serialisation *without* `context.id`,
 * written as a base32 (lower case, unpadded) multibase string with the
 * prefix `b`; it therefore always starts with `bafkrei`. Leaving the id out
 * gives the same id whether it was missing, empty or `"0"`.
 *
 * The serialisation is the one of Python's
 * `json.dumps (body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`:
 * keys sorted by code point, no spaces, non-ASCII characters as UTF-8,
 * only `"`, `\` and control characters escaped.
 *
 * Returns: (transfer full) (nullable): the id, e.g.
 *   `bafkreicuuogf3pc3lkdewdnngcnxgfrnontlfvtiihmxvcxqqxphxson3m`, or %NULL
 *   when @body is not a JSON object
 */
char *
cdviz_cdevent_compute_id (JsonNode *body)
{
  g_autoptr(GString) canonical = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  guint8 cid[4 + SHA256_LENGTH];
  gsize digest_length = SHA256_LENGTH;
  GString *out;

  g_return_val_if_fail (body != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (body))
    return NULL;

  canonical = canonical_without_id (body);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) canonical->str, canonical->len);

  cid[0] = CID_VERSION_1;
  cid[1] = CODEC_RAW;
  cid[2] = MULTIHASH_SHA256;
  cid[3] = SHA256_LENGTH;
  g_checksum_get_digest (checksum, cid + 4, &digest_length);
  g_assert (digest_length == SHA256_LENGTH);

  out = g_string_new ("b");
  append_base32_lower (out, cid, sizeof cid);
  return g_string_free (out, FALSE);
}

/* json_node_copy() shares objects and arrays; normalising must not touch
 * the caller's (possibly sealed) tree. */
static JsonNode *
deep_copy (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *src = json_node_get_object (node);
        JsonObject *dst = json_object_new ();
        JsonNode *copy = json_node_new (JSON_NODE_OBJECT);
        /* In the publisher's order: the bytes sinks send keep it. */
        g_autoptr(GList) members = json_object_get_members (src);

        for (GList *l = members; l != NULL; l = l->next)
          json_object_set_member (dst, l->data,
                                  deep_copy (json_object_get_member (src, l->data)));
        json_node_take_object (copy, dst);
        return copy;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *src = json_node_get_array (node);
        guint length = json_array_get_length (src);
        JsonArray *dst = json_array_sized_new (length);
        JsonNode *copy = json_node_new (JSON_NODE_ARRAY);

        for (guint i = 0; i < length; i++)
          json_array_add_element (dst, deep_copy (json_array_get_element (src, i)));
        json_node_take_array (copy, dst);
        return copy;
      }
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

static gboolean
member_is_missing (JsonObject *object,
                   const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  return member == NULL || JSON_NODE_HOLDS_NULL (member);
}

static char *
now_rfc3339 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

/**
 * cdviz_cdevent_normalize:
 * @body: the received document
 * @default_source: (nullable): the value of a missing `context.source`,
 *   usually an URI naming the pipeline's source
 * @error: return location for a #GError
 *
 * Checks that @body looks like a CDEvent and fills what a publisher may
 * leave out, as cdviz-collector does:
 *
 * - a missing (or null) `context.timestamp` becomes the current time, RFC 3339
 *   in UTC with milliseconds (`2026-11-27T22:05:00.123Z`);
 * - a missing (or null) `context.source` becomes @default_source, when
 *   given;
 * - a missing, null, empty or `"0"` `context.id` becomes
 *   [func@cdevent_compute_id] of the event, computed *after* the timestamp
 *   and source were filled (cdviz-collector also sets the timestamp first),
 *   so the id covers the event as it travels on.
 *
 * @body itself is never modified.
 *
 * The document is refused with %CDVIZ_CDEVENT_ERROR_INVALID when it is not
 * an object, has no `context` object, no string `context.type`, or a
 * `context.id` that is not a string or contains CR, LF or NUL (it could not
 * travel in an SSE `id:` line). json-glib turns an escaped NUL (`\u0000`)
 * into the end of the string, so callers holding the raw text should refuse
 * such escapes before parsing.
 *
 * Returns: (transfer full) (nullable): a new, normalised copy of @body, or
 *   %NULL with @error set
 */
JsonNode *
cdviz_cdevent_normalize (JsonNode    *body,
                         const char  *default_source,
                         GError     **error)
{
  g_autoptr(JsonNode) copy = NULL;
  JsonObject *object, *context;
  JsonNode *context_node, *type_node, *id_node;
  gboolean compute_id = FALSE;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: the document is not a JSON object"));
      return NULL;
    }

  object = json_node_get_object (body);
  context_node = json_object_get_member (object, "context");
  if (context_node == NULL || !JSON_NODE_HOLDS_OBJECT (context_node))
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: no “context” object"));
      return NULL;
    }

  context = json_node_get_object (context_node);
  type_node = json_object_get_member (context, "type");
  if (type_node == NULL || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: no string “context.type”"));
      return NULL;
    }

  id_node = json_object_get_member (context, "id");
  if (id_node == NULL || JSON_NODE_HOLDS_NULL (id_node))
    compute_id = TRUE;
  else if (json_node_get_value_type (id_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: “context.id” is not a string"));
      return NULL;
    }
  else
    {
      const char *id = json_node_get_string (id_node);

      if (strpbrk (id, "\r\n") != NULL)
        {
          g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                               _("invalid “context.id”: it contains a CR, LF or NUL character"));
          return NULL;
        }
      compute_id = id[0] == '\0' || g_str_equal (id, "0");
    }

  copy = deep_copy (body);
  context = json_object_get_object_member (json_node_get_object (copy), "context");

  if (member_is_missing (context, "timestamp"))
    {
      g_autofree char *timestamp = now_rfc3339 ();
      json_object_set_string_member (context, "timestamp", timestamp);
    }
  if (default_source != NULL && member_is_missing (context, "source"))
    json_object_set_string_member (context, "source", default_source);
  if (compute_id)
    {
      g_autofree char *id = cdviz_cdevent_compute_id (copy);
      json_object_set_string_member (context, "id", id);
    }

  return g_steal_pointer (&copy);
}
