/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_CLI_SOURCE (cdviz_cli_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizCliSource, cdviz_cli_source, CDVIZ, CLI_SOURCE, GObject)

G_END_DECLS
