/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#if !defined(__CDVIZ_H_INSIDE__) && !defined(CDVIZ_COMPILATION)
#error "Only <cdviz.h> can be included directly."
#endif

#include <gmodule.h>

#include "cdviz-version.h"
#include "cdviz-registry.h"

G_BEGIN_DECLS

/**
 * CdvizPluginRegisterFunc:
 * @registry: the registry to register types into
 * @error: return location for a #GError
 *
 * A plugin's entry point. It only registers types; it must not start
 * threads, open files or sockets.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*CdvizPluginRegisterFunc) (CdvizRegistry  *registry,
                                             GError        **error);

/**
 * CdvizPluginDescriptor:
 * @abi_version: %CDVIZ_PLUGIN_ABI_VERSION at the plugin's build time
 * @struct_size: `sizeof (CdvizPluginDescriptor)` at the plugin's build time
 * @name: a short unique name, e.g. `"sse"`
 * @description: one line for humans
 * @version: the plugin's version
 * @register_types: the entry point
 *
 * What a plugin module exports, under the symbol
 * %CDVIZ_PLUGIN_DESCRIPTOR_SYMBOL. Define it with CDVIZ_PLUGIN_DEFINE().
 */
typedef struct {
  guint32 abi_version;
  guint32 struct_size;
  const char *name;
  const char *description;
  const char *version;
  CdvizPluginRegisterFunc register_types;
} CdvizPluginDescriptor;

/**
 * CDVIZ_PLUGIN_DESCRIPTOR_SYMBOL:
 *
 * The name of the symbol a plugin module exports.
 */
#define CDVIZ_PLUGIN_DESCRIPTOR_SYMBOL "cdviz_plugin_descriptor"

/**
 * CDVIZ_PLUGIN_DEFINE:
 * @name: the plugin's name, a string literal
 * @description: one line, a string literal
 * @register_func: a #CdvizPluginRegisterFunc
 *
 * Defines and exports the plugin descriptor of a module.
 */
#define CDVIZ_PLUGIN_DEFINE(name, description, register_func)          \
  G_MODULE_EXPORT const CdvizPluginDescriptor cdviz_plugin_descriptor = { \
    CDVIZ_PLUGIN_ABI_VERSION,                                           \
    sizeof (CdvizPluginDescriptor),                                     \
    name,                                                               \
    description,                                                        \
    CDVIZ_VERSION_S,                                                    \
    register_func,                                                      \
  };

G_END_DECLS
