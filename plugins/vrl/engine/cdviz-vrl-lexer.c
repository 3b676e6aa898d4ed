/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-parser-private.h"

/* Lexer and recursive-descent parser for VRL, following upstream's grammar
 * (vectordotdev/vrl src/parser/parser.lalrpop): newlines end expressions,
 * `??` binds loosest, then `||`/`&&` (one level), `==`/`!=`, comparisons,
 * `|` (merge), `+`/`-`, `*`/`/`, `!`. Paths are `.a.b[0]`, `%meta`,
 * `var.a`, `f(x).a`, `{…}.a`, with quoted segments and `(a|b)` coalescing.
 * Nesting is bounded (MAX_DEPTH) so that a hostile program cannot overflow
 * the stack. */


G_DEFINE_QUARK (cdviz-vrl-error-quark, cdviz_vrl_error)

static const char *const reserved[] = {
  "array", "bool", "boolean", "break", "continue", "do", "emit", "float", "for", "forall",
  "foreach", "all", "each", "any", "try", "undefined", "int", "integer", "iter", "object",
  "regex", "string", "traverse", "timestamp", "duration", "unless", "walk", "while", "loop",
  NULL
};

void
cdviz_vrl_offset_to_position (const char *source,
                              guint       offset,
                              guint      *line,
                              guint      *column)
{
  guint l = 1;
  const char *line_start = source;

  for (guint i = 0; i < offset && source[i] != '\0'; i++)
    if (source[i] == '\n')
      {
        l++;
        line_start = source + i + 1;
      }
  *line = l;
  *column = g_utf8_strlen (line_start, source + offset - line_start) + 1;
}

CdvizVrlNode *
cdviz_vrl_node_new (CdvizVrlProgram  *program,
                    CdvizVrlNodeKind  kind,
                    guint             start,
                    guint             end)
{
  CdvizVrlNode *node = g_new0 (CdvizVrlNode, 1);

  node->kind = kind;
  node->start = start;
  node->end = end;
  node->slot = -1;
  node->type = CDVIZ_VRL_ANY;
  g_ptr_array_add (program->nodes, node);
  return node;
}

void
vrl_segment_clear (gpointer data)
{
  CdvizVrlSegment *segment = data;

  g_free (segment->field);
  g_strfreev (segment->fields);
}

void
vrl_node_free (gpointer data)
{
  CdvizVrlNode *node = data;

  g_free (node->name);
  g_clear_pointer (&node->value, cdviz_vrl_value_unref);
  /* one per argument, NULL for a positional one: not a NULL-terminated vector */
  for (guint i = 0; node->arg_names != NULL && node->children != NULL && i < node->children->len; i++)
    g_free (node->arg_names[i]);
  g_free (node->arg_names);
  g_clear_pointer (&node->children, g_ptr_array_unref);
  g_strfreev (node->keys);
  g_clear_pointer (&node->path, g_array_unref);
  g_clear_pointer (&node->tdef, cdviz_vrl_type_unref);
  g_free (node->args);
  g_strfreev (node->closure_names);
  g_free (node->closure_slots);
  if (node->data_free != NULL && node->data != NULL)
    node->data_free (node->data);
  g_free (node);
}

void
cdviz_vrl_program_free (CdvizVrlProgram *program)
{
  if (program == NULL)
    return;
  g_ptr_array_unref (program->nodes);
  g_ptr_array_unref (program->slot_names);
  g_ptr_array_unref (program->warnings);
  g_free (program->source);
  g_free (program);
}

/* --- errors ---------------------------------------------------------------- */

void
vrl_parse_fail (Parser     *p,
                guint       offset,
                const char *format,
                ...)
{
  va_list args;

  if (p->error != NULL)
    return;
  va_start (args, format);
  p->error = g_error_new_valist (CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_SYNTAX, format, args);
  va_end (args);
  p->error_offset = offset;
}

static const char *
token_describe (const Token *t)
{
  switch (t->kind)
    {
    case T_EOF: return _("end of program");
    case T_NEWLINE: return _("newline");
    case T_RESERVED: return _("reserved keyword");
    default: return NULL;
    }
}

