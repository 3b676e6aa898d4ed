/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-config.h"
#include "cdviz-json-fields-private.h"

static GType
value_type (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
}

static gboolean
report (const CdvizFields  *fields,
        CdvizFieldError    *field_error,
        GError            **error)
{
  fields->report (fields->user_data, field_error, error);
  return FALSE;
}

gboolean
_cdviz_fields_check_keys (const CdvizFields  *fields,
                          const char * const *allowed,
                          GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (fields->table);

  for (GList *l = members; l != NULL; l = l->next)
    {
      CdvizFieldError field_error = { CDVIZ_FIELD_UNKNOWN, l->data, NULL, G_TYPE_INVALID, allowed };

      if (g_strv_contains (allowed, l->data))
        continue;
      field_error.got = json_object_get_member (fields->table, l->data);
      return report (fields, &field_error, error);
    }
  return TRUE;
}

gboolean
_cdviz_fields_get_member (const CdvizFields  *fields,
                          const char         *key,
                          gboolean            required,
                          JsonNode          **out,
                          GError            **error)
{
  CdvizFieldError field_error = { CDVIZ_FIELD_MISSING, key, NULL, G_TYPE_INVALID, NULL };

  *out = json_object_get_member (fields->table, key);
  if (*out == NULL && required)
    return report (fields, &field_error, error);
  return TRUE;
}

/* The member @key if it is present and of @type, else NULL with *@ok saying
 * whether that is fine (absent and not @required). */
static JsonNode *
get_typed (const CdvizFields  *fields,
           const char         *key,
           GType               type,
           gboolean            required,
           gboolean           *ok,
           GError            **error)
{
  CdvizFieldError field_error = { CDVIZ_FIELD_WRONG_TYPE, key, NULL, type, NULL };
  JsonNode *node;

  *ok = _cdviz_fields_get_member (fields, key, required, &node, error);
  if (node == NULL || value_type (node) == type)
    return node;
  field_error.got = node;
  *ok = report (fields, &field_error, error);
  return NULL;
}

gboolean
_cdviz_fields_get_string (const CdvizFields  *fields,
                          const char         *key,
                          gboolean            required,
                          const char         *default_value,
                          const char        **out,
                          GError            **error)
{
  gboolean ok;
  JsonNode *node = get_typed (fields, key, G_TYPE_STRING, required, &ok, error);

  if (ok)
    *out = node != NULL ? json_node_get_string (node) : default_value;
  return ok;
}

gboolean
_cdviz_fields_get_bool (const CdvizFields  *fields,
                        const char         *key,
                        gboolean            default_value,
                        gboolean           *out,
                        GError            **error)
{
  gboolean ok;
  JsonNode *node = get_typed (fields, key, G_TYPE_BOOLEAN, FALSE, &ok, error);

  if (ok)
    *out = node != NULL ? json_node_get_boolean (node) : default_value;
  return ok;
}

gboolean
_cdviz_fields_get_int (const CdvizFields  *fields,
                       const char         *key,
                       gint64              default_value,
                       gint64             *out,
                       GError            **error)
{
  gboolean ok;
  JsonNode *node = get_typed (fields, key, G_TYPE_INT64, FALSE, &ok, error);

  if (ok)
    *out = node != NULL ? json_node_get_int (node) : default_value;
  return ok;
}

gboolean
_cdviz_json_node_get_duration (JsonNode *node,
                               guint64  *out_ms)
{
  GType type = value_type (node);

  if (type == G_TYPE_INT64 && json_node_get_int (node) >= 0 &&
      (guint64) json_node_get_int (node) <= G_MAXUINT64 / 1000)
    {
      *out_ms = (guint64) json_node_get_int (node) * 1000;
      return TRUE;
    }
  return type == G_TYPE_STRING && cdviz_parse_duration (json_node_get_string (node), out_ms);
}
