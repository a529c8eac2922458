// The secure IoT stack: reads and validates the stack configuration once, composes the
// components, exports what an operator needs. Nothing else happens here.
import { isIP } from "node:net";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Credentials } from "./components/credentials";
import { Grafana } from "./components/grafana";
import { InfluxDb } from "./components/influxdb";
import { Network } from "./components/network";
import { Pki } from "./components/pki";
import { Simulator } from "./components/simulator";
import { dashboardOptions, provisionedFiles } from "./dashboards";
import { loadSettings } from "./settings";

const settings = loadSettings(pulumi.runtime.allConfig(), pulumi.getStack());
for (const warning of settings.warnings) pulumi.log.warn(warning);

const INFLUX_ALIAS = "influxdb";
const GRAFANA_ALIAS = "grafana";

const network = new Network("network", { namePrefix: settings.namePrefix });

const externalIps = settings.tls.grafanaExternalNames.filter((n) => isIP(n) !== 0);
const externalDns = settings.tls.grafanaExternalNames.filter((n) => isIP(n) === 0);
const pki = settings.tls.enabled
  ? new Pki("pki", {
      organization: `secure-iot ${settings.stack}`,
      validityHours: settings.tls.validityHours,
      earlyRenewalHours: settings.tls.earlyRenewalHours,
      servers: {
        // the alias clients use on the backend network; localhost for the health check inside
        influxdb: { dnsNames: [INFLUX_ALIAS, "localhost"], ipAddresses: ["127.0.0.1"] },
        grafana: {
          dnsNames: [...new Set([...externalDns, GRAFANA_ALIAS, "localhost"])],
          ipAddresses: [...new Set([...externalIps, "127.0.0.1"])],
        },
      },
    })
  : undefined;
const serverTls = (server: "influxdb" | "grafana") =>
  pki && { ...pki.servers[server], caCertPem: pki.caCertPem, minVersion: settings.tls.minVersion };

const credentials = new Credentials("credentials", {
  influxAdminPassword: settings.influx.adminPassword && pulumi.secret(settings.influx.adminPassword),
  grafanaAdminPassword: settings.grafana.adminPassword && pulumi.secret(settings.grafana.adminPassword),
});

const influxdb = new InfluxDb("influxdb", {
  namePrefix: settings.namePrefix,
  backendNetworkName: network.backendName,
  frontendNetworkName: network.frontendName,
  alias: INFLUX_ALIAS,
  org: settings.influx.org,
  bucket: settings.influx.bucket,
  retention: settings.influx.retention,
  adminUser: settings.influx.adminUser,
  adminPassword: credentials.influxAdminPassword,
  operatorToken: credentials.influxOperatorToken,
  tls: serverTls("influxdb"),
  publishHostPort: settings.influx.publishPort ? settings.influx.hostPort : undefined,
  platform: settings.platform,
  limits: settings.influx.limits,
  policy: settings.containers,
  protectData: settings.protectData,
});

const grafana = new Grafana("grafana", {
  namePrefix: settings.namePrefix,
  backendNetworkName: network.backendName,
  frontendNetworkName: network.frontendName,
  alias: GRAFANA_ALIAS,
  bindAddress: settings.grafana.bindAddress,
  hostPort: settings.grafana.port,
  externalHost: settings.tls.grafanaExternalNames[0],
  adminUser: settings.grafana.adminUser,
  adminPassword: credentials.grafanaAdminPassword,
  secretKey: credentials.grafanaSecretKey,
  tls: serverTls("grafana"),
  influx: {
    url: influxdb.url,
    org: settings.influx.org,
    bucket: settings.influx.bucket,
    readToken: influxdb.grafanaToken,
    caCertPem: pki?.caCertPem,
  },
  // dashboards and alert rules: the files `npm run dashboards` writes for this stack
  provisioned: provisionedFiles({ dashboards: dashboardOptions(settings), contactPoint: settings.alerts.webhookUrl !== undefined }),
  alertWebhookUrl: settings.alerts.webhookUrl && pulumi.secret(settings.alerts.webhookUrl),
  platform: settings.platform,
  startAfter: influxdb.container,
  limits: settings.grafana.limits,
  policy: settings.containers,
  protectData: settings.protectData,
});

const simulator = new Simulator("simulator", {
  namePrefix: settings.namePrefix,
  sourceDir: join(__dirname, "simulator"),
  backendNetworkName: network.backendName,
  influx: {
    url: influxdb.url,
    org: settings.influx.org,
    bucket: settings.influx.bucket,
    writeToken: influxdb.simulatorToken,
    caCertPem: pki?.caCertPem,
  },
  devices: settings.simulator.devices,
  intervalMs: settings.simulator.intervalMs,
  site: settings.simulator.site,
  seed: settings.simulator.seed,
  logLevel: settings.simulator.logLevel,
  platform: settings.platform,
  buildCaCerts: settings.simulator.buildCaCerts,
  startAfter: influxdb.container,
  limits: settings.simulator.limits,
  policy: settings.containers,
});

export const grafanaUrl = grafana.url;
export const grafanaAdminUser = settings.grafana.adminUser;
export const grafanaAdminPassword = credentials.grafanaAdminPassword;
export const influxdbUrlInsideNetwork = influxdb.url;
export const influxdbOperatorToken = credentials.influxOperatorToken;
export const influxdbAdminUser = settings.influx.adminUser;
export const influxdbAdminPassword = credentials.influxAdminPassword;
/** PEM of the stack CA: import it into a browser or pass it to a client to trust the stack. */
export const caCertificatePem = pki?.caCertPem;
export const simulatorImage = simulator.imageRef;
export const images = { influxdb: influxdb.image, grafana: grafana.image };
