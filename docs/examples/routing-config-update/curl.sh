#!/bin/sh
# route: put /agentopia/v1/routing/config
# Replace the registry on every replica; the edit is based on the version read first
# (compare-and-set). Here the current document is put back unchanged (needs jq).
set -eu
current=$(curl -sS --fail-with-body "$AGENTOPIA_URL/agentopia/v1/routing/config" \
  -H "Authorization: Bearer $AGENTOPIA_KEY")
printf "%s" "$current" | jq '{expected_version: .config.version, toml: .config.toml}' |
  curl -sS --fail-with-body -X PUT "$AGENTOPIA_URL/agentopia/v1/routing/config" \
    -H "Authorization: Bearer $AGENTOPIA_KEY" \
    -H "Content-Type: application/json" \
    --data @-
