// Shared by the baseline clients: the same signal model and line shape as the simulator,
// and a JSON result line with the client's own CPU time.
import { join } from "node:path";

export const SIM = join(__dirname, "..", "..", "..", "simulator");
export const { SignalModel } = require(join(SIM, "dist", "signal-model.js"));
export const { Fleet } = require(join(SIM, "dist", "fleet.js"));
export const influx = require(join(SIM, "node_modules", "@influxdata", "influxdb-client"));

export const FAULTS = { spikeRate: 0.001, stuckRate: 0.0005, dropoutRate: 0.0005 };
export const T0 = Date.UTC(2026, 0, 1);

export function deviceName(d: number): string {
  return `dev-${String(d + 1).padStart(6, "0")}`;
}

export function report(result: Record<string, number>): void {
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000 }) + "\n");
}
