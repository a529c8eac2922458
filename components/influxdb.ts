import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume, type StagedFile } from "./file-volume";
import { curlHealthcheck, hardenedContainerArgs } from "./hardening";
import { INFLUXDB_IMAGE, INFLUXDB_USER } from "./images";

export interface ServerTls {
  certPem: pulumi.Input<string>;
  /** secret */
  privateKeyPem: pulumi.Input<string>;
  caCertPem: pulumi.Input<string>;
  minVersion: "1.2" | "1.3";
}

/** A consumer's token: a file named `token` in `subpath` of the InfluxDB config volume. */
export interface TokenHandoff {
  volumeName: pulumi.Output<string>;
  subpath: string;
}

/** Mounts only the consumer's own hand-off directory, read-only, at `target` (the token is then `<target>/token`). */
export function tokenMount(handoff: TokenHandoff, target: string): docker.types.input.ContainerMount {
  return { type: "volume", source: handoff.volumeName, target, readOnly: true, volumeOptions: { subpath: handoff.subpath, noCopy: true } };
}

export interface InfluxDbArgs {
  namePrefix: string;
  backendNetworkName: pulumi.Input<string>;
  /** only used when publishHostPort is set: a port can only be published from a non-internal network */
  frontendNetworkName: pulumi.Input<string>;
  /** network alias clients use; must be in the server certificate */
  alias: string;
  org: pulumi.Input<string>;
  bucket: pulumi.Input<string>;
  retention: pulumi.Input<string>;
  adminUser: pulumi.Input<string>;
  /** secret */
  adminPassword: pulumi.Input<string>;
  /** secret: the all-access token set at first start */
  operatorToken: pulumi.Input<string>;
  /** undefined serves plain HTTP (only with the explicit plaintext opt-out) */
  tls?: ServerTls;
  /** publish the API on 127.0.0.1:<port> of the host; undefined publishes nothing */
  publishHostPort?: number;
  limits: Limits;
  policy: ContainerPolicy;
  protectData: boolean;
}

const PORT = 8086;
const TLS_DIR = "/etc/iot/tls";
const SECRETS_DIR = "/run/secrets/influxdb";
const INITDB_DIR = "/docker-entrypoint-initdb.d";
/** The image's config volume (VOLUME /etc/influxdb2): the CLI config with the operator token, and the token hand-off. */
const CONFIG_DIR = "/etc/influxdb2";
const HANDOFF = "handoff";
const SCOPED_TOKENS_SCRIPT = readFileSync(join(__dirname, "assets", "influxdb-scoped-tokens.sh"), "utf8");

/**
 * InfluxDB 2 from the official image, first-run setup through the image's DOCKER_INFLUXDB_INIT_*
 * variables (secrets by their _FILE forms), HTTPS with the stack CA's certificate, and one scoped
 * token per consumer created at setup inside the network.
 */
