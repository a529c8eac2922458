#!/usr/bin/env bash
# npm run up [-- --stack NAME] [-- --generate-passphrase]: deploy a stack (dev by default), with
# the policy pack (policy/) enforced.
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
# The policy pack (applied below) runs with the project's @pulumi/policy.
if [ ! -d "$ROOT/node_modules/@pulumi/policy" ]; then
  echo "error: the policy pack's dependency @pulumi/policy is not installed: run 'npm ci' first" >&2
  exit 1
fi

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
# The security baseline is enforced on every update: the CrossGuard pack in policy/ refuses a
# change that weakens a container before anything is deployed. The pack has no dependencies of its
# own; Pulumi runs it with the @pulumi/policy and @pulumi/pulumi of the project's node_modules
# (npm ci installs them).
pulumi up --yes --stack "$STACK" --non-interactive --policy-pack "$ROOT/policy"
echo
echo "Grafana:  $(pulumi stack output grafanaUrl --stack "$STACK")   (user: $(pulumi stack output grafanaAdminUser --stack "$STACK"))"
echo "Password: pulumi stack output grafanaAdminPassword --show-secrets --stack $STACK"
echo "CA:       pulumi stack output caCertificatePem --stack $STACK > iot-ca.pem   (import it into your browser to trust the site)"
