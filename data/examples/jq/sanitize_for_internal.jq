# SPDX-License-Identifier: Apache-2.0
#
# Public-to-internal bridge: strip sensitive data before the event leaves the
# DMZ. The body is rebuilt from an allow-list, as in the VRL original: the
# context, and the subject's id, type and content without `sensitive_data`
# (other subject fields, and body fields other than context/subject, such as
# customData, are dropped).
#
# Note: the VRL original reads
#   "content": del(.body.subject.content.sensitive_data) ?? .body.subject.content
# where VRL's del() returns the *removed* value; what is meant (and done
# here) is the content without it. A content that is not an object passes
# unchanged.
.body.subject.content as $content
| .metadata += {
    sanitized_for: "internal_consumption",
    public_collector_id: "dmz-collector-1"
  }
| .body = {
    context: .body.context,
    subject: {
      id: .body.subject.id,
      type: .body.subject.type,
      content: (try ($content | del(.sensitive_data)) catch $content)
    }
  }
