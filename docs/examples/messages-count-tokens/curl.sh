#!/bin/sh
# route: post /v1/messages/count_tokens
# The input tokens a Messages request would use.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/v1/messages/count_tokens" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/echo", "messages": [{"role": "user", "content": "Hello!"}]}'
