/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-builtins-private.h"

/* `type = "debug"`: writes every event, as cdviz-collector's
 * `src/sinks/debug.rs` (`format`, `destination`):
 *
 * - format "json" (the default): the event's JSON; on standard output one
 *   line of compact JSON per event (cdviz-collector indents it over several
 *   lines), in the log `mock sending event=JSON`;
 * - format "rust_debug": the whole event, `{"metadata", "headers", "body"}`,
 *   indented (cdviz-collector prints Rust's Debug form of these three);
 * - destination "stdout" (the default) or "log_info": a message in the log
 *   (standard error), as cdviz-collector's info-level `mock sending`. */

typedef enum {
  CDVIZ_DEBUG_FORMAT_JSON,
  CDVIZ_DEBUG_FORMAT_RUST_DEBUG,
} CdvizDebugFormat;

typedef enum {
  CDVIZ_DEBUG_DESTINATION_STDOUT,
  CDVIZ_DEBUG_DESTINATION_LOG_INFO,
} CdvizDebugDestination;

static GType
debug_enum_type (gsize            *once,
                 const char       *name,
                 const GEnumValue *values)
{
  if (g_once_init_enter (once))
    g_once_init_leave (once, g_enum_register_static (g_intern_static_string (name), values));
  return *once;
}

static GType
cdviz_debug_format_get_type (void)
{
  static gsize type;
  static const GEnumValue values[] = {
    { CDVIZ_DEBUG_FORMAT_JSON, "CDVIZ_DEBUG_FORMAT_JSON", "json" },
    { CDVIZ_DEBUG_FORMAT_RUST_DEBUG, "CDVIZ_DEBUG_FORMAT_RUST_DEBUG", "rust_debug" },
    { 0, NULL, NULL }
  };

  return debug_enum_type (&type, "CdvizDebugFormat", values);
}

static GType
cdviz_debug_destination_get_type (void)
{
  static gsize type;
  static const GEnumValue values[] = {
    { CDVIZ_DEBUG_DESTINATION_STDOUT, "CDVIZ_DEBUG_DESTINATION_STDOUT", "stdout" },
    { CDVIZ_DEBUG_DESTINATION_LOG_INFO, "CDVIZ_DEBUG_DESTINATION_LOG_INFO", "log_info" },
    { 0, NULL, NULL }
  };

  return debug_enum_type (&type, "CdvizDebugDestination", values);
}

struct _CdvizDebugSink
{
  GObject parent_instance;

  CdvizDebugFormat format;
  CdvizDebugDestination destination;
};

enum {
  PROP_0,
  PROP_FORMAT,
  PROP_DESTINATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizDebugSink, cdviz_debug_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

/* `{"metadata": …, "headers": {…}, "body": …}`, indented. */
static char *
envelope_to_string (CdvizMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  GHashTable *headers = cdviz_message_get_headers (message);
  JsonNode *metadata = cdviz_message_get_metadata (message);
  g_autoptr(GList) names = headers != NULL ? g_hash_table_get_keys (headers) : NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "metadata");
  if (metadata != NULL)
    json_builder_add_value (builder, json_node_copy (metadata));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "headers");
  json_builder_begin_object (builder);
  names = g_list_sort (names, (GCompareFunc) g_strcmp0);
  for (GList *l = names; l != NULL; l = l->next)
    {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_string_value (builder, g_hash_table_lookup (headers, l->data));
    }
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "body");
  json_builder_add_value (builder, json_node_copy (cdviz_message_get_body (message)));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, TRUE);
}

static gboolean
debug_send_message (CdvizSink     *sink,
                    CdvizMessage  *message,
                    GError       **error)
{
  CdvizDebugSink *self = CDVIZ_DEBUG_SINK (sink);
  g_autofree char *text = NULL;
  const char *data;
  gsize length;

  if (self->format == CDVIZ_DEBUG_FORMAT_RUST_DEBUG)
    {
      text = envelope_to_string (message);
      data = text;
      length = strlen (text);
    }
  else
    data = g_bytes_get_data (cdviz_message_get_body_bytes (message), &length);

  if (self->destination == CDVIZ_DEBUG_DESTINATION_LOG_INFO)
    {
      g_message ("mock sending event=%.*s", (int) length, data);
      return TRUE;
    }
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
cdviz_debug_sink_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdvizDebugSink *self = CDVIZ_DEBUG_SINK (object);

  switch (prop_id)
    {
    case PROP_FORMAT: g_value_set_enum (value, self->format); break;
    case PROP_DESTINATION: g_value_set_enum (value, self->destination); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_debug_sink_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  CdvizDebugSink *self = CDVIZ_DEBUG_SINK (object);

  switch (prop_id)
    {
    case PROP_FORMAT: self->format = g_value_get_enum (value); break;
    case PROP_DESTINATION: self->destination = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_debug_sink_class_init (CdvizDebugSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_debug_sink_get_property;
  object_class->set_property = cdviz_debug_sink_set_property;

  properties[PROP_FORMAT] =
    g_param_spec_enum ("format", NULL,
                       "\"json\": the event, one line of compact JSON (cdviz-collector "
                       "indents it); \"rust_debug\": the whole event (metadata, headers, body) "
                       "as indented JSON (cdviz-collector prints Rust's Debug form)",
                       cdviz_debug_format_get_type (), CDVIZ_DEBUG_FORMAT_JSON, flags);
  properties[PROP_DESTINATION] =
    g_param_spec_enum ("destination", NULL,
                       "\"stdout\": standard output; \"log_info\": a log message "
                       "“mock sending event=…” on standard error",
                       cdviz_debug_destination_get_type (), CDVIZ_DEBUG_DESTINATION_STDOUT,
                       flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_debug_sink_init (CdvizDebugSink *self)
{
}
