/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-file-parser.h"

/* The parsers of cdviz-collector's `opendal` and `cli` sources
 * (`src/sources/parsers.rs`, `src/sources/opendal/parsers.rs`): what a
 * file's bytes become. Unlike cdviz-collector, a bad line of a jsonl or
 * csv file does not end the file: it is logged with its line number and
 * skipped, and the lines after it are read. */

static const struct {
  const char *name;
  CdvizFileParser parser;
} parser_names[] = {
  { "auto", CDVIZ_FILE_PARSER_AUTO },
  { "json", CDVIZ_FILE_PARSER_JSON },
  { "jsonl", CDVIZ_FILE_PARSER_JSONL },
  { "csv_row", CDVIZ_FILE_PARSER_CSV_ROW },
  { "metadata", CDVIZ_FILE_PARSER_METADATA },
  { "xml", CDVIZ_FILE_PARSER_XML },
  { "yaml", CDVIZ_FILE_PARSER_YAML },
  { "tap", CDVIZ_FILE_PARSER_TAP },
  { "text", CDVIZ_FILE_PARSER_TEXT },
  { "text_line", CDVIZ_FILE_PARSER_TEXT_LINE },
  { "textline", CDVIZ_FILE_PARSER_TEXT_LINE },
};

gboolean
cdviz_file_parser_from_string (const char       *name,
                               CdvizFileParser  *out,
                               GError          **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (parser_names); i++)
    if (g_str_equal (name, parser_names[i].name))
      {
        *out = parser_names[i].parser;
        return TRUE;
      }
  g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
               _("key “parser”: unknown parser “%s” (known: auto, json, jsonl, csv_row, "
                 "metadata, xml, yaml, tap, text, text_line)"), name);
  return FALSE;
}

static char *
extension_of (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  const char *dot = strrchr (base, '.');

  return dot != NULL && dot != base ? g_ascii_strdown (dot + 1, -1) : NULL;
}

/* What `auto` does with @path. */
static CdvizFileParser
resolve (CdvizFileParser  parser,
         const char      *path,
         gboolean         log_per_line)
{
  g_autofree char *ext = NULL;

  if (parser != CDVIZ_FILE_PARSER_AUTO)
    return parser;
  ext = extension_of (path);
  if (ext == NULL)
    return CDVIZ_FILE_PARSER_JSON;
  if (g_str_equal (ext, "jsonl"))
    return CDVIZ_FILE_PARSER_JSONL;
  if (g_str_equal (ext, "csv"))
    return CDVIZ_FILE_PARSER_CSV_ROW;
  if (g_str_equal (ext, "yaml") || g_str_equal (ext, "yml"))
    return CDVIZ_FILE_PARSER_YAML;
  if (g_str_equal (ext, "tap"))
    return CDVIZ_FILE_PARSER_TAP;
  if (g_str_equal (ext, "xml"))
    return CDVIZ_FILE_PARSER_XML;
  if (g_str_equal (ext, "txt"))
    return CDVIZ_FILE_PARSER_TEXT;
  if (g_str_equal (ext, "log"))
    return log_per_line ? CDVIZ_FILE_PARSER_TEXT_LINE : CDVIZ_FILE_PARSER_TEXT;
  return CDVIZ_FILE_PARSER_JSON;
}

/* Whether @parser yields one body per record (line, row) of @path. */
gboolean
cdviz_file_parser_is_records (CdvizFileParser  parser,
                              const char      *path,
                              gboolean         log_per_line)
{
  switch (resolve (parser, path, log_per_line))
    {
    case CDVIZ_FILE_PARSER_JSONL:
    case CDVIZ_FILE_PARSER_CSV_ROW:
    case CDVIZ_FILE_PARSER_TEXT_LINE:
      return TRUE;
    default:
      return FALSE;
    }
}

static JsonNode *
parse_json (const char  *data,
            gsize        length,
            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local = NULL;

  if (!json_parser_load_from_data (parser, data, (gssize) length, &local))
    {
      /* json-glib names the input "<data>": say "line L:C" instead. */
      const char *text = local->message;

      if (g_str_has_prefix (text, "<data>:"))
        {
          g_set_error (error, local->domain, local->code, _("line %s"), text + 7);
          return NULL;
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           _("no JSON value"));
      return NULL;
    }
  return json_node_ref (json_parser_get_root (parser));
}

