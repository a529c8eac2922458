import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { renderTelegrafConf } from "./bridge-config";
import { FileVolume, stagedFileFor } from "./file-volume";
import { curlHealthcheck, hardenedContainerArgs } from "./hardening";
import { TELEGRAF_IMAGE, TELEGRAF_USER } from "./images";
import { tokenMount, type TokenHandoff } from "./influxdb";
import type { ClientIdentity } from "./mqtt-broker";

export interface DeviceBridgeArgs {
  namePrefix: string;
  backendNetworkName: pulumi.Input<string>;
  /** the broker's URL on the backend network, e.g. ssl://broker:8883 */
  brokerUrl: string;
  /** the stack CA: the broker's and InfluxDB's certificates must chain to it */
  caCertPem: pulumi.Input<string>;
  /** the bridge's client certificate (CN bridge) */
  identity: ClientIdentity;
  influx: { url: string; org: pulumi.Input<string>; bucket: pulumi.Input<string>; writeToken: TokenHandoff };
  /** readings held for InfluxDB while it cannot take them */
  bufferLimit: number;
  /** messages taken from the broker and not yet written; the broker's max_inflight_messages matches it */
  maxUndelivered: number;
  platform: string;
  /** InfluxDB's and the broker's containers: the bridge starts once both are healthy */
  startAfter: docker.Container[];
  limits: Limits;
  policy: ContainerPolicy;
}

const FILES_DIR = "/etc/iot/bridge";
const TOKEN_DIR = "/run/secrets/influxdb-token";
const HEALTH_ADDRESS = "127.0.0.1:8080";

/**
 * Telegraf between the broker and InfluxDB: subscribes to every device's topic with its own client
 * certificate, tags each reading with the device and site its topic names (which the broker's ACL
 * ties to the publishing certificate), lets only the schema through, and writes with its own
 * write-only token for the one bucket, verifying InfluxDB against the stack CA. A message is
 * acknowledged to the broker only once InfluxDB has it (components/bridge-config.ts).
 */
export class DeviceBridge extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly image: string = TELEGRAF_IMAGE;

  constructor(name: string, args: DeviceBridgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:DeviceBridge", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const { uid, gid } = TELEGRAF_USER;
    const image = new docker.RemoteImage(`${name}-image`, { name: TELEGRAF_IMAGE, keepLocally: true, platform: args.platform }, { parent: this });

    const conf = pulumi
      .all([args.influx.org, args.influx.bucket])
      .apply(([org, bucket]) =>
        renderTelegrafConf({
          brokerUrl: args.brokerUrl,
          caFile: `${FILES_DIR}/tls/ca.pem`,
          certFile: `${FILES_DIR}/tls/client.crt`,
          keyFile: `${FILES_DIR}/tls/client.key`,
          influxUrl: args.influx.url,
          influxCaFile: `${FILES_DIR}/tls/ca.pem`,
          org,
          bucket,
          tokenDir: TOKEN_DIR,
          bufferLimit: args.bufferLimit,
          maxUndelivered: args.maxUndelivered,
          healthAddress: HEALTH_ADDRESS,
        }),
      );
    const file = stagedFileFor(TELEGRAF_USER);
    const staged = new FileVolume(
      `${name}-files`,
      {
        volumeName: `${prefix}-files`,
        image: image.imageId,
        files: [
          file("telegraf.conf", conf),
          file("tls/ca.pem", args.caCertPem),
          file("tls/client.crt", args.identity.certPem),
          file("tls/client.key", args.identity.privateKeyPem),
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
        // Strict handling of ${VAR} in the config (the default from Telegraf 1.38; the config uses
        // none): without the flag 1.37 warns at every start.
        command: ["telegraf", "--strict-env-handling", "--config", `${FILES_DIR}/telegraf.conf`],
        tmpfs: { "/tmp": "size=4m" },
        hostname: "bridge",
        mounts: [
          { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
          // The bridge's own token volume, nothing else of InfluxDB's: the write-only token.
          tokenMount(args.influx.writeToken, TOKEN_DIR),
        ],
        networksAdvanced: [{ name: args.backendNetworkName }],
        // No label on the broker's id: Telegraf reconnects when the broker is replaced (a
        // revocation) and resumes its persistent session, so it is not recreated with it.
        labels: [{ label: "iot.files-revision", value: staged.revision }],
        healthcheck: curlHealthcheck(`http://${HEALTH_ADDRESS}/`, undefined, {
          intervalSeconds: 15,
          timeoutSeconds: 5,
          retries: 3,
          startPeriodSeconds: 30,
        }),
      }),
      { parent: this, deleteBeforeReplace: true, dependsOn: args.startAfter },
    );
    this.registerOutputs({ containerId: this.container.id });
  }
}
