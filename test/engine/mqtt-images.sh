#!/usr/bin/env bash
# Builds the local stand-ins for the broker's and the bridge's pinned images (eclipse-mosquitto and
# telegraf, components/images.ts), because the engine tier runs where no registry can be reached:
#
#   broker  Debian 12 (debootstrap minbase) with Debian's mosquitto and mosquitto-clients (2.0.11),
#           installed by debootstrap on the host, so the image itself is made without network.
#           Like the official image (eclipse/mosquitto docker/2.0-openssl/Dockerfile): a mosquitto
#           user and group with uid/gid 1883, /mosquitto/{config,data,log} owned by it,
#           VOLUME /mosquitto/data /mosquitto/log, its docker-entrypoint.sh, CMD mosquitto -c
#           /mosquitto/config/mosquitto.conf. Unlike it: Debian, not Alpine; Debian's 2.0.11 with
#           Debian's patches, not 2.0.22.
#   bridge  Debian 12 (debootstrap minbase) with curl and ca-certificates (the official image is
#           buildpack-deps:bookworm-curl) and the telegraf binary test/mqtt/build-upstream.sh
#           builds from its Go module (only the bridge's plugins) at /usr/bin/telegraf, where the
#           .deb puts it; a system user telegraf as the package makes one; the image's
#           entrypoint.sh (influxdata-docker telegraf/1.37), CMD telegraf.
#
# Each is tagged by a hash of what goes into it (this script, its fixtures, the telegraf binary),
# so an unchanged input is never rebuilt and a changed one always is. Prints, on stdout:
#   ENGINE_BROKER_IMAGE=<tag>
#   ENGINE_BRIDGE_IMAGE=<tag>
#
# Needs root (debootstrap), network access to deb.debian.org (DEBIAN_MIRROR) and the Go toolchain
# with the module proxy for a telegraf not yet built; the engine from engine.sh. Exit 3: it cannot
# be built here (the reason on the last line of stderr); other non-zero: a step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${ENGINE_STATE_DIR:-$ROOT/.cache/engine}
ENV_FILE=$STATE_DIR/engine.env
FIXTURES=$ROOT/test/engine/fixtures
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TELEGRAF_BIN=$ROOT/.cache/upstream/bin/telegraf
# The official image's mosquitto user (addgroup -S -g 1883 mosquitto; adduser -S -u 1883 ...).
MOSQUITTO_ID=1883

log() { echo "mqtt-images: $*" >&2; }
die() { log "$*"; exit 1; }
cannot() { log "$*"; exit 3; }

if [[ -z ${DOCKER_HOST:-} && -f $ENV_FILE ]]; then
  DOCKER_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$ENV_FILE")
  export DOCKER_HOST
fi
DOCKER=$(command -v docker || echo /usr/bin/docker)
[[ -x $DOCKER ]] || die "no docker CLI found"

# The telegraf binary: built (or found cached) by the MQTT tier's own script, never here.
upstream_rc=0
bash "$ROOT/test/mqtt/build-upstream.sh" >"$STATE_DIR/mqtt-upstream.log" 2>&1 || upstream_rc=$?
if ((upstream_rc == 3)); then
  cannot "the bridge image needs telegraf from test/mqtt/build-upstream.sh, which cannot build it here: $(grep ERROR "$STATE_DIR/mqtt-upstream.log" | tail -n 1)"
elif ((upstream_rc != 0)); then
  tail -n 20 "$STATE_DIR/mqtt-upstream.log" >&2
  die "test/mqtt/build-upstream.sh failed (exit $upstream_rc); its log: $STATE_DIR/mqtt-upstream.log"
fi
[[ -x $TELEGRAF_BIN ]] || die "test/mqtt/build-upstream.sh succeeded but $TELEGRAF_BIN is missing"
TELEGRAF_VERSION=$("$TELEGRAF_BIN" version | awk 'NR == 1 { print $2 }')

