#!/usr/bin/env bash
# npm run up [-- --stack NAME] [-- --generate-passphrase]: deploy a stack (dev by default).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${STACK:-dev}"
GENERATE_PASSPHRASE=false
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK="$2"; shift 2 ;;
    --generate-passphrase) GENERATE_PASSPHRASE=true; shift ;;
    *) echo "usage: npm run up [-- --stack NAME] [-- --generate-passphrase]" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/prereqs.sh
source "$ROOT/scripts/prereqs.sh"

cd "$ROOT"
pulumi stack select --create "$STACK" --non-interactive
pulumi up --yes --stack "$STACK" --non-interactive
echo
echo "Grafana:  $(pulumi stack output grafanaUrl --stack "$STACK")   (user: $(pulumi stack output grafanaAdminUser --stack "$STACK"))"
echo "Password: pulumi stack output grafanaAdminPassword --show-secrets --stack $STACK"
echo "CA:       pulumi stack output caCertificatePem --stack $STACK > iot-ca.pem   (import it into your browser to trust the site)"
