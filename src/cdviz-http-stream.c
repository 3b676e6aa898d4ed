/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "cdviz-http-framing-private.h"
#include "cdviz-http-stream-private.h"

/*
 * CdvizHttpStream: the stream libsoup reads a server connection from
 * (through soup_server_accept_iostream()). It wraps the connection (a
 * GSocketConnection, or a GTlsConnection over one) and feeds every byte
 * libsoup reads through the request framing checks of
 * cdviz-http-framing.c: libsoup 3.2.3 accepts ambiguous framing, and only
 * valid bytes ever reach it. At the first invalid byte the stream answers
 * 400 (or 501) itself, shuts down its write side and fails libsoup's read,
 * so libsoup drops the connection without handling the request.
 *
 * cdviz_http_stream_refuse() does the same for a request the server
 * answered from its head alone (a body it will not read: 413, 404, a
 * header rule's 401…): the answer is written at once and the body is never
 * read into the process. In both cases, when libsoup closes the stream the
 * closing function takes the socket over (a lingering close: what the
 * client still sends is drained for a while, so that closing does not
 * reset the connection before the client read the answer).
 *
 * The closing function is told of every close libsoup makes, before the
 * socket is closed, so that no source of the server still polls its
 * descriptor: a closed number is soon another connection's, and a poll()
 * that holds a socket's file keeps it open (no FIN) until it returns.
 *
 * Everything runs on the HTTP thread.
 */

/* --- the input stream --------------------------------------------------- */

#define CDVIZ_TYPE_HTTP_INPUT_STREAM (cdviz_http_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (CdvizHttpInputStream, cdviz_http_input_stream,
                      CDVIZ, HTTP_INPUT_STREAM, GInputStream)

struct _CdvizHttpInputStream
{
  GInputStream parent_instance;

  CdvizHttpStream *owner;   /* weak: the owner holds us */
  GInputStream *base;
};

struct _CdvizHttpStream
{
  GIOStream parent_instance;

  GIOStream *base;
  GSocket *socket;
  CdvizHttpInputStream *input;
  CdvizHttpFraming framing;
  CdvizHttpStreamCloseFunc closing;
  gpointer closing_data;

  gboolean fail_pending;   /* the framing failed: the next read fails */
  gboolean refused;        /* answered by us: reads fail, close lingers */
  gboolean detached;       /* stolen: closing leaves the base alone */
};

static void cdviz_http_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizHttpInputStream, cdviz_http_input_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      cdviz_http_input_stream_pollable_init))
G_DEFINE_FINAL_TYPE (CdvizHttpStream, cdviz_http_stream, G_TYPE_IO_STREAM)

static void
write_and_shutdown (CdvizHttpStream *self,
                    GBytes          *response)
{
  GOutputStream *out = g_io_stream_get_output_stream (self->base);
  gsize length;
  const guint8 *data = g_bytes_get_data (response, &length);
  gssize n = 0;

  /* Nothing else is being written: libsoup is reading a request. The
   * socket's buffer is empty, so a short answer goes out whole. */
  if (G_IS_POLLABLE_OUTPUT_STREAM (out) &&
      g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out)))
    n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out),
                                                    data, length, NULL, NULL);
  if (n >= 0 && (gsize) n < length)
    g_debug ("Refusing a request: %" G_GSIZE_FORMAT " bytes of the answer not written",
             length - (gsize) n);
  g_socket_shutdown (self->socket, FALSE, TRUE, NULL);
  self->refused = TRUE;
}

static GBytes *
framing_error_response (const CdvizHttpFraming *framing)
{
  const char *phrase = framing->status == 501 ? "Not Implemented" : "Bad Request";
  g_autofree char *body =
    g_strdup_printf ("{\"title\":\"%s\",\"status\":%u,\"detail\":\"%s\"}",
                     phrase, framing->status, framing->reason);
  char *text = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                "Server: cdviz-pipeline\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                "Connection: close\r\n"
                                "\r\n%s",
                                framing->status, phrase, strlen (body), body);

  return g_bytes_new_take (text, strlen (text));
}

/* A read that must fail: answers a framing error first, once. */
static gssize
fail_read (CdvizHttpStream  *self,
           GError          **error)
{
  if (self->fail_pending && !self->refused)
    {
      g_autoptr(GBytes) response = framing_error_response (&self->framing);

      g_debug ("Closing a connection: %s (byte %" G_GUINT64_FORMAT ")",
               self->framing.reason, self->framing.offset);
      write_and_shutdown (self, response);
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "request refused");
  return -1;
}

