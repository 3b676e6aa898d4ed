/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_SUBPROCESS_SOURCE (cdviz_subprocess_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizSubprocessSource, cdviz_subprocess_source, CDVIZ, SUBPROCESS_SOURCE,
                      GObject)

G_END_DECLS
