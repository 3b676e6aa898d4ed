/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The TOML front end. Implemented in C++ (toml++) in cdviz-toml.cc; nothing
 * C++ leaks out of this header. */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  CDVIZ_TOML_PLAIN,   /* TOML values as natural JSON (dates as RFC 3339 strings) */
  CDVIZ_TOML_TAGGED,  /* toml-test's tagged form: {"type": "integer", "value": "42"} */
} CdvizTomlMode;

/*
 * cdviz_toml_parse:
 * @data: the document (need not be NUL-terminated)
 * @length: its length in bytes
 * @origin: the name used in error messages (a file path, "--set", …)
 * @mode: how values are represented
 * @lines: (nullable): if given, filled with path → line (GUINT_TO_POINTER,
 *   1-based) for every key, path as built by cdviz_config_path_append()
 * @error: CDVIZ_CONFIG_ERROR_PARSE with "ORIGIN:LINE:COLUMN: reason"
 *
 * Returns: (transfer full): a JSON object node, or %NULL on error.
 */
JsonNode *cdviz_toml_parse (const char     *data,
                            gsize           length,
                            const char     *origin,
                            CdvizTomlMode   mode,
                            GHashTable     *lines,
                            GError        **error);

G_END_DECLS
