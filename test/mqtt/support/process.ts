// One upstream server as a child process with its output in a log file, waited on by what it logs.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves after ms; used only between polls of a condition that has its own deadline. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined) or the deadline passes; then throws with `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await pause(everyMs);
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** exit code (128 + n for a signal) once it has exited */
  exitCode(): number | undefined;
  log(): string;
  /** the log's length now: a later waitForLog can look only at what comes after */
  mark(): number;
  tail(lines?: number): string;
  /** waits for a line matching `pattern` after `from` (a mark); a process that exits ends the wait */
  waitForLog(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after graceMs */
  stop(graceMs?: number): Promise<number>;
}

export function startProcess(name: string, command: string, args: string[], o: { cwd: string; env: Record<string, string>; logFile: string }): Proc {
  const fd = openSync(o.logFile, "a");
  const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let code: number | undefined;
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (c, signal) => {
      code = c ?? (signal ? 128 + (({ SIGTERM: 15, SIGKILL: 9, SIGINT: 2 }) as Record<string, number>)[signal] : -1);
      resolve(code);
    }),
  );
  const log = () => readFileSync(o.logFile, "utf8");
  const proc: Proc = {
    name,
    child,
    logFile: o.logFile,
    exitCode: () => code,
    log,
    mark: () => statSync(o.logFile).size,
    tail: (lines = 30) => log().trimEnd().split("\n").slice(-lines).join("\n"),
    async waitForLog(pattern, timeoutMs, from = 0) {
      return waitFor(
        `${name} logging ${pattern}`,
        () => {
          const match = log().slice(from).match(pattern);
          if (match) return match;
          if (code !== undefined) throw new Error(`${name} exited with ${code}`);
          return undefined;
        },
        timeoutMs,
        50,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n--- ${name} log (last lines) ---\n${proc.tail()}`);
      });
    },
    async stop(graceMs = 10_000) {
      if (code !== undefined) return code;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return proc;
}
