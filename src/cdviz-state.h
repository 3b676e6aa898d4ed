/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib-object.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

#define CDVIZ_TYPE_STATE (cdviz_state_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizState, cdviz_state, CDVIZ, STATE, GObject)

/**
 * CDVIZ_STATE_ERROR:
 *
 * Error domain of [class@State].
 */
#define CDVIZ_STATE_ERROR (cdviz_state_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_state_error_quark (void);

/**
 * CdvizStateError:
 * @CDVIZ_STATE_ERROR_INVALID_KEY: a source name or key that is not a plain file name
 * @CDVIZ_STATE_ERROR_TOO_BIG: a stored value larger than the limit
 * @CDVIZ_STATE_ERROR_IO: the state directory cannot be read or written
 *
 * Errors of [class@State].
 */
typedef enum {
  CDVIZ_STATE_ERROR_INVALID_KEY,
  CDVIZ_STATE_ERROR_TOO_BIG,
  CDVIZ_STATE_ERROR_IO,
} CdvizStateError;

/* All methods may be called from any thread: the store keeps no cache,
 * and a value is replaced by a rename, so a reader sees the old value or
 * the new one, never a part. */
CDVIZ_AVAILABLE_IN_1_0
CdvizState  *cdviz_state_new      (const char   *root);
CDVIZ_AVAILABLE_IN_1_0
const char  *cdviz_state_get_root (CdvizState   *self);
CDVIZ_AVAILABLE_IN_1_0
GBytes      *cdviz_state_get      (CdvizState   *self,
                                   const char   *source_name,
                                   const char   *key,
                                   GError      **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_state_set      (CdvizState   *self,
                                   const char   *source_name,
                                   const char   *key,
                                   GBytes       *value,
                                   GError      **error);

G_END_DECLS
