/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n-lib.h>

#include "cdviz-builtins-private.h"

/* `type = "debug"`: writes every event to standard output as one line of
 * compact JSON. */

struct _CdvizDebugSink
{
  GObject parent_instance;
};

static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizDebugSink, cdviz_debug_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

static gboolean
debug_send_message (CdvizSink     *sink,
                    CdvizMessage  *message,
                    GError       **error)
{
  GBytes *bytes = cdviz_message_get_body_bytes (message);
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);

  if (fwrite (data, 1, length, stdout) != length ||
      fputc ('\n', stdout) == EOF ||
      fflush (stdout) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("cannot write to standard output"));
      return FALSE;
    }
  return TRUE;
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->send_message = debug_send_message;
}

static void
cdviz_debug_sink_class_init (CdvizDebugSinkClass *klass)
{
}

static void
cdviz_debug_sink_init (CdvizDebugSink *self)
{
}