void
vrl_parse_unexpected (Parser     *p,
                      const char *expected)
{
  const char *what = token_describe (&p->cur);
  g_autofree char *text = NULL;

  if (what == NULL)
    text = g_strndup (p->src + p->cur.start, MIN (p->cur.end - p->cur.start, 40));
  if (p->cur.kind == T_RESERVED)
    vrl_parse_fail (p, p->cur.start, _("error[E205]: reserved keyword “%s”"), p->cur.text);
  else
    vrl_parse_fail (p, p->cur.start, _("syntax error: unexpected %s%s%s, expected %s"),
          what ? what : "“", what ? what : text, what ? "" : "”", expected);
}

/* --- lexer ------------------------------------------------------------------ */

static gboolean
is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_' || c == '@';
}

static gboolean
is_ident_continue (char c)
{
  return is_ident_start (c) || g_ascii_isdigit (c);
}

static gboolean
ends_operand (TokenKind kind)
{
  switch (kind)
    {
    case T_IDENT: case T_FIELD: case T_STRING: case T_RAWSTRING: case T_INT: case T_FLOAT:
    case T_REGEX: case T_TIMESTAMP: case T_NULL: case T_TRUE: case T_FALSE:
    case T_RPAREN: case T_RBRACKET: case T_RBRACE: case T_DOT: case T_PERCENT:
    case T_UNDERSCORE:
      return TRUE;
    default:
      return FALSE;
    }
}

static void
append_utf8 (GString  *out,
             gunichar  c)
{
  g_string_append_unichar (out, c);
}

/* Reads a quoted literal starting after its opening quote. Escapes per
 * upstream: \n \r \t \\ \" \' \0 \{ \} \u{…} (and \\\n line continuation
 * is not VRL). @raw: only \' is an escape. */
static gboolean
lex_quoted (Parser   *p,
            char      quote,
            gboolean  raw,
            gboolean  keep_escapes,
            Token    *t)
{
  GString *out = g_string_new (NULL);
  guint i = p->pos;

  while (i < p->len && p->src[i] != quote)
    {
      char c = p->src[i];

      if (c == '\\' && i + 1 < p->len)
        {
          char e = p->src[i + 1];

          if (raw || keep_escapes)
            {
              if (e == quote)
                {
                  g_string_append_c (out, quote);
                  i += 2;
                  continue;
                }
              g_string_append_c (out, c);
              i++;
              continue;
            }
          switch (e)
            {
            case 'n': g_string_append_c (out, '\n'); break;
            case 'r': g_string_append_c (out, '\r'); break;
            case 't': g_string_append_c (out, '\t'); break;
            case '\\': g_string_append_c (out, '\\'); break;
            case '"': g_string_append_c (out, '"'); break;
            case '\'': g_string_append_c (out, '\''); break;
            case '0': g_string_append_c (out, '\0'); break;
            case '{': g_string_append (out, "\\{"); break;   /* resolved with templates */
            case '}': g_string_append (out, "\\}"); break;
            case '\n': break;
            case 'u':
              if (i + 2 < p->len && p->src[i + 2] == '{')
                {
                  guint j = i + 3;
                  gunichar u = 0;

                  while (j < p->len && g_ascii_isxdigit (p->src[j]))
                    u = u * 16 + g_ascii_xdigit_value (p->src[j++]);
                  if (j < p->len && p->src[j] == '}' && g_unichar_validate (u))
                    {
                      append_utf8 (out, u);
                      i = j + 1;
                      continue;
                    }
                }
              /* fall through */
            default:
              g_string_free (out, TRUE);
              vrl_parse_fail (p, i, _("error[E209]: invalid escape character: \\%c"), e);
              return FALSE;
            }
          i += 2;
          continue;
        }
      g_string_append_c (out, c);
      i++;
    }
  if (i >= p->len)
    {
      g_string_free (out, TRUE);
      vrl_parse_fail (p, p->pos - 1, _("syntax error: unterminated literal"));
      return FALSE;
    }
  p->pos = i + 1;
  t->text = g_string_free (out, FALSE);
  return TRUE;
}

