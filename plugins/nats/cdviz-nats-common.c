/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cdviz-nats-common.h"

/* How long start waits for a JetStream cluster that does not answer yet. */
#define START_RETRY_SECONDS 20

GType
cdviz_nats_mode_get_type (void)
{
  static gsize type_id = 0;

  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { CDVIZ_NATS_MODE_CORE, "CDVIZ_NATS_MODE_CORE", "core" },
        { CDVIZ_NATS_MODE_JETSTREAM, "CDVIZ_NATS_MODE_JETSTREAM", "jetstream" },
        { 0, NULL, NULL },
      };
      GType type = g_enum_register_static (g_intern_static_string ("CdvizNatsMode"), values);

      g_once_init_leave (&type_id, type);
    }
  return type_id;
}

char **
cdviz_nats_split_servers (const char  *servers,
                          GError     **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;
  guint n = 0;

  if (servers == NULL)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_MISSING_KEY,
                           _("key “servers” (or “url”) is required (comma-separated NATS URLs, "
                             "e.g. \"nats://n1:4222,nats://n2:4222\")"));
      return NULL;
    }
  parts = g_strsplit (servers, ",", -1);
  for (char **p = parts; *p != NULL; p++)
    {
      char *url = g_strstrip (*p);

      if (*url == '\0')
        continue;
      if (strstr (url, "://") == NULL && strchr (url, ':') == NULL)
        {
          g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                       _("key “servers”: “%s” is not a NATS URL (nats://host:port)"), url);
          return NULL;
        }
      g_strv_builder_add (builder, url);
      n++;
    }
  if (n == 0)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “servers”: no server URL"));
      return NULL;
    }
  return g_strv_builder_end (builder);
}

gboolean
cdviz_nats_set_error (GError     **error,
                      natsStatus   status,
                      jsErrCode    jerr,
                      const char  *what)
{
  const char *last = nats_GetLastError (NULL);

  if (jerr != 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("%s: %s (JetStream error %d)"), what,
                 last != NULL && *last ? last : natsStatus_GetText (status), (int) jerr);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what,
                 last != NULL && *last ? last : natsStatus_GetText (status));
  return FALSE;
}

/* --- connection ------------------------------------------------------------ */

/* libnats' callbacks run on its own threads. */
static void
on_disconnected (natsConnection *nc,
                 void           *closure)
{
  CdvizNatsConnState *state = closure;

  g_atomic_int_set (&state->connected, 0);
  g_atomic_int_inc (&state->disconnects);
  g_debug ("disconnected from NATS; reconnecting");
}

static void
on_reconnected (natsConnection *nc,
                void           *closure)
{
  CdvizNatsConnState *state = closure;
  char url[256] = "";

  natsConnection_GetConnectedUrl (nc, url, sizeof url);
  g_atomic_int_set (&state->connected, 1);
  g_atomic_int_inc (&state->reconnects);
  g_message ("reconnected to NATS at %s", url);
}

static void
on_closed (natsConnection *nc,
           void           *closure)
{
  CdvizNatsConnState *state = closure;

  g_atomic_int_set (&state->connected, 0);
}

static void
on_async_error (natsConnection   *nc,
                natsSubscription *sub,
                natsStatus        err,
                void             *closure)
{
  g_warning ("NATS: %s", natsStatus_GetText (err));
}

