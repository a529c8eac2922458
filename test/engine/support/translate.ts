// The program's declared @pulumi/docker ContainerArgs, translated to Docker Engine API create
// options (dockerode), so that the engine tier can create the containers the program declares and
// inspect what the engine made of them.
//
// This is the ENGINE's view, not the Pulumi provider's. @pulumi/docker bridges
// kreuzwerker/terraform-provider-docker, whose resourceDockerContainerCreate
// (internal/provider/resource_docker_container_funcs.go, v4.5.0) does the same mapping in Go; it
// may differ in details this module cannot see (defaults it fills in, normalisation, API version
// negotiation, the order of its calls). What the tier proves is how the engine handles these
// settings, not that the provider sends exactly them. Where the provider's behaviour is modelled
// (networks, uploads) the comment says so.
//
// The mapping, field by field (ContainerArgs → Engine API 1.41 create body):
//   name → ?name=            image → Image            user → User           hostname → Hostname
//   command → Cmd            entrypoints → Entrypoint envs → Env            labels → Labels
//   healthcheck{tests,interval,timeout,startPeriod,retries} → Healthcheck{Test,Interval,Timeout,
//     StartPeriod (nanoseconds, from Go duration strings such as "1m0s"),Retries}
//   stopTimeout → StopTimeout                          stopSignal → StopSignal
//   readOnly → HostConfig.ReadonlyRootfs               tmpfs → HostConfig.Tmpfs
//   privileged → Privileged   capabilities{adds,drops} → CapAdd, CapDrop   securityOpts → SecurityOpt
//   ipcMode → IpcMode         init → Init              networkMode → NetworkMode
//   memory, memorySwap (MB) → Memory, MemorySwap (bytes, ×1024×1024 as the provider does)
//   cpus ("0.5") → NanoCpus (exact decimal × 1e9, like the provider's opts.ParseCPUs)
//   restart, maxRetryCount → RestartPolicy{Name,MaximumRetryCount}
//   logDriver, logOpts → LogConfig{Type,Config}
//   mounts[{type,source,target,readOnly,volumeOptions,tmpfsOptions}] → HostConfig.Mounts
//   ports[{internal,external,ip,protocol}] → ExposedPorts + HostConfig.PortBindings
//   networksAdvanced[{name,aliases}] → the first as NetworkMode + EndpointsConfig, the others
//     connected after create (the provider creates on the default bridge, disconnects it and
//     connects each; API 1.41 takes one endpoint at create, and this way the container is never
//     on the default bridge either)
//   uploads → one tar per upload, put at "/" of the created container (see uploadArchive)
//   start → whether to start it; wait, waitTimeout, mustRun: provider-side, not engine settings.
// A declared key this module does not know makes translate() throw, so a new setting in the
// program cannot pass the tier untested.
import type Docker from "dockerode";
import { apiLevel, tar, type TarEntry } from "./engine";

export interface Upload {
  file: string;
  content?: string;
  contentBase64?: string;
  owner?: string;
  group?: string;
  permissions?: string;
  executable?: boolean;
}

export interface Translation {
  /** the declared name (Pulumi's `name` input) */
  declaredName: string;
  create: Docker.ContainerCreateOptions;
  /** networks after the first, connected after create */
  connect: Array<{ network: string; aliases?: string[] }>;
  uploads: Upload[];
  start: boolean;
}

export interface TranslateContext {
  /** engine name of a declared container, volume or network name */
  rename(declared: string): string;
  /** local image for a declared image reference */
  image(declared: string): string;
  /** labels every created container carries in addition to the declared ones */
  labels: Record<string, string>;
  /** the engine's API version, e.g. "1.41" */
  apiVersion: string;
}

const PROVIDER_SIDE = new Set(["wait", "waitTimeout", "mustRun", "start", "uploads", "destroyGraceSeconds", "removeVolumes", "attach", "logs", "rm"]);
const MIB = 1024 * 1024;

