#!/usr/bin/env bash
# npm run backup [-- --stack NAME] [--out DIR]: a backup of a deployed stack's InfluxDB, made by the
# real `influx backup` inside its container with the operator token from the stack's outputs
# (tools/backup.ts), written to DIR: a new folder (0700) of files (0600) and manifest.json. DIR
# defaults to backup-<stack>-<UTC time> in the folder npm was started in; a relative DIR is taken
# from there too, not from the project's folder.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run backup [-- --stack NAME] [--out DIR]"
OUT_DIR=""
AWAITING_OUT=false
script_arg() {
  if [ "$AWAITING_OUT" = true ]; then
    AWAITING_OUT=false
    case "$1" in -*) return 1 ;; esac
    OUT_DIR=$1
    return 0
  fi
  case "$1" in
    --out) AWAITING_OUT=true ;;
    --out=*) OUT_DIR=${1#--out=}; [ -n "$OUT_DIR" ] || return 1 ;;
    *) return 1 ;;
  esac
}
parse_args "$@"
if [ "$AWAITING_OUT" = true ]; then
  echo "error: --out needs a folder: a new one, the backup never overwrites" >&2
  echo "usage: $USAGE" >&2
  exit 2
fi
OUT_ARGS=()
if [ -n "$OUT_DIR" ]; then
  case "$OUT_DIR" in
    /*) ;;
    *) OUT_DIR="${INIT_CWD:-$PWD}/$OUT_DIR" ;;
  esac
  OUT_ARGS=(--out "$OUT_DIR")
fi
check_stack
use_state_backend
need_pulumi
use_passphrase
need_node
need_docker
if [ ! -f "$ROOT/tools/dist/tools/backup.js" ]; then
  need "error: the backup tool is not built: run 'npm run build:tools' (npm run backup does it first)"
fi
stop_if_unmet

cd "$ROOT"
# The docker CLI then talks to the engine the stack runs on (docker:host, else DOCKER_HOST).
export DOCKER_HOST="$DOCKER_ENDPOINT"
exec node "$ROOT/tools/dist/tools/backup.js" --stack "$STACK" ${OUT_ARGS[@]+"${OUT_ARGS[@]}"}
