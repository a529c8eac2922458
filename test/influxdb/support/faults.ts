// The fault scenarios of the data path (issue 16): the real influxd as a process, the real simulator
// writing to it over verified TLS as the program configures it, and one fault each: influxd killed
// with SIGKILL and restarted on the same data, its data directory on a small filesystem that fills
// up, influxd stopped (SIGSTOP) for longer than the simulator's request timeout. Each scenario
// measures what the simulator generated, wrote and dropped, what is in the bucket, how long the
// outage lasted and the simulator's peak memory, and hands back what the tests assert on.
// test/influxdb/faults.test.ts runs them short; bench/faults runs them longer for docs/RELIABILITY.md.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fluxQuery, httpsRequest, writeLines } from "./http";
import { DATA_DIR, within, type Server } from "./influxd";
import { isSummary, signalAndWaitForExit, simulatorConfig, simulatorEnv, type LogLine, type RunningSimulator } from "./simulator";
import { startStack, type Stack } from "./stack";
import { INFLUXD } from "./tier";
import { startSimulator } from "../../../simulator/test/support/run-simulator";

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, or fails at the
 * deadline saying what it waited for. An error thrown by `check` ends the wait at once.
 */
export async function waitFor<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 250): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The influxd of a Stack, restartable: the first process is the one startInfluxd started; later ones
 * run with exactly its environment (the program's INFLUXD_* settings, the same port, bolt, sqlite and
 * engine paths), so a restart is influxd coming back on the same data, as a restarted container would.
 */
export class Influxd {
  current: ChildProcess;
  private exits = new Map<ChildProcess, Promise<number>>();
  private starts = 1;
  /** every log file of every process, in order */
  readonly logFiles: string[];

  constructor(private readonly server: Server) {
    this.current = server.process;
    this.logFiles = [server.logFile];
    this.track(server.process);
  }

  private track(child: ChildProcess): void {
    const exited = child.exitCode !== null || child.signalCode !== null;
    this.exits.set(child, exited ? Promise.resolve(child.exitCode ?? 128) : new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1)))));
  }

  get alive(): boolean {
    return this.current.exitCode === null && this.current.signalCode === null;
  }

  /** how the current process ended, if it did */
  get ended(): string | undefined {
    if (this.alive) return undefined;
    return this.current.signalCode ? `signal ${this.current.signalCode}` : `exit ${this.current.exitCode}`;
  }

  /** SIGKILL, and waits until the process is gone (the kernel has closed its files and socket). */
  async kill9(): Promise<void> {
    this.current.kill("SIGKILL");
    if (!(await within(this.exits.get(this.current)!, 10_000))) throw new Error("influxd did not die within 10 s of SIGKILL");
  }

  /** SIGTERM and wait for the exit (SIGKILL after `deadlineMs`). */
  async stop(deadlineMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.current.kill("SIGCONT"); // a stopped process cannot act on SIGTERM
    this.current.kill("SIGTERM");
    if (!(await within(this.exits.get(this.current)!, deadlineMs))) {
      this.current.kill("SIGKILL");
      await within(this.exits.get(this.current)!, 5_000);
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.current.kill(signal);
  }

  /** Starts influxd again on the same data with the same settings; resolves when /health passes. */
  async start(deadlineMs = 60_000): Promise<void> {
    if (this.alive) throw new Error("influxd is still running");
    const logFile = join(this.server.dir, `influxd-restart-${this.starts++}.log`);
    this.logFiles.push(logFile);
    const fd = openSync(logFile, "a");
    const child = spawn(INFLUXD, [], { cwd: this.server.path("/"), env: this.server.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.current = child;
    this.track(child);
    await waitFor(`influxd's /health to pass after a restart (log ${logFile})`, deadlineMs, async () => {
      if (!this.alive) throw new Error(`influxd exited (${this.ended}) while starting; log:\n${this.logTail(logFile)}`);
      try {
        const res = await httpsRequest(this.server, { method: "GET", path: "/health", timeoutMs: 2_000 });
        return res.status === 200 && JSON.parse(res.body).status === "pass" ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    }, 100);
  }

  /** the log of the current process (or of `file`), secrets masked */
  log(file = this.logFiles[this.logFiles.length - 1]): string {
    return this.server.redact(readFileSync(file, "utf8"));
  }

  logTail(file?: string, lines = 30): string {
    return this.log(file).trimEnd().split("\n").slice(-lines).join("\n");
  }
}

/** The resident set size of a process, sampled from /proc every `everyMs`. */
export class RssSampler {
  readonly samples: Array<{ at: number; bytes: number }> = [];
  private timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    try {
      const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))?.[1];
      if (kib) this.samples.push({ at: performance.now(), bytes: Number(kib) * 1024 });
    } catch {
      // the process is gone: nothing more to sample
    }
  }

  /** the largest sample taken in [from, to) (performance.now() times) */
  peak(from = 0, to = Number.POSITIVE_INFINITY): number {
    return this.samples.filter((s) => s.at >= from && s.at < to).reduce((m, s) => Math.max(m, s.bytes), 0);
  }

  /** the process's own high-water mark (VmHWM): a peak between two samples is not missed */
  highWaterMark(): number {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))?.[1];
    return Number(kib ?? 0) * 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

