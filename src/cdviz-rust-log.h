/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reads cdviz-collector's `RUST_LOG` filter (`debug`,
 * `cdviz_collector::sinks::sse=debug,cdviz_collector=info`…) as this
 * program's log domains: those that a directive at `debug` or `trace`
 * covers are returned, space-separated, for G_MESSAGES_DEBUG (NULL when
 * none); a bare `warn`, `error` or `off` sets *@quiet (only warnings and
 * errors). Targets outside cdviz_collector (tower_http…) have no
 * counterpart and are ignored. doc/logging.md has the table. */
char *cdviz_rust_log_domains (const char *filter,
                              gboolean   *quiet);

G_END_DECLS
