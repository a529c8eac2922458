// Counter-based randomness: every random number is derived from (seed, device, time, channel).
// A reading therefore depends only on those inputs, never on how fast or in which order the
// fleet is swept, which makes runs with the same SIM_SEED identical and lets any device be
// computed at any time without per-device mutable state.
//
// Two tools: `uniform` hashes its coordinates (for per-device constants and fault windows), and a
// reading's many noise values come from a short stream seeded by one such hash (`seedStream` then
// `next`/`normal`), which costs a few integer operations per number instead of a full hash.

// Local bindings of the Math functions on the hot path: a module-level const is resolved once,
// while a global lookup costs a property access each call (and is very slow inside test sandboxes).
const imul = Math.imul;
const floor = Math.floor;
const SQRT6 = Math.sqrt(6);
const TO_UNIT = 1 / 4_294_967_296;

function mix32(h: number): number {
  // murmur3 fmix32 finaliser: a cheap avalanche of all input bits.
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash(seed: number, device: number, time: number, channel: number): number {
  const low = time >>> 0;
  const high = floor(time / 4_294_967_296) >>> 0;
  let h = mix32(seed ^ imul(channel + 1, 0x9e3779b1));
  h = mix32(h ^ imul(device + 1, 0x85ebca77));
  h = mix32(h ^ low);
  return mix32(h ^ imul(high + 1, 0x27d4eb2f));
}

/** Uniform number in [0, 1) for the given coordinates. `time` may exceed 32 bits (milliseconds since epoch). */
export function uniform(seed: number, device: number, time: number, channel: number): number {
  return hash(seed, device, time, channel) * TO_UNIT;
}

// The stream: mulberry32 over a module-level state. Single-threaded and used only between a
// seedStream() and the values drawn right after it, so sharing the state is safe.
let state = 0;

/** Starts the stream of one reading; the same arguments always give the same sequence. */
export function seedStream(seed: number, device: number, time: number, channel: number): void {
  state = hash(seed, device, time, channel) | 0;
}

/** Next uniform number in [0, 1) of the current stream. */
export function next(): number {
  state = (state + 0x6d2b79f5) | 0;
  let z = state;
  z = imul(z ^ (z >>> 15), z | 1);
  z ^= z + imul(z ^ (z >>> 7), z | 61);
  return ((z ^ (z >>> 14)) >>> 0) * TO_UNIT;
}

/**
 * Bell-shaped noise of unit variance from the stream: the sum of two uniforms (a triangular
 * distribution). Sensor noise needs no gaussian tails, and two draws cost half of four.
 */
export function normal(): number {
  // Two U(0,1) have mean 1 and variance 1/6.
  return (next() + next() - 1) * SQRT6;
}
