import { writeFileSync, renameSync, readFileSync } from "node:fs";

/**
 * Health signal for Docker's HEALTHCHECK: a small JSON file (in the container's tmpfs, so it works
 * with a read-only root filesystem) holding the time of the last successful write. The check
 * passes only while that time is recent, i.e. only while writes succeed.
 */
export class HealthFile {
  private timer?: NodeJS.Timeout;
  private lastWritten = -1;
  private readonly startedAt = Date.now();

  constructor(
    private readonly path: string,
    private readonly lastSuccessAt: () => number,
  ) {}

  start(everyMs = 1000): void {
    this.write();
    this.timer = setInterval(() => this.write(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private write(): void {
    const last = this.lastSuccessAt();
    if (last === this.lastWritten) return;
    this.lastWritten = last;
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify({ startedAt: this.startedAt, lastSuccessAt: last }));
    renameSync(temporary, this.path);
  }
}

export interface HealthVerdict {
  healthy: boolean;
  reason: string;
}

/** Judges a health file: healthy when the last successful write is at most maxAgeMs old. */
export function judgeHealth(path: string, maxAgeMs: number, now = Date.now()): HealthVerdict {
  let state: { lastSuccessAt?: unknown };
  try {
    state = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return { healthy: false, reason: `cannot read ${path}: ${(error as Error).message}` };
  }
  const last = typeof state.lastSuccessAt === "number" ? state.lastSuccessAt : 0;
  if (last <= 0) return { healthy: false, reason: "no successful write yet" };
  const age = now - last;
  return age <= maxAgeMs
    ? { healthy: true, reason: `last successful write ${age} ms ago` }
    : { healthy: false, reason: `last successful write ${age} ms ago (limit ${maxAgeMs} ms)` };
}
