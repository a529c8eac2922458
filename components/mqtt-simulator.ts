import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume, stagedFileFor, type StagedFile } from "./file-volume";
import { hardenedContainerArgs, healthcheck } from "./hardening";
import { SIMULATOR_USER } from "./images";
import type { ClientIdentity } from "./mqtt-broker";

export interface MqttSimulatorArgs {
  namePrefix: string;
  /** the simulator's image, built once by the Simulator component */
  imageId: pulumi.Input<string>;
  backendNetworkName: pulumi.Input<string>;
  /** the broker's URL on the backend network, e.g. mqtts://broker:8883 */
  brokerUrl: string;
  caCertPem: pulumi.Input<string>;
  /** one client certificate per simulated device, by device id */
  identities: Record<string, ClientIdentity>;
  site: string;
  intervalMs: number;
  seed: number;
  logLevel: string;
  /** the broker's container: the devices connect once it is healthy */
  startAfter: docker.Container;
  limits: Limits;
  policy: ContainerPolicy;
}

const FILES_DIR = "/etc/iot/simulator";
const STOP_TIMEOUT_SECONDS = 15;
const SHUTDOWN_TIMEOUT_MS = 8000;

/**
 * Simulated devices on the devices' own path: the simulator image in MQTT mode, each device with
 * its own certificate, publishing to its own topic, so that the dashboards show readings that came
 * through the broker and the bridge next to those written over HTTPS. It holds no InfluxDB token.
 */
export class MqttSimulator extends pulumi.ComponentResource {
  readonly container: docker.Container;

  constructor(name: string, args: MqttSimulatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:MqttSimulator", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const { uid, gid } = SIMULATOR_USER;
    const file = stagedFileFor(SIMULATOR_USER);
    const files: StagedFile[] = [file("tls/ca.pem", args.caCertPem)];
    for (const [id, identity] of Object.entries(args.identities)) {
      files.push(file(`identities/${id}.crt`, identity.certPem), file(`identities/${id}.key`, identity.privateKeyPem));
    }
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: args.imageId, files }, { parent: this });

    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: args.imageId,
        user: `${uid}:${gid}`,
        limits: args.limits,
        policy: args.policy,
        init: true,
        tmpfs: { "/tmp": "size=8m" },
        hostname: name,
        envs: [
          "SIM_TRANSPORT=mqtt",
          `MQTT_URL=${args.brokerUrl}`,
          `MQTT_CA_FILE=${FILES_DIR}/tls/ca.pem`,
          `MQTT_IDENTITY_DIR=${FILES_DIR}/identities`,
          `SIM_INTERVAL_MS=${args.intervalMs}`,
          `SIM_SITE=${args.site}`,
          `SIM_SEED=${args.seed}`,
          `LOG_LEVEL=${args.logLevel}`,
          "SIM_HEALTH_FILE=/tmp/simulator-health.json",
          `SIM_SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS}`,
        ],
        mounts: [{ type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true }],
        networksAdvanced: [{ name: args.backendNetworkName }],
        // No label on the broker's id: the devices reconnect when the broker is replaced (a
        // revocation), as real devices must, so they are not recreated with it.
        labels: [{ label: "iot.files-revision", value: staged.revision }],
        healthcheck: healthcheck(["CMD", "node", "dist/healthcheck.js"], {
          intervalSeconds: 15,
          timeoutSeconds: 5,
          retries: 3,
          startPeriodSeconds: 60,
        }),
        stopTimeoutSeconds: STOP_TIMEOUT_SECONDS,
      }),
      { parent: this, deleteBeforeReplace: true, dependsOn: [args.startAfter] },
    );
    this.registerOutputs({ containerId: this.container.id });
  }
}
