import type { Logger } from "pino";
import type { CommonConfig } from "./config";
import type { Chunk, Fleet } from "./fleet";
import type { WriteCounters } from "./writer";

/**
 * Where the readings go: the InfluxDB writer (SIM_TRANSPORT=https) or the MQTT publisher
 * (SIM_TRANSPORT=mqtt). Both count every reading handed to them as generated, and each one ends
 * as written or dropped (logged with its reason); until then it is in flight.
 */
export interface ReadingSink {
  /** lines per chunk the simulator hands over */
  readonly recordLines: number;
  readonly counters: WriteCounters;
  /** readings handed over and not yet written or dropped */
  readonly inflight: number;
  write(chunk: Chunk): void;
  /** counts readings never handed over (the fleet fell too far behind) as generated and dropped */
  recordSkipped(readings: number, reason: string): void;
  /** resolves once fewer than `limit` readings are in flight (or the sink is closed) */
  waitForCapacity(limit: number): Promise<void>;
}

/**
 * Drives the fleet: first the optional backfill (history written as fast as the server accepts),
 * then live readings paced by the clock. One timer sweeps the whole fleet; each sweep hands
 * every due reading to the writer in chunks of one batch, waiting whenever too much is in flight.
 */
export class Simulator {
  private stopped = false;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;
  private lastPendingFlush = 0;
  private finished!: () => void;
  readonly done: Promise<void> = new Promise((resolve) => (this.finished = resolve));
  private stopRequested!: () => void;
  /** resolves at stop(): ends a wait for capacity that the server may never grant */
  private readonly stopping: Promise<void> = new Promise((resolve) => (this.stopRequested = resolve));

  constructor(
    private readonly config: CommonConfig,
    private readonly fleet: Fleet,
    private readonly writer: ReadingSink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs until stop() is called, or until the backfill ends when SIM_EXIT_AFTER_BACKFILL is set. */
  async run(): Promise<void> {
    const start = this.now();
    if (this.config.backfillMs > 0) {
      this.fleet.seek(start - this.config.backfillMs);
      this.log.info({ from: new Date(start - this.config.backfillMs).toISOString(), to: new Date(start).toISOString() }, "backfill started");
      await this.produceUntil(start, false);
      this.flushPending();
      this.log.info({ ...this.writer.counters }, "backfill generated");
      if (this.config.exitAfterBackfill) {
        this.stopped = true;
        this.finished();
        return this.done;
      }
    } else {
      this.fleet.seek(start);
    }
    if (!this.stopped) this.startSweeping();
    return this.done;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopRequested();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (!this.sweeping) this.finishWithPending();
  }

  private finishWithPending(): void {
    this.flushPending();
    this.finished();
  }

  /** Hands the lines of an unfinished chunk to the writer. */
  private flushPending(): void {
    const chunk = this.fleet.take(Number.NEGATIVE_INFINITY, this.writer.recordLines, true);
    if (chunk) this.writer.write(chunk);
    this.lastPendingFlush = this.now();
  }

  private startSweeping(): void {
    // A few sweeps per interval keep the per-device timing close to its schedule
    // without a timer per device.
    const sweepMs = Math.min(250, Math.max(10, Math.floor(this.config.intervalMs / 4)));
    this.log.info({ devices: this.config.devices, interval_ms: this.config.intervalMs, sweep_ms: sweepMs }, "live");
    this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const now = this.now();
      const lag = now - this.fleet.cursorTime;
      if (lag > this.config.maxLagMs) {
        // The server has been too slow for too long: give up on the oldest readings, counted,
        // rather than fall further behind without bound.
        const skipped = this.fleet.skip(now - this.config.maxLagMs);
        this.writer.recordSkipped(skipped, `fleet fell more than ${this.config.maxLagMs} ms behind`);
      }
      await this.produceUntil(now, true);
      // A small fleet may not fill a chunk for a while: its lines go out at the flush interval.
      if (this.fleet.pendingLines > 0 && this.now() - this.lastPendingFlush >= this.config.flushIntervalMs) this.flushPending();
    } finally {
      this.sweeping = false;
      if (this.stopped) this.finishWithPending();
    }
  }

  private async produceUntil(until: number, live: boolean): Promise<void> {
    let sinceYield = 0;
    while (!this.stopped && this.fleet.cursorTime < until) {
      if (this.writer.inflight >= this.config.maxInflightLines) {
        // Too much in flight: wait until writes complete, or until stop(), so that a server that
        // stopped answering cannot hold the shutdown.
        await Promise.race([this.writer.waitForCapacity(this.config.maxInflightLines), this.stopping]);
        if (this.stopped) return;
      }
      const chunk = this.fleet.take(until, this.writer.recordLines);
      if (chunk) {
        this.writer.write(chunk);
        sinceYield += chunk.lines;
      }
      // Yield regularly so that responses, signals and timers are served during a long backfill
      // or a large sweep; a few milliseconds of work at most between yields.
      if (sinceYield >= YIELD_EVERY_LINES && (!live || this.fleet.cursorTime < until)) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
}

/** Lines generated between two yields to the event loop. */
const YIELD_EVERY_LINES = 2000;
