// npm run bench:ingest: the ingest capacity of one InfluxDB core (bench/influxdb/ingest.ts), for
// batch sizes 1k / 5k / 10k lines with gzip on and off, then paced runs at the prod stack's fleet
// and at the fleet one core carries with 50 % headroom. Prints one table, writes
// bench/results/influxdb-ingest.json and its section of docs/PERFORMANCE.md (a full run only).
// BENCH_QUICK=1: small sizes, results in bench/results/influxdb-ingest-quick.json, docs untouched.
// A jest file because the program is read under Pulumi mocks (test/support/harness.ts); it is not
// a test: nothing is asserted but that the runs happened.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { declared } from "../../test/influxdb/support/program";
import { tierStatus, ROOT } from "../../test/influxdb/support/tier";
import { canPin, measureBackfill, measurePaced, round, type BackfillRow, type PacedRow } from "./ingest";
import { DEFAULT_INTERVAL_MS, PROD_FLEET, renderSection, renderTable, type IngestReport } from "./report";
import { writeSection } from "./doc-sections";

const QUICK = process.env.BENCH_QUICK === "1";
const PLAN = QUICK
  ? { devices: 1_000, intervalMs: DEFAULT_INTERVAL_MS, points: 100_000, requestsInFlight: 16, deadlineMs: 120_000, pacedWindowMs: 5_000 }
  : { devices: 10_000, intervalMs: DEFAULT_INTERVAL_MS, points: 2_000_000, requestsInFlight: 16, deadlineMs: 180_000, pacedWindowMs: 20_000 };
// BENCH_IN_FLIGHT and BENCH_POINTS override the plan, for exploring; the documented run uses neither.
if (process.env.BENCH_IN_FLIGHT) PLAN.requestsInFlight = Number(process.env.BENCH_IN_FLIGHT);
if (process.env.BENCH_POINTS) PLAN.points = Number(process.env.BENCH_POINTS);
// BENCH_CASES="5000:off,10000:on" runs only those; the paced runs then follow from them alone.
const CASES = process.env.BENCH_CASES
  ? process.env.BENCH_CASES.split(",").map((c) => ({ batchLines: Number(c.split(":")[0]), gzip: c.split(":")[1] === "on" }))
  : [1_000, 5_000, 10_000].flatMap((batchLines) => [false, true].map((gzip) => ({ batchLines, gzip })));
const SKIP_PACED = process.env.BENCH_SKIP_PACED === "1";
/** Paced fleets at the default interval, up to where one core stops keeping up (measured first: 239,200 devices did not). */
const PACED_FLEETS = QUICK ? [2_000] : (process.env.BENCH_FLEETS ?? "25000,50000,75000,100000,150000").split(",").map(Number);

function disk(path: string): string {
  try {
    const [, line] = execFileSync("df", ["-hT", path], { encoding: "utf8" }).trim().split("\n");
    const [device, type, size] = line.split(/\s+/);
    return `${device} (${type}, ${size})`;
  } catch {
    return "unknown";
  }
}

const RESULTS = join(ROOT, "bench", "results", QUICK ? "influxdb-ingest-quick.json" : "influxdb-ingest.json");

function writeDocSection(report: IngestReport): void {
  writeSection(join(ROOT, "docs", "PERFORMANCE.md"), "influxdb-ingest", renderSection(report));
}

// BENCH_RENDER=1: no measuring; the table and the docs section again from the last full run's results
const RENDER_ONLY = process.env.BENCH_RENDER === "1";
(RENDER_ONLY ? test : test.skip)("render the last results again", () => {
  const report: IngestReport = JSON.parse(readFileSync(RESULTS, "utf8"));
  writeDocSection(report);
  process.stdout.write(`${renderTable(report)}\n`);
});

(RENDER_ONLY ? test.skip : test)(
  "ingest capacity of one InfluxDB core",
  async () => {
    const { skip, influxdVersion } = tierStatus();
    if (skip) throw new Error(`the real influxd is not available: ${skip}`);
    const pinned = canPin();
    if (!pinned) process.stderr.write("bench:ingest: taskset or a second core is missing: influxd and the simulator share the cores, figures are not per core\n");
    const started = new Date();
    const load = loadavg().map((x) => round(x, 2)).join(", ");
    const decl = await declared("dev");
    const backfill: BackfillRow[] = [];
    for (const c of CASES) {
      process.stderr.write(`bench:ingest: backfill, batch ${c.batchLines}, gzip ${c.gzip ? "on" : "off"} …\n`);
      backfill.push(await measureBackfill(decl, PLAN, c, pinned));
      process.stderr.write(`  ${JSON.stringify(backfill[backfill.length - 1])}\n`);
    }
    // the stack's InfluxDB memory limit (influxMemoryMb, in MiB): the paced fleets' peak RSS is compared with it
    const memoryLimitMiB = Number(decl.config["secure-iot:influxMemoryMb"]);
    const partial: IngestReport = { date: started.toISOString(), mode: QUICK ? "quick" : "full", machine: {}, versions: {}, plan: PLAN, memoryLimitMiB, backfill, paced: [] };
    const stackBatch = Number(decl.simulator.env.SIM_BATCH_SIZE ?? 5000);
    const stackGzip = (decl.simulator.env.SIM_GZIP ?? "true") === "true";
    const paced: PacedRow[] = [];
    const pacedPlans = [
      // the prod stack's fleet, written as the stack writes it
      { devices: PROD_FLEET.devices, intervalMs: PROD_FLEET.intervalMs, batchLines: stackBatch, gzip: stackGzip },
      // growing fleets at the default interval, as the stack writes: each device adds five series,
      // and the backfill's 10,000 devices do not show what a larger series count costs
      ...PACED_FLEETS.map((devices) => ({ devices, intervalMs: DEFAULT_INTERVAL_MS, batchLines: stackBatch, gzip: stackGzip })),
    ];
    for (const p of SKIP_PACED ? [] : pacedPlans) {
      process.stderr.write(`bench:ingest: paced, ${p.devices} devices every ${p.intervalMs} ms …\n`);
      paced.push(await measurePaced(decl, { ...p, flushIntervalMs: 1000, windowMs: PLAN.pacedWindowMs }, pinned));
      process.stderr.write(`  ${JSON.stringify(paced[paced.length - 1])}\n`);
    }
    const report: IngestReport = {
      ...partial,
      paced,
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), kernel: release(), disk: disk(require("node:os").tmpdir()), loadAverage: load, pinned },
      versions: {
        influxd: influxdVersion ?? "?",
        node: process.version,
        influxdbClient: JSON.parse(readFileSync(join(ROOT, "simulator", "node_modules", "@influxdata", "influxdb-client", "package.json"), "utf8")).version,
        simulator: JSON.parse(readFileSync(join(ROOT, "simulator", "package.json"), "utf8")).version,
      },
    };
    report.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    const exploring = process.env.BENCH_CASES || process.env.BENCH_IN_FLIGHT || process.env.BENCH_POINTS || process.env.BENCH_FLEETS || SKIP_PACED;
    writeFileSync(exploring ? RESULTS.replace(/\.json$/, "-exploring.json") : RESULTS, JSON.stringify(report, null, 2) + "\n");
    if (!QUICK && !exploring) writeDocSection(report);
    process.stdout.write(`${renderTable(report)}\n`);
    expect(backfill.every((r) => r.points > 0)).toBe(true);
  },
  40 * 60_000,
);
