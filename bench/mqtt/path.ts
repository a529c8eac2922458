// The MQTT path end to end: the real simulator in MQTT mode (one TLS session and client certificate
// per device) → Debian's mosquitto → Telegraf built from its Go module → the real influxd, the three
// servers started and configured by the MQTT tier's support (test/mqtt/support: the program's own
// mosquitto.conf, ACL, CRL and telegraf.conf renderers), with the broker queue the stack declares.
//
// One run at a fixed fleet and rate:
//  - throughput: readings counted in InfluxDB at the start and the end of a measuring window
//    (delivered, end to end), against the rate the simulator offers;
//  - zero loss: after the simulator's SIGTERM drain, InfluxDB's count per device, summed, must equal
//    the simulator's points_written (a redelivered message overwrites its own point, so duplicates
//    cannot hide a loss);
//  - latency, publish to queryable: a probe device (its own certificate and topic) publishes a
//    reading every PROBE_EVERY_MS stamped with its publish time, and the bench polls InfluxDB every
//    POLL_EVERY_MS; a reading's latency is the end of the first poll that returned it minus its
//    publish time (an upper bound, at most one poll interval plus the query's own time too high);
//  - cost: CPU seconds (utime + stime, /proc/<pid>/stat) of mosquitto, Telegraf, influxd and the
//    simulator over the window, their peak RSS (VmHWM, /proc/<pid>/status).
// Where taskset and two cores exist, the three servers run on core PATH_CORE and the simulator,
// the probe and this process on LOAD_CORE, so the path's figures are "on one core".
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MEASUREMENT, READING_FIELDS } from "../../simulator/src/schema";
import { BRIDGE_IDENTITY } from "../../components/broker-config";
import { startSimulator, signalAndWaitForExit, isSummary, type LogLine, type RunningSimulator } from "../../simulator/test/support/run-simulator";
import { BUCKET } from "../../test/mqtt/support/influxdb";
import { connectDevice, publishQos1, rfc3339ToNs, startStack, type Stack } from "../../test/mqtt/support/stack";
import { cpuSecondsOf, round, statusKiB } from "../influxdb/ingest";
import { ROOT } from "../../test/mqtt/support/tier";
import { startStackWithWindow } from "./stack";

export const PATH_CORE = 1;
export const LOAD_CORE = 0;
export const SITE = "bench";
/** The probe publishes at its own site, so that the fleet's counts never include it. */
export const PROBE_SITE = "bench-probe";
export const PROBE_ID = "bench-probe";
const PROBE_EVERY_MS = 100;
const POLL_EVERY_MS = 100;
/** A field every reading carries (schema.ts: "Every line carries all of them"): one count per reading. */
const COUNTED_FIELD = Object.keys(READING_FIELDS)[0];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The stack's broker queue and bridge window, read from index.ts (where the program declares them), not retyped. */
export function stackQueueSettings(): { brokerQueueMessages: number; brokerQueueBytes: number; bridgeUndeliveredMessages: number } {
  const source = readFileSync(join(ROOT, "index.ts"), "utf8");
  const read = (name: string) => {
    const match = new RegExp(`const ${name} = ([0-9_]+);`).exec(source);
    if (!match) throw new Error(`index.ts no longer declares ${name} as a number: bench/mqtt/path.ts reads it from there`);
    return Number(match[1].replace(/_/g, ""));
  };
  return { brokerQueueMessages: read("BROKER_QUEUE_MESSAGES"), brokerQueueBytes: read("BROKER_QUEUE_BYTES"), bridgeUndeliveredMessages: read("BRIDGE_UNDELIVERED_MESSAGES") };
}

/** The value of `key` in a rendered config file (mosquitto: `key value`, telegraf: `key = value`). */
function configValue(text: string, key: string): number {
  const match = new RegExp(`^\\s*${key}\\s*=?\\s*([0-9]+)\\s*$`, "m").exec(text);
  return match ? Number(match[1]) : NaN;
}

