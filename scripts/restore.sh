#!/usr/bin/env bash
# npm run restore [-- --stack NAME] --from DIR [--force]: restores a backup made by npm run backup
# into a deployed stack's InfluxDB with the real `influx restore --full` inside its container
# (tools/restore.ts). It checks the backup and the stack first and changes nothing on a refusal;
# --force replaces data the stack's bucket already holds. A relative DIR is taken from the folder
# npm was started in.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run restore [-- --stack NAME] --from DIR [--force]"
FROM_DIR=""
FORCE=()
AWAITING_FROM=false
script_arg() {
  if [ "$AWAITING_FROM" = true ]; then
    AWAITING_FROM=false
    case "$1" in -*) return 1 ;; esac
    FROM_DIR=$1
    return 0
  fi
  case "$1" in
    --from) AWAITING_FROM=true ;;
    --from=*) FROM_DIR=${1#--from=}; [ -n "$FROM_DIR" ] || return 1 ;;
    --force) FORCE=(--force) ;;
    *) return 1 ;;
  esac
}
parse_args "$@"
if [ -z "$FROM_DIR" ]; then
  echo "error: --from needs the folder npm run backup wrote" >&2
  echo "usage: $USAGE" >&2
  exit 2
fi
case "$FROM_DIR" in
  /*) ;;
  *) FROM_DIR="${INIT_CWD:-$PWD}/$FROM_DIR" ;;
esac
check_stack
use_state_backend
need_pulumi
use_passphrase
need_node
need_docker
if [ ! -f "$ROOT/tools/dist/tools/restore.js" ]; then
  need "error: the restore tool is not built: run 'npm run build:tools' (npm run restore does it first)"
fi
stop_if_unmet

cd "$ROOT"
export DOCKER_HOST="$DOCKER_ENDPOINT"
exec node "$ROOT/tools/dist/tools/restore.js" --stack "$STACK" --from "$FROM_DIR" ${FORCE[@]+"${FORCE[@]}"}
