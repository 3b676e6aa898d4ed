/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cdviz-db-sink.h"
#include "cdviz-db-conninfo.h"
#include "cdviz-db-writer.h"

/**
 * CdvizDbSink:
 *
 * `type = "db"`: stores every event in PostgreSQL with cdviz-db's
 * `CALL cdviz.store_cdevent($1::jsonb)`, as cdviz-collector's db sink does
 * (its keys, its defaults). A duplicate (SQLSTATE 23505) counts as stored.
 *
 * Threads. start() runs on the thread that starts the pipeline: unless
 * `lazy_connection`, it connects once (blocking, at most
 * `pool_acquire_timeout`) and prepares the statement, so that a wrong
 * password, an unknown database or a missing schema refuse the start with
 * a clear error. send_message() runs on the pipeline thread and only queues
 * (cdviz-db-writer.c: waiting while the queue is full, which is how the
 * back-pressure reaches the webhooks). The writer's own thread does all
 * the network work. stop() waits for the queue to drain, at most
 * `shutdown_grace_period` from when the pipeline began to stop, and logs
 * how many events were left. /metrics runs on the HTTP thread and reads
 * atomics only.
 *
 * `config --check` (cdviz_pipeline_is_checking()) parses the URL but does
 * not connect.
 */

enum {
  PROP_0,
  PROP_URL,
  PROP_PASSWORD,
  PROP_POOL_CONNECTIONS_MIN,
  PROP_POOL_CONNECTIONS_MAX,
  PROP_POOL_ACQUIRE_TIMEOUT,
  PROP_POOL_IDLE_TIMEOUT,
  PROP_POOL_MAX_LIFETIME,
  PROP_POOL_TEST_BEFORE_ACQUIRE,
  PROP_TOTAL_DURATION_OF_RETRIES,
  PROP_LAZY_CONNECTION,
  PROP_QUEUE_CAPACITY,
  PROP_PIPELINE_DEPTH,
  PROP_SHUTDOWN_GRACE_PERIOD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

struct _CdvizDbSink
{
  GObject parent_instance;

  /* configuration */
  char *url;
  char *password;
  CdvizDbWriterOptions options;
  gboolean test_before_acquire;
  gboolean lazy_connection;

  CdvizDbConninfo *info;        /* from url and password, by init */
  char *name;                   /* the sink's name in the configuration */
  CdvizDbWriter *writer;        /* (nullable): from start to stop */
  CdvizPipeline *pipeline;      /* (weak): to see it stop */
  CdvizDbCounters counters;
};

static void sink_iface_init (CdvizSinkInterface *iface);
static void initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizDbSink, cdviz_db_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDVIZ_TYPE_SINK, sink_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init))

/* --- metrics -------------------------------------------------------------- */

typedef guint64 (*SampleFunc) (CdvizDbSink *sink);

static guint64 stored_sample (CdvizDbSink *s) { return CDVIZ_DB_COUNTER (s->counters.stored); }
static guint64 duplicates_sample (CdvizDbSink *s) { return CDVIZ_DB_COUNTER (s->counters.duplicates); }
static guint64 failed_sample (CdvizDbSink *s) { return CDVIZ_DB_COUNTER (s->counters.failed); }
static guint64 retries_sample (CdvizDbSink *s) { return CDVIZ_DB_COUNTER (s->counters.retries); }
static guint64 waits_sample (CdvizDbSink *s) { return CDVIZ_DB_COUNTER (s->counters.waits); }
static guint64 queue_sample (CdvizDbSink *s) { return MAX (g_atomic_int_get (&s->counters.queue_length), 0); }
static guint64 capacity_sample (CdvizDbSink *s) { return s->options.queue_capacity; }
static guint64 connections_sample (CdvizDbSink *s) { return MAX (g_atomic_int_get (&s->counters.connections), 0); }
static guint64 connected_sample (CdvizDbSink *s) { return g_atomic_int_get (&s->counters.connections) > 0; }

static const struct {
  const char *name;
  const char *type;
  const char *help;
  SampleFunc sample;
} metric_families[] = {
  { "cdviz_db_events_stored_total", "counter",
    "Events stored in PostgreSQL by the db sink.", stored_sample },
  { "cdviz_db_duplicates_total", "counter",
    "Events already in the table (SQLSTATE 23505), counted as stored.", duplicates_sample },
  { "cdviz_db_events_failed_total", "counter",
    "Events PostgreSQL refused (a value jsonb cannot hold), logged and dropped.", failed_sample },
  { "cdviz_db_retries_total", "counter",
    "Failed connection attempts and round trips, each followed by a retry.", retries_sample },
  { "cdviz_db_queue_full_total", "counter",
    "Times the pipeline waited because the db sink's queue was full.", waits_sample },
  { "cdviz_db_queue_length", "gauge",
    "Events accepted by the db sink and not stored yet.", queue_sample },
  { "cdviz_db_queue_capacity", "gauge",
    "The db sink's queue_capacity.", capacity_sample },
  { "cdviz_db_connections", "gauge",
    "Open connections to PostgreSQL, ready to store.", connections_sample },
  { "cdviz_db_connected", "gauge",
    "1 when the db sink has at least one connection to PostgreSQL, else 0.", connected_sample },
};

