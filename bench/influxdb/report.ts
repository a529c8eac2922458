// The ingest benchmark's table and its section of docs/PERFORMANCE.md, from the measured rows.
import type { BackfillRow, PacedRow } from "./ingest";
import { round } from "./ingest";

/** Fields each reading carries (simulator/src/schema.ts): InfluxData sizes OSS in field writes. */
export const FIELDS_PER_POINT = 5;
/** The share of one core the sizing leaves unused, for compactions, queries and bursts. */
export const HEADROOM = 0.5;
/** The simulator's default reporting interval (SIM_INTERVAL_MS; the dev stack's simIntervalMs). */
export const DEFAULT_INTERVAL_MS = 5000;
/** The prod stack's fleet (Pulumi.prod.yaml: simDevices 500, simIntervalMs 1000). */
export const PROD_FLEET = { devices: 500, intervalMs: 1000 };

export const SIZING_SOURCE = {
  title: "InfluxData, Hardware sizing guidelines (InfluxDB OSS v1), \"InfluxDB OSS guidelines\"",
  url: "https://docs.influxdata.com/influxdb/v1/guides/hardware_sizing/",
};

export interface IngestReport {
  date: string;
  mode: string;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  plan: Record<string, unknown>;
  /** the InfluxDB container's memory limit in the dev stack (influxMemoryMb) */
  memoryLimitMiB: number;
  /** the whole run, start to end */
  durationSeconds?: number;
  backfill: BackfillRow[];
  paced: PacedRow[];
}

const n = (x: number) => x.toLocaleString("en");

export function headline(report: IngestReport) {
  const best = [...report.backfill].sort((a, b) => b.pointsPerSecond - a.pointsPerSecond)[0];
  // per InfluxDB core: points/s over the share of its core influxd used while writing, the median
  // over the settings (they do not separate beyond the run-to-run spread)
  const perCoreEach = report.backfill.map((r) => r.pointsPerSecond / Math.max(r.influxdCoresWhileWriting, 0.01));
  const sorted = [...perCoreEach].sort((a, b) => a - b);
  const perCore = Math.round(sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2);
  const ladder = report.paced.filter((p) => p.intervalMs === DEFAULT_INTERVAL_MS).sort((a, b) => a.devices - b.devices);
  const withinCpu = ladder.filter((p) => p.kept && p.influxdCores <= 1 - HEADROOM);
  // the largest fleet measured that kept up with the headroom left, on CPU alone and within the container's memory too
  const cpuCarried = withinCpu[withinCpu.length - 1];
  const withinMemory = withinCpu.filter((p) => p.peakRssMiB <= report.memoryLimitMiB);
  const carried = withinMemory[withinMemory.length - 1];
  const prod = report.paced.find((p) => p.devices === PROD_FLEET.devices && p.intervalMs === PROD_FLEET.intervalMs);
  const prodRate = (PROD_FLEET.devices * 1000) / PROD_FLEET.intervalMs;
  return { best, perCore, ladder, cpuCarried, carried, prod, prodRate, prodShare: prodRate / perCore };
}