export class InfluxDb extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly dataVolume: docker.Volume;
  readonly configVolume: docker.Volume;
  /** the URL clients on the backend network use */
  readonly url: string;
  readonly simulatorToken: TokenHandoff;
  readonly grafanaToken: TokenHandoff;
  readonly image: string = INFLUXDB_IMAGE;

  constructor(name: string, args: InfluxDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:InfluxDb", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const uid = INFLUXDB_USER.uid;
    const gid = INFLUXDB_USER.gid;

    const image = new docker.RemoteImage(`${name}-image`, { name: INFLUXDB_IMAGE, keepLocally: true }, { parent: this });

    // Both volumes sit on the image's own VOLUME paths, which the image creates owned by
    // influxdb (1000): Docker copies that ownership into a new named volume, so influxd can run as
    // 1000 from the start instead of starting as root to chown (its entrypoint only chowns as root).
    const dataOpts = { parent: this, protect: args.protectData };
    this.dataVolume = new docker.Volume(`${name}-data`, { name: `${prefix}-data`, driver: "local" }, dataOpts);
    this.configVolume = new docker.Volume(`${name}-config`, { name: `${prefix}-config`, driver: "local" }, dataOpts);

    const files: StagedFile[] = [
      { path: "secrets/admin-password", content: args.adminPassword, owner: uid, group: gid, mode: "0400" },
      { path: "secrets/operator-token", content: args.operatorToken, owner: uid, group: gid, mode: "0400" },
      { path: "initdb/10-scoped-tokens.sh", content: SCOPED_TOKENS_SCRIPT, owner: 0, group: 0, mode: "0555" },
    ];
    if (args.tls) {
      files.push(
        { path: "tls/server.crt", content: args.tls.certPem, owner: uid, group: gid, mode: "0444" },
        { path: "tls/server.key", content: args.tls.privateKeyPem, owner: uid, group: gid, mode: "0400" },
        { path: "tls/ca.pem", content: args.tls.caCertPem, owner: uid, group: gid, mode: "0444" },
      );
    }
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: image.imageId, files }, { parent: this });

    const filesMount = (subpath: string, target: string): docker.types.input.ContainerMount => ({
      type: "volume",
      source: staged.volumeName,
      target,
      readOnly: true,
      volumeOptions: { subpath, noCopy: true },
    });
    const mounts: docker.types.input.ContainerMount[] = [
      { type: "volume", source: this.dataVolume.name, target: "/var/lib/influxdb2" },
      { type: "volume", source: this.configVolume.name, target: CONFIG_DIR },
      filesMount("secrets", SECRETS_DIR),
      filesMount("initdb", INITDB_DIR),
    ];
    if (args.tls) mounts.push(filesMount("tls", TLS_DIR));

    const scheme = args.tls ? "https" : "http";
    const envs: pulumi.Input<string>[] = [
      // First-run setup by the image entrypoint; skipped once the data volume holds a database.
      "DOCKER_INFLUXDB_INIT_MODE=setup",
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_USERNAME=${args.adminUser}`,
      `DOCKER_INFLUXDB_INIT_PASSWORD_FILE=${SECRETS_DIR}/admin-password`,
      `DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE=${SECRETS_DIR}/operator-token`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_ORG=${args.org}`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_BUCKET=${args.bucket}`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_RETENTION=${args.retention}`,
      `INFLUXD_HTTP_BIND_ADDRESS=:${PORT}`,
      // No usage reports to InfluxData, no /debug/pprof endpoints (InfluxDB v2 config options).
      "INFLUXD_REPORTING_DISABLED=true",
      "INFLUXD_PPROF_DISABLED=true",
    ];
    if (args.tls) {
      envs.push(
        `INFLUXD_TLS_CERT=${TLS_DIR}/server.crt`,
        `INFLUXD_TLS_KEY=${TLS_DIR}/server.key`,
        `INFLUXD_TLS_MIN_VERSION=${args.tls.minVersion}`,
        // INFLUXD_TLS_STRICT_CIPHERS is deliberately not set: its list is RSA-only (ECDHE_RSA_* and
        // RSA_* suites, the latter without forward secrecy), so it cannot serve the stack's ECDSA
        // certificates over TLS 1.2. With TLS 1.3 (the default minimum here) only AEAD suites with
        // forward secrecy exist, which is stricter than that list.
      );
    }

    const networks: pulumi.Input<docker.types.input.ContainerNetworksAdvanced>[] = [
      { name: args.backendNetworkName, aliases: [args.alias] },
    ];
    const ports: docker.types.input.ContainerPort[] = [];
    if (args.publishHostPort !== undefined) {
      networks.push({ name: args.frontendNetworkName });
      ports.push({ internal: PORT, external: args.publishHostPort, ip: "127.0.0.1", protocol: "tcp" });
    }

    const healthUrl = `${scheme}://localhost:${PORT}/health`;
    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: image.imageId,
        user: `${uid}:${gid}`,
        limits: args.limits,
        policy: args.policy,
        // The entrypoint writes the temporary setup config to /tmp/config.json.
        tmpfs: { "/tmp": "size=16m" },
        hostname: args.alias,
        envs,
        mounts,
        networksAdvanced: networks,
        ports,
        labels: [{ label: "iot.files-revision", value: staged.revision }],
        // Verified against the stack CA, like every other client; "healthy" only once the final
        // server runs, i.e. after setup and the scoped tokens exist.
        healthcheck: { ...curlHealthcheck(healthUrl, args.tls && `${TLS_DIR}/ca.pem`), interval: "5s", timeout: "3s" },
      }),
      { parent: this, deleteBeforeReplace: true },
    );

    this.url = `${scheme}://${args.alias}:${PORT}`;
    this.simulatorToken = { volumeName: this.configVolume.name, subpath: `${HANDOFF}/simulator` };
    this.grafanaToken = { volumeName: this.configVolume.name, subpath: `${HANDOFF}/grafana` };
    this.registerOutputs({ url: this.url, containerId: this.container.id });
  }
}
