// The MQTT path benchmark's tables and its section of docs/PERFORMANCE.md, from the measured rows.
import type { DrainRow, PathRow } from "./path";
import { round } from "../influxdb/ingest";
import { READING_FIELDS } from "../../simulator/src/schema";

export interface MqttReport {
  date: string;
  mode: string;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  /** the broker queue and bridge window the runs used (the stack's, index.ts) */
  queue: { brokerQueueMessages: number; bridgeUndeliveredMessages: number };
  /** the stack's default CPU limits of the broker and the bridge containers, in cores (Pulumi.yaml) */
  limits: { brokerCores: number; bridgeCores: number; influxdCores: number; brokerMemoryMiB?: number; bridgeMemoryMiB?: number };
  durationSeconds?: number;
  rows: PathRow[];
  /** backlog drains with only the path running: the stack's window first, then any what-if windows */
  drain: DrainRow[];
}

const n = (x: number) => (Number.isFinite(x) ? x.toLocaleString("en") : "–");
const ms = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : "–");


/**
 * The baseline a run's per-message cost is compared with: the run at the same offered rate with
 * the fewest devices (fewer TLS sessions carrying the same messages), when it is another run.
 */
export function sameRateBaseline(report: MqttReport, r: PathRow): PathRow | undefined {
  const peers = report.rows.filter((p) => p.offeredPerSecond === r.offeredPerSecond && p.devices < r.devices).sort((a, b) => a.devices - b.devices);
  return peers[0];
}

const label = (r: PathRow) => `${n(r.devices)} devices every ${r.intervalMs >= 1000 ? `${r.intervalMs / 1000} s` : `${r.intervalMs} ms`}`;

/** Per 1,000 connected devices: memory the devices added to the process (peak − before they connected). */
export function perThousand(r: PathRow) {
  return {
    brokerMiB: round(((r.brokerPeakRssMiB - r.brokerIdleRssMiB) * 1000) / r.devices, 1),
    bridgeMiB: round(((r.bridgePeakRssMiB - r.bridgeIdleRssMiB) * 1000) / r.devices, 1),
    brokerCores: round((r.brokerCores * 1000) / r.devices, 3),
    bridgeCores: round((r.bridgeCores * 1000) / r.devices, 3),
  };
}

const pct = (share: number) => (Number.isFinite(share) ? `${Math.round(share * 100)} %` : "–");

/** The share of the path's core that something other than its three processes used (other tenants of the machine). */
export const othersOnPathCore = (r: { pathCoreBusy: number; brokerCores: number; bridgeCores: number; influxdCores: number }) =>
  Math.max(0, round(r.pathCoreBusy - r.brokerCores - r.bridgeCores - r.influxdCores, 3));

/**
 * The live run the container-limit derivation uses: of the runs that kept up, the one with the
 * most devices, then the highest rate. Live, not the drain: the broker's CPU per message then
 * includes receiving every reading over its device's TLS session, which the drain leaves out.
 */
export function limitsBasis(report: MqttReport): PathRow | undefined {
  return [...report.rows].filter((r) => r.kept).sort((a, b) => b.devices - a.devices || b.deliveredPerSecond - a.deliveredPerSecond)[0];
}

/** What the stack's default container limit of each part would carry at a run's CPU per message (derived, not measured). */
export function atDefaultLimits(report: MqttReport, d: Pick<PathRow, "brokerMicrosPerMessage" | "bridgeMicrosPerMessage" | "influxdMicrosPerMessage">) {
  const carry = (cores: number, micros: number) => (micros > 0 ? Math.round((cores * 1e6) / micros) : NaN);
  return {
    broker: carry(report.limits.brokerCores, d.brokerMicrosPerMessage),
    bridge: carry(report.limits.bridgeCores, d.bridgeMicrosPerMessage),
    influxd: carry(report.limits.influxdCores, d.influxdMicrosPerMessage),
  };
}

