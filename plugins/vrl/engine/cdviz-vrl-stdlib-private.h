/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <math.h>
#include <string.h>

#include "cdviz-vrl-runtime.h"

/* Shorthands for the function tables (cdviz-vrl-stdlib-*.c). */

#define S CDVIZ_VRL_BYTES
#define I CDVIZ_VRL_INTEGER
#define F CDVIZ_VRL_FLOAT
#define B CDVIZ_VRL_BOOLEAN
#define N CDVIZ_VRL_NULL
#define T CDVIZ_VRL_TIMESTAMP
#define R CDVIZ_VRL_REGEX
#define A CDVIZ_VRL_ARRAY
#define O CDVIZ_VRL_OBJECT
#define ANY CDVIZ_VRL_ANY
#define FALLIBLE CDVIZ_VRL_FN_FALLIBLE
#define CONST_OK CDVIZ_VRL_FN_CONST_OK

#define FN(fname, fimpl, fflags, fret, ...) \
  { .name = fname, .impl = fimpl, .flags = fflags, .returns = fret, .params = { __VA_ARGS__ } }
#define REQ(pname, pkinds) { pname, pkinds, TRUE }
#define OPT(pname, pkinds) { pname, pkinds, FALSE }

#define IMPL(fname) \
  static CdvizVrlValue *fname (CdvizVrlCall *call, CdvizVrlValue **args, GError **error)

#define STR(i) (args[i]->bytes.data)
#define LEN(i) (args[i]->bytes.len)
#define BOOL_ARG(i, dflt) (args[i] ? args[i]->boolean : (dflt))
#define INT_ARG(i, dflt) (args[i] ? args[i]->integer : (dflt))

static inline CdvizVrlValue *
vrl_str (const char *text)
{
  return cdviz_vrl_bytes (text, -1);
}

static inline double
vrl_number (const CdvizVrlValue *v)
{
  return v->kind == CDVIZ_VRL_INTEGER ? (double) v->integer : v->number;
}