/** Whether this machine can pin: taskset present and at least two cores. */
export function canPin(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return require("node:os").cpus().length >= 2;
  } catch {
    return false;
  }
}

/** A core's busy and total jiffies from /proc/stat (busy: everything but idle and iowait), whoever ran there. */
function coreJiffies(core: number): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${core} `));
  if (!line) return { busy: NaN, total: NaN };
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** The share of a core that was busy between two readings (0–1), by any process. */
const busyShare = (a: { busy: number; total: number }, b: { busy: number; total: number }) => round((b.busy - a.busy) / Math.max(1, b.total - a.total), 3);

/** Moves every thread of a process to one core; processes it starts afterwards inherit that core. */
function pin(pid: number, core: number): void {
  execFileSync("taskset", ["-a", "-p", "-c", String(core), String(pid)], { stdio: "ignore" });
}

export interface PathPlan {
  devices: number;
  intervalMs: number;
  /** after every device is connected and the simulator is live, before the window */
  warmupMs: number;
  windowMs: number;
}

export interface PathRow extends PathPlan {
  /** devices × 1000 / interval */
  offeredPerSecond: number;
  /** readings the simulator generated a second, from "live" to SIGTERM (below offered: the load side could not keep its schedule) */
  generatedPerSecond: number;
  /** readings that became queryable in InfluxDB during the window, per second (one message = one reading = one point) */
  deliveredPerSecond: number;
  /** field values per second (each point carries every field of the schema) */
  fieldsPerSecond: number;
  generated: number;
  written: number;
  dropped: number;
  /** readings of the fleet in InfluxDB after the drain, summed over its devices */
  stored: number;
  devicesStored: number;
  /** fewest and most readings stored for one device */
  perDeviceMin: number;
  perDeviceMax: number;
  zeroLoss: boolean;
  /**
   * Whether the broker logged that it dropped messages for the bridge's session (its queue was
   * full: mosquitto v2.0.11 src/database.c db__message_insert), which it does after acknowledging
   * them to the devices.
   */
  brokerDroppedForBridge: boolean;
  /** probe readings published / seen in InfluxDB, and latency publish → queryable */
  probePublished: number;
  probeSeen: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** how busy the path's core and the load's core were over the window (0–1), by any process, other tenants' included */
  pathCoreBusy: number;
  loadCoreBusy: number;
  /** CPU over the window, in cores (CPU-seconds per second) */
  brokerCores: number;
  bridgeCores: number;
  influxdCores: number;
  simulatorCores: number;
  /** CPU-microseconds per delivered message over the window */
  brokerMicrosPerMessage: number;
  bridgeMicrosPerMessage: number;
  influxdMicrosPerMessage: number;
  simulatorMicrosPerMessage: number;
  /** resident memory before the devices connected, and the peak (VmHWM) of the whole run, MiB */
  brokerIdleRssMiB: number;
  brokerPeakRssMiB: number;
  bridgeIdleRssMiB: number;
  bridgePeakRssMiB: number;
  influxdPeakRssMiB: number;
  simulatorPeakRssMiB: number;
  /** seconds from the simulator's start until every device was connected (TLS + CONNECT) */
  connectSeconds: number;
  /** the simulator's most readings in flight (published, not yet PUBACKed) and its cap */
  simulatorInflightPeak: number;
  simulatorInflightCap: number;
  /** kept up: zero loss, delivered ≥ 95 % of offered, every probe reading seen */
  kept: boolean;
  cores: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function flux(stack: Stack, query: string) {
  const result = await stack.influx.query(query);
  if (result.error) throw new Error(`InfluxDB query failed: ${result.error}\n${query}`);
  return result.tables.flatMap((t) => t.rows);
}

/** Readings of the fleet in InfluxDB, by device. */
export async function storedByDevice(stack: Stack, since: Date): Promise<Map<string, number>> {
  const rows = await flux(
    stack,
    `from(bucket: "${BUCKET}") |> range(start: ${since.toISOString()}) |> filter(fn: (r) => r._measurement == "${DEFAULT_MEASUREMENT}" and r._field == "${COUNTED_FIELD}" and r.site == "${SITE}") |> group(columns: ["device"]) |> count()`,
  );
  return new Map(rows.map((r) => [r.device, Number(r._value)]));
}

async function storedTotal(stack: Stack, since: Date): Promise<number> {
  let total = 0;
  for (const count of (await storedByDevice(stack, since)).values()) total += count;
  return total;
}

/** One line of the schema (every field, each of its type), no tags: the topic gives them. */
function probeLine(ns: string): string {
  const fields = Object.entries(READING_FIELDS).map(([name, spec]) => (spec.type === "integer" ? `${name}=-60i` : `${name}=1.5`));
  return `${DEFAULT_MEASUREMENT} ${fields.join(",")} ${ns}`;
}

/**
 * The latency probe: publishes a reading every PROBE_EVERY_MS until stopped, polls InfluxDB every
 * POLL_EVERY_MS, and records for each reading when it was first returned.
 */
function startProbe(stack: Stack, since: Date) {
  const published = new Map<string, number>();
  const latencies = new Map<string, number>();
  let publishing = true;
  let polling = true;
  let failure: Error | undefined;
  let last = 0n;
  const run = async () => {
    const connection = await connectDevice(stack, PROBE_ID, { certPem: stack.identities.get(PROBE_ID)!.certPem, keyPem: stack.identities.get(PROBE_ID)!.keyPem });
    if (!connection.client) throw new Error(`the probe device could not connect: ${connection.error}`);
    const client = connection.client;
    const topic = `devices/${PROBE_SITE}/${PROBE_ID}/readings`;
    try {
      while (publishing) {
        const at = Date.now();
        let ns = BigInt(at) * 1_000_000n;
        if (ns <= last) ns = last + 1n;
        last = ns;
        published.set(ns.toString(), at);
        const reason = await publishQos1(client, topic, probeLine(ns.toString()));
        if (reason >= 0x80) throw new Error(`the broker refused the probe's reading (PUBACK 0x${reason.toString(16)})`);
        await sleep(Math.max(0, PROBE_EVERY_MS - (Date.now() - at)));
      }
    } finally {
      await client.endAsync();
    }
  };
  const poll = async () => {
    while (polling) {
      const started = Date.now();
      const rows = await flux(
        stack,
        `from(bucket: "${BUCKET}") |> range(start: ${since.toISOString()}) |> filter(fn: (r) => r._measurement == "${DEFAULT_MEASUREMENT}" and r.device == "${PROBE_ID}" and r._field == "${COUNTED_FIELD}") |> keep(columns: ["_time"])`,
      );
      const answeredAt = Date.now();
      for (const row of rows) {
        const ns = rfc3339ToNs(row._time);
        const at = published.get(ns);
        if (at !== undefined && !latencies.has(ns)) latencies.set(ns, answeredAt - at);
      }
      await sleep(Math.max(0, POLL_EVERY_MS - (Date.now() - started)));
    }
  };
  const publisher = run().catch((error) => void (failure = error));
  const poller = poll().catch((error) => void (failure = error));
  return {
    /** stops publishing, waits (up to `timeoutMs`) until every published reading was seen, stops polling */
    async finish(timeoutMs: number) {
      publishing = false;
      await publisher;
      const deadline = Date.now() + timeoutMs;
      while (!failure && latencies.size < published.size && Date.now() < deadline) await sleep(POLL_EVERY_MS);
      polling = false;
      await poller;
      if (failure) throw failure;
      const sorted = [...latencies.values()].sort((a, b) => a - b);
      return { published: published.size, seen: latencies.size, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
    },
  };
}

