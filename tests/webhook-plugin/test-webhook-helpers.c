/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin for the webhook integration tests:
 * - transformer "test_reject": rejects every event (the webhook's 422);
 * - sink "test_envelope": writes one line per message to standard output,
 *   {"headers": {...}, "metadata": {...}, "body": {...}}, so that tests see
 *   what the debug sink does not print. */
#include <stdio.h>

#include <cdviz.h>

#define TEST_TYPE_REJECT_TRANSFORMER (test_reject_transformer_get_type ())
G_DECLARE_FINAL_TYPE (TestRejectTransformer, test_reject_transformer, TEST, REJECT_TRANSFORMER, GObject)

struct _TestRejectTransformer
{
  GObject parent_instance;
};

static void transformer_iface_init (CdvizTransformerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestRejectTransformer, test_reject_transformer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER, transformer_iface_init))

static GPtrArray *
reject_transform (CdvizTransformer  *transformer,
                  CdvizMessage      *message,
                  GError           **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "test_reject refuses %s", cdviz_message_get_event_type (message));
  return NULL;
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = reject_transform;
}

static void
test_reject_transformer_class_init (TestRejectTransformerClass *klass)
{
}

static void
test_reject_transformer_init (TestRejectTransformer *self)
{
}

#define TEST_TYPE_ENVELOPE_SINK (test_envelope_sink_get_type ())
G_DECLARE_FINAL_TYPE (TestEnvelopeSink, test_envelope_sink, TEST, ENVELOPE_SINK, GObject)

struct _TestEnvelopeSink
{
  GObject parent_instance;
};

static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestEnvelopeSink, test_envelope_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

static gboolean
envelope_send_message (CdvizSink     *sink,
                       CdvizMessage  *message,
                       GError       **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GHashTable *headers = cdviz_message_get_headers (message);
  JsonNode *metadata = cdviz_message_get_metadata (message);
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "headers");
  json_builder_begin_object (builder);
  if (headers != NULL)
    {
      g_hash_table_iter_init (&iter, headers);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          json_builder_set_member_name (builder, key);
          json_builder_add_string_value (builder, value);
        }
    }
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "metadata");
  if (metadata != NULL)
    json_builder_add_value (builder, json_node_copy (metadata));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "body");
  json_builder_add_value (builder, json_node_copy (cdviz_message_get_body (message)));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  printf ("%s\n", text);
  fflush (stdout);
  return TRUE;
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->send_message = envelope_send_message;
}

static void
test_envelope_sink_class_init (TestEnvelopeSinkClass *klass)
{
}

static void
test_envelope_sink_init (TestEnvelopeSink *self)
{
}

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_TRANSFORMER, "test_reject",
                                       TEST_TYPE_REJECT_TRANSFORMER, error) &&
         cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "test_envelope",
                                       TEST_TYPE_ENVELOPE_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("test-webhook-helpers", "Helpers for the webhook tests", register_types)
