#!/bin/bash
# Runs once, inside the InfluxDB container, right after the image's first-run setup: the official
# entrypoint (influxdata-docker, influxdb/2.9/entrypoint.sh, run_user_scripts) executes every
# executable *.sh in /docker-entrypoint-initdb.d while a temporary influxd listens on localhost,
# with the operator's CLI config active and DOCKER_INFLUXDB_INIT_ORG_ID / _BUCKET_ID exported.
#
# InfluxDB 2 cannot create a token with a value chosen in advance, so the scoped tokens are made
# here, inside the network, and handed over through files: HANDOFF_DIR/<consumer> is a Docker
# volume of that consumer's own (components/influxdb.ts), which only that consumer mounts, whole
# and read-only. So the simulator never sees Grafana's token, neither sees the operator token,
# and no token passes through Pulumi state or logs.
set -euo pipefail

HANDOFF_DIR="${HANDOFF_DIR:?the directory holding one token volume per consumer}"
: "${DOCKER_INFLUXDB_INIT_ORG_ID:?set by the image entrypoint after setup}"
: "${DOCKER_INFLUXDB_INIT_BUCKET_ID:?set by the image entrypoint after setup}"
: "${DOCKER_INFLUXDB_INIT_BUCKET:?set in the container environment}"

# Prints the token of a new authorization: $1 description, $2 --write-bucket or --read-bucket.
create_token() {
  local json
  json=$(influx auth create --org-id "$DOCKER_INFLUXDB_INIT_ORG_ID" --description "$1" "$2" "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --json)
  if [[ $json =~ \"token\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  else
    echo "scoped-tokens: 'influx auth create' returned no token for: $1" >&2
    return 1
  fi
}

# Writes $2 to HANDOFF_DIR/$1/token atomically, readable by the consumer's (other) uid, never writable.
hand_off() {
  local dir="$HANDOFF_DIR/$1"
  mkdir -p "$dir"
  chmod 0755 "$dir"
  # No trailing newline: Grafana's $__file{} provider may pass the content on verbatim.
  (umask 0222 && printf '%s' "$2" > "$dir/token.new")
  chmod 0444 "$dir/token.new"
  mv -f "$dir/token.new" "$dir/token"
}

simulator_token=$(create_token "simulator: write-only ${DOCKER_INFLUXDB_INIT_BUCKET}" --write-bucket)
grafana_token=$(create_token "grafana: read-only ${DOCKER_INFLUXDB_INIT_BUCKET}" --read-bucket)
# The MQTT bridge's token is made at every first setup, devices declared or not, because this
# script runs only then: a stack that declares its first device later finds it ready.
bridge_token=$(create_token "bridge: write-only ${DOCKER_INFLUXDB_INIT_BUCKET}" --write-bucket)
hand_off simulator "$simulator_token"
hand_off grafana "$grafana_token"
hand_off bridge "$bridge_token"
echo "scoped-tokens: created write-only tokens (simulator, bridge) and a read-only token (grafana) for bucket ${DOCKER_INFLUXDB_INIT_BUCKET}"
