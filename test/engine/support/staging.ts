// The program's file staging on a real engine: loaders created with their uploads, InfluxDB's
// first-setup script handing out the scoped tokens, and probes that look at a volume or at a
// service's view of its mounts as a given uid.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import type { RecordedResource } from "../../support/harness";
import { logs, runOnce, volumeMount, withDeadline } from "./engine";
import type { Deployment } from "./deploy";
import { baseImageTag, type Service } from "./stack";
import type { Translation } from "./translate";

/**
 * Creates every loader the program declares (never started), with its uploads; `substitute` may
 * replace an upload's content (a real certificate for the mocked one).
 */
export async function createLoaders(
  deployment: Deployment,
  substitute: (content: string) => string = (c) => c,
): Promise<Map<string, { container?: Docker.Container; error?: Error }>> {
  const out = new Map<string, { container?: Docker.Container; error?: Error }>();
  for (const loader of deployment.stack.loaders) {
    try {
      const container = await deployment.create(loader, (t) => {
        t.uploads = t.uploads.map((u) => (u.content === undefined ? u : { ...u, content: substitute(u.content) }));
      });
      out.set(loader.inputs.name, { container });
    } catch (error) {
      out.set(loader.inputs.name, { error: error as Error });
    }
  }
  return out;
}

export interface FileFacts {
  type: "file" | "dir";
  mode: string;
  owner: string;
  size: number;
  /** the content, for regular files up to 256 KiB the probe could read */
  content?: string;
  /** the error code if the probe's uid could not read it */
  error?: string;
}

const WALK = `
const fs = require("fs");
const out = {};
const walk = (p) => {
  let s;
  try { s = fs.lstatSync(p); } catch (e) { out[p] = { error: e.code }; return; }
  const facts = { type: s.isDirectory() ? "dir" : "file", mode: (s.mode & 0o7777).toString(8).padStart(4, "0"), owner: s.uid + ":" + s.gid, size: s.size };
  out[p] = facts;
  if (s.isDirectory()) {
    let entries;
    try { entries = fs.readdirSync(p); } catch (e) { facts.error = e.code; return; }
    for (const e of entries) walk(p + "/" + e);
  } else if (s.isFile()) {
    try { facts.content = s.size <= 262144 ? fs.readFileSync(p, "utf8") : undefined; } catch (e) { facts.error = e.code; }
  }
};
for (const root of JSON.parse(process.argv[1])) walk(root);
process.stdout.write(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), files: out }));
`;

/** Everything under a volume, as root sees it (paths relative to the volume root, "" for the root). */
export async function volumeContents(deployment: Deployment, declaredVolume: string): Promise<Record<string, FileFacts>> {
  const result = await runOnce(deployment.scope, baseImageTag(), ["-e", WALK, JSON.stringify(["/v"])], {
    entrypoint: ["node"],
    user: "0:0",
    mounts: [volumeMount(deployment.scope.name(declaredVolume), "/v", true)],
  });
  if (result.exitCode !== 0) throw new Error(`probe of ${declaredVolume} failed: ${result.stderr}`);
  const files = JSON.parse(result.stdout).files as Record<string, FileFacts>;
  return Object.fromEntries(Object.entries(files).map(([p, f]) => [p.replace(/^\/v\/?/, ""), f]));
}

/**
 * A service's translated container turned into a probe: the declared user, mounts and hardening
 * stay; it runs `entrypoint` and `cmd` instead of the service, without health check, networks or
 * published ports.
 */
function asOfflineProbe(t: Translation, suffix: string, entrypoint: string[], cmd: string[]): void {
  t.create.name = `${t.create.name}-${suffix}`;
  t.create.Entrypoint = entrypoint;
  t.create.Cmd = cmd;
  t.create.Healthcheck = { Test: ["NONE"] };
  t.create.NetworkingConfig = undefined;
  t.connect = [];
  t.create.HostConfig!.NetworkMode = "none";
  t.create.HostConfig!.PortBindings = {};
  t.create.ExposedPorts = {};
}

