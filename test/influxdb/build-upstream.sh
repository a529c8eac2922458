#!/usr/bin/env bash
# Builds the real upstream InfluxDB binaries from source into
# <repo>/.cache/upstream/bin:
#   influxd  v2.9.1  (server, with the Flux engine; no UI assets)
#   influx   the CLI that influxdb v2.9.1's own go.mod pins (see below)
#
# Why from source: tests that want the real server cannot pull the Docker
# image or a release tarball here; the only things reachable are package
# registries, so the sources come from the Go module proxy and libflux's Rust
# crates from crates.io, nothing else.
#
# Cached: a binary is rebuilt only when it is missing or `version` reports
# another version. Go's module cache stays where it is (GOMODCACHE); the Go
# build cache, the libflux copy and its cargo target dir live under
# .cache/upstream so a second run costs seconds.
#
# Exit codes: 0 built or already up to date; 3 a prerequisite is missing (a
# tool, or a module the proxy will not serve) so callers can skip; 1 a build
# step failed (the step is named on stderr).
#
# Environment:
#   INFLUX_CLI_VERSION  influx-cli module version to build. The 2.9.1 image ships
#                       CLI 2.8.0, but the Go module proxy refuses that version
#                       (403 "not available", also v2.7.x and the version list),
#                       so the default is the version influxdb v2.9.1's go.mod
#                       requires, which the proxy serves: a January 2025 commit
#                       after 2.7.5. The commands the stack uses (setup, ping,
#                       user/org/bucket list, auth create) are in both.
#   RUSTUP_TOOLCHAIN    rust toolchain for libflux (default: stable).
#   UPSTREAM_GOCACHE    Go build cache, which also holds libflux's cargo build
#                       (default: .cache/upstream/go-build).
set -euo pipefail

readonly INFLUXD_VERSION=v2.9.1
INFLUX_CLI_VERSION=${INFLUX_CLI_VERSION:-v2.7.1-0.20250130214939-76d1c4d9b777}
readonly INFLUX_CLI_VERSION
readonly INFLUXD_MODULE=github.com/influxdata/influxdb/v2
readonly INFLUX_CLI_MODULE=github.com/influxdata/influx-cli/v2
# Upstream's GNUmakefile builds with COMMON_TAGS plus "assets"; "assets" needs
# the prebuilt UI (fetched from a CDN), which tests do not use, so it is left out.
readonly INFLUXD_TAGS=sqlite_foreign_keys,sqlite_json

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(cd -- "$script_dir/../.." && pwd -P)
cache_dir=$repo_root/.cache/upstream
bin_dir=$cache_dir/bin
readonly script_dir repo_root cache_dir bin_dir

started=$SECONDS
heartbeat_pid=

log() { printf '[upstream] %s (+%ss)\n' "$*" "$((SECONDS - started))"; }
die() {
	local code=$1
	shift
	printf '[upstream] ERROR: %s\n' "$*" >&2
	exit "$code"
}
stop_heartbeat() {
	if [[ -n $heartbeat_pid ]]; then
		kill "$heartbeat_pid" 2>/dev/null || true
		wait "$heartbeat_pid" 2>/dev/null || true
		heartbeat_pid=
	fi
}
trap stop_heartbeat EXIT

# Runs one phase. The libflux phase is silent for many minutes (the pkg-config
# wrapper swallows cargo's output unless it fails), so a heartbeat line every
# minute shows the run is alive; a failure names the phase and exits 1.
step() {
	local name=$1 t0=$SECONDS rc
	shift
	log "$name: start"
	# sleep gets no stdout so a killed heartbeat cannot hold a `| tee` pipe open.
	(while sleep 60 >/dev/null 2>&1; do log "$name: still running, $((SECONDS - t0))s"; done) &
	heartbeat_pid=$!
	# The phase runs in a subshell with errexit back on: written as
	# `"$@" || rc=$?`, bash would ignore set -e inside it and go on past a
	# failing command to report success.
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	stop_heartbeat
	if ((rc != 0)); then
		die 1 "build step '$name' failed (exit $rc) after $((SECONDS - t0))s"
	fi
	log "$name: done in $((SECONDS - t0))s"
}

require_tool() {
	command -v "$1" >/dev/null 2>&1 || die 3 "prerequisite missing: '$1' not found on PATH ($2)"
}

