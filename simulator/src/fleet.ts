import { SignalModel, type FaultRates } from "./signal-model";

export interface FleetOptions {
  devices: number;
  intervalMs: number;
  seed: number;
  site: string;
  measurement: string;
  faults: FaultRates;
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
  private readonly prefixes: string[];
  private tick = 0;
  private device = 0;

  constructor(private readonly options: FleetOptions) {
    const { devices, intervalMs, seed, faults } = options;
    this.model = new SignalModel(devices, intervalMs, seed, faults);
    this.offsets = new Float64Array(devices);
    this.prefixes = new Array<string>(devices);
    const width = Math.max(6, String(devices).length);
    for (let d = 0; d < devices; d++) {
      this.offsets[d] = Math.floor((d * intervalMs) / devices);
      this.prefixes[d] = `${options.measurement},device=dev-${String(d + 1).padStart(width, "0")},site=${options.site} `;
    }
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
   * Appends the lines of every reading before `until` to `out`, at most `max` readings.
   * Returns how many readings the cursor passed (dropouts pass the cursor but add no line).
   */
  take(until: number, max: number, out: string[]): number {
    const interval = this.options.intervalMs;
    const devices = this.options.devices;
    let passed = 0;
    while (passed < max) {
      const t = this.tick * interval + this.offsets[this.device];
      if (t >= until) break;
      const line = this.line(this.device, t);
      if (line !== undefined) out.push(line);
      passed++;
      if (++this.device === devices) {
        this.device = 0;
        this.tick++;
      }
    }
    return passed;
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

  /** One line of line protocol with millisecond precision, or undefined during a dropout. */
  line(device: number, t: number): string | undefined {
    if (!this.model.compute(device, t)) return undefined;
    const r = this.model.current;
    return (
      this.prefixes[device] +
      "temperature_c=" + fixed2(r.temperature_c) +
      ",humidity_pct=" + fixed1(r.humidity_pct) +
      ",pressure_hpa=" + fixed1(r.pressure_hpa) +
      ",battery_pct=" + fixed1(r.battery_pct) +
      ",rssi_dbm=" + r.rssi_dbm + "i " +
      t
    );
  }
}

// Fixed-point formatting through integers: the same text as toFixed(1|2), at a fraction of its cost
// (integer-to-string has a fast path, the decimals come from a table). This is the simulator's hot path.
const round = Math.round;
const DECIMALS_2 = Array.from({ length: 100 }, (_, i) => "." + String(i).padStart(2, "0"));
const DECIMALS_1 = Array.from({ length: 10 }, (_, i) => "." + i);

export function fixed2(x: number): string {
  let n = round(x * 100);
  if (n < 0) {
    n = -n;
    const whole = (n / 100) | 0;
    return "-" + whole + DECIMALS_2[n - whole * 100];
  }
  const whole = (n / 100) | 0;
  return whole + DECIMALS_2[n - whole * 100];
}

export function fixed1(x: number): string {
  let n = round(x * 10);
  if (n < 0) {
    n = -n;
    const whole = (n / 10) | 0;
    return "-" + whole + DECIMALS_1[n - whole * 10];
  }
  const whole = (n / 10) | 0;
  return whole + DECIMALS_1[n - whole * 10];
}
