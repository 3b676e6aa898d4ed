/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include "cdviz-cdevent.h"
#include "cdviz-cdevent-private.h"
#include "cdviz-json-private.h"
#include "cdviz-message.h"
#include "cdviz-message-private.h"

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

/* The canonical JSON (see _cdviz_json_append()) of an event, with
 * `context.id` left out. */
static GString *
canonical_without_id (JsonNode *body)
{
  GString *out = g_string_new (NULL);
  JsonObject *object = json_node_get_object (body);
  JsonNode *context = json_object_get_member (object, "context");
  g_autoptr(JsonObject) shallow = NULL;
  g_autoptr(JsonObject) context_copy = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) members = NULL;

  if (context == NULL || !JSON_NODE_HOLDS_OBJECT (context) ||
      !json_object_has_member (json_node_get_object (context), "id"))
    {
      _cdviz_json_append (out, body, TRUE, NULL);
      return out;
    }

  /* A shallow copy sharing every value but the context's id. */
  context_copy = json_object_new ();
  members = json_object_get_members (json_node_get_object (context));
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "id"))
      json_object_set_member (context_copy, l->data,
                              json_node_ref (json_object_get_member (json_node_get_object (context), l->data)));
  g_clear_pointer (&members, g_list_free);

  shallow = json_object_new ();
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      if (g_str_equal (l->data, "context"))
        json_object_set_object_member (shallow, "context", json_object_ref (context_copy));
      else
        json_object_set_member (shallow, l->data, json_node_ref (json_object_get_member (object, l->data)));
    }

  root = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (root, shallow);
  _cdviz_json_append (out, root, TRUE, NULL);
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

static gboolean
member_is_missing (JsonObject *object,
                   const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  return member == NULL || JSON_NODE_HOLDS_NULL (member);
}

/* As upstream's set_timestamp_if_missing() and set_source_if_missing():
 * an empty string is missing too (send.base.toml's VRL writes
 * `"source": ""` when no CI names one). */
static gboolean
member_is_missing_or_empty (JsonObject *object,
                            const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  return member_is_missing (object, name) ||
         (JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING &&
          *json_node_get_string (member) == '\0');
}

static char *
now_rfc3339 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

/* Checks that body is a CDEvent whose context.id can travel in an SSE
 * frame; *compute_id tells whether the id is to be computed. */
static gboolean
check_event (JsonNode  *body,
             gboolean  *compute_id,
             GError   **error)
{
  JsonObject *object, *context;
  JsonNode *context_node, *type_node, *id_node;

  *compute_id = FALSE;

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: the document is not a JSON object"));
      return FALSE;
    }

  object = json_node_get_object (body);
  context_node = json_object_get_member (object, "context");
  if (context_node == NULL || !JSON_NODE_HOLDS_OBJECT (context_node))
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: no “context” object"));
      return FALSE;
    }

  context = json_node_get_object (context_node);
  type_node = json_object_get_member (context, "type");
  if (type_node == NULL || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: no string “context.type”"));
      return FALSE;
    }

  id_node = json_object_get_member (context, "id");
  if (id_node == NULL || JSON_NODE_HOLDS_NULL (id_node))
    *compute_id = TRUE;
  else if (json_node_get_value_type (id_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                           _("not a CDEvent: “context.id” is not a string"));
      return FALSE;
    }
  else
    {
      const char *id = json_node_get_string (id_node);

      if (strpbrk (id, "\r\n") != NULL)
        {
          g_set_error_literal (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                               _("invalid “context.id”: it contains a CR, LF or NUL character"));
          return FALSE;
        }
      *compute_id = id[0] == '\0' || g_str_equal (id, "0");
    }

  return TRUE;
}

/* Whether fill_in() would change nothing. */
static gboolean
is_complete (JsonNode   *body,
             const char *default_source,
             gboolean    compute_id)
{
  JsonObject *context = json_object_get_object_member (json_node_get_object (body), "context");

  return !compute_id && !member_is_missing (context, "timestamp") &&
         (default_source == NULL || !member_is_missing (context, "source"));
}

/* Fills in what is missing, in place: body must not be shared. */
static void
fill_in (JsonNode   *body,
         const char *default_source,
         gboolean    compute_id)
{
  JsonObject *context = json_object_get_object_member (json_node_get_object (body), "context");

  if (member_is_missing_or_empty (context, "timestamp"))
    {
      g_autofree char *timestamp = now_rfc3339 ();
      json_object_set_string_member (context, "timestamp", timestamp);
    }
  if (default_source != NULL && member_is_missing_or_empty (context, "source"))
    json_object_set_string_member (context, "source", default_source);
  if (compute_id)
    {
      g_autofree char *id = cdviz_cdevent_compute_id (body);
      json_object_set_string_member (context, "id", id);
    }
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
 * - a missing (null or empty) `context.timestamp` becomes the current time, RFC 3339
 *   in UTC with milliseconds (`2026-11-27T22:05:00.123Z`);
 * - a missing (null or empty) `context.source` becomes @default_source, when
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
  gboolean compute_id;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_event (body, &compute_id, error))
    return NULL;
  copy = _cdviz_json_deep_copy (body);
  fill_in (copy, default_source, compute_id);
  return g_steal_pointer (&copy);
}

