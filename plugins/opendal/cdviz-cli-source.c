/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-cli-source.h"
#include "cdviz-file-parser.h"
#include "cdviz-files-worker.h"

/* `[sources.NAME.extractor] type = "cli"`, cdviz-collector's
 * `src/sources/cli/`: `data` is the input, inline or `@FILE` or `@-`
 * (standard input), read once at start and parsed with `parser` (`auto`
 * picks by @FILE's extension; inline data and `@-` are JSON); an array
 * (or a jsonl, csv_row or text_line input) gives one message per element,
 * `metadata.index` its position. Without `data` the source is the
 * push-only `cli` source of `send` (upstream's send.base.toml declares it
 * this way and the command fills `data` in; here `send` hands each --data
 * to the action signal `push-data`, which parses it as `data` would be and
 * pushes the messages from the caller's thread, so that a bad item is an
 * error of the command). */

struct _CdvizCliSource
{
  GObject parent_instance;

  char *data;
  char *parser_name;
  JsonNode *metadata;
  CdvizFileParser parser;   /* by init */
  CdvizPipeline *pipeline;  /* (owned) (nullable): while started, for push-data */

  CdvizFilesWorker worker;
};

static void initable_iface_init (GInitableIface *iface);
static void source_iface_init (CdvizSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizCliSource, cdviz_cli_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SOURCE, source_iface_init))

enum {
  PROP_0,
  PROP_DATA,
  PROP_PARSER,
  PROP_METADATA,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PUSH_DATA,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
collect (JsonNode *body,
         gpointer  user_data)
{
  g_ptr_array_add (user_data, json_node_copy (body));
}

static char *
read_input (const char  *data,
            gsize       *length,
            GError     **error)
{
  const char *path;

  if (data[0] != '@')
    {
      *length = strlen (data);
      return g_strdup (data);
    }
  path = data + 1;
  if (g_str_equal (path, "-"))
    {
      g_autoptr(GString) in = g_string_new (NULL);
      char buffer[8192];
      size_t n;

      while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
        {
          if (in->len + n > CDVIZ_FILE_PARSER_MAX_SIZE)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                           _("standard input: more than %u bytes"),
                           (guint) CDVIZ_FILE_PARSER_MAX_SIZE);
              return NULL;
            }
          g_string_append_len (in, buffer, n);
        }
      *length = in->len;
      return g_string_free (g_steal_pointer (&in), FALSE);
    }
  {
    char *contents = NULL;

    if (!g_file_get_contents (path, &contents, length, error))
      return NULL;
    if (*length > CDVIZ_FILE_PARSER_MAX_SIZE)
      {
        g_free (contents);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                     _("%s: larger than %u bytes"), path, (guint) CDVIZ_FILE_PARSER_MAX_SIZE);
        return NULL;
      }
    return contents;
  }
}

static CdvizMessage *
new_message (CdvizCliSource *self,
             JsonNode       *body,
             gint            index)
{
  g_autoptr(JsonObject) object = cdviz_message_build_metadata (self->metadata);
  g_autoptr(JsonNode) metadata = NULL;

  if (index >= 0)
    json_object_set_int_member (object, "index", index);
  metadata = json_node_init_object (json_node_alloc (), object);
  return cdviz_message_new_raw (body, metadata, NULL);
}

/* @data (inline, @FILE or @-) parsed into messages. */
static GPtrArray *
parse_data (CdvizCliSource  *self,
            const char      *data,
            GError         **error)
{
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *input = NULL;
  const char *label = data[0] == '@' && !g_str_equal (data, "@-") ? data + 1 : "data";
  gsize length = 0;
  guint skipped = 0;

  input = read_input (data, &length, error);
  if (input == NULL)
    return NULL;
  if (cdviz_text_is_blank (input, length))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("no data"));
      return NULL;
    }
  if (!cdviz_file_parser_parse (self->parser, label, input, length, FALSE, collect, bodies,
                                &skipped, error))
    return NULL;
  if (cdviz_file_parser_is_records (self->parser, label, FALSE))
    for (guint i = 0; i < bodies->len; i++)
      g_ptr_array_add (messages, new_message (self, bodies->pdata[i], (gint) i));
  else if (bodies->len == 1 && JSON_NODE_HOLDS_ARRAY (bodies->pdata[0]))
    {
      JsonArray *array = json_node_get_array (bodies->pdata[0]);

      for (guint i = 0; i < json_array_get_length (array); i++)
        g_ptr_array_add (messages, new_message (self, json_array_get_element (array, i), (gint) i));
    }
  else if (bodies->len == 1)
    g_ptr_array_add (messages, new_message (self, bodies->pdata[0], -1));
  return g_steal_pointer (&messages);
}

