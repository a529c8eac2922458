#!/usr/bin/env bash
# npm run down [-- --stack NAME]: remove a stack's containers, networks and volumes.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run down [-- --stack NAME]"
parse_args "$@"
check_stack
use_state_backend
need_pulumi
use_passphrase
need_docker
need_dependencies
stop_if_unmet

cd "$ROOT"
pulumi destroy --yes --stack "$STACK" --non-interactive