/* One function per HTTP server for every db sink on it, so that each family
 * is declared once. Runs on the HTTP thread. */
static void
db_metrics (GString  *out,
            gpointer  user_data)
{
  GPtrArray *sinks = user_data;

  for (guint f = 0; f < G_N_ELEMENTS (metric_families); f++)
    {
      g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n",
                              metric_families[f].name, metric_families[f].help,
                              metric_families[f].name, metric_families[f].type);
      for (guint i = 0; i < sinks->len; i++)
        {
          CdvizDbSink *sink = g_ptr_array_index (sinks, i);

          cdviz_metrics_append_sample (out, metric_families[f].name,
                                       metric_families[f].sample (sink),
                                       "sink", sink->name, NULL);
        }
    }
}

static void
register_metrics (CdvizDbSink     *self,
                  CdvizHttpServer *http)
{
  cdviz_http_server_add_shared_metrics (http, "cdviz-db-sinks", db_metrics, G_OBJECT (self));
}

/* --- start, send, stop ------------------------------------------------------ */

static gboolean
db_start_sink (CdvizSink      *sink,
               CdvizPipeline  *pipeline,
               GError        **error)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (sink);
  const char *name = cdviz_pipeline_get_sink_name (pipeline, sink);
  PGconn *first = NULL;

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "db");

  /* config --check: the URL was parsed by init; nothing to reach. */
  if (cdviz_pipeline_is_checking (pipeline))
    return TRUE;
  g_return_val_if_fail (self->writer == NULL, FALSE);

  if (!self->lazy_connection)
    {
      first = cdviz_db_connect_and_check (self->info, error);
      if (first == NULL)
        {
          g_prefix_error (error, _("lazy_connection = false: "));
          return FALSE;
        }
    }

  self->writer = cdviz_db_writer_new (self->name, self->info, &self->options, &self->counters);
  if (!cdviz_db_writer_start (self->writer, first, error))
    {
      g_clear_pointer (&self->writer, cdviz_db_writer_free);
      return FALSE;
    }
  g_set_weak_pointer (&self->pipeline, pipeline);
  register_metrics (self, cdviz_pipeline_get_http_server (pipeline));

  g_debug ("Sink %s: storing into PostgreSQL at %s (%s), %u to %u connections, "
           "%u events per round trip, queue of %u", self->name, self->info->description,
           self->lazy_connection ? "connecting when needed" : "connected",
           self->options.min_connections, self->options.max_connections,
           self->options.pipeline_depth, self->options.queue_capacity);
  return TRUE;
}

/* The pipeline thread: queued, or waits for room (back-pressure). */
static gboolean
db_send_message (CdvizSink     *sink,
                 CdvizMessage  *message,
                 GError       **error)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (sink);

  if (self->writer == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                           _("the db sink is not started"));
      return FALSE;
    }
  cdviz_db_writer_push (self->writer, message, self->pipeline);
  return TRUE;
}

static void
db_stop_sink (CdvizSink *sink)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (sink);
  guint64 stored_before;
  guint left;

  if (self->writer == NULL)
    return;
  stored_before = CDVIZ_DB_COUNTER (self->counters.stored);
  left = cdviz_db_writer_stop (self->writer);
  g_clear_pointer (&self->writer, cdviz_db_writer_free);
  g_clear_weak_pointer (&self->pipeline);

  if (left > 0)
    g_warning (_("Sink %s: %u events accepted were not stored in PostgreSQL within "
                 "shutdown_grace_period (%.1f s); they are lost"),
               self->name, left, self->options.grace_ms / 1000.0);
  else
    g_debug ("Sink %s: stopped; every accepted event is stored (%" G_GUINT64_FORMAT
             " while stopping)", self->name,
             CDVIZ_DB_COUNTER (self->counters.stored) - stored_before);
}

static void
sink_iface_init (CdvizSinkInterface *iface)
{
  iface->start_sink = db_start_sink;
  iface->send_message = db_send_message;
  iface->stop_sink = db_stop_sink;
}

/* --- the object --------------------------------------------------------------- */

