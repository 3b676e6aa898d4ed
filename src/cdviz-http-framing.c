/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz-http-framing-private.h"

/* The framing of HTTP/1.1 requests, RFC 9112 §2–§7, as strictly as nginx
 * reads it: header field names are tokens followed at once by a colon,
 * no obsolete line folding, one Content-Length of digits only, one
 * Transfer-Encoding that is exactly "chunked" and never beside a
 * Content-Length, chunk sizes of hex digits only, chunk data followed by
 * CRLF. Lines of the head may end with LF alone (libsoup and nginx accept
 * it); the chunked framing must use CRLF. Bodies are skipped in bulk, so
 * following them costs nothing per byte. */

#define MATCH_LENGTH   (1u << 0)
#define MATCH_ENCODING (1u << 1)
#define MAX_SIZE_DIGITS 15   /* 2^60 - 1: far past any body limit */
#define MAX_LENGTH_DIGITS 18 /* below 2^63 */
#define MAX_EXT_LEN 4096

static const char content_length[] = "content-length";
static const char transfer_encoding[] = "transfer-encoding";

/* RFC 9110 §5.6.2 tchar */
static gboolean
is_tchar (guint8 c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean
is_ctl (guint8 c)
{
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
hex_value (guint8 c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void
reset_request (CdvizHttpFraming *framing)
{
  framing->state = CDVIZ_HTTP_FRAMING_REQUEST_LINE;
  framing->in_trailer = FALSE;
  framing->line_has_content = FALSE;
  framing->has_length = FALSE;
  framing->has_encoding = FALSE;
  framing->chunked = FALSE;
  framing->length = 0;
  framing->remaining = 0;
}

/**
 * cdviz_http_framing_init:
 * @framing: the framing state of a new connection
 *
 * Starts following a new connection, before its first request.
 */
void
cdviz_http_framing_init (CdvizHttpFraming *framing)
{
  memset (framing, 0, sizeof *framing);
  reset_request (framing);
}

static void
fail (CdvizHttpFraming *framing,
      guint             status,
      const char       *reason)
{
  framing->state = CDVIZ_HTTP_FRAMING_FAILED;
  framing->status = status;
  framing->reason = reason;
}

static void
start_field (CdvizHttpFraming *framing)
{
  framing->name_len = 0;
  framing->name_match = framing->in_trailer ? 0 : MATCH_LENGTH | MATCH_ENCODING;
  framing->value_len = 0;
  framing->value_too_long = FALSE;
}

static void
name_char (CdvizHttpFraming *framing,
           guint8            c)
{
  guint i = framing->name_len++;
  guint8 lower = g_ascii_tolower (c);

  if ((framing->name_match & MATCH_LENGTH) &&
      (i >= sizeof content_length - 1 || content_length[i] != lower))
    framing->name_match &= ~MATCH_LENGTH;
  if ((framing->name_match & MATCH_ENCODING) &&
      (i >= sizeof transfer_encoding - 1 || transfer_encoding[i] != lower))
    framing->name_match &= ~MATCH_ENCODING;
}

/* The colon: a whole name matches only if it has the right length. */
static void
end_name (CdvizHttpFraming *framing)
{
  if (framing->name_len != sizeof content_length - 1)
    framing->name_match &= ~MATCH_LENGTH;
  if (framing->name_len != sizeof transfer_encoding - 1)
    framing->name_match &= ~MATCH_ENCODING;
}

static void
value_char (CdvizHttpFraming *framing,
            guint8            c)
{
  if (framing->name_match == 0)
    return;
  if (framing->value_len == 0 && (c == ' ' || c == '\t'))
    return;   /* leading OWS */
  if (framing->value_len < sizeof framing->value - 1)
    framing->value[framing->value_len++] = (char) c;
  else
    framing->value_too_long = TRUE;
}

static void
end_field (CdvizHttpFraming *framing)
{
  guint len = framing->value_len;

  if (framing->name_match == 0)
    return;

  while (len > 0 && (framing->value[len - 1] == ' ' || framing->value[len - 1] == '\t'))
    len--;
  framing->value[len] = '\0';

  if (framing->name_match & MATCH_LENGTH)
    {
      guint64 length = 0;

      if (framing->has_length)
        {
          fail (framing, 400, "more than one Content-Length header field");
          return;
        }
      if (len == 0 || len > MAX_LENGTH_DIGITS || framing->value_too_long)
        {
          fail (framing, 400, "invalid Content-Length");
          return;
        }
      for (guint i = 0; i < len; i++)
        {
          if (!g_ascii_isdigit (framing->value[i]))
            {
              fail (framing, 400, "invalid Content-Length");
              return;
            }
          length = length * 10 + (guint64) (framing->value[i] - '0');
        }
      framing->has_length = TRUE;
      framing->length = length;
    }
  else
    {
      if (framing->has_encoding)
        {
          fail (framing, 400, "more than one Transfer-Encoding header field");
          return;
        }
      framing->has_encoding = TRUE;
      if (framing->value_too_long || g_ascii_strcasecmp (framing->value, "chunked") != 0)
        {
          fail (framing, 501, "unsupported Transfer-Encoding (only chunked is)");
          return;
        }
      framing->chunked = TRUE;
    }
}

static void
end_of_head (CdvizHttpFraming *framing)
{
  if (framing->in_trailer)
    {
      reset_request (framing);
      return;
    }

  framing->requests++;
  if (framing->has_length && framing->has_encoding)
    fail (framing, 400, "both Content-Length and Transfer-Encoding");
  else if (framing->chunked)
    {
      framing->state = CDVIZ_HTTP_FRAMING_CHUNK_SIZE;
      framing->remaining = 0;
      framing->size_digits = 0;
    }
  else if (framing->has_length && framing->length > 0)
    {
      framing->state = CDVIZ_HTTP_FRAMING_BODY;
      framing->remaining = framing->length;
    }
  else
    reset_request (framing);
}

/* A line of the head ended (LF seen). */
static void
end_line (CdvizHttpFraming *framing)
{
  switch (framing->state)
    {
    case CDVIZ_HTTP_FRAMING_REQUEST_LINE:
      /* Empty lines before a request line: libsoup refuses them itself. */
      if (framing->line_has_content)
        {
          framing->state = CDVIZ_HTTP_FRAMING_FIELD_START;
          start_field (framing);
        }
      break;
    case CDVIZ_HTTP_FRAMING_FIELD_START:
      end_of_head (framing);
      break;
    case CDVIZ_HTTP_FRAMING_FIELD_VALUE:
      end_field (framing);
      if (framing->state != CDVIZ_HTTP_FRAMING_FAILED)
        {
          framing->state = CDVIZ_HTTP_FRAMING_FIELD_START;
          start_field (framing);
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* One byte of the head (request line, fields, trailer fields). */
static void
head_byte (CdvizHttpFraming *framing,
           guint8            c)
{
  if (framing->state == CDVIZ_HTTP_FRAMING_LINE_LF)
    {
      if (c != '\n')
        {
          fail (framing, 400, "CR not followed by LF in the request head");
          return;
        }
      framing->state = framing->after_lf;
      end_line (framing);
      return;
    }

  if (c == '\r' || c == '\n')
    {
      if (framing->state == CDVIZ_HTTP_FRAMING_FIELD_NAME)
        {
          fail (framing, 400, "header field without a colon");
          return;
        }
      if (c == '\r')
        {
          framing->after_lf = framing->state;
          framing->state = CDVIZ_HTTP_FRAMING_LINE_LF;
        }
      else
        end_line (framing);
      return;
    }

  switch (framing->state)
    {
    case CDVIZ_HTTP_FRAMING_REQUEST_LINE:
      if (is_ctl (c))
        fail (framing, 400, "control character in the request line");
      framing->line_has_content = TRUE;
      break;

    case CDVIZ_HTTP_FRAMING_FIELD_START:
      if (c == ' ' || c == '\t')
        fail (framing, 400, "obsolete line folding in the request head");
      else if (c == ':')
        fail (framing, 400, "empty header field name");
      else if (!is_tchar (c))
        fail (framing, 400, "invalid character in a header field name");
      else
        {
          framing->state = CDVIZ_HTTP_FRAMING_FIELD_NAME;
          name_char (framing, c);
        }
      break;

    case CDVIZ_HTTP_FRAMING_FIELD_NAME:
      if (c == ':')
        {
          end_name (framing);
          framing->state = CDVIZ_HTTP_FRAMING_FIELD_VALUE;
        }
      else if (c == ' ' || c == '\t')
        fail (framing, 400, "whitespace between a header field name and its colon");
      else if (!is_tchar (c))
        fail (framing, 400, "invalid character in a header field name");
      else
        name_char (framing, c);
      break;

    case CDVIZ_HTTP_FRAMING_FIELD_VALUE:
      if (is_ctl (c))
        fail (framing, 400, "control character in a header field value");
      else
        value_char (framing, c);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
chunk_byte (CdvizHttpFraming *framing,
            guint8            c)
{
  int v;

  switch (framing->state)
    {
    case CDVIZ_HTTP_FRAMING_CHUNK_SIZE:
      v = hex_value (c);
      if (v >= 0)
        {
          if (framing->size_digits++ == MAX_SIZE_DIGITS)
            fail (framing, 400, "chunk size too large");
          framing->remaining = framing->remaining * 16 + (guint64) v;
        }
      else if (framing->size_digits == 0)
        fail (framing, 400, "invalid chunk size");
      else if (c == ';')
        {
          framing->state = CDVIZ_HTTP_FRAMING_CHUNK_EXT;
          framing->ext_len = 0;
        }
      else if (c == '\r')
        framing->state = CDVIZ_HTTP_FRAMING_CHUNK_SIZE_LF;
      else
        fail (framing, 400, "invalid chunk size");
      break;

    case CDVIZ_HTTP_FRAMING_CHUNK_EXT:
      if (c == '\r')
        framing->state = CDVIZ_HTTP_FRAMING_CHUNK_SIZE_LF;
      else if (is_ctl (c) || ++framing->ext_len > MAX_EXT_LEN)
        fail (framing, 400, "invalid chunk extension");
      break;

    case CDVIZ_HTTP_FRAMING_CHUNK_SIZE_LF:
      if (c != '\n')
        fail (framing, 400, "chunk size line not ended by CRLF");
      else if (framing->remaining == 0)
        {
          /* the last chunk: trailer fields, then an empty line */
          framing->in_trailer = TRUE;
          framing->state = CDVIZ_HTTP_FRAMING_FIELD_START;
          start_field (framing);
        }
      else
        framing->state = CDVIZ_HTTP_FRAMING_CHUNK_DATA;
      break;

    case CDVIZ_HTTP_FRAMING_CHUNK_DATA_CR:
      if (c != '\r')
        fail (framing, 400, "chunk data not followed by CRLF");
      else
        framing->state = CDVIZ_HTTP_FRAMING_CHUNK_DATA_LF;
      break;

    case CDVIZ_HTTP_FRAMING_CHUNK_DATA_LF:
      if (c != '\n')
        fail (framing, 400, "chunk data not followed by CRLF");
      else
        {
          framing->state = CDVIZ_HTTP_FRAMING_CHUNK_SIZE;
          framing->remaining = 0;
          framing->size_digits = 0;
        }
      break;

    default:
      g_assert_not_reached ();
    }
}

/**
 * cdviz_http_framing_feed:
 * @framing: the framing state of a connection
 * @data: the next bytes read from the connection
 * @length: how many
 *
 * Follows @data. Returns how many of its bytes are valid: @length, or the
 * offset of the first byte that makes the framing invalid (then
 * cdviz_http_framing_failed() is %TRUE, and the status and reason say
 * why). Once failed, accepts nothing more.
 *
 * Returns: the number of valid bytes at the start of @data
 */
gsize
cdviz_http_framing_feed (CdvizHttpFraming *framing,
                         const guint8     *data,
                         gsize             length)
{
  gsize i = 0;

  while (i < length && framing->state != CDVIZ_HTTP_FRAMING_FAILED)
    {
      switch (framing->state)
        {
        case CDVIZ_HTTP_FRAMING_BODY:
        case CDVIZ_HTTP_FRAMING_CHUNK_DATA:
          {
            guint64 n = MIN (framing->remaining, (guint64) (length - i));

            i += n;
            framing->remaining -= n;
            if (framing->remaining == 0)
              {
                if (framing->state == CDVIZ_HTTP_FRAMING_BODY)
                  reset_request (framing);
                else
                  framing->state = CDVIZ_HTTP_FRAMING_CHUNK_DATA_CR;
              }
            continue;
          }
        case CDVIZ_HTTP_FRAMING_CHUNK_SIZE:
        case CDVIZ_HTTP_FRAMING_CHUNK_EXT:
        case CDVIZ_HTTP_FRAMING_CHUNK_SIZE_LF:
        case CDVIZ_HTTP_FRAMING_CHUNK_DATA_CR:
        case CDVIZ_HTTP_FRAMING_CHUNK_DATA_LF:
          chunk_byte (framing, data[i]);
          break;
        default:
          head_byte (framing, data[i]);
          break;
        }
      if (framing->state != CDVIZ_HTTP_FRAMING_FAILED)
        i++;
    }

  framing->offset += i;
  return i;
}

/**
 * cdviz_http_framing_failed:
 * @framing: the framing state of a connection
 *
 * Returns: whether an invalid byte was found (see the status and reason)
 */
gboolean
cdviz_http_framing_failed (const CdvizHttpFraming *framing)
{
  return framing->state == CDVIZ_HTTP_FRAMING_FAILED;
}

/**
 * cdviz_http_framing_in_body:
 * @framing: the framing state of a connection
 *
 * Returns: whether the connection is in the body (or chunked framing, or
 *   trailer) of a request
 */
gboolean
cdviz_http_framing_in_body (const CdvizHttpFraming *framing)
{
  switch (framing->state)
    {
    case CDVIZ_HTTP_FRAMING_REQUEST_LINE:
    case CDVIZ_HTTP_FRAMING_FIELD_START:
    case CDVIZ_HTTP_FRAMING_FIELD_NAME:
    case CDVIZ_HTTP_FRAMING_FIELD_VALUE:
    case CDVIZ_HTTP_FRAMING_LINE_LF:
      return framing->in_trailer;
    case CDVIZ_HTTP_FRAMING_FAILED:
      return FALSE;
    default:
      return TRUE;
    }
}
