#!/bin/sh
# route: get /agentopia/v1/usage:summary
# Usage and cost totals, grouped by model.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/usage:summary?group_by=USAGE_GROUP_BY_MODEL" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
