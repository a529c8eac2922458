#!/usr/bin/env bash
# npm run verify [-- --stack NAME] [-- --json]: check a deployed stack from the outside (tools/verify.ts):
# containers healthy and never restarted, ports published as configured, Grafana's certificate,
# its login, fresh data through its datasource, the simulator's log. Exit 0 only if every check
# passed. Uses the same state backend, passphrase and Docker engine as npm run up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${STACK:-dev}"
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK="$2"; shift 2 ;;
    --json) ARGS+=(--json); shift ;;
    *) echo "usage: npm run verify [-- --stack NAME] [-- --json]" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/prereqs.sh
source "$ROOT/scripts/prereqs.sh"
# The docker CLI calls of the checks go to the engine the stack was deployed to (prereqs.sh found
# it: docker:host, else DOCKER_HOST, else the local socket).
export DOCKER_HOST="$endpoint"

cd "$ROOT"
exec node "$ROOT/tools/dist/tools/verify.js" --stack "$STACK" ${ARGS[@]+"${ARGS[@]}"}
