/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "cdviz-sse-parser-private.h"

/* See cdviz-sse-parser-private.h for the rules; the names below follow the
 * specification's ("data buffer", "event type buffer", "last event ID
 * buffer"). */

static const guint8 bom[] = { 0xEF, 0xBB, 0xBF };

struct _CdvizSseParser
{
  gsize max_size;

  guint bom_pos;            /* bytes of the BOM matched; 3: no longer looked for */
  gboolean after_cr;        /* the last byte was a CR: a LF right after it is skipped */
  GString *line;            /* the line being read, raw bytes */
  gboolean line_too_long;   /* the line passed max_size: its end is awaited */

  GString *data;            /* data buffer */
  gboolean data_seen;       /* a `data` field was seen in this event */
  char *type;               /* event type buffer, NULL when empty */
  gboolean discarding;      /* the event passed max_size */
  char *id_buffer;          /* last event ID buffer (never NULL) */
  char *last_id;            /* last event ID string (never NULL) */
  char *queued_id;          /* the id of the newest queued item (never NULL) */

  gint64 retry;             /* -1: none since the last take */
  GQueue events;            /* CdvizSseEvent */
  guint64 n_oversized;
};

CdvizSseParser *
_cdviz_sse_parser_new (gsize max_size)
{
  CdvizSseParser *parser = g_new0 (CdvizSseParser, 1);

  parser->max_size = max_size > 0 ? max_size : G_MAXSIZE;
  parser->line = g_string_new (NULL);
  parser->data = g_string_new (NULL);
  parser->id_buffer = g_strdup ("");
  parser->last_id = g_strdup ("");
  parser->queued_id = g_strdup ("");
  parser->retry = -1;
  g_queue_init (&parser->events);
  return parser;
}

void
_cdviz_sse_event_free (CdvizSseEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->type);
  g_free (event->id);
  g_free (event->data);
  g_free (event);
}

static void
clear_event (CdvizSseParser *parser)
{
  g_string_truncate (parser->data, 0);
  parser->data_seen = FALSE;
  g_clear_pointer (&parser->type, g_free);
  parser->discarding = FALSE;
}

void
_cdviz_sse_parser_reset (CdvizSseParser *parser)
{
  parser->bom_pos = 0;
  parser->after_cr = FALSE;
  g_string_truncate (parser->line, 0);
  parser->line_too_long = FALSE;
  clear_event (parser);
  g_free (parser->id_buffer);
  parser->id_buffer = g_strdup (parser->last_id);
  g_free (parser->queued_id);
  parser->queued_id = g_strdup (parser->last_id);
  g_queue_clear_full (&parser->events, (GDestroyNotify) _cdviz_sse_event_free);
}

void
_cdviz_sse_parser_free (CdvizSseParser *parser)
{
  if (parser == NULL)
    return;
  g_queue_clear_full (&parser->events, (GDestroyNotify) _cdviz_sse_event_free);
  g_string_free (parser->line, TRUE);
  g_string_free (parser->data, TRUE);
  g_free (parser->type);
  g_free (parser->id_buffer);
  g_free (parser->last_id);
  g_free (parser->queued_id);
  g_free (parser);
}

/* Appends @length bytes to @out as UTF-8: valid sequences and NULs as they
 * are, each invalid byte sequence as U+FFFD (the spec decodes with
 * replacement). */
static void
append_utf8 (GString    *out,
             const char *text,
             gsize       length)
{
  while (length > 0)
    {
      const char *nul = memchr (text, '\0', length);
      gsize segment = nul != NULL ? (gsize) (nul - text) : length;

      if (g_utf8_validate_len (text, segment, NULL))
        g_string_append_len (out, text, segment);
      else
        {
          g_autofree char *valid = g_utf8_make_valid (text, segment);
          g_string_append (out, valid);
        }
      if (nul == NULL)
        break;
      g_string_append_c (out, '\0');
      text += segment + 1;
      length -= segment + 1;
    }
}

