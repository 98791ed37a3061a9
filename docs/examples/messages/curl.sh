#!/bin/sh
# route: post /v1/messages
# One message through the Anthropic-compatible Messages API.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/v1/messages" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/echo", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello!"}]}'
