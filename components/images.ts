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