export const deviceIds = (count: number) => Array.from({ length: count }, (_, i) => `sim-mqtt-${String(i + 1).padStart(4, "0")}`);

const mib = (kib: number) => round(kib / 1024, 1);

/** The path's three servers, on PATH_CORE when pinned, with the stack's queue settings checked. */
async function startPath(ids: string[], pinned: boolean, window?: number): Promise<{ stack: Stack; queue: ReturnType<typeof stackQueueSettings> }> {
  const devices = [...ids.map((id) => ({ id, site: SITE })), { id: PROBE_ID, site: PROBE_SITE }];
  const declared = stackQueueSettings();
  const queue = window === undefined ? declared : { ...declared, bridgeUndeliveredMessages: window };
  // The servers inherit this process's core when they start (and Go sizes GOMAXPROCS from it).
  if (pinned) pin(process.pid, PATH_CORE);
  let stack: Stack;
  try {
    stack =
      window === undefined
        ? await startStack({ devices, maxQueuedMessages: queue.brokerQueueMessages, maxQueuedBytes: queue.brokerQueueBytes })
        : await startStackWithWindow({ devices, maxQueuedMessages: queue.brokerQueueMessages, window });
  } finally {
    if (pinned) pin(process.pid, LOAD_CORE);
  }
  try {
    // the rest of the path's window settings come from the tier's defaults: they must be the stack's
    const brokerConf = readFileSync(join(stack.broker.dir, "mosquitto.conf"), "utf8");
    const settings = {
      max_queued_messages: [configValue(brokerConf, "max_queued_messages"), queue.brokerQueueMessages],
      max_inflight_messages: [configValue(brokerConf, "max_inflight_messages"), queue.bridgeUndeliveredMessages],
      max_undelivered_messages: [configValue(stack.bridge.conf, "max_undelivered_messages"), queue.bridgeUndeliveredMessages],
    };
    for (const [key, [rendered, expected]] of Object.entries(settings)) {
      if (rendered !== expected) throw new Error(`the bench's ${key} is ${rendered}, not ${expected}${window === undefined ? " as the stack declares (index.ts): the figures would not be the stack's" : ""}`);
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return { stack, queue };
}

const SHUTDOWN_TIMEOUT_MS = 60_000;

/** The simulator in MQTT mode with one identity file pair per device, on LOAD_CORE (this process's core). */
function startMqttSimulator(stack: Stack, ids: string[], intervalMs: number): RunningSimulator {
  const identityDir = join(stack.dir, "identities");
  mkdirSync(identityDir, { recursive: true, mode: 0o700 });
  for (const id of ids) {
    const identity = stack.identities.get(id)!;
    writeFileSync(join(identityDir, `${id}.crt`), identity.certPem);
    writeFileSync(join(identityDir, `${id}.key`), identity.keyPem, { mode: 0o600 });
  }
  return startSimulator({
    PATH: process.env.PATH ?? "",
    LOG_LEVEL: "info",
    SIM_TRANSPORT: "mqtt",
    MQTT_URL: `mqtts://localhost:${stack.broker.port}`,
    MQTT_CA_FILE: stack.caFile,
    MQTT_IDENTITY_DIR: identityDir,
    SIM_SITE: SITE,
    SIM_INTERVAL_MS: String(intervalMs),
    // no radio dropouts: every device offers exactly devices × 1000 / interval readings a second
    SIM_FAULT_DROPOUT_RATE: "0",
    SIM_HEALTH_FILE: join(stack.dir, "simulator-health.json"),
    SIM_STARTUP_TIMEOUT_MS: "120000",
    // the drain after SIGTERM waits for every PUBACK; a cut would count as drops
    SIM_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    SIM_ALLOW_LONG_SHUTDOWN: "true",
  });
}

/** SIGTERM, the drain, and the summary line. */
async function stopSimulator(sim: RunningSimulator): Promise<LogLine> {
  await signalAndWaitForExit(sim, SHUTDOWN_TIMEOUT_MS + 10_000);
  const summary = sim.logs.filter(isSummary).pop();
  if (!summary) throw new Error(`the simulator exited without its summary line:\n${sim.output().slice(-3000)}`);
  return summary;
}

/**
 * Waits until the fleet's readings in InfluxDB reach `expected`, or stop growing for `stallMs`
 * (then something was lost, and the caller's row says so). Returns the counts by device, and when
 * the poll that first saw them all was sent (the readings were queryable by then, and had not
 * been one poll earlier).
 */
async function waitForStored(stack: Stack, since: Date, expected: number, stallMs: number, everyMs = 250): Promise<{ stored: Map<string, number>; seenAt: number }> {
  let seenAt = Date.now();
  let stored = await storedByDevice(stack, since);
  let total = [...stored.values()].reduce((a, b) => a + b, 0);
  let lastGrowth = Date.now();
  while (total < expected && Date.now() - lastGrowth < stallMs) {
    await sleep(everyMs);
    seenAt = Date.now();
    stored = await storedByDevice(stack, since);
    const now = [...stored.values()].reduce((a, b) => a + b, 0);
    if (now > total) lastGrowth = Date.now();
    total = now;
  }
  return { stored, seenAt };
}

/** One run on a fresh path: see the file's comment. */
export async function measurePath(plan: PathPlan, pinned: boolean): Promise<PathRow> {
  const ids = deviceIds(plan.devices);
  const { stack } = await startPath(ids, pinned);
  let sim: RunningSimulator | undefined;
  try {
    const brokerPid = stack.broker.process().child.pid as number;
    const bridgePid = stack.bridge.process().child.pid as number;
    const influxdPid = stack.influx.process().child.pid as number;
    const brokerIdleKiB = statusKiB(brokerPid, "VmRSS");
    const bridgeIdleKiB = statusKiB(bridgePid, "VmRSS");
    const since = new Date(Date.now() - 60_000);
    const simStarted = Date.now();
    sim = startMqttSimulator(stack, ids, plan.intervalMs);
    const connected = await sim.waitForLog((l) => l.msg === "all devices connected", 120_000, "every device to connect");
    const connectSeconds = (Number(connected.time) - simStarted) / 1000;
    const live = await sim.waitForLog((l) => l.msg === "live", 30_000, "the simulator to go live");
    await sleep(plan.warmupMs);

    const simPid = sim.process.pid as number;
    const pids = { broker: brokerPid, bridge: bridgePid, influxd: influxdPid, simulator: simPid };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)]));
    const probe = startProbe(stack, since);
    const cores0 = [coreJiffies(PATH_CORE), coreJiffies(LOAD_CORE)];
    const count0 = await storedTotal(stack, since);
    const from = Date.now();
    await sleep(plan.windowMs);
    const count1 = await storedTotal(stack, since);
    const to = Date.now();
    const cpu1 = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)]));
    const cores1 = [coreJiffies(PATH_CORE), coreJiffies(LOAD_CORE)];
    const seconds = (to - from) / 1000;
    const delivered = count1 - count0;
    const simulatorPeakKiB = statusKiB(simPid, "VmHWM");

    const stopAt = Date.now();
    const summary = await stopSimulator(sim);
    const written = Number(summary.points_written);
    // what the broker has accepted is in its queue for the bridge: wait until InfluxDB has it all
    const { stored } = await waitForStored(stack, since, written, 10_000);
    const total = [...stored.values()].reduce((a, b) => a + b, 0);
    const latency = await probe.finish(30_000);
    const brokerDroppedForBridge = stack.broker.process().log().includes(`Outgoing messages are being dropped for client ${BRIDGE_IDENTITY}.`);
    const counts = [...stored.values()];
    const cores = (name: keyof typeof pids) => round((cpu1[name] - cpu0[name]) / seconds, 3);
    const micros = (name: keyof typeof pids) => (delivered > 0 ? round(((cpu1[name] - cpu0[name]) * 1e6) / delivered, 1) : NaN);
    const offeredPerSecond = Math.round((plan.devices * 1000) / plan.intervalMs);
    const deliveredPerSecond = Math.round(delivered / seconds);
    const dropped = Number(summary.points_dropped);
    const zeroLoss = dropped === 0 && total === written && stored.size === plan.devices;
    return {
      ...plan,
      offeredPerSecond,
      generatedPerSecond: Math.round(Number(summary.points_generated) / ((stopAt - Number(live.time)) / 1000)),
      deliveredPerSecond,
      fieldsPerSecond: round(deliveredPerSecond * Object.keys(READING_FIELDS).length, 0),
      generated: Number(summary.points_generated),
      written,
      dropped,
      stored: total,
      devicesStored: stored.size,
      perDeviceMin: counts.length ? Math.min(...counts) : 0,
      perDeviceMax: counts.length ? Math.max(...counts) : 0,
      zeroLoss,
      brokerDroppedForBridge,
      probePublished: latency.published,
      probeSeen: latency.seen,
      latencyP50Ms: latency.p50,
      latencyP99Ms: latency.p99,
      latencyMaxMs: latency.max,
      pathCoreBusy: busyShare(cores0[0], cores1[0]),
      loadCoreBusy: busyShare(cores0[1], cores1[1]),
      brokerCores: cores("broker"),
      bridgeCores: cores("bridge"),
      influxdCores: cores("influxd"),
      simulatorCores: cores("simulator"),
      brokerMicrosPerMessage: micros("broker"),
      bridgeMicrosPerMessage: micros("bridge"),
      influxdMicrosPerMessage: micros("influxd"),
      simulatorMicrosPerMessage: micros("simulator"),
      brokerIdleRssMiB: mib(brokerIdleKiB),
      brokerPeakRssMiB: mib(statusKiB(brokerPid, "VmHWM")),
      bridgeIdleRssMiB: mib(bridgeIdleKiB),
      bridgePeakRssMiB: mib(statusKiB(bridgePid, "VmHWM")),
      influxdPeakRssMiB: mib(statusKiB(influxdPid, "VmHWM")),
      simulatorPeakRssMiB: mib(simulatorPeakKiB),
      connectSeconds: round(connectSeconds, 1),
      simulatorInflightPeak: Number(summary.inflight_peak),
      simulatorInflightCap: Number(summary.inflight_cap),
      kept: zeroLoss && deliveredPerSecond >= 0.95 * offeredPerSecond && latency.seen === latency.published,
      cores: pinned ? `path on core ${PATH_CORE}, load on core ${LOAD_CORE}` : "unpinned",
    };
  } catch (error) {
    if (error instanceof Error) error.message = `${error.message}\n${stack.logs()}`;
    throw error;
  } finally {
    if (sim && sim.process.exitCode === null && sim.process.signalCode === null) sim.process.kill("SIGKILL");
    await stack.stop();
  }
}

