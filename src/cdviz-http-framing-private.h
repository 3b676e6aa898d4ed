/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * CdvizHttpFraming: follows the framing of the HTTP/1.x requests arriving on
 * one connection (request heads, Content-Length and chunked bodies, trailers,
 * pipelined requests), byte by byte, without buffering them, and stops at
 * the first byte that makes the framing ambiguous or invalid: the answer a
 * proxy in front and this server would disagree on. libsoup 3.2.3 accepts
 * such requests (Content-Length with Transfer-Encoding, two Content-Lengths,
 * `Content-Length : 5`, `+5`, `-1`, chunk sizes such as `0x5`, chunk data
 * without its CRLF); the server feeds every byte it reads through this
 * before libsoup sees it, and answers 400 (or 501) and closes at the first
 * error, as nginx does.
 */

typedef enum {
  CDVIZ_HTTP_FRAMING_REQUEST_LINE,
  CDVIZ_HTTP_FRAMING_FIELD_START,
  CDVIZ_HTTP_FRAMING_FIELD_NAME,
  CDVIZ_HTTP_FRAMING_FIELD_VALUE,
  CDVIZ_HTTP_FRAMING_LINE_LF,
  CDVIZ_HTTP_FRAMING_BODY,
  CDVIZ_HTTP_FRAMING_CHUNK_SIZE,
  CDVIZ_HTTP_FRAMING_CHUNK_EXT,
  CDVIZ_HTTP_FRAMING_CHUNK_SIZE_LF,
  CDVIZ_HTTP_FRAMING_CHUNK_DATA,
  CDVIZ_HTTP_FRAMING_CHUNK_DATA_CR,
  CDVIZ_HTTP_FRAMING_CHUNK_DATA_LF,
  CDVIZ_HTTP_FRAMING_FAILED,
} CdvizHttpFramingState;

typedef struct {
  CdvizHttpFramingState state;
  CdvizHttpFramingState after_lf;  /* where LINE_LF goes */
  gboolean in_trailer;             /* fields after the last chunk */
  gboolean line_has_content;       /* the current head line is not empty */

  /* the field being read */
  guint name_len;
  guint name_match;                /* bit 0: content-length, bit 1: transfer-encoding */
  char value[32];
  guint value_len;
  gboolean value_too_long;

  /* the request head being read */
  gboolean has_length;
  gboolean has_encoding;
  gboolean chunked;
  guint64 length;

  /* the body being read */
  guint64 remaining;
  guint size_digits;
  guint ext_len;

  guint64 offset;                  /* bytes accepted so far */
  guint64 requests;                /* request heads completed */
  guint status;                    /* once failed: 400 or 501 */
  const char *reason;              /* once failed: static text */
} CdvizHttpFraming;

void   cdviz_http_framing_init (CdvizHttpFraming *framing);
gsize  cdviz_http_framing_feed (CdvizHttpFraming *framing,
                                const guint8     *data,
                                gsize             length);
gboolean cdviz_http_framing_failed (const CdvizHttpFraming *framing);
gboolean cdviz_http_framing_in_body (const CdvizHttpFraming *framing);

G_END_DECLS
