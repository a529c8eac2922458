// The real influxd, configured the way the program configures its container, as a local process.
//
// The container's filesystem is stood for by a temporary directory: `root/` is the container's
// "/", each named volume is a directory under `volumes/` that `root/<mount target>` links to (so a
// volume InfluxDB fills, such as a token volume, is the same directory the simulator later reads),
// each tmpfs is an empty directory. The program's staged files are written into their volumes with
// their staged modes. Test material replaces what only a deployment has: the server certificate and
// key come from a CA made in the test (with the names the program puts into the certificate), the
// stack CA becomes that test CA, and each generated secret is a fresh value of the declared shape.
//
// influxd gets every INFLUXD_* setting the program passes, with container paths mapped into root/,
// except the listen address: the container listens on :8086 in its own network namespace, this
// process on 127.0.0.1 and a free port. Its bolt and engine paths are the image's defaults
// (influxdata-docker influxdb/2.x default-config.yml: /var/lib/influxdb2/influxd.bolt and
// /var/lib/influxdb2/engine, on the program's data volume).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestCa } from "../../../simulator/test/support/pki";
import type { Declared, DeclaredService } from "./program";
import { httpsRequest } from "./http";
import { INFLUXD } from "./tier";

/** Where the image keeps its data, and the bolt and engine paths its default config sets there. */
export const DATA_DIR = "/var/lib/influxdb2";
export const BOLT_PATH = `${DATA_DIR}/influxd.bolt`;
export const ENGINE_PATH = `${DATA_DIR}/engine`;

export interface Deadlines {
  healthMs: number;
  stopMs: number;
}

const DEFAULT_DEADLINES: Deadlines = { healthMs: 30_000, stopMs: 10_000 };

export interface Server {
  /** https://localhost:<port> */
  url: string;
  port: number;
  /** the temporary directory holding everything of this server */
  dir: string;
  /** the container path's counterpart on this machine */
  path(containerPath: string): string;
  /**
   * Lays out another service's container filesystem next to InfluxDB's (its own root, the same
   * volume directories, the same substitutions) and returns its path mapping.
   */
  containerOf(service: DeclaredService, name: string): (containerPath: string) => string;
  /** the test CA's certificate, as a file */
  caFile: string;
  /** the environment influxd was started with */
  env: Record<string, string>;
  process: ChildProcess;
  logFile: string;
  /** the log so far, with every known secret masked */
  log(): string;
  /** the last lines of the log, masked, for failure messages */
  logTail(lines?: number): string;
  /** masks every known secret in a text (the tests add scoped tokens as they read them) */
  redact(text: string): string;
  addSecret(value: string): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Lays out the container's filesystem for `service` under dir: volumes, links at the mount targets,
 * tmpfs directories, staged files with their modes (contents passed through `substitute`).
 */
export function layOut(decl: Declared, service: DeclaredService, dir: string, rootName: string, substitute: (path: string, content: string) => string): (p: string) => string {
  const { mounts, tmpfs } = service;
  const root = join(dir, rootName);
  const path = (containerPath: string) => join(root, containerPath);
  mkdirSync(root, { recursive: true });
  for (const mount of mounts) {
    if (mount.type !== "volume") throw new Error(`mount type ${mount.type} at ${mount.target} is not emulated`);
    const volume = join(dir, "volumes", mount.source);
    mkdirSync(volume, { recursive: true });
    for (const [inside, file] of decl.volumes.get(mount.source) ?? []) {
      const target = join(volume, inside);
      if (existsSync(target)) continue; // a volume two services mount is filled once
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, substitute(`${mount.target}/${inside}`, file.content));
      chmodSync(target, parseInt(file.permissions, 8));
    }
    mkdirSync(dirname(path(mount.target)), { recursive: true });
    symlinkSync(volume, path(mount.target), "dir");
  }
  for (const target of Object.keys(tmpfs)) mkdirSync(path(target), { recursive: true });
  return path;
}

