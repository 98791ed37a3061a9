#!/bin/sh
# route: get /agentopia/v1/usage:export
# The same rows as CSV.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/usage:export?group_by=USAGE_GROUP_BY_MODEL" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
