import { gaussian, uniform } from "./random";

export interface FaultRates {
  /** probability per reading of a temperature spike */
  spikeRate: number;
  /** probability per reading that a stuck-sensor episode starts */
  stuckRate: number;
  /** probability per reading that a short radio dropout starts */
  dropoutRate: number;
}

export interface Reading {
  temperature_c: number;
  humidity_pct: number;
  pressure_hpa: number;
  battery_pct: number;
  rssi_dbm: number;
}

// Local bindings: see random.ts.
const sin = Math.sin;
const floor = Math.floor;
const round = Math.round;

const DAY_MS = 86_400_000;
const TWO_PI = 2 * Math.PI;
/** readings in one stuck-sensor episode */
export const STUCK_READINGS = 20;
/** readings in one dropout episode */
export const DROPOUT_READINGS = 6;

// Channels keep the random streams of different quantities independent.
const enum Channel {
  TempBase = 1,
  TempAmp,
  Phase,
  HumBase,
  PressBase,
  PressPhase,
  Battery,
  Drain,
  Rssi,
  DriftAmp,
  DriftPeriod,
  EpisodeOffset,
  TempNoise = 20,
  HumNoise,
  PressNoise,
  RssiNoise,
  Spike,
  SpikeSize,
  Stuck,
  Dropout,
}

/**
 * The physical model of a fleet: per-device constants in typed arrays (a few dozen bytes a device)
 * and a pure function from (device, time) to a reading.
 */
export class SignalModel {
  private readonly tempBase: Float64Array;
  private readonly tempAmp: Float64Array;
  private readonly phaseMs: Float64Array;
  private readonly humBase: Float64Array;
  private readonly pressBase: Float64Array;
  private readonly pressPhase: Float64Array;
  private readonly batteryStart: Float64Array;
  private readonly drainPerDay: Float64Array;
  private readonly rssiBase: Float64Array;
  private readonly driftAmp: Float64Array;
  private readonly driftPeriodMs: Float64Array;
  private readonly episodeOffsetMs: Float64Array;
  private readonly stuckWindowProbability: number;
  private readonly dropoutWindowProbability: number;

  constructor(
    readonly devices: number,
    readonly intervalMs: number,
    readonly seed: number,
    readonly faults: FaultRates,
  ) {
    this.tempBase = new Float64Array(devices);
    this.tempAmp = new Float64Array(devices);
    this.phaseMs = new Float64Array(devices);
    this.humBase = new Float64Array(devices);
    this.pressBase = new Float64Array(devices);
    this.pressPhase = new Float64Array(devices);
    this.batteryStart = new Float64Array(devices);
    this.drainPerDay = new Float64Array(devices);
    this.rssiBase = new Float64Array(devices);
    this.driftAmp = new Float64Array(devices);
    this.driftPeriodMs = new Float64Array(devices);
    this.episodeOffsetMs = new Float64Array(devices);
    for (let d = 0; d < devices; d++) {
      const u = (channel: Channel) => uniform(seed, d, 0, channel);
      this.tempBase[d] = 16 + 8 * u(Channel.TempBase);
      this.tempAmp[d] = 1.5 + 3 * u(Channel.TempAmp);
      this.phaseMs[d] = DAY_MS * u(Channel.Phase);
      this.humBase[d] = 35 + 30 * u(Channel.HumBase);
      this.pressBase[d] = 1000 + 25 * u(Channel.PressBase);
      this.pressPhase[d] = TWO_PI * u(Channel.PressPhase);
      this.batteryStart[d] = 40 * u(Channel.Battery);
      this.drainPerDay[d] = 0.5 + 2 * u(Channel.Drain);
      this.rssiBase[d] = -45 - 40 * u(Channel.Rssi);
      this.driftAmp[d] = 0.3 + 1.2 * u(Channel.DriftAmp);
      this.driftPeriodMs[d] = DAY_MS * (3 + 7 * u(Channel.DriftPeriod));
      this.episodeOffsetMs[d] = intervalMs * STUCK_READINGS * DROPOUT_READINGS * u(Channel.EpisodeOffset);
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
    const window = floor((t + this.episodeOffsetMs[device]) / windowMs);
    return uniform(this.seed, device, window, Channel.Dropout) < this.dropoutWindowProbability;
  }

  /** The reading the device reports at time t, or undefined during a dropout. */
  reading(device: number, t: number): Reading | undefined {
    if (this.isDropout(device, t)) return undefined;
    let sampleTime = t;
    if (this.stuckWindowProbability > 0) {
      // A stuck sensor keeps repeating the value it had when the episode began.
      const windowMs = this.intervalMs * STUCK_READINGS;
      const shifted = t + this.episodeOffsetMs[device];
      const window = floor(shifted / windowMs);
      if (uniform(this.seed, device, window, Channel.Stuck) < this.stuckWindowProbability) {
        sampleTime = window * windowMs - this.episodeOffsetMs[device];
      }
    }
    return this.sample(device, sampleTime);
  }

  private sample(d: number, t: number): Reading {
    const seed = this.seed;
    const daily = sin((TWO_PI * (t + this.phaseMs[d])) / DAY_MS);
    const drift = this.driftAmp[d] * sin((TWO_PI * t) / this.driftPeriodMs[d]);
    const tempDeviation = this.tempAmp[d] * daily + drift + 0.15 * gaussian(seed, d, t, Channel.TempNoise);
    let temperature = this.tempBase[d] + tempDeviation;
    if (uniform(seed, d, t, Channel.Spike) < this.faults.spikeRate) {
      const size = 8 + 12 * uniform(seed, d, t, Channel.SpikeSize);
      temperature += uniform(seed, d, t, Channel.SpikeSize + 50) < 0.5 ? -size : size;
    }
    // Relative humidity falls as air warms: anti-correlated with the temperature swing.
    const humidity = clamp(this.humBase[d] - 1.8 * tempDeviation + 0.8 * gaussian(seed, d, t, Channel.HumNoise), 0, 100);
    const weather = 6 * sin((TWO_PI * t) / (3.3 * DAY_MS) + this.pressPhase[d]);
    const pressure = this.pressBase[d] + weather + 0.3 * gaussian(seed, d, t, Channel.PressNoise);
    // Batteries drain linearly and are swapped at 5 %: a sawtooth from 100 % down.
    const drained = (this.batteryStart[d] + (this.drainPerDay[d] * t) / DAY_MS) % 95;
    const battery = 100 - drained;
    const rssi = round(this.rssiBase[d] + 3 * gaussian(seed, d, t, Channel.RssiNoise));
    return { temperature_c: temperature, humidity_pct: humidity, pressure_hpa: pressure, battery_pct: battery, rssi_dbm: rssi };
  }
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
