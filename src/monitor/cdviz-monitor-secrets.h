/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gboolean   cdviz_monitor_secrets_store  (const char         *url,
                                         const char * const *headers,
                                         GError            **error);
char     **cdviz_monitor_secrets_lookup (const char         *url,
                                         GError            **error);

G_END_DECLS
