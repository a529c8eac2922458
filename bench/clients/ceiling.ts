// The ceiling: prebuilt 5,000-line bodies of the same shape posted over keep-alive by autocannon,
// so the client does nothing but send; what it reaches bounds any real client on this machine.
import autocannon from "autocannon";
import { FAULTS, Fleet, T0, report } from "./common";

async function main(): Promise<void> {
  const fleet = new Fleet({ devices: 5000, intervalMs: 1000, seed: 1, site: "site-1", measurement: "environment", faults: { ...FAULTS, dropoutRate: 0 } });
  fleet.seek(T0);
  const chunk = fleet.take(T0 + 1000, 5000);
  const body: string = chunk.text;
  const start = process.cpuUsage();
  const result = await autocannon({
    url: `${process.env.SINK_URL}/api/v2/write?org=iot&bucket=sensors&precision=ms`,
    method: "POST",
    body,
    headers: { authorization: "Token bench", "content-type": "text/plain; charset=utf-8" },
    connections: 2,
    pipelining: 1,
    duration: Number(process.env.DURATION_S),
  });
  const used = process.cpuUsage(start);
  const ok = result["2xx"];
  report({ points: ok * chunk.lines, requests: ok, errors: result.errors + result.non2xx, workCpuMs: (used.user + used.system) / 1000, wallMs: result.duration * 1000 });
}
void main();
