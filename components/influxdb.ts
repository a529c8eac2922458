import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume, type StagedFile } from "./file-volume";
import { curlHealthcheck, hardenedContainerArgs } from "./hardening";
import { INFLUXDB_IMAGE, INFLUXDB_USER } from "./images";
import { InfluxSetupGuard } from "./influxdb-setup-guard";

export interface ServerTls {
  certPem: pulumi.Input<string>;
  /** secret */
  privateKeyPem: pulumi.Input<string>;
  caCertPem: pulumi.Input<string>;
  minVersion: "1.2" | "1.3";
}

/**
 * A consumer's token: a file named `token` at the root of a volume of its own, which InfluxDB's
 * first setup writes and only that consumer mounts (read-only). One volume per consumer, mounted
 * whole, because volume subpaths need Docker Engine 26 (API 1.45) and older engines ignore them.
 */
export interface TokenHandoff {
  volumeName: pulumi.Output<string>;
}

/** Mounts the consumer's own token volume, read-only, at `target` (the token is then `<target>/token`). */
export function tokenMount(handoff: TokenHandoff, target: string): docker.types.input.ContainerMount {
  return { type: "volume", source: handoff.volumeName, target, readOnly: true };
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
  /** the Docker host's platform, e.g. "linux/arm64": which image of the multi-platform index to pull */
  platform: string;
  limits: Limits;
  policy: ContainerPolicy;
  protectData: boolean;
}

const PORT = 8086;
/** The staged files volume (secrets/, tls/), mounted whole and read-only. */
const FILES_DIR = "/etc/iot/influxdb";
const INITDB_DIR = "/docker-entrypoint-initdb.d";
/** Where InfluxDB mounts the consumers' token volumes, read-write, to fill them at first setup. */
const HANDOFF_DIR = "/etc/iot/handoff";
/**
 * The image's config directory (VOLUME /etc/influxdb2, owned by influxdb 1000:1000 in the image:
 * influxdata-docker influxdb/2.9/Dockerfile). Setup writes the CLI config with the operator token
 * there (INFLUX_CONFIGS_PATH). It is a tmpfs here: the token is never persisted outside
 * InfluxDB's own database, and a first setup that failed leaves no "config name default already
 * exists" behind (the entrypoint only cleans the bolt file and the engine), so a restart retries it.
 */
const CONFIG_DIR = "/etc/influxdb2";
/** The backups volume's mount point (tools/influx-backup.ts BACKUPS_MOUNT). */
const BACKUPS_DIR = "/var/lib/influxdb2-backups";
const SCOPED_TOKENS_SCRIPT = readFileSync(join(__dirname, "assets", "influxdb-scoped-tokens.sh"), "utf8");
/** The consumers that get a scoped token; the script in assets/ writes one per name. */
const TOKEN_CONSUMERS = ["simulator", "grafana", "bridge"] as const;

/**
 * InfluxDB 2 from the official image, first-run setup through the image's DOCKER_INFLUXDB_INIT_*
 * variables (secrets by their _FILE forms), HTTPS with the stack CA's certificate, and one scoped
 * token per consumer created at setup inside the network.
 */
