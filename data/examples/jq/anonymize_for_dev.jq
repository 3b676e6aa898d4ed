# SPDX-License-Identifier: Apache-2.0
#
# Cross-environment mirroring: production events made safe for development.
# The source and the subject id are prefixed, the user is anonymised and the
# sensitive field blanked; context.id is kept, so the event stays the same
# event (deduplication, SSE ids). As in the VRL original, the subject keeps
# only id, type and content.
.metadata += {
  anonymized_for: "development",
  original_environment: "production"
}
| .body = {
    context: (.body.context + {source: ("anonymized-" + .body.context.source)}),
    subject: {
      id: ("dev-" + .body.subject.id),
      type: .body.subject.type,
      content: ((.body.subject.content // {}) + {user_id: "anonymous", sensitive_field: null})
    }
  }
