#!/usr/bin/env bash
# npm run test:mqtt: the MQTT tier alone. Provides its real parts first, each cached (a no-op when
# up to date): influxd from source (test/influxdb/build-upstream.sh), Telegraf from its Go module and
# Debian's mosquitto (test/mqtt/build-upstream.sh); then runs jest with jest.mqtt.config.js.
# A missing prerequisite (a build script's exit 3) makes every suite skip, with the reason printed
# (exit status 0, reported as skipped, never as passed), unless IOT_REQUIRE_TIERS names the tier
# (npm run test:mqtt, which asks for it by name, and CI): then the run stops at once with the reason
# and exit status 1. A failed build (exit 1) fails the run.
# Extra arguments go to jest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
started=$SECONDS
# npm run test:mqtt sets it to "mqtt"; CI to every tier it provides.
required_tiers=${IOT_REQUIRE_TIERS:-}

build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
for script in test/influxdb/build-upstream.sh test/mqtt/build-upstream.sh; do
  rc=0
  bash "$script" 2>&1 | tee "$build_log" >&2 || rc=${PIPESTATUS[0]}
  if ((rc == 3)); then
    reason=$(sed -n 's/^\[upstream\] ERROR: //p' "$build_log" | tail -n 1)
    export MQTT_TIER_SKIP_REASON="${reason:-$script reported a missing prerequisite}"
    if [[ ,${required_tiers// /}, == *,mqtt,* ]]; then
      echo "mqtt tier FAILED: it cannot run here: $MQTT_TIER_SKIP_REASON (a tier asked for by name, or named in IOT_REQUIRE_TIERS, must run)" >&2
      exit 1
    fi
    break
  elif ((rc != 0)); then
    echo "mqtt tier: $script failed (exit $rc)" >&2
    exit "$rc"
  fi
done

status=0
node_modules/.bin/jest --config jest.mqtt.config.js "$@" || status=$?
echo "mqtt tier: $((SECONDS - started)) s in all" >&2
exit "$status"
