// Backfill, exit after backfill, the health signal and plain-http behaviour, as real processes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { judgeHealth } from "../src/health";
import { FakeInflux } from "./support/fake-influx";
import { BUCKET, ORG, TOKEN, connectionEnv, startTlsServer, writeTempFile } from "./support/fixtures";
import { baseEnv, isSummary, startSimulator } from "./support/run-simulator";

test("backfill writes the whole history, exits 0 with a summary, and the same seed gives the same points", async () => {
  const runOnce = async () => {
    const { server, caFile } = await startTlsServer();
    try {
      const sim = startSimulator(
        baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "20", SIM_INTERVAL_MS: "60000", SIM_BACKFILL: "24h", SIM_EXIT_AFTER_BACKFILL: "true", SIM_SEED: "1234" }),
      );
      expect(await sim.exited).toBe(0);
      const summary = await sim.waitForLog(isSummary, 1000, "summary");
      return { server, summary };
    } finally {
      await server.stop();
    }
  };
  const first = await runOnce();
  const readings = 20 * 24 * 60;
  expect(first.summary.points_generated as number).toBeGreaterThan(readings * 0.97);
  expect(first.summary.points_generated as number).toBeLessThanOrEqual(readings + 20);
  expect(first.summary.points_dropped).toBe(0);
  expect(first.server.points.size).toBe(first.summary.points_written);
  const timestamps = [...first.server.points.values()].map((p) => p.timestamp);
  expect(Date.now() - Math.min(...timestamps)).toBeGreaterThan(23.9 * 3_600_000);

  const second = await runOnce();
  let common = 0;
  for (const [key, point] of second.server.points) {
    const other = first.server.points.get(key);
    if (!other) continue;
    common++;
    expect(point.fields).toEqual(other.fields);
  }
  expect(common).toBeGreaterThan(readings * 0.9);
});

test("health: healthy while writes succeed, unhealthy once they stop", async () => {
  const { server, caFile } = await startTlsServer();
  const env = baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "5", SIM_INTERVAL_MS: "100", SIM_HEALTH_MAX_AGE_MS: "1000" });
  const sim = startSimulator(env);
  try {
    await server.waitFor(() => server.points.size >= 20, 10_000, "points");
    const healthcheck = resolve(__dirname, "../dist/healthcheck.js");
    const check = () => {
      try {
        execFileSync(process.execPath, [healthcheck], { env });
        return 0;
      } catch (error) {
        return (error as { status: number }).status;
      }
    };
    await waitUntil(() => check() === 0, 5000, "healthy");
    await server.refuseConnections();
    await waitUntil(() => check() === 1, 10_000, "unhealthy after writes stop");
    expect(JSON.parse(readFileSync(env.SIM_HEALTH_FILE, "utf8")).lastSuccessAt).toBeGreaterThan(0);
    await server.acceptConnections();
    await waitUntil(() => check() === 0, 10_000, "healthy again");
  } finally {
    sim.process.kill("SIGTERM");
    await sim.exited;
    await server.stop();
  }
});

test("judgeHealth: missing file, no write yet, fresh and stale", () => {
  expect(judgeHealth("/nonexistent/health.json", 1000).healthy).toBe(false);
  const never = writeTempFile("h.json", JSON.stringify({ startedAt: 1, lastSuccessAt: 0 }));
  expect(judgeHealth(never, 1000)).toEqual({ healthy: false, reason: "no successful write yet" });
  const file = writeTempFile("h.json", JSON.stringify({ startedAt: 1, lastSuccessAt: 10_000 }));
  expect(judgeHealth(file, 1000, 10_500).healthy).toBe(true);
  expect(judgeHealth(file, 1000, 11_500).healthy).toBe(false);
});

test("plain http works only when the URL says so, with one warning", async () => {
  const server = new FakeInflux({ token: TOKEN, org: ORG, bucket: BUCKET });
  await server.start();
  try {
    const sim = startSimulator(baseEnv({ INFLUX_URL: server.url, INFLUX_ORG: ORG, INFLUX_BUCKET: BUCKET, INFLUX_TOKEN: TOKEN, SIM_DEVICES: "5", SIM_INTERVAL_MS: "100" }));
    await server.waitFor(() => server.points.size >= 10, 10_000, "points over http");
    sim.process.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
    const warnings = sim.logs.filter((l) => l.level === 40 && /plain http/.test(l.msg));
    expect(warnings).toHaveLength(1);
  } finally {
    await server.stop();
  }
});

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
