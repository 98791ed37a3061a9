#!/bin/sh
# route: get /agentopia/v1/audit-events
# The audit log, newest first.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/audit-events?page_size=5" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
