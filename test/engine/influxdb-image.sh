#!/usr/bin/env bash
# Builds the local stand-in for InfluxDB's pinned image (influxdb:2.9.1, components/images.ts) from
# the REAL influxd and influx the InfluxDB tier builds (test/influxdb/build-upstream.sh), because the
# engine tier runs where no registry can be reached. Shaped like the official image as far as the
# program relies on it (influxdata-docker influxdb/2.9/Dockerfile, commit d457cb9):
#   Debian 12 (debootstrap minbase, the official is debian:bookworm-slim) with ca-certificates and
#   curl (the program's health check is curl); util-linux (setpriv) is essential in Debian anyway.
#   Not gnupg nor dasel, which the official image has: the stand-in has no tool it lacks.
#   influxd and influx in /usr/local/bin; user and group influxdb 1000:1000 (groupadd -r --gid=1000,
#   useradd -r --uid=1000 --create-home --home-dir=/home/influxdb --shell=/bin/bash);
#   /docker-entrypoint-initdb.d; /var/lib/influxdb2 and /etc/influxdb2 owned by influxdb;
#   VOLUME /var/lib/influxdb2 /etc/influxdb2; /etc/defaults/influxdb2/config.yml; ENTRYPOINT
#   /entrypoint.sh (fixtures/influxdb-image/entrypoint.sh: the upstream steps the program uses,
#   re-implemented); CMD influxd; EXPOSE 8086; the image's ENV (INFLUX_CONFIGS_PATH,
#   INFLUXD_INIT_PORT, INFLUXD_INIT_PING_ATTEMPTS, DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME).
#   Unlike it: the influx CLI is the one build-upstream.sh pins (2.7.x), not 2.8.0.
#
# Two images from the same root filesystem, which differ only in a label and so in their image id:
# the second stands for a new digest of the same release (what a bump in components/images.ts
# makes `pulumi up` replace the container for). Tagged by a hash of what goes into them (this
# script, its fixtures, both binaries): an unchanged input is never rebuilt. Prints, on stdout:
#   ENGINE_INFLUXDB_IMAGE=<tag>
#   ENGINE_INFLUXDB_IMAGE_NEXT=<tag>
#
# Needs root (debootstrap), network access to deb.debian.org (DEBIAN_MIRROR), the Go toolchain for
# binaries not yet built, and the engine from engine.sh. Exit 3: it cannot be built here (the reason
# on the last line of stderr); other non-zero: a step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${ENGINE_STATE_DIR:-$ROOT/.cache/engine}
ENV_FILE=$STATE_DIR/engine.env
FIXTURES=$ROOT/test/engine/fixtures/influxdb-image
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BIN=$ROOT/.cache/upstream/bin
INFLUXDB_ID=1000

log() { echo "influxdb-image: $*" >&2; }
die() { log "$*"; exit 1; }
cannot() { log "$*"; exit 3; }

if [[ -z ${DOCKER_HOST:-} && -f $ENV_FILE ]]; then
  DOCKER_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$ENV_FILE")
  export DOCKER_HOST
fi
DOCKER=$(command -v docker || echo /usr/bin/docker)
[[ -x $DOCKER ]] || die "no docker CLI found"
mkdir -p "$STATE_DIR"

# influxd and influx: built (or found cached) by the InfluxDB tier's own script, never here.
upstream_rc=0
bash "$ROOT/test/influxdb/build-upstream.sh" >"$STATE_DIR/influxdb-upstream.log" 2>&1 || upstream_rc=$?
if ((upstream_rc == 3)); then
  cannot "the InfluxDB image needs influxd and influx from test/influxdb/build-upstream.sh, which cannot build them here: $(tail -n 1 "$STATE_DIR/influxdb-upstream.log")"
elif ((upstream_rc != 0)); then
  tail -n 20 "$STATE_DIR/influxdb-upstream.log" >&2
  die "test/influxdb/build-upstream.sh failed (exit $upstream_rc); its log: $STATE_DIR/influxdb-upstream.log"
fi
for b in influxd influx; do [[ -x $BIN/$b ]] || die "test/influxdb/build-upstream.sh succeeded but $BIN/$b is missing"; done
INFLUXDB_VERSION=$("$BIN/influxd" version | awk '{ print $2 }' | sed 's/^v//')

