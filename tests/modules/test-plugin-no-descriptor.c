/* SPDX-License-Identifier: Apache-2.0 */
/* A shared module that is not a cdviz plugin. */
#include <gmodule.h>

G_MODULE_EXPORT int not_a_plugin (void);

G_MODULE_EXPORT int
not_a_plugin (void)
{
  return 42;
}
