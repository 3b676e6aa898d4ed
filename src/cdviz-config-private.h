/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz-config.h"
#include "cdviz-registry.h"

G_BEGIN_DECLS

/* Resolves `_file` keys once every layer is in (idempotent). */
gboolean  _cdviz_config_finish         (CdvizConfig        *self,
                                        GError            **error);

/* Resolves `_rfile` keys from `[remote.NAME]` (cdviz-config-remote.c);
 * with @check (`config --check`), a file neither reachable nor cached is a
 * warning and its key is left out. */
gboolean  _cdviz_config_resolve_remote_files (CdvizConfig  *self,
                                              gboolean      check,
                                              GError      **error);
/* How _cdviz_config_finish() resolves `_rfile` keys (see above). */
void      _cdviz_config_set_remote_check (CdvizConfig      *self,
                                          gboolean          check);
/* @to was set where @from was (for keys made from others). */
void      _cdviz_config_copy_location  (CdvizConfig        *self,
                                        const char         *from,
                                        const char         *to);

/* Where a key was set: "FILE:LINE", "FILE", or "<built-in>:LINE". */
char     *_cdviz_config_describe       (CdvizConfig        *self,
                                        const char         *path);

/* Checks that every member of @table (at @path) is in @allowed. */
gboolean  _cdviz_config_check_keys     (CdvizConfig        *self,
                                        const char         *path,
                                        JsonObject         *table,
                                        const char * const *allowed,
                                        GError            **error);

/* Typed getters; a member of the wrong type is an error naming the key. */
gboolean  _cdviz_config_get_bool       (CdvizConfig        *self,
                                        const char         *path,
                                        JsonObject         *table,
                                        const char         *key,
                                        gboolean            default_value,
                                        gboolean           *out,
                                        GError            **error);
gboolean  _cdviz_config_get_int        (CdvizConfig        *self,
                                        const char         *path,
                                        JsonObject         *table,
                                        const char         *key,
                                        gint64              minimum,
                                        gint64              maximum,
                                        gint64              default_value,
                                        gint64             *out,
                                        GError            **error);
gboolean  _cdviz_config_get_string     (CdvizConfig        *self,
                                        const char         *path,
                                        JsonObject         *table,
                                        const char         *key,
                                        gboolean            required,
                                        const char        **out,
                                        GError            **error);
/* A duration (`"30s"`, `"500ms"` or an integer number of seconds), in ms. */
gboolean  _cdviz_config_get_duration   (CdvizConfig        *self,
                                        const char         *path,
                                        JsonObject         *table,
                                        const char         *key,
                                        guint64             maximum_ms,
                                        guint64             default_ms,
                                        guint64            *out,
                                        GError            **error);

/* Creates a component of @kind from @table at @path, `type` naming the
 * registered type; every other key except @skip_keys becomes a property. */
GObject  *_cdviz_config_create_component (CdvizConfig        *self,
                                          CdvizRegistry      *registry,
                                          CdvizComponentKind  kind,
                                          const char         *path,
                                          JsonObject         *table,
                                          const char * const *skip_keys,
                                          GError            **error);

/* Sets @error: the key @key of the table at @path holds @got, not
 * @expected (e.g. _("a string")). Returns FALSE. */
gboolean  _cdviz_config_type_error     (CdvizConfig        *self,
                                        const char         *path,
                                        const char         *key,
                                        const char         *expected,
                                        JsonNode           *got,
                                        GError            **error);

/* A duration value (`"30s"`, `"500ms"` or a number of seconds) in
 * [minimum_ms, maximum_ms], in ms; else an error naming the key. */
gboolean  _cdviz_config_node_get_duration (CdvizConfig     *self,
                                           const char      *path,
                                           const char      *key,
                                           JsonNode        *node,
                                           guint64          minimum_ms,
                                           guint64          maximum_ms,
                                           guint64         *out_ms,
                                           GError         **error);

/* Prefixes @error's message with the location of @path. */
void      _cdviz_config_prefix_error   (CdvizConfig        *self,
                                        const char         *path,
                                        GError            **error);

/* Whether @pspec is a guint64 with CDVIZ_PARAM_DURATION (as
 * cdviz_param_spec_duration() makes them). */
gboolean  _cdviz_param_spec_is_duration (GParamSpec        *pspec);

/* @path (may be NULL or empty) and @key joined as cdviz_config_path_append()
 * does. */
char     *_cdviz_config_join           (const char         *path,
                                        const char         *key);

G_END_DECLS