HASH=$({ sha256sum "${BASH_SOURCE[0]}"; find "$FIXTURES" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$FIXTURES/||"; sha256sum "$BIN/influxd" "$BIN/influx" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
TAG=iot-test/influxdb-debian:${INFLUXDB_VERSION}-$HASH
NEXT_TAG=iot-test/influxdb-debian:${INFLUXDB_VERSION}-$HASH-next

cached() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if cached "$TAG" && cached "$NEXT_TAG"; then
  log "$TAG and $NEXT_TAG are cached ($("$DOCKER" image inspect --format '{{.Id}}' "$TAG"), $("$DOCKER" image inspect --format '{{.Id}}' "$NEXT_TAG"))"
else
  [[ $(id -u) == 0 ]] || cannot "building the InfluxDB stand-in needs root (debootstrap); build it once as root"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "debootstrap is not installed and apt-get is not available"
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
  WORK=$STATE_DIR/influxdb-image-build
  rm -rf "$WORK"
  mkdir -p "$WORK"
  trap 'rm -rf "$WORK"' EXIT
  ROOTFS=$WORK/rootfs
  started=$SECONDS
  log "debootstrap bookworm (minbase + ca-certificates, curl) from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates,curl bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  chroot "$ROOTFS" groupadd -r influxdb --gid=$INFLUXDB_ID
  chroot "$ROOTFS" useradd -r -g influxdb --uid=$INFLUXDB_ID --create-home --home-dir=/home/influxdb --shell=/bin/bash influxdb
  install -m 0755 "$BIN/influxd" "$ROOTFS/usr/local/bin/influxd"
  install -m 0755 "$BIN/influx" "$ROOTFS/usr/local/bin/influx"
  mkdir -p "$ROOTFS/docker-entrypoint-initdb.d" "$ROOTFS/var/lib/influxdb2" "$ROOTFS/etc/influxdb2" "$ROOTFS/etc/defaults/influxdb2"
  chroot "$ROOTFS" chown -R influxdb:influxdb /var/lib/influxdb2 /etc/influxdb2
  install -m 0644 "$FIXTURES/default-config.yml" "$ROOTFS/etc/defaults/influxdb2/config.yml"
  install -m 0755 "$FIXTURES/entrypoint.sh" "$ROOTFS/entrypoint.sh"
  got=$(chroot "$ROOTFS" /usr/local/bin/influxd version | awk '{ print $2 }')
  [[ $got == "v$INFLUXDB_VERSION" ]] || die "influxd in the image reports $got, expected v$INFLUXDB_VERSION"
  for tool in bash setpriv run-parts curl sha256sum wc cut tr sed find; do
    chroot "$ROOTFS" sh -c "command -v $tool" >/dev/null || die "the image lacks $tool, which the official image has and the entrypoint or the program uses"
  done
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/dev/*
  tar --numeric-owner -C "$ROOTFS" -c . >"$WORK/rootfs.tar"
  for tag in "$TAG" "$NEXT_TAG"; do
    generation=first
    [[ $tag == "$NEXT_TAG" ]] && generation=next
    log "importing as $tag"
    "$DOCKER" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "ENV INFLUXDB_VERSION=$INFLUXDB_VERSION" \
      --change 'ENV INFLUX_CONFIGS_PATH=/etc/influxdb2/influx-configs' \
      --change 'ENV INFLUXD_INIT_PORT=9999' \
      --change 'ENV INFLUXD_INIT_PING_ATTEMPTS=600' \
      --change 'ENV DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME=default' \
      --change 'VOLUME ["/var/lib/influxdb2", "/etc/influxdb2"]' \
      --change 'EXPOSE 8086' \
      --change 'ENTRYPOINT ["/entrypoint.sh"]' \
      --change 'CMD ["influxd"]' \
      --change 'LABEL org.opencontainers.image.title=iot-test-influxdb-debian' \
      --change "LABEL iot-test.influxdb-generation=$generation" \
      --message "debootstrap bookworm minbase + curl + influxd $INFLUXDB_VERSION and influx from test/influxdb/build-upstream.sh (test/engine/influxdb-image.sh, $generation)" \
      - "$tag" <"$WORK/rootfs.tar" >/dev/null
  done
  log "built $TAG and $NEXT_TAG in $((SECONDS - started))s: influxd $INFLUXDB_VERSION"
  # Older builds are dead weight in the engine's data root; one still used by a container stays.
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' iot-test/influxdb-debian | grep -vxF -e "$TAG" -e "$NEXT_TAG" |
    xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
fi
[[ $("$DOCKER" image inspect --format '{{.Id}}' "$TAG") != $("$DOCKER" image inspect --format '{{.Id}}' "$NEXT_TAG") ]] || die "$TAG and $NEXT_TAG have the same image id"
echo "ENGINE_INFLUXDB_IMAGE=$TAG"
echo "ENGINE_INFLUXDB_IMAGE_NEXT=$NEXT_TAG"
