/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* VRL's values: refcounted, shared freely, copied on write
 * (cdviz_vrl_value_unshare()). Objects keep their keys sorted (byte order),
 * as VRL's BTreeMap does, so that printing and iteration match upstream.
 * Strings are "bytes": any octets, usually UTF-8. Timestamps are UTC with
 * nanoseconds. A value is immutable while its reference count is above one. */

typedef enum {
  CDVIZ_VRL_NULL = 1 << 0,
  CDVIZ_VRL_BOOLEAN = 1 << 1,
  CDVIZ_VRL_INTEGER = 1 << 2,
  CDVIZ_VRL_FLOAT = 1 << 3,
  CDVIZ_VRL_BYTES = 1 << 4,
  CDVIZ_VRL_TIMESTAMP = 1 << 5,
  CDVIZ_VRL_REGEX = 1 << 6,
  CDVIZ_VRL_ARRAY = 1 << 7,
  CDVIZ_VRL_OBJECT = 1 << 8,
} CdvizVrlKind;

#define CDVIZ_VRL_ANY 0x1ff
#define CDVIZ_VRL_SCALAR (CDVIZ_VRL_ANY & ~(CDVIZ_VRL_ARRAY | CDVIZ_VRL_OBJECT))

typedef struct _CdvizVrlValue CdvizVrlValue;

typedef struct {
  char *key;
  CdvizVrlValue *value;
} CdvizVrlEntry;

struct _CdvizVrlValue
{
  gint ref_count;
  CdvizVrlKind kind;
  union {
    gboolean boolean;
    gint64 integer;
    double number;
    struct {
      char *data;
      gsize len;
    } bytes;
    struct {
      gint64 seconds;
      gint32 nanos;
    } ts;
    struct {
      GRegex *regex;
      char *pattern;
    } re;
    GPtrArray *array;     /* CdvizVrlValue * */
    GArray *object;       /* CdvizVrlEntry, sorted by key */
  };
};

CdvizVrlValue *cdviz_vrl_value_ref        (CdvizVrlValue *value);
void           cdviz_vrl_value_unref      (CdvizVrlValue *value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizVrlValue, cdviz_vrl_value_unref)

CdvizVrlValue *cdviz_vrl_null             (void);
CdvizVrlValue *cdviz_vrl_boolean          (gboolean value);
CdvizVrlValue *cdviz_vrl_integer          (gint64 value);
CdvizVrlValue *cdviz_vrl_float            (double value);
CdvizVrlValue *cdviz_vrl_bytes            (const char *data, gssize len);
CdvizVrlValue *cdviz_vrl_bytes_take       (char *data, gsize len);
CdvizVrlValue *cdviz_vrl_string_take      (char *text);
CdvizVrlValue *cdviz_vrl_timestamp        (gint64 seconds, gint32 nanos);
CdvizVrlValue *cdviz_vrl_timestamp_from_datetime (GDateTime *dt);
GDateTime     *cdviz_vrl_timestamp_to_datetime (const CdvizVrlValue *value);
CdvizVrlValue *cdviz_vrl_regex            (const char *pattern, GError **error);
CdvizVrlValue *cdviz_vrl_regex_flags      (const char *pattern, GRegexCompileFlags flags, GError **error);
CdvizVrlValue *cdviz_vrl_array_new        (void);
CdvizVrlValue *cdviz_vrl_object_new       (void);

/* Array and object building (the container must be unshared). */
void           cdviz_vrl_array_append     (CdvizVrlValue *array, CdvizVrlValue *item);   /* takes item */
void           cdviz_vrl_object_insert    (CdvizVrlValue *object, const char *key, CdvizVrlValue *value); /* takes value */
CdvizVrlValue *cdviz_vrl_object_get       (const CdvizVrlValue *object, const char *key);  /* borrowed */
gboolean       cdviz_vrl_object_remove    (CdvizVrlValue *object, const char *key);
guint          cdviz_vrl_object_size      (const CdvizVrlValue *object);
#define cdviz_vrl_object_entry(v, i) (&g_array_index ((v)->object, CdvizVrlEntry, (i)))

/* Copy-on-write: makes *value exclusively owned (shallow copy if shared). */
void           cdviz_vrl_value_unshare    (CdvizVrlValue **value);
CdvizVrlValue *cdviz_vrl_value_shallow_copy (const CdvizVrlValue *value);

gboolean       cdviz_vrl_value_equal      (const CdvizVrlValue *a, const CdvizVrlValue *b);
gboolean       cdviz_vrl_value_is_truthy  (const CdvizVrlValue *value);
const char    *cdviz_vrl_kind_name        (guint kind);
char          *cdviz_vrl_kinds_describe   (guint kinds);

/* Text forms. */
char          *cdviz_vrl_value_to_json    (const CdvizVrlValue *value, gboolean pretty);
void           cdviz_vrl_value_append_json (GString *out, const CdvizVrlValue *value, int indent);
char          *cdviz_vrl_value_to_vrl     (const CdvizVrlValue *value);   /* VRL literal text */
char          *cdviz_vrl_format_float     (double number);
char          *cdviz_vrl_timestamp_to_rfc3339 (const CdvizVrlValue *value, gboolean auto_secs);
gboolean       cdviz_vrl_parse_rfc3339    (const char *text, gint64 *seconds, gint32 *nanos);

/* JSON edges. */
CdvizVrlValue *cdviz_vrl_value_from_json  (JsonNode *node);
JsonNode      *cdviz_vrl_value_to_json_node (const CdvizVrlValue *value);

G_END_DECLS
