import { METRICS_FIELDS, METRICS_MEASUREMENT, type MetricsField } from "./schema";

/**
 * One metrics line: the schema's fields in the schema's order, each an integer, with an explicit
 * millisecond timestamp. Built from schema.ts, so that the line, the dashboards and the
 * documentation name the same fields.
 */
export function metricsLine(site: string, values: Record<MetricsField, number>, t: number): string {
  const fields = (Object.keys(METRICS_FIELDS) as MetricsField[]).map((field) => {
    const value = values[field];
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`metrics field ${field} must be a non-negative integer, not ${value}`);
    return `${field}=${value}i`;
  });
  // site is validated to A-Z a-z 0-9 _ . - (config.ts), so it needs no escaping
  return `${METRICS_MEASUREMENT},site=${site} ${fields.join(",")} ${Math.floor(t)}`;
}

/** Where the reporter reads the values and sends the line: the writer, in the program. */
export interface MetricsSource {
  metricsValues(): Record<MetricsField, number>;
  writeMetrics(line: string): void;
}

/**
 * Writes the simulator's counters every `intervalMs`, first one interval after start (a run
 * shorter than that writes none). A timer that does not keep the process alive.
 */
export class MetricsReporter {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly site: string,
    private readonly intervalMs: number,
    private readonly source: MetricsSource,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  report(): void {
    this.source.writeMetrics(metricsLine(this.site, this.source.metricsValues(), this.now()));
  }
}
