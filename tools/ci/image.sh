#!/usr/bin/env bash
# One service image: build (SBOM and provenance attached by BuildKit), scan, sign, verify.
#   tools/ci/image.sh build|scan|sign|verify SERVICE TAG
# SERVICE is a target of deploy/Dockerfile: router, provider, keyvault, metrics, edge.
# REGISTRY (REGION-docker.pkg.dev/PROJECT/agentopia) and PUBLISH=true push the image;
# without them it is built and loaded locally only (pull requests).
set -euo pipefail

action=$1 service=$2 tag=$3
case "$service" in router|provider|keyvault|metrics|edge) ;; *) echo "unknown service: $service" >&2; exit 2 ;; esac
image="${REGISTRY:-agentopia}/${service}"

digest_of() {
  gcloud artifacts docker images describe "${image}:${tag}" --format='value(image_summary.digest)'
}

case "$action" in
  build)
    # The base image by digest: the tag as resolved now, recorded in SBOM and provenance.
    base=python:3.11-slim-bookworm
    digest=$(docker buildx imagetools inspect "$base" --format '{{json .Manifest}}' \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
    # Pushed images carry the SBOM and provenance attestations; a local build (pull
    # requests) is loaded into the daemon, which cannot hold attestations.
    output=(--load)
    if [ "${PUBLISH:-false}" = true ]; then
      output=(--push --sbom=true --provenance=mode=max)
      docker buildx inspect agentopia > /dev/null 2>&1 || docker buildx create --name agentopia --use > /dev/null
    fi
    docker buildx build --file deploy/Dockerfile --target "$service" \
      --build-arg "PYTHON_IMAGE=${base}@${digest}" \
      --label "org.opencontainers.image.revision=${tag}" \
      --tag "${image}:${tag}" "${output[@]}" .
    ;;
  scan)
    # Artifact Analysis on-demand scan; any fixable CRITICAL or HIGH finding fails.
    scan=$(gcloud artifacts docker images scan "${image}@$(digest_of)" --remote --format='value(response.scan)')
    found=$(gcloud artifacts docker images list-vulnerabilities "$scan" \
      --format='value(vulnerability.effectiveSeverity)' \
      --filter='vulnerability.effectiveSeverity=(CRITICAL,HIGH) AND vulnerability.fixAvailable=true' | wc -l)
    echo "${service}: ${found} fixable critical/high vulnerabilities"
    [ "$found" -eq 0 ]
    ;;
  sign)
    # Keyless: a short-lived Fulcio certificate for this workflow's OIDC identity, logged in Rekor.
    cosign sign --yes "${image}@$(digest_of)"
    ;;
  verify)
    cosign verify "${image}@$(digest_of)" \
      --certificate-oidc-issuer=https://token.actions.githubusercontent.com \
      --certificate-identity-regexp="^https://github.com/${GITHUB_REPOSITORY}/.github/workflows/(ci|deploy-staging).yaml@refs/heads/main$" \
      > /dev/null
    echo "${service}: signature verified"
    ;;
  *) echo "usage: $0 build|scan|sign|verify SERVICE TAG" >&2; exit 2 ;;
esac
