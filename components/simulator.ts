import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume } from "./file-volume";
import { hardenedContainerArgs } from "./hardening";
import { SIMULATOR_USER } from "./images";
import { tokenMount, type TokenHandoff } from "./influxdb";

export interface SimulatorArgs {
  namePrefix: string;
  /** the simulator package: its Dockerfile builds the image */
  sourceDir: string;
  backendNetworkName: pulumi.Input<string>;
  influx: { url: string; org: pulumi.Input<string>; bucket: pulumi.Input<string>; writeToken: TokenHandoff; caCertPem?: pulumi.Input<string> };
  devices: number;
  intervalMs: number;
  site: string;
  seed: number;
  logLevel: string;
  /** the InfluxDB container: the simulator starts only after it is healthy */
  startAfter: docker.Container;
  limits: Limits;
  policy: ContainerPolicy;
}

const FILES_DIR = "/etc/iot/simulator";
const TOKEN_DIR = "/run/secrets/influxdb-token";
/** Docker waits this long after SIGTERM; the simulator's own flush deadline (8 s) stays below it. */
const STOP_TIMEOUT_SECONDS = 10;

/**
 * The device fleet: an image built from simulator/ by the program itself (no registry), run with
 * the write-only token and the stack CA, after InfluxDB is healthy.
 */
export class Simulator extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly image: docker.Image;
  /** the local image reference: name and a tag derived from the source it was built from */
  readonly imageRef: pulumi.Output<string>;

  constructor(name: string, args: SimulatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Simulator", name, {}, opts);
    const prefix = `${args.namePrefix}-${name}`;
    const version = JSON.parse(readFileSync(join(args.sourceDir, "package.json"), "utf8")).version as string;
    // An immutable tag: the same sources always give the same tag, a change gives a new one
    // (and so a new container); never "latest".
    const tag = `${version}-${sourceHash(args.sourceDir).slice(0, 12)}`;

    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: `${prefix}:${tag}`,
        build: { context: args.sourceDir, dockerfile: join(args.sourceDir, "Dockerfile") },
        skipPush: true,
      },
      { parent: this },
    );
    this.imageRef = this.image.imageName;

    const files = args.influx.caCertPem
      ? [{ path: "tls/ca.pem", content: args.influx.caCertPem, owner: 0, group: 0, mode: "0444" }]
      : [];
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: this.image.imageName, files }, { parent: this });

    const envs: pulumi.Input<string>[] = [
      `INFLUX_URL=${args.influx.url}`,
      pulumi.interpolate`INFLUX_ORG=${args.influx.org}`,
      pulumi.interpolate`INFLUX_BUCKET=${args.influx.bucket}`,
      `INFLUX_TOKEN_FILE=${TOKEN_DIR}/token`,
      `SIM_DEVICES=${args.devices}`,
      `SIM_INTERVAL_MS=${args.intervalMs}`,
      `SIM_SITE=${args.site}`,
      `SIM_SEED=${args.seed}`,
      `LOG_LEVEL=${args.logLevel}`,
      "SIM_HEALTH_FILE=/tmp/simulator-health.json",
      // The simulator always runs on the same Docker host as InfluxDB: gzip would cost CPU
      // (about half the write path, docs/PERFORMANCE.md) and save no bandwidth.
      "SIM_GZIP=false",
    ];
    if (args.influx.caCertPem) envs.push(`INFLUX_CA_FILE=${FILES_DIR}/tls/ca.pem`);

    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: this.image.imageName,
        user: `${SIMULATOR_USER.uid}:${SIMULATOR_USER.gid}`,
        limits: args.limits,
        policy: args.policy,
        init: true,
        tmpfs: { "/tmp": "size=8m" },
        hostname: "simulator",
        envs,
        mounts: [
          { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
          // Only the simulator's own directory of the InfluxDB config volume: the write-only token.
          tokenMount(args.influx.writeToken, TOKEN_DIR),
        ],
        networksAdvanced: [{ name: args.backendNetworkName }],
        labels: [
          { label: "iot.files-revision", value: staged.revision },
          { label: "iot.after", value: args.startAfter.id },
        ],
        healthcheck: {
          tests: ["CMD", "node", "dist/healthcheck.js"],
          interval: "15s",
          timeout: "5s",
          retries: 3,
          startPeriod: "60s",
        },
        stopTimeoutSeconds: STOP_TIMEOUT_SECONDS,
      }),
      { parent: this, deleteBeforeReplace: true, dependsOn: [args.startAfter] },
    );
    this.registerOutputs({ imageRef: this.imageRef, containerId: this.container.id });
  }
}

/** sha256 over the files the image is built from (what .dockerignore lets through). */
export function sourceHash(dir: string): string {
  const hash = createHash("sha256");
  const skip = new Set(["node_modules", "dist", "test", ".git"]);
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      if (skip.has(entry)) continue;
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (!entry.endsWith(".md")) hash.update(relative(dir, path)).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  walk(dir);
  return hash.digest("hex");
}
