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
    capabilities: { drops: ["ALL"], adds: spec.capabilitiesToAdd ?? [] },
    securityOpts: ["no-new-privileges:true"],
    ipcMode: "private",
    init: spec.init ?? false,
    memory: spec.limits.memoryMb,
    // Equal to memory: no swap on top of the limit.
    memorySwap: spec.limits.memoryMb,
    cpus: (spec.limits.cpuMillis / 1000).toFixed(3),
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
  };
}

/**
 * A health check that fetches `url` with curl (which both official images ship), verifying the
 * server against `caFile` when one is given. Callers set interval and timeout.
 */
export function curlHealthcheck(url: string, caFile?: string | false): docker.types.input.ContainerHealthcheck {
  const base = ["CMD", "curl", "-fsS", "-o", "/dev/null"];
  return { tests: caFile ? [...base, "--cacert", caFile, url] : [...base, url], retries: 5, startPeriod: "60s" };
}
