/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-nats-common.h"
#include "cdviz-nats-options.h"

void
cdviz_nats_options_install (GObjectClass *klass,
                            guint         first_prop_id,
                            gboolean      source)
{
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  GParamSpec *pspecs[CDVIZ_NATS_N_OPTIONS] = { NULL };

  pspecs[CDVIZ_NATS_OPTION_URL] =
    g_param_spec_string ("url", NULL,
                         "The cdviz-collector documentation's name of `servers` "
                         "(cdviz-collector's code reads `servers`); give one of the two. "
                         "A tls:// URL connects over TLS",
                         NULL, flags);
  pspecs[CDVIZ_NATS_OPTION_CREDENTIALS] =
    g_param_spec_string ("credentials", NULL,
                         "A NATS .creds file (user JWT and NKey seed, as `nsc` writes it), "
                         "read when connecting",
                         NULL, flags);
  pspecs[CDVIZ_NATS_OPTION_TOKEN] =
    g_param_spec_string ("token", NULL, "A NATS authentication token", NULL, flags);
  pspecs[CDVIZ_NATS_OPTION_JETSTREAM] =
    g_param_spec_boxed ("jetstream", NULL,
                        source
                        ? "The documentation's JetStream table: `enabled` (default true: "
                          "mode = \"jetstream\"), `stream`, `durable` (= `consumer`), "
                          "`deliver_policy` (\"all\", \"new\", \"last\": where a new "
                          "consumer starts), `ack_policy` (\"explicit\" only)"
                        : "The documentation's JetStream table: `enabled` (true: mode = "
                          "\"jetstream\"), `stream`",
                        JSON_TYPE_NODE, flags);
  if (source)
    pspecs[CDVIZ_NATS_OPTION_QUEUE_GROUP] =
      g_param_spec_string ("queue-group", NULL,
                           "core mode: subscribe in this queue group, so that each message "
                           "goes to one of the group's subscribers (several nodes share the "
                           "load)",
                           NULL, flags);

  for (guint i = 0; i < CDVIZ_NATS_N_OPTIONS; i++)
    if (pspecs[i] != NULL)
      g_object_class_install_property (klass, first_prop_id + i, pspecs[i]);
}

gboolean
cdviz_nats_options_get_property (const CdvizNatsOptions *options,
                                 guint                   first_prop_id,
                                 guint                   prop_id,
                                 GValue                 *value)
{
  if (prop_id < first_prop_id || prop_id >= first_prop_id + CDVIZ_NATS_N_OPTIONS)
    return FALSE;
  switch ((CdvizNatsOption) (prop_id - first_prop_id))
    {
    case CDVIZ_NATS_OPTION_URL: g_value_set_string (value, options->url); break;
    case CDVIZ_NATS_OPTION_CREDENTIALS: g_value_set_string (value, options->credentials); break;
    case CDVIZ_NATS_OPTION_TOKEN: g_value_set_string (value, options->token); break;
    case CDVIZ_NATS_OPTION_JETSTREAM: g_value_set_boxed (value, options->jetstream); break;
    case CDVIZ_NATS_OPTION_QUEUE_GROUP: g_value_set_string (value, options->queue_group); break;
    case CDVIZ_NATS_N_OPTIONS: default: return FALSE;
    }
  return TRUE;
}

