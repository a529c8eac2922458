// Telegraf built from its Go module, run with the telegraf.conf the program renders
// (components/bridge-config.ts) and its own client certificate; its InfluxDB token in a directory
// of its own, read by the rendered secret store, never passed in the environment.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderTelegrafConf } from "../../../components/bridge-config";
import { BRIDGE_IDENTITY } from "../../../components/broker-config";
import type { Influx } from "./influxdb";
import { BUCKET, ORG } from "./influxdb";
import type { Ca } from "./pki";
import { freePort, startProcess, type Proc } from "./process";
import { TELEGRAF } from "./tier";

export interface Bridge {
  conf: string;
  /** http://127.0.0.1:<port>, Telegraf's health endpoint (outputs.health) */
  healthUrl: string;
  process(): Proc;
  /** starts Telegraf and waits until it is connected to the broker */
  start(): Promise<void>;
  /** SIGTERM (as Docker stops the container) and wait for the exit */
  stop(): Promise<void>;
  /** every log so far, all runs */
  log(): string;
}

export async function prepareBridge(dir: string, ca: Ca, caFile: string, brokerPort: number, influx: Influx, o: { bufferLimit?: number; maxUndelivered?: number } = {}): Promise<Bridge> {
  const tokenDir = join(dir, "token");
  mkdirSync(tokenDir, { recursive: true });
  // As the token volume has it: the token alone, no trailing newline (the secret store sends the
  // file verbatim).
  writeFileSync(join(tokenDir, "token"), influx.bridgeToken, { mode: 0o400 });
  const identity = await ca.client(BRIDGE_IDENTITY);
  const certFile = join(dir, "bridge.crt");
  const keyFile = join(dir, "bridge.key");
  writeFileSync(certFile, identity.certPem);
  writeFileSync(keyFile, identity.keyPem);
  chmodSync(keyFile, 0o600);
  const healthAddress = `127.0.0.1:${await freePort()}`;
  const conf = renderTelegrafConf({
    brokerUrl: `ssl://localhost:${brokerPort}`,
    caFile,
    certFile,
    keyFile,
    influxUrl: influx.url,
    influxCaFile: caFile,
    org: ORG,
    bucket: BUCKET,
    tokenDir,
    bufferLimit: o.bufferLimit ?? 10_000,
    maxUndelivered: o.maxUndelivered ?? 1_000,
    healthAddress,
  });
  const confFile = join(dir, "telegraf.conf");
  writeFileSync(confFile, conf);
  if (conf.includes(influx.bridgeToken)) throw new Error("the rendered telegraf.conf contains the token");

  const runs: Proc[] = [];
  return {
    conf,
    healthUrl: `http://${healthAddress}`,
    process: () => runs[runs.length - 1],
    async start() {
      const proc = startProcess("telegraf", TELEGRAF, ["--strict-env-handling", "--config", confFile], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
        logFile: join(dir, `telegraf-${runs.length + 1}.log`),
      });
      runs.push(proc);
      await proc.waitForLog(/\[inputs\.mqtt_consumer\] Connected/, 30_000);
    },
    async stop() {
      await runs[runs.length - 1]?.stop(20_000);
    },
    log: () => runs.map((r) => r.log()).join("\n"),
  };
}
