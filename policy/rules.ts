// The stack's security baseline as CrossGuard rules: what components/hardening.ts and the
// components do, checked again on every resource at `pulumi preview/up --policy-pack policy`,
// so a change that weakens a container is stopped before it is deployed.
// Rules read plain resource properties, so they are tested directly (policy/rules.test.ts).
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

const CONTAINER = "docker:index/container:Container";
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

type Props = Record<string, any>;

/** A rule about started containers; loaders (created, never started) are exempt where noted. */
function containerRule(
  name: string,
  description: string,
  check: (props: Props, report: ReportViolation) => void,
  options: { includeLoaders?: boolean; enforcementLevel?: "mandatory" | "advisory" } = {},
): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: options.enforcementLevel ?? "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      if (args.type !== CONTAINER) return;
      if (args.props.start === false && !options.includeLoaders) return;
      check(args.props, report);
    },
  };
}

const HOST = "host";

export const policies: ResourceValidationPolicy[] = [
  containerRule(
    "container-not-root",
    "Containers run as a non-root numeric user.",
    (p, report) => {
      const user = String(p.user ?? "");
      if (user === "" || /^(0|root)(:|$)/.test(user)) report(`runs as "${user || "the image's default user"}"; set a non-root uid:gid`);
    },
    { includeLoaders: true },
  ),
  containerRule("container-read-only-root", "Started containers have a read-only root filesystem.", (p, report) => {
    if (p.readOnly !== true) report("the root filesystem is writable; set readOnly and give tmpfs to the paths the image writes");
  }),
  containerRule(
    "container-drop-all-capabilities",
    "All Linux capabilities are dropped; none is added back without review.",
    (p, report) => {
      const drops: string[] = p.capabilities?.drops ?? [];
      const adds: string[] = p.capabilities?.adds ?? [];
      if (!drops.includes("ALL")) report('capabilities.drops must contain "ALL"');
      if (adds.length > 0) report(`adds capabilities back: ${adds.join(", ")}`);
    },
    { includeLoaders: true },
  ),
  containerRule(
    "container-no-new-privileges",
    "Processes cannot gain privileges (no-new-privileges).",
    (p, report) => {
      const opts: string[] = p.securityOpts ?? [];
      if (!opts.some((o) => o === "no-new-privileges:true" || o === "no-new-privileges")) report('securityOpts must contain "no-new-privileges:true"');
    },
    { includeLoaders: true },
  ),
  containerRule(
    "container-keeps-engine-confinement",
    "The engine's default seccomp and AppArmor profiles and SELinux labels stay on (never unconfined or disabled).",
    (p, report) => {
      for (const opt of (p.securityOpts ?? []) as string[]) {
        if (/^(seccomp|apparmor)[=:]unconfined$/i.test(opt) || /^label[=:]disable$/i.test(opt)) report(`securityOpts turns confinement off: "${opt}"`);
      }
    },
    { includeLoaders: true },
  ),
  containerRule(
    "container-no-privileged-or-host-namespaces",
    "No privileged mode, no host network, PID, IPC or user namespace.",
    (p, report) => {
      if (p.privileged === true) report("runs privileged");
      for (const key of ["networkMode", "pidMode", "ipcMode", "usernsMode"]) {
        if (p[key] === HOST) report(`${key} is "host"`);
      }
    },
    { includeLoaders: true },
  ),
  containerRule(
    "container-no-host-paths",
    "No bind mounts of host paths, and never the Docker socket.",
    (p, report) => {
      for (const mount of p.mounts ?? []) {
        if (mount.type !== "volume" && mount.type !== "tmpfs") report(`mounts a ${mount.type} at ${mount.target}`);
        if (String(mount.source ?? "").includes("docker.sock")) report(`mounts the Docker socket at ${mount.target}`);
      }
      for (const volume of p.volumes ?? []) {
        if (volume.hostPath) report(`mounts the host path ${volume.hostPath}`);
      }
    },
    { includeLoaders: true },
  ),
  containerRule("container-resource-limits", "Started containers have memory (without extra swap) and CPU limits.", (p, report) => {
    if (!(p.memory > 0)) report("no memory limit");
    if (p.memory > 0 && p.memorySwap !== undefined && p.memorySwap !== p.memory) report("memorySwap allows swap beyond the memory limit");
    if (!(Number(p.cpus) > 0)) report("no CPU limit");
  }),
  containerRule("container-bounded-restarts-and-logs", "Restarts are bounded or deliberate, and logs are rotated.", (p, report) => {
    if (p.restart === "always") report('restart "always" also restarts a container an operator stopped; use on-failure or unless-stopped');
    if (p.restart === "on-failure" && !(p.maxRetryCount > 0)) report("restart on-failure without maxRetryCount retries forever");
    if (!p.logOpts?.["max-size"]) report("logs are not rotated (logOpts max-size)");
  }),
  containerRule("container-health-gated", "Started containers have a health check, and pulumi up waits for healthy.", (p, report) => {
    if (!p.healthcheck?.tests?.length) report("no health check");
    if (p.wait !== true) report("pulumi up does not wait for the container to be healthy (wait)");
  }),
  containerRule(
    "published-ports-bound-to-an-address",
    "Published ports name the host address they bind to (loopback unless deliberately otherwise).",
    (p, report) => {
      for (const port of p.ports ?? []) {
        if (!port.ip || port.ip === "0.0.0.0" || port.ip === "::") report(`port ${port.external ?? port.internal} is published on every host address`);
      }
    },
    { enforcementLevel: "advisory" },
  ),
  {
    name: "image-pinned-by-digest",
    description: "Images are pulled by digest, never by a moving tag such as latest.",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      if (args.type !== REMOTE_IMAGE) return;
      const name = String(args.props.name ?? "");
      if (!/@sha256:[0-9a-f]{64}$/.test(name)) report(`${name} is not pinned by digest`);
      if (/:latest(@|$)/.test(name)) report(`${name} uses the latest tag`);
    },
  },
];
