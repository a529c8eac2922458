// Baseline "seed-style": what the customer's original Python design does, one HTTP POST per
// reading, each on a new connection (like requests.post without a session), one after another.
import { request } from "node:http";
import { FAULTS, SignalModel, T0, deviceName, report } from "./common";

function post(url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent: false, headers: { authorization: "Token bench", "content-type": "text/plain" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const url = new URL("/api/v2/write?org=iot&bucket=sensors&precision=ms", process.env.SINK_URL);
  const points = Number(process.env.POINTS);
  const devices = 100;
  const model = new SignalModel(devices, 1000, 1, FAULTS);
  let written = 0;
  const start = process.cpuUsage();
  for (let tick = 0; written < points; tick++) {
    for (let d = 0; d < devices && written < points; d++) {
      const t = T0 + tick * 1000 + d * 10;
      const r = model.reading(d, t);
      if (!r) continue;
      const line = `environment,device=${deviceName(d)},site=site-1 temperature_c=${r.temperature_c.toFixed(2)},humidity_pct=${r.humidity_pct.toFixed(1)},pressure_hpa=${r.pressure_hpa.toFixed(1)},battery_pct=${r.battery_pct.toFixed(1)},rssi_dbm=${r.rssi_dbm}i ${t}`;
      if ((await post(url, line)) === 204) written++;
    }
  }
  const used = process.cpuUsage(start);
  report({ points: written, workCpuMs: (used.user + used.system) / 1000 });
}
void main();
