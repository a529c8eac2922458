import { LineEncoder } from "./line-encoder";
import { SignalModel, type FaultRates } from "./signal-model";

export interface FleetOptions {
  devices: number;
  intervalMs: number;
  seed: number;
  site: string;
  measurement: string;
  faults: FaultRates;
}

export interface Chunk {
  /** lines of line protocol separated by newlines */
  text: string;
  lines: number;
}

/**
 * The fleet's schedule and its line protocol.
 *
 * Device d reads at k × interval + offset(d) for every tick k, with offsets spread evenly over
 * one interval so that the load is smooth rather than one burst per tick. A single cursor
 * (tick, device) walks readings in time order: one scheduler for the whole fleet, no timer
 * per device.
 */
export class Fleet {
  readonly model: SignalModel;
  private readonly offsets: Float64Array;
  private readonly encoder: LineEncoder;
  /** device numbers are zero-padded to this many digits (at least 6: dev-000001) */
  private readonly deviceDigits: number;
  private tick = 0;
  private device = 0;

  constructor(private readonly options: FleetOptions) {
    const { devices, intervalMs, seed, faults } = options;
    this.model = new SignalModel(devices, intervalMs, seed, faults);
    this.offsets = new Float64Array(devices);
    for (let d = 0; d < devices; d++) this.offsets[d] = Math.floor((d * intervalMs) / devices);
    this.deviceDigits = Math.max(6, String(devices).length);
    this.encoder = new LineEncoder(options.measurement, options.site, this.deviceDigits);
  }

  get devices(): number {
    return this.options.devices;
  }

  /** Places the cursor on the first reading at or after time t (milliseconds since epoch). */
  seek(t: number): void {
    const interval = this.options.intervalMs;
    this.tick = Math.floor(t / interval);
    this.device = 0;
    const base = this.tick * interval;
    while (this.device < this.options.devices && base + this.offsets[this.device] < t) this.device++;
    if (this.device === this.options.devices) {
      this.tick++;
      this.device = 0;
    }
  }

  /** Time of the reading under the cursor. */
  get cursorTime(): number {
    return this.tick * this.options.intervalMs + this.offsets[this.device];
  }

  /**
   * Moves the cursor over the readings before `until` and returns a chunk as soon as `maxLines`
   * lines are ready (dropouts pass without one). Lines of an unfinished chunk stay pending for the
   * next call, so chunks are full; `flushPartial` hands over a pending partial chunk too.
   * Returns undefined when no chunk is ready.
   */
  take(until: number, maxLines: number, flushPartial = false): Chunk | undefined {
    const interval = this.options.intervalMs;
    const devices = this.options.devices;
    const model = this.model;
    const encoder = this.encoder;
    while (encoder.lines < maxLines) {
      const t = this.tick * interval + this.offsets[this.device];
      if (t >= until) break;
      if (model.compute(this.device, t)) encoder.append(this.device, model.current, t);
      if (++this.device === devices) {
        this.device = 0;
        this.tick++;
      }
    }
    const lines = encoder.lines;
    if (lines === 0 || (lines < maxLines && !flushPartial)) return undefined;
    return { lines, text: encoder.take() };
  }

  /** Lines generated but not yet handed over in a chunk. */
  get pendingLines(): number {
    return this.encoder.lines;
  }

  /** Moves the cursor to `until` without building lines; returns the readings that would have been sent. */
  skip(until: number): number {
    const interval = this.options.intervalMs;
    const devices = this.options.devices;
    let readings = 0;
    for (;;) {
      const t = this.tick * interval + this.offsets[this.device];
      if (t >= until) return readings;
      if (!this.model.isDropout(this.device, t)) readings++;
      if (++this.device === devices) {
        this.device = 0;
        this.tick++;
      }
    }
  }

  /** The line of one reading, or undefined during a dropout (for inspection and tests; take() is the fast path). */
  line(device: number, t: number): string | undefined {
    if (!this.model.compute(device, t)) return undefined;
    const encoder = new LineEncoder(this.options.measurement, this.options.site, this.deviceDigits, 1024);
    encoder.append(device, this.model.current, t);
    return encoder.take();
  }
}
