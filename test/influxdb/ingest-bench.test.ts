// InfluxDB tier: a smoke run of the ingest benchmark (npm run bench:ingest, bench/influxdb/) at tiny
// sizes, so that the benchmark keeps working as the program, the simulator and this tier change.
// Not a benchmark: nothing here is timed or compared, and nothing is pinned to a core (pinning
// would move this jest worker to one core for the files after this one).
import { measureBackfill, measurePaced, type BackfillRow, type PacedRow } from "../../bench/influxdb/ingest";
import { renderSection, renderTable, type IngestReport } from "../../bench/influxdb/report";
import { keepSections, withSection } from "../../bench/influxdb/doc-sections";
import { declared, type Declared } from "./support/program";
import { influxTier } from "./support/tier";

influxTier("InfluxDB tier: the ingest benchmark runs against the real influxd (smoke run, tiny sizes)", () => {
  let decl: Declared;
  let backfill: BackfillRow;
  let paced: PacedRow;

  beforeAll(async () => {
    decl = await declared("dev");
  }, 60_000);

  test("a backfill through the simulator over TLS gives a row: points written, none dropped, influxd's CPU and memory read", async () => {
    backfill = await measureBackfill(decl, { devices: 50, intervalMs: 5000, points: 5_000, requestsInFlight: 2, deadlineMs: 60_000 }, { batchLines: 1000, gzip: true }, false);
    expect(backfill).toMatchObject({ batchLines: 1000, gzip: true, dropped: 0 });
    expect(backfill.points).toBeGreaterThan(0);
    expect(backfill.pointsPerSecond).toBeGreaterThan(0);
    expect(backfill.peakRssMiB).toBeGreaterThan(0);
    expect(Number.isFinite(backfill.influxdCpuSecondsPerMillion)).toBe(true);
  }, 90_000);

  test("a paced run reads the simulator's write queue from its own metrics", async () => {
    paced = await measurePaced(decl, { devices: 100, intervalMs: 1000, batchLines: 1000, gzip: false, flushIntervalMs: 1000, windowMs: 3000 }, false);
    expect(paced).toMatchObject({ dropped: 0 });
    expect(paced.points).toBeGreaterThan(0);
    expect(paced.queueMax).toBeGreaterThanOrEqual(0);
  }, 90_000);

  test("the table and the docs section are made from the rows, and `npm run bench` keeps that section", () => {
    const report: IngestReport = {
      date: new Date().toISOString(),
      mode: "smoke",
      machine: { cpu: "test", cores: 2, memoryGiB: 1, kernel: "test", disk: "test", loadAverage: "0" },
      versions: { influxd: "test", node: process.version, influxdbClient: "test", simulator: "test" },
      plan: { devices: 50, intervalMs: 5000, points: 5000, requestsInFlight: 2 },
      memoryLimitMiB: 1024,
      backfill: [backfill],
      paced: [paced],
    };
    expect(renderTable(report)).toContain(`| backfill | 1,000 | on | ${backfill.points.toLocaleString("en")} |`);
    const section = renderSection(report);
    const doc = withSection("# Performance\n\nfigures of npm run bench\n", "influxdb-ingest", section);
    // what bench/run.ts does: a freshly generated file, with the marked sections of the old one
    const regenerated = keepSections(doc, "# Performance\n\nnew figures of npm run bench\n");
    expect(regenerated).toContain("new figures of npm run bench");
    expect(regenerated).toContain(section.trim());
    expect(withSection(regenerated, "influxdb-ingest", "replaced")).not.toContain(section.trim());
  });
});