export function translate(declared: Record<string, any>, ctx: TranslateContext): Translation {
  const d = Object.fromEntries(Object.entries(declared).filter(([, v]) => v !== undefined && v !== null));
  const known = new Set([
    ...PROVIDER_SIDE,
    "name", "image", "user", "hostname", "command", "entrypoints", "envs", "labels", "healthcheck", "stopTimeout", "stopSignal",
    "readOnly", "tmpfs", "privileged", "capabilities", "securityOpts", "ipcMode", "init", "networkMode", "memory", "memorySwap",
    "cpus", "restart", "maxRetryCount", "logDriver", "logOpts", "mounts", "ports", "networksAdvanced",
  ]);
  const unknown = Object.keys(d).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new Error(`${d.name}: the program declares ${unknown.join(", ")}, which test/engine/support/translate.ts does not translate yet`);
  }

  const hostConfig: Docker.HostConfig = {
    ReadonlyRootfs: d.readOnly ?? false,
    Privileged: d.privileged ?? false,
    Init: d.init ?? false,
    RestartPolicy: { Name: d.restart ?? "no", MaximumRetryCount: d.maxRetryCount ?? 0 },
    LogConfig: { Type: d.logDriver ?? "json-file", Config: d.logOpts ?? {} },
  };
  if (d.tmpfs) hostConfig.Tmpfs = { ...d.tmpfs };
  if (d.capabilities) {
    hostConfig.CapAdd = d.capabilities.adds ?? [];
    hostConfig.CapDrop = d.capabilities.drops ?? [];
  }
  if (d.securityOpts) hostConfig.SecurityOpt = [...d.securityOpts];
  if (d.ipcMode) hostConfig.IpcMode = d.ipcMode;
  if (d.memory !== undefined) hostConfig.Memory = d.memory * MIB;
  if (d.memorySwap !== undefined) hostConfig.MemorySwap = d.memorySwap > 0 ? d.memorySwap * MIB : d.memorySwap;
  if (d.cpus !== undefined) hostConfig.NanoCpus = nanoCpus(d.cpus);
  if (d.mounts) hostConfig.Mounts = d.mounts.map((m: Record<string, any>) => mount(d.name, m, ctx));

  const create: Docker.ContainerCreateOptions = {
    name: ctx.rename(d.name),
    Image: ctx.image(d.image),
    Labels: { ...labelMap(d.labels), ...ctx.labels },
    HostConfig: hostConfig,
  };
  if (d.user) create.User = d.user;
  if (d.hostname) create.Hostname = d.hostname;
  if (d.command) create.Cmd = [...d.command];
  if (d.entrypoints) create.Entrypoint = [...d.entrypoints];
  if (d.envs) create.Env = [...d.envs];
  if (d.stopTimeout !== undefined) create.StopTimeout = d.stopTimeout;
  if (d.stopSignal) create.StopSignal = d.stopSignal;
  if (d.healthcheck) {
    const h = d.healthcheck;
    create.Healthcheck = {
      Test: [...h.tests],
      Interval: h.interval ? goDuration(h.interval) : undefined,
      Timeout: h.timeout ? goDuration(h.timeout) : undefined,
      StartPeriod: h.startPeriod ? goDuration(h.startPeriod) : undefined,
      Retries: h.retries,
    };
  }
  if (d.ports && d.ports.length > 0) {
    create.ExposedPorts = {};
    hostConfig.PortBindings = {};
    for (const p of d.ports) {
      const key = `${p.internal}/${p.protocol ?? "tcp"}`;
      create.ExposedPorts[key] = {};
      // The provider's schema defaults ip to 0.0.0.0; the program always names it.
      (hostConfig.PortBindings[key] ??= []).push({ HostIp: p.ip ?? "0.0.0.0", HostPort: p.external === undefined ? "" : String(p.external) });
    }
  }

  const connect: Translation["connect"] = [];
  if (d.networkMode) hostConfig.NetworkMode = d.networkMode;
  if (d.networksAdvanced && d.networksAdvanced.length > 0) {
    if (d.networkMode) throw new Error(`${d.name}: declares both networkMode and networksAdvanced`);
    const [first, ...rest] = d.networksAdvanced as Array<{ name: string; aliases?: string[] }>;
    hostConfig.NetworkMode = ctx.rename(first.name);
    create.NetworkingConfig = { EndpointsConfig: { [ctx.rename(first.name)]: { Aliases: first.aliases ?? [] } } };
    for (const n of rest) connect.push({ network: ctx.rename(n.name), aliases: n.aliases ?? [] });
  }

  return { declaredName: d.name, create, connect, uploads: d.uploads ?? [], start: d.start !== false };
}

