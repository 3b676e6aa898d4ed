# SPDX-License-Identifier: Apache-2.0
#
# Hierarchical distribution: only high-importance, security and compliance
# events go up to the corporate level; all others are dropped (no output).
#
# VRL original: `if !(...) { return [] }` then one output with merged
# metadata. In jq, select() drops the event when its condition is false.
(.body.subject.content | if type == "object" then . else {} end) as $content
| select(
    $content.importance == "high"
    or $content.category == "security"
    or $content.category == "compliance"
  )
| .metadata += {
    corporate_filtered: true,
    escalation_level: "corporate"
  }
