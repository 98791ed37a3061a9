#!/bin/sh
# route: post /v1/chat/completions
# A streamed chat completion: server-sent events ending in `data: [DONE]`.
set -eu
curl -sS --fail-with-body -N -X POST "$AGENTOPIA_URL/v1/chat/completions" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/echo", "messages": [{"role": "user", "content": "Hello!"}], "stream": true, "stream_options": {"include_usage": true}}'
