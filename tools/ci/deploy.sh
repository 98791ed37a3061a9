#!/usr/bin/env bash
# Deploy one commit's images to an environment, smoke-test through the edge, roll back.
#   tools/ci/deploy.sh staging|production TAG
# Needs: gcloud authenticated (Workload Identity Federation), helm, GCP_PROJECT,
# GCP_REGION, GKE_CLUSTER, EDGE_URL, SMOKE_API_KEY (a client key of that environment).
set -euo pipefail

environment=$1 tag=$2
case "$environment" in staging|production) ;; *) echo "unknown environment: $environment" >&2; exit 2 ;; esac
registry="${GCP_REGION}-docker.pkg.dev/${GCP_PROJECT}/agentopia"

# An image reference as name@sha256:..., the tag resolved now (every pod runs a digest).
pinned() {
  gcloud container images describe "$1" --format='value(image_summary.fully_qualified_digest)'
}

# Through the Cloud SQL Auth Proxy sidecar, logged in as the workload's own service
# account (IAM database authentication: no password). "@" is %40 in a URL's user part.
database_url() {
  echo "postgresql+psycopg://agentopia-$1%40${GCP_PROJECT}.iam@127.0.0.1:5432/$1"
}
release=agentopia namespace=agentopia

gcloud container clusters get-credentials "$GKE_CLUSTER" --region "$GCP_REGION" --project "$GCP_PROJECT"

previous=$(helm history "$release" -n "$namespace" --max 1 -o json 2>/dev/null | python3 -c \
  'import json,sys; h=json.load(sys.stdin); print(h[-1]["revision"] if h else "")' || true)

# Migrations run first, as the chart's pre-upgrade hook Job; --atomic rolls back a
# rollout that does not become ready (or a failed hook) by itself.
helm upgrade --install "$release" helm/agentopia -n "$namespace" --create-namespace \
  -f "helm/agentopia/profiles/${environment}.yaml" \
  --set image.registry="$registry" --set image.tag="$tag" \
  --set cloudSqlProxy.instance="${GCP_PROJECT}:${GCP_REGION}:agentopia-${environment}" \
  --set cloudSqlProxy.image="$(pinned "$(sed -n 's/^  image: \(.*cloud-sql-proxy[^ ]*\).*/\1/p' helm/agentopia/values.yaml)")" \
  --set keyvault.env.AGENTOPIA_KEYVAULT_DATABASE_URL="$(database_url keyvault)" \
  --set metrics.env.AGENTOPIA_METRICS_DATABASE_URL="$(database_url metrics)" \
  --atomic --wait --timeout 15m

if ! bash tools/ci/smoke.sh "$EDGE_URL"; then
  echo "smoke test failed; rolling back" >&2
  if [ -n "$previous" ]; then
    helm rollback "$release" "$previous" -n "$namespace" --wait --timeout 10m
  else
    helm uninstall "$release" -n "$namespace" --wait
  fi
  exit 1
fi
