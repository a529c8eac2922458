// The third-party images the stack runs, each pinned by exact version and by digest. Docker pulls
// the digest, so the tag cannot drift; the tag stays for humans. To update one, take the new
// multi-platform index digest from the source named beside it and change it in one reviewed commit
// (the routine is in docs/UPDATING.md).

/**
 * InfluxDB 2.9.1, the official Docker Official Image. Index digest as published in
 * docker-library/repo-info, repos/influxdb/remote/2.9.1.md (commit 0b5756772b1566057e3dee24ea2e6108d755397c):
 * linux/amd64 and linux/arm64. `influxdb:latest` now points at InfluxDB 3, so the major line matters.
 */
export const INFLUXDB_IMAGE =
  "influxdb:2.9.1@sha256:05d6fb735bc22449c401094d42846123a24e3325d3a6e092242a45bfd68fff21";

/**
 * Grafana OSS 13.0.1 (grafana/grafana, the repository Grafana's docs name for OSS from 12.4 on).
 * Grafana is not a Docker Official Image, so repo-info has no entry; this digest is the one several
 * independent public repositories pin for grafana/grafana:13.0.1 (found with the project's code
 * search). Verify with `docker buildx imagetools inspect grafana/grafana:13.0.1` before a release.
 */
export const GRAFANA_IMAGE =
  "grafana/grafana:13.0.1@sha256:0f86bada30d65ef9d0183b90c1e2682ac92d53d95da8bed322b984ea78a4a73a";

/** Numeric users the images document: InfluxDB's entrypoint steps down to influxdb (1000), Grafana runs as 472. */
export const INFLUXDB_USER = { uid: 1000, gid: 1000 };
export const GRAFANA_USER = { uid: 472, gid: 0 };
/** The simulator's own image (simulator/Dockerfile) runs as this uid. */
export const SIMULATOR_USER = { uid: 10001, gid: 10001 };

/**
 * Eclipse Mosquitto 2.0.22, the Docker Official Image eclipse-mosquitto. Index digest as published in
 * docker-library/repo-info, repos/eclipse-mosquitto/remote/2.0.22.md (commit
 * 7356dc9aa9051d57187ce75604441314637bbca9), multi-platform. The 2.0 line is pinned explicitly:
 * `eclipse-mosquitto:2` and `latest` now mean 2.1. The tiers here test Debian 12's mosquitto
 * 2.0.11 (with Debian's security patches): no digest of a 2.0.11 image could be found to cite, so
 * the image is the newest 2.0.x, whose options the rendered configuration uses are all in 2.0.11.
 */
export const MOSQUITTO_IMAGE =
  "eclipse-mosquitto:2.0.22@sha256:05b5c328c11046613c4b8137b27021c15342c9fc90ae9c2f4750ed3ece5967bd";

/**
 * Telegraf 1.37.3, the Docker Official Image telegraf. Index digest as published in
 * docker-library/repo-info, repos/telegraf/remote/1.37.3.md (commit
 * 331c0bdd4a64dec090e0d51b4098e9373cca6c37). The MQTT tier builds the same version from its Go module
 * (test/mqtt/build-upstream.sh).
 */
export const TELEGRAF_IMAGE =
  "telegraf:1.37.3@sha256:ac499e0d246806a35ac923d29216bb7bed649e7a7311160f107b7a72b3a58955";

/** The eclipse-mosquitto image's mosquitto user (uid and gid 1883, created in its Dockerfile). */
export const MOSQUITTO_USER = { uid: 1883, gid: 1883 };
/**
 * The bridge runs as a numeric user of the program's choosing: the telegraf image's own user is
 * made by its package with `useradd -r`, so no source fixes its uid. Telegraf needs no home or
 * passwd entry; its files are world-readable in volumes only it mounts.
 */
export const TELEGRAF_USER = { uid: 10002, gid: 10002 };
