/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-message.h"

G_BEGIN_DECLS

void _cdviz_message_share_body_bytes (CdvizMessage *self,
                                      CdvizMessage *from);

G_END_DECLS
