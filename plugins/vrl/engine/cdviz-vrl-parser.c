/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-parser-private.h"

/* Recursive-descent parser (the lexer: cdviz-vrl-lexer.c) for VRL, following upstream's grammar
 * (vectordotdev/vrl src/parser/parser.lalrpop): newlines end expressions,
 * `??` binds loosest, then `||`/`&&` (one level), `==`/`!=`, comparisons,
 * `|` (merge), `+`/`-`, `*`/`/`, `!`. Paths are `.a.b[0]`, `%meta`,
 * `var.a`, `f(x).a`, `{…}.a`, with quoted segments and `(a|b)` coalescing.
 * Nesting is bounded (MAX_DEPTH) so that a hostile program cannot overflow
 * the stack. */

/* --- parser ----------------------------------------------------------------- */

static CdvizVrlNode *parse_expr (Parser *p, gboolean allow_assign);
static CdvizVrlNode *parse_block (Parser *p);

static CdvizVrlNode *
new_node (Parser           *p,
          CdvizVrlNodeKind  kind,
          guint             start)
{
  return cdviz_vrl_node_new (p->program, kind, start, p->cur.start);
}

static CdvizVrlNode *
literal (Parser        *p,
         CdvizVrlValue *value,
         guint          start,
         guint          end)
{
  CdvizVrlNode *node = cdviz_vrl_node_new (p->program, VRL_N_LITERAL, start, end);

  node->value = value;
  return node;
}

static gboolean
enter (Parser *p)
{
  if (++p->depth > MAX_DEPTH)
    {
      vrl_parse_fail (p, p->cur.start, _("syntax error: the program nests more than %d levels deep"),
            MAX_DEPTH);
      return FALSE;
    }
  return TRUE;
}

static void
segment_add_field (GArray     *path,
                   const char *field)
{
  CdvizVrlSegment segment = { VRL_SEG_FIELD, g_strdup (field), 0, NULL };

  g_array_append_val (path, segment);
}

/* Path segments right after a query target: `.field`, `."quoted"`,
 * `.(a|b)`, `[index]`. @first_field: the target was `.`/`%` and a field may
 * follow without a dot. */
static GArray *
parse_segments (Parser   *p,
                gboolean  root_dot)
{
  GArray *path = g_array_new (FALSE, TRUE, sizeof (CdvizVrlSegment));

  g_array_set_clear_func (path, vrl_segment_clear);

  for (;;)
    {
      if (root_dot && !p->cur.space_before &&
          (p->cur.kind == T_FIELD || p->cur.kind == T_STRING || p->cur.kind == T_LPAREN))
        ;   /* `.foo` right after the root dot */
      else if (p->cur.kind == T_DOT && !p->cur.space_before)
        {
          vrl_lex_advance (p);
          if (p->cur.space_before ||
              !(p->cur.kind == T_FIELD || p->cur.kind == T_STRING || p->cur.kind == T_LPAREN ||
                p->cur.kind == T_IDENT || p->cur.kind == T_IF || p->cur.kind == T_ELSE ||
                p->cur.kind == T_NULL || p->cur.kind == T_TRUE || p->cur.kind == T_FALSE ||
                p->cur.kind == T_ABORT || p->cur.kind == T_RETURN || p->cur.kind == T_RESERVED))
            {
              vrl_parse_unexpected (p, _("a path field"));
              break;
            }
        }
      else if (p->cur.kind == T_LBRACKET && !p->cur.space_before)
        {
          CdvizVrlSegment segment = { VRL_SEG_INDEX, NULL, 0, NULL };

          vrl_lex_advance (p);
          if (p->cur.kind != T_INT)
            {
              vrl_parse_unexpected (p, _("an integer index"));
              break;
            }
          segment.index = p->cur.integer;
          vrl_lex_advance (p);
          if (!vrl_lex_expect (p, T_RBRACKET, "“]”"))
            break;
          g_array_append_val (path, segment);
          root_dot = FALSE;
          continue;
        }
      else
        break;

      root_dot = FALSE;
      if (p->cur.kind == T_LPAREN)
        {
          GPtrArray *fields = g_ptr_array_new ();
          CdvizVrlSegment segment = { VRL_SEG_COALESCE, NULL, 0, NULL };

          vrl_lex_advance (p);
          for (;;)
            {
              if (p->cur.kind == T_STRING || p->cur.kind == T_FIELD || p->cur.kind == T_IDENT)
                g_ptr_array_add (fields, g_strdup (p->cur.text));
              else
                {
                  vrl_parse_unexpected (p, _("a path field"));
                  break;
                }
              vrl_lex_advance (p);
              if (vrl_lex_accept (p, T_PIPE))
                continue;
              break;
            }
          g_ptr_array_add (fields, NULL);
          segment.fields = (char **) g_ptr_array_free (fields, FALSE);
          g_array_append_val (path, segment);
          if (!vrl_lex_expect (p, T_RPAREN, "“)”"))
            break;
          continue;
        }
      if (p->cur.text != NULL)
        segment_add_field (path, p->cur.text);
      else
        {
          /* keywords used as field names */
          g_autofree char *word = g_strndup (p->src + p->cur.start, p->cur.end - p->cur.start);

          segment_add_field (path, word);
        }
      vrl_lex_advance (p);
    }
  return path;
}

