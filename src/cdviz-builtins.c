/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-builtins-private.h"

void
_cdviz_register_builtins (CdvizRegistry *registry)
{
  static const struct {
    CdvizComponentKind kind;
    const char *name;
    GType (*get_type) (void);
  } builtins[] = {
    { CDVIZ_COMPONENT_TRANSFORMER, "passthrough", cdviz_passthrough_transformer_get_type },
    { CDVIZ_COMPONENT_TRANSFORMER, "log", cdviz_log_transformer_get_type },
    { CDVIZ_COMPONENT_TRANSFORMER, "discard_all", cdviz_discard_all_transformer_get_type },
    { CDVIZ_COMPONENT_TRANSFORMER, "deduplicate", cdviz_deduplicate_transformer_get_type },
    { CDVIZ_COMPONENT_SOURCE, "noop", cdviz_noop_source_get_type },
    { CDVIZ_COMPONENT_SOURCE, "sleep", cdviz_noop_source_get_type },
    { CDVIZ_COMPONENT_SINK, "debug", cdviz_debug_sink_get_type },
  };

  for (guint i = 0; i < G_N_ELEMENTS (builtins); i++)
    {
      g_autoptr(GError) error = NULL;

      if (!cdviz_registry_register_type (registry, builtins[i].kind, builtins[i].name,
                                         builtins[i].get_type (), &error))
        g_critical ("%s", error->message);
    }
}