static gpointer
worker_thread (gpointer data)
{
  CdvizCliSource *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = parse_data (self, self->data, &error);

  if (messages == NULL)
    {
      g_warning ("source '%s': %s: %s", self->worker.name, self->data, error->message);
      return NULL;
    }
  for (guint i = 0; i < messages->len; i++)
    cdviz_files_worker_push (&self->worker, messages->pdata[i]);
  return NULL;
}

/* The push-data action signal: NULL, or why @data was not (wholly) pushed. */
static char *
cli_source_push_data (CdvizCliSource *self,
                      const char     *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;

  if (self->pipeline == NULL)
    return g_strdup (_("the source is not started"));
  messages = parse_data (self, data, &error);
  if (messages == NULL)
    return g_strdup (error->message);
  for (guint i = 0; i < messages->len; i++)
    if (!cdviz_pipeline_push_from (self->pipeline, CDVIZ_SOURCE (self), messages->pdata[i],
                                   &error))
      return g_strdup_printf (_("item %u not accepted: %s"), i + 1, error->message);
  return NULL;
}

static gboolean
cli_source_start (CdvizSource    *source,
                  CdvizPipeline  *pipeline,
                  GError        **error)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (source);

  cdviz_files_worker_set_name (&self->worker, pipeline, "cli");
  g_set_object (&self->pipeline, pipeline);
  if (!cdviz_pipeline_is_checking (pipeline) && self->data != NULL)
    cdviz_files_worker_start (&self->worker, pipeline, "cdviz-cli", worker_thread, self);
  return TRUE;
}

static void
cli_source_stop (CdvizSource *source)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (source);

  cdviz_files_worker_stop (&self->worker);
  g_clear_object (&self->pipeline);
}

static void
source_iface_init (CdvizSourceInterface *iface)
{
  iface->start_source = cli_source_start;
  iface->stop_source = cli_source_stop;
}

static gboolean
cli_source_init_finish (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (initable);

  return cdviz_files_check_parser (self->parser_name, &self->parser,
                                   _("key “parser”: the “metadata” parser is for files of "
                                     "the opendal source, not for the cli source's data"),
                                   error) &&
         cdviz_files_check_metadata (&self->metadata, error);
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = cli_source_init_finish;
}

static void
cdviz_cli_source_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (object);

  switch (prop_id)
    {
    case PROP_DATA: g_value_set_string (value, self->data); break;
    case PROP_PARSER: g_value_set_string (value, self->parser_name); break;
    case PROP_METADATA: g_value_set_boxed (value, self->metadata); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_cli_source_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (object);

  switch (prop_id)
    {
    case PROP_DATA: g_free (self->data); self->data = g_value_dup_string (value); break;
    case PROP_PARSER:
      g_free (self->parser_name);
      self->parser_name = g_value_dup_string (value);
      break;
    case PROP_METADATA:
      g_clear_pointer (&self->metadata, json_node_unref);
      self->metadata = g_value_dup_boxed (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_cli_source_finalize (GObject *object)
{
  CdvizCliSource *self = CDVIZ_CLI_SOURCE (object);

  g_free (self->data);
  g_free (self->parser_name);
  g_clear_pointer (&self->metadata, json_node_unref);
  g_clear_object (&self->pipeline);
  cdviz_files_worker_clear (&self->worker);
  G_OBJECT_CLASS (cdviz_cli_source_parent_class)->finalize (object);
}

static void
cdviz_cli_source_class_init (CdvizCliSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cdviz_cli_source_get_property;
  object_class->set_property = cdviz_cli_source_set_property;
  object_class->finalize = cdviz_cli_source_finalize;

  properties[PROP_DATA] =
    g_param_spec_string ("data", NULL,
                         "The input, read once at start: inline text, @FILE or @- (standard "
                         "input); none: a push-only source (what `send` pushes into)",
                         NULL, flags);
  properties[PROP_PARSER] =
    g_param_spec_string ("parser", NULL, "How the input becomes messages (an array: one "
                         "message per element, metadata.index its position): "
                         CDVIZ_FILE_PARSER_DOC,
                         "auto", flags);
  properties[PROP_METADATA] =
    g_param_spec_boxed ("metadata", NULL, "Metadata of every message (a table)",
                        JSON_TYPE_NODE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdvizCliSource::push-data:
   * @data: inline text, @FILE or @- (standard input)
   *
   * Parses @data with the source's `parser` and pushes its messages,
   * from the calling thread, while the source is started.
   *
   * Returns: (transfer full) (nullable): NULL, or why not
   */
  signals[SIGNAL_PUSH_DATA] =
    g_signal_new_class_handler ("push-data", G_TYPE_FROM_CLASS (klass),
                                G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
                                G_CALLBACK (cli_source_push_data), NULL, NULL, NULL,
                                G_TYPE_STRING, 1, G_TYPE_STRING);
}

static void
cdviz_cli_source_init (CdvizCliSource *self)
{
  self->parser_name = g_strdup ("auto");
  cdviz_files_worker_init (&self->worker, CDVIZ_SOURCE (self));
}
