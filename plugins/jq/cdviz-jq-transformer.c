/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>
#include <jq.h>

#include "cdviz-jq-json.h"
#include "cdviz-jq-transformer.h"

/* `type = "jq"`: runs a jq program over every message.
 *
 * The program's input is `{"metadata": {…}, "headers": {…}, "body": <event>}`.
 * Each of its outputs (zero or more) becomes a message and must be an object
 * with a `body` (not null) and optionally `metadata` (an object) and `headers`
 * (an object of strings); an absent or null `metadata`/`headers` means empty,
 * as in cdviz-collector. No output (`empty`, `select(false)`) drops the
 * event. A jq error, or an output that breaks these rules, rejects the whole
 * event (outputs before the failure are discarded too); the error message is
 * jq's.
 *
 * Threads. libjq 1.6 is not safe to compile from two threads at once, and a
 * jq_state must never run on two threads at once. So:
 *  - every jq_init() / jq_compile() / jq_teardown() of the process runs under
 *    one global mutex (compile_lock);
 *  - each transformer keeps a small pool of compiled states. A call borrows an
 *    idle state (or compiles a new one under the global mutex when all are
 *    busy) and gives it back when done. A state is thus used by one thread at
 *    a time, as with one state per thread, but without tying its lifetime to
 *    a thread's: states go away with the transformer. Transformers run on
 *    the pipeline thread only, so the pool stays at the one state compiled by
 *    g_initable_init(); a second one appears only if the transformer is ever
 *    called from two threads at once (e.g. from Python).
 *
 * Cost. The message is converted to jq values directly (no JSON text); a
 * part of an output that is the very value the filter received (jq shares
 * unchanged values by reference) reuses the message's node instead of
 * converting back, and an output equal to the whole input (`select(…)`)
 * reuses the message itself.
 */

#define DEFAULT_MAX_OUTPUTS 1000

struct _CdvizJqTransformer
{
  GObject parent_instance;

  char *filter;
  guint max_outputs;

  GMutex lock;
  GPtrArray *idle;        /* jq_state *, compiled and not in use */
  gboolean initialized;
};