/* Lets through the valid part of what was read. */
static gssize
filter_read (CdvizHttpStream *self,
             void            *buffer,
             gssize           n,
             GError         **error)
{
  gsize valid;

  if (n <= 0)
    return n;
  valid = cdviz_http_framing_feed (&self->framing, buffer, (gsize) n);
  if (valid == (gsize) n)
    return n;
  self->fail_pending = TRUE;
  if (valid > 0)
    return (gssize) valid;
  return fail_read (self, error);
}

static gssize
cdviz_http_input_stream_read (GInputStream  *stream,
                              void          *buffer,
                              gsize          count,
                              GCancellable  *cancellable,
                              GError       **error)
{
  CdvizHttpInputStream *self = CDVIZ_HTTP_INPUT_STREAM (stream);
  gssize n;

  if (self->owner->fail_pending || self->owner->refused)
    return fail_read (self->owner, error);
  n = g_input_stream_read (self->base, buffer, count, cancellable, error);
  return filter_read (self->owner, buffer, n, error);
}

static gssize
cdviz_http_input_stream_read_nonblocking (GPollableInputStream  *stream,
                                          void                  *buffer,
                                          gsize                  count,
                                          GError               **error)
{
  CdvizHttpInputStream *self = CDVIZ_HTTP_INPUT_STREAM (stream);
  gssize n;

  if (self->owner->fail_pending || self->owner->refused)
    return fail_read (self->owner, error);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base),
                                                buffer, count, NULL, error);
  return filter_read (self->owner, buffer, n, error);
}

static gboolean
cdviz_http_input_stream_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
cdviz_http_input_stream_is_readable (GPollableInputStream *stream)
{
  CdvizHttpInputStream *self = CDVIZ_HTTP_INPUT_STREAM (stream);

  if (self->owner->fail_pending || self->owner->refused)
    return TRUE;
  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
cdviz_http_input_stream_create_source (GPollableInputStream *stream,
                                       GCancellable         *cancellable)
{
  CdvizHttpInputStream *self = CDVIZ_HTTP_INPUT_STREAM (stream);
  g_autoptr(GSource) child = NULL;

  /* A read that is bound to fail is ready now. */
  if (self->owner->fail_pending || self->owner->refused)
    child = g_timeout_source_new (0);
  else
    child = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base),
                                                   cancellable);
  return g_pollable_source_new_full (stream, child, cancellable);
}

static gboolean
cdviz_http_input_stream_close (GInputStream  *stream,
                               GCancellable  *cancellable,
                               GError       **error)
{
  return TRUE;   /* the owner closes the connection */
}

static void
cdviz_http_input_stream_finalize (GObject *object)
{
  CdvizHttpInputStream *self = CDVIZ_HTTP_INPUT_STREAM (object);

  g_clear_object (&self->base);
  G_OBJECT_CLASS (cdviz_http_input_stream_parent_class)->finalize (object);
}

static void
cdviz_http_input_stream_class_init (CdvizHttpInputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_http_input_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = cdviz_http_input_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = cdviz_http_input_stream_close;
}

static void
cdviz_http_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = cdviz_http_input_stream_can_poll;
  iface->is_readable = cdviz_http_input_stream_is_readable;
  iface->create_source = cdviz_http_input_stream_create_source;
  iface->read_nonblocking = cdviz_http_input_stream_read_nonblocking;
}

static void
cdviz_http_input_stream_init (CdvizHttpInputStream *self)
{
}

/* --- the connection stream ---------------------------------------------- */

static GInputStream *
cdviz_http_stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (CDVIZ_HTTP_STREAM (stream)->input);
}

static GOutputStream *
cdviz_http_stream_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (CDVIZ_HTTP_STREAM (stream)->base);
}

static gboolean
cdviz_http_stream_close (GIOStream     *stream,
                         GCancellable  *cancellable,
                         GError       **error)
{
  CdvizHttpStream *self = CDVIZ_HTTP_STREAM (stream);

  if (self->detached)
    return TRUE;
  if (self->closing != NULL && !g_socket_is_closed (self->socket) &&
      self->closing (self, self->closing_data))
    return TRUE;   /* taken over: a lingering close */
  return g_io_stream_close (self->base, cancellable, error);
}

