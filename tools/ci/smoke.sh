#!/usr/bin/env bash
# A smoke test through the edge: it is up, it routes to the router, and it answers a
# client key with the model catalogue. The key comes from SMOKE_API_KEY, never argv.
#   tools/ci/smoke.sh https://gateway.example.com
set -euo pipefail

url=${1%/}
for attempt in $(seq 1 30); do
  if curl -fsS --max-time 5 "${url}/healthz" > /dev/null; then break; fi
  [ "$attempt" -eq 30 ] && { echo "edge not healthy at ${url}" >&2; exit 1; }
  sleep 2
done
curl -fsS --max-time 10 -H @<(printf 'Authorization: Bearer %s\n' "$SMOKE_API_KEY") \
  "${url}/v1/models" | python3 -c 'import json,sys; body=json.load(sys.stdin); assert body["data"], body'
echo "smoke test passed: ${url}"
