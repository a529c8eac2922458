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
# Creating a stack with the passphrase provider writes its encryptionsalt into Pulumi.<stack>.yaml.
# It is not a secret, but it belongs to this passphrase: say so once, when it appears.
stack_file="Pulumi.$STACK.yaml"
had_salt=false
grep -q '^encryptionsalt:' "$stack_file" 2>/dev/null && had_salt=true
pulumi stack select --create "$STACK" --non-interactive
if [ "$had_salt" = false ] && grep -q '^encryptionsalt:' "$stack_file" 2>/dev/null; then
  echo "note: Pulumi added 'encryptionsalt:' to $stack_file. It is not a secret, but it only works with this stack's passphrase:"
  echo "      keep it with your deployment's copy of the stack file (commit it there), and do not send it upstream."
fi
pulumi up --yes --stack "$STACK" --non-interactive
echo
echo "Grafana:  $(pulumi stack output grafanaUrl --stack "$STACK")   (user: $(pulumi stack output grafanaAdminUser --stack "$STACK"))"
echo "Password: pulumi stack output grafanaAdminPassword --show-secrets --stack $STACK"
echo "CA:       pulumi stack output caCertificatePem --stack $STACK > iot-ca.pem   (import it into your browser to trust the site)"
