import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa, type TestCa } from "./pki";
import { FakeInflux, type FakeInfluxOptions } from "./fake-influx";

export const ORG = "iot";
export const BUCKET = "sensors";
export const TOKEN = "test-write-token-0123456789abcdef0123456789";

export function writeTempFile(name: string, content: string, mode = 0o600): string {
  const path = join(mkdtempSync(join(tmpdir(), "sim-file-")), name);
  writeFileSync(path, content, { mode });
  return path;
}

export interface TlsServer {
  ca: TestCa;
  caFile: string;
  server: FakeInflux;
}

/** A fake InfluxDB on HTTPS with a certificate for localhost signed by a fresh test CA. */
export async function startTlsServer(options: Partial<FakeInfluxOptions> = {}): Promise<TlsServer> {
  const ca = await createTestCa();
  const tls = await ca.issue({ dns: ["localhost"], ips: ["127.0.0.1"] });
  const server = new FakeInflux({ token: TOKEN, org: ORG, bucket: BUCKET, tls, ...options });
  await server.start();
  return { ca, caFile: writeTempFile("ca.pem", ca.certPem, 0o644), server };
}

/** The variables every run needs to reach `server` and trust its CA. */
export function connectionEnv(server: FakeInflux, caFile: string): Record<string, string> {
  return { INFLUX_URL: server.url, INFLUX_ORG: ORG, INFLUX_BUCKET: BUCKET, INFLUX_TOKEN: TOKEN, INFLUX_CA_FILE: caFile };
}
