// The real influxd for the MQTT tier: HTTPS with a certificate from the tier's CA, set up through
// its HTTP API, with a write-only token for the one bucket as the bridge gets one. It can be stopped
// and started again on the same port and data (an outage), which the InfluxDB tier's launcher does
// not do (it removes its directory on stop). How the program configures its InfluxDB container is
// the InfluxDB tier's subject; here InfluxDB is the bridge's destination.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fluxQuery, httpsRequest, type FluxResult } from "../../influxdb/support/http";
import type { Ca } from "./pki";
import { freePort, startProcess, waitFor, type Proc } from "./process";
import { INFLUXD } from "./tier";

export const ORG = "mqtt-tier";
export const BUCKET = "sensors";

export interface Influx {
  url: string;
  port: number;
  caFile: string;
  operatorToken: string;
  /** write-only token for BUCKET (what the bridge gets) */
  bridgeToken: string;
  process(): Proc;
  /** SIGTERM and wait for the exit: the outage begins */
  stop(): Promise<void>;
  /** start again on the same port and data, wait for /health */
  start(): Promise<void>;
  query(flux: string): Promise<FluxResult>;
  logTail(): string;
}

export async function startInflux(dir: string, ca: Ca, caFile: string): Promise<Influx> {
  mkdirSync(join(dir, "data"), { recursive: true });
  const certificate = await ca.server({ dns: ["localhost", "influxdb"], ips: ["127.0.0.1"] });
  writeFileSync(join(dir, "influxd.crt"), certificate.certPem);
  writeFileSync(join(dir, "influxd.key"), certificate.keyPem, { mode: 0o600 });
  const port = await freePort();
  const endpoint = { port, caFile };
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    INFLUXD_HTTP_BIND_ADDRESS: `127.0.0.1:${port}`,
    INFLUXD_BOLT_PATH: join(dir, "data", "influxd.bolt"),
    INFLUXD_ENGINE_PATH: join(dir, "data", "engine"),
    INFLUXD_TLS_CERT: join(dir, "influxd.crt"),
    INFLUXD_TLS_KEY: join(dir, "influxd.key"),
    INFLUXD_REPORTING_DISABLED: "true",
    INFLUXD_LOG_LEVEL: "warn",
  };
  let proc: Proc | undefined;
  let starts = 0;
  const start = async () => {
    proc = startProcess("influxd", INFLUXD, [], { cwd: dir, env, logFile: join(dir, `influxd-${++starts}.log`) });
    const started = proc;
    await waitFor(
      "influxd's /health passing",
      async () => {
        if (started.exitCode() !== undefined) throw new Error(`influxd exited with ${started.exitCode()}:\n${started.tail()}`);
        const res = await httpsRequest(endpoint, { method: "GET", path: "/health", timeoutMs: 2_000 });
        return res.status === 200 && JSON.parse(res.body).status === "pass" ? true : undefined;
      },
      30_000,
    );
  };
  try {
    await start();
  } catch (error) {
    await proc?.stop();
    throw error;
  }

  const setup = await httpsRequest(endpoint, {
    method: "POST",
    path: "/api/v2/setup",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "operator", password: "mqtt-tier-operator-password", org: ORG, bucket: BUCKET }),
  });
  if (setup.status !== 201) throw new Error(`InfluxDB setup: HTTP ${setup.status}: ${setup.body}`);
  const answer = JSON.parse(setup.body) as { auth: { token: string }; org: { id: string }; bucket: { id: string } };
  const operatorToken = answer.auth.token;
  const created = await httpsRequest(endpoint, {
    method: "POST",
    path: "/api/v2/authorizations",
    token: operatorToken,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      orgID: answer.org.id,
      description: `bridge: write-only ${BUCKET}`,
      permissions: [{ action: "write", resource: { type: "buckets", id: answer.bucket.id, orgID: answer.org.id } }],
    }),
  });
  if (created.status !== 201) throw new Error(`InfluxDB authorization: HTTP ${created.status}: ${created.body}`);

  return {
    url: `https://localhost:${port}`,
    port,
    caFile,
    operatorToken,
    bridgeToken: JSON.parse(created.body).token,
    process: () => proc!,
    async stop() {
      await proc!.stop();
    },
    start,
    query: (flux) => fluxQuery(endpoint, operatorToken, ORG, flux),
    logTail: () => proc?.tail() ?? "",
  };
}
