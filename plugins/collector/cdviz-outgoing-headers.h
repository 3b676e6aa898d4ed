/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Outgoing header rules, as cdviz-collector's `headers` tables of its
 * SSE source and http sink (`src/security/header.rs`): header name →
 * `{ type = "static", value, prefix, suffix }`,
 * `{ type = "secret", value, prefix, suffix }` (value usually from
 * `value_file`; never logged nor printed), or
 * `{ type = "signature", token, token_encoding, signature_prefix,
 * signature_on, signature_encoding }` (HMAC-SHA256 over the body, or over
 * the named headers' values each followed by `separator`, then the body).
 * Applied in config order, so a signature can cover headers set before it.
 * Plugin-private. */

typedef struct _CdvizOutgoingHeaders CdvizOutgoingHeaders;

/* @rules: a JSON object (or NULL, or the empty array `[]`, the collector's
 * documented "none"). Errors name the header and the field, never a
 * value. */
CdvizOutgoingHeaders *cdviz_outgoing_headers_new        (JsonNode              *rules,
                                                         GError               **error);
void                  cdviz_outgoing_headers_free       (CdvizOutgoingHeaders  *self);
gboolean              cdviz_outgoing_headers_is_empty   (CdvizOutgoingHeaders  *self);
/* Sets every rule's header on @headers; signatures cover @body (NULL: an
 * empty body). */
void                  cdviz_outgoing_headers_apply      (CdvizOutgoingHeaders  *self,
                                                         SoupMessageHeaders    *headers,
                                                         const guint8          *body,
                                                         gsize                  body_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizOutgoingHeaders, cdviz_outgoing_headers_free)

G_END_DECLS