/** The fleet of the scenarios: a few hundred points a second, no dropouts (so every device has a reading every interval). */
export interface Fleet {
  devices: number;
  intervalMs: number;
}

export const DEFAULT_FLEET: Fleet = { devices: 300, intervalMs: 1000 };

/** One simulator run of a scenario, with what the scenario needs to read from it. */
export interface SimRun {
  sim: RunningSimulator;
  rss: RssSampler;
  env: Record<string, string>;
  config: ReturnType<typeof simulatorConfig>;
  startedAt: number;
}

/** The simulator as the program configures it, with the scenario's fleet and `overrides`; resolves once it is live. */
export async function startFleet(stack: Stack, fleet: Fleet, overrides: Record<string, string> = {}): Promise<SimRun> {
  const env = simulatorEnv(stack, { SIM_DEVICES: String(fleet.devices), SIM_INTERVAL_MS: String(fleet.intervalMs), SIM_FAULT_DROPOUT_RATE: "0", ...overrides });
  const config = simulatorConfig(env);
  const sim = startSimulator(env);
  const rss = new RssSampler(sim.process.pid!);
  await sim.waitForLog((l) => l.msg === "live", 30_000, "the simulator to go live");
  return { sim, rss, env, config, startedAt: Date.now() };
}

/** SIGTERM, the final summary; the shutdown timeout is the program's, so 15 s is ample. */
export async function stopFleet(run: SimRun): Promise<LogLine> {
  const hwm = run.rss.highWaterMark();
  run.rss.stop();
  const exit = await signalAndWaitForExit(run.sim, 15_000);
  if (exit.code !== 0) throw new Error(`the simulator exited with ${exit.code}; output:\n${run.sim.output().slice(-3000)}`);
  const summary = run.sim.logs.filter(isSummary).pop();
  if (!summary) throw new Error(`no summary line; output:\n${run.sim.output().slice(-3000)}`);
  return { ...summary, high_water_rss_bytes: hwm };
}

const flux = (stack: Stack, query: string, timeoutMs?: number) => fluxQuery(stack.server, stack.grafanaToken(), stack.datasource.organization, query, timeoutMs);

/** The readings of this run in the bucket (the simulator's measurement and site), up to `stop` (epoch ms, exclusive) if given. */
function readings(stack: Stack, run: SimRun, stop?: number): string {
  const range = stop === undefined ? "start: 0" : `start: 0, stop: ${new Date(stop).toISOString()}`;
  return `from(bucket: ${JSON.stringify(stack.setup.bucket)}) |> range(${range}) |> filter(fn: (r) => r._measurement == ${JSON.stringify(run.config.measurement)} and r.site == ${JSON.stringify(run.config.site)})`;
}

export interface BucketCounts {
  /** points per device (the count of one field; each field's count must be the same) */
  byDevice: Map<string, number>;
  total: number;
  /** devices whose fields do not all have the same count (a point half written) */
  unevenDevices: string[];
}

