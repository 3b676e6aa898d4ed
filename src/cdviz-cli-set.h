/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz.h"

G_BEGIN_DECLS

/* Adds one `--set` value to @config (origin "--set"): a TOML fragment
 * (`http.port = 9000`), or else cdviz-collector's `key=value`, its value
 * auto-typed (`true`/`false`, an integer, a decimal number, else a string,
 * so `url=http://…` needs no quotes). The error is the TOML parser's when
 * neither reads. */
gboolean cdviz_cli_add_set (CdvizConfig  *config,
                            const char   *text,
                            GError      **error);

G_END_DECLS
