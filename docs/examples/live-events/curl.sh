#!/bin/sh
# route: get /agentopia/v1/live:events
# Live per-second traffic as server-sent events (the first event, then stop).
set -eu
curl -sS --fail-with-body -N -X GET "$AGENTOPIA_URL/agentopia/v1/live:events" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" | head -n 1