static gboolean
lex_number (Parser *p,
            Token  *t)
{
  guint i = p->pos;
  gboolean is_float = FALSE;
  g_autofree char *text = NULL;
  g_autoptr(GString) digits = g_string_new (NULL);

  if (p->src[i] == '-')
    g_string_append_c (digits, p->src[i++]);
  while (i < p->len && (g_ascii_isdigit (p->src[i]) || p->src[i] == '_'))
    {
      if (p->src[i] != '_')
        g_string_append_c (digits, p->src[i]);
      i++;
    }
  if (i + 1 < p->len && p->src[i] == '.' && g_ascii_isdigit (p->src[i + 1]))
    {
      is_float = TRUE;
      g_string_append_c (digits, p->src[i++]);
      while (i < p->len && (g_ascii_isdigit (p->src[i]) || p->src[i] == '_'))
        {
          if (p->src[i] != '_')
            g_string_append_c (digits, p->src[i]);
          i++;
        }
    }
  if (i < p->len && (p->src[i] == 'e' || p->src[i] == 'E') &&
      (g_ascii_isdigit (p->src[i + 1]) ||
       ((p->src[i + 1] == '-' || p->src[i + 1] == '+') && g_ascii_isdigit (p->src[i + 2]))))
    {
      is_float = TRUE;
      g_string_append_c (digits, p->src[i++]);
      g_string_append_c (digits, p->src[i++]);
      while (i < p->len && g_ascii_isdigit (p->src[i]))
        g_string_append_c (digits, p->src[i++]);
    }
  p->pos = i;
  errno = 0;
  if (is_float)
    {
      t->kind = T_FLOAT;
      t->number = g_ascii_strtod (digits->str, NULL);
    }
  else
    {
      t->kind = T_INT;
      t->integer = g_ascii_strtoll (digits->str, NULL, 10);
      if (errno == ERANGE)
        {
          vrl_parse_fail (p, t->start, _("syntax error: integer literal out of range"));
          return FALSE;
        }
    }
  return TRUE;
}

