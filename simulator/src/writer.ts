import { HttpError, InfluxDB, setLogger, type WriteApi } from "@influxdata/influxdb-client";
import { createLookup } from "./lookup";
import type { Logger } from "pino";
import { AbortableTransport } from "./abortable-transport";
import type { SimulatorConfig } from "./config";
import { describeError } from "./errors";
import type { Chunk } from "./fleet";
import { countLines } from "./line-encoder";
import type { MetricsSource } from "./metrics";
import type { MetricsField } from "./schema";

/**
 * Lines per record handed to the WriteApi. The client treats a record as opaque text and joins
 * records with newlines, so a record of many lines is valid line protocol, and the client's
 * per-record bookkeeping then runs once per record instead of once per point. Records hold about
 * half a flush interval of traffic (1 to 100 lines), so that they fill well within the interval and
 * batch size and retry buffer, configured in lines, convert to records closely.
 */
export function recordLinesFor(config: Pick<SimulatorConfig, "devices" | "intervalMs" | "flushIntervalMs">): number {
  const linesPerFlush = (config.devices * config.flushIntervalMs) / config.intervalMs;
  return Math.max(1, Math.min(100, Math.floor(linesPerFlush / 2)));
}

export interface WriteCounters {
  points_generated: number;
  points_written: number;
  points_dropped: number;
}

/** The simulator's own metrics lines, counted apart from the readings (schema.ts). */
export interface MetricsCounters {
  metrics_generated: number;
  metrics_written: number;
  metrics_dropped: number;
}

/**
 * Metrics lines the metrics channel keeps for retries while InfluxDB is away: at the default
 * interval (10 s) more than two hours of them, a few hundred kilobytes at most.
 */
const METRICS_BUFFER_LINES = 1000;

const ABORTED = "shutdown timeout: request in flight aborted";

/** How often repeated transient write failures are logged (the counters are always exact). */
const WARN_EVERY_MS = 5000;

/**
 * The part of the shutdown timeout kept for aborting what is still in flight and counting it:
 * a tenth, at most 500 ms. Aborted requests report within milliseconds; this is the upper bound.
 */
export function abortReserveMs(shutdownTimeoutMs: number): number {
  return Math.min(500, Math.floor(shutdownTimeoutMs / 10));
}

/**
 * The write path: @influxdata/influxdb-client's WriteApi does the batching, gzip, retries with
 * exponential backoff and jitter, and the bounded retry buffer. This class adds what it lacks:
 * exact counters, a cap on what is in flight (it has no backpressure of its own), a log line for
 * every point it gives up on (4xx other than 429, retries exhausted, retry buffer full), and a
 * shutdown that ends by its deadline, aborting requests the server does not answer in time.
 *
 * The simulator's own metrics lines go through a second WriteApi of the same client (same
 * transport, token, bucket, TLS, retries, shutdown), with counters of their own: the readings'
 * counters and cap never include them, so points_generated = points_written + points_dropped
 * (+ in flight) holds for readings exactly as before.
 */
export class InfluxWriter implements MetricsSource {
  private readonly api: WriteApi;
  private readonly transport: AbortableTransport;
  private generated = 0;
  private written = 0;
  private dropped = 0;
  /** failed requests (readings or metrics) the client retries */
  private retries = 0;
  private readonly metricsApi: WriteApi;
  private metricsGenerated = 0;
  private metricsWritten = 0;
  private metricsDropped = 0;
  private lastWarnAt = 0;
  private suppressedWarnings = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** set once the final counts are taken: later reports from the client change nothing */
  private settled = false;
  lastSuccessAt = 0;
  /** lines per record (see recordLinesFor): the chunk size the simulator hands over */
  readonly recordLines: number;

