/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-vrl-type.h"

G_BEGIN_DECLS

/* The syntax tree of a VRL program, shared by the parser
 * (cdviz-vrl-lexer.c, cdviz-vrl-parser.c), the checker (cdviz-vrl-compiler.c) and the
 * interpreter (cdviz-vrl-runtime.c). Nodes live as long as their program. */

#define CDVIZ_VRL_ERROR (cdviz_vrl_error_quark ())
GQuark cdviz_vrl_error_quark (void);

typedef enum {
  CDVIZ_VRL_ERROR_SYNTAX,       /* the program does not parse */
  CDVIZ_VRL_ERROR_COMPILE,      /* it parses but is refused (types, names, fallibility) */
  CDVIZ_VRL_ERROR_RUNTIME,      /* an expression failed on this event */
  CDVIZ_VRL_ERROR_ABORT,        /* `abort` */
  CDVIZ_VRL_ERROR_BUDGET,       /* the step budget ran out */
} CdvizVrlError;

typedef enum {
  VRL_N_LITERAL, VRL_N_TEMPLATE, VRL_N_ARRAY, VRL_N_OBJECT, VRL_N_BLOCK, VRL_N_GROUP,
  VRL_N_VARIABLE, VRL_N_QUERY, VRL_N_CALL, VRL_N_NOT, VRL_N_OP, VRL_N_IF, VRL_N_ASSIGN,
  VRL_N_ABORT, VRL_N_RETURN, VRL_N_NOOP,
} CdvizVrlNodeKind;

typedef enum {
  VRL_OP_MUL, VRL_OP_DIV, VRL_OP_ADD, VRL_OP_SUB, VRL_OP_MERGE,
  VRL_OP_LT, VRL_OP_LE, VRL_OP_GT, VRL_OP_GE, VRL_OP_EQ, VRL_OP_NE,
  VRL_OP_AND, VRL_OP_OR, VRL_OP_COALESCE,
} CdvizVrlOp;

typedef enum {
  VRL_TARGET_EVENT, VRL_TARGET_METADATA, VRL_TARGET_VARIABLE, VRL_TARGET_EXPR,
} CdvizVrlTarget;

typedef enum { VRL_SEG_FIELD, VRL_SEG_INDEX, VRL_SEG_COALESCE } CdvizVrlSegmentKind;

typedef struct {
  CdvizVrlSegmentKind kind;
  char *field;          /* VRL_SEG_FIELD */
  gint64 index;         /* VRL_SEG_INDEX */
  char **fields;        /* VRL_SEG_COALESCE: (a | b) */
} CdvizVrlSegment;

typedef struct _CdvizVrlNode CdvizVrlNode;
typedef struct _CdvizVrlFunction CdvizVrlFunction;

struct _CdvizVrlNode
{
  CdvizVrlNodeKind kind;
  guint start, end;             /* byte offsets in the source */
  int op;                       /* CdvizVrlOp; for VRL_N_ASSIGN: 0 `=`, 1 `|=` */
  char *name;                   /* variable or function */
  int slot;                     /* variable slot */
  CdvizVrlValue *value;         /* literal */
  GPtrArray *children;          /* items, expressions, arguments, template parts */
  char **keys;                  /* object keys, beside children */
  char **arg_names;             /* call: argument names as written (NULL = positional) */
  CdvizVrlTarget target;        /* query */
  CdvizVrlNode *expr;           /* query base, predicate, right-hand side, operand… */
  CdvizVrlNode *lhs, *rhs;      /* op operands; assign ok/err targets; if then/else */
  GArray *path;                 /* CdvizVrlSegment */
  gboolean abort_on_error;      /* call `f!(…)` */
  const CdvizVrlFunction *function;
  CdvizVrlNode **args;          /* call: arguments by parameter index */
  CdvizVrlNode *closure;        /* call: closure body (a block) */
  char **closure_names;
  int *closure_slots;
  guint n_closure;
  guint type;                   /* kinds the expression may produce */
  struct _CdvizVrlType *tdef;   /* what the compiler knows of its values */
  gboolean fallible;            /* it may raise an error */
  gpointer data;                /* function-specific compiled data */
  GDestroyNotify data_free;
};

typedef struct {
  char *source;
  CdvizVrlNode *root;           /* a block */
  GPtrArray *nodes;             /* every node, for freeing */
  GPtrArray *slot_names;        /* variable slots */
  GPtrArray *warnings;          /* char *, fallibility problems in lenient mode */
} CdvizVrlProgram;

/* Where an error points: offsets → line:column (1-based, columns in characters). */
void cdviz_vrl_offset_to_position (const char *source, guint offset, guint *line, guint *column);

CdvizVrlProgram *cdviz_vrl_parse (const char *source, GError **error);
void             cdviz_vrl_program_free (CdvizVrlProgram *program);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizVrlProgram, cdviz_vrl_program_free)
CdvizVrlNode    *cdviz_vrl_node_new (CdvizVrlProgram *program, CdvizVrlNodeKind kind, guint start, guint end);

G_END_DECLS
