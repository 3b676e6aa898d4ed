/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cdviz-builtins-private.h"

/* `type = "log"`: logs every message (at the "message" level, or at debug
 * level with `level = "debug"`) and passes it on unchanged. `target`
 * (cdviz-collector's tracing target, e.g. "transformers::log") prefixes the
 * line. */

struct _CdvizLogTransformer
{
  GObject parent_instance;

  char *level;
  char *target;
  gboolean debug;
};

enum {
  PROP_0,
  PROP_LEVEL,
  PROP_TARGET,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void transformer_iface_init (CdvizTransformerInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizLogTransformer, cdviz_log_transformer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER,
                                                      transformer_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

static GPtrArray *
log_transform (CdvizTransformer  *transformer,
               CdvizMessage      *message,
               GError           **error)
{
  CdvizLogTransformer *self = CDVIZ_LOG_TRANSFORMER (transformer);
  GPtrArray *out = g_ptr_array_new_full (1, g_object_unref);
  GBytes *bytes = cdviz_message_get_body_bytes (message);
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);

  const char *target = self->target != NULL ? self->target : "";
  const char *sep = self->target != NULL ? ": " : "";

  if (self->debug)
    g_debug ("%s%sevent: %.*s", target, sep, (int) length, data);
  else
    g_message ("%s%sevent: %.*s", target, sep, (int) length, data);

  g_ptr_array_add (out, g_object_ref (message));
  return out;
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = log_transform;
}

static gboolean
log_initable_init (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  CdvizLogTransformer *self = CDVIZ_LOG_TRANSFORMER (initable);

  if (g_strcmp0 (self->level, "info") == 0)
    self->debug = FALSE;
  else if (g_strcmp0 (self->level, "debug") == 0)
    self->debug = TRUE;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key “level”: unknown level “%s” (expected “info” or “debug”)"),
                   self->level);
      return FALSE;
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = log_initable_init;
}

static void
cdviz_log_transformer_finalize (GObject *object)
{
  CdvizLogTransformer *self = CDVIZ_LOG_TRANSFORMER (object);

  g_free (self->level);
  g_free (self->target);
  G_OBJECT_CLASS (cdviz_log_transformer_parent_class)->finalize (object);
}

static void
cdviz_log_transformer_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  CdvizLogTransformer *self = CDVIZ_LOG_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_LEVEL:
      g_value_set_string (value, self->level);
      break;
    case PROP_TARGET:
      g_value_set_string (value, self->target);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_log_transformer_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  CdvizLogTransformer *self = CDVIZ_LOG_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_LEVEL:
      g_free (self->level);
      self->level = g_value_dup_string (value);
      break;
    case PROP_TARGET:
      g_free (self->target);
      self->target = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_log_transformer_class_init (CdvizLogTransformerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_log_transformer_finalize;
  object_class->get_property = cdviz_log_transformer_get_property;
  object_class->set_property = cdviz_log_transformer_set_property;

  properties[PROP_LEVEL] =
    g_param_spec_string ("level", NULL, "info or debug", "info",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TARGET] =
    g_param_spec_string ("target", NULL,
                         "Prefix of the log line (cdviz-collector's tracing target, "
                         "e.g. \"transformers::log\")", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_log_transformer_init (CdvizLogTransformer *self)
{
  self->level = g_strdup ("info");
}
