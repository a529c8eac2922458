// npm run bench:dashboards: for each fleet size, a fresh influxd (the program's settings), the real
// simulator's backfill, then every provisioned query (bench/dashboards/query-bench.ts) timed.
// Writes bench/results/dashboards.json and prints the tables (bench/dashboards/report.ts).
//
// Settings (environment):
//   BENCH_FLEETS   devices:backfill, comma separated (default "100:24h,1000:24h,10000:2h")
//   BENCH_REPEATS  runs of each query of the program's own set (default 5)
//   BENCH_BEFORE   a query set written by BENCH_SNAPSHOT from an older version, measured on the same
//                  data (default bench/dashboards/before-issue-17.json; "none" to skip)
//   BENCH_BEFORE_REPEATS  runs of each query of that set (default 3)
//   BENCH_TIMEOUT_S  per query (default 120)
//   BENCH_SNAPSHOT a file: write the program's current query set there and measure nothing
//   BENCH_OUT      the results file (default bench/results/dashboards.json)
//   BENCH_DOC=1    also write the tables into docs/PERFORMANCE.md (its section between this benchmark's markers)
//   BENCH_RENDER   a results file: only write docs/PERFORMANCE.md's section from it, measure nothing
//   BENCH_HOLD     a file: after the first fleet's backfill, write how to reach that influxd there
//                  (URL, CA, read token, org, bucket, the backfill's end) and wait until the file
//                  is deleted, to try queries by hand on the same data; then measure as usual
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { declared } from "../../test/influxdb/support/program";
import { startStack, type Stack } from "../../test/influxdb/support/stack";
import { tierStatus } from "../../test/influxdb/support/tier";
import { backfill, influxdMemory, measureQueries, programQuerySet, readQuerySet, writeQuerySet, type QuerySet } from "./query-bench";
import { renderTables, writeDocSection, type BenchReport } from "./report";

const ROOT = join(__dirname, "..", "..");
const env = process.env;

function fleets(): Array<{ devices: number; span: string }> {
  return (env.BENCH_FLEETS ?? "100:24h,1000:24h,10000:2h").split(",").map((item) => {
    const [devices, span] = item.trim().split(":");
    if (!/^\d+$/.test(devices) || !/^\d+[smh]$/.test(span ?? "")) throw new Error(`BENCH_FLEETS: "${item}" is not devices:backfill (e.g. 1000:24h)`);
    return { devices: Number(devices), span };
  });
}

async function hold(file: string, stack: Stack, now: number): Promise<void> {
  const s = stack.server;
  writeFileSync(file, `${JSON.stringify({ url: s.url, caFile: s.caFile, token: stack.grafanaToken(), org: stack.datasource.organization, bucket: stack.setup.bucket, now: new Date(now).toISOString() }, null, 2)}\n`, { mode: 0o600 });
  process.stderr.write(`holding influxd at ${s.url}: delete ${file} to go on\n`);
  while (existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 1000));
}

test("dashboard and alert queries at fleet scale", async () => {
  const { skip, influxdVersion } = tierStatus();
  if (skip) throw new Error(`the real influxd is needed: ${skip}`);
  if (env.BENCH_SNAPSHOT) {
    const stack = await startStack(await declared("dev"));
    try {
      writeQuerySet(programQuerySet(stack, "snapshot"), env.BENCH_SNAPSHOT);
    } finally {
      await stack.stop();
    }
    return;
  }

  const out = env.BENCH_OUT ?? join(ROOT, "bench", "results", "dashboards.json");
  if (env.BENCH_RENDER) {
    writeDocSection(join(ROOT, "docs", "PERFORMANCE.md"), JSON.parse(readFileSync(env.BENCH_RENDER, "utf8")));
    return;
  }
  const repeats = Number(env.BENCH_REPEATS ?? 5);
  const beforeRepeats = Number(env.BENCH_BEFORE_REPEATS ?? 3);
  const timeoutMs = Number(env.BENCH_TIMEOUT_S ?? 120) * 1000;
  const beforeFile = env.BENCH_BEFORE ?? join(__dirname, "before-issue-17.json");
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "?", memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), loadBefore: loadavg()[0] },
    influxd: influxdVersion ?? "?",
    repeats,
    beforeRepeats,
    timeoutMs,
    fleets: [],
  };
  for (const { devices, span } of fleets()) {
    // the dev stack configured for this fleet: the dashboards are built for the devices configured
    const stack = await startStack(await declared("dev", { simDevices: devices }));
    try {
      const fleet = await backfill(stack, devices, span, 4 * 60 * 60 * 1000);
      process.stderr.write(`${devices} devices, ${span}: ${fleet.points} points in ${fleet.backfillSeconds.toFixed(0)} s (${Math.round(fleet.pointsPerSecond)}/s), ${fleet.seriesCardinality} series, influxd ${fleet.rssAfterBackfillMiB} MiB\n`);
      if (env.BENCH_HOLD) await hold(env.BENCH_HOLD, stack, fleet.now);
      const sets: Array<{ set: QuerySet; repeats: number }> = [{ set: programQuerySet(stack, "after"), repeats }];
      if (beforeFile !== "none" && existsSync(beforeFile)) sets.push({ set: readQuerySet(beforeFile, "before"), repeats: beforeRepeats });
      const rssBeforeQueries = influxdMemory(stack).rssMiB;
      const measured = await measureQueries(stack, fleet.now, sets, timeoutMs);
      report.fleets.push({ ...fleet, rssBeforeQueriesMiB: rssBeforeQueries, queryRssMiB: measured.peakMiB, peakMiB: influxdMemory(stack).peakMiB, loadAfter: loadavg()[0], queries: measured.figures });
      process.stdout.write(`${renderTables(report.fleets[report.fleets.length - 1])}\n`);
      // after each fleet, so that a run cut short keeps what it measured
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    } finally {
      await stack.stop();
    }
  }
  if (env.BENCH_DOC === "1") writeDocSection(join(ROOT, "docs", "PERFORMANCE.md"), report);
});