enum {
  PROP_0,
  PROP_FILTER,
  PROP_MAX_OUTPUTS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Serialises jq_init, jq_compile and jq_teardown across the process. */
static GMutex compile_lock;

static void transformer_iface_init (CdvizTransformerInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_QUARK (cdviz-jq-error-quark, cdviz_jq_error)

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizJqTransformer, cdviz_jq_transformer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_TRANSFORMER,
                                                      transformer_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

/* "a string", "an object"…, for messages. */
static const char *
describe_kind (jv_kind kind)
{
  switch (kind)
    {
    case JV_KIND_NULL:
      return _("null");
    case JV_KIND_FALSE:
    case JV_KIND_TRUE:
      return _("a boolean");
    case JV_KIND_NUMBER:
      return _("a number");
    case JV_KIND_STRING:
      return _("a string");
    case JV_KIND_ARRAY:
      return _("an array");
    case JV_KIND_OBJECT:
      return _("an object");
    case JV_KIND_INVALID:
    default:
      return _("an invalid value");
    }
}

/* --- jq states ----------------------------------------------------------- */

/* Turns a jq message (a string, an invalid with a message, or any value)
 * into text. Consumes @msg. */
static char *
message_to_text (jv msg)
{
  char *text;

  if (jv_get_kind (msg) == JV_KIND_INVALID)
    {
      if (jv_invalid_has_msg (jv_copy (msg)))
        msg = jv_invalid_get_msg (msg);
      else
        {
          jv_free (msg);
          msg = jv_null ();
        }
    }

  if (jv_get_kind (msg) == JV_KIND_STRING)
    text = g_strdup (jv_string_value (msg));
  else
    {
      jv dumped = jv_dump_string (jv_copy (msg), 0);

      text = g_strdup (jv_get_kind (dumped) == JV_KIND_STRING ? jv_string_value (dumped)
                                                                : _("unknown jq error"));
      jv_free (dumped);
    }
  jv_free (msg);
  return text;
}

static void
collect_compile_error (void *data,
                       jv    msg)
{
  GString *messages = data;
  g_autofree char *text = message_to_text (msg);

  g_strchomp (text);
  if (messages->len > 0)
    g_string_append_c (messages, '\n');
  g_string_append (messages, text);
}

static void
log_jq_message (void *data,
                jv    msg)
{
  g_autofree char *text = message_to_text (msg);

  g_debug ("jq: %s", text);
}

/* `input` and `inputs`: there is one input, given to jq_start(), so
 * `inputs` is empty and `input` fails (libjq 1.6 says "break"). Without a
 * callback libjq 1.6 reads uninitialised memory there. */
static jv
no_more_inputs (jq_state *jq,
                void     *data)
{
  return jv_invalid ();
}

static void
teardown_state (gpointer data)
{
  jq_state *jq = data;

  g_mutex_lock (&compile_lock);
  jq_teardown (&jq);
  g_mutex_unlock (&compile_lock);
}

static jq_state *
compile_state (const char  *filter,
               GError     **error)
{
  g_autoptr(GString) messages = g_string_new (NULL);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&compile_lock);
  jq_state *jq;

  jq = jq_init ();
  if (jq == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “filter”: cannot initialise libjq (out of memory)"));
      return NULL;
    }

  jq_set_error_cb (jq, collect_compile_error, messages);
  /* No module search path: `import`/`include` fail cleanly instead of
   * aborting inside libjq 1.6, which needs the attribute set. */
  jq_set_attr (jq, jv_string ("JQ_LIBRARY_PATH"), jv_array ());
  jq_set_input_cb (jq, no_more_inputs, NULL);
  jq_set_debug_cb (jq, log_jq_message, NULL);

  if (!jq_compile (jq, filter))
    {
      if (messages->len == 0)
        g_string_append (messages, _("jq: the program does not compile"));
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “filter”: invalid jq program:\n%s"), messages->str);
      jq_teardown (&jq);
      return NULL;
    }

  /* `messages` dies with this frame. */
  jq_set_error_cb (jq, log_jq_message, NULL);
  return jq;
}

static jq_state *
borrow_state (CdvizJqTransformer  *self,
              GError             **error)
{
  jq_state *jq = NULL;

  g_mutex_lock (&self->lock);
  if (self->idle->len > 0)
    jq = g_ptr_array_steal_index_fast (self->idle, self->idle->len - 1);
  g_mutex_unlock (&self->lock);

  if (jq == NULL)
    {
      g_debug ("jq: compiling one more state for a concurrent caller");
      jq = compile_state (self->filter, error);
    }
  return jq;
}

static void
give_back_state (CdvizJqTransformer *self,
                 jq_state           *jq)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->idle, jq);
  g_mutex_unlock (&self->lock);
}

/* --- outputs → messages -------------------------------------------------- */

/* What the filter received, kept to recognise parts it passed on unchanged. */
typedef struct {
  CdvizMessage *message;
  jv root;
  jv body;
  jv metadata;
  jv headers;
  CdvizJqNumbers numbers;
} Input;

static void
input_clear (Input *input)
{
  jv_free (input->root);
  jv_free (input->body);
  jv_free (input->metadata);
  jv_free (input->headers);
  cdviz_jq_numbers_clear (&input->numbers);
}

