/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-cdevent.h"

/* Placeholder: normalisation lands with the webhook source. */

G_DEFINE_QUARK (cdviz-cdevent-error-quark, cdviz_cdevent_error)

JsonNode *
cdviz_cdevent_normalize (JsonNode    *body,
                         const char  *default_source,
                         GError     **error)
{
  return json_node_copy (body);
}

char *
cdviz_cdevent_compute_id (JsonNode *body)
{
  return NULL;
}
