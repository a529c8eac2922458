#!/usr/bin/env bash
# npm run verify [-- --stack NAME] [--json]: check a deployed stack from the outside (tools/verify.ts):
# containers healthy and never restarted, ports published as configured, Grafana's certificate,
# the MQTT broker's TLS listener (when the stack declares MQTT devices), Grafana's login, fresh
# data through its datasource, the simulators' logs. Exit 0 only if every check passed. Uses the same state backend, passphrase and Docker engine as npm run up.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run verify [-- --stack NAME] [--json]"
ARGS=()
script_arg() {
  case "$1" in
    --json) ARGS+=(--json); JSON_REPORT=true ;;
    *) return 1 ;;
  esac
}
parse_args "$@"
check_stack
use_state_backend
need_pulumi
use_passphrase
need_docker
need_node
need_dependencies
stop_if_unmet
# The docker CLI calls of the checks go to the engine the stack was deployed to (need_docker found
# it: docker:host, else DOCKER_HOST, else the local socket).
export DOCKER_HOST="$DOCKER_ENDPOINT"

cd "$ROOT"
exec node "$ROOT/tools/dist/tools/verify.js" --stack "$STACK" ${ARGS[@]+"${ARGS[@]}"}
