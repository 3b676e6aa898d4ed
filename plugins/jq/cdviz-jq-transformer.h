/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

/*
 * CDVIZ_JQ_ERROR:
 *
 * Error domain of the rejections of the jq transformer
 * (`"cdviz-jq-error-quark"`). Configuration problems are
 * %CDVIZ_CONFIG_ERROR.
 */
#define CDVIZ_JQ_ERROR (cdviz_jq_error_quark ())
GQuark cdviz_jq_error_quark (void);

/*
 * CdvizJqError:
 * @CDVIZ_JQ_ERROR_RUNTIME: the filter raised an error (`error`, `halt_error`,
 *   a failed operation); the message is jq's
 * @CDVIZ_JQ_ERROR_OUTPUT: an output is not an object with a `body`, or one of
 *   its parts has the wrong type
 * @CDVIZ_JQ_ERROR_TOO_MANY_OUTPUTS: more outputs than `max_outputs`
 * @CDVIZ_JQ_ERROR_INPUT: the event cannot be handed to jq (too deep)
 */
typedef enum {
  CDVIZ_JQ_ERROR_RUNTIME,
  CDVIZ_JQ_ERROR_OUTPUT,
  CDVIZ_JQ_ERROR_TOO_MANY_OUTPUTS,
  CDVIZ_JQ_ERROR_INPUT,
} CdvizJqError;

#define CDVIZ_TYPE_JQ_TRANSFORMER (cdviz_jq_transformer_get_type ())
G_DECLARE_FINAL_TYPE (CdvizJqTransformer, cdviz_jq_transformer, CDVIZ, JQ_TRANSFORMER, GObject)

G_END_DECLS