function mount(container: string, m: Record<string, any>, ctx: TranslateContext): Docker.MountSettings {
  const out: Record<string, any> = { Type: m.type, Target: m.target, ReadOnly: m.readOnly ?? false };
  if (m.type === "volume" || m.type === "bind") out.Source = m.type === "volume" ? ctx.rename(m.source) : m.source;
  const v = m.volumeOptions;
  if (v) {
    // Volume subpaths arrived in API 1.45 (Engine 26). An older engine does not refuse the field:
    // it ignores it and mounts the whole volume. So a subpath on an older engine is an error here.
    if (v.subpath && apiLevel(ctx.apiVersion) < 1.45) {
      throw new Error(
        `${container}: mount of ${m.source} at ${m.target} uses volume subpath "${v.subpath}", which needs Engine API 1.45 (Docker 26); ` +
          `this engine speaks ${ctx.apiVersion} and would silently mount the whole volume`,
      );
    }
    out.VolumeOptions = {
      NoCopy: v.noCopy ?? false,
      ...(v.labels ? { Labels: labelMap(v.labels) } : {}),
      ...(v.driverName ? { DriverConfig: { Name: v.driverName, Options: v.driverOptions ?? {} } } : {}),
      ...(v.subpath ? { Subpath: v.subpath } : {}),
    };
  }
  if (m.tmpfsOptions) out.TmpfsOptions = { SizeBytes: m.tmpfsOptions.sizeBytes, Mode: m.tmpfsOptions.mode };
  if (m.bindOptions) throw new Error(`${container}: bind mounts are not part of this program's baseline`);
  return out as Docker.MountSettings;
}

function labelMap(labels?: Array<{ label: string; value: string }>): Record<string, string> {
  return Object.fromEntries((labels ?? []).map((l) => [l.label, l.value]));
}

/** "0.5" → 500000000: exact decimal arithmetic, like Docker's opts.ParseCPUs (big.Rat). */
export function nanoCpus(cpus: string): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(cpus.trim());
  if (!m) throw new Error(`cpus "${cpus}" is not a decimal number`);
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > 9) throw new Error(`cpus "${cpus}" is too precise (more than nine decimals)`);
  return Number(m[1]) * 1e9 + Number(fraction.padEnd(9, "0") || "0");
}

/** A Go duration string ("1m0s", "15s", "500ms", "1h2m3s") in nanoseconds. */
export function goDuration(text: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text.length === 0) throw new Error(`"${text}" is not a Go duration`);
  return Math.round(total);
}

/**
 * The archive the provider puts into a container for one upload: a single file entry whose name is
 * the absolute target path, extracted at "/" (no directory entries: missing parents are created by
 * the engine). Mode from `permissions` (octal), else 0744 if executable, else 0644 — as upstream
 * v4.5.0 does. `owner`/`group` are newer @pulumi/docker inputs (5.2: "numeric IDs can be used
 * directly") whose implementation is not in the upstream source this tier could read; they are
 * modelled as the tar header's uid/gid, which is what the engine's extraction honours.
 */
export function uploadArchive(upload: Upload): Buffer {
  const content =
    upload.contentBase64 !== undefined ? Buffer.from(upload.contentBase64, "base64") : Buffer.from(upload.content ?? "", "utf8");
  const mode = upload.permissions ? parseInt(upload.permissions, 8) : upload.executable ? 0o744 : 0o644;
  const id = (value: string | undefined, what: string) => {
    if (value === undefined || value === "") return undefined;
    if (!/^\d+$/.test(value)) throw new Error(`upload ${upload.file}: ${what} "${value}" is not numeric; the tier models numeric ids only`);
    return Number(value);
  };
  const entry: TarEntry = { name: upload.file, content, mode, uid: id(upload.owner, "owner"), gid: id(upload.group, "group") };
  return tar([entry]);
}

/** Creates a translated container: create, connect the further networks, put the uploads. Never starts it. */
export async function createTranslated(docker: Docker, t: Translation): Promise<Docker.Container> {
  const container = await docker.createContainer(t.create);
  for (const n of t.connect) {
    await docker.getNetwork(n.network).connect({ Container: container.id, EndpointConfig: { Aliases: n.aliases } });
  }
  for (const upload of t.uploads) {
    await container.putArchive(uploadArchive(upload), { path: "/" });
  }
  return container;
}
