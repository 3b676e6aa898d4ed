# SPDX-License-Identifier: Apache-2.0
#
# Event filtering: keep build events only (dev.cdevents.build.*), drop the
# rest. The event passes unchanged (same message, nothing re-serialised).
#
# The VRL original tests `.type`; in the jq input the CDEvent is `.body`, so
# its type is `.body.context.type`.
select(.body.context.type | strings | startswith("dev.cdevents.build."))
