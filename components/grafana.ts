import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume, stagedFileFor, type StagedFile } from "./file-volume";
import { GRAFANA_FILES, GRAFANA_FILES_DIR, dashboardProvisioning, datasourceProvisioning, emptyProvisioning } from "./grafana-provisioning";
import { curlHealthcheck, hardenedContainerArgs } from "./hardening";
import { GRAFANA_IMAGE, GRAFANA_USER } from "./images";
import { tokenMount, type ServerTls, type TokenHandoff } from "./influxdb";

export interface GrafanaArgs {
  namePrefix: string;
  backendNetworkName: pulumi.Input<string>;
  frontendNetworkName: pulumi.Input<string>;
  alias: string;
  /** host address and port the UI is published on */
  bindAddress: string;
  hostPort: number;
  /** host name browsers use, for Grafana's root_url */
  externalHost: string;
  adminUser: pulumi.Input<string>;
  /** secret */
  adminPassword: pulumi.Input<string>;
  /** secret: Grafana's secret_key */
  secretKey: pulumi.Input<string>;
  tls?: ServerTls;
  influx: { url: string; org: pulumi.Input<string>; bucket: pulumi.Input<string>; readToken: TokenHandoff; caCertPem?: pulumi.Input<string> };
  /**
   * Dashboards, alert rules and contact point: path inside the files volume to content, as
   * dashboards/index.ts provisionedFiles() makes them (which `npm run dashboards` writes too).
   */
  provisioned: Record<string, string>;
  /**
   * Secret: the webhook URL of the contact point, staged as a file that the alerting provisioning
   * file reads ($__file{}). Required exactly when `provisioned` names that file.
   */
  alertWebhookUrl?: pulumi.Input<string>;
  /** the Docker host's platform, e.g. "linux/arm64": which image of the multi-platform index to pull */
  platform: string;
  /** the InfluxDB container: Grafana starts only after it is healthy */
  startAfter: docker.Container;
  limits: Limits;
  policy: ContainerPolicy;
  protectData: boolean;
}

const PORT = 3000;
/** Where the staged files volume is mounted (read-only). */
const FILES_DIR = GRAFANA_FILES_DIR;
const TOKEN_DIR = "/run/secrets/influxdb-token";

/**
 * Grafana from the official image: HTTPS with its certificate, admin password and secret_key from
 * files (GF_*__FILE), anonymous access, sign-up, gravatar and phoning home off, the InfluxDB
 * datasource, the dashboards and the alert rules (with an optional webhook contact point) provisioned read-only.
 */