natsConnection *
cdviz_nats_connect (char               **servers,
                    const CdvizNatsOptions *options,
                    const char          *label,
                    guint64              timeout_ms,
                    CdvizNatsConnState  *state,
                    GError             **error)
{
  natsOptions *opts = NULL;
  natsConnection *nc = NULL;
  natsStatus s;
  g_autofree char *name = g_strdup_printf ("cdviz-pipeline %s", label);
  g_autofree char *list = g_strjoinv (",", servers);

  s = natsOptions_Create (&opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers (opts, (const char **) servers, (int) g_strv_length (servers));
  if (s == NATS_OK)
    s = cdviz_nats_options_apply (options, servers, opts);
  if (s == NATS_OK)
    s = natsOptions_SetName (opts, name);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout (opts, (int64_t) CLAMP (timeout_ms, 100, 10000));
  /* Reconnect for ever, every server in turn, 250 ms apart (with libnats'
   * jitter); publications made meanwhile wait in its reconnect buffer. */
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect (opts, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait (opts, 250);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB (opts, on_disconnected, state);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB (opts, on_reconnected, state);
  if (s == NATS_OK)
    s = natsOptions_SetClosedCB (opts, on_closed, state);
  if (s == NATS_OK)
    s = natsOptions_SetErrorHandler (opts, on_async_error, NULL);
  if (s == NATS_OK)
    s = natsConnection_Connect (&nc, opts);
  natsOptions_Destroy (opts);
  if (s != NATS_OK)
    {
      g_autofree char *what = g_strdup_printf (_("%s: cannot connect to the NATS servers %s"),
                                               label, list);
      cdviz_nats_set_error (error, s, 0, what);
      return NULL;
    }
  g_atomic_int_set (&state->connected, 1);
  return nc;
}

gboolean
cdviz_nats_ensure_stream (jsCtx       *js,
                          const char  *stream,
                          const char  *subject,
                          gboolean     create,
                          int          replicas,
                          const char  *label,
                          GError     **error)
{
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s;
  jsStreamConfig cfg;
  const char *subjects[1] = { subject };
  g_autofree char *what = NULL;

  /* A cluster electing its leaders answers nothing for a few seconds:
   * retry what is transient for a while. */
  for (gint64 deadline = g_get_monotonic_time () + START_RETRY_SECONDS * G_TIME_SPAN_SECOND;;)
    {
      jerr = 0;
      s = js_GetStreamInfo (&si, js, stream, NULL, &jerr);
      if ((s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS) || g_get_monotonic_time () > deadline)
        break;
      g_message ("%s: JetStream does not answer yet (%s); trying again", label,
                 natsStatus_GetText (s));
      g_usleep (250 * G_TIME_SPAN_MILLISECOND);
    }
  if (s == NATS_OK)
    {
      jsStreamInfo_Destroy (si);
      return TRUE;
    }
  if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
    {
      what = g_strdup_printf (_("%s: cannot read JetStream stream “%s”"), label, stream);
      return cdviz_nats_set_error (error, s, jerr, what);
    }
  if (!create)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("%s: JetStream stream “%s” does not exist on the NATS servers; create it "
                     "(nats stream add %s --subjects '%s') or set create_stream = true"),
                   label, stream, stream, subject);
      return FALSE;
    }
  jsStreamConfig_Init (&cfg);
  cfg.Name = stream;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = MAX (replicas, 1);
  s = js_AddStream (&si, js, &cfg, NULL, &jerr);
  if (s != NATS_OK)
    {
      /* Another node may have created it at the same moment. */
      jsStreamInfo *again = NULL;

      if (js_GetStreamInfo (&again, js, stream, NULL, NULL) == NATS_OK)
        {
          jsStreamInfo_Destroy (again);
          return TRUE;
        }
      what = g_strdup_printf (_("%s: cannot create JetStream stream “%s”"), label, stream);
      return cdviz_nats_set_error (error, s, jerr, what);
    }
  g_message ("%s: created JetStream stream “%s” (subjects %s, %d replicas)", label, stream,
             subject, (int) cfg.Replicas);
  jsStreamInfo_Destroy (si);
  return TRUE;
}

/* --- subjects --------------------------------------------------------------- */

