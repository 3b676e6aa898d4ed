/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

#include "cdviz-file-parser.h"

G_BEGIN_DECLS

/* The worker thread of this plugin's sources and the ways it waits: a
 * source embeds one, starts it from start_source and stops it (joining
 * the thread) from stop_source. The worker pushes with
 * cdviz_files_worker_push(), which holds a message while the pipeline's
 * queue is full and gives up when the source stops. */
typedef struct {
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stopping;     /* under lock */
  CdvizPipeline *pipeline; /* (owned) while running */
  CdvizSource *source;   /* (not owned): the embedding source */
  char *name;            /* the source's name, for logs */
} CdvizFilesWorker;

void      cdviz_files_worker_init        (CdvizFilesWorker *worker,
                                          CdvizSource      *source);
void      cdviz_files_worker_clear       (CdvizFilesWorker *worker);
/* Sets the name from @pipeline's configuration (or @fallback). */
void      cdviz_files_worker_set_name    (CdvizFilesWorker *worker,
                                          CdvizPipeline    *pipeline,
                                          const char       *fallback);
void      cdviz_files_worker_start       (CdvizFilesWorker *worker,
                                          CdvizPipeline    *pipeline,
                                          const char       *thread_name,
                                          GThreadFunc       func,
                                          gpointer          data);
void      cdviz_files_worker_stop        (CdvizFilesWorker *worker);
gboolean  cdviz_files_worker_is_stopping (CdvizFilesWorker *worker);
/* Sleeps @ms unless the source stops meanwhile; FALSE if it stops. */
gboolean  cdviz_files_worker_sleep       (CdvizFilesWorker *worker,
                                          guint64           ms);
gboolean  cdviz_files_worker_push        (CdvizFilesWorker *worker,
                                          CdvizMessage     *message);

/* Reads the configured `parser` into @parser; the `metadata` parser,
 * which reads no content, is refused with @no_metadata. */
gboolean    cdviz_files_check_parser     (const char        *name,
                                          CdvizFileParser   *parser,
                                          const char        *no_metadata,
                                          GError           **error);
/* Checks the configured `metadata` (a table; null: none). */
gboolean    cdviz_files_check_metadata   (JsonNode        **metadata,
                                          GError          **error);

G_END_DECLS