  constructor(
    private readonly config: SimulatorConfig,
    private readonly log: Logger,
  ) {
    // The library logs through console by default; route it into our JSON log at debug level,
    // since the hooks below already report every failure with counts.
    setLogger({
      error: (message: string, error?: unknown) => log.debug({ err: describeError(error) }, message),
      warn: (message: string, error?: unknown) => log.debug({ err: describeError(error) }, message),
    });
    const url = config.influxUrl.toString().replace(/\/$/, "");
    const clientTransport = new InfluxDB({
      url,
      token: config.token,
      timeout: config.requestTimeoutMs,
      // Trust exactly the configured CA when one is given; verification itself is never turned off.
      // Names resolved off the thread pool, so that no lookup can hold the exit (lookup.ts).
      transportOptions: { ...(config.caPem ? { ca: config.caPem } : {}), rejectUnauthorized: true, lookup: createLookup({ timeoutMs: config.requestTimeoutMs }) },
    }).transport;
    // The same transport, with requests that the shutdown can abort (see AbortableTransport).
    this.transport = new AbortableTransport(clientTransport);
    const influx = new InfluxDB({ url, transport: this.transport });
    const maxRetries = 1000; // bounded in practice by maxRetryTime; retries are idempotent (same series + timestamp).
    const recordLines = (this.recordLines = recordLinesFor(config));
    this.api = influx.getWriteApi(config.org, config.bucket, "ms", {
      batchSize: Math.max(1, Math.round(config.batchSize / recordLines)),
      flushInterval: config.flushIntervalMs,
      maxBufferLines: Math.max(1, Math.ceil(config.bufferLines / recordLines)),
      maxRetries,
      maxRetryTime: config.maxRetryTimeMs,
      minRetryDelay: config.retryMinMs,
      maxRetryDelay: config.retryMaxMs,
      retryJitter: config.retryJitterMs,
      exponentialBase: 2,
      // The client gzips at its fixed level 6: it saves bandwidth on thin links and costs CPU (docs/PERFORMANCE.md).
      gzipThreshold: config.gzip ? 1000 : undefined,
      writeSuccess: (records) => this.onWritten(pointsIn(records)),
      writeFailed: (error, records, attempt) => this.onFailed(error, pointsIn(records), attempt, maxRetries),
      writeRetrySkipped: (entry) => this.onDropped(pointsIn(entry.lines), "retry buffer full: oldest lines evicted"),
    });
    this.metricsApi = influx.getWriteApi(config.org, config.bucket, "ms", {
      // one line every metrics interval: sent at once, never waiting for a batch to fill
      batchSize: 1,
      flushInterval: config.flushIntervalMs,
      maxBufferLines: METRICS_BUFFER_LINES,
      maxRetries,
      maxRetryTime: config.maxRetryTimeMs,
      minRetryDelay: config.retryMinMs,
      maxRetryDelay: config.retryMaxMs,
      retryJitter: config.retryJitterMs,
      exponentialBase: 2,
      writeSuccess: (records) => this.onMetricsWritten(pointsIn(records)),
      writeFailed: (error, records, attempt) => this.onMetricsFailed(error, pointsIn(records), attempt, maxRetries),
      writeRetrySkipped: (entry) => this.onMetricsDropped(pointsIn(entry.lines), "retry buffer full: oldest lines evicted"),
    });
  }

  get counters(): WriteCounters {
    return { points_generated: this.generated, points_written: this.written, points_dropped: this.dropped };
  }

  get metricsCounters(): MetricsCounters {
    return { metrics_generated: this.metricsGenerated, metrics_written: this.metricsWritten, metrics_dropped: this.metricsDropped };
  }

  /** Points handed to the client and not yet written or given up on. */
  get inflight(): number {
    return this.generated - this.written - this.dropped;
  }

  /** Metrics lines handed to the client and not yet written or given up on. */
  get metricsInflight(): number {
    return this.metricsGenerated - this.metricsWritten - this.metricsDropped;
  }

  /** The values of a metrics line (schema.ts): the counters as they stand now. */
  metricsValues(): Record<MetricsField, number> {
    return {
      points_generated: this.generated,
      points_written: this.written,
      points_dropped: this.dropped,
      write_retries: this.retries,
      buffer_lines: this.inflight,
      buffer_capacity_lines: this.config.maxInflightLines,
      metrics_written: this.metricsWritten,
      metrics_dropped: this.metricsDropped,
    };
  }

  /** Hands one metrics line to the metrics channel; ignored once the writer is closed (counted nowhere, never generated). */
  writeMetrics(line: string): void {
    if (this.closed) return;
    this.metricsGenerated++;
    this.metricsApi.writeRecord(line);
  }

  /** Hands a chunk (one record) to the client. */
  write(chunk: Chunk): void {
    this.generated += chunk.lines;
    this.api.writeRecord(chunk.text);
  }

  /** Counts readings that were never handed to the client, e.g. skipped because the fleet fell too far behind. */
  recordSkipped(readings: number, reason: string): void {
    if (readings === 0) return;
    this.generated += readings;
    this.onDropped(readings, reason);
  }

