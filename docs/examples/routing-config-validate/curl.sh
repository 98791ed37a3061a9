#!/bin/sh
# route: post /agentopia/v1/routing/config:validate
# Check a registry document without applying it.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/routing/config:validate" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"toml": "schema_version = 1\n\n[providers.mock]\ntimeout_s = 30.0\n\n[[models]]\nid = \"mock/echo\"\nprovider = \"mock\"\nupstream_id = \"echo\"\ncapabilities = [\"chat\", \"completions\", \"streaming\"]\ncontext_window = 8192\nmax_output_tokens = 2048\nauto = false\n"}'
