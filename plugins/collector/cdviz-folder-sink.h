/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_FOLDER_SINK (cdviz_folder_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizFolderSink, cdviz_folder_sink, CDVIZ, FOLDER_SINK, GObject)

G_END_DECLS
