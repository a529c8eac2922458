// InfluxDB tier: the real simulator (simulator/dist) writes to the real InfluxDB over verified TLS,
// configured as the program configures its container (dev stack: org, bucket, site, seed, gzip,
// token file, CA file), with a larger, faster fleet and an hour of backfill so that it finishes in
// about a second; then Grafana's read token checks that exactly what the simulator reports as
// written is in the bucket, in the documented schema, in the backfill's window; and a simulator
// that does not trust the server's certificate gets nothing in.
// (Versions and what of the image is not covered: see first-setup.test.ts and support/first-setup.ts.)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestCa } from "../../simulator/test/support/pki";
import { fluxQuery } from "./support/http";
import { isSummary, metricsMeasurement, runToExit, simulatorConfig, simulatorEnv, type LogLine, type RunningSimulator } from "./support/simulator";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";

/** The data schema (docs/SIMULATOR.md, "Data schema"): tags device and site, these fields (rssi_dbm an integer, the rest floats). */
const DOCUMENTED_FIELDS: Record<string, string> = { temperature_c: "double", humidity_pct: "double", pressure_hpa: "double", battery_pct: "double", rssi_dbm: "long" };

const FLEET = { SIM_DEVICES: "20", SIM_INTERVAL_MS: "2000", SIM_BACKFILL: "1h", SIM_EXIT_AFTER_BACKFILL: "true" };

