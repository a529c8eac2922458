import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import dockerignore from "@balena/dockerignore";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { FileVolume, type StagedFile } from "./file-volume";
import { hardenedContainerArgs, healthcheck } from "./hardening";
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
  /** the Docker host's platform the image is built for, e.g. "linux/arm64" (not the machine running Pulumi) */
  platform: string;
  /**
   * PEM of extra CA certificates npm trusts while the image is built (a TLS-intercepting proxy's
   * CA). Passed as a build argument of the build stage only; never in the final image.
   */
  buildCaCerts?: string;
  /** the InfluxDB container: the simulator starts only after it is healthy */
  startAfter: docker.Container;
  limits: Limits;
  policy: ContainerPolicy;
}

const FILES_DIR = "/etc/iot/simulator";
const TOKEN_DIR = "/run/secrets/influxdb-token";
/**
 * Docker waits this long after SIGTERM before SIGKILL. The simulator ends within its own deadline
 * (SIM_SHUTDOWN_TIMEOUT_MS, below) of SIGTERM; the margin covers process exit and the engine's
 * teardown on a busy host (on the real engine 8 s left only about 1 s, and once not enough).
 */
const STOP_TIMEOUT_SECONDS = 15;
const SHUTDOWN_TIMEOUT_MS = 8000;

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
        build: {
          context: args.sourceDir,
          dockerfile: join(args.sourceDir, "Dockerfile"),
          platform: args.platform,
          args: args.buildCaCerts ? { BUILD_CA_CERTS: args.buildCaCerts } : undefined,
        },
        skipPush: true,
      },
      { parent: this },
    );
    this.imageRef = this.image.imageName;
    // Containers run the image by its id (for a local build, repoDigest is the image id): a tag
    // that is no longer on the host would send Docker to Docker Hub for an image that is not there.
    const imageId = this.image.repoDigest;

    const files: StagedFile[] = args.influx.caCertPem
      ? [{ path: "tls/ca.pem", content: args.influx.caCertPem, owner: SIMULATOR_USER.uid, group: SIMULATOR_USER.gid, mode: "0444" }]
      : [];
    const staged = new FileVolume(`${name}-files`, { volumeName: `${prefix}-files`, image: imageId, files }, { parent: this });

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
      `SIM_SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS}`,
      // The simulator always runs on the same Docker host as InfluxDB: gzip would cost CPU
      // (about half the write path, docs/PERFORMANCE.md) and save no bandwidth.
      "SIM_GZIP=false",
    ];
    if (args.influx.caCertPem) envs.push(`INFLUX_CA_FILE=${FILES_DIR}/tls/ca.pem`);

    this.container = new docker.Container(
      `${name}-container`,
      hardenedContainerArgs(prefix, {
        image: imageId,
        user: `${SIMULATOR_USER.uid}:${SIMULATOR_USER.gid}`,
        limits: args.limits,
        policy: args.policy,
        init: true,
        tmpfs: { "/tmp": "size=8m" },
        hostname: "simulator",
        envs,
        mounts: [
          { type: "volume", source: staged.volumeName, target: FILES_DIR, readOnly: true },
          // The simulator's own token volume, nothing else of InfluxDB's: the write-only token.
          tokenMount(args.influx.writeToken, TOKEN_DIR),
        ],
        networksAdvanced: [{ name: args.backendNetworkName }],
        labels: [
          { label: "iot.files-revision", value: staged.revision },
          { label: "iot.after", value: args.startAfter.id },
        ],
        // The image's own HEALTHCHECK, repeated so that the program states it (and Docker keeps it).
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
    this.registerOutputs({ imageRef: this.imageRef, containerId: this.container.id });
  }
}

/**
 * sha256 over the files Docker sends as the build context: those that .dockerignore lets through,
 * read with the same rules Docker applies (@balena/dockerignore), so a change to anything that
 * reaches the image gives a new tag and nothing else does.
 */
export function sourceHash(dir: string): string {
  const ignored = dockerignore().add(readFileSync(join(dir, ".dockerignore"), "utf8").split("\n"));
  const hash = createHash("sha256");
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      const path = join(current, entry);
      const rel = relative(dir, path);
      if (ignored.ignores(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(rel).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  walk(dir);
  return hash.digest("hex");
}
