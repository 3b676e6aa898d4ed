/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_NATS_SOURCE (cdviz_nats_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizNatsSource, cdviz_nats_source, CDVIZ, NATS_SOURCE, GObject)

G_END_DECLS
