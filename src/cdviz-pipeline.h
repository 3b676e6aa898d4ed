/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <gio/gio.h>

#include "cdviz-version.h"
#include "cdviz-state.h"
#include "cdviz-config.h"
#include "cdviz-registry.h"
#include "cdviz-message.h"
#include "cdviz-source.h"
#include "cdviz-sink.h"
#include "cdviz-transformer.h"
#include "cdviz-http-server.h"

G_BEGIN_DECLS

/**
 * CDVIZ_PIPELINE_ERROR:
 *
 * Error domain of [class@Pipeline].
 */
#define CDVIZ_PIPELINE_ERROR (cdviz_pipeline_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_pipeline_error_quark (void);

/**
 * CdvizPipelineError:
 * @CDVIZ_PIPELINE_ERROR_FULL: the pipeline's queue is full; try again later
 *   (a webhook answers 503 with `Retry-After`)
 * @CDVIZ_PIPELINE_ERROR_REJECTED: a transformer rejected the event (422)
 * @CDVIZ_PIPELINE_ERROR_NOT_RUNNING: the pipeline is not running (503)
 * @CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE: no source has that name
 * @CDVIZ_PIPELINE_ERROR_START: the pipeline cannot start in its state: it is
 *   running, or it was stopped (a pipeline runs once; build a new one)
 * @CDVIZ_PIPELINE_ERROR_NOT_INITIALIZED: the pipeline was not built: it has
 *   no configuration, or g_initable_init() failed or was not called
 *
 * Errors of the pipeline.
 */
typedef enum {
  CDVIZ_PIPELINE_ERROR_FULL,
  CDVIZ_PIPELINE_ERROR_REJECTED,
  CDVIZ_PIPELINE_ERROR_NOT_RUNNING,
  CDVIZ_PIPELINE_ERROR_UNKNOWN_SOURCE,
  CDVIZ_PIPELINE_ERROR_START,
  CDVIZ_PIPELINE_ERROR_NOT_INITIALIZED,
} CdvizPipelineError;

#define CDVIZ_TYPE_PIPELINE (cdviz_pipeline_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizPipeline, cdviz_pipeline, CDVIZ, PIPELINE, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizPipeline   *cdviz_pipeline_new             (CdvizConfig          *config,
                                                 CdvizRegistry        *registry,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_check           (CdvizPipeline        *self,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_start           (CdvizPipeline        *self,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_pipeline_stop            (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_is_running      (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_is_checking     (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
CdvizHttpServer *cdviz_pipeline_get_http_server (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
CdvizConfig     *cdviz_pipeline_get_config      (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
CdvizState      *cdviz_pipeline_get_state       (CdvizPipeline        *self);
CDVIZ_AVAILABLE_IN_1_0
const char      *cdviz_pipeline_get_source_name (CdvizPipeline        *self,
                                                 CdvizSource          *source);
CDVIZ_AVAILABLE_IN_1_0
const char      *cdviz_pipeline_get_sink_name   (CdvizPipeline        *self,
                                                 CdvizSink            *sink);
CDVIZ_AVAILABLE_IN_1_0
CdvizSource     *cdviz_pipeline_get_source      (CdvizPipeline        *self,
                                                 const char           *name);
CDVIZ_AVAILABLE_IN_1_0
CdvizSink       *cdviz_pipeline_get_sink        (CdvizPipeline        *self,
                                                 const char           *name);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_pipeline_push_async      (CdvizPipeline        *self,
                                                 CdvizSource          *source,
                                                 CdvizMessage         *message,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_push_finish     (CdvizPipeline        *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_push            (CdvizPipeline        *self,
                                                 const char           *source_name,
                                                 CdvizMessage         *message,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean         cdviz_pipeline_push_from       (CdvizPipeline        *self,
                                                 CdvizSource          *source,
                                                 CdvizMessage         *message,
                                                 GError              **error);
CDVIZ_AVAILABLE_IN_1_0
GSource         *cdviz_pipeline_create_room_source (CdvizPipeline    *self);
CDVIZ_AVAILABLE_IN_1_0
void             cdviz_pipeline_flush           (CdvizPipeline        *self);

G_END_DECLS