static gboolean
input_init (Input         *input,
            CdvizMessage  *message,
            GError       **error)
{
  input->message = message;
  input->numbers = (CdvizJqNumbers) CDVIZ_JQ_NUMBERS_INIT;
  input->metadata = cdviz_jq_jv_from_json (cdviz_message_get_metadata (message),
                                           &input->numbers);
  input->headers = cdviz_jq_jv_from_headers (cdviz_message_get_headers (message));
  input->body = cdviz_jq_jv_from_json (cdviz_message_get_body (message), &input->numbers);
  input->root = jv_null ();

  if (!jv_is_valid (input->body) || !jv_is_valid (input->metadata))
    {
      g_autofree char *text = message_to_text (jv_is_valid (input->body) ? jv_copy (input->metadata)
                                                                        : jv_copy (input->body));
      g_set_error_literal (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_INPUT, text);
      return FALSE;
    }

  jv_free (input->root);
  input->root = jv_object ();
  input->root = jv_object_set (input->root, jv_string ("metadata"), jv_copy (input->metadata));
  input->root = jv_object_set (input->root, jv_string ("headers"), jv_copy (input->headers));
  input->root = jv_object_set (input->root, jv_string ("body"), jv_copy (input->body));
  return TRUE;
}

static gboolean
same_value (jv a,
            jv b)
{
  return jv_identical (jv_copy (a), jv_copy (b));
}

static GHashTable *
headers_from_jv (jv        headers,
                 guint     index,
                 GError  **error)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (int it = jv_object_iter (headers); jv_object_iter_valid (headers, it);
       it = jv_object_iter_next (headers, it))
    {
      jv key = jv_object_iter_key (headers, it);
      jv value = jv_object_iter_value (headers, it);
      const char *name = jv_string_value (key);
      gboolean ok = FALSE;

      if (*name == '\0' || strpbrk (name, "\r\n:") != NULL)
        g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                     _("jq filter output %u: “%s” is not a valid header name"), index, name);
      else if (jv_get_kind (value) != JV_KIND_STRING)
        g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                     _("jq filter output %u: header “%s” must be a string, not %s"),
                     index, name, describe_kind (jv_get_kind (value)));
      else if (strpbrk (jv_string_value (value), "\r\n") != NULL)
        g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                     _("jq filter output %u: header “%s” contains a line break"), index, name);
      else
        {
          g_hash_table_replace (table, g_strdup (name), g_strdup (jv_string_value (value)));
          ok = TRUE;
        }
      jv_free (key);
      jv_free (value);
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&table);
}

