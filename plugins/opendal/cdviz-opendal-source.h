/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_OPENDAL_SOURCE (cdviz_opendal_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizOpendalSource, cdviz_opendal_source, CDVIZ, OPENDAL_SOURCE, GObject)

G_END_DECLS