/**
 * What a service's container sees under its mounts, as its declared user: a container created
 * with the service's declared settings (user, read-only root, mounts, capabilities…) but without a
 * network and running the probe instead of the service.
 */
export async function serviceView(
  deployment: Deployment,
  service: RecordedResource,
): Promise<{ uid: number; gid: number; files: Record<string, FileFacts> }> {
  const targets = (service.inputs.mounts ?? []).map((m: { target: string }) => m.target);
  const container = await deployment.create(service, (t: Translation) => {
    asOfflineProbe(t, `view-${randomBytes(2).toString("hex")}`, ["node", "-e", WALK], [JSON.stringify(targets)]);
  });
  try {
    await container.start();
    const { StatusCode } = await withDeadline(`${service.inputs.name} view probe`, 30_000, () => container.wait());
    const output = await logs(container);
    if (StatusCode !== 0) throw new Error(`view probe of ${service.inputs.name} exited ${StatusCode}: ${output.stderr}`);
    return JSON.parse(output.stdout);
  } finally {
    await container.remove({ force: true, v: true });
  }
}

export interface SetupRun {
  exitCode: number;
  output: string;
  /** consumer name → the token the stand-in `influx auth create` returned for it */
  tokens: Record<string, string>;
}

/**
 * InfluxDB's first setup, as far as the program's part of it goes: the scripts the program stages
 * in /docker-entrypoint-initdb.d, executed like the image's entrypoint does (each executable *.sh),
 * in a container with the InfluxDB container's declared user, environment, read-only root, tmpfs
 * and mounts, from the InfluxDB stand-in image. InfluxDB itself is not there: `influx` is a stand-in
 * (a shell function) that answers `influx auth create` with a token named after the description's
 * first word ("simulator: write-only …" → a token for the simulator), and the ids the entrypoint
 * exports after setup are set to fixed values. The test is about the volumes, owners and modes.
 */
export async function runInfluxSetup(deployment: Deployment): Promise<SetupRun> {
  const influx = deployment.stack.service("influxdb" satisfies Service);
  const nonce = randomBytes(4).toString("hex");
  const wrapper = `
set -euo pipefail
influx() {
  local description="" previous=""
  for arg in "$@"; do
    [[ $previous == --description ]] && description=$arg
    previous=$arg
  done
  [[ $1 == auth && $2 == create && -n $description ]] || { echo "stand-in influx: unexpected: $*" >&2; return 1; }
  printf '{"id":"0","token":"engine-tier-%s-%s","description":"%s"}\\n' "\${description%%:*}" "${nonce}" "$description"
}
export -f influx
export DOCKER_INFLUXDB_INIT_ORG_ID=0000000000000001 DOCKER_INFLUXDB_INIT_BUCKET_ID=0000000000000002
for script in /docker-entrypoint-initdb.d/*.sh; do
  [[ -x $script ]] || { echo "not executable: $script" >&2; exit 1; }
  "$script"
done
`;
  const container = await deployment.create(influx, (t: Translation) => {
    asOfflineProbe(t, "setup", ["bash", "-c", wrapper], []);
    t.create.HostConfig!.RestartPolicy = { Name: "no", MaximumRetryCount: 0 };
  });
  try {
    await container.start();
    const { StatusCode } = await withDeadline("InfluxDB setup scripts", 30_000, () => container.wait());
    const output = await logs(container);
    const tokens: Record<string, string> = {};
    for (const consumer of ["simulator", "grafana", "bridge"]) tokens[consumer] = `engine-tier-${consumer}-${nonce}`;
    return { exitCode: StatusCode, output: output.stdout + output.stderr, tokens };
  } finally {
    await container.remove({ force: true, v: true });
  }
}

/** The volume a service mounts at the directory holding `path`, e.g. its token file's. */
export function volumeAt(service: RecordedResource, path: string): string | undefined {
  const mounts = (service.inputs.mounts ?? []) as Array<{ type: string; source: string; target: string }>;
  const holding = mounts.filter((m) => m.type === "volume" && (path === m.target || path.startsWith(`${m.target}/`)));
  holding.sort((a, b) => b.target.length - a.target.length);
  return holding[0]?.source;
}
