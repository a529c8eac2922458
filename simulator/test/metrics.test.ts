// The simulator's own counters (measurement "simulator", schema.ts): written on the same write
// path as the readings, exactly the schema's fields, counted apart so that the readings' counters
// and the server's count of readings still agree, and every metrics line accounted for.
import { loadConfig, ConfigError } from "../src/config";
import { metricsLine } from "../src/metrics";
import { METRICS_FIELDS, METRICS_MEASUREMENT, type MetricsField } from "../src/schema";
import { connectionEnv, startTlsServer, type TlsServer } from "./support/fixtures";
import { parseLine, type ParsedPoint } from "./support/line-protocol";
import { baseEnv, isSummary, signalAndWaitForExit, startSimulator, type LogLine, type RunningSimulator } from "./support/run-simulator";

const FIELD_NAMES = Object.keys(METRICS_FIELDS) as MetricsField[];
const values = (v: number): Record<MetricsField, number> => Object.fromEntries(FIELD_NAMES.map((f, i) => [f, v + i])) as Record<MetricsField, number>;

describe("a metrics line", () => {
  test("carries exactly the schema's fields, in its order, as integers, with the site tag and a millisecond timestamp", () => {
    const line = metricsLine("plant-7", values(10), 1_700_000_000_123);
    const point = parseLine(line);
    expect(point.measurement).toBe(METRICS_MEASUREMENT);
    expect(point.tags).toEqual({ site: "plant-7" });
    expect(Object.keys(point.fields)).toEqual(FIELD_NAMES);
    expect(point.integerFields).toEqual(FIELD_NAMES);
    expect(point.fields).toEqual(values(10));
    expect(point.timestamp).toBe(1_700_000_000_123);
  });

  test("refuses a value that is not a non-negative integer", () => {
    expect(() => metricsLine("s", { ...values(0), buffer_lines: 1.5 }, 0)).toThrow(/buffer_lines must be a non-negative integer/);
    expect(() => metricsLine("s", { ...values(0), points_dropped: -1 }, 0)).toThrow(/points_dropped/);
  });
});