void
vrl_lex_advance (Parser *p)
{
  Token *t = &p->cur;
  gboolean space = FALSE;
  TokenKind prev = t->kind;
  char c;

  g_clear_pointer (&t->text, g_free);
  p->prev = prev;
  if (p->error != NULL)
    {
      t->kind = T_EOF;
      return;
    }

  for (;;)
    {
      if (p->pos >= p->len)
        break;
      c = p->src[p->pos];
      if (c == ' ' || c == '\t' || c == '\r')
        {
          space = TRUE;
          p->pos++;
        }
      else if (c == '#')
        {
          while (p->pos < p->len && p->src[p->pos] != '\n')
            p->pos++;
        }
      else if (c == '\\' && p->pos + 1 < p->len && p->src[p->pos + 1] == '\n')
        p->pos += 2;
      else
        break;
    }

  t->start = p->pos;
  t->space_before = space;
  t->op = -1;
  if (p->pos >= p->len)
    {
      t->kind = T_EOF;
      t->end = p->pos;
      return;
    }

  c = p->src[p->pos];

  /* A path field right after `.` or `%`. */
  if (!space && (prev == T_DOT || prev == T_PERCENT) && is_ident_continue (c))
    {
      guint s = p->pos;

      while (p->pos < p->len && is_ident_continue (p->src[p->pos]))
        p->pos++;
      t->kind = T_FIELD;
      t->text = g_strndup (p->src + s, p->pos - s);
      t->end = p->pos;
      return;
    }

  p->pos++;
  switch (c)
    {
    case '\n': t->kind = T_NEWLINE; break;
    case ';': t->kind = T_SEMI; break;
    case '(': t->kind = T_LPAREN; break;
    case ')': t->kind = T_RPAREN; break;
    case '[': t->kind = T_LBRACKET; break;
    case ']': t->kind = T_RBRACKET; break;
    case '{': t->kind = T_LBRACE; break;
    case '}': t->kind = T_RBRACE; break;
    case ',': t->kind = T_COMMA; break;
    case ':': t->kind = T_COLON; break;
    case '.': t->kind = T_DOT; break;
    case '%': t->kind = T_PERCENT; break;
    case '"':
      t->kind = T_STRING;
      lex_quoted (p, '"', FALSE, FALSE, t);
      break;
    case '!':
      if (p->pos < p->len && p->src[p->pos] == '=')
        {
          p->pos++;
          t->kind = T_OP;
          t->op = VRL_OP_NE;
        }
      else
        t->kind = T_BANG;
      break;
    case '=':
      if (p->pos < p->len && p->src[p->pos] == '=')
        {
          p->pos++;
          t->kind = T_OP;
          t->op = VRL_OP_EQ;
        }
      else
        t->kind = T_ASSIGN;
      break;
    case '|':
      if (p->pos < p->len && p->src[p->pos] == '|')
        {
          p->pos++;
          t->kind = T_OP;
          t->op = VRL_OP_OR;
        }
      else if (p->pos < p->len && p->src[p->pos] == '=')
        {
          p->pos++;
          t->kind = T_MERGE_ASSIGN;
        }
      else
        t->kind = T_PIPE;
      break;
    case '&':
      if (p->pos < p->len && p->src[p->pos] == '&')
        {
          p->pos++;
          t->kind = T_OP;
          t->op = VRL_OP_AND;
        }
      else
        t->kind = T_INVALID;
      break;
    case '?':
      if (p->pos < p->len && p->src[p->pos] == '?')
        {
          p->pos++;
          t->kind = T_OP;
          t->op = VRL_OP_COALESCE;
        }
      else
        t->kind = T_INVALID;
      break;
    case '<':
    case '>':
      t->kind = T_OP;
      if (p->pos < p->len && p->src[p->pos] == '=')
        {
          p->pos++;
          t->op = c == '<' ? VRL_OP_LE : VRL_OP_GE;
        }
      else
        t->op = c == '<' ? VRL_OP_LT : VRL_OP_GT;
      break;
    case '+': t->kind = T_OP; t->op = VRL_OP_ADD; break;
    case '*': t->kind = T_OP; t->op = VRL_OP_MUL; break;
    case '/': t->kind = T_OP; t->op = VRL_OP_DIV; break;
    case '-':
      if (p->pos < p->len && p->src[p->pos] == '>')
        {
          p->pos++;
          t->kind = T_ARROW;
        }
      else if (p->pos < p->len && g_ascii_isdigit (p->src[p->pos]) && !ends_operand (prev))
        {
          p->pos--;
          lex_number (p, t);
        }
      else
        {
          t->kind = T_OP;
          t->op = VRL_OP_SUB;
        }
      break;
    default:
      if (g_ascii_isdigit (c))
        {
          p->pos--;
          lex_number (p, t);
        }
      else if ((c == 'r' || c == 's' || c == 't') && p->pos < p->len && p->src[p->pos] == '\'')
        {
          p->pos++;
          t->kind = c == 'r' ? T_REGEX : c == 's' ? T_RAWSTRING : T_TIMESTAMP;
          lex_quoted (p, '\'', TRUE, FALSE, t);
        }
      else if (c == '_' && !(p->pos < p->len && is_ident_continue (p->src[p->pos])))
        t->kind = T_UNDERSCORE;
      else if (is_ident_start (c))
        {
          guint s = p->pos - 1;

          while (p->pos < p->len && is_ident_continue (p->src[p->pos]))
            p->pos++;
          t->text = g_strndup (p->src + s, p->pos - s);
          if (p->pos < p->len &&
              (p->src[p->pos] == '(' ||
               (p->src[p->pos] == '!' && p->pos + 1 < p->len && p->src[p->pos + 1] == '(')))
            t->kind = T_FUNCALL;
          else if (g_str_equal (t->text, "if"))
            t->kind = T_IF;
          else if (g_str_equal (t->text, "else"))
            t->kind = T_ELSE;
          else if (g_str_equal (t->text, "null"))
            t->kind = T_NULL;
          else if (g_str_equal (t->text, "true"))
            t->kind = T_TRUE;
          else if (g_str_equal (t->text, "false"))
            t->kind = T_FALSE;
          else if (g_str_equal (t->text, "abort"))
            t->kind = T_ABORT;
          else if (g_str_equal (t->text, "return"))
            t->kind = T_RETURN;
          else if (g_strv_contains (reserved, t->text))
            t->kind = T_RESERVED;
          else if (strchr (t->text, '@') != NULL)
            t->kind = T_FIELD;
          else
            t->kind = T_IDENT;
        }
      else
        t->kind = T_INVALID;
    }
  t->end = p->pos;
}

