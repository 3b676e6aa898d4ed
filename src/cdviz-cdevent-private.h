/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-message.h"

G_BEGIN_DECLS

gboolean _cdviz_cdevent_normalize_messages (GPtrArray     *messages,
                                            CdvizMessage  *origin,
                                            const char    *default_source,
                                            GError       **error);

G_END_DECLS