/** The fastest live run that kept up, the top rate asked for, the path's own ceiling, and what limited each. */
export function headline(report: MqttReport) {
  const kept = report.rows.filter((r) => r.kept);
  const best = [...kept].sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond)[0];
  const top = [...report.rows].sort((a, b) => b.offeredPerSecond - a.offeredPerSecond || b.devices - a.devices)[0];
  const drain = report.drain.find((d) => d.window === report.queue.bridgeUndeliveredMessages);
  const stackRuns = report.drain.filter((d) => d.window === report.queue.bridgeUndeliveredMessages);
  const whatIfRuns = report.drain.filter((d) => d.window !== report.queue.bridgeUndeliveredMessages);
  let live = "";
  if (top) {
    const path = round(top.brokerCores + top.bridgeCores + top.influxdCores, 2);
    const loadBehind = top.generatedPerSecond < 0.95 * top.offeredPerSecond;
    const pathBehind = top.deliveredPerSecond < 0.95 * top.generatedPerSecond;
    const pathText = `the path's three processes used ${path} of their core (${Math.round(top.pathCoreBusy * 100)} % busy in all, other tenants included)`;
    const loadText = `the simulator generated ${n(top.generatedPerSecond)} of the ${n(top.offeredPerSecond)} a second asked, at ${top.simulatorCores} of a core and ${top.simulatorMicrosPerMessage} µs a message for mqtt.js and TLS (its core ${Math.round(top.loadCoreBusy * 100)} % busy with this process, the probe and other tenants)`;
    if (top.kept) {
      live = `every live run kept up, the fastest at ${n(top.deliveredPerSecond)} messages a second; ${pathText}`;
    } else if (pathBehind) {
      const excess = top.generatedPerSecond - top.deliveredPerSecond;
      live =
        `at ${label(top)} the path fell behind: ${n(top.deliveredPerSecond)} delivered of ${n(top.generatedPerSecond)} generated a second, and ${pathText}` +
        `${loadBehind ? `; the load side was at its end too: ${loadText}` : ""}. ` +
        `The devices still get their PUBACKs and the broker queues the excess for the bridge; at ${n(Math.round(excess))} a second more than the path carries, its queue of ${n(report.queue.brokerQueueMessages)} is full after about ${n(Math.round(report.queue.brokerQueueMessages / excess))} s, and from then on Mosquitto drops the bridge's messages although it acknowledged them to the devices (mosquitto v2.0.11 src/database.c db__message_insert, which logs "Outgoing messages are being dropped for client …")` +
        (top.stored < top.written
          ? `. **That happened in this run**: ${n(top.written - top.stored)} of the ${n(top.written)} readings the broker acknowledged never reached InfluxDB${top.brokerDroppedForBridge ? ", and the broker logged that it was dropping the bridge's messages" : top.brokerDroppedForBridge === false ? " (the broker's log did not say it dropped them: see its log)" : ""}, with mosquitto's resident memory at ${top.brokerPeakRssMiB} MiB holding its queue (the stack's brokerMemoryMb default is ${report.limits.brokerMemoryMiB ?? "?"} MiB). A sustained rate above the path's ceiling is not loss-free: the broker's queue bounds how long a burst may last`
          : `; a sustained rate above the path's ceiling is not loss-free (derived; this run's window was too short to fill the queue)`);
    } else if (loadBehind) {
      live = `at ${label(top)} the load side gave out first: ${loadText}, while ${pathText}`;
    }
  }
  let ceiling = "";
  if (drain) {
    const parts = [
      ["mosquitto", drain.brokerCores],
      ["Telegraf", drain.bridgeCores],
      ["influxd", drain.influxdCores],
    ] as const;
    const largest = [...parts].sort((a, b) => b[1] - a[1])[0];
    let windowVerdict = "";
    if (whatIfRuns.length > 0) {
      const mean = (rows: DrainRow[]) => rows.reduce((a, d) => a + d.drainedPerSecond, 0) / rows.length;
      // run-to-run spread: the largest relative difference between repeats of the same window
      const spread = (rows: DrainRow[]) => (rows.length > 1 ? (Math.max(...rows.map((d) => d.drainedPerSecond)) - Math.min(...rows.map((d) => d.drainedPerSecond))) / mean(rows) : 0);
      const ratio = mean(whatIfRuns) / mean(stackRuns);
      const noise = Math.max(spread(stackRuns), spread(whatIfRuns), 0.05);
      const measured = Math.max(spread(stackRuns), spread(whatIfRuns));
      const repeats =
        stackRuns.length > 1 || whatIfRuns.length > 1
          ? `${stackRuns.length} and ${whatIfRuns.length} runs, alternating; repeats of one window differ by up to ${Math.round(measured * 100)} %`
          : "one run each: the spread between repeats is not measured, 5 % assumed";
      windowVerdict =
        Math.abs(ratio - 1) <= noise
          ? `a ${n(whatIfRuns[0].window)}-message window drained at ${round(ratio, 2)} × the rate of the stack's ${n(drain.window)} (means of ${repeats}), so the bridge's acknowledge-after-write window is not what limits: the core is`
          : ratio > 1
            ? `a ${n(whatIfRuns[0].window)}-message window drained at ${round(ratio, 2)} × the rate of the stack's ${n(drain.window)} (means of ${repeats}), so the bridge's acknowledge-after-write window does bound the rate`
            : `a ${n(whatIfRuns[0].window)}-message window drained at ${round(ratio, 2)} × the rate of the stack's ${n(drain.window)} (means of ${repeats}): a larger window does not help`;
    }
    ceiling =
      `with the load generator stopped, the path drained a backlog of ${n(drain.queued)} messages from ${n(drain.devices)} devices at **${stackRuns.map((d) => n(d.drainedPerSecond)).join(" and ")} a second** (${stackRuns.length > 1 ? "repeats; the figures that follow are the first's" : "one run"}) ` +
      `with its core ${pct(drain.pathCoreBusy)} busy (mosquitto ${drain.brokerCores}, Telegraf ${drain.bridgeCores}, influxd ${drain.influxdCores}, other tenants of this shared machine ${othersOnPathCore(drain)}): ` +
      `${largest[0]} takes the largest share${windowVerdict ? `; ${windowVerdict}` : ""}. ` +
      `Live, the same core also carries the broker's receiving from every device (its CPU per message about ${drain.brokerMicrosPerMessage > 0 && limitsBasis(report) ? round(limitsBasis(report)!.brokerMicrosPerMessage / drain.brokerMicrosPerMessage, 1) : "?"} × the drain's), which is why the live ceiling is lower`;
  }
  let containers = "";
  const basis = limitsBasis(report);
  if (basis) {
    const limits = atDefaultLimits(report, basis);
    const parts = [
      ["mosquitto", limits.broker, report.limits.brokerCores, basis.brokerMicrosPerMessage],
      ["Telegraf", limits.bridge, report.limits.bridgeCores, basis.bridgeMicrosPerMessage],
      ["influxd", limits.influxd, report.limits.influxdCores, basis.influxdMicrosPerMessage],
    ] as const;
    const first = [...parts].sort((a, b) => a[1] - b[1])[0];
    containers =
      `at the CPU per message of the live run at ${label(basis)}, ` +
      parts.map(([name, carries, cores, micros]) => `${name}'s ${cores} core would carry about ${n(carries)} messages a second (${micros} µs each)`).join(", ") +
      `: ${first[0]} saturates first. Derived, not measured: the containers and their CPU quotas were not run here`;
  }
  return { best, top, drain, live, ceiling, containers };
}

