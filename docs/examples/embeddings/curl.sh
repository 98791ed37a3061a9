#!/bin/sh
# route: post /v1/embeddings
# Embeddings for two texts.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/v1/embeddings" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "mock/embed", "input": ["Hello", "World"]}'
