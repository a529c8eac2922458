import { next, normal, seedStream, uniform } from "./random";
import type { ReadingField } from "./schema";

export interface FaultRates {
  /** probability per reading of a temperature spike */
  spikeRate: number;
  /** probability per reading that a stuck-sensor episode starts */
  stuckRate: number;
  /** probability per reading that a short radio dropout starts */
  dropoutRate: number;
}

/** One reading: a number for each field of the schema (schema.ts), no more, no less. */
export type Reading = Record<ReadingField, number>;

// Local bindings: see random.ts.
const sin = Math.sin;
const floor = Math.floor;
const round = Math.round;

const DAY_MS = 86_400_000;
const TWO_PI = 2 * Math.PI;
// Angular speeds, so that the hot path multiplies instead of dividing.
const PER_DAY = 1 / DAY_MS;
const DAILY_RADIANS_PER_MS = TWO_PI / DAY_MS;
const WEATHER_RADIANS_PER_MS = TWO_PI / (3.3 * DAY_MS);
/** readings in one stuck-sensor episode */
export const STUCK_READINGS = 20;
/** readings in one dropout episode */
export const DROPOUT_READINGS = 6;

// Channels keep the random streams of different purposes independent.
const enum Channel {
  Constants = 1,
  Reading = 20,
  Stuck = 26,
  Dropout = 27,
}

// Per-device constants, interleaved in one Float64Array (one or two cache lines a device) so that
// a sweep over the fleet reads memory sequentially.
const enum P {
  TempBase,
  TempAmp,
  Phase,
  HumBase,
  PressBase,
  PressPhase,
  Battery,
  Drain,
  Rssi,
  DriftAmp,
  DriftRadiansPerMs,
  EpisodeOffset,
  Stride,
}

/**
 * The physical model of a fleet: per-device constants (about 100 bytes a device) and a pure
 * function from (device, time) to a reading.
 */
export class SignalModel {
  private readonly params: Float64Array;
  private readonly stuckWindowProbability: number;
  private readonly dropoutWindowProbability: number;
  /** the last reading computed by compute(); reused to avoid an allocation per reading */
  readonly current: Reading = { temperature_c: 0, humidity_pct: 0, pressure_hpa: 0, battery_pct: 0, rssi_dbm: 0 };

  constructor(
    readonly devices: number,
    readonly intervalMs: number,
    readonly seed: number,
    readonly faults: FaultRates,
  ) {
    const p = (this.params = new Float64Array(devices * P.Stride));
    for (let d = 0; d < devices; d++) {
      seedStream(seed, d, 0, Channel.Constants);
      const o = d * P.Stride;
      p[o + P.TempBase] = 16 + 8 * next();
      p[o + P.TempAmp] = 1.5 + 3 * next();
      p[o + P.Phase] = DAY_MS * next();
      p[o + P.HumBase] = 35 + 30 * next();
      p[o + P.PressBase] = 1000 + 25 * next();
      p[o + P.PressPhase] = TWO_PI * next();
      p[o + P.Battery] = 40 * next();
      p[o + P.Drain] = 0.5 + 2 * next();
      p[o + P.Rssi] = -45 - 40 * next();
      p[o + P.DriftAmp] = 0.3 + 1.2 * next();
      p[o + P.DriftRadiansPerMs] = TWO_PI / (DAY_MS * (3 + 7 * next()));
      p[o + P.EpisodeOffset] = intervalMs * STUCK_READINGS * DROPOUT_READINGS * next();
    }
    // Episodes are aligned to per-device windows; a window is faulty with probability rate × length,
    // which keeps the long-run start rate per reading equal to the configured rate.
    this.stuckWindowProbability = Math.min(1, faults.stuckRate * STUCK_READINGS);
    this.dropoutWindowProbability = Math.min(1, faults.dropoutRate * DROPOUT_READINGS);
  }

  /** True when the device is in a radio dropout at time t and sends nothing. */
  isDropout(device: number, t: number): boolean {
    if (this.dropoutWindowProbability === 0) return false;
    const windowMs = this.intervalMs * DROPOUT_READINGS;
    const window = floor((t + this.params[device * P.Stride + P.EpisodeOffset]) / windowMs);
    return uniform(this.seed, device, window, Channel.Dropout) < this.dropoutWindowProbability;
  }

  /** The reading the device reports at time t, or undefined during a dropout. */
  reading(device: number, t: number): Reading | undefined {
    return this.compute(device, t) ? { ...this.current } : undefined;
  }

  /**
   * Computes the reading of the device at time t into `current`; false during a dropout.
   * The allocation-free form of reading(), for the hot path.
   */
  compute(device: number, t: number): boolean {
    if (this.isDropout(device, t)) return false;
    let sampleTime = t;
    if (this.stuckWindowProbability > 0) {
      // A stuck sensor keeps repeating the value it had when the episode began.
      const windowMs = this.intervalMs * STUCK_READINGS;
      const offset = this.params[device * P.Stride + P.EpisodeOffset];
      const window = floor((t + offset) / windowMs);
      if (uniform(this.seed, device, window, Channel.Stuck) < this.stuckWindowProbability) {
        sampleTime = window * windowMs - offset;
      }
    }
    this.sample(device, sampleTime);
    return true;
  }

  private sample(d: number, t: number): void {
    const p = this.params;
    const o = d * P.Stride;
    seedStream(this.seed, d, t, Channel.Reading);
    const daily = sin((t + p[o + P.Phase]) * DAILY_RADIANS_PER_MS);
    const drift = p[o + P.DriftAmp] * sin(t * p[o + P.DriftRadiansPerMs]);
    const tempDeviation = p[o + P.TempAmp] * daily + drift + 0.15 * normal();
    let temperature = p[o + P.TempBase] + tempDeviation;
    if (next() < this.faults.spikeRate) {
      const size = 8 + 12 * next();
      temperature += next() < 0.5 ? -size : size;
    }
    // Relative humidity falls as air warms: anti-correlated with the temperature swing.
    let humidity = p[o + P.HumBase] - 1.8 * tempDeviation + 0.8 * normal();
    humidity = humidity < 0 ? 0 : humidity > 100 ? 100 : humidity;
    const weather = 6 * sin(t * WEATHER_RADIANS_PER_MS + p[o + P.PressPhase]);
    const pressure = p[o + P.PressBase] + weather + 0.3 * normal();
    // Batteries drain linearly and are swapped at 5 %: a sawtooth from 100 % down.
    // x - 95·floor(x/95) rather than x % 95: the same for x ≥ 0, and % on doubles is a slow library call.
    const used = p[o + P.Battery] + p[o + P.Drain] * t * PER_DAY;
    const drained = used - 95 * floor(used / 95);
    const r = this.current;
    r.temperature_c = temperature;
    r.humidity_pct = humidity;
    r.pressure_hpa = pressure;
    r.battery_pct = 100 - drained;
    r.rssi_dbm = round(p[o + P.Rssi] + 3 * normal());
  }
}