export class Grafana extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly dataVolume: docker.Volume;
  /** the URL a browser on the host opens */
  readonly url: string;
  readonly image: string = GRAFANA_IMAGE;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Grafana", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const { uid, gid } = GRAFANA_USER;
    const webhookFile = `${FILES_DIR}/${GRAFANA_FILES.alertWebhookUrl}`;
    const alerting = args.provisioned[GRAFANA_FILES.alerting];
    if (alerting === undefined) throw new Error(`${name}: provisioned files lack ${GRAFANA_FILES.alerting}`);
    // A contact point reading a file that is not staged would stop Grafana at start; a staged URL
    // that nothing reads would be a secret lying around for nothing.
    if (alerting.includes(webhookFile) !== (args.alertWebhookUrl !== undefined)) {
      throw new Error(`${name}: alertWebhookUrl must be given exactly when the alerting provisioning has a contact point`);
    }

    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: GRAFANA_IMAGE, keepLocally: true, platform: args.platform },
      { parent: this },
    );
    // /var/lib/grafana belongs to uid 472 in the image; a new named volume there inherits that.
    this.dataVolume = new docker.Volume(`${name}-data`, { name: `${prefix}-data`, driver: "local" }, { parent: this, protect: args.protectData });

    // Secrets too are 0444: only Grafana mounts this volume, and it runs as one uid (file-volume.ts).
    const file = stagedFileFor(GRAFANA_USER);
    const files: StagedFile[] = [
      file("secrets/admin-password", args.adminPassword),
      file("secrets/secret-key", args.secretKey),
      file(
        "provisioning/datasources/influxdb.yaml",
        pulumi
          .all([args.influx.org, args.influx.bucket])
          .apply(([org, bucket]) =>
            datasourceProvisioning({
              influxUrl: args.influx.url,
              org,
              bucket,
              tokenFile: `${TOKEN_DIR}/token`,
              caFile: args.influx.caCertPem ? `${FILES_DIR}/tls/ca.pem` : undefined,
            }),
          ),
      ),
      file("provisioning/dashboards/iot.yaml", dashboardProvisioning(`${FILES_DIR}/${GRAFANA_FILES.dashboardsDir}`)),
      // Grafana reads every provisioning folder at start and logs an error for each one missing.
      file("provisioning/plugins/none.yaml", emptyProvisioning("apps")),
      ...Object.entries(args.provisioned).map(([path, content]) => file(path, content)),
    ];
    if (args.alertWebhookUrl !== undefined) files.push(file(GRAFANA_FILES.alertWebhookUrl, pulumi.secret(args.alertWebhookUrl)));
    // The stack CA: Grafana verifies InfluxDB with it, and its own health check verifies Grafana.
    const caCertPem = args.influx.caCertPem ?? args.tls?.caCertPem;
    if (caCertPem) files.push(file("tls/ca.pem", caCertPem));
    if (args.tls) files.push(file("tls/server.crt", args.tls.certPem), file("tls/server.key", args.tls.privateKeyPem));
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: image.imageId, files }, { parent: this });

    const scheme = args.tls ? "https" : "http";
    const envs: pulumi.Input<string>[] = [
      `GF_SERVER_PROTOCOL=${scheme}`,
      `GF_SERVER_HTTP_PORT=${PORT}`,
      `GF_SERVER_ROOT_URL=${scheme}://${args.externalHost}:${args.hostPort}/`,
      pulumi.interpolate`GF_SECURITY_ADMIN_USER=${args.adminUser}`,
      // The image's run.sh turns every GF_*__FILE into the variable without the suffix.
      `GF_SECURITY_ADMIN_PASSWORD__FILE=${FILES_DIR}/secrets/admin-password`,
      `GF_SECURITY_SECRET_KEY__FILE=${FILES_DIR}/secrets/secret-key`,
      "GF_SECURITY_DISABLE_GRAVATAR=true",
      `GF_SECURITY_COOKIE_SECURE=${args.tls ? "true" : "false"}`,
      "GF_SECURITY_COOKIE_SAMESITE=strict",
      "GF_SECURITY_CONTENT_SECURITY_POLICY=true",
      "GF_AUTH_ANONYMOUS_ENABLED=false",
      "GF_USERS_ALLOW_SIGN_UP=false",
      "GF_USERS_ALLOW_ORG_CREATE=false",
      "GF_ANALYTICS_REPORTING_ENABLED=false",
      "GF_ANALYTICS_CHECK_FOR_UPDATES=false",
      "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES=false",
      "GF_ANALYTICS_FEEDBACK_LINKS_ENABLED=false",
      "GF_NEWS_NEWS_FEED_ENABLED=false",
      "GF_SNAPSHOTS_EXTERNAL_ENABLED=false",
      // No plugin downloads or updates at start (Grafana 12+ preinstalls plugins in the background
      // otherwise): what runs is what the pinned image contains.
      "GF_PLUGINS_PREINSTALL_DISABLED=true",
      "GF_PLUGINS_PREINSTALL_AUTO_UPDATE=false",
      "GF_PLUGINS_PUBLIC_KEY_RETRIEVAL_DISABLED=true",
      "GF_LOG_MODE=console",
      `GF_PATHS_PROVISIONING=${FILES_DIR}/provisioning`,
    ];
    if (args.tls) {
      envs.push(
        `GF_SERVER_CERT_FILE=${FILES_DIR}/tls/server.crt`,
        `GF_SERVER_CERT_KEY=${FILES_DIR}/tls/server.key`,
        `GF_SERVER_MIN_TLS_VERSION=TLS${args.tls.minVersion}`,
        "GF_SECURITY_STRICT_TRANSPORT_SECURITY=true",
      );
    }

    const healthUrl = `${scheme}://localhost:${PORT}/api/health`;
    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: image.imageId,
        user: `${uid}:${gid}`,
        limits: args.limits,
        policy: args.policy,
        tmpfs: { "/tmp": "size=32m" },
        hostname: args.alias,
        envs,
        mounts: [
          { type: "volume", source: this.dataVolume.name, target: "/var/lib/grafana" },
          { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
          // Grafana's own token volume, nothing else of InfluxDB's: the read-only token.
          tokenMount(args.influx.readToken, TOKEN_DIR),
        ],
        // Backend to query InfluxDB, frontend for the published port.
        networksAdvanced: [
          { name: args.backendNetworkName, aliases: [args.alias] },
          { name: args.frontendNetworkName, aliases: [args.alias] },
        ],
        ports: [{ internal: PORT, external: args.hostPort, ip: args.bindAddress, protocol: "tcp" }],
        labels: [
          { label: "iot.files-revision", value: staged.revision },
          // A data dependency on the InfluxDB container, which is created only once healthy.
          { label: "iot.after", value: args.startAfter.id },
        ],
        healthcheck: curlHealthcheck(healthUrl, args.tls && `${FILES_DIR}/tls/ca.pem`, {
          intervalSeconds: 10,
          timeoutSeconds: 5,
          retries: 5,
          startPeriodSeconds: 60,
        }),
      }),
      { parent: this, deleteBeforeReplace: true, dependsOn: [args.startAfter] },
    );

    this.url = `${scheme}://${args.externalHost}:${args.hostPort}`;
    this.registerOutputs({ url: this.url, containerId: this.container.id });
  }
}