/* Turns one output into a message. Consumes @out. */
static CdvizMessage *
message_from_output (Input   *input,
                     jv       out,
                     guint    index,
                     GError **error)
{
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) metadata = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GError) local_error = NULL;
  jv part;

  if (same_value (out, input->root))
    {
      jv_free (out);
      return g_object_ref (input->message);
    }

  if (jv_get_kind (out) != JV_KIND_OBJECT)
    {
      g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                   _("jq filter output %u is %s, not an object with a “body” "
                     "(and optional “metadata” and “headers”)"),
                   index, describe_kind (jv_get_kind (out)));
      jv_free (out);
      return NULL;
    }

  /* body: required, not null */
  part = jv_object_get (jv_copy (out), jv_string ("body"));
  if (!jv_is_valid (part) || jv_get_kind (part) == JV_KIND_NULL)
    {
      if (jv_is_valid (part))
        g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                     _("jq filter output %u: “body” is null"), index);
      else
        g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                     _("jq filter output %u has no “body” (outputs are objects with a "
                       "“body” and optional “metadata” and “headers”; to change "
                       "the event, assign to .body)"), index);
      jv_free (part);
      jv_free (out);
      return NULL;
    }
  /* The body is there: any other key is a mistake. */
  for (int it = jv_object_iter (out); jv_object_iter_valid (out, it);
       it = jv_object_iter_next (out, it))
    {
      jv key = jv_object_iter_key (out, it);
      const char *name = jv_string_value (key);

      if (!g_str_equal (name, "body") && !g_str_equal (name, "metadata") &&
          !g_str_equal (name, "headers"))
        {
          g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                       _("jq filter output %u has an unknown key “%s” (expected “body”, "
                         "“metadata” and “headers”)"), index, name);
          jv_free (key);
          jv_free (part);
          jv_free (out);
          return NULL;
        }
      jv_free (key);
    }

  if (same_value (part, input->body))
    body = json_node_ref (cdviz_message_get_body (input->message));
  else
    body = cdviz_jq_json_from_jv (part, &input->numbers, &local_error);
  jv_free (part);
  if (body == NULL)
    {
      g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                   _("jq filter output %u: “body”: %s"), index, local_error->message);
      jv_free (out);
      return NULL;
    }

  /* metadata: optional object */
  part = jv_object_get (jv_copy (out), jv_string ("metadata"));
  if (!jv_is_valid (part) || jv_get_kind (part) == JV_KIND_NULL)
    ;
  else if (same_value (part, input->metadata))
    metadata = json_node_ref (cdviz_message_get_metadata (input->message));
  else if (jv_get_kind (part) != JV_KIND_OBJECT)
    g_set_error (&local_error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                 _("“metadata” must be an object, not %s"), describe_kind (jv_get_kind (part)));
  else
    metadata = cdviz_jq_json_from_jv (part, &input->numbers, &local_error);
  jv_free (part);
  if (local_error != NULL)
    {
      g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                   _("jq filter output %u: %s"), index, local_error->message);
      jv_free (out);
      return NULL;
    }

  /* headers: optional object of strings */
  part = jv_object_get (jv_copy (out), jv_string ("headers"));
  jv_free (out);
  if (!jv_is_valid (part) || jv_get_kind (part) == JV_KIND_NULL)
    ;
  else if (same_value (part, input->headers))
    headers = g_hash_table_ref (cdviz_message_get_headers (input->message));
  else if (jv_get_kind (part) != JV_KIND_OBJECT)
    g_set_error (error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_OUTPUT,
                 _("jq filter output %u: “headers” must be an object, not %s"),
                 index, describe_kind (jv_get_kind (part)));
  else
    headers = headers_from_jv (part, index, error);
  if (headers == NULL && jv_is_valid (part) && jv_get_kind (part) != JV_KIND_NULL)
    {
      jv_free (part);
      return NULL;
    }
  jv_free (part);

  /* Sealed here, so that the message takes the nodes without copying. */
  json_node_seal (body);
  if (metadata != NULL)
    json_node_seal (metadata);
  return cdviz_message_new (body, metadata, headers);
}

/* --- transform ----------------------------------------------------------- */

static GPtrArray *
jq_transform (CdvizTransformer  *transformer,
              CdvizMessage      *message,
              GError           **error)
{
  CdvizJqTransformer *self = CDVIZ_JQ_TRANSFORMER (transformer);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) local_error = NULL;
  Input input;
  jq_state *jq;
  guint count = 0;
  jv out;

  if (!input_init (&input, message, error))
    {
      input_clear (&input);
      return NULL;
    }

  jq = borrow_state (self, error);
  if (jq == NULL)
    {
      input_clear (&input);
      return NULL;
    }

  jq_start (jq, jv_copy (input.root), 0);
  for (;;)
    {
      CdvizMessage *result;

      out = jq_next (jq);
      if (!jv_is_valid (out))
        break;
      if (++count > self->max_outputs)
        {
          g_set_error (&local_error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_TOO_MANY_OUTPUTS,
                       _("the jq filter produced more than %u outputs (raise max_outputs?)"),
                       self->max_outputs);
          jv_free (out);
          break;
        }
      result = message_from_output (&input, out, count, &local_error);
      if (result == NULL)
        break;
      g_ptr_array_add (results, result);
    }

  if (local_error == NULL)
    {
      /* `out` is the invalid value that ended the stream. */
      if (jv_invalid_has_msg (jv_copy (out)))
        {
          g_autofree char *text = message_to_text (out);

          g_set_error_literal (&local_error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_RUNTIME, text);
        }
      else
        {
          jv_free (out);
          if (jq_halted (jq))
            {
              /* `halt` ends the outputs; `halt_error` with a non-zero code
               * rejects the event with its message. */
              jv code = jq_get_exit_code (jq);

              if (jv_get_kind (code) == JV_KIND_NUMBER && jv_number_value (code) != 0)
                {
                  g_autofree char *text = message_to_text (jq_get_error_message (jq));

                  g_strchomp (text);
                  g_set_error_literal (&local_error, CDVIZ_JQ_ERROR, CDVIZ_JQ_ERROR_RUNTIME,
                                       text);
                }
              jv_free (code);
            }
        }
    }

  give_back_state (self, jq);
  input_clear (&input);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&results);
}