/** Points in the bucket by device, read with Grafana's read token. */
export async function countsByDevice(stack: Stack, run: SimRun): Promise<BucketCounts> {
  const res = await flux(stack, `${readings(stack, run)} |> group(columns: ["device", "_field"]) |> count()`);
  if (res.error) throw new Error(`count query: ${res.error}`);
  const perField = new Map<string, Map<string, number>>();
  for (const row of res.tables.flatMap((t) => t.rows)) {
    const fields = perField.get(row.device) ?? new Map<string, number>();
    fields.set(row._field, Number(row._value));
    perField.set(row.device, fields);
  }
  const byDevice = new Map<string, number>();
  const unevenDevices: string[] = [];
  for (const [device, fields] of perField) {
    const counts = [...fields.values()];
    if (new Set(counts).size !== 1) unevenDevices.push(device);
    byDevice.set(device, Math.max(...counts));
  }
  return { byDevice, total: [...byDevice.values()].reduce((a, b) => a + b, 0), unevenDevices };
}

export interface SeriesShape {
  /** consecutive readings of one device further apart than the interval: a reading missing */
  gaps: number;
  /** consecutive readings closer than the interval: a reading written twice at another time */
  tooClose: number;
  /** the oldest of the devices' latest readings (epoch ms), to tell whether every device has caught up */
  oldestLatest: number;
  devices: number;
}

/**
 * Whether each device's readings are one per interval with none missing and none doubled: the
 * fleet reads device d at k × interval + offset(d) (simulator/src/fleet.ts), so between two of a
 * device's readings there is exactly one interval. InfluxDB keeps one value per series and
 * timestamp, so a point written twice with the same timestamp is stored once (the idempotence the
 * retries rely on); a point re-sent with another timestamp would show here as too close.
 */
export async function seriesShape(stack: Stack, run: SimRun): Promise<SeriesShape> {
  const interval = run.config.intervalMs;
  const data = `${readings(stack, run)} |> filter(fn: (r) => r._field == "battery_pct")`;
  const steps = await flux(
    stack,
    `${data} |> elapsed(unit: 1ms) |> map(fn: (r) => ({r with kind: if r.elapsed > ${interval} then "gap" else if r.elapsed < ${interval} then "close" else "ok"})) |> group(columns: ["kind"]) |> count(column: "elapsed")`,
  );
  if (steps.error) throw new Error(`series query: ${steps.error}`);
  const latest = await flux(stack, `${data} |> last() |> group() |> keep(columns: ["device", "_time"])`);
  if (latest.error) throw new Error(`latest query: ${latest.error}`);
  const rows = steps.tables.flatMap((t) => t.rows);
  const n = (kind: string) => Number(rows.find((r) => r.kind === kind)?.elapsed ?? 0);
  const times = latest.tables.flatMap((t) => t.rows).map((r) => Date.parse(r._time));
  return { gaps: n("gap"), tooClose: n("close"), oldestLatest: times.length ? Math.min(...times) : 0, devices: times.length };
}

/** Every (device, time) → its five field values joined, for the readings at or before `until` (epoch ms). */
export async function snapshot(stack: Stack, run: SimRun, until: number): Promise<Map<string, string>> {
  const res = await flux(
    stack,
    `${readings(stack, run, until + 1)} |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") |> group() |> keep(columns: ["device", "_time", "battery_pct", "humidity_pct", "pressure_hpa", "rssi_dbm", "temperature_c"])`,
    120_000,
  );
  if (res.error) throw new Error(`snapshot query: ${res.error}`);
  const out = new Map<string, string>();
  for (const r of res.tables.flatMap((t) => t.rows)) out.set(`${r.device}@${r._time}`, [r.battery_pct, r.humidity_pct, r.pressure_hpa, r.rssi_dbm, r.temperature_c].join(","));
  return out;
}

