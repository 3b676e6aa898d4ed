/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `cdviz-pipeline transform`, as cdviz-collector's: runs the files of an
 * input directory through transformers and compares or writes the outputs.
 * @argv[0] is "transform". Returns the exit status. */
int cdviz_transform_command_run (int argc, char **argv);

G_END_DECLS
