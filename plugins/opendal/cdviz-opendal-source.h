/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_OPENDAL_SOURCE (cdviz_opendal_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizOpendalSource, cdviz_opendal_source, CDVIZ, OPENDAL_SOURCE, GObject)

/* Pushes, holding @message while the pipeline's queue is full or still
 * starting; FALSE once @stopping reads TRUE (under @lock) or when the
 * pipeline refuses @message (logged). Used by this plugin's sources from
 * their worker threads. */
gboolean cdviz_files_push (CdvizPipeline *pipeline,
                           CdvizSource   *source,
                           const char    *name,
                           CdvizMessage  *message,
                           GMutex        *lock,
                           GCond         *cond,
                           gboolean      *stopping);

G_END_DECLS
