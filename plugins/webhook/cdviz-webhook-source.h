/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cdviz.h>

G_BEGIN_DECLS

#define CDVIZ_TYPE_WEBHOOK_SOURCE (cdviz_webhook_source_get_type ())
G_DECLARE_FINAL_TYPE (CdvizWebhookSource, cdviz_webhook_source, CDVIZ, WEBHOOK_SOURCE, GObject)

G_END_DECLS
