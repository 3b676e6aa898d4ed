/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `cdviz-pipeline vrl [--input EVENT.json] [--print-object] PROGRAM.vrl`:
 * runs a program on one event and prints the value of its last expression
 * (or the event, with --print-object) as one line of JSON. Returns the exit
 * status: 0, 1 for a runtime error or `abort`, 2 for a program that does
 * not compile (FILE:LINE:COLUMN: reason on standard error). @argv[0] is
 * "vrl". */
int cdviz_vrl_cli_run (int argc, char **argv);

G_END_DECLS
