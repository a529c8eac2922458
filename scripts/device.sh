#!/usr/bin/env bash
# npm run device -- list [--stack NAME]
# npm run device -- bundle DEVICE_ID --out DIR [--stack NAME]
# The devices a deployed stack declares, and the files one of them needs to join its MQTT broker
# (tools/device.ts): read from the stack's outputs with the state backend and passphrase npm run up
# used. A relative DIR is taken from the folder npm was started in, not the project's.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run device -- list [--stack NAME] | npm run device -- bundle DEVICE_ID --out DIR [--stack NAME]"
COMMAND=""
DEVICE_ID=""
OUT_DIR=""
OUT_GIVEN=false
AWAITING_OUT=false
script_arg() {
  if [ "$AWAITING_OUT" = true ]; then
    AWAITING_OUT=false
    # "--out --stack" and the like: the folder is missing, not named "--stack"
    case "$1" in -*) return 1 ;; esac
    OUT_DIR=$1
    return 0
  fi
  case "$1" in
    --out) OUT_GIVEN=true; AWAITING_OUT=true ;;
    --out=*) OUT_GIVEN=true; OUT_DIR=${1#--out=} ;;
    -*) return 1 ;;
    *)
      if [ -z "$COMMAND" ]; then
        COMMAND=$1
      elif [ "$COMMAND" = bundle ] && [ -z "$DEVICE_ID" ]; then
        DEVICE_ID=$1
      else
        return 1
      fi
      ;;
  esac
}
usage_error() {
  echo "error: $1" >&2
  echo "usage: $USAGE" >&2
  exit 2
}
parse_args "$@"
case "$COMMAND" in
  "") usage_error "say what to do: list or bundle" ;;
  list)
    if [ "$OUT_GIVEN" = true ]; then usage_error "list takes no --out"; fi
    ;;
  bundle)
    if [ -z "$DEVICE_ID" ]; then usage_error "bundle needs a device id (npm run device -- list shows them)"; fi
    if [ -z "$OUT_DIR" ]; then usage_error "bundle needs --out DIR, a new or empty folder to write the device's files to"; fi
    case "$OUT_DIR" in
      /*) ;;
      *) OUT_DIR="${INIT_CWD:-$PWD}/$OUT_DIR" ;;
    esac
    ;;
  *) usage_error "unknown command '$COMMAND': list or bundle" ;;
esac
check_stack
use_state_backend
need_pulumi
use_passphrase
need_node
if [ ! -f "$ROOT/tools/dist/tools/device.js" ]; then
  need "error: the device tool is not built: run 'npm run build:tools' (npm run device does it first)"
fi
stop_if_unmet

cd "$ROOT"
if [ "$COMMAND" = list ]; then
  exec node "$ROOT/tools/dist/tools/device.js" list --stack "$STACK"
fi
exec node "$ROOT/tools/dist/tools/device.js" bundle "$DEVICE_ID" --out "$OUT_DIR" --stack "$STACK"
