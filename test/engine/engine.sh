#!/usr/bin/env bash
# The Docker engine of the engine test tier (npm run test:engine).
#
#   engine.sh start   find an engine, or start a private one; print `export DOCKER_HOST=...`
#   engine.sh stop    stop the private dockerd this script started, and nothing else
#
# `start` takes, in this order: a private dockerd this script started earlier and that still
# runs; the engine DOCKER_HOST names (or the default socket when DOCKER_HOST is unset), if it
# answers; otherwise, where it can (root, apt), it installs Debian's docker.io (Debian 12: Engine
# 20.10, API 1.41, the oldest engine the program supports) and starts a dockerd of its own with
# its own data, exec root, pid file and socket under the project (.cache/engine/), so it touches
# no system engine and its images (the cached base image) survive between runs.
#
# It writes what the tests need to $STATE_DIR/engine.env (DOCKER_HOST, the CLI that can build with
# BuildKit) and prints the engine version. When no engine can be had it writes the reason to
# $STATE_DIR/skip-reason, prints it on one line and exits 3, so the tier is reported as SKIPPED
# with that reason (a skip is never a pass). Any other failure exits non-zero with the error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${ENGINE_STATE_DIR:-$ROOT/.cache/engine}
ENV_FILE=$STATE_DIR/engine.env
SKIP_FILE=$STATE_DIR/skip-reason
EXIT_NO_ENGINE=3
# How long a starting dockerd may take to answer, and a stopping one to exit.
START_DEADLINE_SECONDS=${ENGINE_START_DEADLINE_SECONDS:-60}
STOP_DEADLINE_SECONDS=${ENGINE_STOP_DEADLINE_SECONDS:-60}

log() { echo "engine: $*" >&2; }

no_engine() {
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$1" >"$SKIP_FILE"
  rm -f "$ENV_FILE"
  echo "engine: none available: $1" >&2
  exit "$EXIT_NO_ENGINE"
}