  /** Resolves once fewer than `limit` points are in flight (or the writer is closed). */
  waitForCapacity(limit: number): Promise<void> {
    if (this.inflight < limit || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.inflight < limit || this.closed) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /**
   * Sends everything buffered, including the retry buffer, until nothing is in flight or the
   * deadline (epoch ms) draws near; then aborts the requests still under way and counts their points
   * as dropped, and whatever was never sent too, each logged with its reason. Returns by the
   * deadline whatever the server does, with generated = written + dropped.
   */
  async drain(deadline: number): Promise<void> {
    const flushUntil = deadline - abortReserveMs(this.config.shutdownTimeoutMs);
    while ((this.inflight > 0 || this.metricsInflight > 0) && Date.now() < flushUntil) {
      // Waited on until flushUntil at most: a request the server never answers must not hold the
      // shutdown (the client itself would wait for the request timeout).
      await settledOrAt(Promise.allSettled([this.api.flush(true), this.metricsApi.flush(true)]), flushUntil);
      if (this.inflight === 0 && this.metricsInflight === 0) break;
      await this.waitForProgress(Math.min(250, Math.max(0, flushUntil - Date.now())));
    }
    this.closed = true;
    // Stops the client's flush timers and retry buffers: nothing new is sent.
    this.api.dispose();
    this.metricsApi.dispose();
    // Each aborted request reports through writeFailed, which counts its points as dropped.
    this.transport.abort();
    await this.transport.whenIdle(deadline);
    const remaining = this.inflight;
    if (remaining > 0) this.onDropped(remaining, "shutdown timeout: still unsent");
    const remainingMetrics = this.metricsInflight;
    if (remainingMetrics > 0) this.onMetricsDropped(remainingMetrics, "shutdown timeout: still unsent");
    this.settled = true;
    this.wake();
  }

  private waitForProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onWritten(count: number): void {
    if (this.settled) return;
    this.written += count;
    this.lastSuccessAt = Date.now();
    this.wake();
  }

  private onDropped(count: number, reason: string): void {
    if (this.settled) return; // counted already, in the final "still unsent"
    this.dropped += count;
    this.log.error({ points: count, reason, points_dropped: this.dropped }, "points dropped");
    this.wake();
  }

  private onFailed(error: Error, count: number, attempt: number, maxRetries: number): void {
    if (this.settled) return;
    const reason = this.givenUpBecause(error, attempt, maxRetries);
    if (reason === ABORTED) {
      this.onDropped(count, reason);
      return;
    }
    if (reason) {
      this.log.error({ err: describeError(error), attempt }, "write failed for good");
      this.onDropped(count, reason);
      return;
    }
    this.retries++;
    const now = Date.now();
    if (now - this.lastWarnAt >= WARN_EVERY_MS) {
      this.log.warn(
        { err: describeError(error), attempt, points: count, similar_failures_suppressed: this.suppressedWarnings, inflight: this.inflight },
        "write failed, will retry",
      );
      this.lastWarnAt = now;
      this.suppressedWarnings = 0;
    } else {
      this.suppressedWarnings++;
    }
  }

  /**
   * Why a failed write is given up, or undefined when the client will retry it. Mirrors the
   * client's own decision, which it takes right after its failure hook returns: it retries unless
   * the writer is closed, the attempts or the retry time are used up, or the server answered with a
   * 4xx other than 429. A request the shutdown aborted is given up too.
   */
  private givenUpBecause(error: Error, attempt: number, maxRetries: number): string | undefined {
    if (this.transport.aborted) return ABORTED;
    const clientError = error instanceof HttpError && error.statusCode < 429;
    const expired = error.message === "Max retry time exceeded.";
    if (!(this.closed || clientError || expired || attempt > maxRetries)) return undefined;
    if (clientError) return `rejected by server (HTTP ${(error as HttpError).statusCode}): not retryable`;
    return expired ? "retry time exceeded" : "retries exhausted";
  }

  private onMetricsWritten(count: number): void {
    if (this.settled) return;
    this.metricsWritten += count;
    this.wake();
  }

  /** Logged apart from "points dropped", whose sum is the readings' points_dropped. */
  private onMetricsDropped(count: number, reason: string): void {
    if (this.settled) return;
    this.metricsDropped += count;
    this.log.error({ lines: count, reason, metrics_dropped: this.metricsDropped }, "metrics lines dropped");
    this.wake();
  }

  /** The same decision as onFailed, for the metrics channel. */
  private onMetricsFailed(error: Error, count: number, attempt: number, maxRetries: number): void {
    if (this.settled) return;
    const reason = this.givenUpBecause(error, attempt, maxRetries);
    if (reason) {
      this.onMetricsDropped(count, reason);
      return;
    }
    // the readings' retries log the outage (rate-limited); a metrics retry is only counted
    this.retries++;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Resolves when `promise` settles (either way) or at `deadline` (epoch ms), whichever comes first. */
function settledOrAt(promise: Promise<unknown>, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

function pointsIn(records: string[]): number {
  let points = 0;
  for (const record of records) points += countLines(record);
  return points;
}
