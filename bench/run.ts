// npm run bench [-- --quick]: the simulator against the ceiling and the usual alternatives, on one
// local sink, in one run. Writes bench/results/latest.json and docs/PERFORMANCE.md.
// Figures are measured, never asserted: the targets are compared and reported, not enforced.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { keepSections } from "./influxdb/doc-sections";

const QUICK = process.argv.includes("--quick");
const ROOT = join(__dirname, "..", "..");
const SIMULATOR = join(ROOT, "simulator", "dist", "main.js");
const CLIENTS = join(__dirname, "clients");
const HAS_TASKSET = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return cpus().length >= 2;
  } catch {
    return false;
  }
})();
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const SIZES = QUICK
  ? { ceilingSeconds: 3, naivePoints: 200_000, seedPoints: 1_000, unpacedPoints: 300_000, sweep: [1_000, 10_000, 100_000], sweepPoints: 200_000, pacedWarmupMs: 3_000, pacedWindowMs: 6_000, slowWindowMs: 4_000 }
  : { ceilingSeconds: 10, naivePoints: 1_000_000, seedPoints: 5_000, unpacedPoints: 2_000_000, sweep: [1_000, 10_000, 100_000, 1_000_000], sweepPoints: 1_000_000, pacedWarmupMs: 5_000, pacedWindowMs: 30_000, slowWindowMs: 15_000 };

/** Starts `node args` pinned to `core` when taskset is available (sink on core 1, load on core 0). */
function spawnNode(core: number, args: string[], env: Record<string, string>): ChildProcess {
  const command = HAS_TASKSET ? "taskset" : process.execPath;
  const fullArgs = HAS_TASKSET ? ["-c", String(core), process.execPath, ...args] : args;
  return spawn(command, fullArgs, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

function jsonLines(child: ChildProcess): { lines: Array<Record<string, any>>; done: Promise<number> } {
  const lines: Array<Record<string, any>> = [];
  let pending = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    let i;
    while ((i = pending.indexOf("\n")) >= 0) {
      const text = pending.slice(0, i);
      pending = pending.slice(i + 1);
      try {
        lines.push(JSON.parse(text));
      } catch {
        /* not a JSON line */
      }
    }
  });
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr += c));
  const done = new Promise<number>((resolve) =>
    child.on("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(stderr);
      resolve(code ?? -1);
    }),
  );
  return { lines, done };
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`benchmark: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Sink {
  url: string;
  stats(): Promise<Record<string, any>>;
  reset(): Promise<void>;
  mode(params: Record<string, string | number>): Promise<void>;
  stop(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const child = spawnNode(1, [join(__dirname, "sink.js")], {});
  const out = jsonLines(child);
  const { port } = await until("the sink to listen", 10_000, () => out.lines.find((l) => l.port));
  const url = `http://127.0.0.1:${port}`;
  const call = async (path: string, method = "POST") => {
    const res = await fetch(`${url}${path}`, { method });
    return method === "GET" ? res.json() : undefined;
  };
  return {
    url,
    stats: () => call("/stats", "GET") as Promise<Record<string, any>>,
    reset: () => call("/reset") as Promise<void>,
    mode: (params) => call(`/mode?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`) as Promise<void>,
    stop: async () => {
      child.kill("SIGTERM");
      await out.done;
    },
  };
}

async function runClient(script: string, env: Record<string, string>): Promise<Record<string, any>> {
  const out = jsonLines(spawnNode(0, [join(CLIENTS, script)], env));
  const code = await out.done;
  if (code !== 0) throw new Error(`${script} exited ${code}`);
  return out.lines[out.lines.length - 1];
}

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssBytesOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

function simulatorEnv(sink: Sink, extra: Record<string, string>): Record<string, string> {
  return {
    INFLUX_URL: sink.url,
    INFLUX_ORG: "iot",
    INFLUX_BUCKET: "sensors",
    INFLUX_TOKEN: "bench",
    SIM_HEALTH_FILE: join(mkdtempSync(join(tmpdir(), "bench-")), "health.json"),
    SIM_STARTUP_TIMEOUT_MS: "10000",
    LOG_LEVEL: "info",
    ...extra,
  };
}

