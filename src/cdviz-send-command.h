/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cdviz.h"

G_BEGIN_DECLS

/* `cdviz-pipeline send`, as cdviz-collector's: sends the --data items
 * through a pipeline whose http sink posts to --url (the debug sink prints
 * them without it). @argv[0] is "send". Returns the exit status: 0 when
 * every item was accepted by every sink, 1 otherwise, 2 on a usage or
 * configuration error. */
int cdviz_send_command_run (int argc, char **argv);

/* Adds send's base layer (over @config's built-in base), as
 * `config --for send` shows it. */
gboolean cdviz_send_command_add_base (CdvizConfig  *config,
                                      GError      **error);

G_END_DECLS
