// The secure IoT stack: reads and validates the stack configuration once, composes the
// components, exports what an operator needs. Nothing else happens here.
import { isIP } from "node:net";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { BRIDGE_IDENTITY, HEALTH_IDENTITY, deviceTopic } from "./components/broker-config";
import { Credentials } from "./components/credentials";
import { DeviceBridge } from "./components/device-bridge";
import { DeviceRevocationList } from "./components/device-crl";
import { Grafana } from "./components/grafana";
import { InfluxDb } from "./components/influxdb";
import { MqttBroker } from "./components/mqtt-broker";
import { MqttSimulator } from "./components/mqtt-simulator";
import { Network } from "./components/network";
import { TELEGRAF_IMAGE as BRIDGE_IMAGE } from "./components/images";
import { Pki } from "./components/pki";
import { Simulator } from "./components/simulator";
import { dashboardOptions, provisionedFiles } from "./dashboards";
import { loadSettings } from "./settings";

const settings = loadSettings(pulumi.runtime.allConfig(), pulumi.getStack());
for (const warning of settings.warnings) pulumi.log.warn(warning);

const INFLUX_ALIAS = "influxdb";
const GRAFANA_ALIAS = "grafana";
const BROKER_ALIAS = "broker";
/** QoS 1 messages the broker keeps for the bridge while it is away: the no-loss bound of the MQTT path. */
const BROKER_QUEUE_MESSAGES = 100_000;
/**
 * The same queue in payload bytes, 32 MiB: readings are a few hundred bytes, so the count is what
 * binds them, but a message may be up to 64 KiB (max_packet_size). A full queue of readings held the
 * broker at 105 MiB resident (docs/PERFORMANCE.md, the MQTT path's limit), hence brokerMemoryMb 256.
 */
const BROKER_QUEUE_BYTES = 33_554_432;
/** Messages the bridge has taken and not yet written; the broker lets it have that many in flight. */
const BRIDGE_UNDELIVERED_MESSAGES = 1000;

const network = new Network("network", { namePrefix: settings.namePrefix });

const externalIps = settings.tls.grafanaExternalNames.filter((n) => isIP(n) !== 0);
const externalDns = settings.tls.grafanaExternalNames.filter((n) => isIP(n) === 0);
const mqttDevices = [...settings.mqtt.devices, ...settings.mqtt.simulatedDevices];
const mqttExternalIps = settings.mqtt.externalNames.filter((n) => isIP(n) !== 0);
const mqttExternalDns = settings.mqtt.externalNames.filter((n) => isIP(n) === 0);
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
        ...(settings.mqtt.enabled && {
          broker: {
            dnsNames: [...new Set([...mqttExternalDns, BROKER_ALIAS, "localhost"])],
            ipAddresses: [...new Set([...mqttExternalIps, "127.0.0.1"])],
          },
        }),
      },
      clients: settings.mqtt.enabled ? [...mqttDevices.map((d) => d.id), BRIDGE_IDENTITY, HEALTH_IDENTITY] : [],
    })
  : undefined;
const serverTls = (server: "influxdb" | "grafana" | "broker") =>
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

// Devices over MQTT: only when some are declared (settings.ts refuses them without TLS).
const deviceIngest =
  settings.mqtt.enabled && pki
    ? (() => {
        const crl = new DeviceRevocationList("device-crl", {
          caCertPem: pki.caCertPem,
          caKeyPkcs8Pem: pki.caPrivateKeyPkcs8Pem,
          certificates: Object.fromEntries(mqttDevices.map((d) => [d.id, pki.clients[d.id].certPem])),
        });
        const broker = new MqttBroker("broker", {
          namePrefix: settings.namePrefix,
          backendNetworkName: network.backendName,
          frontendNetworkName: network.frontendName,
          alias: BROKER_ALIAS,
          bindAddress: settings.mqtt.bindAddress,
          hostPort: settings.mqtt.port,
          tls: serverTls("broker")!,
          crlPem: crl.crlPem,
          devices: mqttDevices,
          healthIdentity: pki.clients[HEALTH_IDENTITY],
          maxQueuedMessages: BROKER_QUEUE_MESSAGES,
          maxQueuedBytes: BROKER_QUEUE_BYTES,
          maxInflightMessages: BRIDGE_UNDELIVERED_MESSAGES,
          platform: settings.platform,
          limits: settings.mqtt.brokerLimits,
          policy: settings.containers,
          protectData: settings.protectData,
        });
        new DeviceBridge("bridge", {
          namePrefix: settings.namePrefix,
          backendNetworkName: network.backendName,
          brokerUrl: broker.url,
          caCertPem: pki.caCertPem,
          identity: pki.clients[BRIDGE_IDENTITY],
          influx: { url: influxdb.url, org: settings.influx.org, bucket: settings.influx.bucket, writeToken: influxdb.bridgeToken },
          bufferLimit: 100 * BRIDGE_UNDELIVERED_MESSAGES,
          maxUndelivered: BRIDGE_UNDELIVERED_MESSAGES,
          platform: settings.platform,
          startAfter: [influxdb.container, broker.container],
          limits: settings.mqtt.bridgeLimits,
          policy: settings.containers,
        });
        if (settings.mqtt.simulatedDevices.length > 0) {
          new MqttSimulator("mqtt-simulator", {
            namePrefix: settings.namePrefix,
            imageId: simulator.image.repoDigest,
            backendNetworkName: network.backendName,
            brokerUrl: broker.url.replace(/^ssl:/, "mqtts:"),
            caCertPem: pki.caCertPem,
            identities: Object.fromEntries(settings.mqtt.simulatedDevices.map((d) => [d.id, pki.clients[d.id]])),
            site: settings.simulator.site,
            intervalMs: settings.simulator.intervalMs,
            seed: settings.simulator.seed,
            logLevel: settings.simulator.logLevel,
            startAfter: broker.container,
            limits: settings.simulator.limits,
            policy: settings.containers,
          });
        }
        const host = settings.mqtt.externalNames[0];
        return {
          broker,
          outputs: {
            host,
            port: settings.mqtt.port,
            devices: Object.fromEntries(
              settings.mqtt.devices.map((d) => [
                d.id,
                { site: d.site, topic: deviceTopic(d), certPem: pki.clients[d.id].certPem, notAfter: pki.clients[d.id].notAfter },
              ]),
            ),
          },
          keys: pulumi.secret(Object.fromEntries(settings.mqtt.devices.map((d) => [d.id, pki.clients[d.id].privateKeyPem]))),
        };
      })()
    : undefined;

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
export const images = { influxdb: influxdb.image, grafana: grafana.image, ...(deviceIngest && { broker: deviceIngest.broker.image, bridge: BRIDGE_IMAGE }) };
/** Where real devices connect and what each may publish (npm run device -- list | bundle). */
export const mqtt = deviceIngest?.outputs;
/** Each declared device's private key (PKCS#8 PEM), secret: npm run device -- bundle writes it for the device. */
export const deviceKeys = deviceIngest?.keys;
