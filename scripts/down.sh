#!/usr/bin/env bash
# npm run down [-- --stack NAME]: remove a stack's containers, networks and volumes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${STACK:-dev}"
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK="$2"; shift 2 ;;
    *) echo "usage: npm run down [-- --stack NAME]" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/prereqs.sh
source "$ROOT/scripts/prereqs.sh"

cd "$ROOT"
pulumi destroy --yes --stack "$STACK" --non-interactive
