/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-header-validator.h"

G_BEGIN_DECLS

void _cdviz_header_validator_set_now (CdvizHeaderValidator *self,
                                      gint64                unix_seconds);

G_END_DECLS