static CdvizVrlNode *
make_query (Parser         *p,
            CdvizVrlTarget  target,
            CdvizVrlNode   *base,
            guint           start,
            gboolean        root_dot)
{
  CdvizVrlNode *node = new_node (p, VRL_N_QUERY, start);

  node->target = target;
  node->expr = base;
  if (base != NULL && base->kind == VRL_N_VARIABLE)
    {
      node->target = VRL_TARGET_VARIABLE;
      node->name = g_strdup (base->name);
      node->expr = NULL;
    }
  node->path = parse_segments (p, root_dot);
  node->end = p->cur.start;
  while (node->end > start && g_ascii_isspace (p->src[node->end - 1]))
    node->end--;
  return node;
}

static gboolean
continues_query (Parser *p)
{
  return !p->cur.space_before && (p->cur.kind == T_DOT || p->cur.kind == T_LBRACKET);
}

static CdvizVrlNode *
parse_call (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_CALL, start);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  node->name = g_steal_pointer (&p->cur.text);
  node->children = g_ptr_array_new ();
  vrl_lex_advance (p);
  if (vrl_lex_accept (p, T_BANG))
    node->abort_on_error = TRUE;
  vrl_lex_expect (p, T_LPAREN, "“(”");
  vrl_lex_skip_newlines (p);
  while (p->error == NULL && p->cur.kind != T_RPAREN)
    {
      char *name = NULL;
      CdvizVrlNode *arg;

      /* `name: value` */
      if (p->cur.kind == T_IDENT || p->cur.kind == T_RESERVED || p->cur.kind == T_IF ||
          p->cur.kind == T_NULL || p->cur.kind == T_TRUE || p->cur.kind == T_FALSE ||
          p->cur.kind == T_ABORT || p->cur.kind == T_RETURN || p->cur.kind == T_ELSE)
        {
          guint i = p->cur.end;

          while (i < p->len && (p->src[i] == ' ' || p->src[i] == '\t'))
            i++;
          if (i < p->len && p->src[i] == ':')
            {
              name = g_strndup (p->src + p->cur.start, p->cur.end - p->cur.start);
              vrl_lex_advance (p);
              vrl_lex_advance (p);
              vrl_lex_skip_newlines (p);
            }
        }
      arg = vrl_parse_arith (p);
      if (arg == NULL)
        {
          g_free (name);
          break;
        }
      g_ptr_array_add (node->children, arg);
      g_ptr_array_add (names, name);
      vrl_lex_skip_newlines (p);
      if (!vrl_lex_accept (p, T_COMMA))
        break;
      vrl_lex_skip_newlines (p);
    }
  vrl_lex_expect (p, T_RPAREN, "“)” or “,”");

  if (p->error == NULL && p->cur.kind == T_ARROW)
    {
      GPtrArray *params = g_ptr_array_new ();

      vrl_lex_advance (p);
      if (p->cur.kind == T_OP && p->cur.op == VRL_OP_OR)
        vrl_lex_advance (p);
      else if (vrl_lex_expect (p, T_PIPE, "“|”"))
        {
          while (p->error == NULL && p->cur.kind != T_PIPE)
            {
              if (p->cur.kind == T_IDENT)
                g_ptr_array_add (params, g_strdup (p->cur.text));
              else if (p->cur.kind == T_UNDERSCORE)
                g_ptr_array_add (params, g_strdup (""));
              else
                {
                  vrl_parse_unexpected (p, _("a closure parameter"));
                  break;
                }
              vrl_lex_advance (p);
              vrl_lex_skip_newlines (p);
              if (!vrl_lex_accept (p, T_COMMA))
                break;
              vrl_lex_skip_newlines (p);
            }
          vrl_lex_expect (p, T_PIPE, "“|”");
        }
      node->n_closure = params->len;
      g_ptr_array_add (params, NULL);
      node->closure_names = (char **) g_ptr_array_free (params, FALSE);
      vrl_lex_skip_newlines (p);
      if (p->error == NULL && p->cur.kind != T_LBRACE)
        vrl_parse_unexpected (p, "“{”");
      else if (p->error == NULL)
        node->closure = parse_block (p);
    }

  g_ptr_array_add (names, NULL);
  node->arg_names = (char **) g_ptr_array_free (names, FALSE);
  node->end = p->prev == T_RBRACE || p->prev == T_RPAREN ? p->cur.start : p->cur.start;
  /* the span ends right after the closing parenthesis or brace */
  while (node->end > start && g_ascii_isspace (p->src[node->end - 1]))
    node->end--;
  return node;
}

