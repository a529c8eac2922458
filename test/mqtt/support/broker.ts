// Debian's mosquitto, configured with the files the program renders (components/broker-config.ts's
// mosquitto.conf and ACL, components/device-crl.ts's CRL), as a local process. A change of devices
// or revocations is applied the way the stack applies it: the files are rendered again and the
// broker is replaced (stopped with SIGTERM, as Docker stops a container, and started anew on the
// same port and persistence directory).
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderAcl, renderMosquittoConf, type DeviceIdentity } from "../../../components/broker-config";
import { generateCrl, type RevokedCertificate } from "../../../components/device-crl";
import type { Ca, Identity } from "./pki";
import { freePort, startProcess, type Proc } from "./process";
import { mosquittoPath } from "./tier";

export interface BrokerState {
  devices: DeviceIdentity[];
  revoked: RevokedCertificate[];
}

export interface Broker {
  port: number;
  dir: string;
  process(): Proc;
  /** renders the ACL and CRL for `state` and replaces the running broker with one that reads them */
  replace(state: BrokerState): Promise<void>;
  stop(): Promise<void>;
}

/** Mosquitto, started as root, switches to this user (its `user` option's default) before it reads its files. */
const BROKER_USER = "mosquitto";

function brokerUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const run = spawnSync("id", ["-u", BROKER_USER], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", BROKER_USER], { encoding: "utf8" });
  if (run.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(run.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function chownTree(path: string, ids: { uid: number; gid: number }): void {
  chownSync(path, ids.uid, ids.gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), ids);
}

export interface BrokerOptions {
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
  maxInflightMessages?: number;
  /**
   * Run mosquitto with its stdout line-buffered (stdbuf -oL). Mosquitto's `log_dest stdout` goes
   * through C stdio, which buffers a pipe or file in 4 KiB blocks: without this, its log lines show
   * up only when the buffer fills or it exits. The tier's one test of how the log reaches its
   * output turns this off.
   */
  lineBuffered?: boolean;
}

export async function startBroker(dir: string, ca: Ca, initial: BrokerState, o: BrokerOptions = {}): Promise<Broker> {
  const broker = mosquittoPath();
  if (!broker) throw new Error("mosquitto not found");
  mkdirSync(join(dir, "persistence"), { recursive: true });
  const server = await ca.server({ dns: ["broker", "localhost"], ips: ["127.0.0.1"] });
  const files = {
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    crlFile: join(dir, "devices.crl"),
    aclFile: join(dir, "acl"),
  };
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, server.certPem);
  writeFileSync(files.keyFile, server.keyPem);
  chmodSync(files.keyFile, 0o600);
  const port = await freePort();
  const rendered = renderMosquittoConf({
    port,
    ...files,
    persistenceDir: `${join(dir, "persistence")}/`,
    tlsMinVersion: "1.2",
    maxQueuedMessages: o.maxQueuedMessages ?? 10_000,
    maxQueuedBytes: o.maxQueuedBytes ?? 33_554_432,
    maxInflightMessages: o.maxInflightMessages ?? 1_000,
  });
  // The container listens on every address of its own network namespace; this process shares the
  // machine's, so it listens on loopback only (the one substitution made to the rendered file).
  const listener = `listener ${port}`;
  if (!rendered.split("\n").includes(listener)) throw new Error(`the rendered mosquitto.conf has no line "${listener}":\n${rendered}`);
  const confFile = join(dir, "mosquitto.conf");
  writeFileSync(confFile, rendered.replace(`${listener}\n`, `${listener} 127.0.0.1\n`));

  const owner = brokerUserIds();
  // mkdtemp makes the test's directory 0700: the broker's user must be able to pass through it.
  if (owner) chmodSync(dirname(dir), 0o711);
  let proc: Proc | undefined;
  let starts = 0;
  const start = async (state: BrokerState) => {
    writeFileSync(files.aclFile, renderAcl(state.devices));
    writeFileSync(files.crlFile, await generateCrl({ caCertPem: ca.certPem, caKeyPkcs8Pem: ca.keyPem, revoked: state.revoked, thisUpdate: new Date(Date.now() - 60_000) }));
    if (owner) chownTree(dir, owner);
    const [command, args] = o.lineBuffered === false ? [broker, ["-c", confFile]] : ["stdbuf", ["-oL", broker, "-c", confFile]];
    proc = startProcess("mosquitto", command, args, { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, logFile: join(dir, `mosquitto-${++starts}.log`) });
    await proc.waitForLog(/mosquitto version \S+ running/, 15_000);
  };
  try {
    await start(initial);
  } catch (error) {
    await proc?.stop();
    throw error;
  }
  return {
    port,
    dir,
    process: () => proc!,
    async replace(state) {
      await proc!.stop();
      await start(state);
    },
    async stop() {
      await proc?.stop();
    },
  };
}

/** A revocation entry for a certificate, as the stack's DeviceRevocationList keeps one. */
export function revocationOf(deviceId: string, identity: Identity): RevokedCertificate {
  return { deviceId, serialNumber: identity.serialNumber, revokedAt: new Date(Date.now() - 30_000).toISOString(), expiresAt: identity.notAfter.toISOString() };
}