influxTier("InfluxDB tier: the simulator writes to the real InfluxDB over verified TLS, and all of it arrives", () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  let env: Record<string, string>;
  let config: ReturnType<typeof simulatorConfig>;
  let run: { code: number; sim: RunningSimulator };
  let summary: LogLine;
  let backfill: LogLine;
  let token: string;

  const flux = (query: string) => fluxQuery(s().server, s().grafanaToken(), s().datasource.organization, query);
  const bucket = () => JSON.stringify(s().setup.bucket);

  beforeAll(async () => {
    stack = await startStack();
    token = stack.simulatorToken();
    // no dropouts, so that every device has exactly one reading per interval of the backfill
    env = simulatorEnv(stack, { ...FLEET, SIM_FAULT_DROPOUT_RATE: "0" });
    config = simulatorConfig(env);
    run = await runToExit(env, 60_000);
    summary = run.sim.logs.filter(isSummary).pop()!;
    backfill = run.sim.logs.find((l) => l.msg === "backfill started")!;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  serverTest("it runs as the program configures it, exits 0 after the backfill, and reports every point written", () => stack, async () => {
    expect({ code: run.code, output: s().server.redact(run.sim.output().slice(-2000)) }).toMatchObject({ code: 0 });
    expect(config).toMatchObject({ site: s().decl.config["secure-iot:simSite"], seed: Number(s().decl.config["secure-iot:simSeed"]), devices: 20, intervalMs: 2000 });
    expect(env.SIM_GZIP).toBe(s().decl.simulator.env.SIM_GZIP);
    const expected = (config.devices * config.backfillMs) / config.intervalMs;
    expect(summary).toMatchObject({ points_generated: expected, points_written: expected, points_dropped: 0 });
    expect(run.sim.output()).not.toContain(token);
  });

  serverTest("what the summary reports as written is in the bucket: each device, each field, the documented types and tags", () => stack, async () => {
    const counts = await flux(
      `from(bucket: ${bucket()}) |> range(start: 0) |> filter(fn: (r) => r._measurement == ${JSON.stringify(config.measurement)}) |> group(columns: ["device", "site", "_field"]) |> count()`,
    );
    expect(counts.error).toBeUndefined();
    const rows = counts.tables.flatMap((t) => t.rows);
    const devices = [...new Set(rows.map((r) => r.device))].sort();
    expect(devices).toEqual(Array.from({ length: config.devices }, (_, i) => `dev-${String(i + 1).padStart(6, "0")}`));
    expect([...new Set(rows.map((r) => r.site))]).toEqual([config.site]);
    expect([...new Set(rows.map((r) => r._field))].sort()).toEqual(Object.keys(DOCUMENTED_FIELDS).sort());
    const perInterval = config.backfillMs / config.intervalMs;
    for (const row of rows) expect([row.device, row._field, Number(row._value)]).toEqual([row.device, row._field, perInterval]);
    for (const field of Object.keys(DOCUMENTED_FIELDS)) {
      const total = rows.filter((r) => r._field === field).reduce((n, r) => n + Number(r._value), 0);
      expect([field, total]).toEqual([field, summary.points_written]);
    }
    // the field types InfluxDB stored
    for (const [field, type] of Object.entries(DOCUMENTED_FIELDS)) {
      const one = await flux(`from(bucket: ${bucket()}) |> range(start: 0) |> filter(fn: (r) => r._measurement == ${JSON.stringify(config.measurement)} and r._field == "${field}") |> limit(n: 1)`);
      expect([field, one.tables[0]?.datatypes._value]).toEqual([field, type]);
    }
  });

  serverTest("the bucket holds the readings' measurement and, if this simulator has one, its metrics measurement, nothing else", () => stack, async () => {
    const res = await flux(`import "influxdata/influxdb/schema"\nschema.measurements(bucket: ${bucket()}, start: 0)`);
    expect(res.error).toBeUndefined();
    const found = res.tables.flatMap((t) => t.rows.map((r) => r._value));
    expect(found).toContain(config.measurement);
    const allowed = [config.measurement, metricsMeasurement()].filter((m): m is string => m !== undefined);
    expect(found.filter((m) => !allowed.includes(m))).toEqual([]);
  });

  serverTest("the backfill lands in its window, one reading per device and interval, at whole milliseconds", () => stack, async () => {
    const from = Date.parse(backfill.from as string);
    const to = Date.parse(backfill.to as string);
    expect(to - from).toBe(config.backfillMs);
    const span = await flux(
      `data = from(bucket: ${bucket()}) |> range(start: 0) |> filter(fn: (r) => r._measurement == ${JSON.stringify(config.measurement)} and r._field == "battery_pct")\n` +
        `union(tables: [data |> first() |> set(key: "at", value: "first"), data |> last() |> set(key: "at", value: "last")])`,
    );
    expect(span.error).toBeUndefined();
    const rows = span.tables.flatMap((t) => t.rows);
    expect(rows).toHaveLength(2 * config.devices);
    for (const row of rows) {
      const t = Date.parse(row._time);
      if (row.at === "first") expect([row.device, t >= from && t < from + config.intervalMs]).toEqual([row.device, true]);
      else expect([row.device, t < to && t >= to - config.intervalMs]).toEqual([row.device, true]);
    }
    const subMillisecond = await flux(
      `from(bucket: ${bucket()}) |> range(start: 0) |> filter(fn: (r) => r._measurement == ${JSON.stringify(config.measurement)} and r._field == "battery_pct") |> map(fn: (r) => ({r with ns: int(v: r._time) % 1000000})) |> filter(fn: (r) => r.ns != 0) |> group() |> count()`,
    );
    expect(subMillisecond.error).toBeUndefined();
    expect(subMillisecond.rowCount).toBe(0);
  });

  serverTest("a simulator that does not trust the server's certificate gets nothing in: exit 1, bucket unchanged", () => stack, async () => {
    const total = async () => {
      const res = await flux(`from(bucket: ${bucket()}) |> range(start: 0) |> group() |> count()`);
      expect(res.error).toBeUndefined();
      return Number(res.tables[0]?.rows[0]?._value ?? 0);
    };
    const before = await total();
    expect(before).toBeGreaterThan(0);
    const otherCa = await createTestCa("not the stack's CA");
    const caFile = join(s().server.dir, "other-ca.pem");
    writeFileSync(caFile, otherCa.certPem);
    const wrong = await runToExit({ ...env, INFLUX_CA_FILE: caFile }, 30_000);
    const output = s().server.redact(wrong.sim.output());
    expect([wrong.code, output]).toEqual([1, expect.stringMatching(/certificate|self[- ]signed|unable to verify/i)]);
    expect(wrong.sim.logs.some(isSummary)).toBe(false);
    expect(await total()).toBe(before);
    expect(wrong.sim.output()).not.toContain(token);
  });
});