/**
 * cdviz_cdevent_parse:
 * @data: the received text
 * @length: its length in bytes, or -1 if it is NUL-terminated
 * @default_source: (nullable): see [func@cdevent_normalize]
 * @error: return location for a #GError
 *
 * Parses untrusted text into a normalised CDEvent. The text must hold exactly
 * one JSON value, valid per RFC 8259 (no comments, no single-quoted strings,
 * valid UTF-8), with arrays and objects nested at most 128 levels deep, and
 * without NUL bytes or `\u0000` escapes (json-glib would cut the string
 * there); then [func@cdevent_normalize] applies.
 *
 * Errors are %CDVIZ_CDEVENT_ERROR_INVALID, with a message that starts with
 * `invalid JSON:` or `not a CDEvent:` (or names the bad `context.id`).
 *
 * Returns: (transfer full) (nullable): the normalised event, sealed, or %NULL
 */
JsonNode *
cdviz_cdevent_parse (const char  *data,
                     gssize       length,
                     const char  *default_source,
                     GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  gboolean compute_id;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  root = _cdviz_json_parse_single_full (data ? data : "",
                                        length < 0 ? strlen (data) : (gsize) length,
                                        FALSE, &local_error);
  if (root == NULL)
    {
      g_set_error (error, CDVIZ_CDEVENT_ERROR, CDVIZ_CDEVENT_ERROR_INVALID,
                   _("invalid JSON: %s"), local_error->message);
      return NULL;
    }
  /* The tree is ours alone: normalised in place, not copied. */
  if (!check_event (root, &compute_id, error))
    return NULL;
  fill_in (root, default_source, compute_id);
  json_node_seal (root);
  return g_steal_pointer (&root);
}

/* The metadata's `context.source`, when it is a non-empty string. */
static const char *
metadata_source (CdvizMessage *message)
{
  JsonObject *metadata = json_node_get_object (cdviz_message_get_metadata (message));
  JsonNode *context = json_object_get_member (metadata, "context");
  JsonNode *source;

  if (context == NULL || !JSON_NODE_HOLDS_OBJECT (context))
    return NULL;
  source = json_object_get_member (json_node_get_object (context), "source");
  if (source == NULL || json_node_get_value_type (source) != G_TYPE_STRING ||
      json_node_get_string (source)[0] == '\0')
    return NULL;
  return json_node_get_string (source);
}

/*
 * _cdviz_cdevent_normalize_messages:
 * @messages: (element-type CdvizMessage): the outputs of a source's
 *   transformers, replaced in place by their normalised copies
 * @origin: the message the source received; the `context.source` of its
 *   metadata is the default one of outputs whose metadata has none
 * @default_source: (nullable): the default of the last resort, the source's
 *   (see cdviz_http_server_dup_default_source())
 *
 * What the pipeline does to the outputs of a raw message (see
 * cdviz_message_new_raw()), as cdviz-collector turns a source's output into
 * a CDEvent: each body must be a CDEvent, and gets the missing fields
 * filled in (see cdviz_cdevent_normalize()), its default source being the
 * `context.source` the source put in the metadata.
 *
 * Returns: %FALSE, with @error set, at the first output that is not a
 *   CDEvent
 */
gboolean
_cdviz_cdevent_normalize_messages (GPtrArray     *messages,
                                   CdvizMessage  *origin,
                                   const char    *default_source,
                                   GError       **error)
{
  const char *fallback_source = metadata_source (origin);

  if (fallback_source == NULL)
    fallback_source = default_source;

  for (guint i = 0; i < messages->len; i++)
    {
      CdvizMessage *message = g_ptr_array_index (messages, i);
      const char *source = metadata_source (message);
      g_autoptr(JsonNode) body = NULL;
      JsonNode *received = cdviz_message_get_body (message);
      const char *filler = source ? source : fallback_source;
      gboolean compute_id;

      if (!check_event (received, &compute_id, error))
        return FALSE;
      if (is_complete (received, filler, compute_id))
        {
          /* The usual case: nothing to fill, the sealed tree is shared as
           * it is (no copy per event). */
          body = json_node_ref (received);
        }
      else
        {
          body = _cdviz_json_deep_copy (received);
          fill_in (body, filler, compute_id);
          json_node_seal (body);    /* shared by the new message, not copied */
        }
      g_ptr_array_index (messages, i) = cdviz_message_new (body,
                                                           cdviz_message_get_metadata (message),
                                                           cdviz_message_get_headers (message));
      /* The same tree: the same bytes, if the source kept its text. */
      _cdviz_message_share_body_bytes (g_ptr_array_index (messages, i), message);
      g_object_unref (message);
    }
  return TRUE;
}