# The private dockerd's files. Unix socket paths are limited to 108 bytes (sun_path), and dockerd
# puts further sockets below its exec root, so when the project path is long the socket and exec
# root go to a short directory under /tmp named after the project path; data stays in the project.
private_paths() {
  DATA_ROOT=$STATE_DIR/data
  RUN_DIR=$STATE_DIR/run
  if ((${#RUN_DIR} > 60)); then
    RUN_DIR=/tmp/iot-engine-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)
  fi
  SOCKET=$RUN_DIR/docker.sock
  PIDFILE=$RUN_DIR/dockerd.pid
  LOGFILE=$STATE_DIR/dockerd.log
}

# The pid of the dockerd this script started, if it still runs (checked against its data root,
# so a recycled pid is never taken for ours).
private_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-root $DATA_ROOT " || return 1
  echo "$pid"
}

# Any docker CLI will do to ask an engine for its version; the engine's own API would need curl,
# which a fresh machine may lack, while every way to get an engine here also brings a CLI.
any_cli() {
  local c
  for c in "$(command -v docker || true)" /usr/bin/docker /usr/local/bin/docker; do
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  done
  return 1
}

# "Version APIVersion" of the engine at $1, or nothing if it does not answer within 15 s.
engine_version() {
  local cli
  cli=$(any_cli) || return 1
  DOCKER_HOST=$1 timeout 15 "$cli" version --format '{{.Server.Version}} {{.Server.APIVersion}}' 2>/dev/null
}

# The simulator image is built with BuildKit, as the Pulumi provider builds it. A CLI can do that
# if it has the buildx plugin, or if it is older than 23 (DOCKER_BUILDKIT=1 selects the BuildKit
# client built into those). CLI 23+ without buildx falls back to, or insists on, something else.
pick_build_cli() {
  BUILD_CLI=""
  BUILD_MODE=""
  local c seen="" real major
  for c in "$(command -v docker || true)" /usr/bin/docker /usr/local/bin/docker; do
    [[ -n $c && -x $c ]] || continue
    real=$(readlink -f "$c")
    [[ " $seen " == *" $real "* ]] && continue
    seen="$seen $real"
    if "$c" buildx version >/dev/null 2>&1; then
      BUILD_CLI=$c BUILD_MODE=buildx
      return 0
    fi
    major=$("$c" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
    if [[ -n $major ]] && ((major < 23)); then
      BUILD_CLI=$c BUILD_MODE=buildkit-env
      return 0
    fi
  done
  return 1
}

# $1 DOCKER_HOST, $2 origin (external | private), $3 1 if this run started the private dockerd
# (npm run test:engine then stops it again at the end).
write_env() {
  pick_build_cli || true
  mkdir -p "$STATE_DIR"
  rm -f "$SKIP_FILE"
  {
    echo "DOCKER_HOST=$1"
    echo "ENGINE_ORIGIN=$2"
    echo "ENGINE_STARTED_NOW=$3"
    echo "ENGINE_BUILD_CLI=$BUILD_CLI"
    echo "ENGINE_BUILD_MODE=$BUILD_MODE"
  } >"$ENV_FILE"
  if [[ -z $BUILD_CLI ]]; then
    log "WARNING: no docker CLI here can build with BuildKit (needs the buildx plugin, or a CLI older than 23 with DOCKER_BUILDKIT=1); image builds will fail"
  else
    log "builds with $BUILD_CLI ($BUILD_MODE)"
  fi
  echo "export DOCKER_HOST=$1"
}

# Keeps the cache out of git without touching the project's .gitignore.
ignore_cache_dir() {
  local cache_dir
  cache_dir=$(dirname "$STATE_DIR")
  mkdir -p "$STATE_DIR"
  [[ -f $cache_dir/.gitignore ]] || echo '*' >"$cache_dir/.gitignore"
}

install_engine() {
  command -v dockerd >/dev/null && return 0
  command -v apt-get >/dev/null || no_engine "no Docker engine answers and dockerd is not installed; apt-get is not available to install docker.io"
  log "installing docker.io with apt-get (Debian 12: Docker Engine 20.10)"
  # The package lists of a fresh machine are empty or stale.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >&2
  command -v dockerd >/dev/null || { log "docker.io installed but no dockerd on PATH"; exit 1; }
}

start_private() {
  mkdir -p "$DATA_ROOT" "$RUN_DIR"
  rm -f "$SOCKET" "$PIDFILE"
  log "starting a private dockerd: data $DATA_ROOT, socket unix://$SOCKET, log $LOGFILE"
  # setsid: the daemon outlives this script (and npm), until `engine.sh stop`.
  setsid dockerd \
    --data-root "$DATA_ROOT" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "unix://$SOCKET" \
    >"$LOGFILE" 2>&1 </dev/null &
  local deadline=$((SECONDS + START_DEADLINE_SECONDS))
  until engine_version "unix://$SOCKET" >/dev/null; do
    if ((SECONDS >= deadline)); then
      log "dockerd did not answer within ${START_DEADLINE_SECONDS}s; last lines of $LOGFILE:"
      tail -n 20 "$LOGFILE" >&2 || true
      exit 1
    fi
    sleep 1
  done
}

cmd_start() {
  ignore_cache_dir
  private_paths
  local pid version host=${DOCKER_HOST:-unix:///var/run/docker.sock}
  if pid=$(private_pid); then
    log "reusing the private dockerd (pid $pid) this script started earlier"
    write_env "unix://$SOCKET" private 0
  elif version=$(engine_version "$host") && [[ -n $version ]]; then
    write_env "$host" external 0
  else
    [[ -n ${DOCKER_HOST:-} ]] && log "DOCKER_HOST=$DOCKER_HOST does not answer"
    # npm test only uses an engine that answers; .ci/run and npm run test:engine provision one.
    [[ ${ENGINE_PROVISION:-1} == 1 ]] || no_engine "no Docker engine answers at $host (npm test uses one that answers; npm run test:engine or .ci/run start one)"
    [[ $(id -u) == 0 ]] || no_engine "no Docker engine answers at $host and this user is not root, so no private dockerd can be started (set DOCKER_HOST to an engine)"
    install_engine
    # Installing docker.io may have started the system's own engine (where an init system runs).
    if [[ -z ${DOCKER_HOST:-} ]] && version=$(engine_version "$host") && [[ -n $version ]]; then
      write_env "$host" external 0
    else
      # Two daemons on one host fight over the docker0 bridge and the DOCKER iptables chains: use
      # the running one instead (DOCKER_HOST) rather than disturb it.
      local others
      others=$(pgrep -x dockerd | tr '\n' ' ' || true)
      if [[ -n ${others// /} ]]; then
        no_engine "another dockerd (pid ${others% }) runs on this host but does not answer at $host; set DOCKER_HOST to its socket"
      fi
      start_private
      host=unix://$SOCKET
      write_env "$host" private 1
    fi
  fi
  host=$(sed -n 's/^DOCKER_HOST=//p' "$ENV_FILE")
  version=$(engine_version "$host")
  log "Docker Engine ${version% *} (API ${version#* }) at $host"
}

cmd_stop() {
  private_paths
  local pid
  if ! pid=$(private_pid); then
    log "no private dockerd of this script runs; nothing to stop"
    return 0
  fi
  log "stopping the private dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops its containers first (up to their stop timeouts), then exits.
  local deadline=$((SECONDS + STOP_DEADLINE_SECONDS))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "dockerd (pid $pid) still runs after ${STOP_DEADLINE_SECONDS}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 1
  done
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
