#!/bin/sh
# route: get /v1/models/{model}
# One model by id (ids may contain `/`).
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/v1/models/mock/echo" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
