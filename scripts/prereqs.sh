# Shared by up.sh and down.sh: check what a deployment needs and set up the local state backend.
# Each missing prerequisite is reported in one line; all are reported before giving up.
# Sourced, not run: expects ROOT and STACK to be set.

fail_lines=()
need() { fail_lines+=("$1"); }

# 1. The Pulumi CLI.
if ! command -v pulumi >/dev/null 2>&1; then
  need "error: the Pulumi CLI is not installed or not on PATH (install it: https://www.pulumi.com/docs/iac/download-install/)"
fi

# 2. The state backend: a folder inside the project (git-ignored), no Pulumi Cloud account needed.
#    An explicit PULUMI_BACKEND_URL wins, so a team can point at shared storage instead.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ROOT/.pulumi-state}"
case "$PULUMI_BACKEND_URL" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac

# 3. The passphrase that encrypts this stack's secrets in the state.
PASSPHRASE_DIR="${XDG_CONFIG_HOME:-$HOME/.config}/secure-iot"
PASSPHRASE_FILE_DEFAULT="$PASSPHRASE_DIR/passphrase-$STACK"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ -f "$PASSPHRASE_FILE_DEFAULT" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="$PASSPHRASE_FILE_DEFAULT"
  elif [ "${GENERATE_PASSPHRASE:-false}" = true ]; then
    mkdir -p "$PASSPHRASE_DIR" && chmod 700 "$PASSPHRASE_DIR"
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$PASSPHRASE_FILE_DEFAULT")
    export PULUMI_CONFIG_PASSPHRASE_FILE="$PASSPHRASE_FILE_DEFAULT"
    echo "generated a passphrase for stack $STACK in $PASSPHRASE_FILE_DEFAULT (mode 0600): back it up, the stack's secrets cannot be decrypted without it"
  else
    need "error: no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), or run 'npm run up -- --generate-passphrase' to create $PASSPHRASE_FILE_DEFAULT"
  fi
elif [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ ! -r "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
  need "error: PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE is not a readable file"
fi

# 4. A Docker engine that answers, and is new enough, at the endpoint the Docker provider will
#    use: docker:host if the stack sets it, else DOCKER_HOST, else the local socket. Not the docker
#    CLI's current context, which the provider does not read.
MIN_DOCKER_API="1.41"  # Docker Engine 20.10 (Debian 12 and Raspberry Pi OS ship it)
if ! command -v docker >/dev/null 2>&1; then
  need "error: the docker CLI is not installed or not on PATH (it is used to check that the Docker engine answers)"
else
  docker_host=""
  if command -v pulumi >/dev/null 2>&1 && [ ${#fail_lines[@]} -eq 0 ]; then
    docker_host=$(cd "$ROOT" && pulumi config get docker:host --stack "$STACK" 2>/dev/null || true)
  fi
  endpoint="${docker_host:-${DOCKER_HOST:-unix:///var/run/docker.sock}}"
  if ! api_version=$(docker -H "$endpoint" version --format '{{.Server.APIVersion}}' 2>/dev/null) || [ -z "$api_version" ]; then
    need "error: the Docker engine at $endpoint does not answer ('docker version' failed): start Docker or fix docker:host / DOCKER_HOST"
  elif ! printf '%s\n%s\n' "$MIN_DOCKER_API" "$api_version" | sort -C -t. -k1,1n -k2,2n; then
    need "error: the Docker engine at $endpoint speaks API $api_version; this stack needs API $MIN_DOCKER_API or newer (Docker Engine 20.10 or newer): upgrade Docker on that host"
  fi
fi

# 5. The project's own dependencies.
if [ ! -d "$ROOT/node_modules/@pulumi/pulumi" ]; then
  need "error: dependencies are not installed: run 'npm ci' first"
fi

if [ ${#fail_lines[@]} -gt 0 ]; then
  printf '%s\n' "${fail_lines[@]}" >&2
  exit 1
fi
