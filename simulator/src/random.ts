// Counter-based randomness: every random number is a hash of (seed, device, time, channel).
// A reading therefore depends only on those inputs, never on how fast or in which order the
// fleet is swept, which makes runs with the same SIM_SEED identical and lets any device
// be computed at any time without per-device mutable state.

// Local bindings of the Math functions on the hot path: a module-level const is resolved once,
// while a global lookup costs a property access each call (and is very slow inside test sandboxes).
const imul = Math.imul;
const floor = Math.floor;
const SQRT3 = Math.sqrt(3);

function mix32(h: number): number {
  // murmur3 fmix32 finaliser: a cheap avalanche of all input bits.
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform number in [0, 1) for the given coordinates. `time` may exceed 32 bits (milliseconds since epoch). */
export function uniform(seed: number, device: number, time: number, channel: number): number {
  const low = time >>> 0;
  const high = floor(time / 4_294_967_296) >>> 0;
  let h = mix32(seed ^ imul(channel + 1, 0x9e3779b1));
  h = mix32(h ^ imul(device + 1, 0x85ebca77));
  h = mix32(h ^ low);
  h = mix32(h ^ imul(high + 1, 0x27d4eb2f));
  return h / 4_294_967_296;
}

/** Approximately standard-normal number (Irwin–Hall with four terms, rescaled to unit variance). */
export function gaussian(seed: number, device: number, time: number, channel: number): number {
  const sum =
    uniform(seed, device, time, channel) +
    uniform(seed, device, time, channel + 101) +
    uniform(seed, device, time, channel + 202) +
    uniform(seed, device, time, channel + 303);
  // Four U(0,1) have mean 2 and variance 1/3.
  return (sum - 2) * SQRT3;
}