gboolean
vrl_lex_accept (Parser    *p,
                TokenKind  kind)
{
  if (p->cur.kind == kind)
    {
      vrl_lex_advance (p);
      return TRUE;
    }
  return FALSE;
}

void
vrl_lex_skip_newlines (Parser *p)
{
  while (p->cur.kind == T_NEWLINE)
    vrl_lex_advance (p);
}

gboolean
vrl_lex_expect (Parser     *p,
                TokenKind   kind,
                const char *what)
{
  if (vrl_lex_accept (p, kind))
    return TRUE;
  vrl_parse_unexpected (p, what);
  return FALSE;
}

/* --- templates -------------------------------------------------------------- */

static CdvizVrlNode *
tmpl_literal (Parser        *p,
              CdvizVrlValue *value,
              guint          start,
              guint          end)
{
  CdvizVrlNode *node = cdviz_vrl_node_new (p->program, VRL_N_LITERAL, start, end);

  node->value = value;
  return node;
}

/* "text {{ expr }} text": literal parts and expressions, concatenated. */
CdvizVrlNode *
vrl_parse_template (Parser     *p,
                    const char *text,
                    guint       start,
                    guint       end)
{
  CdvizVrlNode *node;
  g_autoptr(GString) lit = g_string_new (NULL);
  const char *s = text;

  if (strstr (text, "{{") == NULL)
    {
      g_autoptr(GString) plain = g_string_new (text);

      g_string_replace (plain, "\\{", "{", 0);
      g_string_replace (plain, "\\}", "}", 0);
      return tmpl_literal (p, cdviz_vrl_bytes (plain->str, plain->len), start, end);
    }

  node = cdviz_vrl_node_new (p->program, VRL_N_TEMPLATE, start, end);
  node->children = g_ptr_array_new ();
  while (*s)
    {
      if (s[0] == '\\' && (s[1] == '{' || s[1] == '}'))
        {
          g_string_append_c (lit, s[1]);
          s += 2;
        }
      else if (s[0] == '{' && s[1] == '{')
        {
          const char *close = strstr (s + 2, "}}");
          g_autofree char *inner = NULL;
          Parser sub = { 0 };
          CdvizVrlNode *expr;

          if (close == NULL)
            {
              vrl_parse_fail (p, start, _("syntax error: unterminated template “{{”"));
              return NULL;
            }
          if (lit->len > 0)
            {
              g_ptr_array_add (node->children, tmpl_literal (p, cdviz_vrl_bytes (lit->str, lit->len), start, end));
              g_string_truncate (lit, 0);
            }
          inner = g_strndup (s + 2, close - s - 2);
          sub.src = inner;
          sub.len = strlen (inner);
          sub.program = p->program;
          sub.depth = p->depth;
          sub.cur.kind = T_NEWLINE;
          vrl_lex_advance (&sub);
          expr = vrl_parse_arith (&sub);
          if (sub.error == NULL && sub.cur.kind != T_EOF)
            vrl_parse_unexpected (&sub, "“}}”");
          g_clear_pointer (&sub.cur.text, g_free);
          if (sub.error != NULL)
            {
              vrl_parse_fail (p, start, "%s", sub.error->message);
              g_error_free (sub.error);
              return NULL;
            }
          /* positions of the inner expression point at the string */
          expr->start = start;
          expr->end = end;
          g_ptr_array_add (node->children, expr);
          s = close + 2;
        }
      else
        g_string_append_c (lit, *s++);
    }
  if (lit->len > 0)
    g_ptr_array_add (node->children, tmpl_literal (p, cdviz_vrl_bytes (lit->str, lit->len), start, end));
  return node;
}
