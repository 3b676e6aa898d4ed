/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

/* cdviz-collector's `parser` values (`src/sources/parsers.rs`). */
typedef enum {
  CDVIZ_FILE_PARSER_AUTO,
  CDVIZ_FILE_PARSER_JSON,
  CDVIZ_FILE_PARSER_JSONL,
  CDVIZ_FILE_PARSER_CSV_ROW,
  CDVIZ_FILE_PARSER_METADATA,
  CDVIZ_FILE_PARSER_XML,
  CDVIZ_FILE_PARSER_YAML,
  CDVIZ_FILE_PARSER_TAP,
  CDVIZ_FILE_PARSER_TEXT,
  CDVIZ_FILE_PARSER_TEXT_LINE,
} CdvizFileParser;

/* Files larger than this are refused (logged, skipped): a file is read
 * whole, as cdviz-collector reads it. */
#define CDVIZ_FILE_PARSER_MAX_SIZE (32 * 1024 * 1024)

#define CDVIZ_FILE_PARSER_DOC \
  "\"auto\" (by extension: .json, .jsonl, .csv, .yaml/.yml, .xml, .tap, .txt, .log; " \
  "JSON otherwise), \"json\", \"jsonl\" (one event per line), \"csv_row\" (one " \
  "event per row, an object keyed by the header row), \"yaml\", \"tap\" (a TAP " \
  "test report as an object), \"text\" ({\"text\": whole file}), \"text_line\" " \
  "(one {\"text\": line} per non-empty line), \"xml\" ({ROOT: {\"@attribute\", " \
  "\"#c\": [child elements], \"#t\": text}}) or \"metadata\" (no body, the " \
  "file's metadata only)"

/* Called for each body a file yields; @body is borrowed. */
typedef void (*CdvizFileParserEmit) (JsonNode *body,
                                     gpointer  user_data);

gboolean  cdviz_file_parser_from_string (const char           *name,
                                         CdvizFileParser      *out,
                                         GError              **error);
gboolean  cdviz_file_parser_is_records  (CdvizFileParser       parser,
                                         const char           *path,
                                         gboolean              log_per_line);
/* Parses @data (of @path, used for `auto` and in messages). One emit per
 * body. A bad line of a jsonl, csv or text_line file is logged with
 * @path and its line number, counted in @n_skipped and skipped; a file
 * that cannot be read at all fails with @error. @log_per_line: `auto`
 * reads a .log file line by line (the opendal source) rather than whole
 * (the cli source). */
gboolean  cdviz_file_parser_parse       (CdvizFileParser       parser,
                                         const char           *path,
                                         const char           *data,
                                         gsize                 length,
                                         gboolean              log_per_line,
                                         CdvizFileParserEmit   emit,
                                         gpointer              user_data,
                                         guint                *n_skipped,
                                         GError              **error);

gboolean  cdviz_text_is_blank           (const char           *s,
                                         gsize                 length);

/* YAML (one document) → JSON, as cdviz-collector's serde_yaml → serde_json. */
JsonNode *cdviz_yaml_to_json            (const char           *data,
                                         gsize                 length,
                                         GError              **error);
/* XML → JSON, as cdviz-collector's quick-xml-to-json mapping. */
JsonNode *cdviz_xml_to_json             (const char           *data,
                                         gsize                 length,
                                         GError              **error);
/* A TAP (Test Anything Protocol) report → cdviz-collector's TapDocument. */
JsonNode *cdviz_tap_to_json             (const char           *data,
                                         gsize                 length);

G_END_DECLS