static JsonNode *
text_body (const char *text,
           gssize      length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *copy = g_strndup (text, length < 0 ? strlen (text) : (gsize) length);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, copy);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Calls @line_func on each line of @data (without its "\n" or "\r\n"). */
#define FOREACH_LINE(data, length, line, line_length, number, body)        \
  G_STMT_START {                                                            \
    const char *cursor_ = (data), *end_ = (data) + (length);                \
    for (guint number = 1; cursor_ < end_; number++)                        \
      {                                                                     \
        const char *nl_ = memchr (cursor_, '\n', end_ - cursor_);           \
        const char *line = cursor_;                                         \
        gsize line_length = (nl_ != NULL ? nl_ : end_) - cursor_;           \
        if (line_length > 0 && line[line_length - 1] == '\r')               \
          line_length--;                                                    \
        cursor_ = nl_ != NULL ? nl_ + 1 : end_;                             \
        body                                                                \
      }                                                                     \
  } G_STMT_END

gboolean
cdviz_text_is_blank (const char *s,
                     gsize       length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (s[i]))
      return FALSE;
  return TRUE;
}

static void
parse_jsonl (const char          *path,
             const char          *data,
             gsize                length,
             CdvizFileParserEmit  emit,
             gpointer             user_data,
             guint               *n_skipped)
{
  FOREACH_LINE (data, length, line, line_length, number, {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) body = NULL;

    if (cdviz_text_is_blank (line, line_length))
      continue;
    body = parse_json (line, line_length, &error);
    if (body == NULL)
      {
        g_warning ("%s:%u: not a JSON value (%s); line skipped", path, number, error->message);
        (*n_skipped)++;
        continue;
      }
    emit (body, user_data);
  });
}

static void
parse_text_lines (const char          *data,
                  gsize                length,
                  CdvizFileParserEmit  emit,
                  gpointer             user_data)
{
  FOREACH_LINE (data, length, line, line_length, number, {
    g_autoptr(JsonNode) body = NULL;
    g_autofree char *copy = g_strndup (line, line_length);

    (void) number;
    g_strstrip (copy);
    if (*copy == '\0')
      continue;
    body = text_body (copy, -1);
    emit (body, user_data);
  });
}

/* --- CSV (RFC 4180, as the csv crate reads it by default) ---------------------------- */

typedef struct {
  const char *p, *end;
  guint line;          /* of the cursor */
} CsvCursor;

/* Reads one record into @fields; FALSE at the end of the data. Sets *@bad
 * to a reason when a quoted field is malformed (the record is then read
 * to its end of line). Blank lines are skipped. */
static gboolean
csv_next_record (CsvCursor  *c,
                 GPtrArray  *fields,
                 guint      *first_line,
                 const char **bad)
{
  g_autoptr(GString) field = g_string_new (NULL);

  g_ptr_array_set_size (fields, 0);
  *bad = NULL;
  while (c->p < c->end && (*c->p == '\n' || *c->p == '\r'))
    {
      if (*c->p == '\n')
        c->line++;
      c->p++;
    }
  if (c->p >= c->end)
    return FALSE;
  *first_line = c->line;
  for (;;)
    {
      gboolean quoted = c->p < c->end && *c->p == '"';

      g_string_truncate (field, 0);
      if (quoted)
        {
          c->p++;
          for (;;)
            {
              if (c->p >= c->end)
                {
                  *bad = _("a quoted field is not closed");
                  break;
                }
              if (*c->p == '"')
                {
                  if (c->p + 1 < c->end && c->p[1] == '"')
                    {
                      g_string_append_c (field, '"');
                      c->p += 2;
                      continue;
                    }
                  c->p++;
                  break;
                }
              if (*c->p == '\n')
                c->line++;
              g_string_append_c (field, *c->p++);
            }
          /* Text after the closing quote is kept, as the csv crate does. */
        }
      while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
        g_string_append_c (field, *c->p++);
      g_ptr_array_add (fields, g_strndup (field->str, field->len));
      if (c->p < c->end && *c->p == ',')
        {
          c->p++;
          continue;
        }
      if (c->p < c->end && *c->p == '\r')
        c->p++;
      if (c->p < c->end && *c->p == '\n')
        {
          c->p++;
          c->line++;
        }
      return TRUE;
    }
}