export class InfluxDb extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly dataVolume: docker.Volume;
  /** the URL clients on the backend network use */
  readonly url: string;
  readonly simulatorToken: TokenHandoff;
  readonly grafanaToken: TokenHandoff;
  /** the MQTT bridge's write-only token (made at first setup whether or not devices are declared) */
  readonly bridgeToken: TokenHandoff;
  readonly image: string = INFLUXDB_IMAGE;

  constructor(name: string, args: InfluxDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:InfluxDb", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const uid = INFLUXDB_USER.uid;
    const gid = INFLUXDB_USER.gid;

    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: INFLUXDB_IMAGE, keepLocally: true, platform: args.platform },
      { parent: this },
    );

    // The data volume sits on the image's own VOLUME path, which the image creates owned by
    // influxdb (1000): Docker copies that ownership into a new named volume, so influxd can run as
    // 1000 from the start instead of starting as root to chown (its entrypoint only chowns as root).
    this.dataVolume = new docker.Volume(
      `${name}-data`,
      { name: `${prefix}-data`, driver: "local" },
      { parent: this, protect: args.protectData },
    );

    const files: StagedFile[] = [
      { path: "secrets/admin-password", content: args.adminPassword, owner: uid, group: gid, mode: "0444" },
      { path: "secrets/operator-token", content: args.operatorToken, owner: uid, group: gid, mode: "0444" },
    ];
    if (args.tls) {
      files.push(
        { path: "tls/server.crt", content: args.tls.certPem, owner: uid, group: gid, mode: "0444" },
        { path: "tls/server.key", content: args.tls.privateKeyPem, owner: uid, group: gid, mode: "0444" },
        { path: "tls/ca.pem", content: args.tls.caCertPem, owner: uid, group: gid, mode: "0444" },
      );
    }
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: image.imageId, files }, { parent: this });
    // The entrypoint runs every executable *.sh in /docker-entrypoint-initdb.d: a volume of its own,
    // since a volume can only be mounted whole on engines before 26.
    const initdb = new FileVolume(
      `${name}-initdb`,
      {
        volumeName: `${prefix}-initdb`,
        image: image.imageId,
        files: [{ path: "10-scoped-tokens.sh", content: SCOPED_TOKENS_SCRIPT, owner: 0, group: 0, mode: "0555" }],
      },
      { parent: this },
    );
    // One empty volume per consumer, owned by influxdb like the image's /etc/influxdb2 (the
    // loader mounts it there), so the setup script, running as 1000, can write the token into it.
    const handoffs = Object.fromEntries(
      TOKEN_CONSUMERS.map((consumer) => [
        consumer,
        new FileVolume(
          `${name}-token-${consumer}`,
          { volumeName: `${prefix}-token-${consumer}`, image: image.imageId, files: [], mountPath: CONFIG_DIR },
          { parent: this },
        ),
      ]),
    ) as Record<(typeof TOKEN_CONSUMERS)[number], FileVolume>;

    // Where npm run backup has `influx backup` write, and npm run restore stages a backup for
    // `influx restore` (tools/influx-backup.ts): influxd's own writable folder, since the root
    // filesystem is read-only. Made like the token volumes, so it is owned by influxdb (1000);
    // it holds a backup only while one is being copied out or restored.
    const backups = new FileVolume(
      `${name}-backups`,
      { volumeName: `${prefix}-backups`, image: image.imageId, files: [], mountPath: CONFIG_DIR },
      { parent: this },
    );

    const mounts: docker.types.input.ContainerMount[] = [
      { type: "volume", source: this.dataVolume.name, target: "/var/lib/influxdb2" },
      { type: "volume", source: backups.volumeName, target: BACKUPS_DIR },
      { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
      { type: "volume", source: initdb.volumeName, target: INITDB_DIR, readOnly: true },
      ...TOKEN_CONSUMERS.map((consumer) => ({ type: "volume", source: handoffs[consumer].volumeName, target: `${HANDOFF_DIR}/${consumer}` })),
    ];

    const setupGuard = new InfluxSetupGuard(
      `${name}-setup`,
      {
        org: args.org,
        bucket: args.bucket,
        retention: args.retention,
        adminUser: args.adminUser,
        adminPassword: args.adminPassword,
        operatorToken: args.operatorToken,
      },
      { parent: this },
    );

    const scheme = args.tls ? "https" : "http";
    const envs: pulumi.Input<string>[] = [
      // First-run setup by the image entrypoint; skipped once the data volume holds a database.
      "DOCKER_INFLUXDB_INIT_MODE=setup",
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_USERNAME=${args.adminUser}`,
      `DOCKER_INFLUXDB_INIT_PASSWORD_FILE=${FILES_DIR}/secrets/admin-password`,
      `DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE=${FILES_DIR}/secrets/operator-token`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_ORG=${args.org}`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_BUCKET=${args.bucket}`,
      pulumi.interpolate`DOCKER_INFLUXDB_INIT_RETENTION=${args.retention}`,
      // Read by the setup script (assets/influxdb-scoped-tokens.sh): one token volume per consumer below it.
      `HANDOFF_DIR=${HANDOFF_DIR}`,
      `INFLUX_CONFIGS_PATH=${CONFIG_DIR}/influx-configs`,
      `INFLUXD_HTTP_BIND_ADDRESS=:${PORT}`,
      // No usage reports to InfluxData, no /debug/pprof endpoints (InfluxDB v2 config options).
      "INFLUXD_REPORTING_DISABLED=true",
      "INFLUXD_PPROF_DISABLED=true",
      // /metrics answers without a token; nothing in the stack scrapes it (influxd "metrics-disabled").
      "INFLUXD_METRICS_DISABLED=true",
      // Flux's http.get and template URLs may not reach private addresses, so a read token cannot
      // make influxd probe the host or the networks (influxd "hardening-enabled"; the real-InfluxDB
      // tier showed the request going through without it).
      "INFLUXD_HARDENING_ENABLED=true",
    ];
    if (args.tls) {
      envs.push(
        `INFLUXD_TLS_CERT=${FILES_DIR}/tls/server.crt`,
        `INFLUXD_TLS_KEY=${FILES_DIR}/tls/server.key`,
        `INFLUXD_TLS_MIN_VERSION=${args.tls.minVersion}`,
      );
      // Under TLS 1.2, only the ECDHE AEAD suites of influxd's strict list, which has ECDHE-ECDSA
      // suites for the stack's ECDSA certificates (influxdb v2.9.1 cmd/influxd/launcher/launcher.go,
      // the list after "if useStrictCiphers"). With a TLS 1.3 minimum, influxd drops the setting and
      // logs a warning at every start (same function): TLS 1.3 suites are all AEAD with forward secrecy.
      if (args.tls.minVersion === "1.2") envs.push("INFLUXD_TLS_STRICT_CIPHERS=true");
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
        // /tmp: the entrypoint writes the temporary setup config to /tmp/config.json. A tmpfs
        // takes its directory's mode from the image but is owned by root (test/engine,
        // engine-facts), so the CLI config's tmpfs is given influxdb's uid to be writable.
        tmpfs: { "/tmp": "size=16m", [CONFIG_DIR]: `size=1m,uid=${uid},gid=${gid}` },
        hostname: args.alias,
        envs,
        mounts,
        networksAdvanced: networks,
        ports,
        labels: [
          { label: "iot.files-revision", value: staged.revision },
          { label: "iot.initdb-revision", value: initdb.revision },
        ],
        // Verified against the stack CA, like every other client; "healthy" only once the final
        // server runs, i.e. after setup and the scoped tokens exist.
        healthcheck: curlHealthcheck(healthUrl, args.tls && `${FILES_DIR}/tls/ca.pem`, {
          intervalSeconds: 5,
          timeoutSeconds: 3,
          retries: 5,
          startPeriodSeconds: 60,
        }),
      }),
      // After the guard: a refused change to a setup-only value stops the update before the container.
      { parent: this, deleteBeforeReplace: true, dependsOn: [setupGuard] },
    );

    this.url = `${scheme}://${args.alias}:${PORT}`;
    this.simulatorToken = { volumeName: handoffs.simulator.volumeName };
    this.grafanaToken = { volumeName: handoffs.grafana.volumeName };
    this.bridgeToken = { volumeName: handoffs.bridge.volumeName };
    this.registerOutputs({ url: this.url, containerId: this.container.id });
  }
}
