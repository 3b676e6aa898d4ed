/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-vrl-runtime.h"
#include "cdviz-vrl-transformer.h"

/* `type = "vrl"`, as cdviz-collector's: keys `template` (or `script`, or
 * `template_file`, resolved by the configuration loader relative to the
 * config file). An empty program means `[.]`. The program's value:
 *  - null: the message goes on unchanged (upstream: "skip");
 *  - an array: each item is an object with `body` and optional `metadata`
 *    and `headers` (absent or null: empty), one message each; `[]` drops;
 *  - anything else rejects the message.
 * A runtime error or `abort` rejects the message (upstream: Rejected). */

#define DEFAULT_MAX_STEPS 1000000
#define DEFAULT_MAX_OUTPUTS 1000

struct _CdvizVrlTransformer
{
  GObject parent_instance;

  char *template;
  char *script;
  guint64 max_steps;
  guint max_outputs;
  gboolean strict;

  CdvizVrlProgram *program;
};

enum {
  PROP_0,
  PROP_TEMPLATE,
  PROP_SCRIPT,
  PROP_MAX_STEPS,
  PROP_MAX_OUTPUTS,
  PROP_STRICT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void transformer_iface_init (CdvizTransformerInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizVrlTransformer, cdviz_vrl_transformer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER, transformer_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

static CdvizVrlValue *
headers_value (GHashTable *headers)
{
  CdvizVrlValue *out = cdviz_vrl_object_new ();
  GHashTableIter iter;
  gpointer k, v;

  if (headers == NULL)
    return out;
  g_hash_table_iter_init (&iter, headers);
  while (g_hash_table_iter_next (&iter, &k, &v))
    cdviz_vrl_object_insert (out, k, cdviz_vrl_bytes (v, -1));
  return out;
}

static CdvizMessage *
message_from_item (CdvizVrlValue  *item,
                   guint           index,
                   GError        **error)
{
  CdvizVrlValue *body, *metadata, *headers;
  g_autoptr(JsonNode) body_node = NULL;
  g_autoptr(JsonNode) metadata_node = NULL;
  g_autoptr(GHashTable) header_table = NULL;

  if (item->kind != CDVIZ_VRL_OBJECT)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("VRL output %u is %s, not an object with a “body” (and optional "
                     "“metadata” and “headers”)"), index, cdviz_vrl_kind_name (item->kind));
      return NULL;
    }
  body = cdviz_vrl_object_get (item, "body");
  if (body == NULL || body->kind == CDVIZ_VRL_NULL)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("VRL output %u has no “body”"), index);
      return NULL;
    }
  metadata = cdviz_vrl_object_get (item, "metadata");
  if (metadata != NULL && metadata->kind != CDVIZ_VRL_NULL && metadata->kind != CDVIZ_VRL_OBJECT)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("VRL output %u: “metadata” must be an object, not %s"), index,
                   cdviz_vrl_kind_name (metadata->kind));
      return NULL;
    }
  headers = cdviz_vrl_object_get (item, "headers");
  if (headers != NULL && headers->kind == CDVIZ_VRL_OBJECT)
    {
      header_table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      for (guint i = 0; i < headers->object->len; i++)
        {
          CdvizVrlEntry *e = cdviz_vrl_object_entry (headers, i);

          if (e->value->kind != CDVIZ_VRL_BYTES)
            {
              g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                           _("VRL output %u: header “%s” must be a string, not %s"), index,
                           e->key, cdviz_vrl_kind_name (e->value->kind));
              return NULL;
            }
          if (*e->key == '\0' || strpbrk (e->key, "\r\n:") != NULL ||
              memchr (e->value->bytes.data, '\n', e->value->bytes.len) != NULL ||
              memchr (e->value->bytes.data, '\r', e->value->bytes.len) != NULL)
            {
              g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                           _("VRL output %u: header “%s” is not a valid header"), index, e->key);
              return NULL;
            }
          g_hash_table_replace (header_table, g_ascii_strdown (e->key, -1),
                                g_strndup (e->value->bytes.data, e->value->bytes.len));
        }
    }
  else if (headers != NULL && headers->kind != CDVIZ_VRL_NULL)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("VRL output %u: “headers” must be an object, not %s"), index,
                   cdviz_vrl_kind_name (headers->kind));
      return NULL;
    }

  body_node = cdviz_vrl_value_to_json_node (body);
  json_node_seal (body_node);
  if (metadata != NULL && metadata->kind == CDVIZ_VRL_OBJECT)
    {
      metadata_node = cdviz_vrl_value_to_json_node (metadata);
      json_node_seal (metadata_node);
    }
  return cdviz_message_new (body_node, metadata_node, header_table);
}

