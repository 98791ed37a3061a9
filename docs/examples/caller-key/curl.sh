#!/bin/sh
# route: get /agentopia/v1/me
# The calling key itself: its settings and its live usage (any valid key).
set -eu

curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/me" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
