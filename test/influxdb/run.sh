#!/usr/bin/env bash
# npm run test:influxdb: the InfluxDB tier alone. Builds the real influxd and influx CLI from source
# with build-upstream.sh (cached: a no-op when they are up to date), builds the simulator when
# simulator/dist is missing or older than its sources, then runs jest with jest.influxdb.config.js.
# A missing prerequisite (the build script's exit 3) makes every suite skip, with the reason printed
# (exit status 0, reported as skipped, never as passed), unless IOT_REQUIRE_TIERS names the tier
# (npm run test:influxdb, which asks for it by name, and CI): then the run stops at once with the
# reason and exit status 1. A failed build (exit 1) fails the run.
# Extra arguments go to jest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
started=$SECONDS
# npm run test:influxdb sets it to "influxdb"; CI to every tier it provides.
required_tiers=${IOT_REQUIRE_TIERS:-}

build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
rc=0
bash test/influxdb/build-upstream.sh 2>&1 | tee "$build_log" >&2 || rc=${PIPESTATUS[0]}
if ((rc == 3)); then
  reason=$(sed -n 's/^\[upstream\] ERROR: //p' "$build_log" | tail -n 1)
  export INFLUXDB_TIER_SKIP_REASON="${reason:-build-upstream.sh reported a missing prerequisite}"
  if [[ ,${required_tiers// /}, == *,influxdb,* ]]; then
    echo "influxdb tier FAILED: it cannot run here: $INFLUXDB_TIER_SKIP_REASON (a tier asked for by name, or named in IOT_REQUIRE_TIERS, must run)" >&2
    exit 1
  fi
elif ((rc != 0)); then
  echo "influxdb tier: build-upstream.sh failed (exit $rc)" >&2
  exit "$rc"
elif [[ ! -f simulator/dist/main.js || -n $(find simulator/src -newer simulator/dist/main.js -print -quit) ]]; then
  npm run --silent build:simulator
fi

status=0
node_modules/.bin/jest --config jest.influxdb.config.js "$@" || status=$?
echo "influxdb tier: $((SECONDS - started)) s in all" >&2
exit "$status"
