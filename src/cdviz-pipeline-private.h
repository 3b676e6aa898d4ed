/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-pipeline.h"

G_BEGIN_DECLS

/* The pipeline's parts, shared by cdviz-pipeline.c (object, lifecycle,
 * queue, worker, push, flush, metrics) and cdviz-pipeline-build.c (building
 * them from the configuration). Built once by cdviz_pipeline_new(), then
 * read-only: the pipeline thread, the HTTP thread and callers of push()
 * read them without a lock. */

typedef struct {
  char *name;                 /* (owned) */
  CdvizSource *source;        /* (owned) (nullable): a source fed only by push() */
  GPtrArray *chain;           /* (owned) CdvizTransformer */
  char *default_source;       /* (owned) (nullable): the pipeline thread's,
                                 set at its first event */
} SourceEntry;

typedef struct {
  char *name;                 /* (owned) */
  CdvizSink *sink;            /* (owned) */
  GHashTable *sources;        /* (owned) (nullable): SourceEntry set from
                                 `source_refs`; NULL = every source */
  GPtrArray *chain;           /* (owned) CdvizTransformer: `transformer_refs` */
  gsize sent;                 /* atomic */
  gsize failed;               /* atomic */
} SinkEntry;

/* The work queue's items (cdviz-pipeline-worker.c). */
typedef enum {
  ITEM_MESSAGE,
  ITEM_FLUSH,
  ITEM_STOP,
} ItemKind;

typedef struct _ReturnBin ReturnBin;

typedef struct {
  ItemKind kind;
  SourceEntry *source;
  CdvizMessage *message;      /* (owned) */
  ReturnBin *bin;             /* (owned) (nullable): the posting thread's, where
                                 the messages go back once processed */
  GTask *task;                /* (owned) (nullable) */
  /* ITEM_FLUSH: the flusher's, released by the worker */
  GMutex *lock;
  GCond *cond;
  gboolean *done;
} WorkItem;

/* What the pipeline thread tells the owner's main context. */
typedef enum {
  NOTICE_MESSAGE,
  NOTICE_REJECTED,
  NOTICE_SINK_FAILED,
  NOTICE_COUNTERS,
} NoticeKind;

typedef struct _Notice Notice;

/* Notices waiting for the owner's main context at most; beyond, the oldest
 * are dropped and counted (::lagged, /metrics). */
#define CDVIZ_PIPELINE_NOTICE_MAX 1024

/* The counters that are properties, in property order. */
typedef enum {
  COUNTER_ACCEPTED,
  COUNTER_REFUSED,
  COUNTER_REJECTED,
  COUNTER_FILTERED,
  COUNTER_PROCESSED,
  N_COUNTERS
} CounterId;

/* Counters are written by one thread and read by others (the HTTP thread
 * for /metrics, the owner's for properties). */
#define COUNT(counter) ((void) g_atomic_pointer_add (&(counter), 1))
#define COUNTER(counter) ((guint64) (gsize) g_atomic_pointer_get (&(counter)))

/* NEW → RUNNING → STOPPED; a failed start goes back to NEW. A pipeline runs
 * once: its components and HTTP server are not built for a second life. */
typedef enum {
  STATE_NEW,
  STATE_RUNNING,
  STATE_STOPPED,
} PipelineState;

struct _CdvizPipeline
{
  GObject parent_instance;

  CdvizConfig *config;          /* (owned) */
  CdvizRegistry *registry;      /* (owned) */
  CdvizHttpServer *http;        /* (owned): rebuilt after a dry run or a failed start */
  CdvizState *state_store;      /* (owned): `[state]`, set by the build */

  GPtrArray *sources;           /* (owned) SourceEntry */
  GHashTable *sources_by_name;  /* name → SourceEntry (not owned) */
  GHashTable *sources_by_object; /* CdvizSource → SourceEntry (not owned) */
  GHashTable *transformers;     /* (owned) name → CdvizTransformer */
  GPtrArray *sinks;             /* (owned) SinkEntry */
  GHashTable *sinks_by_name;    /* name → SinkEntry (not owned) */
  GHashTable *sinks_by_object;  /* CdvizSink → SinkEntry (not owned) */

  /* The hand-off (cdviz-pipeline-worker.c): any thread posts, the
   * pipeline thread takes everything waiting at once. */
  GMutex queue_lock;
  GCond queue_cond;
  GQueue queue;                 /* WorkItem, under queue_lock */
  gboolean worker_waiting;      /* under queue_lock: asleep on queue_cond */
  GPtrArray *return_bins;       /* ReturnBin (owned), under queue_lock: every
                                   bin this pipeline's items came from */
  guint return_id;              /* unique per pipeline (never reused) */
  GPtrArray *wake_sources;      /* (owned) (nullable): one per HTTP thread's
                                   context; each says whether its thread owes
                                   the worker a wake-up */
  int pending;                  /* atomic: messages waiting in the queue */
  GPtrArray *room_waiters;      /* under queue_lock: RoomWaiter records to signal */
  int room_wanted;              /* atomic: room_waiters is not empty */
  guint capacity;
  GThread *worker;              /* (owned) (nullable): joined by stop() */
  GMainContext *owner_context;  /* (owned) (nullable): where ::message is emitted */
  int running;                  /* atomic; written under the queue lock */
  GMutex lifecycle_lock;        /* serialises start(), check() and stop() */
  PipelineState state;          /* under lifecycle_lock */
  gboolean initialized;         /* GInitable: built from config */
  int checking;                 /* atomic: check() is starting the components */