static gboolean
db_initable_init (GInitable     *initable,
                  GCancellable  *cancellable,
                  GError       **error)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (initable);
  guint timeout_s;

  if (self->url == NULL || *self->url == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("missing required key 'url' (postgresql://USER:PASSWORD@HOST:PORT/DATABASE, "
                             "or url_file)"));
      return FALSE;
    }
  if (self->options.min_connections > self->options.max_connections)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("pool_connections_min (%u) must be <= pool_connections_max (%u)"),
                   self->options.min_connections, self->options.max_connections);
      return FALSE;
    }
  timeout_s = (guint) MIN ((self->options.acquire_timeout_ms + 999) / 1000, G_MAXUINT);
  self->info = cdviz_db_conninfo_new (self->url, self->password, timeout_s, error);
  return self->info != NULL;
}

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = db_initable_init;
}

static void
wipe (char **secret)
{
  if (*secret != NULL)
    explicit_bzero (*secret, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

static void
cdviz_db_sink_finalize (GObject *object)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (object);

  /* The pipeline stops its sinks before dropping them. */
  g_warn_if_fail (self->writer == NULL);
  g_clear_weak_pointer (&self->pipeline);
  g_clear_pointer (&self->info, cdviz_db_conninfo_free);
  wipe (&self->url);
  wipe (&self->password);
  g_free (self->name);

  G_OBJECT_CLASS (cdviz_db_sink_parent_class)->finalize (object);
}

static void
cdviz_db_sink_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_PASSWORD:
      g_value_set_string (value, self->password);
      break;
    case PROP_POOL_CONNECTIONS_MIN:
      g_value_set_uint (value, self->options.min_connections);
      break;
    case PROP_POOL_CONNECTIONS_MAX:
      g_value_set_uint (value, self->options.max_connections);
      break;
    case PROP_POOL_ACQUIRE_TIMEOUT:
      g_value_set_uint64 (value, self->options.acquire_timeout_ms);
      break;
    case PROP_POOL_IDLE_TIMEOUT:
      g_value_set_uint64 (value, self->options.idle_timeout_ms);
      break;
    case PROP_POOL_MAX_LIFETIME:
      g_value_set_uint64 (value, self->options.max_lifetime_ms);
      break;
    case PROP_POOL_TEST_BEFORE_ACQUIRE:
      g_value_set_boolean (value, self->test_before_acquire);
      break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      g_value_set_uint64 (value, self->options.warn_after_ms);
      break;
    case PROP_LAZY_CONNECTION:
      g_value_set_boolean (value, self->lazy_connection);
      break;
    case PROP_QUEUE_CAPACITY:
      g_value_set_uint (value, self->options.queue_capacity);
      break;
    case PROP_PIPELINE_DEPTH:
      g_value_set_uint (value, self->options.pipeline_depth);
      break;
    case PROP_SHUTDOWN_GRACE_PERIOD:
      g_value_set_uint64 (value, self->options.grace_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_db_sink_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  CdvizDbSink *self = CDVIZ_DB_SINK (object);

  switch (prop_id)
    {
    case PROP_URL:
      wipe (&self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      wipe (&self->password);
      self->password = g_value_dup_string (value);
      break;
    case PROP_POOL_CONNECTIONS_MIN:
      self->options.min_connections = g_value_get_uint (value);
      break;
    case PROP_POOL_CONNECTIONS_MAX:
      self->options.max_connections = g_value_get_uint (value);
      break;
    case PROP_POOL_ACQUIRE_TIMEOUT:
      self->options.acquire_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_POOL_IDLE_TIMEOUT:
      self->options.idle_timeout_ms = g_value_get_uint64 (value);
      break;
    case PROP_POOL_MAX_LIFETIME:
      self->options.max_lifetime_ms = g_value_get_uint64 (value);
      break;
    case PROP_POOL_TEST_BEFORE_ACQUIRE:
      self->test_before_acquire = g_value_get_boolean (value);
      break;
    case PROP_TOTAL_DURATION_OF_RETRIES:
      self->options.warn_after_ms = g_value_get_uint64 (value);
      break;
    case PROP_LAZY_CONNECTION:
      self->lazy_connection = g_value_get_boolean (value);
      break;
    case PROP_QUEUE_CAPACITY:
      self->options.queue_capacity = g_value_get_uint (value);
      break;
    case PROP_PIPELINE_DEPTH:
      self->options.pipeline_depth = g_value_get_uint (value);
      break;
    case PROP_SHUTDOWN_GRACE_PERIOD:
      self->options.grace_ms = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define DEFAULT_ACQUIRE_TIMEOUT_MS (30 * 1000)
#define DEFAULT_IDLE_TIMEOUT_MS (10 * 60 * 1000)
#define DEFAULT_MAX_LIFETIME_MS (30 * 60 * 1000)
#define DEFAULT_RETRIES_MS (30 * 60 * 1000)
#define DEFAULT_QUEUE_CAPACITY 1024
#define DEFAULT_PIPELINE_DEPTH 64
#define DEFAULT_GRACE_MS (10 * 1000)

static void
cdviz_db_sink_class_init (CdvizDbSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = cdviz_db_sink_finalize;
  object_class->get_property = cdviz_db_sink_get_property;
  object_class->set_property = cdviz_db_sink_set_property;

  properties[PROP_URL] =
    g_param_spec_string ("url", NULL,
                         "The database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE or a libpq "
                         "key=value string (required; url_file reads it from a file). Its password "
                         "is never logged; sqlx's ?search_path=… is accepted",
                         NULL, flags);
  properties[PROP_PASSWORD] =
    g_param_spec_string ("password", NULL,
                         "The password, instead of the URL's (password_file reads it from a file); "
                         "never logged",
                         NULL, flags);
  properties[PROP_POOL_CONNECTIONS_MIN] =
    g_param_spec_uint ("pool-connections-min", NULL,
                       "Connections kept open at all times",
                       0, 1000, 0, flags);
  properties[PROP_POOL_CONNECTIONS_MAX] =
    g_param_spec_uint ("pool-connections-max", NULL,
                       "Connections open at most; one more opens when events wait that the "
                       "open ones cannot take (events of one context.source use one at a time)",
                       1, 1000, 10, flags);
  properties[PROP_POOL_ACQUIRE_TIMEOUT] =
    cdviz_param_spec_duration ("pool-acquire-timeout", NULL,
                               "A connection attempt (connect, authenticate, prepare) that takes "
                               "longer fails and is retried",
                               1000, G_MAXUINT32, DEFAULT_ACQUIRE_TIMEOUT_MS, flags);
  properties[PROP_POOL_IDLE_TIMEOUT] =
    cdviz_param_spec_duration ("pool-idle-timeout", NULL,
                               "Connections beyond pool_connections_min idle this long close (0 = never)",
                               0, G_MAXUINT32, DEFAULT_IDLE_TIMEOUT_MS, flags);
  properties[PROP_POOL_MAX_LIFETIME] =
    cdviz_param_spec_duration ("pool-max-lifetime", NULL,
                               "Connections this old are replaced once idle (0 = never)",
                               0, G_MAXUINT32, DEFAULT_MAX_LIFETIME_MS, flags);
  properties[PROP_POOL_TEST_BEFORE_ACQUIRE] =
    g_param_spec_boolean ("pool-test-before-acquire", NULL,
                          "Accepted for cdviz-collector; every idle connection is watched, so a "
                          "closed one is noticed without a test query, and a batch that fails on "
                          "a broken connection is sent again",
                          TRUE, flags);
  properties[PROP_TOTAL_DURATION_OF_RETRIES] =
    cdviz_param_spec_duration ("total-duration-of-retries", NULL,
                               "After this long failing, the log says so again at warning level; "
                               "the sink keeps retrying, since dropping accepted events is not an "
                               "option (0 = never said again)",
                               0, G_MAXUINT32, DEFAULT_RETRIES_MS, flags);
  properties[PROP_LAZY_CONNECTION] =
    g_param_spec_boolean ("lazy-connection", NULL,
                          "false: start connects once and fails on a wrong password, unknown "
                          "database or missing schema; true: start without connecting, failures "
                          "are logged and retried",
                          FALSE, flags);
  properties[PROP_QUEUE_CAPACITY] =
    g_param_spec_uint ("queue-capacity", NULL,
                       "Events accepted and not yet stored, at most; when full the pipeline waits, "
                       "its queue fills and webhooks answer 503 with Retry-After",
                       1, 10000000, DEFAULT_QUEUE_CAPACITY, flags);
  properties[PROP_PIPELINE_DEPTH] =
    g_param_spec_uint ("pipeline-depth", NULL,
                       "Events sent in one round trip and one transaction at most (libpq "
                       "pipeline mode); 1 sends them one at a time",
                       1, 10000, DEFAULT_PIPELINE_DEPTH, flags);
  properties[PROP_SHUTDOWN_GRACE_PERIOD] =
    cdviz_param_spec_duration ("shutdown-grace-period", NULL,
                               "At stop (SIGTERM), how long the events still queued may take to be "
                               "stored; the number left is logged",
                               0, G_MAXUINT32, DEFAULT_GRACE_MS, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_db_sink_init (CdvizDbSink *self)
{
  self->options.max_connections = 10;
  self->options.acquire_timeout_ms = DEFAULT_ACQUIRE_TIMEOUT_MS;
  self->options.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->options.max_lifetime_ms = DEFAULT_MAX_LIFETIME_MS;
  self->options.warn_after_ms = DEFAULT_RETRIES_MS;
  self->options.queue_capacity = DEFAULT_QUEUE_CAPACITY;
  self->options.pipeline_depth = DEFAULT_PIPELINE_DEPTH;
  self->options.grace_ms = DEFAULT_GRACE_MS;
  self->test_before_acquire = TRUE;
}