export function renderTable(report: IngestReport): string {
  const rows = report.backfill.map(
    (r) =>
      `| backfill | ${n(r.batchLines)} | ${r.gzip ? "on" : "off"} | ${n(r.points)} | **${n(r.pointsPerSecond)}** | ${r.influxdCoresWhileWriting} | ${r.simulatorCores} | ${r.influxdCpuSecondsPerMillion} | ${r.peakRssMiB} (idle ${r.idleRssMiB}) | ${r.rssGrowthMiBPerMillion} | ${r.dropped} | ${r.retriedFailures} |`,
  );
  const paced = report.paced.map(
    (p) =>
      `| paced: ${n(p.devices)} devices (${n(p.devices * FIELDS_PER_POINT)} series) every ${p.intervalMs / 1000} s | ${n(p.batchLines)} | ${p.gzip ? "on" : "off"} | ${n(p.points)} | ${n(p.pointsPerSecond)} | ${p.influxdCores} | ${p.simulatorCores} | ${p.influxdCpuSecondsPerMillion} | ${p.peakRssMiB} | – | ${p.dropped} | ${p.retriedFailures} |`,
  );
  const queue = report.paced.map(
    (p) => `| ${n(p.devices)} devices every ${p.intervalMs / 1000} s | ${n(p.queueMedian)} | ${n(p.queueMax)} | ${n(p.queueDrift)} | ${p.kept ? "yes" : "**no**"} |`,
  );
  return [
    "| run | batch lines | gzip | points | points/s | influxd cores | simulator cores | influxd CPU-s / M points | influxd peak RSS MiB | RSS growth MiB / M points | dropped | retried writes |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    ...paced,
    ...(queue.length
      ? ["", "| paced run | write queue median (lines) | max | last − first | kept up |", "|---|---:|---:|---:|---|", ...queue]
      : []),
  ].join("\n");
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Least-squares slope of ys over xs. */
function slope(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function headlineText(report: IngestReport): string {
  const h = headline(report);
  const rows = report.backfill;
  const pps = rows.map((r) => r.pointsPerSecond);
  const cpu = rows.map((r) => r.influxdCpuSecondsPerMillion);
  const pairs = [...new Set(rows.map((r) => r.batchLines))]
    .map((batch) => ({ off: rows.find((r) => r.batchLines === batch && !r.gzip), on: rows.find((r) => r.batchLines === batch && r.gzip) }))
    .filter((p): p is { off: BackfillRow; on: BackfillRow } => p.on !== undefined && p.off !== undefined);
  const gzipInfluxd = round(mean(pairs.map((p) => p.on.influxdCpuSecondsPerMillion / p.off.influxdCpuSecondsPerMillion)), 2);
  const gzipSimulator = round(mean(pairs.map((p) => p.on.simulatorCores / p.off.simulatorCores)), 2);
  const rss = (batch: number) => [...new Set(rows.filter((r) => r.batchLines === batch).map((r) => r.peakRssMiB).sort((a, b) => a - b))].join("–");
  const batches = [...new Set(rows.map((r) => r.batchLines))].sort((a, b) => a - b);
  const ceiling =
    `Backfills with ${n(Number(report.plan.devices) * FIELDS_PER_POINT)} series: **${n(Math.min(...pps))}–${n(Math.max(...pps))} points/s** over the six settings, ` +
    `influxd at ${Math.min(...rows.map((r) => r.influxdCoresWhileWriting))}–${Math.max(...rows.map((r) => r.influxdCoresWhileWriting))} of its core: ` +
    `**about ${n(h.perCore)} points/s per InfluxDB core** (${n(h.perCore * FIELDS_PER_POINT)} field values/s; the median of points/s over cores used) and ` +
    `**${round(median(cpu), 1)} CPU-seconds per million points** (${Math.min(...cpu)}–${Math.max(...cpu)}). Batch size and gzip move influxd's cost less than that spread, ` +
    `in no consistent order: gzip changed its CPU per point by a factor of ${gzipInfluxd} on average, while it cost the simulator ${gzipSimulator} × its CPU. ` +
    `Peak RSS follows the lines in flight (${report.plan.requestsInFlight} requests of a batch each): ${batches.map((b) => `${rss(b)} MiB at ${n(b)} lines`).join(", ")}, against an idle ${rows[0].idleRssMiB} MiB; ` +
    `that is ${median(rows.map((r) => r.rssGrowthMiBPerMillion))} MiB of growth per million points at the median, a figure of the run's burst, not of the data's size.`;
  const ladder = h.ladder
    .map((p) => `${n(p.devices)} devices: ${p.influxdCores} core, ${p.influxdCpuSecondsPerMillion} CPU-s per million points, peak ${n(p.peakRssMiB)} MiB${p.kept ? "" : ", **did not keep up**"}`)
    .join("; ");
  const perSeriesKiB = h.ladder.length >= 2 ? Math.round((slope(h.ladder.map((p) => p.devices * FIELDS_PER_POINT), h.ladder.map((p) => p.peakRssMiB)) * 1024 * 10)) / 10 : undefined;
  const fleets =
    `The series count sets the cost of a live fleet. Paced at the default ${DEFAULT_INTERVAL_MS / 1000} s interval as the stack writes (batches of ${n(h.ladder[0]?.batchLines ?? 0)}, gzip ${h.ladder[0]?.gzip ? "on" : "off"}, a ${(h.ladder[0]?.windowMs ?? 0) / 1000} s window after three intervals of warm-up, too short to hold the compactions of a long run): ${ladder}. ` +
    (perSeriesKiB !== undefined ? `influxd's peak memory grows by about ${perSeriesKiB} KiB per series. ` : "") +
    (h.carried
      ? `With **${HEADROOM * 100} % headroom** (influxd at most half its core, the rest for compactions, Grafana's queries and bursts) and within the stack's default ${n(report.memoryLimitMiB)} MiB \`influxMemoryMb\`, **one InfluxDB core carries ${n(h.carried.devices)} devices at the default ${DEFAULT_INTERVAL_MS / 1000} s interval** (${n((h.carried.devices * 1000) / DEFAULT_INTERVAL_MS)} points/s; the largest measured fleet that met both).`
      : `No measured fleet kept up with ${HEADROOM * 100} % headroom within the stack's default ${n(report.memoryLimitMiB)} MiB \`influxMemoryMb\`.`) +
    (h.cpuCarried && h.carried && h.cpuCarried.devices !== h.carried.devices
      ? ` On CPU alone it would be ${n(h.cpuCarried.devices)} devices, but their peak of ${n(h.cpuCarried.peakRssMiB)} MiB is past that limit (which also counts the container's page cache): memory runs out before the core does, so raise \`influxMemoryMb\` first for fleets above ${n(h.carried.devices)}.`
      : "");
  const prod = h.prod
    ? `The \`prod\` stack's 500 devices at 1 Hz (${n(h.prodRate)} points/s, 2,500 series) took ${h.prod.influxdCores} of the core (peak ${h.prod.peakRssMiB} MiB): ${round(h.prodShare * 100, 1)} % of one core's ceiling${h.carried ? `, ${round((h.prodRate / ((h.carried.devices * 1000) / DEFAULT_INTERVAL_MS)) * 100, 1)} % of the rate of the fleet one core carries with headroom` : ""}.`
    : "";
  return `${ceiling}\n\n${fleets}\n\n${prod}`;
}

function guidanceText(report: IngestReport): string {
  const h = headline(report);
  const carriedRate = h.carried ? (h.carried.devices * 1000) / DEFAULT_INTERVAL_MS : undefined;
  return (
    `InfluxData's single-node OSS sizing table ([${SIZING_SOURCE.title}](${SIZING_SOURCE.url})) gives fewer than 5,000 writes per second ` +
    `for 2-4 cores with 2-4 GB of RAM and 500 IOPS, fewer than 250,000 for 4-6 cores with 8-32 GB, and says a single node may not suffice above ` +
    `750,000 field writes per second or 10,000,000 series. The page is InfluxDB 1.x's (we found no sizing page for InfluxDB 2 OSS) and asks for ` +
    `locally attached SSDs. One core here took ${n(h.perCore)} points/s, ${n(h.perCore * FIELDS_PER_POINT)} field values/s` +
    (carriedRate ? `, and carries ${n(carriedRate)} points/s (${n(carriedRate * FIELDS_PER_POINT)} field values/s) with the headroom` : "") +
    `: well above the smallest tier whether its "writes" are lines or field values, and of the order of the 250,000 a second it sets ` +
    `for 4-6 cores. The table is meant for a server that also answers queries: read it as the conservative figure; ` +
    `the prod stack's ${n(h.prodRate)} points/s (${n(h.prodRate * FIELDS_PER_POINT)} field values/s) are within its smallest tier either way.`
  );
}

export function renderSection(report: IngestReport): string {
  const m = report.machine;
  const p = report.plan;
  const v = report.versions;
  return `## Ingest capacity of one InfluxDB core

Generated by \`npm run bench:ingest\` on ${report.date.slice(0, 10)} (${report.mode} run); do not edit by hand.

**What was measured.** The real simulator writing to the real \`influxd\` over TLS, both configured
as the program configures them: the dev stack's \`INFLUXD_*\` settings, its first setup and the
simulator's container environment and write token, taken from the program under Pulumi mocks by the
InfluxDB test tier's support code (test/influxdb/support/). \`influxd\` ran on core 1 only (it inherits
the affinity at start, as under \`taskset -c 1\`, so the Go runtime sizes itself for one core: the
stack's default \`influxCpuMillis\` is 1000, one core), the simulator on core 0. Each backfill run
starts a fresh \`influxd\` and writes ${n(Number(p.points))} points (readings: one line of ${FIELDS_PER_POINT} fields each)
of ${n(Number(p.devices))} devices at a ${Number(p.intervalMs) / 1000} s interval, as fast as the server accepts them
(\`SIM_BACKFILL\`, \`SIM_EXIT_AFTER_BACKFILL\`), with ${p.requestsInFlight} requests in flight
(\`SIM_MAX_INFLIGHT_LINES\` = ${p.requestsInFlight} × batch). **points/s** is points written over the
time from the backfill's start to the simulator's final summary (the final drain included).
**influxd CPU-s / M points** is its user + system time (\`/proc/<pid>/stat\`) from the backfill's
start until it is idle again (under 5 % of a core over 0.5 s; its deferred cache snapshot included).
**Peak RSS** is \`VmHWM\` of that fresh \`influxd\`; **growth** is peak minus its idle RSS before
the run, per million points. **dropped** is the simulator's \`points_dropped\`; **retried writes**
its failed writes that it retried (timeouts, 5xx). The paced runs run the simulator live and read
its own metrics (measurement \`simulator\`, one line a second): its write queue \`buffer_lines\`
must stay flat (at most two flush intervals or two batches) with nothing dropped.

Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; data on ${m.disk};
load average at the start ${m.loadAverage} (other work shared the machine; core 1 was not reserved).
Versions: ${v.influxd}; Node.js ${v.node}; @influxdata/influxdb-client ${v.influxdbClient}; simulator ${v.simulator}.

${renderTable(report)}

**Headline.** ${headlineText(report)}

**Compared with InfluxData's guidance.** ${guidanceText(report)}

**Defaults set from these figures** (simulator/src/config.ts): see the comment at \`SIM_BATCH_SIZE\`.

Reproduce: \`npm run bench:ingest\` (builds the simulator and the pinned influxd first, as
\`npm run test:influxdb\` does; this run took ${report.durationSeconds ? Math.round(report.durationSeconds / 60) : "?"} minutes), \`BENCH_QUICK=1 npm run bench:ingest\`
for a short run that writes only bench/results/influxdb-ingest-quick.json. Raw figures:
bench/results/influxdb-ingest.json.`;
}
