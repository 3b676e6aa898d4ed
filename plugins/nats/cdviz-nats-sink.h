/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_NATS_SINK (cdviz_nats_sink_get_type ())
G_DECLARE_FINAL_TYPE (CdvizNatsSink, cdviz_nats_sink, CDVIZ, NATS_SINK, GObject)

G_END_DECLS
