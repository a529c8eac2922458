// InfluxDB tier: a smoke run of the dashboard and alert query benchmark (npm run bench:dashboards,
// bench/dashboards/): a tiny fleet backfilled by the real simulator into the real influxd, every
// provisioned query and the older query set (the "before" of issue 17) run once each, the tables
// rendered. It proves that the benchmark still works; it asserts no time (figures are measured by
// the benchmark, docs/PERFORMANCE.md).
import { join } from "node:path";
import { backfill, measureQueries, programQuerySet, readQuerySet, type QueryFigures } from "../../bench/dashboards/query-bench";
import { ROWS_LIMIT, renderTables } from "../../bench/dashboards/report";
import { declared } from "./support/program";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";

const DEVICES = 3;

influxTier("InfluxDB tier: the dashboard query benchmark runs (a smoke run, no timing asserted)", () => {
  let stack: Stack | undefined;

  beforeAll(async () => {
    stack = await startStack(await declared("dev", { simDevices: DEVICES }));
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  serverTest(
    "a backfilled tiny fleet: every query of both sets answers once, the tables render",
    () => stack,
    async () => {
      const fleet = await backfill(stack!, DEVICES, "15m", 60_000);
      // 15 min at the dev stack's 5 s interval, less the readings the simulator's default dropout
      // episodes leave out (a few per device, at random)
      expect(fleet.points).toBeLessThanOrEqual(DEVICES * 180);
      expect(fleet.points).toBeGreaterThan(DEVICES * 180 * 0.8);
      expect(fleet.seriesCardinality).toBeGreaterThanOrEqual(DEVICES);
      const after = programQuerySet(stack!);
      const before = readQuerySet(join(__dirname, "..", "..", "bench", "dashboards", "before-issue-17.json"), "before");
      const { figures } = await measureQueries(stack!, fleet.now, [{ set: after, repeats: 1 }, { set: before, repeats: 1 }], 30_000);

      const of = (set: string) => figures.filter((f) => f.set === set);
      const queries = (set: { dashboards: unknown[]; alerts: unknown[] }) => set.alerts.length + set.dashboards.length;
      expect(of("after").length).toBeGreaterThan(queries(after));
      expect(of("before").length).toBeGreaterThan(queries(before));
      const broken = (f: QueryFigures) => f.error !== undefined || f.runs.length !== 1;
      expect(figures.filter(broken).map((f) => `${f.set} ${f.name}: ${f.error}`)).toEqual([]);
      // the fleet overview's panels answer with rows (its field panels read every device)
      const fleetPanels = of("after").filter((f) => f.kind === "panel" && f.name.startsWith("IoT fleet overview") && !f.name.includes("Silent"));
      expect(fleetPanels.filter((f) => f.rows === 0).map((f) => f.name)).toEqual([]);
      expect(of("after").filter((f) => f.kind === "panel" && f.rows > ROWS_LIMIT)).toEqual([]);

      const tables = renderTables({ ...fleet, rssBeforeQueriesMiB: 0, queryRssMiB: {}, peakMiB: 0, loadAfter: 0, queries: figures });
      expect(tables).toContain("| query (as provisioned now) | p50 | p95 | rows | |");
      expect(tables).toContain('IoT fleet overview › "Temperature"');
    },
    120_000,
  );
});
