#!/usr/bin/env bash
# Provides the real upstream parts of the MQTT tier:
#   telegraf   v1.37.3, built from its Go module into <repo>/.cache/upstream/bin, with only the
#              plugins the bridge's configuration uses (build tags below);
#   mosquitto  the broker from Debian's package (2.0.11 on bookworm), installed with apt-get when
#              it is missing and this user can install packages.
# The InfluxDB binaries the tier also needs come from test/influxdb/build-upstream.sh.
#
# Why from source: the telegraf image cannot be pulled here; the Go module proxy serves
# github.com/influxdata/telegraf@v1.37.3, whose go.mod has no replace directives, so
# `go install module@version` builds it as released.
#
# Cached: telegraf is rebuilt only when it is missing, `telegraf version` reports another version,
# or it was built with other build tags (kept in telegraf.tags next to it). The Go build cache is UPSTREAM_GOCACHE (default <repo>/.cache/upstream/go-build, as for
# InfluxDB), so a rebuild after a version change costs about a minute, not the 3.5 of a cold one.
#
# Exit codes: 0 built or already up to date; 3 a prerequisite is missing (a tool, a module the
# proxy will not serve, mosquitto with no way to install it) so callers can skip; 1 a build step
# failed (the step is named on stderr).
#
# Environment:
#   UPSTREAM_GOCACHE  Go build cache (default: .cache/upstream/go-build).
set -euo pipefail

readonly TELEGRAF_VERSION=v1.37.3
readonly TELEGRAF_MODULE=github.com/influxdata/telegraf
# Telegraf's plugins/*/all/*.go files are each guarded by `!custom || <kind> || <kind>.<name>`:
# "custom" leaves out every plugin not named. These are what components/bridge-config.ts renders
# (mqtt_consumer with the influx parser, influxdb_v2 out, the internal input and the health and
# discard outputs for the bridge's own health and counters, the docker secret store for the token
# file).
readonly TELEGRAF_TAGS=custom,inputs.mqtt_consumer,inputs.internal,outputs.influxdb_v2,outputs.health,outputs.discard,parsers.influx,secretstores.docker
readonly MOSQUITTO_PACKAGE=mosquitto

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

# Runs one phase with a heartbeat line every minute (a cold telegraf build is minutes of silence);
# a failure names the phase and exits 1.
step() {
	local name=$1 t0=$SECONDS rc
	shift
	log "$name: start"
	(while sleep 60 >/dev/null 2>&1; do log "$name: still running, $((SECONDS - t0))s"; done) &
	heartbeat_pid=$!
	# errexit back on inside the subshell: `"$@" || rc=$?` would make bash ignore set -e there.
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

# `telegraf version` prints "Telegraf 1.37.3" (internal.FormatFullVersion; "(git: …)" follows only
# when a branch or commit was linked in). A leading "v" is ignored on both sides.
has_version() {
	local bin=$1 want=${2#v} out got
	[[ -x $bin ]] || return 1
	out=$("$bin" version 2>/dev/null) || return 1
	got=$(awk 'NR == 1 { print $2 }' <<<"$out")
	[[ ${got#v} == "$want" ]]
}

mkdir -p "$bin_dir"
log "repo root $repo_root; cache $cache_dir"

# --- mosquitto (Debian's package) ---
if command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]]; then
	log "mosquitto: installed ($(dpkg-query -W -f '${Version}' "$MOSQUITTO_PACKAGE" 2>/dev/null || echo 'not from a Debian package'))"
else
	command -v apt-get >/dev/null 2>&1 ||
		die 3 "prerequisite missing: 'mosquitto' is not installed and there is no apt-get to install Debian's $MOSQUITTO_PACKAGE package"
	((EUID == 0)) ||
		die 3 "prerequisite missing: 'mosquitto' is not installed and installing Debian's $MOSQUITTO_PACKAGE package needs root (run: sudo apt-get install -y $MOSQUITTO_PACKAGE mosquitto-clients)"
	install_mosquitto() {
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "$MOSQUITTO_PACKAGE" mosquitto-clients >/dev/null
	}
	step "install Debian's $MOSQUITTO_PACKAGE with apt-get" install_mosquitto
fi
# The package starts a system broker on :1883 where systemd runs; the tier starts its own brokers
# on free loopback ports and never uses that one. (mosquitto-clients is installed with it for the
# mosquitto_pub command a device bundle shows; the tier's own clients are the simulator's mqtt package.)

# --- telegraf (Go module) ---
tags_stamp=$bin_dir/telegraf.tags
if has_version "$bin_dir/telegraf" "$TELEGRAF_VERSION" && [[ -f $tags_stamp && $(<"$tags_stamp") == "$TELEGRAF_TAGS" ]]; then
	log "telegraf $TELEGRAF_VERSION: cached, skipping build"
else
	require_tool go "the Go toolchain builds telegraf"
	export GOCACHE=${UPSTREAM_GOCACHE:-$cache_dir/go-build}
	mkdir -p "$GOCACHE"

	# Resolve the source first, so a module the proxy will not serve stops the run in seconds and
	# as "missing", not as a failed build.
	log "download telegraf $TELEGRAF_VERSION source: start"
	if ! json=$(cd "$cache_dir" && go mod download -json "$TELEGRAF_MODULE@$TELEGRAF_VERSION" 2>&1); then
		err=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json" | head -n 1)
		err=${err//\\n/ }
		err=${err//\\t/}
		die 3 "prerequisite missing: the Go module proxy did not serve $TELEGRAF_MODULE@$TELEGRAF_VERSION: ${err:-$json}"
	fi
	log "download telegraf $TELEGRAF_VERSION source: done"

	# The -X name is the one telegraf's Makefile sets (INTERNAL_PKG=…/internal, Version=$(tag:v%=%)),
	# so `telegraf version` reports "Telegraf 1.37.3" instead of "unknown". The module proxy gives no
	# commit for a tag, so Commit and Branch stay empty (the version line then has no "(git: …)").
	# CGO off and -s -w as the Makefile's release build.
	build_telegraf() {
		local gobin
		gobin=$(mktemp -d "$bin_dir/.telegraf-build.XXXXXX")
		# shellcheck disable=SC2064 # the directory is fixed now
		trap "rm -rf '$gobin'" EXIT
		CGO_ENABLED=0 GOBIN=$gobin go install \
			-tags "$TELEGRAF_TAGS" \
			-ldflags "-s -w -X $TELEGRAF_MODULE/internal.Version=${TELEGRAF_VERSION#v}" \
			"$TELEGRAF_MODULE/cmd/telegraf@$TELEGRAF_VERSION"
		# Renamed into place last, so a half-written binary is never taken for a built one.
		mv -f "$gobin/telegraf" "$bin_dir/telegraf"
		printf '%s\n' "$TELEGRAF_TAGS" >"$tags_stamp"
	}
	step "build telegraf $TELEGRAF_VERSION (go install, tags $TELEGRAF_TAGS)" build_telegraf
	has_version "$bin_dir/telegraf" "$TELEGRAF_VERSION" ||
		die 1 "build step 'telegraf version check' failed: built telegraf does not report ${TELEGRAF_VERSION#v}"
fi

log "done in $((SECONDS - started))s"
"$bin_dir/telegraf" version
# `mosquitto -h` prints "mosquitto version 2.0.11" first and exits non-zero (it is the usage text).
{ "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -h 2>&1 || true; } | head -n 1