export interface DrainPlan {
  devices: number;
  intervalMs: number;
  /** how long the simulator publishes while the bridge is away: devices × this / interval readings queue up */
  publishMs: number;
  /** the bridge's window (max_undelivered_messages = the broker's max_inflight_messages); default: the stack's */
  window?: number;
}

export interface DrainRow extends DrainPlan {
  /** the window the run used (the stack's unless the plan set one) */
  window: number;
  /** readings the broker acknowledged while the bridge was away, queued for its session */
  queued: number;
  stored: number;
  zeroLoss: boolean;
  /** from Telegraf's connection to the broker until the last queued reading was queryable */
  drainSeconds: number;
  /** queued / drainSeconds: what broker → Telegraf → influxd carries with no load generator running */
  drainedPerSecond: number;
  /** how busy the path's core was over the drain (0–1), by any process, other tenants' included */
  pathCoreBusy: number;
  brokerCores: number;
  bridgeCores: number;
  influxdCores: number;
  brokerMicrosPerMessage: number;
  bridgeMicrosPerMessage: number;
  influxdMicrosPerMessage: number;
  bridgePeakRssMiB: number;
  cores: string;
}

/**
 * The path's own ceiling, apart from the load generator (which shares the machine): the bridge is
 * stopped, the simulator publishes a backlog that the broker queues for the bridge's persistent
 * session (within the stack's queue), the simulator exits, and then Telegraf starts and drains the
 * backlog into InfluxDB. Its rate is what the broker's delivery, Telegraf's acknowledge-after-write
 * window and influxd's writes carry together, with only the path running.
 */
