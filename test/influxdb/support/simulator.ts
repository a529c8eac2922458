// The real simulator process (simulator/dist, built by `npm test` / run.sh) against the real server:
// started with the environment the program declares for its container, its container paths mapped
// into this tier's copy of the simulator's filesystem (so it reads the token InfluxDB's setup wrote
// into the shared token volume, and the CA the program stages for it, here the test CA), and with
// INFLUX_URL pointing at this machine's influxd. The URL's host is `localhost` rather than the
// network alias `influxdb`, which does not resolve outside Docker; both are in the certificate.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startSimulator, signalAndWaitForExit, isSummary, type LogLine, type RunningSimulator } from "../../../simulator/test/support/run-simulator";
import type { Stack } from "./stack";
import { ROOT, SIMULATOR_MAIN } from "./tier";

export { isSummary, signalAndWaitForExit, type LogLine, type RunningSimulator };

/** The program's simulator environment for this stack, paths mapped, URL on this machine, plus `overrides`. */
export function simulatorEnv(stack: Stack, overrides: Record<string, string> = {}): Record<string, string> {
  if (!existsSync(SIMULATOR_MAIN)) throw new Error(`${SIMULATOR_MAIN} is missing: run \`npm run build:simulator\` (npm test and npm run test:influxdb do)`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  for (const [key, value] of Object.entries(stack.decl.simulator.env)) env[key] = value.startsWith("/") ? stack.simulatorPath(value) : value;
  const declaredUrl = new URL(stack.decl.simulator.env.INFLUX_URL);
  if (!stack.decl.influxCertificate.dnsNames.includes(declaredUrl.hostname)) throw new Error(`the simulator's INFLUX_URL host ${declaredUrl.hostname} is not in InfluxDB's certificate`);
  env.INFLUX_URL = stack.server.url;
  return { ...env, ...overrides };
}

/**
 * The simulator's own reading of its configuration (simulator/dist/config.js loadConfig): the
 * measurement, site and schedule it will use, so that the tests do not retype its defaults.
 */
export function simulatorConfig(env: Record<string, string>): { measurement: string; site: string; devices: number; intervalMs: number; seed: number; backfillMs: number } {
  const { loadConfig } = require(join(ROOT, "simulator", "dist", "config.js"));
  return loadConfig(env);
}

/**
 * The simulator's second measurement, its own metrics, when this version of it writes one
 * (simulator/dist/schema.js METRICS_MEASUREMENT); undefined for a simulator that writes readings only.
 */
export function metricsMeasurement(): string | undefined {
  const file = join(ROOT, "simulator", "dist", "schema.js");
  return existsSync(file) ? require(file).METRICS_MEASUREMENT : undefined;
}

/** Runs the simulator until it exits by itself, within a deadline; returns its exit code and the run. */
export async function runToExit(env: Record<string, string>, deadlineMs: number): Promise<{ code: number; sim: RunningSimulator }> {
  const sim = startSimulator(env);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      sim.process.kill("SIGKILL");
      reject(new Error(`the simulator was still running after ${deadlineMs} ms; output:\n${sim.output().slice(-4000)}`));
    }, deadlineMs);
  });
  try {
    return { code: await Promise.race([sim.exited, deadline]), sim };
  } finally {
    clearTimeout(timer);
  }
}
