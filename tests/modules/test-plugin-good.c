/* SPDX-License-Identifier: Apache-2.0 */
/* A valid test plugin: registers the sink type "test-counter". */
#include <cdviz.h>

#define TEST_TYPE_COUNTER_SINK (test_counter_sink_get_type ())
G_DECLARE_FINAL_TYPE (TestCounterSink, test_counter_sink, TEST, COUNTER_SINK, GObject)

struct _TestCounterSink
{
  GObject parent_instance;
};

static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCounterSink, test_counter_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

static gboolean
counter_send_message (CdvizSink     *sink,
                      CdvizMessage  *message,
                      GError       **error)
{
  return TRUE;
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->send_message = counter_send_message;
}

static void
test_counter_sink_class_init (TestCounterSinkClass *klass)
{
}

static void
test_counter_sink_init (TestCounterSink *self)
{
}

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  return cdviz_registry_register_type (registry, CDVIZ_COMPONENT_SINK, "test-counter",
                                       TEST_TYPE_COUNTER_SINK, error);
}

CDVIZ_PLUGIN_DEFINE ("test-good", "A test plugin", register_types)
