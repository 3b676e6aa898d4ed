/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cdviz-collector's `path_patterns` (globset, `literal_separator`): `*`
 * and `?` stay within a path segment, `**` crosses them (`**​/` also
 * matches no directory), `[…]` and `{a,b}` as in a shell; a pattern
 * starting with `!` excludes. No include pattern: every path is included. */
typedef struct _CdvizPathPatterns CdvizPathPatterns;

CdvizPathPatterns *cdviz_path_patterns_new    (const char * const  *patterns,
                                               GError             **error);
gboolean           cdviz_path_patterns_accept (CdvizPathPatterns   *self,
                                               const char          *path);
void               cdviz_path_patterns_free   (CdvizPathPatterns   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizPathPatterns, cdviz_path_patterns_free)

G_END_DECLS
