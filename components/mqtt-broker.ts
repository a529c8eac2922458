import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { HEALTH_TOPIC, renderAcl, renderMosquittoConf, type DeviceIdentity } from "./broker-config";
import { FileVolume, stagedFileFor } from "./file-volume";
import { hardenedContainerArgs, healthcheck } from "./hardening";
import { MOSQUITTO_IMAGE, MOSQUITTO_USER } from "./images";
import type { ServerTls } from "./influxdb";

export interface ClientIdentity {
  certPem: pulumi.Input<string>;
  /** secret */
  privateKeyPem: pulumi.Input<string>;
}

export interface MqttBrokerArgs {
  namePrefix: string;
  backendNetworkName: pulumi.Input<string>;
  /** a non-internal network: a port can only be published from one */
  frontendNetworkName: pulumi.Input<string>;
  /** network alias the bridge uses; must be in the server certificate */
  alias: string;
  /** host address and port of the published TLS listener */
  bindAddress: string;
  hostPort: number;
  tls: ServerTls;
  /** the stack CA's revocation list of device certificates (PEM) */
  crlPem: pulumi.Input<string>;
  /** every device allowed to publish, with the site of its topic */
  devices: DeviceIdentity[];
  /** the health check's own client certificate (CN broker-health), allowed to read one $SYS topic */
  healthIdentity: ClientIdentity;
  /** QoS 1 messages kept for the bridge while it is away (max_queued_messages) */
  maxQueuedMessages: number;
  /** the same queue's bound in payload bytes (max_queued_bytes) */
  maxQueuedBytes: number;
  /** the bridge's max_undelivered_messages (max_inflight_messages) */
  maxInflightMessages: number;
  platform: string;
  limits: Limits;
  policy: ContainerPolicy;
  protectData: boolean;
}

const PORT = 8883;
const FILES_DIR = "/etc/iot/broker";
/** The image's VOLUME for persistence, owned by mosquitto (1883) in the image. */
const DATA_DIR = "/mosquitto/data";

/**
 * Eclipse Mosquitto: one MQTT listener (3.1.1 and 5) over TLS where a client is the CN of its
 * certificate, which must chain to the stack CA and not be revoked; a deny-by-default ACL that lets
 * each device publish to its own topic only and the bridge read them.
 *
 * Revocation takes effect by replacing the container: the CRL and the ACL are files of its files
 * volume, whose revision is a label of the container, so any change to the declared devices (a
 * device removed, added, or its certificate renewed) recreates it. A restart closes every session,
 * including one a revoked device holds; Mosquitto re-reads a CRL on SIGHUP but leaves open sessions
 * running (src/security_default.c in v2.0.11 re-applies the ACL to connected clients, never the CRL),
 * and the others reconnect within seconds. Sessions and queued messages survive on the data volume
 * (persistence, saved at shutdown).
 */
export class MqttBroker extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly dataVolume: docker.Volume;
  /** the URL the bridge uses on the backend network */
  readonly url: string;
  readonly image: string = MOSQUITTO_IMAGE;

  constructor(name: string, args: MqttBrokerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:MqttBroker", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const { uid, gid } = MOSQUITTO_USER;
    const image = new docker.RemoteImage(`${name}-image`, { name: MOSQUITTO_IMAGE, keepLocally: true, platform: args.platform }, { parent: this });

    this.dataVolume = new docker.Volume(`${name}-data`, { name: `${prefix}-data`, driver: "local" }, { parent: this, protect: args.protectData });

    const conf = renderMosquittoConf({
      port: PORT,
      certFile: `${FILES_DIR}/tls/server.crt`,
      keyFile: `${FILES_DIR}/tls/server.key`,
      caFile: `${FILES_DIR}/tls/ca.pem`,
      crlFile: `${FILES_DIR}/tls/crl.pem`,
      aclFile: `${FILES_DIR}/acl`,
      persistenceDir: `${DATA_DIR}/`,
      tlsMinVersion: args.tls.minVersion,
      maxQueuedMessages: args.maxQueuedMessages,
      maxQueuedBytes: args.maxQueuedBytes,
      maxInflightMessages: args.maxInflightMessages,
    });
    const file = stagedFileFor(MOSQUITTO_USER);
    const staged = new FileVolume(
      `${name}-files`,
      {
        volumeName: `${prefix}-files`,
        image: image.imageId,
        files: [
          file("mosquitto.conf", conf),
          file("acl", renderAcl(args.devices)),
          file("tls/server.crt", args.tls.certPem),
          file("tls/server.key", args.tls.privateKeyPem),
          file("tls/ca.pem", args.tls.caCertPem),
          file("tls/crl.pem", args.crlPem),
          file("health/client.crt", args.healthIdentity.certPem),
          file("health/client.key", args.healthIdentity.privateKeyPem),
        ],
      },
      { parent: this },
    );

    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: image.imageId,
        user: `${uid}:${gid}`,
        limits: args.limits,
        policy: args.policy,
        command: ["mosquitto", "-c", `${FILES_DIR}/mosquitto.conf`],
        tmpfs: { "/tmp": "size=4m" },
        // No hostname: the engine would add it as an alias on the frontend network too (moby
        // #39204, seen on the engine tier); the bridge finds the broker by its backend alias.
        mounts: [
          { type: "volume", source: this.dataVolume.name, target: DATA_DIR },
          { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
        ],
        networksAdvanced: [{ name: args.backendNetworkName, aliases: [args.alias] }, { name: args.frontendNetworkName }],
        ports: [{ internal: PORT, external: args.hostPort, ip: args.bindAddress, protocol: "tcp" }],
        labels: [{ label: "iot.files-revision", value: staged.revision }],
        // A real MQTT round trip over the TLS listener with a client certificate: read one $SYS
        // message (published every 10 s, sys_interval) as the health identity.
        healthcheck: healthcheck(
          [
            "CMD",
            "mosquitto_sub",
            "-h", "localhost",
            "-p", String(PORT),
            "--cafile", `${FILES_DIR}/tls/ca.pem`,
            "--cert", `${FILES_DIR}/health/client.crt`,
            "--key", `${FILES_DIR}/health/client.key`,
            "-t", HEALTH_TOPIC,
            "-C", "1",
            "-W", "12",
          ],
          { intervalSeconds: 30, timeoutSeconds: 15, retries: 3, startPeriodSeconds: 30 },
        ),
      }),
      { parent: this, deleteBeforeReplace: true },
    );

    this.url = `ssl://${args.alias}:${PORT}`;
    this.registerOutputs({ url: this.url, containerId: this.container.id });
  }
}