describe("configuration", () => {
  const env = { INFLUX_URL: "https://influxdb:8086", INFLUX_ORG: "iot", INFLUX_BUCKET: "sensors", INFLUX_TOKEN: "t" };
  const problem = (extra: Record<string, string>) => {
    try {
      loadConfig({ ...env, ...extra });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error("expected a configuration error");
  };

  test("every 10 s by default, 0 turns it off", () => {
    expect(loadConfig(env).metricsIntervalMs).toBe(10_000);
    expect(loadConfig({ ...env, SIM_METRICS_INTERVAL_MS: "0" }).metricsIntervalMs).toBe(0);
  });

  test.each([["50"], ["-1"], ["often"], ["3600001"]])("SIM_METRICS_INTERVAL_MS=%s is refused, naming the variable", (value) => {
    expect(problem({ SIM_METRICS_INTERVAL_MS: value })).toMatch(/SIM_METRICS_INTERVAL_MS must be/);
  });

  test("the readings cannot use the metrics' measurement", () => {
    expect(problem({ SIM_MEASUREMENT: METRICS_MEASUREMENT })).toMatch(/SIM_MEASUREMENT must not be "simulator"/);
  });
});

describe("metrics on the write path", () => {
  let tls: TlsServer;
  beforeEach(async () => {
    tls = await startTlsServer();
  });
  afterEach(async () => {
    await tls.server.stop().catch(() => undefined);
  });

  const metricsInOrder = (): ParsedPoint[] => [...tls.server.metrics.values()].sort((a, b) => a.timestamp - b.timestamp);
  const sumOf = (sim: RunningSimulator, msg: string, key: string) => sim.logs.filter((l) => l.msg === msg).reduce((sum, l) => sum + (l[key] as number), 0);

  /** The accounting every run must satisfy, whatever happened. */
  function expectExactAccounting(sim: RunningSimulator, summary: LogLine): void {
    expect((summary.points_written as number) + (summary.points_dropped as number)).toBe(summary.points_generated);
    expect((summary.metrics_written as number) + (summary.metrics_dropped as number)).toBe(summary.metrics_generated);
    // readings and metrics lines are counted, and logged when dropped, each on their own
    expect(summary.points_written).toBe(tls.server.points.size);
    expect(summary.metrics_written).toBe(tls.server.metrics.size);
    expect(sumOf(sim, "points dropped", "points")).toBe(summary.points_dropped);
    expect(sumOf(sim, "metrics lines dropped", "lines")).toBe(summary.metrics_dropped);
  }

  test("lines of the schema at the interval, counters that only grow, and readings counted exactly as without them", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(
      baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "20", SIM_INTERVAL_MS: "100", SIM_SITE: "plant-7", SIM_METRICS_INTERVAL_MS: "200", SIM_MAX_INFLIGHT_LINES: "7000" }),
    );
    try {
      await server.waitFor(() => server.metrics.size >= 6, 20_000, "six metrics lines");
      const { code } = await signalAndWaitForExit(sim, 10_000);
      expect(code).toBe(0);
      const summary = await sim.waitForLog(isSummary, 1000, "summary");
      expectExactAccounting(sim, summary);
      expect(summary.points_dropped).toBe(0);
      expect(summary.metrics_dropped).toBe(0);

      const lines = metricsInOrder();
      for (const point of lines) {
        expect(point.tags).toEqual({ site: "plant-7" });
        expect(Object.keys(point.fields)).toEqual(FIELD_NAMES);
        expect(point.integerFields).toEqual(FIELD_NAMES);
        expect(point.fields.buffer_capacity_lines).toBe(7000);
        expect(point.fields.buffer_lines).toBeLessThanOrEqual(7000);
        // a line's own counts: what was generated then is written, dropped or in the buffer
        expect(point.fields.points_written + point.fields.points_dropped + point.fields.buffer_lines).toBe(point.fields.points_generated);
      }
      for (let i = 1; i < lines.length; i++) {
        for (const counter of ["points_generated", "points_written", "metrics_written"] as const) {
          expect(lines[i].fields[counter]).toBeGreaterThanOrEqual(lines[i - 1].fields[counter]);
        }
        // roughly one interval apart (timers are not exact)
        expect(lines[i].timestamp - lines[i - 1].timestamp).toBeGreaterThanOrEqual(100);
      }
      expect(lines.at(-1)!.fields.points_written).toBeGreaterThan(lines[0].fields.points_written);
      expect(lines.at(-1)!.fields.points_written).toBeLessThanOrEqual(summary.points_written as number);
      // no reading was mistaken for a metrics line or the other way round
      for (const point of server.points.values()) expect(point.measurement).toBe("environment");
    } finally {
      sim.process.kill("SIGKILL");
    }
  });

  test("an outage shows as write retries in later lines; nothing is lost or double counted", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "20", SIM_INTERVAL_MS: "100", SIM_METRICS_INTERVAL_MS: "200" }));
    try {
      await server.waitFor(() => server.metrics.size >= 2, 20_000, "first metrics lines");
      server.failure = { status: 503 };
      await sim.waitForLog((l) => l.msg === "write failed, will retry", 10_000, "a retried write");
      // the outage must last a while; its length is an input of the test, not a wait for a result
      await new Promise((resolve) => setTimeout(resolve, 1000));
      server.failure = undefined;
      await server.waitFor(() => metricsInOrder().some((p) => p.fields.write_retries > 0), 20_000, "a metrics line with retries");
      const { code } = await signalAndWaitForExit(sim, 10_000);
      expect(code).toBe(0);
      const summary = await sim.waitForLog(isSummary, 1000, "summary");
      expectExactAccounting(sim, summary);
      expect(summary.points_dropped).toBe(0);
    } finally {
      sim.process.kill("SIGKILL");
    }
  });

  test("SIGTERM with the server holding every write: aborted metrics lines are counted and logged apart from the readings", async () => {
    const { server, caFile } = tls;
    const sim = startSimulator(
      baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "50", SIM_INTERVAL_MS: "100", SIM_METRICS_INTERVAL_MS: "200", SIM_SHUTDOWN_TIMEOUT_MS: "2000", SIM_REQUEST_TIMEOUT_MS: "60000" }),
    );
    try {
      await server.waitFor(() => server.points.size >= 200 && server.metrics.size >= 1, 20_000, "first points and metrics");
      server.hang = "writes";
      await server.waitFor(() => server.heldLines >= 100 && server.heldMetricsLines >= 1, 20_000, "readings and a metrics line in unanswered writes");
      const { code } = await signalAndWaitForExit(sim, 3000);
      expect(code).toBe(0);
      const summary = await sim.waitForLog(isSummary, 1000, "summary");
      expect(sim.logs.at(-1)).toBe(summary);
      expectExactAccounting(sim, summary);
      // the readings' drops are exactly the readings held: metrics lines do not blur them
      expect(summary.points_dropped).toBe(server.heldLines);
      expect(summary.metrics_dropped as number).toBeGreaterThanOrEqual(server.heldMetricsLines);
      for (const drop of sim.logs.filter((l) => l.msg === "metrics lines dropped")) expect(drop.reason).toMatch(/shutdown/);
    } finally {
      sim.process.kill("SIGKILL");
    }
  });
});