/* Closing is quick and happens on the HTTP thread, never in a worker
 * thread (GIOStream's default close_async would use one). */
static void
cdviz_http_stream_close_async (GIOStream           *stream,
                               int                  io_priority,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, cdviz_http_stream_close_async);
  if (cdviz_http_stream_close (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
cdviz_http_stream_close_finish (GIOStream     *stream,
                                GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
cdviz_http_stream_finalize (GObject *object)
{
  CdvizHttpStream *self = CDVIZ_HTTP_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);
  g_clear_object (&self->socket);
  G_OBJECT_CLASS (cdviz_http_stream_parent_class)->finalize (object);
}

static void
cdviz_http_stream_class_init (CdvizHttpStreamClass *klass)
{
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = cdviz_http_stream_finalize;
  stream_class->get_input_stream = cdviz_http_stream_get_input_stream;
  stream_class->get_output_stream = cdviz_http_stream_get_output_stream;
  stream_class->close_fn = cdviz_http_stream_close;
  stream_class->close_async = cdviz_http_stream_close_async;
  stream_class->close_finish = cdviz_http_stream_close_finish;
}

static void
cdviz_http_stream_init (CdvizHttpStream *self)
{
  cdviz_http_framing_init (&self->framing);
}

/**
 * cdviz_http_stream_new:
 * @base: the connection (a #GSocketConnection or a #GTlsConnection over
 *   one); its input stream must be pollable
 * @socket: its socket
 * @closing: (nullable): called when libsoup closes the stream, before the
 *   socket is; returns %TRUE when it takes the socket over (the lingering
 *   close of a refused connection), %FALSE to let it close
 * @user_data: data for @closing
 *
 * Returns: (transfer full): a stream for soup_server_accept_iostream()
 */
CdvizHttpStream *
cdviz_http_stream_new (GIOStream                 *base,
                       GSocket                   *socket,
                       CdvizHttpStreamCloseFunc   closing,
                       gpointer                   user_data)
{
  CdvizHttpStream *self = g_object_new (CDVIZ_TYPE_HTTP_STREAM, NULL);

  self->base = g_object_ref (base);
  self->socket = g_object_ref (socket);
  self->closing = closing;
  self->closing_data = user_data;
  self->input = g_object_new (CDVIZ_TYPE_HTTP_INPUT_STREAM, NULL);
  self->input->owner = self;
  self->input->base = g_object_ref (g_io_stream_get_input_stream (base));
  return self;
}

GIOStream *
cdviz_http_stream_get_base (CdvizHttpStream *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_STREAM (self), NULL);
  return self->base;
}

GSocket *
cdviz_http_stream_get_socket (CdvizHttpStream *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_STREAM (self), NULL);
  return self->socket;
}

/**
 * cdviz_http_stream_refuse:
 * @self: a #CdvizHttpStream
 * @response: a complete HTTP response, ending the connection
 *
 * Writes @response at once, shuts down the write side, and fails every
 * later read, so libsoup never reads the request's body and drops the
 * connection. Call on the HTTP thread while libsoup reads a request (from
 * an early handler or a "got-chunk" handler), never while it writes.
 */
void
cdviz_http_stream_refuse (CdvizHttpStream *self,
                          GBytes          *response)
{
  g_return_if_fail (CDVIZ_IS_HTTP_STREAM (self));

  if (self->refused)
    return;
  write_and_shutdown (self, response);
}

/**
 * cdviz_http_stream_detach:
 * @self: a #CdvizHttpStream
 *
 * Leaves the connection to whoever took the base stream (an SSE stream):
 * closing @self no longer closes it.
 */
void
cdviz_http_stream_detach (CdvizHttpStream *self)
{
  g_return_if_fail (CDVIZ_IS_HTTP_STREAM (self));
  self->detached = TRUE;
}

guint64
cdviz_http_stream_get_requests (CdvizHttpStream *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_STREAM (self), 0);
  return self->framing.requests;
}

gboolean
cdviz_http_stream_framing_failed (CdvizHttpStream *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_STREAM (self), FALSE);
  return cdviz_http_framing_failed (&self->framing);
}

/* Whether the server answered the request itself (see refuse()) or the
 * framing failed: libsoup's close then starts a lingering close. */
gboolean
cdviz_http_stream_is_refused (CdvizHttpStream *self)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_STREAM (self), FALSE);
  return self->refused;
}