/** Starts influxd for the declared InfluxDB container with a server certificate from `ca`. */
export async function startInfluxd(decl: Declared, ca: TestCa, deadlines: Partial<Deadlines> = {}): Promise<Server> {
  const limits = { ...DEFAULT_DEADLINES, ...deadlines };
  const declaredEnv = decl.influxdb.env;
  const dir = mkdtempSync(join(tmpdir(), "influxdb-tier-"));
  const secrets = new Set<string>([...decl.secrets.values()]);
  const certificate = await ca.issue({ dns: decl.influxCertificate.dnsNames, ips: decl.influxCertificate.ipAddresses });
  secrets.add(certificate.keyPem);

  if (!decl.influxdb.mounts.some((m) => m.target === DATA_DIR)) throw new Error(`the program mounts no volume at ${DATA_DIR}, where the image keeps its data`);
  const substitute = (containerPath: string, content: string) => {
    if (containerPath === declaredEnv.INFLUXD_TLS_CERT) return certificate.certPem;
    if (containerPath === declaredEnv.INFLUXD_TLS_KEY) return certificate.keyPem;
    if (decl.caCertPem !== undefined && content === decl.caCertPem) return ca.certPem;
    return decl.secrets.get(content) ?? content;
  };
  const path = layOut(decl, decl.influxdb, dir, "root", substitute);
  const caFile = join(dir, "test-ca.pem");
  writeFileSync(caFile, ca.certPem);
  const home = join(dir, "home");
  mkdirSync(home);

  const redact = (text: string) => {
    let out = text;
    for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join("<redacted>");
    return out;
  };

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home };
    for (const [key, value] of Object.entries(declaredEnv)) {
      if (!key.startsWith("INFLUXD_")) continue;
      env[key] = value.startsWith("/") ? path(value) : value;
    }
    env.INFLUXD_HTTP_BIND_ADDRESS = `127.0.0.1:${port}`;
    env.INFLUXD_BOLT_PATH = path(BOLT_PATH);
    env.INFLUXD_ENGINE_PATH = path(ENGINE_PATH);

    const logFile = join(dir, `influxd-${attempt}.log`);
    const logFd = openSync(logFile, "a");
    // cwd: the (empty) container root, so no config file of this machine is picked up.
    const child = spawn(INFLUXD, [], { cwd: path("/"), env, stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    let exited: number | null | undefined;
    const exitedPromise = new Promise<void>((resolve) => child.once("exit", (code, signal) => ((exited = code ?? (signal ? 128 : -1)), resolve())));
    const log = () => redact(readFileSync(logFile, "utf8"));
    const logTail = (lines = 40) => log().trimEnd().split("\n").slice(-lines).join("\n");
    const url = `https://localhost:${port}`;

    const server: Server = {
      url,
      port,
      dir,
      path,
      containerOf: (svc, name) => layOut(decl, svc, dir, `root-${name}`, substitute),
      caFile,
      env,
      process: child,
      logFile,
      log,
      logTail,
      redact,
      addSecret: (value) => void secrets.add(value),
      async stop() {
        if (exited === undefined) {
          child.kill("SIGTERM");
          if (!(await within(exitedPromise, limits.stopMs))) {
            child.kill("SIGKILL");
            await within(exitedPromise, 5_000);
          }
        }
        if (process.env.INFLUXDB_TIER_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
      },
    };

    // Wait for /health with a deadline; an influxd that exits stops the wait at once.
    const deadline = Date.now() + limits.healthMs;
    let last = "no answer yet";
    while (exited === undefined && Date.now() < deadline) {
      try {
        const res = await httpsRequest(server, { method: "GET", path: "/health", timeoutMs: 2_000 });
        if (res.status === 200 && JSON.parse(res.body).status === "pass") return server;
        last = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await within(exitedPromise, 100);
    }
    const tail = logTail();
    if (exited !== undefined && /address already in use/.test(tail) && attempt < 3) continue;
    await server.stop();
    throw new Error(
      exited !== undefined
        ? `influxd exited with ${exited} before /health answered; log:\n${tail}`
        : `influxd's /health did not pass within ${limits.healthMs} ms (last: ${last}); log:\n${tail}`,
    );
  }
}

/** Whether `promise` settles within `ms`; the timer is cleared either way. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