/* `{` starts an object when followed by `}` or by `"key":`. */
static gboolean
brace_is_object (Parser *p)
{
  guint i = p->cur.end;

  while (i < p->len && (g_ascii_isspace (p->src[i]) || p->src[i] == '#'))
    {
      if (p->src[i] == '#')
        while (i < p->len && p->src[i] != '\n')
          i++;
      else
        i++;
    }
  if (i >= p->len)
    return FALSE;
  if (p->src[i] == '}')
    return TRUE;
  if (p->src[i] != '"')
    return FALSE;
  for (i++; i < p->len && p->src[i] != '"'; i++)
    if (p->src[i] == '\\')
      i++;
  for (i++; i < p->len && (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n' || p->src[i] == '\r'); i++)
    ;
  return i < p->len && p->src[i] == ':';
}

static CdvizVrlNode *
parse_object (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_OBJECT, start);
  GPtrArray *keys = g_ptr_array_new ();

  node->children = g_ptr_array_new ();
  vrl_lex_advance (p);
  vrl_lex_skip_newlines (p);
  while (p->error == NULL && p->cur.kind != T_RBRACE)
    {
      CdvizVrlNode *value;
      char *key;

      if (p->cur.kind != T_STRING)
        {
          vrl_parse_unexpected (p, _("a quoted object key"));
          break;
        }
      key = g_steal_pointer (&p->cur.text);
      /* `\{` in keys */
      {
        g_autoptr(GString) k = g_string_new (key);

        g_string_replace (k, "\\{", "{", 0);
        g_string_replace (k, "\\}", "}", 0);
        g_free (key);
        key = g_strdup (k->str);
      }
      vrl_lex_advance (p);
      vrl_lex_skip_newlines (p);
      if (!vrl_lex_expect (p, T_COLON, "“:”"))
        {
          g_free (key);
          break;
        }
      vrl_lex_skip_newlines (p);
      value = vrl_parse_arith (p);
      if (value == NULL)
        {
          g_free (key);
          break;
        }
      /* a repeated key: the last one wins */
      for (guint i = 0; i < keys->len; i++)
        if (g_str_equal (keys->pdata[i], key))
          {
            g_free (keys->pdata[i]);
            g_ptr_array_remove_index (keys, i);
            g_ptr_array_remove_index (node->children, i);
            break;
          }
      g_ptr_array_add (keys, key);
      g_ptr_array_add (node->children, value);
      vrl_lex_skip_newlines (p);
      if (!vrl_lex_accept (p, T_COMMA))
        break;
      vrl_lex_skip_newlines (p);
    }
  g_ptr_array_add (keys, NULL);
  node->keys = (char **) g_ptr_array_free (keys, FALSE);
  vrl_lex_expect (p, T_RBRACE, "“}” or “,”");
  node->end = p->prev == T_RBRACE ? p->cur.start : p->cur.start;
  return node;
}

static CdvizVrlNode *
parse_array (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_ARRAY, start);

  node->children = g_ptr_array_new ();
  vrl_lex_advance (p);
  vrl_lex_skip_newlines (p);
  while (p->error == NULL && p->cur.kind != T_RBRACKET)
    {
      CdvizVrlNode *item = vrl_parse_arith (p);

      if (item == NULL)
        break;
      g_ptr_array_add (node->children, item);
      vrl_lex_skip_newlines (p);
      if (!vrl_lex_accept (p, T_COMMA))
        break;
      vrl_lex_skip_newlines (p);
    }
  vrl_lex_expect (p, T_RBRACKET, "“]” or “,”");
  return node;
}