static gboolean
parse_csv (const char          *path,
           const char          *data,
           gsize                length,
           CdvizFileParserEmit  emit,
           gpointer             user_data,
           guint               *n_skipped,
           GError             **error)
{
  CsvCursor c = { data, data + length, 1 };
  g_autoptr(GPtrArray) header = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  const char *bad = NULL;
  guint line = 1;

  if (!csv_next_record (&c, header, &line, &bad) || bad != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s:%u: no CSV header row%s%s"), path, line, bad ? ": " : "", bad ?: "");
      return FALSE;
    }
  while (csv_next_record (&c, fields, &line, &bad))
    {
      g_autoptr(JsonObject) object = NULL;
      g_autoptr(JsonNode) body = NULL;

      if (bad == NULL && fields->len != header->len)
        bad = _("not as many fields as the header row");
      if (bad != NULL)
        {
          g_warning ("%s:%u: %s (%u fields, the header has %u); row skipped", path, line, bad,
                     fields->len, header->len);
          (*n_skipped)++;
          continue;
        }
      object = json_object_new ();
      for (guint i = 0; i < header->len; i++)
        json_object_set_string_member (object, header->pdata[i], fields->pdata[i]);
      body = json_node_init_object (json_node_alloc (), object);
      emit (body, user_data);
    }
  return TRUE;
}

gboolean
cdviz_file_parser_parse (CdvizFileParser       parser,
                         const char           *path,
                         const char           *data,
                         gsize                 length,
                         gboolean              log_per_line,
                         CdvizFileParserEmit   emit,
                         gpointer              user_data,
                         guint                *n_skipped,
                         GError              **error)
{
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GError) local = NULL;
  const char *bad_utf8 = NULL;
  guint dummy = 0;

  if (n_skipped == NULL)
    n_skipped = &dummy;
  if (!g_utf8_validate (data, (gssize) length, &bad_utf8))
    {
      guint line = 1;

      for (const char *p = data; p < bad_utf8; p++)
        line += *p == '\n';
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s:%u: not UTF-8 text"), path, line);
      return FALSE;
    }

  switch (resolve (parser, path, log_per_line))
    {
    case CDVIZ_FILE_PARSER_JSONL:
      parse_jsonl (path, data, length, emit, user_data, n_skipped);
      return TRUE;
    case CDVIZ_FILE_PARSER_CSV_ROW:
      return parse_csv (path, data, length, emit, user_data, n_skipped, error);
    case CDVIZ_FILE_PARSER_TEXT_LINE:
      parse_text_lines (data, length, emit, user_data);
      return TRUE;
    case CDVIZ_FILE_PARSER_TEXT:
      body = text_body (data, (gssize) length);
      break;
    case CDVIZ_FILE_PARSER_TAP:
      body = cdviz_tap_to_json (data, length);
      break;
    case CDVIZ_FILE_PARSER_YAML:
      body = cdviz_yaml_to_json (data, length, &local);
      if (body == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s: not YAML: %s"),
                       path, local->message);
          return FALSE;
        }
      break;
    case CDVIZ_FILE_PARSER_XML:
      body = cdviz_xml_to_json (data, length, &local);
      if (body == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s: not XML: %s"),
                       path, local->message);
          return FALSE;
        }
      break;
    case CDVIZ_FILE_PARSER_METADATA:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("%s: the “metadata” parser reads no content"), path);
      return FALSE;
    case CDVIZ_FILE_PARSER_AUTO:
    case CDVIZ_FILE_PARSER_JSON:
    default:
      body = parse_json (data, length, &local);
      if (body == NULL)
        {
          /* json-glib's message starts with "<data>:LINE:COLUMN". */
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s: not JSON: %s"),
                       path, local->message);
          return FALSE;
        }
      break;
    }
  emit (body, user_data);
  return TRUE;
}