/** The simulator unpaced: a backfill of `points` readings, then exit. */
async function runBackfill(sink: Sink, devices: number, points: number, gzip: boolean): Promise<Record<string, any>> {
  const seconds = Math.max(1, Math.ceil(points / devices));
  const out = jsonLines(
    spawnNode(0, ["--expose-gc", SIMULATOR], simulatorEnv(sink, {
      SIM_DEVICES: String(devices),
      SIM_INTERVAL_MS: "1000",
      SIM_BACKFILL: `${seconds}s`,
      SIM_EXIT_AFTER_BACKFILL: "true",
      SIM_GZIP: String(gzip),
    })),
  );
  const code = await out.done;
  const summary = out.lines.find((l) => l.msg === "simulator stopped");
  if (code !== 0 || !summary) throw new Error(`simulator backfill exited ${code} without a summary`);
  const cpuMs = summary.cpu_user_ms + summary.cpu_system_ms;
  return { ...summary, devices, cpuMs, pointsPerCpuSecond: summary.points_written / (cpuMs / 1000) };
}

/** The simulator paced (live): CPU share, lag and event-loop delay over a window after warm-up. */
async function runPaced(sink: Sink, devices: number, intervalMs: number, extraEnv: Record<string, string> = {}, during?: (pid: number) => Promise<Record<string, any>>) {
  const child = spawnNode(0, [SIMULATOR], simulatorEnv(sink, { SIM_DEVICES: String(devices), SIM_INTERVAL_MS: String(intervalMs), ...extraEnv }));
  const out = jsonLines(child);
  await until("the simulator to go live", 30_000, () => out.lines.find((l) => l.msg === "live"));
  await new Promise((r) => setTimeout(r, SIZES.pacedWarmupMs));
  await sink.reset();
  await sink.mode({ lag: 1 });
  const pid = child.pid as number;
  const cpu0 = cpuSecondsOf(pid);
  const wall0 = Date.now();
  const extra = during ? await during(pid) : (await new Promise((r) => setTimeout(r, SIZES.pacedWindowMs)), {});
  const cpuShare = (cpuSecondsOf(pid) - cpu0) / ((Date.now() - wall0) / 1000);
  const rss = rssBytesOf(pid);
  const stats = await sink.stats();
  child.kill("SIGTERM");
  await out.done;
  await sink.mode({});
  const summary = out.lines.find((l) => l.msg === "simulator stopped") ?? {};
  return { devices, intervalMs, cpuShare, rss, sinkLines: stats.lines, lagP50Ms: stats.lagP50Ms, lagP99Ms: stats.lagP99Ms, summary, ...extra };
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

async function main(): Promise<void> {
  const started = new Date();
  console.log(`benchmark (${QUICK ? "quick" : "full"}); taskset ${HAS_TASKSET ? "on: load on core 0, sink on core 1" : "unavailable"}`);
  const sink = await startSink();
  const results: Record<string, any> = {};
  try {
    console.log("ceiling …");
    results.ceiling = await runClient("ceiling.js", { SINK_URL: sink.url, DURATION_S: String(SIZES.ceilingSeconds) });
    results.ceiling.pointsPerCpuSecond = results.ceiling.points / (results.ceiling.workCpuMs / 1000);
    results.ceiling.pointsPerSecond = results.ceiling.points / (results.ceiling.wallMs / 1000);

    console.log("naive …");
    results.naive = await runClient("naive.js", { SINK_URL: sink.url, POINTS: String(SIZES.naivePoints) });
    results.naive.pointsPerCpuSecond = results.naive.points / (results.naive.workCpuMs / 1000);

    console.log("seed-style …");
    results.seedStyle = await runClient("seed-style.js", { SINK_URL: sink.url, POINTS: String(SIZES.seedPoints) });
    results.seedStyle.pointsPerCpuSecond = results.seedStyle.points / (results.seedStyle.workCpuMs / 1000);

    console.log("ours, unpaced (gzip on) …");
    results.oursUnpaced = await runBackfill(sink, 10_000, SIZES.unpacedPoints, true);
    console.log("ours, unpaced (gzip off) …");
    results.oursUnpacedNoGzip = await runBackfill(sink, 10_000, SIZES.unpacedPoints, false);

    results.sweep = [];
    for (const devices of SIZES.sweep) {
      console.log(`sweep: ${devices} devices …`);
      results.sweep.push(await runBackfill(sink, devices, SIZES.sweepPoints, false));
    }

    console.log("ours, paced: 100,000 devices at 1 Hz (gzip off) …");
    results.oursPaced = await runPaced(sink, 100_000, 1000, { SIM_GZIP: "false" });

    console.log("ours against a slow, then failing sink …");
    results.slowSink = await runPaced(sink, 20_000, 1000, { SIM_BUFFER_LINES: "100000", SIM_GZIP: "false" }, async (pid) => {
      const rss: number[] = [];
      const sample = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          rss.push(rssBytesOf(pid));
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      await sink.mode({ latencyMs: 500, lag: 1 });
      await sample(SIZES.slowWindowMs);
      await sink.mode({ status: 503, lag: 1 });
      await sample(SIZES.slowWindowMs);
      await sink.mode({ lag: 1 });
      await sample(SIZES.slowWindowMs / 2);
      return { maxRssDuringOutage: Math.max(...rss), rssSamples: rss.length };
    });
  } finally {
    await sink.stop();
  }

  const report = summarise(results, started);
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results", QUICK ? "quick.json" : "latest.json"), JSON.stringify({ ...report, raw: results }, null, 2) + "\n");
  if (!QUICK) {
    mkdirSync(join(ROOT, "docs"), { recursive: true });
    // the sections other benchmarks write into the same file (npm run bench:ingest) are kept
    const doc = join(ROOT, "docs", "PERFORMANCE.md");
    writeFileSync(doc, keepSections(existsSync(doc) ? readFileSync(doc, "utf8") : "", renderMarkdown(report)));
  }
  console.log(renderTable(report));
  console.log(QUICK ? "quick run: bench/results/quick.json (docs/PERFORMANCE.md is written by full runs only)" : "written: bench/results/latest.json, docs/PERFORMANCE.md");
}

interface Row {
  workload: string;
  points: number;
  pointsPerCpuSecond: number;
  vsCeiling: number;
  vsNaive: number;
  rssMiB?: number;
  heapPerDeviceBytes?: number;
  lagP50Ms?: number;
  lagP99Ms?: number;
  eventLoopP99Ms?: number;
  dropped?: number;
  note?: string;
}

function summarise(r: Record<string, any>, started: Date) {
  const ceiling = r.ceiling.pointsPerCpuSecond;
  const naive = r.naive.pointsPerCpuSecond;
  const row = (workload: string, points: number, ppcs: number, extra: Partial<Row> = {}): Row => ({
    workload,
    points,
    pointsPerCpuSecond: Math.round(ppcs),
    vsCeiling: round(ppcs / ceiling, 3),
    vsNaive: round(ppcs / naive, 2),
    ...extra,
  });
  const mib = (b: number) => round(b / 1_048_576, 1);
  const sweepDevices = r.sweep.map((s: any) => s.devices);
  const heapSlope = slope(sweepDevices, r.sweep.map((s: any) => s.heap_after_gc_bytes));
  const costPerPoint = r.sweep.map((s: any) => s.cpuMs / s.points_written);
  const paced = r.oursPaced;
  const pacedPoints = paced.sinkLines;
  const pacedPpcs = pacedPoints / (paced.cpuShare * (SIZES.pacedWindowMs / 1000));
  const rows: Row[] = [
    row("ceiling (autocannon, prebuilt 5,000-line bodies, keep-alive)", r.ceiling.points, ceiling, { note: `${Math.round(r.ceiling.pointsPerSecond)} points/s wall` }),
    row("naive (one Point per reading, WriteApi defaults)", r.naive.points, naive),
    row("seed-style (one POST per reading, new connection)", r.seedStyle.points, r.seedStyle.pointsPerCpuSecond),
    row("ours, unpaced, gzip on (SIM_GZIP=true, for a thin link)", r.oursUnpaced.points_written, r.oursUnpaced.pointsPerCpuSecond, {
      rssMiB: mib(r.oursUnpaced.max_rss_bytes),
      eventLoopP99Ms: r.oursUnpaced.event_loop_delay_p99_ms,
      dropped: r.oursUnpaced.points_dropped,
    }),
    row("ours, unpaced, gzip off (the default since the ingest benchmark, as the stack deploys it)", r.oursUnpacedNoGzip.points_written, r.oursUnpacedNoGzip.pointsPerCpuSecond, {
      rssMiB: mib(r.oursUnpacedNoGzip.max_rss_bytes),
      eventLoopP99Ms: r.oursUnpacedNoGzip.event_loop_delay_p99_ms,
      dropped: r.oursUnpacedNoGzip.points_dropped,
    }),
    ...r.sweep.map((s: any) =>
      row(`sweep: ${s.devices.toLocaleString("en")} devices, unpaced, gzip off`, s.points_written, s.pointsPerCpuSecond, {
        rssMiB: mib(s.max_rss_bytes),
        heapPerDeviceBytes: Math.round(s.heap_after_gc_bytes / s.devices),
        dropped: s.points_dropped,
      }),
    ),
    row("ours, paced: 100,000 devices at 1 Hz, gzip off", pacedPoints, pacedPpcs, {
      rssMiB: mib(paced.rss),
      lagP50Ms: paced.lagP50Ms,
      lagP99Ms: paced.lagP99Ms,
      eventLoopP99Ms: paced.summary.event_loop_delay_p99_ms,
      dropped: paced.summary.points_dropped,
      note: `${round(paced.cpuShare * 100, 1)} % of one core`,
    }),
    row("slow (500 ms) then failing (503) sink, 20,000 devices at 1 Hz, buffer 100,000 lines", r.slowSink.summary.points_written ?? 0, 0, {
      rssMiB: mib(r.slowSink.maxRssDuringOutage),
      eventLoopP99Ms: r.slowSink.summary.event_loop_delay_p99_ms,
      dropped: r.slowSink.summary.points_dropped,
      note: "memory under backpressure; points/CPU-s not meaningful",
    }),
  ];
  const unpaced = r.oursUnpaced.pointsPerCpuSecond;
  const unpacedNoGzip = r.oursUnpacedNoGzip.pointsPerCpuSecond;
  const targets = [
    target("≥ 1.0 M points per CPU-second, full signal model (gzip off / on)", unpacedNoGzip >= 1e6, `${fmt(unpacedNoGzip)} / ${fmt(unpaced)}`),
    target("≥ 2.5 × naive", unpacedNoGzip / naive >= 2.5, `${round(unpacedNoGzip / naive, 2)} × (gzip on: ${round(unpaced / naive, 2)} ×)`),
    target("≥ 50 × seed-style", unpaced / r.seedStyle.pointsPerCpuSecond >= 50, `${round(unpaced / r.seedStyle.pointsPerCpuSecond, 0)} ×`),
    target("≤ 1 KB heap per device, linear", heapSlope <= 1024, `${Math.round(heapSlope)} B per device (least-squares slope over ${sweepDevices.join(", ")})`),
    target(
      `cost per point at ${fmt(sweepDevices[sweepDevices.length - 1])} devices within 1.2 × of 1 k`,
      costPerPoint[costPerPoint.length - 1] / costPerPoint[0] <= 1.2,
      `${round(costPerPoint[costPerPoint.length - 1] / costPerPoint[0], 2)} ×`,
    ),
    target("100,000 devices at 1 Hz in ≤ 15 % of one core", paced.cpuShare <= 0.15, `${round(paced.cpuShare * 100, 1)} %`),
    target("event-loop delay p99 < 20 ms (paced)", paced.summary.event_loop_delay_p99_ms < 20, `${paced.summary.event_loop_delay_p99_ms} ms`),
    target("zero drops while the sink keeps up", [r.oursUnpaced, r.oursUnpacedNoGzip, ...r.sweep, paced.summary].every((s: any) => s.points_dropped === 0), "unpaced, sweep and paced runs"),
  ];
  return {
    date: started.toISOString(),
    mode: QUICK ? "quick" : "full",
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), kernel: release(), taskset: HAS_TASKSET },
    versions: {
      node: process.version,
      influxdbClient: JSON.parse(readFileSync(join(ROOT, "simulator", "node_modules", "@influxdata", "influxdb-client", "package.json"), "utf8")).version,
      autocannon: JSON.parse(readFileSync(join(ROOT, "node_modules", "autocannon", "package.json"), "utf8")).version,
      simulator: JSON.parse(readFileSync(join(ROOT, "simulator", "package.json"), "utf8")).version,
    },
    baselines: { ceilingPointsPerCpuSecond: Math.round(ceiling), naivePointsPerCpuSecond: Math.round(naive) },
    rows,
    targets,
    heapPerDeviceSlopeBytes: Math.round(heapSlope),
    costPerPointNs: costPerPoint.map((c: number) => Math.round(c * 1e6)),
  };
}

