// Runs the compiled simulator (simulator/dist, built by `npm test` before jest starts) as a real
// child process, collects its JSON log lines and lets tests wait on them with a deadline.
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const SIMULATOR_MAIN = resolve(__dirname, "../../dist/main.js");

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface RunningSimulator {
  process: ChildProcess;
  logs: LogLine[];
  /** raw stdout + stderr, to check that no secret ever appears */
  output: () => string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number, what?: string): Promise<LogLine>;
  exited: Promise<number>;
  memorySamples: number[];
}

/** Environment that the tests start from: quiet, fast retries, a private health file. */
export function baseEnv(overrides: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "sim-"));
  return {
    PATH: process.env.PATH ?? "",
    LOG_LEVEL: "info",
    SIM_HEALTH_FILE: join(dir, "health.json"),
    SIM_RETRY_MIN_MS: "100",
    SIM_RETRY_MAX_MS: "500",
    SIM_RETRY_JITTER_MS: "50",
    SIM_STARTUP_TIMEOUT_MS: "5000",
    SIM_FLUSH_INTERVAL_MS: "100",
    ...overrides,
  };
}

export function startSimulator(env: Record<string, string>): RunningSimulator {
  const child = spawn(process.execPath, [SIMULATOR_MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: LogLine[] = [];
  let raw = "";
  let pending = "";
  const waiters = new Set<() => void>();
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    raw += chunk;
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        logs.push(JSON.parse(text));
      } catch {
        logs.push({ level: 0, msg: `NOT JSON: ${text}` });
      }
    }
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr.on("data", (chunk: string) => {
    raw += chunk;
  });
  // hasExited is set before the waiters are woken: a waiter woken first would see a live process
  // and wait out its whole timeout for a simulator that had already died.
  let hasExited = false;
  const exited = new Promise<number>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  void exited.then(() => {
    hasExited = true;
    for (const waiter of [...waiters]) waiter();
  });

  const memorySamples: number[] = [];
  return {
    process: child,
    logs,
    output: () => raw,
    exited,
    memorySamples,
    waitForLog(predicate, timeoutMs, what = "log line") {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      if (hasExited) return Promise.reject(new Error(`simulator exited before ${what}; output:\n${raw.slice(-4000)}`));
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find(predicate);
          if (hit) {
            cleanup();
            resolve(hit);
          } else if (hasExited) {
            cleanup();
            reject(new Error(`simulator exited before ${what}; output:\n${raw.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output:\n${raw.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
  };
}

export const isSummary = (line: LogLine) => line.msg === "simulator stopped";

export interface Exit {
  code: number;
  /** from the signal to the process's exit */
  elapsedMs: number;
}

/**
 * Sends `signal` and waits for the process to exit, for at most `deadlineMs` from the signal;
 * past the deadline the process is killed and the promise rejects with its last output.
 */
export async function signalAndWaitForExit(sim: RunningSimulator, deadlineMs: number, signal: NodeJS.Signals = "SIGTERM"): Promise<Exit> {
  const signalledAt = performance.now();
  sim.process.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      sim.process.kill("SIGKILL");
      reject(new Error(`still running ${deadlineMs} ms after ${signal}; output:\n${sim.output().slice(-4000)}`));
    }, deadlineMs);
  });
  try {
    const code = await Promise.race([sim.exited, deadline]);
    return { code, elapsedMs: Math.round(performance.now() - signalledAt) };
  } finally {
    clearTimeout(timer);
  }
}
