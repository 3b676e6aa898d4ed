/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-vrl-ast.h"

G_BEGIN_DECLS

/* The compiler (cdviz-vrl-compiler.c), the interpreter
 * (cdviz-vrl-runtime.c; paths in cdviz-vrl-path.c) and the function table
 * (cdviz-vrl-stdlib*.c). */

typedef struct _CdvizVrlRuntime CdvizVrlRuntime;

typedef struct {
  CdvizVrlRuntime *runtime;
  CdvizVrlNode *node;           /* the call */
} CdvizVrlCall;

/* @args: one per parameter, NULL for an absent optional one. Returns a new
 * value, or NULL with @error set (a plain message: the interpreter adds
 * `function call error for "NAME" at (S:E): `). */
typedef CdvizVrlValue *(*CdvizVrlImpl) (CdvizVrlCall   *call,
                                        CdvizVrlValue **args,
                                        GError        **error);

typedef struct {
  const char *name;
  guint kinds;                  /* accepted kinds */
  gboolean required;
} CdvizVrlParam;

enum {
  CDVIZ_VRL_FN_FALLIBLE = 1 << 0,       /* can fail whatever its arguments */
  CDVIZ_VRL_FN_QUERY_ARG = 1 << 1,      /* first argument is a path, not a value (del, exists) */
  CDVIZ_VRL_FN_CLOSURE = 1 << 2,        /* takes `-> |…| { … }` */
  CDVIZ_VRL_FN_IMPURE = 1 << 3,
  CDVIZ_VRL_FN_RETURNS_ARG0 = 1 << 4,   /* returns the kind of its first argument */
  CDVIZ_VRL_FN_FALLIBLE_WITH_ARG1 = 1 << 6, /* fallible only when its second argument is given */
  CDVIZ_VRL_FN_CONST_OK = 1 << 5,       /* FALLIBLE only on values it has not seen: with
                                         * literal arguments upstream's compile-time
                                         * check proves the call cannot fail */
};

/* Checks a call when compiling (literal arguments, …): FALSE with @error
 * refuses the program (upstream's E610). */
typedef gboolean (*CdvizVrlCompileCheck) (CdvizVrlNode *call, GError **error);

struct _CdvizVrlFunction
{
  const char *name;
  CdvizVrlImpl impl;
  CdvizVrlCompileCheck compile;
  guint flags;
  guint returns;                /* kinds it may return */
  guint closure_min, closure_max;       /* closure parameter count */
  guint infallible_if;          /* fallible unless the first argument's kinds are within these */
  CdvizVrlParam params[10];
};

const CdvizVrlFunction *cdviz_vrl_function_lookup (const char *name);
/* All functions, NULL-terminated, sorted by name. */
const CdvizVrlFunction *const *cdviz_vrl_function_list (void);

/* Families, each in its own file; each returns its NULL-terminated table. */
const CdvizVrlFunction *cdviz_vrl_stdlib_string (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_collection (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_type (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_time (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_codec (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_cdviz (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_net (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_parse (void);
const CdvizVrlFunction *cdviz_vrl_stdlib_libs (void);

/* --- compiling ------------------------------------------------------------ */

typedef enum {
  CDVIZ_VRL_COMPILE_STRICT = 1 << 0,    /* fallibility problems are errors, as upstream */
} CdvizVrlCompileFlags;

/* Parses and checks @source. Errors and warnings read
 * "LINE:COLUMN: error[E…]: reason". */
CdvizVrlProgram *cdviz_vrl_compile (const char           *source,
                                    CdvizVrlCompileFlags  flags,
                                    GError              **error);

/* A path the program may not change (upstream's read-only paths, E315):
 * ".a.b" or "%meta". @recursive: nor anything under it. */
typedef struct {
  const char *path;
  gboolean recursive;
} CdvizVrlReadOnlyPath;

/* cdviz_vrl_compile() with @n_read_only read-only paths. */
CdvizVrlProgram *cdviz_vrl_compile_full (const char                 *source,
                                         CdvizVrlCompileFlags        flags,
                                         const CdvizVrlReadOnlyPath *read_only,
                                         guint                       n_read_only,
                                         GError                    **error);

/* --- running -------------------------------------------------------------- */

/* Runs @program on *@target (the event, `.`) and *@metadata (`%`), both
 * replaced when the program assigns them. Returns the value of the last
 * expression (or of `return`). @max_steps bounds the work (0: no bound). */
CdvizVrlValue *cdviz_vrl_run (CdvizVrlProgram  *program,
                              CdvizVrlValue   **target,
                              CdvizVrlValue   **metadata,
                              guint64           max_steps,
                              GError          **error);

/* For functions: runs the call's closure with @n parameters. */
CdvizVrlValue *cdviz_vrl_call_closure (CdvizVrlCall   *call,
                                       CdvizVrlValue **params,
                                       guint           n,
                                       GError        **error);
/* For del/exists: the query argument. */
CdvizVrlValue *cdviz_vrl_call_query_get (CdvizVrlCall *call, GError **error);
CdvizVrlValue *cdviz_vrl_call_query_delete (CdvizVrlCall *call, gboolean compact, GError **error);
/* Bumps the step counter (closures over big arrays); FALSE when exhausted. */
gboolean       cdviz_vrl_call_step (CdvizVrlCall *call, guint64 steps, GError **error);

/* Path helpers on values. */
CdvizVrlValue *cdviz_vrl_path_get (CdvizVrlValue *root, GArray *path);  /* borrowed or NULL */
void           cdviz_vrl_path_set (CdvizVrlValue **root, GArray *path, guint from, CdvizVrlValue *value);
CdvizVrlValue *cdviz_vrl_path_remove (CdvizVrlValue **root, GArray *path, guint from, gboolean compact);

/* Helper for implementations. */
G_GNUC_PRINTF (2, 3)
CdvizVrlValue *cdviz_vrl_fail (GError **error, const char *format, ...);
CdvizVrlValue *cdviz_vrl_fail_kind (GError **error, guint expected, const CdvizVrlValue *got);

G_END_DECLS
