#!/bin/sh
# route: post /agentopia/v1/provider-keys
# Store a provider key (encrypted at rest; never returned).
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/provider-keys" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"provider": "openai", "label": "docs-example", "secret": "sk-docs-example-0123456789abcdef"}'
