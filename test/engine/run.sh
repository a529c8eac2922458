#!/usr/bin/env bash
# npm run test:engine: the engine tier alone. Finds or starts an engine (engine.sh), builds the
# cached local base image (base-image.sh), runs jest with jest.engine.config.js, and stops the
# private dockerd again if this run started it. Without an engine the suites are skipped, with the
# reason printed (exit status 0, reported as skipped, never as passed), unless IOT_REQUIRE_TIERS
# names the tier (npm run test:engine, which asks for it by name, and CI): then it stops at once
# with the reason and exit status 1. Extra arguments go to jest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
STATE_DIR=${ENGINE_STATE_DIR:-$ROOT/.cache/engine}
started=$SECONDS
# npm run test:engine sets it to "engine"; CI to every tier it provides.
required_tiers=${IOT_REQUIRE_TIERS:-}

rc=0
bash test/engine/engine.sh start >/dev/null || rc=$?
if ((rc == 3)); then
  ENGINE_SKIP_REASON=$(cat "$STATE_DIR/skip-reason")
  export ENGINE_SKIP_REASON
elif ((rc != 0)); then
  exit "$rc"
else
  set -a
  # shellcheck disable=SC1091
  source "$STATE_DIR/engine.env"
  set +a
  if [[ ${ENGINE_STARTED_NOW:-0} == 1 ]]; then
    trap 'bash test/engine/engine.sh stop' EXIT
  fi
  base_rc=0
  ENGINE_BASE_IMAGE=$(bash test/engine/base-image.sh 2>"$STATE_DIR/base-image.log") || base_rc=$?
  if ((base_rc == 3)); then
    ENGINE_SKIP_REASON="the local base image cannot be built: $(tail -n 1 "$STATE_DIR/base-image.log")"
    export ENGINE_SKIP_REASON
  elif ((base_rc != 0)); then
    cat "$STATE_DIR/base-image.log" >&2
    exit "$base_rc"
  else
    cat "$STATE_DIR/base-image.log" >&2
    export ENGINE_BASE_IMAGE
    # The broker's and bridge's stand-ins (the dev stack declares both): ENGINE_BROKER_IMAGE and
    # ENGINE_BRIDGE_IMAGE, or the reason they cannot be built, like the base image's.
    mqtt_rc=0
    mqtt_images=$(bash test/engine/mqtt-images.sh 2>"$STATE_DIR/mqtt-images.log") || mqtt_rc=$?
    if ((mqtt_rc == 3)); then
      ENGINE_SKIP_REASON="the broker and bridge stand-in images cannot be built: $(tail -n 1 "$STATE_DIR/mqtt-images.log")"
      export ENGINE_SKIP_REASON
    elif ((mqtt_rc != 0)); then
      cat "$STATE_DIR/mqtt-images.log" >&2
      exit "$mqtt_rc"
    else
      cat "$STATE_DIR/mqtt-images.log" >&2
      ENGINE_BROKER_IMAGE=$(sed -n 's/^ENGINE_BROKER_IMAGE=//p' <<<"$mqtt_images")
      ENGINE_BRIDGE_IMAGE=$(sed -n 's/^ENGINE_BRIDGE_IMAGE=//p' <<<"$mqtt_images")
      export ENGINE_BROKER_IMAGE ENGINE_BRIDGE_IMAGE
    fi
    # InfluxDB's stand-in from the real influxd and influx, twice (a second image id for the
    # upgrade test): ENGINE_INFLUXDB_IMAGE and ENGINE_INFLUXDB_IMAGE_NEXT, or the reason.
    influxdb_rc=0
    influxdb_images=$(bash test/engine/influxdb-image.sh 2>"$STATE_DIR/influxdb-image.log") || influxdb_rc=$?
    if ((influxdb_rc == 3)); then
      ENGINE_SKIP_REASON="the InfluxDB stand-in image cannot be built: $(tail -n 1 "$STATE_DIR/influxdb-image.log")"
      export ENGINE_SKIP_REASON
    elif ((influxdb_rc != 0)); then
      cat "$STATE_DIR/influxdb-image.log" >&2
      exit "$influxdb_rc"
    else
      cat "$STATE_DIR/influxdb-image.log" >&2
      ENGINE_INFLUXDB_IMAGE=$(sed -n 's/^ENGINE_INFLUXDB_IMAGE=//p' <<<"$influxdb_images")
      ENGINE_INFLUXDB_IMAGE_NEXT=$(sed -n 's/^ENGINE_INFLUXDB_IMAGE_NEXT=//p' <<<"$influxdb_images")
      export ENGINE_INFLUXDB_IMAGE ENGINE_INFLUXDB_IMAGE_NEXT
    fi
  fi
fi

if [[ -n ${ENGINE_SKIP_REASON:-} && ,${required_tiers// /}, == *,engine,* ]]; then
  echo "engine tier FAILED: it cannot run here: $ENGINE_SKIP_REASON (a tier asked for by name, or named in IOT_REQUIRE_TIERS, must run)" >&2
  exit 1
fi

status=0
node_modules/.bin/jest --config jest.engine.config.js "$@" || status=$?
echo "engine tier: $((SECONDS - started)) s in all" >&2
exit "$status"
