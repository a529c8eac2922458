#!/usr/bin/env bash
# npm run up [-- --stack NAME] [--generate-passphrase] [--refresh]: deploy a stack (dev by default),
# with the policy pack (policy/) enforced. --refresh reads the deployed containers and volumes back
# first, so that one removed by hand (the restore drill in docs/OPERATIONS.md) is created again.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run up [-- --stack NAME] [--generate-passphrase] [--refresh]"
REFRESH=()
script_arg() {
  case "$1" in
    --generate-passphrase) GENERATE_PASSPHRASE=true ;;
    --refresh) REFRESH=(--refresh) ;;
    *) return 1 ;;
  esac
}
parse_args "$@"
check_stack
use_state_backend
need_pulumi
use_passphrase --up
need_docker
need_node
need_dependencies
# The policy pack (applied below) runs with the project's @pulumi/policy.
if [ -d "$ROOT/node_modules/@pulumi/pulumi" ] && [ ! -d "$ROOT/node_modules/@pulumi/policy" ]; then
  need "error: the policy pack's dependency @pulumi/policy is not installed: run 'npm ci' first"
fi
stop_if_unmet

cd "$ROOT"
# Creating a stack with the passphrase provider writes its encryptionsalt into Pulumi.<stack>.yaml.
# It is not a secret, but it belongs to this passphrase: say so once, when it appears.
stack_file="Pulumi.$STACK.yaml"
had_salt=false
grep -q '^encryptionsalt:' "$stack_file" && had_salt=true
# The stack file exists (check_stack), but the stack itself may not yet exist in this backend.
pulumi stack select --create "$STACK" --non-interactive
if [ "$had_salt" = false ] && grep -q '^encryptionsalt:' "$stack_file"; then
  echo "note: Pulumi added 'encryptionsalt:' to $stack_file. It is not a secret, but it only works with this stack's passphrase:"
  echo "      keep it with your deployment's copy of the stack file (commit it there), and do not send it upstream."
fi
# The security baseline is enforced on every update: the CrossGuard pack in policy/ refuses a
# change that weakens a container before anything is deployed. The pack has no dependencies of its
# own; Pulumi runs it with the @pulumi/policy and @pulumi/pulumi of the project's node_modules
# (npm ci installs them).
pulumi up --yes --stack "$STACK" --non-interactive --policy-pack "$ROOT/policy" ${REFRESH[@]+"${REFRESH[@]}"}
echo
echo "Grafana:  $(pulumi stack output grafanaUrl --stack "$STACK")   (user: $(pulumi stack output grafanaAdminUser --stack "$STACK"))"
# The state backend and passphrase are set in this script only: these commands set them again, so
# they work from the user's own shell.
echo "Password: npm run -s outputs -- --stack $STACK --show-secrets grafanaAdminPassword"
echo "CA:       npm run -s outputs -- --stack $STACK caCertificatePem > iot-ca.pem   (import it into your browser to trust the site)"
echo "Outputs:  npm run outputs -- --stack $STACK   (secrets shown as [secret] unless --show-secrets)"
