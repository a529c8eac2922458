// The simulator as a real process against a real HTTPS server with a test CA.
import { FakeInflux } from "./support/fake-influx";
import { BUCKET, ORG, TOKEN, connectionEnv, startTlsServer, writeTempFile, type TlsServer } from "./support/fixtures";
import { createTestCa } from "./support/pki";
import { baseEnv, isSummary, startSimulator } from "./support/run-simulator";

const FIELDS = ["temperature_c", "humidity_pct", "pressure_hpa", "battery_pct", "rssi_dbm"];

describe("simulator write path", () => {
  let tls: TlsServer;
  beforeEach(async () => {
    tls = await startTlsServer();
  });
  afterEach(async () => {
    await tls.server.stop().catch(() => undefined);
  });

  test("points arrive with the documented schema, the right token, ms precision and gzip", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(
      baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "50", SIM_INTERVAL_MS: "100", SIM_SITE: "plant-7", SIM_BATCH_SIZE: "200", SIM_GZIP: "true" }),
    );
    await server.waitFor(() => server.points.size >= 1000, 20_000, "1000 points");
    sim.process.kill("SIGTERM");
    expect(await sim.exited).toBe(0);

    expect(server.rejectedAuth).toBe(0);
    expect(server.badRequests).toEqual([]);
    expect([...server.precisions]).toEqual(["ms"]);
    expect(server.gzipRequests).toBeGreaterThan(0);
    const devices = new Set<string>();
    for (const point of server.points.values()) {
      expect(point.measurement).toBe("environment");
      expect(Object.keys(point.tags).sort()).toEqual(["device", "site"]);
      expect(point.tags.site).toBe("plant-7");
      expect(point.tags.device).toMatch(/^dev-\d{6}$/);
      expect(Object.keys(point.fields).sort()).toEqual([...FIELDS].sort());
      expect(point.integerFields).toEqual(["rssi_dbm"]);
      expect(point.fields.humidity_pct).toBeGreaterThanOrEqual(0);
      expect(point.fields.humidity_pct).toBeLessThanOrEqual(100);
      expect(point.fields.battery_pct).toBeGreaterThan(0);
      expect(point.fields.battery_pct).toBeLessThanOrEqual(100);
      expect(point.fields.pressure_hpa).toBeGreaterThan(950);
      expect(point.fields.pressure_hpa).toBeLessThan(1070);
      // explicit timestamp in milliseconds, close to now
      expect(Math.abs(point.timestamp - Date.now())).toBeLessThan(60_000);
      devices.add(point.tags.device);
    }
    expect(devices.size).toBe(50);
    const summary = await sim.waitForLog(isSummary, 1000, "summary");
    expect(summary.points_dropped).toBe(0);
    expect(summary.points_generated).toBe(summary.points_written);
    expect(summary.points_written).toBe(server.points.size);
    expect(sim.output()).not.toContain(TOKEN);
  });

  test("token from INFLUX_TOKEN_FILE is used and never logged", async () => {
    const { server, caFile } = tls;
    const tokenFile = writeTempFile("token", `${TOKEN}\n`);
    const env = { ...connectionEnv(server, caFile), INFLUX_TOKEN_FILE: tokenFile, SIM_DEVICES: "5", SIM_INTERVAL_MS: "100", LOG_LEVEL: "trace" };
    delete (env as Record<string, string>).INFLUX_TOKEN;
    const sim = startSimulator(baseEnv(env));
    await server.waitFor(() => server.points.size >= 20, 10_000, "20 points");
    sim.process.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
    expect(server.rejectedAuth).toBe(0);
    expect(sim.output()).not.toContain(TOKEN);
  });

  test("a server whose certificate another CA signed is refused with a clear error and nothing is sent", async () => {
    const { server } = tls;
    const otherCa = await createTestCa("Some Other CA");
    const otherCaFile = writeTempFile("other-ca.pem", otherCa.certPem);
    const sim = startSimulator(baseEnv({ ...connectionEnv(server, otherCaFile), SIM_DEVICES: "5", SIM_INTERVAL_MS: "100" }));
    expect(await sim.exited).toBe(1);
    const fatal = sim.logs.find((line) => line.level === 60);
    expect(fatal?.msg).toMatch(/TLS certificate of https:\/\/localhost:\d+ is not trusted/);
    expect(fatal?.msg).toMatch(/INFLUX_CA_FILE/);
    expect(server.httpRequests).toBe(0);
    expect(server.writeRequests).toBe(0);
  });

  test("without INFLUX_CA_FILE a private CA is not trusted either", async () => {
    const { server, caFile } = tls;
    const env = connectionEnv(server, caFile) as Record<string, string>;
    delete env.INFLUX_CA_FILE;
    const sim = startSimulator(baseEnv({ ...env, SIM_DEVICES: "5" }));
    expect(await sim.exited).toBe(1);
    expect(sim.logs.find((line) => line.level === 60)?.msg).toMatch(/set INFLUX_CA_FILE/);
    expect(server.httpRequests).toBe(0);
  });

  test("an outage (refused, then 503, then 429 with Retry-After) loses nothing", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(
      baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "100", SIM_INTERVAL_MS: "100", SIM_BATCH_SIZE: "500" }),
    );
    await server.waitFor(() => server.points.size >= 500, 20_000, "first points");

    await server.refuseConnections();
    await sim.waitForLog((l) => l.msg === "write failed, will retry" && (l.err as { code?: string })?.code === "ECONNREFUSED", 10_000, "refused writes");
    // The outage must last a while; its length is an input of the test, not a wait for a result.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await server.acceptConnections();
    server.failure = { status: 503 };
    await server.waitFor(() => server.writeRequests > 3, 10_000, "requests answered 503");
    server.failure = { status: 429, retryAfterSeconds: 1 };
    const before429 = server.writeRequests;
    await server.waitFor(() => server.writeRequests > before429 + 2, 10_000, "requests answered 429");
    server.failure = undefined;

    // recovered: the backlog drains while live points keep coming; then stop and compare
    await server.waitFor(() => server.points.size > 2000, 20_000, "backlog");
    sim.process.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
    const summary = await sim.waitForLog(isSummary, 1000, "summary");
    const generated = summary.points_generated as number;
    expect(summary.points_dropped).toBe(0);
    expect(summary.points_written).toBe(generated);
    expect(server.points.size).toBe(generated);
  });

  test("SIGTERM mid-run flushes everything and the summary agrees with the server", async () => {
    const { server, caFile } = tls;
    // a slow server keeps batches in flight when the signal arrives
    await server.stop();
    const slow = new FakeInflux({ token: TOKEN, org: ORG, bucket: BUCKET, tls: await tls.ca.issue({ dns: ["localhost"] }), latencyMs: 300 });
    await slow.start();
    try {
      const sim = startSimulator(baseEnv({ ...connectionEnv(slow, caFile), SIM_DEVICES: "2000", SIM_INTERVAL_MS: "100", SIM_BATCH_SIZE: "1000" }));
      await slow.waitFor(() => slow.points.size >= 5000, 20_000, "5000 points");
      sim.process.kill("SIGTERM");
      expect(await sim.exited).toBe(0);
      const summary = await sim.waitForLog(isSummary, 1000, "summary");
      expect(summary.points_dropped).toBe(0);
      expect(summary.points_generated).toBe(summary.points_written);
      expect(slow.points.size).toBe(summary.points_written);
      expect(Number.isInteger(summary.points_generated)).toBe(true);
    } finally {
      await slow.stop();
    }
  });

  test("a long outage overflows the bounded buffer: drops are counted and logged, the process stays up, memory stays bounded", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(
      baseEnv({
        ...connectionEnv(server, caFile),
        SIM_DEVICES: "2000",
        SIM_INTERVAL_MS: "100",
        SIM_BATCH_SIZE: "1000",
        SIM_BUFFER_LINES: "5000",
        SIM_MAX_INFLIGHT_LINES: "9000",
      }),
    );
    await server.waitFor(() => server.points.size >= 2000, 20_000, "first points");
    await server.refuseConnections();
    const firstDrop = await sim.waitForLog((l) => l.msg === "points dropped", 20_000, "a drop");
    expect(firstDrop.reason).toMatch(/retry buffer full/);
    // keep the outage going for a while and watch memory: rate is 20,000 points/s,
    // so an unbounded buffer would grow by megabytes a second
    const rss: number[] = [];
    const pid = sim.process.pid as number;
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      rss.push(readRssKb(pid));
    }
    expect(sim.process.exitCode).toBeNull();
    const growth = rss[rss.length - 1] - rss[2];
    expect(growth).toBeLessThan(30_000); // < 30 MB over 3 s while ~60,000 points were dropped
    await server.acceptConnections();
    const after = server.points.size;
    await server.waitFor(() => server.points.size > after + 2000, 20_000, "recovery");
    sim.process.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
    const summary = await sim.waitForLog(isSummary, 1000, "summary");
    expect(summary.points_dropped as number).toBeGreaterThan(10_000);
    expect((summary.points_written as number) + (summary.points_dropped as number)).toBe(summary.points_generated);
    expect(server.points.size).toBe(summary.points_written);
    const dropLogs = sim.logs.filter((l) => l.msg === "points dropped");
    const loggedDrops = dropLogs.reduce((sum, l) => sum + (l.points as number), 0);
    expect(loggedDrops).toBe(summary.points_dropped);
  });
});

function readRssKb(pid: number): number {
  const status: string = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) : 0;
}
