#!/bin/sh
# route: post /v1/chat/completions
# One chat completion (OpenAI-compatible).
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/v1/chat/completions" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/echo", "messages": [{"role": "user", "content": "Hello!"}]}'