static GPtrArray *
vrl_transform (CdvizTransformer  *transformer,
               CdvizMessage      *message,
               GError           **error)
{
  CdvizVrlTransformer *self = CDVIZ_VRL_TRANSFORMER (transformer);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(CdvizVrlValue) target = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) metadata = cdviz_vrl_object_new ();
  g_autoptr(CdvizVrlValue) result = NULL;
  g_autoptr(GError) local_error = NULL;

  cdviz_vrl_object_insert (target, "metadata",
                           cdviz_vrl_value_from_json (cdviz_message_get_metadata (message)));
  cdviz_vrl_object_insert (target, "headers", headers_value (cdviz_message_get_headers (message)));
  cdviz_vrl_object_insert (target, "body", cdviz_vrl_value_from_json (cdviz_message_get_body (message)));

  result = cdviz_vrl_run (self->program, &target, &metadata, self->max_steps, &local_error);
  if (result == NULL)
    {
      g_debug ("vrl: rejected: %s", local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (result->kind == CDVIZ_VRL_NULL)
    {
      g_ptr_array_add (results, g_object_ref (message));
      return g_steal_pointer (&results);
    }
  if (result->kind != CDVIZ_VRL_ARRAY)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("the VRL program returned %s; it must return an array of "
                     "{metadata, headers, body} objects (or null to keep the event)"),
                   cdviz_vrl_kind_name (result->kind));
      return NULL;
    }
  if (result->array->len > self->max_outputs)
    {
      g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_RUNTIME,
                   _("the VRL program produced %u outputs, more than max_outputs (%u)"),
                   result->array->len, self->max_outputs);
      return NULL;
    }
  for (guint i = 0; i < result->array->len; i++)
    {
      CdvizMessage *out = message_from_item (g_ptr_array_index (result->array, i), i + 1, error);

      if (out == NULL)
        return NULL;
      g_ptr_array_add (results, out);
    }
  return g_steal_pointer (&results);
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = vrl_transform;
}

/* --- positions in the configuration file ------------------------------------ */

/* The configuration loader tells where each key was set ("FILE:LINE", object
 * data "cdviz-config-where:KEY"). Reads that line of FILE to find where the
 * program starts (after `"`, `'`, `"""` or `'''`; a newline right after
 * `"""` is not part of the string, as in TOML) and turns "L:C: reason"
 * (inside the program) into "FILE:LINE:COLUMN: reason". A `template_file`
 * key points into that file instead. NULL when the value's place is not a
 * file (--set, the environment) or cannot be found. Escapes on the string's
 * first line are not accounted for. */
