// MQTT tier: a smoke run of the MQTT path benchmark (npm run bench:mqtt, bench/mqtt/) at tiny
// sizes, so that the benchmark keeps working as the program, the simulator and this tier change.
// Not a benchmark: nothing is timed or compared, nothing is pinned to a core. What it checks is
// that the bench's figures are consistent: the counts add up, nothing is lost, every figure read.
import { measureDrain, measurePath, type DrainRow, type PathRow } from "../../bench/mqtt/path";
import { headline, renderSection, renderTable, type MqttReport } from "../../bench/mqtt/report";
import { keepSections, withSection } from "../../bench/influxdb/doc-sections";
import { mqttTier } from "./support/tier";

const DEVICES = 5;

mqttTier("MQTT tier: the MQTT path benchmark runs against the real broker, Telegraf and influxd (smoke run, tiny sizes)", () => {
  let row: PathRow;
  let drain: DrainRow;

  test("a run gives a row whose counts add up: everything written is in InfluxDB, by device, nothing dropped", async () => {
    row = await measurePath({ devices: DEVICES, intervalMs: 200, warmupMs: 1_000, windowMs: 2_000 }, false);
    expect(row.generated).toBeGreaterThan(0);
    expect(row.written + row.dropped).toBe(row.generated);
    expect({ dropped: row.dropped, stored: row.stored, devicesStored: row.devicesStored, zeroLoss: row.zeroLoss }).toEqual({
      dropped: 0,
      stored: row.written,
      devicesStored: DEVICES,
      zeroLoss: true,
    });
    expect(row.brokerDroppedForBridge).toBe(false);
    // every device published for the whole run: their counts differ by the readings of one sweep at most
    expect(row.perDeviceMin).toBeGreaterThan(0);
    expect(row.perDeviceMax * DEVICES).toBeGreaterThanOrEqual(row.stored);
    expect(row.perDeviceMin * DEVICES).toBeLessThanOrEqual(row.stored);
    expect(row.deliveredPerSecond).toBeGreaterThan(0);
    expect(row.fieldsPerSecond).toBeGreaterThan(row.deliveredPerSecond);
  }, 90_000);

  test("every probe reading was seen in InfluxDB, and its latencies are ordered", () => {
    expect(row.probePublished).toBeGreaterThan(0);
    expect(row.probeSeen).toBe(row.probePublished);
    expect(row.latencyP50Ms).toBeGreaterThan(0);
    expect(row.latencyP50Ms).toBeLessThanOrEqual(row.latencyP99Ms);
    expect(row.latencyP99Ms).toBeLessThanOrEqual(row.latencyMaxMs);
  });

  test("CPU and memory of the broker, the bridge, influxd and the simulator are read from /proc", () => {
    for (const figure of [row.brokerCores, row.bridgeCores, row.influxdCores, row.simulatorCores]) {
      expect(Number.isFinite(figure) && figure >= 0).toBe(true);
    }
    for (const [idle, peak] of [
      [row.brokerIdleRssMiB, row.brokerPeakRssMiB],
      [row.bridgeIdleRssMiB, row.bridgePeakRssMiB],
    ]) {
      expect(idle).toBeGreaterThan(0);
      expect(peak).toBeGreaterThanOrEqual(idle);
    }
    expect(row.influxdPeakRssMiB).toBeGreaterThan(0);
    expect(row.simulatorPeakRssMiB).toBeGreaterThan(0);
  });

  test("a backlog queued for the stopped bridge is drained into InfluxDB whole, by device, and timed", async () => {
    drain = await measureDrain({ devices: DEVICES, intervalMs: 200, publishMs: 2_000 }, false);
    expect(drain.queued).toBeGreaterThan(0);
    expect({ stored: drain.stored, zeroLoss: drain.zeroLoss }).toEqual({ stored: drain.queued, zeroLoss: true });
    expect(drain.window).toBeGreaterThan(0);
    expect(drain.drainSeconds).toBeGreaterThan(0);
    // drainSeconds is rounded to 10 ms in the row, the rate is from the unrounded duration
    expect(Math.abs(drain.drainedPerSecond - drain.stored / drain.drainSeconds)).toBeLessThanOrEqual(0.02 * drain.drainedPerSecond + 1);
    for (const figure of [drain.brokerCores, drain.bridgeCores, drain.influxdCores]) expect(Number.isFinite(figure) && figure >= 0).toBe(true);
  }, 90_000);

  test("the tables and the docs section are made from the rows, and `npm run bench` keeps that section", () => {
    const report: MqttReport = {
      date: new Date().toISOString(),
      mode: "smoke",
      machine: { cpu: "test", cores: 2, memoryGiB: 1, kernel: "test", loadAverage: "0", pinned: false },
      versions: { mosquitto: "test", telegraf: "test", influxd: "test", node: process.version, mqttJs: "test", simulator: "test" },
      queue: { brokerQueueMessages: 100_000, bridgeUndeliveredMessages: 1_000 },
      limits: { brokerCores: 0.5, bridgeCores: 0.5, influxdCores: 1 },
      rows: [row],
      drain: [drain],
    };
    expect(renderTable(report)).toContain(`| ${DEVICES} devices every 200 ms | ${(DEVICES * 5).toLocaleString("en")} |`);
    expect(renderTable(report)).toContain(`| ${DEVICES} devices, ${drain.queued.toLocaleString("en")} queued |`);
    expect(headline(report).best).toBe(row.kept ? row : undefined);
    expect(headline(report).drain).toBe(drain);
    const section = renderSection(report);
    const doc = withSection("# Performance\n\nfigures of npm run bench\n", "mqtt-path", section);
    const regenerated = keepSections(doc, "# Performance\n\nnew figures of npm run bench\n");
    expect(regenerated).toContain(section.trim());
  });
});
