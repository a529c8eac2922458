// Baseline "naive": one Point per reading through the client's WriteApi with its default options.
import { FAULTS, SignalModel, T0, deviceName, influx, report } from "./common";

async function main(): Promise<void> {
  const url = process.env.SINK_URL as string;
  const points = Number(process.env.POINTS);
  const devices = 10_000;
  const intervalMs = 1000;
  const model = new SignalModel(devices, intervalMs, 1, FAULTS);
  const writeApi = new influx.InfluxDB({ url, token: "bench" }).getWriteApi("iot", "sensors", "ms");
  let written = 0;
  const start = process.cpuUsage();
  for (let tick = 0; written < points; tick++) {
    for (let d = 0; d < devices && written < points; d++) {
      const t = T0 + tick * intervalMs + Math.floor((d * intervalMs) / devices);
      const r = model.reading(d, t);
      if (!r) continue;
      writeApi.writePoint(
        new influx.Point("environment")
          .tag("device", deviceName(d))
          .tag("site", "site-1")
          .floatField("temperature_c", r.temperature_c)
          .floatField("humidity_pct", r.humidity_pct)
          .floatField("pressure_hpa", r.pressure_hpa)
          .floatField("battery_pct", r.battery_pct)
          .intField("rssi_dbm", r.rssi_dbm)
          .timestamp(t),
      );
      written++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await writeApi.close();
  const used = process.cpuUsage(start);
  report({ points: written, workCpuMs: (used.user + used.system) / 1000 });
}
void main();