static char *
position_in_file (CdvizVrlTransformer *self,
                  const char          *key,
                  const char          *message)
{
  g_autofree char *data_key = g_strconcat ("cdviz-config-where:", key, NULL);
  const char *where = g_object_get_data (G_OBJECT (self), data_key);
  g_autofree char *file = NULL, *contents = NULL;
  g_auto(GStrv) lines = NULL;
  const char *colon, *text, *eq, *reason;
  guint64 line;
  guint pline, pcol, base_line, base_col;
  char *end;

  if (where == NULL || (colon = strrchr (where, ':')) == NULL ||
      sscanf (message, "%u:%u:", &pline, &pcol) != 2 || (reason = strstr (message, ": ")) == NULL)
    return NULL;
  line = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || line == 0)
    return NULL;
  file = g_strndup (where, colon - where);
  if (!g_file_get_contents (file, &contents, NULL, NULL))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  if (line > g_strv_length (lines))
    return NULL;
  text = lines[line - 1];
  eq = strchr (text, '=');
  if (eq == NULL)
    return NULL;
  for (eq++; *eq == ' ' || *eq == '\t'; eq++)
    ;
  if (strstr (text, "template_file") != NULL && strstr (text, "template_file") < eq &&
      (*eq == '"' || *eq == '\''))
    {
      /* the program is the whole named file, relative to this one */
      const char *close = strchr (eq + 1, *eq);
      g_autofree char *name = close ? g_strndup (eq + 1, close - eq - 1) : NULL;
      g_autofree char *dir = g_path_get_dirname (file);

      if (name == NULL)
        return NULL;
      if (!g_path_is_absolute (name))
        {
          char *full = g_build_filename (dir, name, NULL);

          g_free (name);
          name = full;
        }
      return g_strdup_printf ("%s:%u:%u%s", name, pline, pcol, reason);
    }
  if (g_str_has_prefix (eq, "\"\"\"") || g_str_has_prefix (eq, "'''"))
    eq += 3;
  else if (*eq == '"' || *eq == '\'')
    eq += 1;
  else
    return NULL;
  base_line = line;
  base_col = g_utf8_strlen (text, eq - text) + 1;
  if (*eq == '\0' || g_str_equal (eq, "\r"))
    {
      base_line++;
      base_col = 1;
    }
  if (pline == 1)
    return g_strdup_printf ("%s:%u:%u%s", file, base_line, base_col + pcol - 1, reason);
  return g_strdup_printf ("%s:%u:%u%s", file, base_line + pline - 1, pcol, reason);
}

static gboolean
vrl_initable_init (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  CdvizVrlTransformer *self = CDVIZ_VRL_TRANSFORMER (initable);
  g_autoptr(GError) local_error = NULL;
  const char *source;
  const char *key;

  if (self->program != NULL)
    return TRUE;
  if (self->template != NULL && self->script != NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("give the VRL program once: “template” or “script”, not both"));
      return FALSE;
    }
  source = self->template ? self->template : self->script ? self->script : "";
  key = self->script ? "script" : "template";
  {
    g_autofree char *stripped = g_strstrip (g_strdup (source));

    if (*stripped == '\0')
      source = "[.]";
  }

  self->program = cdviz_vrl_compile (source, self->strict ? CDVIZ_VRL_COMPILE_STRICT : 0,
                                     &local_error);
  if (self->program == NULL)
    {
      /* "FILE:LINE:COLUMN: reason" inside the configuration file, else
       * "KEY:LINE:COLUMN: reason" inside the program; the loader prefixes
       * the table's place */
      g_autofree char *mapped = position_in_file (self, key, local_error->message);

      if (mapped != NULL)
        g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                     _("key “%s”: the VRL program does not compile: %s"), key, mapped);
      else
        g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                     _("key “%s”: the VRL program does not compile: %s:%s"), key, key,
                     local_error->message);
      return FALSE;
    }
  for (guint i = 0; i < self->program->warnings->len; i++)
    {
      const char *warning = self->program->warnings->pdata[i];
      g_autofree char *mapped = position_in_file (self, key, warning);

      g_warning (_("VRL %s%s%s (upstream refuses this program; it runs here, and the event is "
                   "rejected if the error happens; set strict = true to refuse it)"),
                 mapped ? "" : key, mapped ? "" : ":", mapped ? mapped : warning);
    }
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = vrl_initable_init;
}

