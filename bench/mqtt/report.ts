// The MQTT path benchmark's tables and its section of docs/PERFORMANCE.md, from the measured rows.
import type { PathRow } from "./path";
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
  limits: { brokerCores: number; bridgeCores: number; influxdCores: number };
  durationSeconds?: number;
  rows: PathRow[];
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

/** The fastest run that kept up, and the first that did not, with what limited it. */
export function headline(report: MqttReport) {
  const kept = report.rows.filter((r) => r.kept);
  const best = [...kept].sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond)[0];
  const top = [...report.rows].sort((a, b) => b.offeredPerSecond - a.offeredPerSecond || b.devices - a.devices)[0];
  const path = top ? round(top.brokerCores + top.bridgeCores + top.influxdCores, 2) : NaN;
  const parts = top
    ? ([
        ["mosquitto", top.brokerCores],
        ["Telegraf", top.bridgeCores],
        ["influxd", top.influxdCores],
      ] as const)
    : [];
  const largest = [...parts].sort((a, b) => b[1] - a[1])[0];
  let limit = "";
  if (top) {
    const behind = top.generatedPerSecond < 0.95 * top.offeredPerSecond;
    const pathSaturated = path >= 0.9;
    const loadSaturated = top.simulatorCores >= 0.9;
    if (pathSaturated) {
      limit = `the path's core was busy (${path} of one core: mosquitto ${top.brokerCores}, Telegraf ${top.bridgeCores}, influxd ${top.influxdCores}); the largest share is ${largest[0]}'s`;
    } else if (loadSaturated || behind) {
      limit = `the load side: the simulator generated ${n(top.generatedPerSecond)} of the ${n(top.offeredPerSecond)} readings a second asked of it at ${top.simulatorCores} of its core (its core is shared with this process and the probe), while the path's core was at ${path}`;
    } else {
      limit = `no core was saturated (path ${path}, simulator ${top.simulatorCores}): the bridge's window of ${n(report.queue.bridgeUndeliveredMessages)} unacknowledged messages bounds what one flush can carry`;
    }
  }
  return { best, top, path, limit };
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
    "| run | mosquitto cores | Telegraf cores | influxd cores | simulator cores | µs CPU per message: mosquitto / Telegraf / influxd / simulator | × the same rate over fewer sessions (mosquitto / Telegraf / simulator) | peak RSS MiB: mosquitto / Telegraf / influxd / simulator | connect s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? String(round(a / b, 2)) : "–");
  const cost = report.rows.map((r) => {
    const base = sameRateBaseline(report, r);
    const ratios = base
      ? `${ratio(r.brokerMicrosPerMessage, base.brokerMicrosPerMessage)} / ${ratio(r.bridgeMicrosPerMessage, base.bridgeMicrosPerMessage)} / ${ratio(r.simulatorMicrosPerMessage, base.simulatorMicrosPerMessage)} (vs ${n(base.devices)})`
      : "–";
    return `| ${label(r)} | ${r.brokerCores} | ${r.bridgeCores} | ${r.influxdCores} | ${r.simulatorCores} | ${r.brokerMicrosPerMessage} / ${r.bridgeMicrosPerMessage} / ${r.influxdMicrosPerMessage} / ${r.simulatorMicrosPerMessage} | ${ratios} | ${r.brokerPeakRssMiB} / ${r.bridgePeakRssMiB} / ${r.influxdPeakRssMiB} / ${r.simulatorPeakRssMiB} | ${r.connectSeconds} |`;
  });
  const perHead = [
    "| run | mosquitto MiB per 1,000 devices | Telegraf MiB per 1,000 devices | mosquitto cores per 1,000 devices | Telegraf cores per 1,000 devices |",
    "|---|---:|---:|---:|---:|",
  ];
  const per = report.rows.map((r) => {
    const p = perThousand(r);
    return `| ${label(r)} | ${p.brokerMiB} | ${p.bridgeMiB} | ${p.brokerCores} | ${p.bridgeCores} |`;
  });
  return [...head, ...rows, "", ...costHead, ...cost, "", ...perHead, ...per].join("\n");
}

export function renderSection(report: MqttReport): string {
  const { best, top, limit } = headline(report);
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

- **Highest rate carried with zero loss**: ${best ? `**${n(best.deliveredPerSecond)} messages (= points) a second** (${n(best.fieldsPerSecond)} field values a second) from ${label(best)}, latency p50 ${ms(best.latencyP50Ms)} ms, p99 ${ms(best.latencyP99Ms)} ms` : "none of the runs kept up"}.
- **The limit** at the top rate (${top ? label(top) : "–"}, ${top ? n(top.offeredPerSecond) : "–"} offered, ${top ? n(top.deliveredPerSecond) : "–"} delivered): ${limit}.
- **The stack's default limits** are ${report.limits.brokerCores} core for the broker, ${report.limits.bridgeCores} for the bridge and ${report.limits.influxdCores} for InfluxDB (Pulumi.yaml brokerCpuMillis, bridgeCpuMillis, influxCpuMillis); compare them with the cores columns.
- **Ratios**: a run's CPU per message against the run at the same offered rate with fewer devices, measured in the same bench run: what the extra TLS sessions cost at that rate. CPU per message includes each process's fixed cost over the window (timers, keep-alives, the bridge's own counters every 10 s, and for influxd the probe's ten queries a second), so it is high where little is sent.

How it is measured (bench/mqtt/path.ts):
- **delivered** is the fleet's readings counted in InfluxDB at the start and at the end of a ${first ? first.windowMs / 1000 : "?"} s window, after a ${first ? first.warmupMs / 1000 : "?"} s warm-up; one message is one reading is one point of ${Object.keys(READING_FIELDS).length} fields. **generated** is the simulator's own count from going live to SIGTERM: below offered, the load side could not keep its schedule.
- **zero loss**: after the simulator's SIGTERM drain (every PUBACK awaited), the count in InfluxDB by device, summed, equals the simulator's points_written, every device has points, and nothing was dropped. A redelivered message overwrites its own point, so duplicates cannot hide a loss.
- **latency** is publish to queryable: a probe device (its own certificate, ACL entry and topic) publishes a schema reading every 100 ms stamped with its publish time; the bench polls InfluxDB every 100 ms, and a reading's latency is the end of the first poll that returned it minus its publish time: an upper bound, up to one poll interval plus the query's own time too high. Telegraf writes when 1,000 metrics are batched or every second (flush_interval), which sets the floor at low rates.
- **cores** are CPU-seconds per second over the window (utime + stime from /proc/<pid>/stat); **peak RSS** is VmHWM (/proc/<pid>/status) over the whole run; **per 1,000 devices** the memory the connected devices added (peak − before they connected) and the cores at that run's rate.
`;
}
