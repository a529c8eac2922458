// Ingest capacity of the real influxd, fed by the real simulator over TLS, both configured as the
// program configures them (test/influxdb/support: the dev stack's INFLUXD_* settings, its first
// setup, the simulator's container environment and token). influxd runs on core 1 only, the
// simulator and this process on core 0, so that influxd's figures read "per InfluxDB core" (the
// stack's default influxCpuMillis is 1000, one core) and the simulator's own cost stays apart.
//
// Two kinds of run:
//  - backfill: the simulator writes history as fast as the server accepts it (SIM_BACKFILL with
//    SIM_EXIT_AFTER_BACKFILL), with a bounded number of requests in flight: its rate is the
//    ceiling; influxd's CPU-seconds and memory are read from /proc/<pid>/stat and /status.
//  - paced: the simulator live at a fixed rate; its own metrics (measurement "simulator", one line
//    a second) give the write queue (buffer_lines) over the run: flat means influxd keeps up.
// Runs under jest: the program is read under Pulumi mocks, which need jest's module registry.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Declared } from "../../test/influxdb/support/program";
import { fluxQuery } from "../../test/influxdb/support/http";
import { simulatorEnv, signalAndWaitForExit, isSummary, type LogLine, type RunningSimulator } from "../../test/influxdb/support/simulator";
import { startStack, type Stack } from "../../test/influxdb/support/stack";
import { startSimulator } from "../../simulator/test/support/run-simulator";

export const INFLUXD_CORE = 1;
export const LOAD_CORE = 0;

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Whether this machine can pin: taskset present and at least two cores. */
export function canPin(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return cpus().length >= 2;
  } catch {
    return false;
  }
}

/** Pins every thread of a process to one core (what `taskset -c` does for a new process). */
function pin(pid: number, core: number): void {
  execFileSync("taskset", ["-a", "-p", "-c", String(core), String(pid)], { stdio: "ignore" });
}

export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime: fields 14 and 15 of proc(5), counted from the state field (3) here
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A memory figure of a process, from /proc (Linux), in KiB; NaN if the kernel does not report it. */
export function statusKiB(pid: number, key: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : NaN;
}