static char *
utf8_string (const char *text,
             gsize       length)
{
  GString *out = g_string_sized_new (length);

  append_utf8 (out, text, length);
  return g_string_free (out, FALSE);
}

static void
queue_id_update_if_changed (CdvizSseParser *parser)
{
  CdvizSseEvent *event;

  if (g_str_equal (parser->queued_id, parser->last_id))
    return;
  event = g_new0 (CdvizSseEvent, 1);
  event->id = g_strdup (parser->last_id);
  g_free (parser->queued_id);
  parser->queued_id = g_strdup (parser->last_id);
  g_queue_push_tail (&parser->events, event);
}

static void
dispatch (CdvizSseParser *parser)
{
  CdvizSseEvent *event;

  g_free (parser->last_id);
  parser->last_id = g_strdup (parser->id_buffer);

  if (parser->discarding)
    {
      parser->n_oversized++;
      g_debug ("SSE event of more than %" G_GSIZE_FORMAT " bytes discarded", parser->max_size);
      clear_event (parser);
      queue_id_update_if_changed (parser);
      return;
    }
  if (!parser->data_seen)
    {
      clear_event (parser);
      queue_id_update_if_changed (parser);
      return;
    }

  event = g_new0 (CdvizSseEvent, 1);
  event->type = parser->type != NULL ? g_steal_pointer (&parser->type) : g_strdup ("message");
  event->id = g_strdup (parser->last_id);
  /* The data buffer ends with the LF of its last line: dropped. */
  event->data_len = parser->data->len - 1;
  event->data = g_malloc (event->data_len + 1);   /* not g_strndup: NULs are data */
  memcpy (event->data, parser->data->str, event->data_len);
  event->data[event->data_len] = '\0';
  g_free (parser->queued_id);
  parser->queued_id = g_strdup (parser->last_id);
  g_queue_push_tail (&parser->events, event);
  clear_event (parser);
}

static gboolean
field_is (const char *line,
          gsize       name_len,
          const char *name)
{
  return strlen (name) == name_len && memcmp (line, name, name_len) == 0;
}

static void
process_line (CdvizSseParser *parser)
{
  const char *line = parser->line->str;
  gsize length = parser->line->len;
  const char *colon;
  gsize name_len;
  const char *value;
  gsize value_len;

  if (parser->line_too_long)
    {
      parser->line_too_long = FALSE;
      parser->discarding = TRUE;
      return;
    }
  if (length == 0)
    {
      dispatch (parser);
      return;
    }
  if (line[0] == ':')
    return;

  colon = memchr (line, ':', length);
  if (colon != NULL)
    {
      name_len = colon - line;
      value = colon + 1;
      value_len = length - name_len - 1;
      if (value_len > 0 && value[0] == ' ')
        value++, value_len--;
    }
  else
    {
      name_len = length;
      value = line + length;
      value_len = 0;
    }

  if (field_is (line, name_len, "data"))
    {
      parser->data_seen = TRUE;
      if (parser->discarding)
        return;
      if (parser->data->len + value_len + 1 > parser->max_size)
        {
          parser->discarding = TRUE;
          g_string_truncate (parser->data, 0);
          return;
        }
      append_utf8 (parser->data, value, value_len);
      g_string_append_c (parser->data, '\n');
    }
  else if (field_is (line, name_len, "event"))
    {
      g_free (parser->type);
      parser->type = value_len > 0 ? utf8_string (value, value_len) : NULL;
    }
  else if (field_is (line, name_len, "id"))
    {
      if (memchr (value, '\0', value_len) != NULL)
        return;
      g_free (parser->id_buffer);
      parser->id_buffer = utf8_string (value, value_len);
    }
  else if (field_is (line, name_len, "retry"))
    {
      gint64 retry = 0;

      if (value_len == 0)
        return;
      for (gsize i = 0; i < value_len; i++)
        {
          if (!g_ascii_isdigit (value[i]))
            return;
          if (retry <= (G_MAXINT64 - 9) / 10)
            retry = retry * 10 + (value[i] - '0');
        }
      parser->retry = retry;
    }
  /* Any other field is ignored. */
}

