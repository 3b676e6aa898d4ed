/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-vrl-value.h"

G_BEGIN_DECLS

/* What the compiler knows of a value (upstream's `Kind`): the kinds it may
 * have and, for objects and arrays, the kind of each known field or index
 * plus the kind of the others ("unknown"; NULL when there are none). Types
 * are immutable and reference counted; every operation returns a new
 * reference. CDVIZ_VRL_UNDEFINED marks a field that may be absent (it reads
 * as null). */

#define CDVIZ_VRL_UNDEFINED (1 << 9)

typedef struct _CdvizVrlType CdvizVrlType;

typedef struct {
  char *key;                    /* object field, or NULL for an array index */
  gint64 index;
  CdvizVrlType *type;
} CdvizVrlTypeEntry;

struct _CdvizVrlType
{
  gint ref_count;
  guint kinds;
  GArray *fields;               /* CdvizVrlTypeEntry by key; NULL: none known */
  CdvizVrlType *field_unknown;  /* other fields; NULL: there are none */
  GArray *items;                /* CdvizVrlTypeEntry by index */
  CdvizVrlType *item_unknown;
  CdvizVrlValue *constant;      /* a literal's value (upstream knows it too) */
};

CdvizVrlType *cdviz_vrl_type_ref     (CdvizVrlType *type);
void          cdviz_vrl_type_unref   (CdvizVrlType *type);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizVrlType, cdviz_vrl_type_unref)

/* @kinds, objects and arrays with any content. */
CdvizVrlType *cdviz_vrl_type_new     (guint kinds);
CdvizVrlType *cdviz_vrl_type_any     (void);
/* The exact type of a literal value. */
CdvizVrlType *cdviz_vrl_type_of_value (const CdvizVrlValue *value);
/* An object or array literal: @keys NULL for an array. Takes nothing. */
CdvizVrlType *cdviz_vrl_type_collection (char **keys, CdvizVrlType **types, guint n);

/* Undefined upgraded to null: what a container literal or a variable holds. */
CdvizVrlType *cdviz_vrl_type_defined (const CdvizVrlType *type);
/* The kinds a read sees (undefined reads as null). */
guint         cdviz_vrl_type_kinds   (const CdvizVrlType *type);
CdvizVrlType *cdviz_vrl_type_union   (const CdvizVrlType *a, const CdvizVrlType *b);
/* Only the kinds in @kinds, keeping the structure of objects and arrays. */
CdvizVrlType *cdviz_vrl_type_narrow  (const CdvizVrlType *type, guint kinds);
/* Paths: @path is an array of CdvizVrlSegment (cdviz-vrl-ast.h). */
CdvizVrlType *cdviz_vrl_type_get     (const CdvizVrlType *type, GArray *path, guint from);
CdvizVrlType *cdviz_vrl_type_set     (const CdvizVrlType *type, GArray *path, guint from,
                                      const CdvizVrlType *value);
CdvizVrlType *cdviz_vrl_type_remove  (const CdvizVrlType *type, GArray *path, guint from);
/* The union of every field or item: what a closure over the collection sees. */
CdvizVrlType *cdviz_vrl_type_elements (const CdvizVrlType *type);
/* `to | from`: from's fields override to's. */
CdvizVrlType *cdviz_vrl_type_merge_objects (const CdvizVrlType *to, const CdvizVrlType *from);

/* Upstream's `type_def()` debug tree: {"bytes": true, "object": {…}, …}. */
CdvizVrlValue *cdviz_vrl_type_to_value (const CdvizVrlType *type, gboolean fallible);

G_END_DECLS
