/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-message.h"

G_BEGIN_DECLS

/* The size of the body's compact bytes when they are known, else 0. */
gsize _cdviz_message_peek_body_size (CdvizMessage *self);
void _cdviz_message_share_body_bytes (CdvizMessage *self,
                                      CdvizMessage *from);

G_END_DECLS
