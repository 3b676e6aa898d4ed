/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-vrl-ast.h"

G_BEGIN_DECLS

/* Shared by the lexer (cdviz-vrl-lexer.c: tokens, errors, string templates,
 * the program's node store) and the grammar (cdviz-vrl-parser.c). */

#define MAX_DEPTH 200

typedef enum {
  T_EOF, T_NEWLINE, T_SEMI, T_IDENT, T_FUNCALL, T_FIELD, T_STRING, T_RAWSTRING,
  T_INT, T_FLOAT, T_REGEX, T_TIMESTAMP, T_IF, T_ELSE, T_NULL, T_TRUE, T_FALSE,
  T_ABORT, T_RETURN, T_RESERVED, T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET,
  T_LBRACE, T_RBRACE, T_COMMA, T_COLON, T_DOT, T_PERCENT, T_UNDERSCORE, T_BANG,
  T_ARROW, T_ASSIGN, T_MERGE_ASSIGN, T_OP, T_PIPE, T_INVALID,
} TokenKind;

typedef struct {
  TokenKind kind;
  guint start, end;
  gboolean space_before;
  int op;                       /* T_OP */
  gint64 integer;
  double number;
  char *text;                   /* identifiers, fields, processed literals */
} Token;

typedef struct {
  const char *src;
  gsize len;
  guint pos;
  Token cur;
  TokenKind prev;
  int depth;
  CdvizVrlProgram *program;
  GError *error;
  guint error_offset;
} Parser;

G_GNUC_PRINTF (3, 4)
void          vrl_parse_fail        (Parser *p, guint offset, const char *format, ...);
void          vrl_parse_unexpected  (Parser *p, const char *expected);
void          vrl_lex_advance       (Parser *p);
gboolean      vrl_lex_accept        (Parser *p, TokenKind kind);
void          vrl_lex_skip_newlines (Parser *p);
gboolean      vrl_lex_expect        (Parser *p, TokenKind kind, const char *what);
void          vrl_node_free         (gpointer data);
void          vrl_segment_clear     (gpointer data);

/* "text {{ expr }} text" → a literal or a VRL_N_TEMPLATE node. */
CdvizVrlNode *vrl_parse_template    (Parser *p, const char *text, guint start, guint end);
/* The grammar's operator level below `??`, for template expressions. */
CdvizVrlNode *vrl_parse_arith       (Parser *p);

G_END_DECLS