gboolean
cdviz_nats_subject_is_valid (const char *subject,
                             gboolean    wildcards)
{
  g_auto(GStrv) tokens = NULL;
  guint n;

  if (subject == NULL || *subject == '\0')
    return FALSE;
  for (const char *p = subject; *p; p++)
    if (g_ascii_isspace (*p))
      return FALSE;
  tokens = g_strsplit (subject, ".", -1);
  n = g_strv_length (tokens);
  for (guint i = 0; i < n; i++)
    {
      if (*tokens[i] == '\0')
        return FALSE;
      if (strchr (tokens[i], '*') != NULL || strchr (tokens[i], '>') != NULL)
        {
          if (!wildcards)
            return FALSE;
          if (g_str_equal (tokens[i], ">") && i == n - 1)
            continue;
          if (!g_str_equal (tokens[i], "*"))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
cdviz_nats_subject_matches (const char *filter,
                            const char *subject)
{
  const char *f = filter, *s = subject;

  while (*f && *s)
    {
      const char *fe = strchr (f, '.'), *se = strchr (s, '.');
      gsize fl = fe ? (gsize) (fe - f) : strlen (f);
      gsize sl = se ? (gsize) (se - s) : strlen (s);

      if (fl == 1 && *f == '>' && fe == NULL)
        return sl > 0;
      if (!(fl == 1 && *f == '*') && (fl != sl || memcmp (f, s, fl) != 0))
        return FALSE;
      if (sl == 0)
        return FALSE;
      if ((fe == NULL) != (se == NULL))
        return FALSE;
      if (fe == NULL)
        return TRUE;
      f = fe + 1;
      s = se + 1;
    }
  return FALSE;
}

/* --- /metrics ---------------------------------------------------------------- */

static const struct {
  const char *name;
  const char *type;
  const char *help;
} families[CDVIZ_NATS_N_METRICS] = {
  [CDVIZ_NATS_METRIC_CONNECTED] = { "cdviz_nats_connected", "gauge",
    "1 when the component is connected to a NATS server, else 0." },
  [CDVIZ_NATS_METRIC_RECONNECTS] = { "cdviz_nats_reconnects_total", "counter",
    "Reconnections to the NATS cluster." },
  [CDVIZ_NATS_METRIC_MESSAGES] = { "cdviz_nats_messages_total", "counter",
    "Messages published (sink: acknowledged by JetStream in jetstream mode) or "
    "handed to the pipeline (source)." },
  [CDVIZ_NATS_METRIC_FAILURES] = { "cdviz_nats_failures_total", "counter",
    "Failed publications (each retried) or messages refused (source)." },
  [CDVIZ_NATS_METRIC_QUEUE] = { "cdviz_nats_queue_length", "gauge",
    "Events accepted by the sink and not published yet." },
  [CDVIZ_NATS_METRIC_REPLAYED] = { "cdviz_nats_replayed_total", "counter",
    "Messages a jetstream source read again from the stream by sequence: at start "
    "(replay_last), and the deliveries lost with a connection." },
};

typedef struct {
  GObject *component;
  CdvizNatsMetricsFunc func;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_object_unref (e->component);
  g_free (e);
}

/* An HTTP thread (one scrape at a time). */
static void
nats_metrics (GString  *out,
              gpointer  user_data)
{
  GPtrArray *entries = user_data;

  for (guint f = 0; f < CDVIZ_NATS_N_METRICS; f++)
    {
      g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                              families[f].help, families[f].name, families[f].type);
      for (guint i = 0; i < entries->len; i++)
        {
          Entry *e = g_ptr_array_index (entries, i);

          e->func (e->component, out, f);
        }
    }
}

#define METRICS_KEY "cdviz-nats-components"

void
cdviz_nats_register_metrics (CdvizHttpServer      *http,
                             GObject              *component,
                             CdvizNatsMetricsFunc  func)
{
  GPtrArray *entries;
  Entry *e;

  if (http == NULL)
    return;
  entries = g_object_get_data (G_OBJECT (http), METRICS_KEY);
  if (entries == NULL)
    {
      entries = g_ptr_array_new_with_free_func (entry_free);
      g_object_set_data_full (G_OBJECT (http), METRICS_KEY, entries,
                              (GDestroyNotify) g_ptr_array_unref);
      cdviz_http_server_add_metrics_func (http, nats_metrics, g_ptr_array_ref (entries),
                                          (GDestroyNotify) g_ptr_array_unref);
    }
  for (guint i = 0; i < entries->len; i++)
    if (((Entry *) g_ptr_array_index (entries, i))->component == component)
      return;
  e = g_new0 (Entry, 1);
  e->component = g_object_ref (component);
  e->func = func;
  g_ptr_array_add (entries, e);
}

void
cdviz_nats_append_sample (GString    *out,
                          guint       family,
                          const char *kind,
                          const char *name,
                          guint64     value)
{
  cdviz_metrics_append_sample (out, families[family].name, value, kind, name, NULL);
}
