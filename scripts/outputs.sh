#!/usr/bin/env bash
# npm run outputs [-- --stack NAME] [--show-secrets] [OUTPUT]: a deployed stack's outputs, all of
# them or the one named, read with the state backend and passphrase npm run up used, so that it
# works from the user's own shell. Secret outputs print as [secret] unless --show-secrets is given
# (that is pulumi stack output's own rule). Only the value goes to stdout, so
#   npm run -s outputs -- caCertificatePem > iot-ca.pem
# writes the certificate alone. Needs the Pulumi CLI, not Docker or Node.js.
set -euo pipefail
# shellcheck source=scripts/prereqs.sh
source "$(dirname "${BASH_SOURCE[0]}")/prereqs.sh"
USAGE="npm run outputs [-- --stack NAME] [--show-secrets] [OUTPUT_NAME]"
SHOW_SECRETS=()
OUTPUT_NAME=()
script_arg() {
  case "$1" in
    --show-secrets) SHOW_SECRETS=(--show-secrets) ;;
    -*) return 1 ;;
    *) [ ${#OUTPUT_NAME[@]} -eq 0 ] || return 1; OUTPUT_NAME=("$1") ;;
  esac
}
parse_args "$@"
check_stack
use_state_backend
need_pulumi
use_passphrase
stop_if_unmet

cd "$ROOT"
exec pulumi stack output ${OUTPUT_NAME[@]+"${OUTPUT_NAME[@]}"} --stack "$STACK" ${SHOW_SECRETS[@]+"${SHOW_SECRETS[@]}"}
