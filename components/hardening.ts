// The container hardening every service shares, in one place. A component describes what is
// particular to its service (image, user, env, mounts, networks, health check); this function adds
// the security and operability baseline, which a caller cannot switch off.
//
// Known deviation: @pulumi/docker 5.2's Container has no PIDs limit (Docker's --pids-limit),
// so fork bombs are bounded only by the memory limit. Set a daemon-wide default
// ("default-pids-limit" in daemon.json) on the Docker host if you need one.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerPolicy, Limits } from "../settings";
import { cpusValue, durationValue } from "./provider-values";

export interface ServiceContainerSpec {
  image: pulumi.Input<string>;
  /** numeric "uid:gid" from the image's documentation; never root */
  user: string;
  limits: Limits;
  policy: ContainerPolicy;
  /** tmpfs mounts for the paths the image writes to at run time, e.g. { "/tmp": "size=16m" } */
  tmpfs?: Record<string, string>;
  /** Linux capabilities to add back after dropping all; each needs a comment where it is used */
  capabilitiesToAdd?: string[];
  /** inject a tiny init as PID 1 (reaps zombies, forwards signals): right for Node, not for images with their own */
  init?: boolean;
  healthcheck: docker.types.input.ContainerHealthcheck;
  envs?: pulumi.Input<pulumi.Input<string>[]>;
  mounts?: pulumi.Input<pulumi.Input<docker.types.input.ContainerMount>[]>;
  networksAdvanced: pulumi.Input<pulumi.Input<docker.types.input.ContainerNetworksAdvanced>[]>;
  ports?: pulumi.Input<pulumi.Input<docker.types.input.ContainerPort>[]>;
  command?: pulumi.Input<pulumi.Input<string>[]>;
  labels?: pulumi.Input<pulumi.Input<docker.types.input.ContainerLabel>[]>;
  hostname?: pulumi.Input<string>;
  /** seconds Docker waits after SIGTERM before SIGKILL */
  stopTimeoutSeconds?: number;
}

const DEFAULT_TMPFS_OPTIONS = "rw,noexec,nosuid,nodev";

function capabilityName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

export function hardenedContainerArgs(name: string, spec: ServiceContainerSpec): docker.ContainerArgs {
  if (/^(0|root)(:|$)/.test(spec.user)) throw new Error(`${name}: containers must not run as root (user "${spec.user}")`);
  const tmpfs: Record<string, string> = {};
  for (const [path, options] of Object.entries(spec.tmpfs ?? {})) tmpfs[path] = `${DEFAULT_TMPFS_OPTIONS},${options}`;
  return {
    name,
    image: spec.image,
    user: spec.user,
    hostname: spec.hostname,
    command: spec.command,
    envs: spec.envs,
    mounts: spec.mounts,
    ports: spec.ports,
    labels: spec.labels,
    // Attached only to the networks the component names. The provider creates the container on
    // Docker's default network and disconnects it from there before starting it whenever
    // networksAdvanced is set, so the running container is never on the default bridge;
    // networkMode stays unset (never "host").
    networksAdvanced: spec.networksAdvanced,
    readOnly: true,
    tmpfs,
    privileged: false,
    // Names as Docker stores them ("CAP_" prefix, sorted): the provider compares the stored form.
    capabilities: { drops: ["ALL"], adds: [...new Set((spec.capabilitiesToAdd ?? []).map(capabilityName))].sort() },
    securityOpts: ["no-new-privileges:true"],
    ipcMode: "private",
    init: spec.init ?? false,
    memory: spec.limits.memoryMb,
    // Equal to memory: no swap on top of the limit.
    memorySwap: spec.limits.memoryMb,
    // In the provider's read-back form, so that the next `up` sees no change (provider-values.ts).
    cpus: cpusValue(spec.limits.cpuMillis),
    restart: spec.policy.restartPolicy,
    maxRetryCount: spec.policy.restartPolicy === "on-failure" ? spec.policy.restartMaxRetries : undefined,
    logDriver: "json-file",
    logOpts: { "max-size": spec.policy.logMaxSize, "max-file": String(spec.policy.logMaxFiles) },
    healthcheck: spec.healthcheck,
    // pulumi up returns only once the container reports healthy: the health-gated start order
    // (dependents use dependsOn) rests on this.
    wait: true,
    waitTimeout: spec.policy.startupTimeoutSeconds,
    mustRun: true,
    stopTimeout: spec.stopTimeoutSeconds,
    // The provider stops a container it deletes (a replacement by a new image digest, a changed
    // setting, destroy) with this timeout, and with 0 when it is unset, then removes it by force
    // (kreuzwerker/terraform-provider-docker v4.5.0 resourceDockerContainerDelete): without it a
    // replaced InfluxDB or simulator would be killed at once, the simulator's buffer with it
    // (seen on the engine tier: the old influxd exited within 0.1 s). Docker's own default is 10 s.
    destroyGraceSeconds: spec.stopTimeoutSeconds ?? 10,
  };
}

export interface HealthTiming {
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  startPeriodSeconds: number;
}

/** A health check whose durations are in the form the provider reads back (Go's Duration.String). */
export function healthcheck(tests: string[], timing: HealthTiming): docker.types.input.ContainerHealthcheck {
  return {
    tests,
    interval: durationValue(timing.intervalSeconds),
    timeout: durationValue(timing.timeoutSeconds),
    retries: timing.retries,
    startPeriod: durationValue(timing.startPeriodSeconds),
  };
}

/**
 * A health check that fetches `url` with curl (which both official images ship), verifying the
 * server against `caFile` when one is given.
 */
export function curlHealthcheck(url: string, caFile: string | false | undefined, timing: HealthTiming): docker.types.input.ContainerHealthcheck {
  const base = ["CMD", "curl", "-fsS", "-o", "/dev/null"];
  return healthcheck(caFile ? [...base, "--cacert", caFile, url] : [...base, url], timing);
}
