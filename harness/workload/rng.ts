/**
 * The seeded pseudo-random number generator behind every random choice in a plan.
 *
 * Core: xoshiro128** (Blackman & Vigna, 2018): 128-bit state, period 2^128 - 1, 32-bit outputs,
 * all arithmetic in 32-bit integers (Math.imul), so the integer stream is bit-identical on every
 * machine. Doubles in [0, 1) take 53 bits from two outputs: (a >>> 5) * 2^26 + (b >>> 6), / 2^53.
 * Derived samples use Math.log / Math.sqrt, which V8 computes with its bundled fdlibm port, so
 * they are identical across machines for a given Node.js major version.
 *
 * Seeding: an integer seed (any safe integer, negatives as 64-bit two's complement) is split into
 * 32-bit halves lo, hi and spread into a 128-bit *key* with the murmur3 finaliser fmix32 (a
 * bijection, so distinct seeds give distinct keys). The generator state is derived from the key.
 *
 * Streams: `fork(label)` derives a child key from the parent's *key* and a murmur3-style hash of
 * the label (four differently-seeded 32-bit hashes, 128 bits in all), never from the parent's
 * current state. So a fork's numbers depend only on (seed, path of labels): drawing more numbers
 * from one stream, or adding a new fork, never shifts the numbers of another.
 *
 * Distributions:
 *   normal      Marsaglia polar method (pairs; the second value is kept for the next call).
 *   exponential -mean * ln(1 - U), U in [0, 1).
 *   gamma       Marsaglia & Tsang (2000): d = k - 1/3, c = 1/sqrt(9d), X = d(1 + cZ)^3, accepted
 *               when ln U < Z^2/2 + d(1 - V + ln V) (with the squeeze U < 1 - 0.0331 Z^4 first);
 *               for k < 1, Gamma(k) = Gamma(k + 1) * U^(1/k).
 */

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** Rotate a 32-bit integer left by k bits. */
export function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** murmur3 32-bit finaliser: a bijection on 32-bit integers with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3-style 32-bit hash of a string's UTF-16 code units, one code unit per block. */
function hashLabel(label: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < label.length; i++) {
    let k = Math.imul(label.charCodeAt(i), 0xcc9e2d51);
    k = rotl(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= label.length;
  return fmix32(h);
}

type Key = readonly [number, number, number, number];

function keyFromSeed(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
  const b = BigInt.asUintN(64, BigInt(seed));
  const lo = Number(b & 0xffffffffn);
  const hi = Number(b >> 32n);
  const k0 = fmix32(lo ^ 0x9e3779b9);
  const k1 = fmix32(hi ^ 0x7f4a7c15);
  const k2 = fmix32(k0 ^ rotl(k1, 16) ^ 0x6a09e667);
  const k3 = fmix32((Math.imul(k0, 0x2545f491) + k1) ^ 0xbb67ae85);
  return [k0, k1, k2, k3];
}

function childKey(key: Key, label: string): Key {
  return [
    hashLabel(label, key[0] ^ fmix32(key[1] ^ 0x243f6a88)),
    hashLabel(label, key[1] ^ fmix32(key[2] ^ 0x85a308d3)),
    hashLabel(label, key[2] ^ fmix32(key[3] ^ 0x13198a2e)),
    hashLabel(label, key[3] ^ fmix32(key[0] ^ 0x03707344)),
  ];
}

/**
 * A seeded, forkable pseudo-random number generator (xoshiro128**). Same seed, same sequence,
 * on every machine. Not for cryptography.
 *
 * @example
 * const rng = new Rng(42);
 * const prompts = rng.fork('prompt_tokens');
 * const arrivals = rng.fork('arrivals');
 */
export class Rng {
  private readonly key: Key;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second value of the last polar-method pair, or NaN when none is pending. */
  private spare = Number.NaN;

  /** @param seed any safe integer (negative allowed); throws RangeError otherwise. */
  constructor(seed: number);
  /** @internal */
  constructor(seed: number, key: Key);
  constructor(seed: number, key?: Key) {
    this.key = key ?? keyFromSeed(seed);
    this.s0 = fmix32(this.key[0] ^ 0xa54ff53a);
    this.s1 = fmix32(this.key[1] ^ 0x510e527f);
    this.s2 = fmix32(this.key[2] ^ 0x9b05688c);
    this.s3 = fmix32(this.key[3] ^ 0x1f83d9ab);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /**
   * A generator started from a raw xoshiro128** state, bypassing seeding; for checking the core
   * against the reference implementation's output. Its forks derive from the state words.
   */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    const r = new Rng(0, [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0]);
    r.s0 = s0 | 0;
    r.s1 = s1 | 0;
    r.s2 = s2 | 0;
    r.s3 = s3 | 0;
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) throw new RangeError('xoshiro128** state must not be all zero');
    return r;
  }

  /** Next raw 32-bit output, an integer in [0, 2^32). */
  uint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * TWO_POW_26 + b) / TWO_POW_53;
  }

  /** Uniform integer in [lo, hi], both inclusive; lo and hi must be safe integers, lo <= hi. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) {
      throw new RangeError(`Rng.int needs integers lo <= hi, got [${lo}, ${hi}]`);
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Normal (Gaussian) sample with the given mean and standard deviation. */
  normal(mean = 0, sd = 1): number {
    let z = this.spare;
    if (z === z) {
      this.spare = Number.NaN;
    } else {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = 2 * this.next() - 1;
        v = 2 * this.next() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      z = u * f;
      this.spare = v * f;
    }
    return mean + sd * z;
  }

  /** Exponential sample with the given mean (rate 1/mean); never negative, never infinite. */
  exponential(mean = 1): number {
    return -mean * Math.log(1 - this.next());
  }

  /**
   * Gamma sample with shape k > 0 and scale theta (mean k*theta, variance k*theta^2,
   * coefficient of variation 1/sqrt(k)).
   */
  gamma(shape: number, scale = 1): number {
    if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`Rng.gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      // Boost: Gamma(k) = Gamma(k + 1) * U^(1/k); 1 - next() is in (0, 1], so never 0^(1/k) = 0 by U.
      const g = this.gammaAtLeastOne(shape + 1);
      return scale * g * Math.pow(1 - this.next(), 1 / shape);
    }
    return scale * this.gammaAtLeastOne(shape);
  }

  private gammaAtLeastOne(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next(); // (0, 1]: ln u is finite
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /**
   * An independent stream derived from this generator's seed (not its current state) and
   * `label`. Same seed and label path, same stream, however many numbers were drawn elsewhere.
   */
  fork(label: string): Rng {
    return new Rng(0, childKey(this.key, label));
  }
}