/** Waits until every device's readings reach back to within two intervals of now with no gap: the simulator's buffer has been written out. */
export async function waitCaughtUp(stack: Stack, run: SimRun, deadlineMs: number): Promise<SeriesShape> {
  let last: SeriesShape | undefined;
  try {
    return await waitFor("every device's readings to be in the bucket up to now", deadlineMs, async () => {
      last = await seriesShape(stack, run);
      return last.devices === run.config.devices && last.gaps === 0 && Date.now() - last.oldestLatest <= 2 * run.config.intervalMs + 1000 ? last : undefined;
    }, 500);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** What a scenario measured, as docs/RELIABILITY.md shows it. */
export interface Figures {
  scenario: "crash" | "full-disk" | "slow-database";
  /** the benchmark's name for the run, where one scenario runs with several settings */
  plan?: string;
  devices: number;
  intervalMs: number;
  pointsPerSecond: number;
  bufferLines: number;
  requestTimeoutMs: number;
  runSeconds: number;
  generated: number;
  written: number;
  dropped: number;
  /** points of this run found in the bucket after recovery */
  inBucket: number;
  /** in the bucket beyond what the simulator counted as written: delivered, but its answer lost */
  inBucketNotCountedWritten: number;
  outageMs: number;
  /** from the fault's end until every device's readings are in the bucket up to now (not measured when points were dropped) */
  catchUpMs?: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  /** the simulator's VmHWM at the end: the peak between samples too */
  highWaterRssMiB: number;
  /** "write failed, will retry" warnings the simulator logged (rate-limited: one per 5 s at most) */
  retryWarnings: number;
  /** "points dropped" log lines, and the sum of their counts */
  dropLogLines: number;
  dropLogPoints: number;
  /** what influxd did, in words */
  influxd: string[];
}

/** The simulator's retry warnings and drop lines, summed. */
export function simulatorReport(sim: RunningSimulator) {
  const drops = sim.logs.filter((l) => l.msg === "points dropped");
  const retries = sim.logs.filter((l) => l.msg === "write failed, will retry");
  return {
    dropLogLines: drops.length,
    dropLogPoints: drops.reduce((n, l) => n + Number(l.points), 0),
    dropReasons: [...new Set(drops.map((l) => String(l.reason)))],
    retryWarnings: retries.length,
  };
}

function baseFigures(scenario: Figures["scenario"], run: SimRun, summary: LogLine, counts: BucketCounts, outageMs: number, baselineRss: number, peakRss: number): Figures {
  const report = simulatorReport(run.sim);
  const written = Number(summary.points_written);
  return {
    scenario,
    devices: run.config.devices,
    intervalMs: run.config.intervalMs,
    pointsPerSecond: Math.round((run.config.devices * 1000) / run.config.intervalMs),
    bufferLines: Number(run.sim.logs.find((l) => l.msg === "simulator starting")?.buffer_lines),
    requestTimeoutMs: Number(run.env.SIM_REQUEST_TIMEOUT_MS ?? 10_000),
    runSeconds: Math.round((Date.now() - run.startedAt) / 100) / 10,
    generated: Number(summary.points_generated),
    written,
    dropped: Number(summary.points_dropped),
    inBucket: counts.total,
    inBucketNotCountedWritten: counts.total - written,
    outageMs: Math.round(outageMs),
    baselineRssMiB: mib(baselineRss),
    peakRssMiB: mib(peakRss),
    highWaterRssMiB: mib(Number(summary.high_water_rss_bytes)),
    retryWarnings: report.retryWarnings,
    dropLogLines: report.dropLogLines,
    dropLogPoints: report.dropLogPoints,
    influxd: [],
  };
}

export interface ScenarioResult {
  figures: Figures;
  summary: LogLine;
  counts: BucketCounts;
  shape: SeriesShape;
  run: SimRun;
}

/** How long the simulator writes undisturbed first: its memory then is the baseline. */
export interface Timing {
  steadyMs: number;
  /** how long the fault lasts (the crash: at least; influxd is restarted once the simulator has seen the outage) */
  faultMs: number;
  fleet?: Fleet;
  /** extra simulator settings (e.g. a small SIM_BUFFER_LINES, to show that the checks can fail) */
  simulator?: Record<string, string>;
}

async function withStack<T>(body: (stack: Stack, influxd: Influxd) => Promise<T>): Promise<T> {
  const stack = await startStack();
  const influxd = new Influxd(stack.server);
  try {
    return await body(stack, influxd);
  } catch (error) {
    if (error instanceof Error) error.message = `${stack.server.redact(error.message)}\n--- influxd log (last lines) ---\n${influxd.logTail()}`;
    throw error;
  } finally {
    await influxd.stop();
    await stack.stop();
  }
}

/** A retry the simulator logged after `since` (epoch ms): it has seen the fault. */
function retrySince(run: SimRun, since: number) {
  return (l: LogLine) => (l.msg === "write failed, will retry" || l.msg === "points dropped") && Number(l.time) >= since;
}

/**
 * Crash: SIGKILL influxd while the simulator writes, keep it down for `faultMs` (and until the
 * simulator has seen a failed write), restart it on the same data, wait until every device's
 * readings are in the bucket up to now (when nothing was dropped), stop the simulator.
 */
export async function crashScenario(t: Timing): Promise<ScenarioResult & { restartLog: string }> {
  return withStack(async (stack, influxd) => {
    const run = await startFleet(stack, t.fleet ?? DEFAULT_FLEET, t.simulator);
    try {
      await waitFor("the simulator's first writes", 20_000, () => countsByDevice(stack, run).then((c) => (c.total > 0 ? c : undefined)));
      await new Promise((r) => setTimeout(r, t.steadyMs)); // a steady period of known length: the memory baseline
      const baselineRss = run.rss.peak();
      const killedAt = Date.now();
      const outageFrom = performance.now();
      await influxd.kill9();
      await run.sim.waitForLog(retrySince(run, killedAt), 30_000, "the simulator to see influxd gone");
      const downFor = t.faultMs - (Date.now() - killedAt);
      if (downFor > 0) await new Promise((r) => setTimeout(r, downFor));
      await influxd.start();
      const outageMs = performance.now() - outageFrom;
      const restartLog = influxd.log();
      let catchUpMs: number | undefined;
      const recoveredFrom = performance.now();
      if (!run.sim.logs.some((l) => l.msg === "points dropped")) {
        await waitCaughtUp(stack, run, 60_000);
        catchUpMs = Math.round(performance.now() - recoveredFrom);
      }
      const peakRss = run.rss.peak(outageFrom);
      const summary = await stopFleet(run);
      const counts = await countsByDevice(stack, run);
      const shape = await seriesShape(stack, run);
      const figures = { ...baseFigures("crash", run, summary, counts, outageMs, baselineRss, peakRss), catchUpMs };
      figures.influxd = describeRestart(restartLog);
      return { figures, summary, counts, shape, run, restartLog };
    } finally {
      run.rss.stop();
      if (run.sim.process.exitCode === null) run.sim.process.kill("SIGKILL");
    }
  });
}

/** A simulator failure line in a few words: the HTTP status and the server's message, or the error. */
function describeFailure(line: LogLine): string {
  const err = (line.err ?? {}) as { status?: number; message?: string };
  return err.status ? `HTTP ${err.status} "${err.message}"` : String(err.message ?? line.reason);
}

/** `text` with the test's temporary directory taken out of the container paths it names. */
export function containerPaths(text: string): string {
  return text.replace(/\/\S*?\/root(\/var\/lib\/influxdb2)/g, "$1");
}

/** What influxd's log says it did when it started on data a crash left behind. */
export function describeRestart(log: string): string[] {
  const out: string[] = [];
  const wal = log.split("\n").filter((l) => /WAL|wal/.test(l) && /(replay|Reading file|Opened file)/i.test(l));
  if (wal.length) out.push(`at restart it replayed its write-ahead log (${wal.length} log lines mention it, e.g. ${JSON.stringify(trimLogLine(wal[0]))})`);
  else out.push("at restart its log has no WAL replay line");
  const errors = log.split("\n").filter((l) => /lvl=error|level=error|"level":"error"/.test(l));
  out.push(errors.length ? `${errors.length} error lines at restart, e.g. ${JSON.stringify(trimLogLine(errors[0]))}` : "no error lines at restart");
  return out;
}

function trimLogLine(line: string): string {
  // influxd's logfmt: drop the timestamp, the ids and the test's temporary directory before the
  // container path; keep level, message and the fields that say what
  return containerPaths(line)
    .replace(/^ts=\S+\s*/, "")
    .replace(/\s*log_id=\S+/g, "")
    .replace(/\s*trace_id=\S+/g, "")
    .slice(0, 240);
}

/** A loop-mounted ext4 image of `sizeMiB`, mounted at `dir`; undefined with the reason when this machine cannot make one. */
export interface SmallFs {
  dir: string;
  image: string;
  kind: string;
  release(): void;
}

export function smallFilesystemSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: a fixed-size filesystem needs mount (loop-mounted ext4 or tmpfs)";
  for (const tool of ["mount", "umount"]) if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is missing`;
  // root without the right to mount (a container without CAP_SYS_ADMIN): try a 1 MiB tmpfs
  const probe = mkdtempSync(join(tmpdir(), "faults-mount-probe-"));
  try {
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { encoding: "utf8" });
    if (mounted.status !== 0) return `cannot mount here: ${mounted.stderr.trim()}`;
    spawnSync("umount", [probe]);
    return undefined;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * Mounts a fixed-size filesystem at `dir` (which must exist and be empty): a loop-mounted ext4 image
 * (no blocks reserved for root: influxd runs as root here and would otherwise write past "full")
 * where the kernel gives a loop device, else a size-limited tmpfs.
 */
export function mountSmallFilesystem(dir: string, sizeMiB: number, imageDir: string): SmallFs {
  const image = join(imageDir, "data.ext4");
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
  const ext4 = run("truncate", ["-s", `${sizeMiB}M`, image]).status === 0 && run("mkfs.ext4", ["-q", "-F", "-m", "0", image]).status === 0 && run("mount", ["-o", "loop", image, dir]);
  let kind: string;
  if (ext4 && ext4.status === 0) kind = `ext4 on a loop device, ${sizeMiB} MiB image`;
  else {
    rmSync(image, { force: true });
    const tmpfs = run("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]);
    if (tmpfs.status !== 0) throw new Error(`cannot mount a small filesystem at ${dir}: loop ext4: ${ext4 ? ext4.stderr.trim() : "mkfs.ext4 failed"}; tmpfs: ${tmpfs.stderr.trim()}`);
    kind = `tmpfs of ${sizeMiB} MiB (no loop device: ${ext4 ? ext4.stderr.trim() : "mkfs.ext4 failed"})`;
  }
  return {
    dir,
    image,
    kind,
    release() {
      // umount detaches the loop device that mount -o loop set up (autoclear)
      const u = run("umount", [dir]);
      if (u.status !== 0) run("umount", ["-l", dir]);
      rmSync(image, { force: true });
    },
  };
}

/** Writes 1 MiB blocks into `file` until the filesystem says ENOSPC; returns the bytes written. */
export function fillUntilFull(file: string): number {
  const block = Buffer.alloc(MiB, 0x5a);
  const fd = openSync(file, "w");
  let bytes = 0;
  try {
    for (;;) {
      try {
        bytes += writeSync(fd, block);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw error;
      }
    }
    // the last partial block: byte by byte is too slow, 4 KiB pages are enough to leave nothing
    const page = Buffer.alloc(4096, 0x5a);
    for (;;) {
      try {
        bytes += writeSync(fd, page);
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** One write of one probe point with the simulator's token: what influxd answers to a write at this moment. */
async function probeWrite(stack: Stack): Promise<string> {
  try {
    const res = await writeLines(stack.server, stack.simulatorToken(), stack.setup.org, stack.setup.bucket, `fault_probe,site=probe value=1 ${Date.now()}`);
    return res.status === 204 ? "HTTP 204" : `HTTP ${res.status} ${res.body.trim().slice(0, 300)}`;
  } catch (error) {
    return `no answer: ${(error as Error).message}`;
  }
}

/**
 * Full disk: influxd's data directory (bolt, sqlite, engine: the program's data volume) moved onto
 * a small filesystem, the simulator writing, the filesystem filled mid-run until ENOSPC and kept
 * full for `faultMs`; then the filler removed, influxd restarted. Records what influxd answered and
 * did, checks what was in the bucket before the fill is still there with the same values.
 */
export async function fullDiskScenario(t: Timing & { sizeMiB: number }) {
  return withStack(async (stack, influxd) => {
    const volume = stack.server.path(DATA_DIR);
    const real = realpathSync(volume);
    const notes: string[] = [];
    // Move the data onto the small filesystem with influxd down, as the program's volume would be there from the start.
    await influxd.stop();
    const original = `${real}.orig`;
    renameSync(real, original);
    mkdirSync(real);
    const imageDir = join(stack.server.dir, "image");
    mkdirSync(imageDir);
    const fs = mountSmallFilesystem(real, t.sizeMiB, imageDir);
    const filler = join(real, "filler");
    try {
      const cp = spawnSync("cp", ["-a", `${original}/.`, `${real}/`], { encoding: "utf8" });
      if (cp.status !== 0) throw new Error(`copying the data onto the small filesystem: ${cp.stderr}`);
      rmSync(original, { recursive: true, force: true });
      await influxd.start();
      const run = await startFleet(stack, t.fleet ?? DEFAULT_FLEET, t.simulator);
      try {
        await waitFor("the simulator's first writes", 20_000, () => countsByDevice(stack, run).then((c) => (c.total > 0 ? c : undefined)));
        await new Promise((r) => setTimeout(r, t.steadyMs));
        const baselineRss = run.rss.peak();
        const beforeFill = Date.now();
        const acknowledged = await snapshot(stack, run, beforeFill);
        const fillFrom = performance.now();
        const fillBytes = fillUntilFull(filler);
        const filledAt = Date.now();
        notes.push(`the filesystem (${fs.kind}) was filled with ${mib(fillBytes)} MiB`);
        const probeFull = await probeWrite(stack);
        notes.push(`a write while full: ${probeFull}`);
        await run.sim.waitForLog(retrySince(run, filledAt), 30_000, "the simulator to see its writes fail on the full disk");
        const firstFailure = run.sim.logs.find(retrySince(run, filledAt))!;
        notes.push(`the simulator's first failed write: ${describeFailure(firstFailure)}`);
        // what a container healthcheck on /health would see meanwhile
        const health = await httpsRequest(stack.server, { method: "GET", path: "/health", timeoutMs: 5_000 }).then(
          (res) => `HTTP ${res.status} status ${JSON.parse(res.body).status}`,
          (error: Error) => `no answer: ${error.message}`,
        );
        notes.push(`its /health while the disk was full: ${health}`);
        const heldUntil = Date.now() + t.faultMs;
        const liveDuringFull: boolean[] = [];
        await waitFor("the full-disk period to pass", t.faultMs + 5000, () => {
          liveDuringFull.push(influxd.alive);
          return Date.now() >= heldUntil ? true : undefined;
        }, 200);
        notes.push(influxd.alive ? "influxd kept running while the disk was full" : `influxd ended while the disk was full (${influxd.ended})`);
        const fullLog = influxd.log();
        const enospcLines = fullLog.split("\n").filter((l) => /no space left/i.test(l));
        notes.push(`${enospcLines.length} influxd log lines say "no space left on device"${enospcLines.length ? `, e.g. ${JSON.stringify(trimLogLine(enospcLines[0]))}` : ""}`);
        // Space back: does influxd take writes again by itself?
        unlinkSync(filler);
        const freedAt = Date.now();
        let selfRecovered: string;
        if (influxd.alive) {
          try {
            const answer = await waitFor("a write to succeed after the space was freed, without a restart", 10_000, async () => {
              const probe = await probeWrite(stack);
              return probe === "HTTP 204" ? probe : undefined;
            }, 500);
            selfRecovered = `after the space was freed it took writes again without a restart (${answer} within ${Date.now() - freedAt} ms)`;
          } catch {
            selfRecovered = `after the space was freed it still did not take writes within 10 s (last: ${await probeWrite(stack)})`;
          }
        } else selfRecovered = "it was not running when the space was freed";
        notes.push(selfRecovered);
        await influxd.stop();
        await influxd.start();
        const outageMs = performance.now() - fillFrom;
        notes.push(...describeRestart(influxd.log()).map((n) => `restarted after the fill: ${n}`));
        const recoveredFrom = performance.now();
        let catchUpMs: number | undefined;
        if (!run.sim.logs.some((l) => l.msg === "points dropped")) {
          await waitCaughtUp(stack, run, 60_000);
          catchUpMs = Math.round(performance.now() - recoveredFrom);
        } else {
          // the buffer overflowed: wait for the newest readings to flow again, then stop
          await waitFor("readings from after the restart in the bucket", 30_000, async () => ((await seriesShape(stack, run)).oldestLatest > freedAt ? true : undefined), 500);
        }
        const peakRss = run.rss.peak(fillFrom);
        const fullPeriodRss = run.rss.samples.filter((s) => s.at >= fillFrom && s.at < fillFrom + (heldUntil - filledAt)).map((s) => s.bytes);
        const summary = await stopFleet(run);
        const after = await snapshot(stack, run, beforeFill);
        const lost = [...acknowledged.keys()].filter((k) => !after.has(k));
        const changed = [...acknowledged.entries()].filter(([k, v]) => after.has(k) && after.get(k) !== v).map(([k]) => k);
        const counts = await countsByDevice(stack, run);
        const shape = await seriesShape(stack, run);
        const figures = { ...baseFigures("full-disk", run, summary, counts, outageMs, baselineRss, peakRss), catchUpMs, influxd: notes.map(containerPaths) };
        return { figures, summary, counts, shape, run, acknowledged: acknowledged.size, lost, changed, fullPeriodRss, liveDuringFull, probeFull, filesystem: fs.kind };
      } finally {
        run.rss.stop();
        if (run.sim.process.exitCode === null) run.sim.process.kill("SIGKILL");
      }
    } finally {
      await influxd.stop();
      rmSync(filler, { force: true });
      fs.release();
    }
  });
}


