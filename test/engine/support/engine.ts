// The engine of the engine tier: which one, whether it answers, and the helpers every engine test
// uses (a dockerode client, names and labels for what a test creates, cleanup, deadlines, running
// a command in a container, tar archives).
//
// The engine comes from the file test/engine/engine.sh wrote (.cache/engine/engine.env), else from
// DOCKER_HOST. When none answers, or the tier was not started through its own jest config, every
// engine suite is skipped with a printed one-line reason: a skip is never a pass.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";

export const ROOT = join(__dirname, "..", "..", "..");
export const STATE_DIR = process.env.ENGINE_STATE_DIR ?? join(ROOT, ".cache", "engine");
/** Every object the tier creates carries this label; its value is the id of the test file's run. */
export const LABEL = "iot-test.engine-tier";
/** The local base image test/engine/base-image.sh builds (its tag is derived from the same Dockerfile). */
export const BASE_IMAGE_REPOSITORY = "iot-test/node-base";

export interface EngineConfig {
  dockerHost: string;
  /** a docker CLI that can build with BuildKit, and how (engine.sh picks it) */
  buildCli?: string;
  buildMode?: "buildx" | "buildkit-env";
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
}

function readEnvFile(): Record<string, string> {
  const file = join(STATE_DIR, "engine.env");
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The engine to use, or why there is none. `tierCheck`: also require jest.engine.config.js. */
export function findEngine(tierCheck = true): { config?: EngineConfig; version?: EngineVersion; skip?: string } {
  // Set by jest.engine.config.js: the tier runs alone, with its own timeouts and global setup.
  if (tierCheck && !(globalThis as { ENGINE_TIER?: boolean }).ENGINE_TIER) {
    return { skip: "engine tests run only through `npm run test:engine` (jest.engine.config.js)" };
  }
  if (process.env.ENGINE_SKIP_REASON) return { skip: process.env.ENGINE_SKIP_REASON };
  const file = readEnvFile();
  const dockerHost = file.DOCKER_HOST || process.env.DOCKER_HOST;
  if (!dockerHost) return { skip: "no engine: test/engine/engine.sh wrote no engine.env and DOCKER_HOST is not set" };
  if (!/^(unix|tcp):\/\//.test(dockerHost)) return { skip: `DOCKER_HOST=${dockerHost}: the engine tier speaks to unix:// and tcp:// engines only` };
  const config: EngineConfig = {
    dockerHost,
    buildCli: file.ENGINE_BUILD_CLI || undefined,
    buildMode: (file.ENGINE_BUILD_MODE as EngineConfig["buildMode"]) || undefined,
  };
  // Whether the engine answers must be known before the suites are declared, so synchronously,
  // in a child process with a deadline.
  const probe = spawnSync(
    process.execPath,
    [
      "-e",
      `const D=require(${JSON.stringify(require.resolve("dockerode"))});` +
        `new D(${JSON.stringify(dockerOptions(dockerHost))}).version().then(v=>{process.stdout.write(JSON.stringify(v));},e=>{process.stderr.write(String(e&&e.message||e));process.exit(1);});`,
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  if (probe.status !== 0) {
    return { skip: `no engine answers at ${dockerHost}: ${(probe.stderr || probe.error?.message || "timed out").trim().split("\n")[0]}` };
  }
  const v = JSON.parse(probe.stdout);
  return { config, version: { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch } };
}

function dockerOptions(dockerHost: string): Docker.DockerOptions {
  if (dockerHost.startsWith("unix://")) return { socketPath: dockerHost.slice("unix://".length) };
  const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
  return { host: url.hostname, port: url.port || 2375, protocol: "http" };
}

const found = findEngine();
export const engine = found.config;
export const engineVersion = found.version;
export const skipReason = found.skip;

/** Whether this run must not skip the tier (IOT_REQUIRE_TIERS=engine,…; .ci/run sets it). */
const required = (process.env.IOT_REQUIRE_TIERS ?? "").split(",").map((t) => t.trim()).includes("engine");

/** `describe`, or `describe.skip` with the reason printed once per test file (a failure where the tier is required). */
export function engineSuite(name: string, body: () => void): void {
  if (skipReason && required) {
    describe(name, () => {
      test("the engine tier is required here (IOT_REQUIRE_TIERS) and cannot run", () => {
        throw new Error(`engine tier required but unavailable: ${skipReason}`);
      });
    });
  } else if (skipReason) {
    console.warn(`engine tier SKIPPED (not passed): ${skipReason}`);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}

export function client(): Docker {
  if (!engine) throw new Error(`no engine: ${skipReason}`);
  return new Docker(dockerOptions(engine.dockerHost));
}

/** "1.41" → 1.41 as a comparable number (minor versions stay below 100). */
export function apiLevel(apiVersion: string): number {
  const [major, minor] = apiVersion.split(".").map(Number);
  return major + minor / 100;
}

/**
 * Names and labels for one test file's objects: `iotet-<id>-<declared name>`, so they never meet
 * a real deployment's (`iot-<stack>-…`) and are found again for cleanup.
 */
export class Scope {
  readonly id = randomBytes(3).toString("hex");
  readonly prefix = `iotet-${this.id}-`;
  readonly labels: Record<string, string> = { [LABEL]: this.id };
  constructor(readonly docker: Docker) {}

  name(declared: string): string {
    return `${this.prefix}${declared}`;
  }

  /** Removes every container, network, volume and image this scope labelled, within a deadline. */
  async cleanup(deadlineMs = 60_000): Promise<void> {
    const filters = JSON.stringify({ label: [`${LABEL}=${this.id}`] });
    const problems: string[] = [];
    const attempt = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        const message = String((error as Error).message ?? error);
        if (!/no such|not found/i.test(message)) problems.push(`${what}: ${message}`);
      }
    };
    await withDeadline("cleanup", deadlineMs, async () => {
      for (const c of await this.docker.listContainers({ all: true, filters })) {
        await attempt(`container ${c.Names[0]}`, () => this.docker.getContainer(c.Id).remove({ force: true, v: true }));
      }
      for (const n of await this.docker.listNetworks({ filters })) {
        await attempt(`network ${n.Name}`, () => this.docker.getNetwork(n.Id).remove());
      }
      for (const v of (await this.docker.listVolumes({ filters })).Volumes ?? []) {
        await attempt(`volume ${v.Name}`, () => this.docker.getVolume(v.Name).remove());
      }
      for (const i of await this.docker.listImages({ filters })) {
        for (const tag of i.RepoTags ?? []) await attempt(`image ${tag}`, () => this.docker.getImage(tag).remove());
      }
    });
    if (problems.length > 0) throw new Error(`cleanup left objects behind:\n  ${problems.join("\n  ")}`);
  }
}

/** Runs `work`, failing with `what` if it takes longer than `ms`. */
export async function withDeadline<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms passed: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value (not undefined), at most `ms`. */
export async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a running container (as `user`, default the container's), with a deadline. */
export async function exec(container: Docker.Container, cmd: string[], opts: { user?: string; ms?: number } = {}): Promise<ExecResult> {
  return withDeadline(`exec ${cmd.join(" ")}`, opts.ms ?? 30_000, async () => {
    const e = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: opts.user });
    const stream = await e.start({ hijack: true, stdin: false });
    const { stdout, stderr } = await demux(container.modem, stream);
    const info = await e.inspect();
    return { exitCode: info.ExitCode ?? -1, stdout, stderr };
  });
}

function demux(modem: any, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return new Promise((resolve, reject) => {
    modem.demuxStream(stream, { write: (b: Buffer) => out.push(Buffer.from(b)) }, { write: (b: Buffer) => err.push(Buffer.from(b)) });
    stream.on("end", () => resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
    stream.on("error", reject);
  });
}

/** stdout and stderr of a container so far (json-file log driver). */
export async function logs(container: Docker.Container): Promise<{ stdout: string; stderr: string }> {
  const buffer = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  // Without a TTY the log stream is multiplexed: 8-byte frame headers, 1 = stdout, 2 = stderr.
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const kind = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    const chunk = buffer.subarray(offset + 8, offset + 8 + size);
    (kind === 2 ? err : out).push(chunk);
    offset += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/**
 * Creates a container from `image` with `cmd`, runs it to completion within `ms` and removes it.
 * For probes: reading a volume as some uid, checking what an image holds.
 */
export async function runOnce(
  scope: Scope,
  image: string,
  cmd: string[],
  opts: { user?: string; mounts?: Docker.MountSettings[]; entrypoint?: string[]; networkMode?: string; ms?: number } = {},
): Promise<ExecResult> {
  const container = await scope.docker.createContainer({
    name: scope.name(`probe-${randomBytes(3).toString("hex")}`),
    Image: image,
    Cmd: cmd,
    Entrypoint: opts.entrypoint,
    User: opts.user,
    Labels: scope.labels,
    HostConfig: { Mounts: opts.mounts, NetworkMode: opts.networkMode ?? "none" },
  });
  try {
    await container.start();
    const result = await withDeadline(`probe ${cmd.join(" ")}`, opts.ms ?? 30_000, () => container.wait());
    const output = await logs(container);
    return { exitCode: result.StatusCode, ...output };
  } finally {
    await container.remove({ force: true, v: true });
  }
}

/** A volume mount for probes, never copying image content into the volume. */
export function volumeMount(source: string, target: string, readOnly = false): Docker.MountSettings {
  return { Type: "volume", Source: source, Target: target, ReadOnly: readOnly, VolumeOptions: { NoCopy: true } } as Docker.MountSettings;
}

// --- tar ---------------------------------------------------------------------------------------

export interface TarEntry {
  name: string;
  content: Buffer | string;
  mode: number;
  uid?: number;
  gid?: number;
  /** "0" file (default), "5" directory */
  type?: "0" | "5";
}

/** A ustar archive of regular files (and directories), headers exactly as given. */
export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content, "utf8");
    const header = Buffer.alloc(512);
    let name = entry.name;
    let prefix = "";
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf("/", 155);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    const field = (value: string, offset: number, length: number) => header.write(value, offset, length, "utf8");
    const octal = (value: number, offset: number, length: number) => field(value.toString(8).padStart(length - 1, "0") + "\0", offset, length);
    field(name, 0, 100);
    octal(entry.mode & 0o7777, 100, 8);
    octal(entry.uid ?? 0, 108, 8);
    octal(entry.gid ?? 0, 116, 8);
    octal(entry.type === "5" ? 0 : body.length, 124, 12);
    octal(Math.floor(Date.now() / 1000), 136, 12);
    field("        ", 148, 8);
    field(entry.type ?? "0", 156, 1);
    field("ustar\0", 257, 6);
    field("00", 263, 2);
    field(prefix, 345, 155);
    let sum = 0;
    for (const byte of header) sum += byte;
    field(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
    blocks.push(header);
    if (entry.type !== "5") {
      blocks.push(body);
      const pad = (512 - (body.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** The regular files of a tar archive (as returned by getArchive), by name. */
export function untar(archive: Buffer): Map<string, { content: Buffer; mode: number; uid: number; gid: number }> {
  const files = new Map<string, { content: Buffer; mode: number; uid: number; gid: number }>();
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const text = (start: number, length: number) => header.subarray(start, start + length).toString("utf8").replace(/\0.*$/s, "");
    const num = (start: number, length: number) => parseInt(text(start, length).trim() || "0", 8);
    const prefix = text(345, 155);
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    const size = num(124, 12);
    const type = text(156, 1) || "0";
    if (type === "0") files.set(name, { content: archive.subarray(offset + 512, offset + 512 + size), mode: num(100, 8), uid: num(108, 8), gid: num(116, 8) });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

export async function streamToBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The content of one file of an image, read from a created (never started) container. */
export async function readImageFile(scope: Scope, image: string, path: string): Promise<Buffer> {
  const container = await scope.docker.createContainer({ name: scope.name(`read-${randomBytes(3).toString("hex")}`), Image: image, Labels: scope.labels });
  try {
    const archive = await streamToBuffer(await container.getArchive({ path }));
    const file = [...untar(archive).values()][0];
    if (!file) throw new Error(`${path} is not a regular file in ${image}`);
    return file.content;
  } finally {
    await container.remove({ force: true, v: true });
  }
}