/* `{ expr; expr \n expr }` */
static CdvizVrlNode *
parse_block (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_BLOCK, start);

  node->children = g_ptr_array_new ();
  if (!enter (p))
    return NULL;
  vrl_lex_advance (p);
  for (;;)
    {
      CdvizVrlNode *expr;

      while (p->cur.kind == T_NEWLINE || p->cur.kind == T_SEMI)
        vrl_lex_advance (p);
      if (p->error != NULL || p->cur.kind == T_RBRACE || p->cur.kind == T_EOF)
        break;
      expr = parse_expr (p, TRUE);
      if (expr == NULL)
        break;
      g_ptr_array_add (node->children, expr);
      if (p->cur.kind != T_NEWLINE && p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE)
        {
          vrl_parse_unexpected (p, _("a newline, “;” or “}”"));
          break;
        }
    }
  p->depth--;
  vrl_lex_expect (p, T_RBRACE, "“}”");
  node->end = p->cur.start;
  if (node->children->len == 0 && p->error == NULL)
    vrl_parse_fail (p, start, _("syntax error: empty block"));
  return node;
}

static CdvizVrlNode *
parse_primary (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = NULL;

  switch (p->cur.kind)
    {
    case T_STRING:
      node = vrl_parse_template (p, p->cur.text, p->cur.start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_RAWSTRING:
      node = literal (p, cdviz_vrl_bytes (p->cur.text, -1), start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_INT:
      node = literal (p, cdviz_vrl_integer (p->cur.integer), start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_FLOAT:
      node = literal (p, cdviz_vrl_float (p->cur.number), start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_TRUE:
    case T_FALSE:
      node = literal (p, cdviz_vrl_boolean (p->cur.kind == T_TRUE), start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_NULL:
      node = literal (p, cdviz_vrl_null (), start, p->cur.end);
      vrl_lex_advance (p);
      break;
    case T_REGEX:
      {
        g_autoptr(GError) local_error = NULL;
        CdvizVrlValue *re = cdviz_vrl_regex (p->cur.text, &local_error);

        if (re == NULL)
          {
            vrl_parse_fail (p, start, _("error[E202]: invalid regular expression: %s"), local_error->message);
            return NULL;
          }
        node = literal (p, re, start, p->cur.end);
        vrl_lex_advance (p);
      }
      break;
    case T_TIMESTAMP:
      {
        gint64 seconds;
        gint32 nanos;

        if (!cdviz_vrl_parse_rfc3339 (p->cur.text, &seconds, &nanos))
          {
            vrl_parse_fail (p, start, _("error[E601]: invalid timestamp literal “%s”"), p->cur.text);
            return NULL;
          }
        node = literal (p, cdviz_vrl_timestamp (seconds, nanos), start, p->cur.end);
        vrl_lex_advance (p);
      }
      break;
    case T_LBRACKET:
      node = parse_array (p);
      break;
    case T_LBRACE:
      node = brace_is_object (p) ? parse_object (p) : parse_block (p);
      break;
    case T_LPAREN:
      vrl_lex_advance (p);
      vrl_lex_skip_newlines (p);
      node = new_node (p, VRL_N_GROUP, start);
      node->expr = parse_expr (p, TRUE);
      /* `(x = f(); x == 1)`: several expressions, the last one's value */
      while (p->error == NULL && (p->cur.kind == T_NEWLINE || p->cur.kind == T_SEMI))
        {
          while (p->cur.kind == T_NEWLINE || p->cur.kind == T_SEMI)
            vrl_lex_advance (p);
          if (p->cur.kind == T_RPAREN)
            break;
          if (node->expr->kind != VRL_N_BLOCK || node->expr->start != start)
            {
              CdvizVrlNode *block = cdviz_vrl_node_new (p->program, VRL_N_BLOCK, start, start);

              block->children = g_ptr_array_new ();
              g_ptr_array_add (block->children, node->expr);
              node->expr = block;
            }
          {
            CdvizVrlNode *next = parse_expr (p, TRUE);

            if (next == NULL)
              return NULL;
            g_ptr_array_add (node->expr->children, next);
          }
        }
      vrl_lex_skip_newlines (p);
      vrl_lex_expect (p, T_RPAREN, "“)”");
      node->end = p->cur.start;
      break;
    case T_FUNCALL:
      node = parse_call (p);
      break;
    case T_IDENT:
      node = new_node (p, VRL_N_VARIABLE, start);
      node->name = g_steal_pointer (&p->cur.text);
      vrl_lex_advance (p);
      node->end = start + strlen (node->name);
      break;
    case T_DOT:
    case T_PERCENT:
      {
        CdvizVrlTarget target = p->cur.kind == T_DOT ? VRL_TARGET_EVENT : VRL_TARGET_METADATA;

        vrl_lex_advance (p);
        return make_query (p, target, NULL, start, TRUE);
      }
    case T_FIELD:
      vrl_parse_fail (p, start, _("syntax error: “%s” is not a variable name"), p->cur.text);
      return NULL;
    default:
      vrl_parse_unexpected (p, _("an expression"));
      return NULL;
    }

  if (node != NULL && p->error == NULL && continues_query (p))
    return make_query (p, VRL_TARGET_EXPR, node, start, FALSE);
  return node;
}

static CdvizVrlNode *
parse_not (Parser *p)
{
  if (p->cur.kind == T_BANG)
    {
      guint start = p->cur.start;
      CdvizVrlNode *node;

      if (!enter (p))
        return NULL;
      vrl_lex_advance (p);
      node = new_node (p, VRL_N_NOT, start);
      node->expr = parse_not (p);
      node->end = node->expr ? node->expr->end : start + 1;
      p->depth--;
      return node->expr ? node : NULL;
    }
  return parse_primary (p);
}

static int
precedence (int op)
{
  switch (op)
    {
    case VRL_OP_MUL: case VRL_OP_DIV: return 6;
    case VRL_OP_ADD: case VRL_OP_SUB: return 5;
    case VRL_OP_MERGE: return 4;
    case VRL_OP_LT: case VRL_OP_LE: case VRL_OP_GT: case VRL_OP_GE: return 3;
    case VRL_OP_EQ: case VRL_OP_NE: return 2;
    case VRL_OP_AND: case VRL_OP_OR: return 1;
    case VRL_OP_COALESCE: return 0;
    default: return -1;
    }
}

static int
current_op (Parser *p)
{
  if (p->cur.kind == T_OP)
    return p->cur.op;
  if (p->cur.kind == T_PIPE)
    return VRL_OP_MERGE;
  return -1;
}

static CdvizVrlNode *
parse_binary (Parser *p,
              int     min_prec)
{
  CdvizVrlNode *lhs;
  guint start = p->cur.start;

  if (!enter (p))
    return NULL;
  lhs = parse_not (p);
  while (lhs != NULL && p->error == NULL)
    {
      int op = current_op (p);
      int prec = precedence (op);
      CdvizVrlNode *node, *rhs;

      if (op < 0 || prec < min_prec)
        break;
      /* chained comparisons are refused, as upstream */
      vrl_lex_advance (p);
      vrl_lex_skip_newlines (p);
      rhs = parse_binary (p, prec + 1);
      if (rhs == NULL)
        {
          lhs = NULL;
          break;
        }
      if (prec == 3 && (current_op (p) >= 0 && precedence (current_op (p)) == 3))
        {
          vrl_parse_fail (p, p->cur.start, _("syntax error: chained comparison operators"));
          lhs = NULL;
          break;
        }
      node = new_node (p, VRL_N_OP, start);
      node->op = op;
      node->lhs = lhs;
      node->rhs = rhs;
      node->end = rhs->end;
      lhs = node;
    }
  p->depth--;
  return lhs;
}

CdvizVrlNode *
vrl_parse_arith (Parser *p)
{
  return parse_binary (p, 0);
}

static gboolean
is_target (CdvizVrlNode *node)
{
  if (node->kind == VRL_N_VARIABLE || node->kind == VRL_N_NOOP)
    return TRUE;
  return node->kind == VRL_N_QUERY && node->target != VRL_TARGET_EXPR;
}

static CdvizVrlNode *
parse_target_or_expr (Parser *p)
{
  if (p->cur.kind == T_UNDERSCORE)
    {
      CdvizVrlNode *node = new_node (p, VRL_N_NOOP, p->cur.start);

      vrl_lex_advance (p);
      node->end = node->start + 1;
      return node;
    }
  return vrl_parse_arith (p);
}

static CdvizVrlNode *
parse_if (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_IF, start);

  vrl_lex_advance (p);
  /* predicate: an expression, or `(a; b; c)` */
  node->expr = vrl_parse_arith (p);
  if (node->expr == NULL)
    return NULL;
  vrl_lex_skip_newlines (p);
  if (p->cur.kind != T_LBRACE)
    {
      vrl_parse_unexpected (p, "“{”");
      return NULL;
    }
  node->lhs = parse_block (p);
  if (node->lhs == NULL)
    return NULL;
  /* `else` may follow on the same line only (upstream: no newline before else) */
  if (p->cur.kind == T_ELSE)
    {
      vrl_lex_advance (p);
      vrl_lex_skip_newlines (p);
      if (p->cur.kind == T_IF)
        {
          CdvizVrlNode *inner;

          if (!enter (p))
            return NULL;
          inner = parse_if (p);
          p->depth--;
          if (inner == NULL)
            return NULL;
          node->rhs = inner;
        }
      else if (p->cur.kind == T_LBRACE)
        node->rhs = parse_block (p);
      else
        {
          vrl_parse_unexpected (p, "“{” or “if”");
          return NULL;
        }
    }
  node->end = p->cur.start;
  while (node->end > start && g_ascii_isspace (p->src[node->end - 1]))
    node->end--;
  return node;
}

static CdvizVrlNode *
parse_expr (Parser   *p,
            gboolean  allow_assign)
{
  guint start = p->cur.start;
  CdvizVrlNode *lhs, *err = NULL, *node;

  if (p->error != NULL)
    return NULL;
  if (p->cur.kind == T_IF)
    return parse_if (p);
  if (p->cur.kind == T_ABORT)
    {
      node = new_node (p, VRL_N_ABORT, start);
      vrl_lex_advance (p);
      if (p->cur.kind != T_NEWLINE && p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE &&
          p->cur.kind != T_EOF && p->cur.kind != T_RPAREN)
        node->expr = parse_expr (p, FALSE);
      node->end = node->expr ? node->expr->end : start + 5;
      return p->error ? NULL : node;
    }
  if (p->cur.kind == T_RETURN)
    {
      node = new_node (p, VRL_N_RETURN, start);
      vrl_lex_advance (p);
      node->expr = parse_expr (p, FALSE);
      node->end = node->expr ? node->expr->end : start + 6;
      return p->error ? NULL : node;
    }

  lhs = allow_assign ? parse_target_or_expr (p) : vrl_parse_arith (p);
  if (lhs == NULL || !allow_assign)
    return lhs;

  if (p->cur.kind == T_COMMA && is_target (lhs))
    {
      vrl_lex_advance (p);
      err = parse_target_or_expr (p);
      if (err == NULL)
        return NULL;
      if (!is_target (err))
        {
          vrl_parse_fail (p, err->start, _("syntax error: invalid assignment target"));
          return NULL;
        }
      if (p->cur.kind != T_ASSIGN && p->cur.kind != T_MERGE_ASSIGN)
        {
          vrl_parse_unexpected (p, "“=”");
          return NULL;
        }
    }
  if (p->cur.kind == T_ASSIGN || p->cur.kind == T_MERGE_ASSIGN)
    {
      node = new_node (p, VRL_N_ASSIGN, start);
      if (!is_target (lhs))
        {
          vrl_parse_fail (p, lhs->start, _("syntax error: invalid assignment target"));
          return NULL;
        }
      node->op = p->cur.kind == T_MERGE_ASSIGN;
      node->lhs = lhs;
      node->rhs = err;
      vrl_lex_advance (p);
      vrl_lex_skip_newlines (p);
      if (!enter (p))
        return NULL;
      node->expr = parse_expr (p, TRUE);
      p->depth--;
      if (node->expr == NULL)
        return NULL;
      node->end = node->expr->end;
      return node;
    }
  if (lhs->kind == VRL_N_NOOP)
    {
      vrl_parse_fail (p, lhs->start, _("syntax error: “_” can only be assigned to"));
      return NULL;
    }
  return lhs;
}

CdvizVrlProgram *
cdviz_vrl_parse (const char  *source,
                 GError     **error)
{
  g_autoptr(CdvizVrlProgram) program = g_new0 (CdvizVrlProgram, 1);
  Parser p = { 0 };
  CdvizVrlNode *root;

  program->source = g_strdup (source);
  program->nodes = g_ptr_array_new_with_free_func (vrl_node_free);
  program->slot_names = g_ptr_array_new_with_free_func (g_free);
  program->warnings = g_ptr_array_new_with_free_func (g_free);

  p.src = program->source;
  p.len = strlen (p.src);
  p.program = program;
  p.cur.kind = T_NEWLINE;
  vrl_lex_advance (&p);

  root = cdviz_vrl_node_new (program, VRL_N_BLOCK, 0, p.len);
  root->children = g_ptr_array_new ();
  for (;;)
    {
      CdvizVrlNode *expr;

      while (p.cur.kind == T_NEWLINE || p.cur.kind == T_SEMI)
        vrl_lex_advance (&p);
      if (p.error != NULL || p.cur.kind == T_EOF)
        break;
      expr = parse_expr (&p, TRUE);
      if (expr == NULL)
        break;
      g_ptr_array_add (root->children, expr);
      if (p.cur.kind != T_NEWLINE && p.cur.kind != T_SEMI && p.cur.kind != T_EOF)
        vrl_parse_unexpected (&p, _("a newline or “;”"));
    }
  g_clear_pointer (&p.cur.text, g_free);

  if (p.error != NULL)
    {
      guint line, column;

      cdviz_vrl_offset_to_position (source, MIN (p.error_offset, p.len), &line, &column);
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_SYNTAX, "%u:%u: %s",
                   line, column, p.error->message);
      g_error_free (p.error);
      return NULL;
    }
  program->root = root;
  return g_steal_pointer (&program);
}