function target(name: string, met: boolean, measured: string) {
  return { name, met, measured };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number): string {
  return x >= 1e6 ? `${round(x / 1e6, 2)} M` : x >= 1e3 ? `${round(x / 1e3, 1)} k` : String(Math.round(x));
}

const dash = (v: unknown) => (v === undefined || v === null ? "–" : String(v));

function renderTable(report: ReturnType<typeof summarise>): string {
  const header = "| workload | points | points/CPU-s | × ceiling | × naive | RSS MiB | heap B/device | lag p50/p99 ms | event-loop p99 ms | dropped | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";
  const lines = report.rows.map(
    (r) =>
      `| ${r.workload} | ${r.points.toLocaleString("en")} | ${r.pointsPerCpuSecond ? r.pointsPerCpuSecond.toLocaleString("en") : "–"} | ${r.pointsPerCpuSecond ? r.vsCeiling : "–"} | ${r.pointsPerCpuSecond ? r.vsNaive : "–"} | ${dash(r.rssMiB)} | ${dash(r.heapPerDeviceBytes)} | ${r.lagP50Ms === undefined ? "–" : `${r.lagP50Ms} / ${r.lagP99Ms}`} | ${dash(r.eventLoopP99Ms)} | ${dash(r.dropped)} | ${r.note ?? ""} |`,
  );
  const targets = report.targets.map((t) => `| ${t.name} | ${t.met ? "met" : "**missed**"} | ${t.measured} |`);
  return [header, ...lines, "", "| target | result | measured |", "|---|---|---|", ...targets].join("\n");
}

function renderMarkdown(report: ReturnType<typeof summarise>): string {
  const commentary = readFileSync(join(__dirname, "..", "performance-notes.md"), "utf8");
  return `# Performance

Generated by \`npm run bench\` on ${report.date.slice(0, 10)} (${report.mode} run); do not edit by hand: the
notes below the tables come from \`bench/performance-notes.md\`.

Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB, Linux ${report.machine.kernel};
${report.machine.taskset ? "load pinned to core 0 and the sink to core 1 with taskset" : "no taskset: load and sink share cores"}.
Versions: Node.js ${report.versions.node}, @influxdata/influxdb-client ${report.versions.influxdbClient}, autocannon ${report.versions.autocannon}, simulator ${report.versions.simulator}.

Every figure is measured in the same run on the same sink with the same line shape, and given as a
ratio to the ceiling (${report.baselines.ceilingPointsPerCpuSecond.toLocaleString("en")} points/CPU-s) and to the
naive baseline (${report.baselines.naivePointsPerCpuSecond.toLocaleString("en")} points/CPU-s). CPU is the
client process's own (user + system, including its libuv threads, e.g. gzip).

${renderTable(report)}

${commentary}`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