export function renderTable(report: MqttReport): string {
  const head = [
    "| run | offered msg/s | generated msg/s | delivered msg/s (= points/s) | field values/s | written | in InfluxDB | dropped | zero loss | latency p50 / p99 / max ms | kept up |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
  ];
  const rows = report.rows.map(
    (r) =>
      `| ${label(r)} | ${n(r.offeredPerSecond)} | ${n(r.generatedPerSecond)} | **${n(r.deliveredPerSecond)}** | ${n(r.fieldsPerSecond)} | ${n(r.written)} | ${n(r.stored)} | ${n(r.dropped)} | ${r.zeroLoss ? "yes" : "**no**"} | ${ms(r.latencyP50Ms)} / ${ms(r.latencyP99Ms)} / ${ms(r.latencyMaxMs)} | ${r.kept ? "yes" : "**no**"} |`,
  );
  const costHead = [
    "| run | mosquitto cores | Telegraf cores | influxd cores | simulator cores | µs CPU per message: mosquitto / Telegraf / influxd / simulator | × the same rate over fewer sessions (mosquitto / Telegraf / simulator) | peak RSS MiB: mosquitto / Telegraf / influxd / simulator | connect s | core busy: path / load | other tenants on the path's core |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? String(round(a / b, 2)) : "–");
  const cost = report.rows.map((r) => {
    const base = sameRateBaseline(report, r);
    const ratios = base
      ? `${ratio(r.brokerMicrosPerMessage, base.brokerMicrosPerMessage)} / ${ratio(r.bridgeMicrosPerMessage, base.bridgeMicrosPerMessage)} / ${ratio(r.simulatorMicrosPerMessage, base.simulatorMicrosPerMessage)} (vs ${n(base.devices)})`
      : "–";
    return `| ${label(r)} | ${r.brokerCores} | ${r.bridgeCores} | ${r.influxdCores} | ${r.simulatorCores} | ${r.brokerMicrosPerMessage} / ${r.bridgeMicrosPerMessage} / ${r.influxdMicrosPerMessage} / ${r.simulatorMicrosPerMessage} | ${ratios} | ${r.brokerPeakRssMiB} / ${r.bridgePeakRssMiB} / ${r.influxdPeakRssMiB} / ${r.simulatorPeakRssMiB} | ${r.connectSeconds} | ${pct(r.pathCoreBusy)} / ${pct(r.loadCoreBusy)} | ${pct(othersOnPathCore(r))} |`;
  });
  const perHead = [
    "| at the stack's reporting interval | mosquitto MiB per 1,000 devices | Telegraf MiB per 1,000 devices | mosquitto cores per 1,000 devices | Telegraf cores per 1,000 devices |",
    "|---|---:|---:|---:|---:|",
  ];
  const per = report.rows.filter((r) => r.intervalMs === report.rows[0]?.intervalMs).map((r) => {
    const p = perThousand(r);
    return `| ${label(r)} | ${p.brokerMiB} | ${p.bridgeMiB} | ${p.brokerCores} | ${p.bridgeCores} |`;
  });
  const drainHead = [
    "| backlog drain (no load running) | window | queued | in InfluxDB | zero loss | drained msg/s | × the stack's window | path core busy (other tenants) | cores: mosquitto / Telegraf / influxd | µs CPU per message: mosquitto / Telegraf / influxd | Telegraf peak RSS MiB |",
    "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
  ];
  const stackDrain = report.drain.find((d) => d.window === report.queue.bridgeUndeliveredMessages);
  const drain = report.drain.map(
    (d) =>
      `| ${n(d.devices)} devices, ${n(d.queued)} queued | ${n(d.window)} | ${n(d.queued)} | ${n(d.stored)} | ${d.zeroLoss ? "yes" : "**no**"} | **${n(d.drainedPerSecond)}** | ${stackDrain ? ratio(d.drainedPerSecond, stackDrain.drainedPerSecond) : "–"} | ${pct(d.pathCoreBusy)} (${pct(othersOnPathCore(d))}) | ${d.brokerCores} / ${d.bridgeCores} / ${d.influxdCores} | ${d.brokerMicrosPerMessage} / ${d.bridgeMicrosPerMessage} / ${d.influxdMicrosPerMessage} | ${d.bridgePeakRssMiB} |`,
  );
  return [...head, ...rows, "", ...costHead, ...cost, "", ...perHead, ...per, ...(drain.length ? ["", ...drainHead, ...drain] : [])].join("\n");
}

export function renderSection(report: MqttReport): string {
  const { best, live, ceiling, containers } = headline(report);
  const m = report.machine;
  const v = report.versions;
  const first = report.rows[0];
  return `## The MQTT path (\`npm run bench:mqtt\`)

Generated by \`npm run bench:mqtt\` (bench/mqtt/) on ${report.date.slice(0, 10)} (${report.mode} run, ${report.durationSeconds ?? "?"} s); do not edit by hand.
Simulated devices, each with its own TLS session and client certificate (the simulator in MQTT mode,
MQTT 5, QoS 1, one reading per message), publish through the real broker (mosquitto ${v.mosquitto}) and the real
bridge (Telegraf ${v.telegraf}, built from its Go module) into the real influxd (${v.influxd}), all three configured
with the program's own renderers (mosquitto.conf, ACL and CRL from components/broker-config.ts and
components/device-crl.ts, telegraf.conf from components/bridge-config.ts) and the stack's broker queue
(${n(report.queue.brokerQueueMessages)} messages) and bridge window (${n(report.queue.bridgeUndeliveredMessages)} unacknowledged messages).
Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, load average before the run ${m.loadAverage};
${m.pinned ? "the three servers pinned to core 1 and the simulator, the latency probe and the bench to core 0 (taskset), so the path's figures are on one core" : "nothing pinned (taskset or a second core missing)"}.
Node.js ${v.node}, mqtt.js ${v.mqttJs}.

${renderTable(report)}

- **Highest rate carried live with zero loss**: ${best ? `**${n(best.deliveredPerSecond)} messages (= points) a second** (${n(best.fieldsPerSecond)} field values a second) from ${label(best)}, latency p50 ${ms(best.latencyP50Ms)} ms, p99 ${ms(best.latencyP99Ms)} ms` : "none of the runs kept up"}.
- **The limit, live**: ${live || "–"}.
- **The path's own ceiling**: ${ceiling || "not measured in this run"}.
- **At the stack's default container limits**: ${containers || "no live run kept up"}.
- **The stack's default limits** are ${report.limits.brokerCores} core${report.limits.brokerMemoryMiB ? ` and ${report.limits.brokerMemoryMiB} MiB` : ""} for the broker, ${report.limits.bridgeCores} core${report.limits.bridgeMemoryMiB ? ` and ${report.limits.bridgeMemoryMiB} MiB` : ""} for the bridge and ${report.limits.influxdCores} core for InfluxDB (Pulumi.yaml brokerCpuMillis, brokerMemoryMb, bridgeCpuMillis, bridgeMemoryMb, influxCpuMillis); compare them with the cores and peak RSS columns.
- **Ratios**: a run's CPU per message against the run at the same offered rate with fewer devices, measured in the same bench run: what the extra TLS sessions cost at that rate. CPU per message includes each process's fixed cost over the window (timers, keep-alives, the bridge's own counters every 10 s, and for influxd the probe's ten queries a second), so it is high where little is sent.

How it is measured (bench/mqtt/path.ts):
- **delivered** is the fleet's readings counted in InfluxDB at the start and at the end of a ${first ? first.windowMs / 1000 : "?"} s window, after a ${first ? first.warmupMs / 1000 : "?"} s warm-up; one message is one reading is one point of ${Object.keys(READING_FIELDS).length} fields. **generated** is the simulator's own count from going live to SIGTERM: below offered, the load side could not keep its schedule.
- **zero loss**: after the simulator's SIGTERM drain (every PUBACK awaited), the count in InfluxDB by device, summed, equals the simulator's points_written, every device has points, and nothing was dropped. A redelivered message overwrites its own point, so duplicates cannot hide a loss.
- **latency** is publish to queryable: a probe device (its own certificate, ACL entry and topic) publishes a schema reading every 100 ms stamped with its publish time; the bench polls InfluxDB every 100 ms, and a reading's latency is the end of the first poll that returned it minus its publish time: an upper bound, up to one poll interval plus the query's own time too high. Telegraf writes when 1,000 metrics are batched or every second (flush_interval), which sets the floor at low rates.
- **backlog drain**: Telegraf is stopped, the simulator publishes a backlog that the broker queues for the bridge's persistent session (within the stack's queue), the simulator exits, Telegraf starts, and the drain is timed from its connection until the first count (polled every 100 ms) that has every queued reading. Only the path runs, so the load generator's cost cannot hide the path's; the what-if row repeats it with a larger window (Telegraf's max_undelivered_messages and the broker's max_inflight_messages together, as the stack keeps them).
- **core busy** is the share of a core that was busy over the window (/proc/stat), whoever ran there; **other tenants** is the path core's busy share minus the path's three processes: this machine is shared with other jobs, which the pinning keeps off neither core, so a run with a large share of other tenants measured less than the path can do.
- **cores** are CPU-seconds per second over the window (utime + stime from /proc/<pid>/stat); **peak RSS** is VmHWM (/proc/<pid>/status) over the whole run; **per 1,000 devices** the memory the connected devices added (peak − before they connected) and the cores at that run's rate.

Reproduce: \`npm run bench:mqtt\` (builds the simulator, influxd and Telegraf first, as the MQTT tier needs them; this run took ${report.durationSeconds ?? "?"} s), under \`flock /tmp/bench.lock\` where other benchmarks share the machine. \`BENCH_QUICK=1 npm run bench:mqtt\` is a short run (bench/results/mqtt-path-quick.json, docs untouched); \`BENCH_RENDER=1 npm run bench:mqtt\` renders this section again from bench/results/mqtt-path.json. The MQTT tier runs a smoke run of it (test/mqtt/mqtt-bench.test.ts).
`;
}
