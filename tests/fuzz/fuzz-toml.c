/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the TOML → JSON loader in both modes, with the line map. */
#include "config.h"

#include "cdviz-config.h"
#include "cdviz-toml-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) plain = NULL;
  g_autoptr(JsonNode) tagged = NULL;

  plain = cdviz_toml_parse ((const char *) data, size, "fuzz", CDVIZ_TOML_PLAIN, lines, &error);
  g_assert ((plain == NULL) == (error != NULL));
  g_clear_error (&error);
  tagged = cdviz_toml_parse ((const char *) data, size, "fuzz", CDVIZ_TOML_TAGGED, NULL, &error);
  g_assert ((plain == NULL) == (tagged == NULL));
  return 0;
}
