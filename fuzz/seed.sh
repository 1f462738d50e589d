#!/usr/bin/env bash
# Seeds the fuzz corpora from the committed fixtures (run from the repository root).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/object_loading corpus/pem_and_chains corpus/identifiers corpus/error_text corpus/user_checks
find ../fixtures/scenarios -name '*.yaml' | head -200 | while read -r f; do cp "$f" "corpus/object_loading/$(echo "$f" | tr '/' '_')"; done
i=0
for f in ../fixtures/scenarios/healthy/*/istio-system.yaml; do
  grep -o 'root-cert.pem: [A-Za-z0-9+/=]*' "$f" | cut -d' ' -f2 | while read -r b; do echo "$b" | base64 -d > "corpus/pem_and_chains/root-$i.pem" 2>/dev/null || true; i=$((i+1)); done
done
printf 'spiffe://mesh-a.local/ns/shop/sa/frontend' > corpus/identifiers/spiffe
printf 'outbound_.8080_.v1_.reviews.prod.svc.cluster.local' > corpus/identifiers/sni
printf '*.local' > corpus/identifiers/wildcard
printf 'upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end' > corpus/error_text/envoy
printf 'curl: (35) error:0A000418:SSL routines::tlsv1 alert unknown ca' > corpus/error_text/curl
printf 'RBAC: access denied' > corpus/error_text/rbac
cp ../examples/rules/*.yaml corpus/user_checks/
printf '{"findings": [{"code": "X-fuzz-001", "name": "a", "severity": "info", "message": "m", "evidence": [{"kind": "Secret", "name": "x"}], "fix": "f"}]}' > corpus/user_checks/answer.json
