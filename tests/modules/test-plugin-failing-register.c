/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin whose entry point fails. */
#include <cdviz.h>

static gboolean
register_types (CdvizRegistry  *registry,
                GError        **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "deliberate failure");
  return FALSE;
}

CDVIZ_PLUGIN_DEFINE ("test-failing", "Fails to register", register_types)
