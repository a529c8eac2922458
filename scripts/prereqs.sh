# Shared by up.sh, down.sh, verify.sh and outputs.sh (sourced, not run): their arguments, the stack
# they act on, the local state backend and passphrase, and what each needs installed.
#
# The order is the same in every script: arguments (a usage line, exit 2), then the stack (it must
# have a Pulumi.<stack>.yaml here, exit 2), then the prerequisites, each missing one reported in
# one line and all reported before giving up (exit 1). A stack is checked first so that a typo is
# never taken for a new stack, whatever else is missing.
#
# Only bash builtins and coreutils are used: this also runs where Node.js is missing or too old,
# to say so. Written for bash 3.2 too (macOS's /bin/bash): no associative arrays, no ${x,,}.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${STACK:-dev}"
# verify --json sets this: every failure below then comes out as one JSON document on stdout,
# the shape of tools/verify.ts's report, instead of lines on stderr.
JSON_REPORT=false

# Prints the failures and exits. $1 exit code, $2 the check's name in the JSON report, then one
# "error: ..." line per failure.
fail_with() {
  local code=$1 check=$2
  shift 2
  if [ "$JSON_REPORT" = true ]; then
    local line separator="" checks=""
    for line in "$@"; do
      checks+="$separator{\"name\": $(json_string "$check"), \"status\": \"fail\", \"summary\": $(json_string "${line#error: }")}"
      separator=", "
    done
    printf '{"stack": %s, "grafanaUrl": null, "ok": false, "counts": {"pass": 0, "fail": %d, "skip": 0}, "checks": [%s]}\n' \
      "$(json_string "$STACK")" "$#" "$checks"
  else
    printf '%s\n' "$@" >&2
  fi
  exit "$code"
}

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  # The other control characters have no short escape; they can only come from odd paths or
  # environment values, so they are dropped rather than break the document.
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}

# Each script sets USAGE and may define script_arg, which takes one argument of its own and
# returns non-zero for one it does not know.
parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack)
        if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#-}" != "$2" ]; then
          echo "error: --stack needs a stack name" >&2
          echo "usage: $USAGE" >&2
          exit 2
        fi
        STACK=$2
        shift 2
        ;;
      *)
        if ! declare -F script_arg >/dev/null || ! script_arg "$1"; then
          echo "error: unknown argument '$1'" >&2
          echo "usage: $USAGE" >&2
          exit 2
        fi
        shift
        ;;
    esac
  done
}

# The stack must be one this project has a stack file for: Pulumi would otherwise create (up) or
# look for (the others) a stack with no settings, which a typo should never do.
check_stack() {
  # The rule settings.ts applies to the stack name, checked here too because the name becomes a
  # file name below.
  if ! [[ $STACK =~ ^[a-z0-9][a-z0-9_.-]{0,39}$ ]]; then
    fail_with 2 stack "error: the stack name \"$STACK\" must be 1-40 characters a-z 0-9 _ . - (it prefixes Docker object names)"
  fi
  if [ ! -f "$ROOT/Pulumi.$STACK.yaml" ]; then
    local file known=""
    for file in "$ROOT"/Pulumi.*.yaml; do
      [ -f "$file" ] || continue
      file=${file##*/Pulumi.}
      known+="${known:+, }${file%.yaml}"
    done
    fail_with 2 stack "error: unknown stack '$STACK': there is no Pulumi.$STACK.yaml (stacks here: ${known:-none}); to make a new stack, copy one first: cp Pulumi.dev.yaml Pulumi.$STACK.yaml"
  fi
}

unmet=()
need() { unmet+=("$1"); }

need_pulumi() {
  if ! command -v pulumi >/dev/null 2>&1; then
    need "error: the Pulumi CLI is not installed or not on PATH (install it: https://www.pulumi.com/docs/iac/download-install/)"
  fi
}

# The state backend: a folder inside the project (git-ignored), no Pulumi Cloud account needed.
# An explicit PULUMI_BACKEND_URL wins, so a team can point at shared storage instead.
use_state_backend() {
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ROOT/.pulumi-state}"
  case "$PULUMI_BACKEND_URL" in
    file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
  esac
}

