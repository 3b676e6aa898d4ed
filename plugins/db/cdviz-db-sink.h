/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_DB_SINK (cdviz_db_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizDbSink, cdviz_db_sink, CDVIZ, DB_SINK, GObject)

G_END_DECLS