static void
cdviz_vrl_transformer_finalize (GObject *object)
{
  CdvizVrlTransformer *self = CDVIZ_VRL_TRANSFORMER (object);

  g_clear_pointer (&self->program, cdviz_vrl_program_free);
  g_free (self->template);
  g_free (self->script);
  G_OBJECT_CLASS (cdviz_vrl_transformer_parent_class)->finalize (object);
}

static void
cdviz_vrl_transformer_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  CdvizVrlTransformer *self = CDVIZ_VRL_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_TEMPLATE: g_value_set_string (value, self->template); break;
    case PROP_SCRIPT: g_value_set_string (value, self->script); break;
    case PROP_MAX_STEPS: g_value_set_uint64 (value, self->max_steps); break;
    case PROP_MAX_OUTPUTS: g_value_set_uint (value, self->max_outputs); break;
    case PROP_STRICT: g_value_set_boolean (value, self->strict); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_vrl_transformer_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  CdvizVrlTransformer *self = CDVIZ_VRL_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_TEMPLATE:
      g_free (self->template);
      self->template = g_value_dup_string (value);
      break;
    case PROP_SCRIPT:
      g_free (self->script);
      self->script = g_value_dup_string (value);
      break;
    case PROP_MAX_STEPS: self->max_steps = g_value_get_uint64 (value); break;
    case PROP_MAX_OUTPUTS: self->max_outputs = g_value_get_uint (value); break;
    case PROP_STRICT: self->strict = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_vrl_transformer_class_init (CdvizVrlTransformerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_vrl_transformer_finalize;
  object_class->get_property = cdviz_vrl_transformer_get_property;
  object_class->set_property = cdviz_vrl_transformer_set_property;

  /**
   * CdvizVrlTransformer:template:
   *
   * The VRL program (config key `template`, or `template_file` for a file,
   * as cdviz-collector). It runs on `{metadata, headers, body}` and returns
   * an array of such objects; empty means `[.]`.
   */
  properties[PROP_TEMPLATE] =
    g_param_spec_string ("template", NULL,
                         "The VRL program: runs on {metadata, headers, body}, returns an array "
                         "of such objects ([] drops the event, null keeps it)",
                         NULL, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizVrlTransformer:script:
   *
   * Another name for #CdvizVrlTransformer:template (cdviz-collector accepts both).
   */
  properties[PROP_SCRIPT] =
    g_param_spec_string ("script", NULL, "Another name for template",
                         NULL, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizVrlTransformer:max-steps:
   *
   * The most expressions the program may evaluate on one event (config key
   * `max_steps`; 0: no bound). Beyond it the event is rejected: a runaway
   * program cannot stall the pipeline.
   */
  properties[PROP_MAX_STEPS] =
    g_param_spec_uint64 ("max-steps", NULL,
                         "The most expressions evaluated per event (0: no bound)",
                         0, G_MAXUINT64, DEFAULT_MAX_STEPS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizVrlTransformer:max-outputs:
   *
   * The most messages the program may produce from one message.
   */
  properties[PROP_MAX_OUTPUTS] =
    g_param_spec_uint ("max-outputs", NULL, "The most outputs per event",
                       1, G_MAXUINT, DEFAULT_MAX_OUTPUTS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizVrlTransformer:strict:
   *
   * Refuse programs that upstream refuses for unhandled errors (E100, E103,
   * E110, E620, E630, E651). Off by default: such programs (the seed's
   * examples among them) run, with a warning at load, and an error that
   * does happen rejects the event.
   */
  properties[PROP_STRICT] =
    g_param_spec_boolean ("strict", NULL,
                          "Refuse programs with unhandled fallible expressions, as upstream does",
                          FALSE, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_vrl_transformer_init (CdvizVrlTransformer *self)
{
  self->max_steps = DEFAULT_MAX_STEPS;
  self->max_outputs = DEFAULT_MAX_OUTPUTS;
}
