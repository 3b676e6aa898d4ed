# SPDX-License-Identifier: Apache-2.0
#
# Regional event aggregation: tag every event with where it was collected.
# Input and output: {"metadata": {...}, "headers": {...}, "body": <CDEvent>}.
#
# VRL original (cdviz-collector):
#   [{ "metadata": merge(.metadata, {...}), "headers": .headers, "body": .body }]
#
# Headers and body pass through untouched.
.metadata += {
  region: "us-east-1",
  aggregation_ready: true,
  collector_id: "regional-us-east"
}