/** How often the drain's end is looked for: its duration is at most this too long. */
const DRAIN_POLL_MS = 100;

export async function measureDrain(plan: DrainPlan, pinned: boolean): Promise<DrainRow> {
  const ids = deviceIds(plan.devices);
  const { stack, queue } = await startPath(ids, pinned, plan.window);
  let sim: RunningSimulator | undefined;
  try {
    if ((plan.devices * plan.publishMs) / plan.intervalMs > 0.9 * queue.brokerQueueMessages) {
      throw new Error(`a backlog of ${(plan.devices * plan.publishMs) / plan.intervalMs} readings would overflow the broker's queue of ${queue.brokerQueueMessages}`);
    }
    await stack.bridge.stop();
    const since = new Date(Date.now() - 60_000);
    sim = startMqttSimulator(stack, ids, plan.intervalMs);
    await sim.waitForLog((l) => l.msg === "live", 120_000, "the simulator to go live");
    await sleep(plan.publishMs);
    const summary = await stopSimulator(sim);
    const queued = Number(summary.points_written);
    if (Number(summary.points_dropped) !== 0) throw new Error(`the simulator dropped ${summary.points_dropped} readings while the bridge was away`);
    const brokerPid = stack.broker.process().child.pid as number;
    const influxdPid = stack.influx.process().child.pid as number;
    const broker0 = cpuSecondsOf(brokerPid);
    const influxd0 = cpuSecondsOf(influxdPid);
    // Telegraf starts on the path's core, as the first time
    if (pinned) pin(process.pid, PATH_CORE);
    try {
      await stack.bridge.start();
    } finally {
      if (pinned) pin(process.pid, LOAD_CORE);
    }
    // from Telegraf's "Connected" (seen within 50 ms): its start-up is not part of the drain
    const started = Date.now();
    const core0 = coreJiffies(PATH_CORE);
    const bridgePid = stack.bridge.process().child.pid as number;
    const { stored, seenAt } = await waitForStored(stack, since, queued, 10_000, DRAIN_POLL_MS);
    const core1 = coreJiffies(PATH_CORE);
    const total = [...stored.values()].reduce((a, b) => a + b, 0);
    // the drain ended between the poll before and the one that saw it all: at most DRAIN_POLL_MS early
    const drainSeconds = (seenAt - started) / 1000;
    const cpu = { broker: cpuSecondsOf(brokerPid) - broker0, bridge: cpuSecondsOf(bridgePid), influxd: cpuSecondsOf(influxdPid) - influxd0 };
    return {
      ...plan,
      window: queue.bridgeUndeliveredMessages,
      queued,
      stored: total,
      zeroLoss: total === queued && stored.size === plan.devices,
      drainSeconds: round(drainSeconds, 2),
      drainedPerSecond: Math.round(total / drainSeconds),
      pathCoreBusy: busyShare(core0, core1),
      brokerCores: round(cpu.broker / drainSeconds, 3),
      bridgeCores: round(cpu.bridge / drainSeconds, 3),
      influxdCores: round(cpu.influxd / drainSeconds, 3),
      brokerMicrosPerMessage: round((cpu.broker * 1e6) / Math.max(total, 1), 1),
      bridgeMicrosPerMessage: round((cpu.bridge * 1e6) / Math.max(total, 1), 1),
      influxdMicrosPerMessage: round((cpu.influxd * 1e6) / Math.max(total, 1), 1),
      bridgePeakRssMiB: mib(statusKiB(bridgePid, "VmHWM")),
      cores: pinned ? `path on core ${PATH_CORE}` : "unpinned",
    };
  } catch (error) {
    if (error instanceof Error) error.message = `${error.message}\n${stack.logs()}`;
    throw error;
  } finally {
    if (sim && sim.process.exitCode === null && sim.process.signalCode === null) sim.process.kill("SIGKILL");
    await stack.stop();
  }
}