static void
end_line (CdvizSseParser *parser)
{
  process_line (parser);
  g_string_truncate (parser->line, 0);
}

static void
feed_bytes (CdvizSseParser *parser,
            const guint8   *data,
            gsize           length)
{
  gsize start = 0;

  for (gsize i = 0; i < length; i++)
    {
      guint8 c = data[i];

      if (c != '\n' && c != '\r')
        continue;
      if (c == '\n' && parser->after_cr && i == start && parser->line->len == 0 &&
          !parser->line_too_long)
        {
          /* The LF of a CRLF: the CR ended the line already. */
          parser->after_cr = FALSE;
          start = i + 1;
          continue;
        }
      if (!parser->line_too_long)
        {
          if (parser->line->len + (i - start) > parser->max_size)
            parser->line_too_long = TRUE;
          else
            g_string_append_len (parser->line, (const char *) data + start, i - start);
        }
      end_line (parser);
      parser->after_cr = c == '\r';
      start = i + 1;
    }

  if (start < length)
    {
      parser->after_cr = FALSE;
      if (!parser->line_too_long)
        {
          if (parser->line->len + (length - start) > parser->max_size)
            {
              parser->line_too_long = TRUE;
              g_string_truncate (parser->line, 0);
            }
          else
            g_string_append_len (parser->line, (const char *) data + start, length - start);
        }
    }
}

void
_cdviz_sse_parser_feed (CdvizSseParser *parser,
                        const guint8   *data,
                        gsize           length)
{
  /* The BOM, possibly split between feeds; what matched of it is line
   * content when the rest does not follow. */
  while (parser->bom_pos < G_N_ELEMENTS (bom) && length > 0)
    {
      if (data[0] == bom[parser->bom_pos])
        {
          parser->bom_pos++;
          data++;
          length--;
          continue;
        }
      {
        guint matched = parser->bom_pos;

        parser->bom_pos = G_N_ELEMENTS (bom);
        feed_bytes (parser, bom, matched);
      }
    }
  if (length > 0)
    feed_bytes (parser, data, length);
}

CdvizSseEvent *
_cdviz_sse_parser_pop (CdvizSseParser *parser)
{
  return g_queue_pop_head (&parser->events);
}

guint
_cdviz_sse_parser_n_queued (CdvizSseParser *parser)
{
  return parser->events.length;
}

gint64
_cdviz_sse_parser_take_retry (CdvizSseParser *parser)
{
  gint64 retry = parser->retry;

  parser->retry = -1;
  return retry;
}

const char *
_cdviz_sse_parser_get_last_id (CdvizSseParser *parser)
{
  return parser->last_id;
}

void
_cdviz_sse_parser_set_last_id (CdvizSseParser *parser,
                               const char     *id)
{
  g_free (parser->last_id);
  parser->last_id = g_strdup (id != NULL ? id : "");
  g_free (parser->id_buffer);
  parser->id_buffer = g_strdup (parser->last_id);
  g_free (parser->queued_id);
  parser->queued_id = g_strdup (parser->last_id);
}

guint64
_cdviz_sse_parser_n_oversized (CdvizSseParser *parser)
{
  return parser->n_oversized;
}

guint64
_cdviz_sse_parse_lagged (const char *data)
{
  guint64 n = 0;
  const char *p;

  if (data == NULL || !g_str_has_prefix (data, "lagged: "))
    return 0;
  p = data + strlen ("lagged: ");
  if (!g_ascii_isdigit (*p))
    return 0;
  for (; g_ascii_isdigit (*p); p++)
    if (n <= (G_MAXUINT64 - 9) / 10)
      n = n * 10 + (guint64) (*p - '0');
  return n;
}
