/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "cdviz-folder-sink.h"

/* `type = "folder"`, `kind = "fs"`, `parameters = { root = "DIR" }`: one
 * file per event, ROOT/ID.json (ID the CDEvent's context.id), holding the
 * CDEvent as compact JSON — cdviz-collector's `src/sinks/folder.rs` with
 * OpenDAL's `fs` service. Each file is written to a temporary file beside
 * it and renamed over the name (g_file_set_contents_full(), with fsync), so
 * a reader never sees a partial file; an event with the same id replaces
 * the file, as upstream. An id that would leave ROOT (a `/`, a `\`, a
 * leading `.`) is refused. Runs on the pipeline thread (local files). */

struct _CdvizFolderSink
{
  GObject parent_instance;

  char *kind;
  JsonNode *parameters;
  char *root;                      /* from parameters, by init */

  char *name;
  guint64 written;
};

static void initable_iface_init (GInitableIface *iface);
static void sink_iface_init (CdvizSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizFolderSink, cdviz_folder_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init))

enum {
  PROP_0,
  PROP_KIND,
  PROP_PARAMETERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
folder_sink_start (CdvizSink      *sink,
                   CdvizPipeline  *pipeline,
                   GError        **error)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (sink);
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "folder");
  if (g_mkdir_with_parents (self->root, 0777) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("folder sink %s: cannot create the directory “%s”: %s"), self->name,
                   self->root, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
folder_sink_send_message (CdvizSink     *sink,
                          CdvizMessage  *message,
                          GError       **error)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (sink);
  const char *id = cdviz_message_get_id (message);
  GBytes *body = cdviz_message_get_body_bytes (message);
  g_autofree char *file_name = NULL;
  g_autofree char *path = NULL;

  if (id == NULL || *id == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("the event has no context.id to name its file"));
      return FALSE;
    }
  if (id[0] == '.' || strpbrk (id, "/\\") != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   _("the event id “%s” cannot name a file in %s (it starts with “.” "
                     "or holds “/” or “\\”)"), id, self->root);
      return FALSE;
    }
  file_name = g_strconcat (id, ".json", NULL);
  path = g_build_filename (self->root, file_name, NULL);
  if (!g_file_set_contents_full (path, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0666, error))
    return FALSE;
  self->written++;
  return TRUE;
}

static void
folder_sink_stop (CdvizSink *sink)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (sink);

  g_debug ("%s: %" G_GUINT64_FORMAT " files written in %s", self->name, self->written,
           self->root);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = folder_sink_start;
  iface->send_message = folder_sink_send_message;
  iface->stop_sink = folder_sink_stop;
}

static gboolean
folder_sink_init_finish (GInitable     *initable,
                         GCancellable  *cancellable,
                         GError       **error)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (initable);
  JsonObject *parameters;
  g_autoptr(GList) members = NULL;
  JsonNode *root;

  if (self->kind == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “kind” is required (“fs”: files in a local directory)"));
      return FALSE;
    }
  if (!g_str_equal (self->kind, "fs"))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “kind”: “%s” is not supported (only “fs”, files in a local "
                     "directory)"), self->kind);
      return FALSE;
    }
  if (self->parameters == NULL || !JSON_NODE_HOLDS_OBJECT (self->parameters))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “parameters” is required: a table with “root”, "
                             "the directory"));
      return FALSE;
    }
  parameters = json_node_get_object (self->parameters);
  members = json_object_get_members (parameters);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "root"))
      {
        g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                     _("key “parameters”: unknown parameter “%s” of kind “fs” (known: “root”)"),
                     (char *) l->data);
        return FALSE;
      }
  root = json_object_get_member (parameters, "root");
  if (root == NULL || json_node_get_value_type (root) != G_TYPE_STRING ||
      *json_node_get_string (root) == '\0')
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “parameters”: “root” (the directory, a string) is required"));
      return FALSE;
    }
  self->root = g_strdup (json_node_get_string (root));
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = folder_sink_init_finish;
}

static void
cdviz_folder_sink_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (object);

  switch (prop_id)
    {
    case PROP_KIND: g_value_set_string (value, self->kind); break;
    case PROP_PARAMETERS: g_value_set_boxed (value, self->parameters); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_folder_sink_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (object);

  switch (prop_id)
    {
    case PROP_KIND:
      g_free (self->kind);
      self->kind = g_value_dup_string (value);
      break;
    case PROP_PARAMETERS:
      g_clear_pointer (&self->parameters, json_node_unref);
      self->parameters = g_value_dup_boxed (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_folder_sink_finalize (GObject *object)
{
  CdvizFolderSink *self = CDVIZ_FOLDER_SINK (object);

  g_free (self->kind);
  g_clear_pointer (&self->parameters, json_node_unref);
  g_free (self->root);
  g_free (self->name);
  G_OBJECT_CLASS (cdviz_folder_sink_parent_class)->finalize (object);
}

static void
cdviz_folder_sink_class_init (CdvizFolderSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_folder_sink_get_property;
  object_class->set_property = cdviz_folder_sink_set_property;
  object_class->finalize = cdviz_folder_sink_finalize;

  properties[PROP_KIND] =
    g_param_spec_string ("kind", NULL,
                         "The storage: \"fs\", files in a local directory (required; "
                         "cdviz-collector's other OpenDAL services are not supported)",
                         NULL, flags);
  properties[PROP_PARAMETERS] =
    g_param_spec_boxed ("parameters", NULL,
                        "The storage's parameters: { root = \"DIR\" }, the directory that "
                        "receives one ID.json file per event, written atomically (required)",
                        JSON_TYPE_NODE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_folder_sink_init (CdvizFolderSink *self)
{
}