  GMutex notice_lock;
  GQueue notices;               /* Notice, under notice_lock */
  gboolean notice_scheduled;    /* under notice_lock: a source will drain */
  guint lagged;                 /* under notice_lock: dropped since last drain */
  gsize notices_dropped;        /* atomic: total, for /metrics */
  guint64 notified[N_COUNTERS]; /* owner context only: last values notified */

  gsize counters[N_COUNTERS];   /* atomic */
};

/* Builds every part of @self from @self->config (cdviz-pipeline-build.c). */
gboolean  _cdviz_pipeline_build       (CdvizPipeline  *self,
                                       GError        **error);
/* (Re)builds @self->http from the `[http]` table. */
gboolean  _cdviz_pipeline_build_http  (CdvizPipeline  *self,
                                       GError        **error);
void      _cdviz_source_entry_free    (gpointer        data);
void      _cdviz_sink_entry_free      (gpointer        data);

/* The worker (cdviz-pipeline-worker.c). */
gboolean  _cdviz_pipeline_post           (CdvizPipeline  *self,
                                          WorkItem       *item,
                                          GError        **error);
gpointer  _cdviz_pipeline_thread         (gpointer        data);
void      _cdviz_room_waiter_unref       (gpointer        waiter);
void      _cdviz_pipeline_notify_room    (CdvizPipeline  *self,
                                          gboolean        always);
void      _cdviz_pipeline_attach_wakers  (CdvizPipeline  *self,
                                          CdvizHttpServer *http);
void      _cdviz_pipeline_detach_wakers  (CdvizPipeline  *self);
void      _cdviz_pipeline_empty_return_bins (CdvizPipeline *self);
void      _cdviz_return_bin_unref        (gpointer        bin);
guint     _cdviz_pipeline_new_return_id  (void);
void      _cdviz_pipeline_set_running    (CdvizPipeline  *self,
                                          gboolean        running);
gboolean  _cdviz_pipeline_is_its_thread  (CdvizPipeline  *self);
void      _cdviz_work_item_free          (WorkItem       *item);
void      _cdviz_pipeline_clear_notices  (CdvizPipeline  *self);

/* The object's side of the notices (cdviz-pipeline.c), on the owner's
 * context except _is_watched (any thread). */
gboolean  _cdviz_pipeline_is_watched     (CdvizPipeline  *self,
                                          NoticeKind      kind);
void      _cdviz_pipeline_emit_notice    (CdvizPipeline  *self,
                                          NoticeKind      kind,
                                          const char     *name,
                                          CdvizMessage   *message,
                                          const GError   *error);
void      _cdviz_pipeline_emit_lagged    (CdvizPipeline  *self,
                                          guint           n_dropped);
void      _cdviz_pipeline_notify_counters (CdvizPipeline *self);

/* What `config --describe` says about a fixed section's keys; the allowed
 * keys the builder checks are exactly the ones listed here. */
typedef struct {
  const char *key, *type, *default_value, *blurb;
} CdvizKeyDoc;

typedef struct {
  const char *table;            /* "http", "sources.NAME" */
  const char *title;            /* after the table name in the heading */
  const CdvizKeyDoc *keys;      /* ends with { NULL } */
} CdvizSectionDoc;

/* `[http]`, `[pipeline]`, `[sources.NAME]`, `[transformers.NAME]`,
 * `[sinks.NAME]`; ends with { NULL }. */
extern const CdvizSectionDoc _cdviz_section_docs[];

/* cdviz-collector's keys of `[http]` (cdviz-pipeline-compat.c): `root_url`
 * (returned in *@root_url, owned by the configuration), `request_timeout`,
 * `access_log.filter` (*@access_log_filter, the caller's); `[state]`. */
extern const CdvizKeyDoc _cdviz_state_docs[];
/* `[remote.NAME]` (cdviz-config-remote.c). */
extern const CdvizKeyDoc _cdviz_remote_docs[];
gboolean  _cdviz_pipeline_check_http_compat (CdvizPipeline  *self,
                                             JsonObject     *http,
                                             const char    **root_url,
                                             guint64        *request_timeout_ms,
                                             GStrv          *access_log_filter,
                                             GError        **error);
gboolean  _cdviz_pipeline_check_state       (CdvizPipeline  *self,
                                             JsonObject     *root,
                                             GError        **error);

G_END_DECLS
