/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-vrl-runtime.h"

G_BEGIN_DECLS

/* Shared by the checker (cdviz-vrl-compiler.c) and its function-call part
 * (cdviz-vrl-compiler-call.c). */

typedef struct {
  CdvizVrlProgram *program;
  CdvizVrlCompileFlags flags;
  GPtrArray *scopes;            /* GHashTable name → GINT_TO_POINTER (slot + 1) */
  GPtrArray *slot_types;        /* CdvizVrlType per slot */
  CdvizVrlType *event_type;     /* `.` */
  CdvizVrlType *meta_type;      /* `%` */
  GError *error;
  guint error_offset;
  GPtrArray *read_only;         /* CdvizVrlProgram: one query each */
  GArray *read_only_recursive;  /* gboolean per read_only */
} Compiler;

/* What is known of the variables, `.` and `%` at one point: saved before a
 * branch and merged after it, as upstream merges type states. */
typedef struct {
  GPtrArray *slots;
  CdvizVrlType *event, *meta;
} TypeState;

G_GNUC_PRINTF (4, 5)
void           vrl_diagnose        (Compiler *c, guint offset, gboolean fallibility,
                                    const char *format, ...);
void           vrl_check           (Compiler *c, CdvizVrlNode *node);
void           vrl_check_block     (Compiler *c, CdvizVrlNode *node, gboolean root);
void           vrl_check_query     (Compiler *c, CdvizVrlNode *node);
void           vrl_check_call      (Compiler *c, CdvizVrlNode *node);
int            vrl_lookup_variable (Compiler *c, const char *name);
int            vrl_new_slot        (Compiler *c, const char *name);
void           vrl_push_scope      (Compiler *c);
void           vrl_pop_scope       (Compiler *c);
TypeState     *vrl_state_save      (Compiler *c);
void           vrl_state_free      (TypeState *s);
void           vrl_state_apply     (Compiler *c, TypeState *s, gboolean merge);
void           vrl_replace_type    (CdvizVrlType **where, CdvizVrlType *type);
CdvizVrlType **vrl_root_type       (Compiler *c, CdvizVrlNode *query);
/* FALSE (and an error) when the query @target may not be assigned (E315, E642). */
gboolean       vrl_check_mutable   (Compiler *c, CdvizVrlNode *target, CdvizVrlType *root);

G_END_DECLS
