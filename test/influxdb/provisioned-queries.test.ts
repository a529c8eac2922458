// InfluxDB tier: every Flux query the program provisions into Grafana (each dashboard panel, each
// dashboard variable, each alert rule), taken from the files the program stages for Grafana (what
// dashboards/ builds, with the program's options), interpolated the way Grafana interpolates it
// (support/grafana-interpolation.ts, ported from Grafana's source), run with Grafana's read token
// against data the real simulator wrote into the real InfluxDB. Each must parse and return at least
// one row; a failure names the query and shows its text.
//
// The data: the simulator as the dev stack configures it (its devices, interval, site and seed), an
// hour of backfill and then live readings, with the fault rates raised so that every fault a panel
// looks for (spikes, stuck sensors, dropouts) occurs; the seed makes it the same data every run.
// (Versions and what of the image is not covered: see first-setup.test.ts and support/first-setup.ts.)
import { fluxQuery } from "./support/http";
import { longestPanelIntervalMs, problem, provisioned, runAlertQuery, runDashboard, panelTargets, unplacedInDashboard, type Execution, type Provisioned, type RunContext } from "./support/provisioned-queries";
import { join } from "node:path";
import { isSummary, metricsMeasurement, runToExit, signalAndWaitForExit, simulatorConfig, simulatorEnv } from "./support/simulator";
import { startSimulator } from "../../simulator/test/support/run-simulator";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";
import { within } from "./support/influxd";

const FAULTS = { SIM_FAULT_SPIKE_RATE: "0.01", SIM_FAULT_STUCK_RATE: "0.005", SIM_FAULT_DROPOUT_RATE: "0.005" };
/**
 * A device that went silent: one device at a second site whose simulator ran with its clock a
 * quarter of an hour back (support/shifted-clock.js), so its readings end then. Its silence is longer
 * than any silent-device threshold the settings allow a dashboard to use, and within the hour the
 * dashboards show.
 */
const SILENT = { shiftMs: 15 * 60_000, backfill: "45m" };
/** Metrics lines often enough that a few exist after seconds of live running (a simulator without them ignores it). */
const METRICS_INTERVAL = { SIM_METRICS_INTERVAL_MS: "1000" };

/** Fails with every query that errs, returns nothing or too much: where it is, what went wrong, its text. */
function expectAllAnswer(executions: Execution[], requireRows = true): void {
  const problems = executions.flatMap((e) => {
    const p = problem(e, requireRows);
    return p ? [`${e.source}\n  ${p}\n  provisioned:\n${indent(e.provisioned)}\n  sent to InfluxDB:\n${indent(e.flux)}`] : [];
  });
  if (problems.length > 0) throw new Error(`${problems.length} of ${executions.length} queries do not answer as Grafana needs:\n\n${problems.join("\n\n")}`);
}
const indent = (text: string) => text.replace(/^/gm, "    ");

