#!/bin/sh
# route: post /v1/completions
# A legacy text completion.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/v1/completions" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/echo", "prompt": "Say hello", "max_tokens": 16}'