static void
replace_string (char        **field,
                const GValue *value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

gboolean
cdviz_nats_options_set_property (CdvizNatsOptions *options,
                                 guint             first_prop_id,
                                 guint             prop_id,
                                 const GValue     *value)
{
  if (prop_id < first_prop_id || prop_id >= first_prop_id + CDVIZ_NATS_N_OPTIONS)
    return FALSE;
  switch ((CdvizNatsOption) (prop_id - first_prop_id))
    {
    case CDVIZ_NATS_OPTION_URL: replace_string (&options->url, value); break;
    case CDVIZ_NATS_OPTION_CREDENTIALS: replace_string (&options->credentials, value); break;
    case CDVIZ_NATS_OPTION_TOKEN: replace_string (&options->token, value); break;
    case CDVIZ_NATS_OPTION_QUEUE_GROUP: replace_string (&options->queue_group, value); break;
    case CDVIZ_NATS_OPTION_JETSTREAM:
      g_clear_pointer (&options->jetstream, json_node_unref);
      options->jetstream = g_value_dup_boxed (value);
      break;
    case CDVIZ_NATS_N_OPTIONS: default: return FALSE;
    }
  return TRUE;
}

void
cdviz_nats_options_clear (CdvizNatsOptions *options)
{
  g_clear_pointer (&options->url, g_free);
  g_clear_pointer (&options->credentials, g_free);
  g_clear_pointer (&options->token, g_free);
  g_clear_pointer (&options->queue_group, g_free);
  g_clear_pointer (&options->jetstream, json_node_unref);
}

/* Sets *@field from the jetstream table's string @key; an error when the
 * native key says otherwise. */
static gboolean
fold_string (JsonObject  *table,
             const char  *key,
             const char  *native_key,
             char       **field,
             GError     **error)
{
  JsonNode *node = json_object_get_member (table, key);
  const char *value;

  if (node == NULL || field == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("key “jetstream.%s”: expected a string"), key);
      return FALSE;
    }
  value = json_node_get_string (node);
  if (*field != NULL && !g_str_equal (*field, value))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                   _("keys “jetstream.%s” (“%s”) and “%s” (“%s”) disagree; give one"),
                   key, value, native_key, *field);
      return FALSE;
    }
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static gboolean
resolve_jetstream (CdvizNatsOptions          *options,
                   const CdvizNatsNativeKeys *native,
                   GError                   **error)
{
  static const char * const sink_keys[] = { "enabled", "stream", NULL };
  static const char * const source_keys[] = {
    "enabled", "stream", "durable", "deliver_policy", "ack_policy", NULL
  };
  static const char * const policies[] = { "all", "last", "new", NULL };
  const char * const *known = native->consumer != NULL ? source_keys : sink_keys;
  JsonObject *table;
  JsonNode *node;
  GList *members;

  if (!JSON_NODE_HOLDS_OBJECT (options->jetstream))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “jetstream”: expected a table"));
      return FALSE;
    }
  table = json_node_get_object (options->jetstream);
  members = json_object_get_members (table);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autofree char *list = g_strjoinv (", ", (char **) known);

        g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
                     _("unknown key “jetstream.%s” (known keys: %s)"),
                     (const char *) l->data, list);
        g_list_free (members);
        return FALSE;
      }
  g_list_free (members);

  node = json_object_get_member (table, "enabled");
  if (node != NULL && json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “jetstream.enabled”: expected true or false"));
      return FALSE;
    }
  /* The source's table names a stream: present means enabled. The sink's
   * documentation writes `enabled = true`; without it the table is inert. */
  if (node != NULL ? json_node_get_boolean (node) : native->consumer != NULL)
    *native->mode = CDVIZ_NATS_MODE_JETSTREAM;
  else
    return TRUE;

  if (!fold_string (table, "stream", "stream", native->stream, error) ||
      !fold_string (table, "durable", "consumer", native->consumer, error))
    return FALSE;

  node = json_object_get_member (table, "deliver_policy");
  if (node != NULL)
    {
      const char *policy = json_node_get_value_type (node) == G_TYPE_STRING
                           ? json_node_get_string (node) : "";

      if (!g_strv_contains (policies, policy))
        {
          g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                               _("key “jetstream.deliver_policy”: expected \"all\", \"last\" "
                                 "or \"new\""));
          return FALSE;
        }
      options->deliver_policy = g_str_equal (policy, "all") ? js_DeliverAll
                                : g_str_equal (policy, "last") ? js_DeliverLast : js_DeliverNew;
      options->deliver_policy_set = TRUE;
    }
  node = json_object_get_member (table, "ack_policy");
  if (node != NULL && (json_node_get_value_type (node) != G_TYPE_STRING ||
                       !g_str_equal (json_node_get_string (node), "explicit")))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “jetstream.ack_policy”: only \"explicit\" is supported "
                             "(each message is acknowledged once the pipeline accepted it)"));
      return FALSE;
    }
  return TRUE;
}

gboolean
cdviz_nats_options_resolve (CdvizNatsOptions          *options,
                            const CdvizNatsNativeKeys *native,
                            GError                   **error)
{
  if (options->url != NULL)
    {
      if (*native->servers != NULL)
        {
          g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                               _("keys “url” and “servers” name the same thing; give one"));
          return FALSE;
        }
      *native->servers = g_strdup (options->url);
    }
  if (options->credentials != NULL &&
      !g_file_test (options->credentials, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_IO,
                   _("key “credentials”: cannot read the file “%s”"), options->credentials);
      return FALSE;
    }
  if (options->credentials != NULL && options->token != NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("keys “credentials” and “token” are two ways to authenticate; "
                             "give one"));
      return FALSE;
    }
  if (options->jetstream != NULL && !resolve_jetstream (options, native, error))
    return FALSE;
  if (options->queue_group != NULL && *native->mode == CDVIZ_NATS_MODE_JETSTREAM)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “queue_group” is for core mode; in jetstream mode the "
                             "nodes sharing a durable consumer share its messages"));
      return FALSE;
    }
  return TRUE;
}

natsStatus
cdviz_nats_options_apply (const CdvizNatsOptions  *options,
                          char                   **servers,
                          natsOptions             *opts)
{
  natsStatus s = NATS_OK;

  if (options->credentials != NULL)
    s = natsOptions_SetUserCredentialsFromFiles (opts, options->credentials, NULL);
  if (s == NATS_OK && options->token != NULL)
    s = natsOptions_SetToken (opts, options->token);
  for (char **p = servers; s == NATS_OK && *p != NULL; p++)
    if (g_ascii_strncasecmp (*p, "tls://", 6) == 0)
      {
        s = natsOptions_SetSecure (opts, true);
        break;
      }
  return s;
}
