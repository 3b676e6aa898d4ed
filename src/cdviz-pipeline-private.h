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
} SourceEntry;

typedef struct {
  char *name;                 /* (owned) */
  CdvizSink *sink;            /* (owned) */
  gsize sent;                 /* atomic */
  gsize failed;               /* atomic */
} SinkEntry;

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

  GPtrArray *sources;           /* (owned) SourceEntry */
  GHashTable *sources_by_name;  /* name → SourceEntry (not owned) */
  GHashTable *sources_by_object; /* CdvizSource → SourceEntry (not owned) */
  GHashTable *transformers;     /* (owned) name → CdvizTransformer */
  GPtrArray *sinks;             /* (owned) SinkEntry */
  GHashTable *sinks_by_name;    /* name → SinkEntry (not owned) */
  GHashTable *sinks_by_object;  /* CdvizSink → SinkEntry (not owned) */

  GAsyncQueue *queue;           /* (owned) WorkItem; its lock guards the hand-off */
  int pending;                  /* atomic: messages waiting in the queue */
  guint capacity;
  GThread *worker;              /* (owned) (nullable): joined by stop() */
  GMainContext *owner_context;  /* (owned) (nullable): where ::message is emitted */
  int running;                  /* atomic; written under the queue lock */
  GMutex lifecycle_lock;        /* serialises start(), check() and stop() */
  PipelineState state;          /* under lifecycle_lock */

  gsize accepted;               /* atomic counters */
  gsize refused;
  gsize rejected;
  gsize filtered;
  gsize processed;
};

/* Builds every part of @self from @self->config (cdviz-pipeline-build.c). */
gboolean  _cdviz_pipeline_build       (CdvizPipeline  *self,
                                       GError        **error);
/* (Re)builds @self->http from the `[http]` table. */
gboolean  _cdviz_pipeline_build_http  (CdvizPipeline  *self,
                                       GError        **error);
void      _cdviz_source_entry_free    (gpointer        data);
void      _cdviz_sink_entry_free      (gpointer        data);

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

G_END_DECLS
