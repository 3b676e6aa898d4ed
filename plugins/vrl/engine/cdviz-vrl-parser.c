/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-ast.h"

/* Lexer and recursive-descent parser for VRL, following upstream's grammar
 * (vectordotdev/vrl src/parser/parser.lalrpop): newlines end expressions,
 * `??` binds loosest, then `||`/`&&` (one level), `==`/`!=`, comparisons,
 * `|` (merge), `+`/`-`, `*`/`/`, `!`. Paths are `.a.b[0]`, `%meta`,
 * `var.a`, `f(x).a`, `{…}.a`, with quoted segments and `(a|b)` coalescing.
 * Nesting is bounded (MAX_DEPTH) so that a hostile program cannot overflow
 * the stack. */

#define MAX_DEPTH 200

G_DEFINE_QUARK (cdviz-vrl-error-quark, cdviz_vrl_error)

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

static void
segment_clear (gpointer data)
{
  CdvizVrlSegment *segment = data;

  g_free (segment->field);
  g_strfreev (segment->fields);
}

static void
node_free (gpointer data)
{
  CdvizVrlNode *node = data;

  g_free (node->name);
  g_clear_pointer (&node->value, cdviz_vrl_value_unref);
  /* One name per argument, NULL for a positional one: not a NULL-terminated
   * vector. */
  if (node->arg_names != NULL)
    {
      for (guint i = 0; node->children != NULL && i < node->children->len; i++)
        g_free (node->arg_names[i]);
      g_free (node->arg_names);
    }
  g_clear_pointer (&node->children, g_ptr_array_unref);
  g_strfreev (node->keys);
  g_clear_pointer (&node->path, g_array_unref);
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

G_GNUC_PRINTF (3, 4) static void
fail (Parser     *p,
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

static void
unexpected (Parser     *p,
            const char *expected)
{
  const char *what = token_describe (&p->cur);
  g_autofree char *text = NULL;

  if (what == NULL)
    text = g_strndup (p->src + p->cur.start, MIN (p->cur.end - p->cur.start, 40));
  if (p->cur.kind == T_RESERVED)
    fail (p, p->cur.start, _("error[E205]: reserved keyword “%s”"), p->cur.text);
  else
    fail (p, p->cur.start, _("syntax error: unexpected %s%s%s, expected %s"),
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
              fail (p, i, _("error[E209]: invalid escape character: \\%c"), e);
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
      fail (p, p->pos - 1, _("syntax error: unterminated literal"));
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
          fail (p, t->start, _("syntax error: integer literal out of range"));
          return FALSE;
        }
    }
  return TRUE;
}

static void
advance (Parser *p)
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

static gboolean
accept (Parser    *p,
        TokenKind  kind)
{
  if (p->cur.kind == kind)
    {
      advance (p);
      return TRUE;
    }
  return FALSE;
}

static void
skip_newlines (Parser *p)
{
  while (p->cur.kind == T_NEWLINE)
    advance (p);
}

static gboolean
expect (Parser     *p,
        TokenKind   kind,
        const char *what)
{
  if (accept (p, kind))
    return TRUE;
  unexpected (p, what);
  return FALSE;
}

/* --- parser ----------------------------------------------------------------- */

static CdvizVrlNode *parse_expr (Parser *p, gboolean allow_assign);
static CdvizVrlNode *parse_arith (Parser *p);
static CdvizVrlNode *parse_block (Parser *p);
static CdvizVrlNode *parse_template (Parser *p, const char *text, guint start, guint end);

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
      fail (p, p->cur.start, _("syntax error: the program nests more than %d levels deep"),
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

  g_array_set_clear_func (path, segment_clear);

  for (;;)
    {
      if (root_dot && !p->cur.space_before &&
          (p->cur.kind == T_FIELD || p->cur.kind == T_STRING || p->cur.kind == T_LPAREN))
        ;   /* `.foo` right after the root dot */
      else if (p->cur.kind == T_DOT && !p->cur.space_before)
        {
          advance (p);
          if (p->cur.space_before ||
              !(p->cur.kind == T_FIELD || p->cur.kind == T_STRING || p->cur.kind == T_LPAREN ||
                p->cur.kind == T_IDENT || p->cur.kind == T_IF || p->cur.kind == T_ELSE ||
                p->cur.kind == T_NULL || p->cur.kind == T_TRUE || p->cur.kind == T_FALSE ||
                p->cur.kind == T_ABORT || p->cur.kind == T_RETURN || p->cur.kind == T_RESERVED))
            {
              unexpected (p, _("a path field"));
              break;
            }
        }
      else if (p->cur.kind == T_LBRACKET && !p->cur.space_before)
        {
          CdvizVrlSegment segment = { VRL_SEG_INDEX, NULL, 0, NULL };

          advance (p);
          if (p->cur.kind != T_INT)
            {
              unexpected (p, _("an integer index"));
              break;
            }
          segment.index = p->cur.integer;
          advance (p);
          if (!expect (p, T_RBRACKET, "“]”"))
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

          advance (p);
          for (;;)
            {
              if (p->cur.kind == T_STRING || p->cur.kind == T_FIELD || p->cur.kind == T_IDENT)
                g_ptr_array_add (fields, g_strdup (p->cur.text));
              else
                {
                  unexpected (p, _("a path field"));
                  break;
                }
              advance (p);
              if (accept (p, T_PIPE))
                continue;
              break;
            }
          g_ptr_array_add (fields, NULL);
          segment.fields = (char **) g_ptr_array_free (fields, FALSE);
          g_array_append_val (path, segment);
          if (!expect (p, T_RPAREN, "“)”"))
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
      advance (p);
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
  advance (p);
  if (accept (p, T_BANG))
    node->abort_on_error = TRUE;
  expect (p, T_LPAREN, "“(”");
  skip_newlines (p);
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
              advance (p);
              advance (p);
              skip_newlines (p);
            }
        }
      arg = parse_arith (p);
      if (arg == NULL)
        {
          g_free (name);
          break;
        }
      g_ptr_array_add (node->children, arg);
      g_ptr_array_add (names, name);
      skip_newlines (p);
      if (!accept (p, T_COMMA))
        break;
      skip_newlines (p);
    }
  expect (p, T_RPAREN, "“)” or “,”");

  if (p->error == NULL && p->cur.kind == T_ARROW)
    {
      GPtrArray *params = g_ptr_array_new ();

      advance (p);
      if (p->cur.kind == T_OP && p->cur.op == VRL_OP_OR)
        advance (p);
      else if (expect (p, T_PIPE, "“|”"))
        {
          while (p->error == NULL && p->cur.kind != T_PIPE)
            {
              if (p->cur.kind == T_IDENT)
                g_ptr_array_add (params, g_strdup (p->cur.text));
              else if (p->cur.kind == T_UNDERSCORE)
                g_ptr_array_add (params, g_strdup (""));
              else
                {
                  unexpected (p, _("a closure parameter"));
                  break;
                }
              advance (p);
              skip_newlines (p);
              if (!accept (p, T_COMMA))
                break;
              skip_newlines (p);
            }
          expect (p, T_PIPE, "“|”");
        }
      node->n_closure = params->len;
      g_ptr_array_add (params, NULL);
      node->closure_names = (char **) g_ptr_array_free (params, FALSE);
      skip_newlines (p);
      if (p->error == NULL && p->cur.kind != T_LBRACE)
        unexpected (p, "“{”");
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
  advance (p);
  skip_newlines (p);
  while (p->error == NULL && p->cur.kind != T_RBRACE)
    {
      CdvizVrlNode *value;
      char *key;

      if (p->cur.kind != T_STRING)
        {
          unexpected (p, _("a quoted object key"));
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
      advance (p);
      skip_newlines (p);
      if (!expect (p, T_COLON, "“:”"))
        {
          g_free (key);
          break;
        }
      skip_newlines (p);
      value = parse_arith (p);
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
      skip_newlines (p);
      if (!accept (p, T_COMMA))
        break;
      skip_newlines (p);
    }
  g_ptr_array_add (keys, NULL);
  node->keys = (char **) g_ptr_array_free (keys, FALSE);
  expect (p, T_RBRACE, "“}” or “,”");
  node->end = p->prev == T_RBRACE ? p->cur.start : p->cur.start;
  return node;
}

static CdvizVrlNode *
parse_array (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_ARRAY, start);

  node->children = g_ptr_array_new ();
  advance (p);
  skip_newlines (p);
  while (p->error == NULL && p->cur.kind != T_RBRACKET)
    {
      CdvizVrlNode *item = parse_arith (p);

      if (item == NULL)
        break;
      g_ptr_array_add (node->children, item);
      skip_newlines (p);
      if (!accept (p, T_COMMA))
        break;
      skip_newlines (p);
    }
  expect (p, T_RBRACKET, "“]” or “,”");
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
  advance (p);
  for (;;)
    {
      CdvizVrlNode *expr;

      while (p->cur.kind == T_NEWLINE || p->cur.kind == T_SEMI)
        advance (p);
      if (p->error != NULL || p->cur.kind == T_RBRACE || p->cur.kind == T_EOF)
        break;
      expr = parse_expr (p, TRUE);
      if (expr == NULL)
        break;
      g_ptr_array_add (node->children, expr);
      if (p->cur.kind != T_NEWLINE && p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE)
        {
          unexpected (p, _("a newline, “;” or “}”"));
          break;
        }
    }
  p->depth--;
  expect (p, T_RBRACE, "“}”");
  node->end = p->cur.start;
  if (node->children->len == 0 && p->error == NULL)
    fail (p, start, _("syntax error: empty block"));
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
      node = parse_template (p, p->cur.text, p->cur.start, p->cur.end);
      advance (p);
      break;
    case T_RAWSTRING:
      node = literal (p, cdviz_vrl_bytes (p->cur.text, -1), start, p->cur.end);
      advance (p);
      break;
    case T_INT:
      node = literal (p, cdviz_vrl_integer (p->cur.integer), start, p->cur.end);
      advance (p);
      break;
    case T_FLOAT:
      node = literal (p, cdviz_vrl_float (p->cur.number), start, p->cur.end);
      advance (p);
      break;
    case T_TRUE:
    case T_FALSE:
      node = literal (p, cdviz_vrl_boolean (p->cur.kind == T_TRUE), start, p->cur.end);
      advance (p);
      break;
    case T_NULL:
      node = literal (p, cdviz_vrl_null (), start, p->cur.end);
      advance (p);
      break;
    case T_REGEX:
      {
        g_autoptr(GError) local_error = NULL;
        CdvizVrlValue *re = cdviz_vrl_regex (p->cur.text, &local_error);

        if (re == NULL)
          {
            fail (p, start, _("error[E202]: invalid regular expression: %s"), local_error->message);
            return NULL;
          }
        node = literal (p, re, start, p->cur.end);
        advance (p);
      }
      break;
    case T_TIMESTAMP:
      {
        gint64 seconds;
        gint32 nanos;

        if (!cdviz_vrl_parse_rfc3339 (p->cur.text, &seconds, &nanos))
          {
            fail (p, start, _("error[E601]: invalid timestamp literal “%s”"), p->cur.text);
            return NULL;
          }
        node = literal (p, cdviz_vrl_timestamp (seconds, nanos), start, p->cur.end);
        advance (p);
      }
      break;
    case T_LBRACKET:
      node = parse_array (p);
      break;
    case T_LBRACE:
      node = brace_is_object (p) ? parse_object (p) : parse_block (p);
      break;
    case T_LPAREN:
      advance (p);
      skip_newlines (p);
      node = new_node (p, VRL_N_GROUP, start);
      node->expr = parse_expr (p, TRUE);
      skip_newlines (p);
      expect (p, T_RPAREN, "“)”");
      node->end = p->cur.start;
      break;
    case T_FUNCALL:
      node = parse_call (p);
      break;
    case T_IDENT:
      node = new_node (p, VRL_N_VARIABLE, start);
      node->name = g_steal_pointer (&p->cur.text);
      advance (p);
      node->end = start + strlen (node->name);
      break;
    case T_DOT:
    case T_PERCENT:
      {
        CdvizVrlTarget target = p->cur.kind == T_DOT ? VRL_TARGET_EVENT : VRL_TARGET_METADATA;

        advance (p);
        return make_query (p, target, NULL, start, TRUE);
      }
    case T_FIELD:
      fail (p, start, _("syntax error: “%s” is not a variable name"), p->cur.text);
      return NULL;
    default:
      unexpected (p, _("an expression"));
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
      advance (p);
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
      advance (p);
      skip_newlines (p);
      rhs = parse_binary (p, prec + 1);
      if (rhs == NULL)
        {
          lhs = NULL;
          break;
        }
      if (prec == 3 && (current_op (p) >= 0 && precedence (current_op (p)) == 3))
        {
          fail (p, p->cur.start, _("syntax error: chained comparison operators"));
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

static CdvizVrlNode *
parse_arith (Parser *p)
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

      advance (p);
      node->end = node->start + 1;
      return node;
    }
  return parse_arith (p);
}

static CdvizVrlNode *
parse_if (Parser *p)
{
  guint start = p->cur.start;
  CdvizVrlNode *node = new_node (p, VRL_N_IF, start);

  advance (p);
  /* predicate: an expression, or `(a; b; c)` */
  node->expr = parse_arith (p);
  if (node->expr == NULL)
    return NULL;
  skip_newlines (p);
  if (p->cur.kind != T_LBRACE)
    {
      unexpected (p, "“{”");
      return NULL;
    }
  node->lhs = parse_block (p);
  if (node->lhs == NULL)
    return NULL;
  /* `else` may follow on the same line only (upstream: no newline before else) */
  if (p->cur.kind == T_ELSE)
    {
      advance (p);
      skip_newlines (p);
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
          unexpected (p, "“{” or “if”");
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
      advance (p);
      if (p->cur.kind != T_NEWLINE && p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE &&
          p->cur.kind != T_EOF && p->cur.kind != T_RPAREN)
        node->expr = parse_expr (p, FALSE);
      node->end = node->expr ? node->expr->end : start + 5;
      return p->error ? NULL : node;
    }
  if (p->cur.kind == T_RETURN)
    {
      node = new_node (p, VRL_N_RETURN, start);
      advance (p);
      node->expr = parse_expr (p, FALSE);
      node->end = node->expr ? node->expr->end : start + 6;
      return p->error ? NULL : node;
    }

  lhs = allow_assign ? parse_target_or_expr (p) : parse_arith (p);
  if (lhs == NULL || !allow_assign)
    return lhs;

  if (p->cur.kind == T_COMMA && is_target (lhs))
    {
      advance (p);
      err = parse_target_or_expr (p);
      if (err == NULL)
        return NULL;
      if (!is_target (err))
        {
          fail (p, err->start, _("syntax error: invalid assignment target"));
          return NULL;
        }
      if (p->cur.kind != T_ASSIGN && p->cur.kind != T_MERGE_ASSIGN)
        {
          unexpected (p, "“=”");
          return NULL;
        }
    }
  if (p->cur.kind == T_ASSIGN || p->cur.kind == T_MERGE_ASSIGN)
    {
      node = new_node (p, VRL_N_ASSIGN, start);
      if (!is_target (lhs))
        {
          fail (p, lhs->start, _("syntax error: invalid assignment target"));
          return NULL;
        }
      node->op = p->cur.kind == T_MERGE_ASSIGN;
      node->lhs = lhs;
      node->rhs = err;
      advance (p);
      skip_newlines (p);
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
      fail (p, lhs->start, _("syntax error: “_” can only be assigned to"));
      return NULL;
    }
  return lhs;
}

/* "text {{ expr }} text": literal parts and expressions, concatenated. */
static CdvizVrlNode *
parse_template (Parser     *p,
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
      return literal (p, cdviz_vrl_bytes (plain->str, plain->len), start, end);
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
              fail (p, start, _("syntax error: unterminated template “{{”"));
              return NULL;
            }
          if (lit->len > 0)
            {
              g_ptr_array_add (node->children, literal (p, cdviz_vrl_bytes (lit->str, lit->len), start, end));
              g_string_truncate (lit, 0);
            }
          inner = g_strndup (s + 2, close - s - 2);
          sub.src = inner;
          sub.len = strlen (inner);
          sub.program = p->program;
          sub.depth = p->depth;
          sub.cur.kind = T_NEWLINE;
          advance (&sub);
          expr = parse_arith (&sub);
          if (sub.error == NULL && sub.cur.kind != T_EOF)
            unexpected (&sub, "“}}”");
          g_clear_pointer (&sub.cur.text, g_free);
          if (sub.error != NULL)
            {
              fail (p, start, "%s", sub.error->message);
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
    g_ptr_array_add (node->children, literal (p, cdviz_vrl_bytes (lit->str, lit->len), start, end));
  return node;
}

CdvizVrlProgram *
cdviz_vrl_parse (const char  *source,
                 GError     **error)
{
  g_autoptr(CdvizVrlProgram) program = g_new0 (CdvizVrlProgram, 1);
  Parser p = { 0 };
  CdvizVrlNode *root;

  program->source = g_strdup (source);
  program->nodes = g_ptr_array_new_with_free_func (node_free);
  program->slot_names = g_ptr_array_new_with_free_func (g_free);
  program->warnings = g_ptr_array_new_with_free_func (g_free);

  p.src = program->source;
  p.len = strlen (p.src);
  p.program = program;
  p.cur.kind = T_NEWLINE;
  advance (&p);

  root = cdviz_vrl_node_new (program, VRL_N_BLOCK, 0, p.len);
  root->children = g_ptr_array_new ();
  for (;;)
    {
      CdvizVrlNode *expr;

      while (p.cur.kind == T_NEWLINE || p.cur.kind == T_SEMI)
        advance (&p);
      if (p.error != NULL || p.cur.kind == T_EOF)
        break;
      expr = parse_expr (&p, TRUE);
      if (expr == NULL)
        break;
      g_ptr_array_add (root->children, expr);
      if (p.cur.kind != T_NEWLINE && p.cur.kind != T_SEMI && p.cur.kind != T_EOF)
        unexpected (&p, _("a newline or “;”"));
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