function allowedCores(pid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the dev stack's influxd on core INFLUXD_CORE. influxd inherits this process's affinity
 * when it starts, so the Go runtime sizes itself for one core (GOMAXPROCS follows the affinity
 * mask at start), exactly as under `taskset -c 1 influxd`; then this process and its threads move
 * to core LOAD_CORE, where the simulators it starts later run too.
 */
export async function startPinnedStack(decl: Declared, pinned: boolean): Promise<Stack> {
  if (!pinned) return startStack(decl);
  pin(process.pid, INFLUXD_CORE);
  try {
    return await startStack(decl);
  } finally {
    pin(process.pid, LOAD_CORE);
  }
}

export interface BackfillCase {
  batchLines: number;
  gzip: boolean;
}

export interface BackfillPlan {
  devices: number;
  intervalMs: number;
  points: number;
  /** requests the simulator may have in flight (SIM_MAX_INFLIGHT_LINES = this × batch) */
  requestsInFlight: number;
  /** the longest a run may take, start to exit */
  deadlineMs: number;
}

export interface BackfillRow {
  batchLines: number;
  gzip: boolean;
  points: number;
  dropped: number;
  /** write failures the simulator logged and retried (timeouts, 5xx, 429) */
  retriedFailures: number;
  writeSeconds: number;
  pointsPerSecond: number;
  /** influxd CPU over the write window, in cores (1 = the whole core it is pinned to) */
  influxdCoresWhileWriting: number;
  /** simulator CPU over its life, in cores */
  simulatorCores: number;
  /** influxd CPU from the first write until it is idle again, per million points */
  influxdCpuSecondsPerMillion: number;
  /** seconds after the last write until influxd was idle (its deferred work: cache snapshot to TSM) */
  settleSeconds: number;
  peakRssMiB: number;
  idleRssMiB: number;
  rssGrowthMiBPerMillion: number;
  influxdCores: string;
}

/** Idle: under 5 % of a core over 500 ms, or `limitMs` passed. Returns the seconds waited. */
async function waitUntilIdle(pid: number, limitMs: number): Promise<number> {
  const started = Date.now();
  let last = cpuSecondsOf(pid);
  while (Date.now() - started < limitMs) {
    await sleep(500);
    const now = cpuSecondsOf(pid);
    if (now - last < 0.025) break;
    last = now;
  }
  return (Date.now() - started) / 1000;
}

/** Failed writes the simulator will retry: its warnings, each with the similar failures it suppressed before it. */
function retriedFailures(logs: LogLine[]): number {
  return logs.filter((l) => l.msg === "write failed, will retry").reduce((n, l) => n + 1 + Number(l.similar_failures_suppressed ?? 0), 0);
}

function time(line: LogLine | undefined): number {
  const t = Number(line?.time);
  if (!Number.isFinite(t)) throw new Error(`log line without a time: ${JSON.stringify(line)}`);
  return t;
}

/** One backfill on a fresh stack: the ceiling for this batch size and gzip setting. */
export async function measureBackfill(decl: Declared, plan: BackfillPlan, c: BackfillCase, pinned: boolean): Promise<BackfillRow> {
  const stack = await startPinnedStack(decl, pinned);
  let sim: RunningSimulator | undefined;
  try {
    const pid = stack.server.process.pid as number;
    await waitUntilIdle(pid, 10_000);
    const idleRssKiB = statusKiB(pid, "VmRSS");
    const intervals = Math.ceil(plan.points / plan.devices);
    const env = simulatorEnv(stack, {
      SIM_DEVICES: String(plan.devices),
      SIM_INTERVAL_MS: String(plan.intervalMs),
      SIM_BACKFILL: `${Math.round((intervals * plan.intervalMs) / 1000)}s`,
      SIM_EXIT_AFTER_BACKFILL: "true",
      SIM_BATCH_SIZE: String(c.batchLines),
      SIM_GZIP: String(c.gzip),
      SIM_MAX_INFLIGHT_LINES: String(plan.requestsInFlight * c.batchLines),
      // the drain after the backfill must not be cut short: a cut would count as drops
      SIM_SHUTDOWN_TIMEOUT_MS: String(plan.deadlineMs),
      SIM_ALLOW_LONG_SHUTDOWN: "true",
      LOG_LEVEL: "info",
    });
    sim = startSimulator(env);
    const started = await sim.waitForLog((l) => l.msg === "backfill started", 30_000, "the backfill to start");
    const cpuAtStart = cpuSecondsOf(pid);
    const code = await Promise.race([sim.exited, sleep(plan.deadlineMs).then(() => -2)]);
    if (code !== 0) throw new Error(`the simulator ${code === -2 ? `was still running after ${plan.deadlineMs} ms` : `exited ${code}`}; output:\n${stack.server.redact(sim.output().slice(-3000))}`);
    const cpuAtEnd = cpuSecondsOf(pid);
    const summary = sim.logs.filter(isSummary).pop();
    if (!summary) throw new Error("the simulator exited without its summary line");
    const writeSeconds = (time(summary) - time(started)) / 1000;
    const settleSeconds = await waitUntilIdle(pid, 30_000);
    const cpuSettled = cpuSecondsOf(pid);
    const written = Number(summary.points_written);
    const simulatorCpuSeconds = (Number(summary.cpu_user_ms) + Number(summary.cpu_system_ms)) / 1000;
    const peakKiB = statusKiB(pid, "VmHWM");
    return {
      batchLines: c.batchLines,
      gzip: c.gzip,
      points: written,
      dropped: Number(summary.points_dropped),
      retriedFailures: retriedFailures(sim.logs),
      writeSeconds: round(writeSeconds, 2),
      pointsPerSecond: Math.round(written / writeSeconds),
      influxdCoresWhileWriting: round((cpuAtEnd - cpuAtStart) / writeSeconds, 2),
      simulatorCores: round(simulatorCpuSeconds / writeSeconds, 2),
      influxdCpuSecondsPerMillion: round((cpuSettled - cpuAtStart) / (written / 1e6), 2),
      settleSeconds: round(settleSeconds, 1),
      peakRssMiB: round(peakKiB / 1024, 0),
      idleRssMiB: round(idleRssKiB / 1024, 0),
      rssGrowthMiBPerMillion: round((peakKiB - idleRssKiB) / 1024 / (written / 1e6), 0),
      influxdCores: pinned ? allowedCores(pid) : "unpinned",
    };
  } finally {
    if (sim && (sim.process.exitCode === null && sim.process.signalCode === null)) sim.process.kill("SIGKILL");
    await stack.stop();
  }
}

export interface PacedPlan {
  devices: number;
  intervalMs: number;
  batchLines: number;
  gzip: boolean;
  flushIntervalMs: number;
  /** measured after warm-up: one full interval, so that every device has written once */
  windowMs: number;
}

export interface PacedRow extends PacedPlan {
  pointsPerSecond: number;
  points: number;
  dropped: number;
  retriedFailures: number;
  influxdCores: number;
  /** influxd CPU-seconds per million points at this fleet's series count, over the window */
  influxdCpuSecondsPerMillion: number;
  simulatorCores: number;
  peakRssMiB: number;
  /** the simulator's write queue (buffer_lines) over the window: median, max, and last − first */
  queueMedian: number;
  queueMax: number;
  queueDrift: number;
  kept: boolean;
}

/** The simulator live at a fixed rate: does influxd keep up (flat queue, no drops), and at what CPU? */
export async function measurePaced(decl: Declared, plan: PacedPlan, pinned: boolean): Promise<PacedRow> {
  const stack = await startPinnedStack(decl, pinned);
  let sim: RunningSimulator | undefined;
  try {
    const pid = stack.server.process.pid as number;
    const env = simulatorEnv(stack, {
      SIM_DEVICES: String(plan.devices),
      SIM_INTERVAL_MS: String(plan.intervalMs),
      SIM_BATCH_SIZE: String(plan.batchLines),
      SIM_GZIP: String(plan.gzip),
      SIM_FLUSH_INTERVAL_MS: String(plan.flushIntervalMs),
      SIM_METRICS_INTERVAL_MS: "1000",
      LOG_LEVEL: "info",
    });
    sim = startSimulator(env);
    await sim.waitForLog((l) => l.msg === "live", 60_000, "the simulator to go live");
    // warm-up: the first interval creates every series, which costs far more than a steady write;
    // three intervals let the queue drain before the window starts
    await sleep(3 * plan.intervalMs + 2_000);
    const cpu0 = cpuSecondsOf(pid);
    const simCpu0 = cpuSecondsOf(sim.process.pid as number);
    const from = Date.now();
    await sleep(plan.windowMs);
    const to = Date.now();
    const influxdCores = (cpuSecondsOf(pid) - cpu0) / ((to - from) / 1000);
    const simulatorCores = (cpuSecondsOf(sim.process.pid as number) - simCpu0) / ((to - from) / 1000);
    await signalAndWaitForExit(sim, 30_000);
    const summary: Partial<LogLine> = sim.logs.filter(isSummary).pop() ?? {};
    const queue = await fluxQuery(
      stack.server,
      stack.setup.operatorToken ?? stack.grafanaToken(),
      stack.setup.org,
      `from(bucket: ${JSON.stringify(stack.setup.bucket)}) |> range(start: ${new Date(from).toISOString()}, stop: ${new Date(to).toISOString()}) |> filter(fn: (r) => r._measurement == "simulator" and (r._field == "buffer_lines" or r._field == "points_written")) |> sort(columns: ["_time"])`,
    );
    if (queue.error) throw new Error(`reading the simulator's metrics: ${queue.error}`);
    const rows = queue.tables.flatMap((t) => t.rows);
    const series = (field: string) => rows.filter((r) => r._field === field).map((r) => Number(r._value));
    const buffer = series("buffer_lines");
    const written = series("points_written");
    const points = written.length >= 2 ? written[written.length - 1] - written[0] : 0;
    const sorted = [...buffer].sort((a, b) => a - b);
    const row: PacedRow = {
      ...plan,
      // metrics lines come once a second: the window between the first and the last of them
      pointsPerSecond: Math.round(points / Math.max(1, written.length - 1)),
      points,
      dropped: Number(summary.points_dropped ?? -1),
      retriedFailures: retriedFailures(sim.logs),
      influxdCores: round(influxdCores, 2),
      influxdCpuSecondsPerMillion: points > 0 ? round((influxdCores * 1e6) / (points / Math.max(1, written.length - 1)), 2) : -1,
      simulatorCores: round(simulatorCores, 2),
      peakRssMiB: round(statusKiB(pid, "VmHWM") / 1024, 0),
      queueMedian: sorted[Math.floor(sorted.length / 2)] ?? -1,
      queueMax: sorted[sorted.length - 1] ?? -1,
      queueDrift: buffer.length >= 2 ? buffer[buffer.length - 1] - buffer[0] : 0,
      kept: false,
    };
    // kept up: nothing dropped, and the queue never held more than two flush intervals of traffic
    const perFlush = (plan.devices * plan.flushIntervalMs) / plan.intervalMs;
    row.kept = row.dropped === 0 && row.queueMax <= Math.max(2 * perFlush, 2 * plan.batchLines);
    return row;
  } finally {
    if (sim && sim.process.exitCode === null && sim.process.signalCode === null) sim.process.kill("SIGKILL");
    await stack.stop();
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