# `<bin> version` prints "InfluxDB v2.9.1 (git: ...) build_date: ..." for
# influxd and "Influx CLI 2.8.0 (git: ...) build_date: ..." for influx; $2 is
# the field that holds the version. A leading "v" is ignored on both sides.
has_version() {
	local bin=$1 field=$2 want=${3#v} out got
	[[ -x $bin ]] || return 1
	out=$("$bin" version 2>/dev/null) || return 1
	got=$(awk -v f="$field" 'NR == 1 { print $f }' <<<"$out")
	[[ ${got#v} == "$want" ]]
}

# Downloads module@version through the module proxy (or finds it in
# GOMODCACHE) and sets mod_dir and mod_commit. A module the proxy will not
# serve is something this machine lacks, not a build bug: exit 3.
mod_dir=
mod_commit=
download_module() {
	local spec=$1 json err
	if ! json=$(cd "$cache_dir" && go mod download -json "$spec" 2>&1); then
		err=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json" | head -n 1)
		# go's JSON escapes its multi-line message; keep the error on one line.
		err=${err//\\n/ }
		err=${err//\\t/}
		die 3 "prerequisite missing: the Go module proxy did not serve $spec: ${err:-$json}"
	fi
	mod_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json" | head -n 1)
	# Release ldflags carry the git commit; the proxy's Origin block has it for
	# tags, a pseudo-version ends with it.
	mod_commit=$(sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p' <<<"$json" | head -n 1)
	if [[ -z $mod_commit && ${spec##*@} =~ -([0-9a-f]{12})$ ]]; then
		mod_commit=${BASH_REMATCH[1]}
	fi
	mod_commit=${mod_commit:0:10}
	mod_commit=${mod_commit:-unknown}
	[[ -n $mod_dir && -d $mod_dir ]] || die 1 "build step 'download $spec' failed: go mod download gave no module directory"
}

# The module cache is read-only and drops exec bits, so each binary is built
# in a writable copy of its module (influxd's needs an executable script, and
# nothing a build writes may land in the shared cache). The copy is renamed
# into place last, so a half-done copy is never taken for a finished one.
copy_module() {
	local from=$1 to=$2
	[[ -d $to ]] && return 0
	mkdir -p "${to%/*}"
	rm -rf "$to.partial"
	cp -R "$from" "$to.partial"
	chmod -R u+w "$to.partial"
	mv "$to.partial" "$to"
}

mkdir -p "$bin_dir"
log "repo root $repo_root; cache $cache_dir"

need_influxd=true
need_influx=true
if has_version "$bin_dir/influxd" 2 "$INFLUXD_VERSION"; then need_influxd=false; fi
if has_version "$bin_dir/influx" 3 "$INFLUX_CLI_VERSION"; then need_influx=false; fi

if $need_influxd || $need_influx; then
	require_tool go "the Go toolchain builds influxd and the influx CLI"
	# Go's build cache lives with the rest of the upstream cache. It must also
	# be where libflux gets built: InfluxData's pkg-config tool copies the
	# read-only flux module to $GOCACHE/pkgconfig and runs cargo there with a
	# hard-coded <crate>/target dir, so CARGO_TARGET_DIR cannot move it (and a
	# caller's CARGO_TARGET_DIR would make the tool miss the built library).
	# UPSTREAM_GOCACHE can point it somewhere that outlives the work tree.
	export GOCACHE=${UPSTREAM_GOCACHE:-$cache_dir/go-build}
	unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
	mkdir -p "$GOCACHE"
fi

if $need_influxd; then
	require_tool cargo "the Rust toolchain builds libflux, the Flux engine influxd links through cgo"
	require_tool pkg-config "InfluxData's pkg-config wrapper hands the final lookup to the system pkg-config"
	require_tool cc "cgo needs a C compiler to link libflux and sqlite into influxd"
	# flux pins rust 1.83 in rust-toolchain.toml and rustup cannot download
	# toolchains here; the installed stable one builds it.
	export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-stable}
	cargo --version >/dev/null 2>&1 ||
		die 3 "prerequisite missing: 'cargo' does not run with RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN (is that toolchain installed?)"
fi

# Resolve every source before the long builds, so a missing module stops the
# run in seconds instead of after half an hour.
# (Not through step(): download_module sets variables and exits 3 itself.)
if $need_influxd; then
	log "download influxd $INFLUXD_VERSION source: start"
	download_module "$INFLUXD_MODULE@$INFLUXD_VERSION"
	influxd_mod_dir=$mod_dir
	influxd_commit=$mod_commit
	log "download influxd $INFLUXD_VERSION source: done ($mod_dir)"
fi
if $need_influx; then
	log "download influx CLI $INFLUX_CLI_VERSION source: start"
	download_module "$INFLUX_CLI_MODULE@$INFLUX_CLI_VERSION"
	influx_mod_dir=$mod_dir
	influx_commit=$mod_commit
	log "download influx CLI $INFLUX_CLI_VERSION source: done ($mod_dir)"
fi

if $need_influxd; then
	src_dir=$cache_dir/src/influxdb-${INFLUXD_VERSION#v}

	step "copy influxd source to $src_dir" copy_module "$influxd_mod_dir" "$src_dir"
	# Module zips drop the exec bit, but cgo runs this script as PKG_CONFIG.
	chmod +x "$src_dir/scripts/pkg-config.sh"

	# As upstream's GNUmakefile: cgo on, PKG_CONFIG pointing at the wrapper that
	# builds github.com/influxdata/pkg-config (the version go.mod pins) and lets
	# it compile libflux with cargo from flux's own Cargo.lock.
	export CGO_ENABLED=1
	export PKG_CONFIG=$src_dir/scripts/pkg-config.sh

	# Asking the wrapper for flux's flags is exactly what cgo does first; doing
	# it as its own step times the cargo build and names it if it fails. The
	# go build below then finds libflux up to date.
	build_libflux() {
		(cd "$src_dir" && "$PKG_CONFIG" --cflags --libs -- flux >/dev/null)
	}
	step "build libflux (cargo, via pkg-config wrapper)" build_libflux

	# Same -X names as upstream's Makefile and release build (scripts/ci/build.sh),
	# so `influxd version` reports the release it was built from.
	build_influxd() {
		local ldflags
		ldflags="-s -w -X main.version=$INFLUXD_VERSION -X main.commit=$influxd_commit -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		(cd "$src_dir" && go build -tags "$INFLUXD_TAGS" -ldflags "$ldflags" -o "$bin_dir/influxd.new" ./cmd/influxd)
		mv -f "$bin_dir/influxd.new" "$bin_dir/influxd"
	}
	step "build influxd $INFLUXD_VERSION (go build, tags $INFLUXD_TAGS)" build_influxd
	has_version "$bin_dir/influxd" 2 "$INFLUXD_VERSION" ||
		die 1 "build step 'influxd version check' failed: built influxd does not report $INFLUXD_VERSION"
else
	log "influxd $INFLUXD_VERSION: cached, skipping build"
fi

if $need_influx; then
	cli_dir=$cache_dir/src/influx-cli-${INFLUX_CLI_VERSION#v}
	step "copy influx CLI source to $cli_dir" copy_module "$influx_mod_dir" "$cli_dir"

	# Not `go install ...@version`: that also reads the module's version list
	# to look for deprecation notices, and a proxy that serves the version but
	# refuses the list (this one does) makes it fail. Building in a copy, as
	# for influxd, needs only the version itself. CGO off and a version without
	# "v", as upstream's Makefile and release binaries have it.
	build_influx() {
		local ldflags
		ldflags="-s -w -X main.version=${INFLUX_CLI_VERSION#v} -X main.commit=$influx_commit -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		(cd "$cli_dir" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$bin_dir/influx.new" ./cmd/influx)
		mv -f "$bin_dir/influx.new" "$bin_dir/influx"
	}
	step "build influx CLI $INFLUX_CLI_VERSION (go build)" build_influx
	has_version "$bin_dir/influx" 3 "$INFLUX_CLI_VERSION" ||
		die 1 "build step 'influx version check' failed: built influx does not report ${INFLUX_CLI_VERSION#v}"
else
	log "influx CLI $INFLUX_CLI_VERSION: cached, skipping build"
fi

log "done in $((SECONDS - started))s"
"$bin_dir/influxd" version
"$bin_dir/influx" version
