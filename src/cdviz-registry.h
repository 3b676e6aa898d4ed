/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <glib-object.h>

#include "cdviz-version.h"

G_BEGIN_DECLS

/**
 * CdvizComponentKind:
 * @CDVIZ_COMPONENT_SOURCE: a [iface@Source] (config: `[sources.NAME] extractor.type`)
 * @CDVIZ_COMPONENT_TRANSFORMER: a [iface@Transformer] (config: `[transformers.NAME] type`)
 * @CDVIZ_COMPONENT_SINK: a [iface@Sink] (config: `[sinks.NAME] type`)
 *
 * The three kinds of pipeline components.
 */
typedef enum {
  CDVIZ_COMPONENT_SOURCE,
  CDVIZ_COMPONENT_TRANSFORMER,
  CDVIZ_COMPONENT_SINK,
} CdvizComponentKind;

/**
 * CDVIZ_REGISTRY_ERROR:
 *
 * Error domain of [class@Registry].
 */
#define CDVIZ_REGISTRY_ERROR (cdviz_registry_error_quark ())
CDVIZ_AVAILABLE_IN_1_0
GQuark cdviz_registry_error_quark (void);

/**
 * CdvizRegistryError:
 * @CDVIZ_REGISTRY_ERROR_DUPLICATE: the type name is already taken
 * @CDVIZ_REGISTRY_ERROR_WRONG_TYPE: the GType does not implement the kind's interface
 * @CDVIZ_REGISTRY_ERROR_LOAD: a plugin module could not be opened
 * @CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN: a module is not a valid plugin
 *   (no descriptor, wrong ABI version, failing entry point)
 *
 * Errors of the registry.
 */
typedef enum {
  CDVIZ_REGISTRY_ERROR_DUPLICATE,
  CDVIZ_REGISTRY_ERROR_WRONG_TYPE,
  CDVIZ_REGISTRY_ERROR_LOAD,
  CDVIZ_REGISTRY_ERROR_INVALID_PLUGIN,
} CdvizRegistryError;

#define CDVIZ_TYPE_REGISTRY (cdviz_registry_get_type ())
CDVIZ_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (CdvizRegistry, cdviz_registry, CDVIZ, REGISTRY, GObject)

CDVIZ_AVAILABLE_IN_1_0
CdvizRegistry *cdviz_registry_get_default      (void);
CDVIZ_AVAILABLE_IN_1_0
CdvizRegistry *cdviz_registry_new              (void);
CDVIZ_AVAILABLE_IN_1_0
gboolean       cdviz_registry_register_type    (CdvizRegistry       *self,
                                                CdvizComponentKind   kind,
                                                const char          *name,
                                                GType                type,
                                                GError             **error);
CDVIZ_AVAILABLE_IN_1_0
GType          cdviz_registry_lookup           (CdvizRegistry       *self,
                                                CdvizComponentKind   kind,
                                                const char          *name);
CDVIZ_AVAILABLE_IN_1_0
char         **cdviz_registry_list_types       (CdvizRegistry       *self,
                                                CdvizComponentKind   kind);
CDVIZ_AVAILABLE_IN_1_0
gboolean       cdviz_registry_load_plugin      (CdvizRegistry       *self,
                                                const char          *path,
                                                GError             **error);
CDVIZ_AVAILABLE_IN_1_0
guint          cdviz_registry_load_plugins     (CdvizRegistry       *self,
                                                const char * const  *extra_dirs);
CDVIZ_AVAILABLE_IN_1_0
char         **cdviz_registry_get_searched_dirs (CdvizRegistry      *self);
CDVIZ_AVAILABLE_IN_1_0
char         **cdviz_registry_list_plugins     (CdvizRegistry       *self);

CDVIZ_AVAILABLE_IN_1_0
const char    *cdviz_component_kind_to_string  (CdvizComponentKind   kind);

CDVIZ_AVAILABLE_IN_1_0
char          *cdviz_registry_describe_configuration (CdvizRegistry *self);

G_END_DECLS