influxTier("InfluxDB tier: every dashboard and alert query the program provisions, run as Grafana runs it, on the simulator's data", () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  let found: Provisioned;
  let ctx: RunContext;

  beforeAll(async () => {
    stack = await startStack();
    const env = simulatorEnv(stack, { SIM_BACKFILL: "1h", ...FAULTS, ...METRICS_INTERVAL });
    const config = simulatorConfig(env);
    const metrics = metricsMeasurement();
    const token = stack.grafanaToken();
    const count = async (flux: string) => {
      const res = await fluxQuery(stack!.server, token, stack!.datasource.organization, flux);
      if (res.error) throw new Error(`${res.error}\n${flux}`);
      return Number(res.tables[0]?.rows[0]?._value ?? 0);
    };
    const bucket = JSON.stringify(stack.setup.bucket);
    const silentEnv = {
      ...env,
      SIM_DEVICES: "1",
      SIM_SITE: `${config.site}-silent`,
      SIM_BACKFILL: SILENT.backfill,
      SIM_EXIT_AFTER_BACKFILL: "true",
      CLOCK_SHIFT_MS: String(SILENT.shiftMs),
      NODE_OPTIONS: `--require ${join(__dirname, "support", "shifted-clock.js")}`,
    };
    const silent = await runToExit(silentEnv, 60_000);
    if (silent.code !== 0) throw new Error(`the silent device's simulator failed (exit ${silent.code}):\n${stack.server.redact(silent.sim.output().slice(-3000))}`);
    const silentTo = Date.parse(silent.sim.logs.find((l) => l.msg === "backfill started")?.to as string);
    if (!(Math.abs(Date.now() - SILENT.shiftMs - silentTo) < 60_000)) throw new Error(`the silent device's backfill did not end a quarter of an hour ago (${new Date(silentTo).toISOString()})`);
    found = provisioned(stack.decl);
    // The simulator's metrics exist only while it runs (they are counters since its start): run it
    // live until they span two of the longest interval of a panel that reads them, so that a
    // per-window rate has two windows to compare.
    const readsMetrics = (query: string) => metrics !== undefined && query.includes(JSON.stringify(metrics));
    const liveSpanMs = 2 * longestPanelIntervalMs(found.dashboards, Date.now(), stack.datasource, readsMetrics);
    const sim = startSimulator(env);
    try {
      await sim.waitForLog((l) => l.msg === "live", 60_000, "the end of the backfill");
      // Live: wait, with a deadline, until readings of the last two intervals are in the bucket
      // and (for a simulator that writes them) metrics lines spanning liveSpanMs.
      const deadline = Date.now() + liveSpanMs + 60_000;
      for (;;) {
        const recent = await count(`from(bucket: ${bucket}) |> range(start: -${2 * config.intervalMs}ms) |> filter(fn: (r) => r._measurement == ${JSON.stringify(config.measurement)}) |> group() |> count()`);
        const span = metrics
          ? await count(
              `data = from(bucket: ${bucket}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == ${JSON.stringify(metrics)} and r.site == ${JSON.stringify(config.site)}) |> group() |> keep(columns: ["_time"]) |> sort(columns: ["_time"])\n` +
                `union(tables: [data |> first(column: "_time") |> map(fn: (r) => ({_value: -int(v: r._time)})), data |> last(column: "_time") |> map(fn: (r) => ({_value: int(v: r._time)}))]) |> sum() |> map(fn: (r) => ({_value: r._value / 1000000}))`,
            )
          : Infinity;
        if (recent > 0 && span >= liveSpanMs) break;
        if (sim.process.exitCode !== null) throw new Error(`the simulator exited (${sim.process.exitCode}) while running live:\n${stack.server.redact(sim.output().slice(-3000))}`);
        if (Date.now() > deadline) throw new Error(`live data did not arrive in time (recent readings ${recent}, metrics lines spanning ${span} of ${liveSpanMs} ms); simulator output:\n${stack.server.redact(sim.output().slice(-3000))}`);
        await within(sim.exited, 250);
      }
      const exit = await signalAndWaitForExit(sim, 15_000);
      if (exit.code !== 0 || !sim.logs.some(isSummary)) throw new Error(`the simulator did not stop cleanly (exit ${exit.code}):\n${stack.server.redact(sim.output().slice(-3000))}`);
    } finally {
      if (sim.process.exitCode === null) sim.process.kill("SIGKILL");
    }
    ctx = { now: Date.now(), datasource: stack.datasource, run: (flux) => fluxQuery(stack!.server, token, stack!.datasource.organization, flux) };
  }, 150_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  serverTest("the walker finds what the program provisions: every dashboard's panels and variables, every alert file, no Flux elsewhere", () => stack, async () => {
    expect(found.dashboards.length).toBeGreaterThan(0);
    expect(found.unplaced).toEqual([]);
    for (const d of found.dashboards) {
      expect([d.file, unplacedInDashboard(d)]).toEqual([d.file, []]);
      // every panel that is not a row has a query, and the walker sees each one
      const panels: any[] = [];
      const walk = (list: any[]) => list?.forEach((p) => (p.type === "row" ? walk(p.panels) : panels.push(p)));
      walk(d.json.panels);
      const withTargets = new Set(panelTargets(d).map((t) => t.panel));
      expect([d.file, panels.filter((p) => !withTargets.has(p)).map((p) => p.title)]).toEqual([d.file, []]);
    }
    const alertFiles = [...s().decl.filesOf(s().decl.grafana).keys()].filter((p) => p.includes("/provisioning/alerting/"));
    expect(alertFiles.length).toBeGreaterThan(0);
  });

  serverTest("every dashboard query, opened with its saved selection, parses and returns rows", () => stack, async () => {
    const executions: Execution[] = [];
    for (const d of found.dashboards) executions.push(...(await runDashboard(d, "default", ctx)));
    expect(executions.filter((e) => e.kind === "panel").length).toBe(found.dashboards.reduce((n, d) => n + panelTargets(d).length, 0));
    expectAllAnswer(executions);
  });

  serverTest("every dashboard query, with every variable on one concrete value (its first option), runs without an error", () => stack, async () => {
    // Rows are not required here: one device may rightly have nothing to show in a fault panel.
    // What this adds is the escaping path: concrete values through each query's format.
    const executions: Execution[] = [];
    for (const d of found.dashboards) executions.push(...(await runDashboard(d, "first", ctx)));
    expectAllAnswer(executions, false);
    expect(executions.filter((e) => e.kind === "variable").every((e) => e.result.rowCount > 0)).toBe(true);
  });

  serverTest("every alert rule query, over its relative range at the evaluation, parses and returns rows", () => stack, async () => {
    const executions: Execution[] = [];
    for (const a of found.alerts) executions.push(await runAlertQuery(a, ctx));
    expectAllAnswer(executions);
    // the rules the files hold are all accounted for: a rule whose queries are all expressions has no data
    expect(executions.length).toBe(found.alerts.length);
  });
});