# The passphrase that encrypts this stack's secrets in the state: PULUMI_CONFIG_PASSPHRASE(_FILE)
# if set, else the file npm run up -- --generate-passphrase wrote for this stack. Only up passes
# --up: it creates one when GENERATE_PASSPHRASE=true; the other commands need the one the stack
# was deployed with.
GENERATE_PASSPHRASE=false
use_passphrase() {
  local for_up=false
  if [ "${1:-}" = --up ]; then for_up=true; fi
  local dir="${XDG_CONFIG_HOME:-$HOME/.config}/secure-iot"
  local file="$dir/passphrase-$STACK"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    if [ -f "$file" ]; then
      export PULUMI_CONFIG_PASSPHRASE_FILE="$file"
    elif [ "$for_up" = true ] && [ "$GENERATE_PASSPHRASE" = true ]; then
      mkdir -p "$dir" && chmod 700 "$dir"
      (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$file")
      export PULUMI_CONFIG_PASSPHRASE_FILE="$file"
      echo "generated a passphrase for stack $STACK in $file (mode 0600): back it up, the stack's secrets cannot be decrypted without it"
    elif [ "$for_up" = true ]; then
      need "error: no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), or run 'npm run up -- --generate-passphrase' to create $file"
    else
      need "error: no secrets passphrase for stack $STACK: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) with the one it was deployed with ($file does not exist)"
    fi
  elif [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ ! -r "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
    need "error: PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE is not a readable file"
  fi
}

# A Docker engine that answers, and is new enough, at the endpoint the Docker provider will use:
# docker:host if the stack sets it, else DOCKER_HOST, else the local socket. Not the docker CLI's
# current context, which the provider does not read. Sets DOCKER_ENDPOINT.
MIN_DOCKER_API="1.41"  # Docker Engine 20.10 (Debian 12 and Raspberry Pi OS ship it)
need_docker() {
  local docker_host="" api_version
  if ! command -v docker >/dev/null 2>&1; then
    need "error: the docker CLI is not installed or not on PATH (it is used to check that the Docker engine answers)"
    return
  fi
  # Reading the stack's config needs the CLI and the passphrase, both checked before.
  if command -v pulumi >/dev/null 2>&1 && [ ${#unmet[@]} -eq 0 ]; then
    docker_host=$(cd "$ROOT" && pulumi config get docker:host --stack "$STACK" 2>/dev/null || true)
  fi
  DOCKER_ENDPOINT="${docker_host:-${DOCKER_HOST:-unix:///var/run/docker.sock}}"
  if ! api_version=$(docker -H "$DOCKER_ENDPOINT" version --format '{{.Server.APIVersion}}' 2>/dev/null) || [ -z "$api_version" ]; then
    need "error: the Docker engine at $DOCKER_ENDPOINT does not answer ('docker version' failed): start Docker or fix docker:host / DOCKER_HOST"
  elif ! printf '%s\n%s\n' "$MIN_DOCKER_API" "$api_version" | sort -C -t. -k1,1n -k2,2n; then
    need "error: the Docker engine at $DOCKER_ENDPOINT speaks API $api_version; this stack needs API $MIN_DOCKER_API or newer (Docker Engine 20.10 or newer): upgrade Docker on that host"
  fi
}

# The Node.js on PATH, the one Pulumi runs the program and the policy pack with, and the one
# npm run verify runs its checks with: at least the major version in .nvmrc.
need_node() {
  local wanted version
  read -r wanted < "$ROOT/.nvmrc" || true  # a last line without a newline still counts
  wanted=${wanted#v}
  wanted=${wanted%%.*}
  if ! command -v node >/dev/null 2>&1; then
    need "error: Node.js is not installed or not on PATH (this project needs Node.js $wanted or newer; see .nvmrc)"
    return
  fi
  version=$(node --version 2>/dev/null || true)
  local major=${version#v}
  major=${major%%.*}
  if ! [[ $major =~ ^[0-9]+$ ]] || [ "$major" -lt "$wanted" ]; then
    need "error: Node.js ${version:-of unknown version} is too old: this project needs Node.js $wanted or newer (.nvmrc; with nvm: nvm install && nvm use)"
  fi
}

need_dependencies() {
  if [ ! -d "$ROOT/node_modules/@pulumi/pulumi" ]; then
    need "error: dependencies are not installed: run 'npm ci' first"
  fi
}

stop_if_unmet() {
  if [ ${#unmet[@]} -gt 0 ]; then
    fail_with 1 prerequisites "${unmet[@]}"
  fi
}
