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

/** A file a FileVolume loader uploads: its path and content as sent to the provider. */
interface Upload {
  file: string;
  content: string;
}
const uploadsOf = (p: Props): Upload[] => (Array.isArray(p.uploads) ? p.uploads : []).filter((u: any) => typeof u?.file === "string" && typeof u?.content === "string");
const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/**
 * The options of a mosquitto.conf by listener: Mosquitto applies a listener option (certfile,
 * require_certificate, ...) to the listener declared last before it, or to the default listener
 * (`port`, or none at all) when it comes first (mosquitto.conf(5), "Listeners").
 */
function mosquittoListeners(conf: string): { global: Map<string, string[]>; listeners: Array<{ name: string; options: Map<string, string[]> }> } {
  const global = new Map<string, string[]>();
  const listeners: Array<{ name: string; options: Map<string, string[]> }> = [];
  let current = global;
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [name, ...rest] = line.split(/\s+/);
    const value = rest.join(" ");
    if (name === "listener") {
      listeners.push({ name: `listener ${value}`, options: new Map() });
      current = listeners[listeners.length - 1].options;
      continue;
    }
    current.set(name, [...(current.get(name) ?? []), value]);
  }
  // Mosquitto 2 opens the default listener when `port` is set, or (local only) when no listener is declared
  if (global.has("port") || listeners.length === 0) listeners.unshift({ name: global.has("port") ? `port ${global.get("port")!.join()}` : "the default listener (no listener declared)", options: global });
  return { global, listeners };
}

/** A rule about the MQTT broker's configuration as a FileVolume loader stages it (a file named mosquitto.conf). */
function brokerConfigRule(name: string, description: string, check: (conf: string, uploads: Upload[], report: ReportViolation) => void): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      if (args.type !== CONTAINER) return;
      const uploads = uploadsOf(args.props);
      for (const upload of uploads.filter((u) => baseName(u.file) === "mosquitto.conf")) check(upload.content, uploads, report);
    },
  };
}

const isTrue = (values: string[] | undefined) => values !== undefined && values.length > 0 && values.every((v) => v === "true");
/** The started broker: its command runs mosquitto (components/mqtt-broker.ts). */
const isBroker = (p: Props) => p.start !== false && Array.isArray(p.command) && /(^|\/)mosquitto$/.test(String(p.command[0] ?? ""));

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
  brokerConfigRule(
    "mqtt-broker-no-anonymous",
    "The MQTT broker never lets a client in without an identity (allow_anonymous is never true).",
    (conf, _uploads, report) => {
      const { global, listeners } = mosquittoListeners(conf);
      for (const [where, options] of [["the configuration", global] as const, ...listeners.map((l) => [l.name, l.options] as const)]) {
        if ((options.get("allow_anonymous") ?? []).includes("true")) report(`mosquitto.conf: allow_anonymous true in ${where}; a client must be identified by its certificate`);
      }
    },
  ),
  brokerConfigRule(
    "mqtt-broker-tls-listeners-only",
    "Every MQTT listener is TLS (certfile and keyfile): no plaintext listener, the default one included.",
    (conf, _uploads, report) => {
      for (const listener of mosquittoListeners(conf).listeners) {
        for (const option of ["certfile", "keyfile", "cafile"]) {
          if (!listener.options.get(option)?.length) report(`mosquitto.conf: ${listener.name} has no ${option}: it would accept plaintext MQTT or unverifiable clients`);
        }
      }
    },
  ),
  brokerConfigRule(
    "mqtt-broker-certificate-identity",
    "Every MQTT listener requires a client certificate and takes the client's identity from it (require_certificate, use_identity_as_username).",
    (conf, _uploads, report) => {
      for (const listener of mosquittoListeners(conf).listeners) {
        for (const option of ["require_certificate", "use_identity_as_username"]) {
          if (!isTrue(listener.options.get(option))) report(`mosquitto.conf: ${listener.name} does not set ${option} true`);
        }
      }
    },
  ),
  brokerConfigRule(
    "mqtt-broker-acl",
    "The MQTT broker loads an ACL file that it is given, which grants no write to a wildcard and nothing to every client.",
    (conf, uploads, report) => {
      const aclFiles = mosquittoListeners(conf).global.get("acl_file") ?? [];
      if (aclFiles.length !== 1) {
        report(`mosquitto.conf: ${aclFiles.length === 0 ? "no acl_file: every identified client could publish and subscribe anywhere" : "acl_file set more than once"}`);
        return;
      }
      const acl = uploads.find((u) => baseName(u.file) === baseName(aclFiles[0]));
      if (!acl) {
        report(`mosquitto.conf: acl_file ${aclFiles[0]} is not among the files staged with it`);
        return;
      }
      let user: string | undefined;
      for (const raw of acl.content.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const [keyword, ...rest] = line.split(/\s+/);
        if (keyword === "user") user = rest.join(" ");
        else if (keyword === "pattern") report(`ACL: "${line}" applies to every client`);
        else if (keyword === "topic") {
          // "topic <filter>" alone grants readwrite
          const [access, filter] = rest.length === 1 ? ["readwrite", rest[0]] : [rest[0], rest.slice(1).join(" ")];
          if (user === undefined) report(`ACL: "${line}" comes before any user line, so it applies to anonymous clients`);
          if ((access === "write" || access === "readwrite") && /[+#]/.test(filter)) report(`ACL: ${user ?? "anonymous"} may publish to the wildcard ${filter}`);
        }
      }
    },
  ),
  containerRule("mqtt-broker-published-on-one-address", "The MQTT broker publishes one TCP port, on an address it names.", (p, report) => {
    if (!isBroker(p)) return;
    const ports: any[] = p.ports ?? [];
    if (ports.length > 1) report(`the broker publishes ${ports.length} ports; it has one listener`);
    for (const port of ports) {
      if (!port.ip || port.ip === "::") report(`the broker's port ${port.external ?? port.internal} names no IPv4 address to bind to`);
      if ((port.protocol ?? "tcp") !== "tcp") report(`the broker's port ${port.external ?? port.internal} is ${port.protocol}, not tcp`);
    }
  }),
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