inputs_hash() {
  { sha256sum "${BASH_SOURCE[0]}"; find "$FIXTURES/$1" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$FIXTURES/||"; shift; for f in "$@"; do sha256sum "$f" | cut -d' ' -f1; done; } |
    sha256sum | cut -c1-16
}
BROKER_TAG=iot-test/mosquitto-debian:$(inputs_hash broker-image)
BRIDGE_TAG=iot-test/telegraf-debian:${TELEGRAF_VERSION}-$(inputs_hash bridge-image "$TELEGRAF_BIN")

cached() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

need_debootstrap() {
  [[ $(id -u) == 0 ]] || cannot "building the broker and bridge stand-ins needs root (debootstrap); build them once as root"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "debootstrap is not installed and apt-get is not available"
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
}

WORK=$STATE_DIR/mqtt-images-build
trap 'rm -rf "$WORK"' EXIT

# $1 rootfs, $2 comma-separated packages beyond minbase
bootstrap() {
  log "debootstrap bookworm (minbase + $2) from $MIRROR"
  debootstrap --variant=minbase --include="$2" bookworm "$1" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
}

# No package lists or downloaded .debs in the image; no device nodes (the engine provides /dev).
tidy() {
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/dev/*
}

# $1 rootfs, $2 tag, $3 message, then --change arguments
import_rootfs() {
  local rootfs=$1 tag=$2 message=$3
  shift 3
  local changes=()
  for c in "$@"; do changes+=(--change "$c"); done
  tar --numeric-owner -C "$rootfs" -c . |
    "$DOCKER" import "${changes[@]}" --message "$message" - "$tag" >/dev/null
}

build_broker() {
  local rootfs=$WORK/broker started=$SECONDS
  bootstrap "$rootfs" ca-certificates,mosquitto,mosquitto-clients
  # Debian's postinst made a system user mosquitto with a dynamic uid; the official image's is
  # 1883, and the program runs the broker as 1883:1883. Renumber it and what it owns.
  local old_uid old_gid
  old_uid=$(chroot "$rootfs" id -u mosquitto)
  old_gid=$(chroot "$rootfs" id -g mosquitto)
  chroot "$rootfs" groupmod -g "$MOSQUITTO_ID" mosquitto
  chroot "$rootfs" usermod -u "$MOSQUITTO_ID" -g "$MOSQUITTO_ID" mosquitto
  chroot "$rootfs" find / -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -exec chown -h "$MOSQUITTO_ID:$MOSQUITTO_ID" {} + 2>/dev/null || true
  mkdir -p "$rootfs"/mosquitto/{config,data,log}
  cp /dev/null "$rootfs/mosquitto/config/mosquitto.conf"
  chroot "$rootfs" chown -R "$MOSQUITTO_ID:$MOSQUITTO_ID" /mosquitto
  install -m 0755 "$FIXTURES/broker-image/docker-entrypoint.sh" "$rootfs/docker-entrypoint.sh"
  local version
  version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' mosquitto)
  [[ $(chroot "$rootfs" id -u mosquitto):$(chroot "$rootfs" id -g mosquitto) == "$MOSQUITTO_ID:$MOSQUITTO_ID" ]] || die "mosquitto user is not $MOSQUITTO_ID:$MOSQUITTO_ID"
  tidy "$rootfs"
  log "importing as $BROKER_TAG"
  import_rootfs "$rootfs" "$BROKER_TAG" "debootstrap bookworm minbase + mosquitto $version (test/engine/mqtt-images.sh)" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'VOLUME ["/mosquitto/data", "/mosquitto/log"]' \
    'EXPOSE 1883' \
    'ENTRYPOINT ["/docker-entrypoint.sh"]' \
    'CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]' \
    'LABEL org.opencontainers.image.title=iot-test-mosquitto-debian' \
    "LABEL iot-test.mosquitto-version=$version"
  log "built $BROKER_TAG in $((SECONDS - started))s: Debian's mosquitto $version"
  rm -rf "$rootfs"
}

build_bridge() {
  local rootfs=$WORK/bridge started=$SECONDS
  bootstrap "$rootfs" ca-certificates,curl
  install -m 0755 "$TELEGRAF_BIN" "$rootfs/usr/bin/telegraf"
  # The .deb's postinst: useradd -r -K USERGROUPS_ENAB=yes -M telegraf -s /bin/false -d /etc/telegraf.
  chroot "$rootfs" useradd -r -K USERGROUPS_ENAB=yes -M telegraf -s /bin/false -d /etc/telegraf
  mkdir -p "$rootfs/etc/telegraf/telegraf.d"
  install -m 0755 "$FIXTURES/bridge-image/entrypoint.sh" "$rootfs/entrypoint.sh"
  local got
  got=$(chroot "$rootfs" /usr/bin/telegraf version | awk 'NR == 1 { print $2 }')
  [[ $got == "$TELEGRAF_VERSION" ]] || die "telegraf in the image reports $got, expected $TELEGRAF_VERSION"
  tidy "$rootfs"
  log "importing as $BRIDGE_TAG"
  import_rootfs "$rootfs" "$BRIDGE_TAG" "debootstrap bookworm minbase + curl + telegraf $TELEGRAF_VERSION from its Go module (test/engine/mqtt-images.sh)" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "ENV TELEGRAF_VERSION=$TELEGRAF_VERSION" \
    'EXPOSE 8125/udp 8092/udp 8094' \
    'ENTRYPOINT ["/entrypoint.sh"]' \
    'CMD ["telegraf"]' \
    'LABEL org.opencontainers.image.title=iot-test-telegraf-debian'
  log "built $BRIDGE_TAG in $((SECONDS - started))s: telegraf $TELEGRAF_VERSION"
  rm -rf "$rootfs"
}

for pair in "broker:$BROKER_TAG" "bridge:$BRIDGE_TAG"; do
  kind=${pair%%:*} tag=${pair#*:}
  if cached "$tag"; then
    log "$tag is cached ($("$DOCKER" image inspect --format '{{.Id}}' "$tag"))"
  else
    need_debootstrap
    rm -rf "$WORK"
    mkdir -p "$WORK"
    "build_$kind"
    # Older builds of the same stand-in are dead weight in the engine's data root; one still used by
    # a container stays (image rm refuses it).
    "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' "${tag%%:*}" | grep -vxF "$tag" |
      xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
  fi
done

echo "ENGINE_BROKER_IMAGE=$BROKER_TAG"
echo "ENGINE_BRIDGE_IMAGE=$BRIDGE_TAG"
