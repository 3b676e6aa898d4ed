/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <json-glib/json-glib.h>

#include "cdviz-version.h"
#include "cdviz-registry.h"

G_BEGIN_DECLS

/**
 * CDVIZ_CONFIG_ERROR:
 *
 * Error domain for configuration problems. Messages start with
 * `FILE:LINE: ` and name the offending key.
 */
#define CDVIZ_CONFIG_ERROR (cdviz_config_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_config_error_quark (void);

/**
 * CdvizConfigError:
 * @CDVIZ_CONFIG_ERROR_PARSE: the document is not valid TOML
 * @CDVIZ_CONFIG_ERROR_UNKNOWN_KEY: a key that nothing understands
 * @CDVIZ_CONFIG_ERROR_INVALID_VALUE: a value of the wrong type or out of range
 * @CDVIZ_CONFIG_ERROR_MISSING_KEY: a required key is absent
 * @CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE: a component `type` nobody registered
 * @CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE: a `transformer_refs` entry that names no transformer
 * @CDVIZ_CONFIG_ERROR_IO: a file (the config or a `_file` value) cannot be read
 * @CDVIZ_CONFIG_ERROR_SEVERAL: several errors, one per line of the message
 *   (a line that continues the error before it starts with spaces)
 *
 * Configuration errors.
 */
typedef enum {
  CDVIZ_CONFIG_ERROR_PARSE,
  CDVIZ_CONFIG_ERROR_UNKNOWN_KEY,
  CDVIZ_CONFIG_ERROR_INVALID_VALUE,
  CDVIZ_CONFIG_ERROR_MISSING_KEY,
  CDVIZ_CONFIG_ERROR_UNKNOWN_TYPE,
  CDVIZ_CONFIG_ERROR_UNKNOWN_REFERENCE,
  /* 6 was CDVIZ_CONFIG_ERROR_DUPLICATE, never raised: two components claiming
   * one route fail with %CDVIZ_HTTP_SERVER_ERROR_DUPLICATE_ROUTE. */
  CDVIZ_CONFIG_ERROR_IO = 7,
  CDVIZ_CONFIG_ERROR_SEVERAL,
} CdvizConfigError;

#define CDVIZ_TYPE_CONFIG (cdviz_config_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizConfig, cdviz_config, CDVIZ, CONFIG, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizConfig *cdviz_config_new             (void);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_add_file        (CdvizConfig  *self,
                                           const char   *path,
                                           GError      **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_add_location    (CdvizConfig        *self,
                                           const char         *location,
                                           const char * const *headers,
                                           GError            **error);
CDVIZ_AVAILABLE_IN_1_0
void         cdviz_config_set_remote_optional (CdvizConfig *self,
                                               gboolean     optional);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_add_string      (CdvizConfig  *self,
                                           const char   *toml,
                                           const char   *origin,
                                           GError      **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_add_default     (CdvizConfig  *self,
                                           GError      **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_add_environment (CdvizConfig  *self,
                                           char        **envp,
                                           GError      **error);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_config_resolve_files   (CdvizConfig  *self,
                                           GError      **error);
CDVIZ_AVAILABLE_IN_1_0
JsonNode    *cdviz_config_get_root        (CdvizConfig  *self);
CDVIZ_AVAILABLE_IN_1_0
JsonObject  *cdviz_config_get_section     (CdvizConfig  *self,
                                           const char   *name);
CDVIZ_AVAILABLE_IN_1_0
char        *cdviz_config_get_location    (CdvizConfig  *self,
                                           const char   *path);
CDVIZ_AVAILABLE_IN_1_0
GObject     *cdviz_config_create_transformer (CdvizConfig   *self,
                                              CdvizRegistry *registry,
                                              const char    *name,
                                              GError       **error);
CDVIZ_AVAILABLE_IN_1_0
char        *cdviz_config_to_toml         (CdvizConfig  *self);

CDVIZ_AVAILABLE_IN_1_0
void         cdviz_config_path_append     (GString      *path,
                                           const char   *key);

G_END_DECLS

G_BEGIN_DECLS

/**
 * CDVIZ_PARAM_DURATION:
 *
 * A #GParamFlags bit (the first one GLib leaves to libraries, as
 * GStreamer's `GST_PARAM_CONTROLLABLE` is) that marks a #guint64 property
 * as a duration in milliseconds: the configuration loader then also fills
 * it from a duration string (`"30s"`, `"500ms"`, see cdviz_parse_duration())
 * or an integer number of seconds, and `config --describe` shows it as a
 * duration. cdviz_param_spec_duration() sets it; a property declared in a
 * language binding sets it in its flags, e.g. in Python:
 *
 * ```python
 * timeout = GObject.Property(type=GObject.TYPE_UINT64, default=30000,
 *                            flags=GObject.ParamFlags.READWRITE | Cdviz.PARAM_DURATION)
 * ```
 *
 * On a property of another type it has no effect.
 */
/* The literal shift, not G_PARAM_USER_SHIFT: g-ir-scanner would not
 * resolve it (cdviz-duration.c checks that they agree). */
#define CDVIZ_PARAM_DURATION (1 << 8)

CDVIZ_AVAILABLE_IN_1_0
GParamSpec  *cdviz_param_spec_duration    (const char   *name,
                                           const char   *nick,
                                           const char   *blurb,
                                           guint64       minimum_ms,
                                           guint64       maximum_ms,
                                           guint64       default_ms,
                                           GParamFlags   flags);
CDVIZ_AVAILABLE_IN_1_0
gboolean     cdviz_parse_duration         (const char   *text,
                                           guint64      *out_ms);

G_END_DECLS