/**
 * Slow database: influxd stopped with SIGSTOP for `faultMs` (longer than the simulator's request
 * timeout, so requests time out and are sent again while the first copy waits in the stopped
 * server's socket), then SIGCONT; wait until every device is caught up, stop the simulator.
 */
export async function slowScenario(t: Timing) {
  return withStack(async (stack, influxd) => {
    const run = await startFleet(stack, t.fleet ?? DEFAULT_FLEET, t.simulator);
    try {
      await waitFor("the simulator's first writes", 20_000, () => countsByDevice(stack, run).then((c) => (c.total > 0 ? c : undefined)));
      const steadyFrom = performance.now();
      await new Promise((r) => setTimeout(r, t.steadyMs));
      const baselineRss = run.rss.peak(steadyFrom);
      const stoppedAt = Date.now();
      const outageFrom = performance.now();
      influxd.signal("SIGSTOP");
      try {
        await run.sim.waitForLog(retrySince(run, stoppedAt), t.faultMs + 30_000, "the simulator to see a write time out");
        const rest = t.faultMs - (Date.now() - stoppedAt);
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      } finally {
        influxd.signal("SIGCONT");
      }
      const outageMs = performance.now() - outageFrom;
      const recoveredFrom = performance.now();
      await waitCaughtUp(stack, run, 60_000);
      const catchUpMs = Math.round(performance.now() - recoveredFrom);
      const peakRss = run.rss.peak(outageFrom);
      const summary = await stopFleet(run);
      const counts = await countsByDevice(stack, run);
      const shape = await seriesShape(stack, run);
      const figures = { ...baseFigures("slow-database", run, summary, counts, outageMs, baselineRss, peakRss), catchUpMs };
      figures.influxd = [
        `stopped ${Math.round(outageMs)} ms, the simulator's requests timing out after ${figures.requestTimeoutMs} ms: its retry warnings named ${[...new Set(run.sim.logs.filter((l) => l.msg === "write failed, will retry").map(describeFailure))].join(", ") || "nothing"}`,
        influxd.alive ? "influxd carried on after SIGCONT" : `influxd ended (${influxd.ended})`,
      ];
      return { figures, summary, counts, shape, run };
    } finally {
      run.rss.stop();
      if (run.sim.process.exitCode === null) run.sim.process.kill("SIGKILL");
    }
  });
}