static void
transformer_iface_init (CdvizTransformerInterface *iface)
{
  iface->transform = jq_transform;
}

/* --- construction -------------------------------------------------------- */

static gboolean
jq_initable_init (GInitable     *initable,
                  GCancellable  *cancellable,
                  GError       **error)
{
  CdvizJqTransformer *self = CDVIZ_JQ_TRANSFORMER (initable);
  g_autofree char *stripped = g_strstrip (g_strdup (self->filter ? self->filter : ""));
  jq_state *jq;

  if (self->initialized)
    return TRUE;

  if (*stripped == '\0')
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “filter” is required: a jq program such as "
                             "'select(.body.context.type | startswith(\"dev.cdevents.build.\"))', "
                             "or filter_file = \"path/to/program.jq\""));
      return FALSE;
    }

  jq = compile_state (self->filter, error);
  if (jq == NULL)
    return FALSE;
  give_back_state (self, jq);
  self->initialized = TRUE;
  return TRUE;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = jq_initable_init;
}

static void
cdviz_jq_transformer_finalize (GObject *object)
{
  CdvizJqTransformer *self = CDVIZ_JQ_TRANSFORMER (object);

  g_clear_pointer (&self->idle, g_ptr_array_unref);
  g_mutex_clear (&self->lock);
  g_free (self->filter);

  G_OBJECT_CLASS (cdviz_jq_transformer_parent_class)->finalize (object);
}

static void
cdviz_jq_transformer_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  CdvizJqTransformer *self = CDVIZ_JQ_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_FILTER:
      g_value_set_string (value, self->filter);
      break;
    case PROP_MAX_OUTPUTS:
      g_value_set_uint (value, self->max_outputs);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_jq_transformer_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  CdvizJqTransformer *self = CDVIZ_JQ_TRANSFORMER (object);

  switch (prop_id)
    {
    case PROP_FILTER:
      g_free (self->filter);
      self->filter = g_value_dup_string (value);
      break;
    case PROP_MAX_OUTPUTS:
      self->max_outputs = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_jq_transformer_class_init (CdvizJqTransformerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdviz_jq_transformer_finalize;
  object_class->get_property = cdviz_jq_transformer_get_property;
  object_class->set_property = cdviz_jq_transformer_set_property;

  /**
   * CdvizJqTransformer:filter:
   *
   * The jq program (config key `filter`, or `filter_file` for a file). Its
   * input is `{"metadata", "headers", "body"}`; each output is such an
   * object and becomes a message. Compiled once, when the transformer is
   * initialised.
   */
  properties[PROP_FILTER] =
    g_param_spec_string ("filter", NULL, "The jq program",
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CdvizJqTransformer:max-outputs:
   *
   * The most messages the program may produce from one message (config key
   * `max_outputs`); beyond it the event is rejected. Guards against a
   * runaway program such as `repeat(.)`.
   */
  properties[PROP_MAX_OUTPUTS] =
    g_param_spec_uint ("max-outputs", NULL, "The most outputs per event",
                       1, G_MAXUINT, DEFAULT_MAX_OUTPUTS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_jq_transformer_init (CdvizJqTransformer *self)
{
  self->max_outputs = DEFAULT_MAX_OUTPUTS;
  self->idle = g_ptr_array_new_with_free_func (teardown_state);
  g_mutex_init (&self->lock);
}
