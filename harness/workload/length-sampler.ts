/**
 * Token-length samplers: turn a LengthDist (scenario-types.ts) into a function that returns one
 * integer length per call, drawn from a seeded Rng.
 *
 * Every sample is clamp(round(x), min, max), where x is:
 *   fixed      value
 *   uniform    an integer uniform in [ceil(min), floor(max)], both inclusive
 *   normal     mean + stddev * Z
 *   lognormal  exp(mu + sigma * Z)
 *   empirical  values[i], i uniform over the values, or P(i) = weights[i] / sum(weights)
 * Out-of-range draws are clamped, never redrawn: that is what `fitLognormal` assumes when it
 * turns a mean and p90 into mu and sigma, so sampled lengths keep the mean and p90 asked for.
 */

import type { LengthDist } from '../scenario/scenario-types.ts';
import type { Rng } from './rng.ts';
import { clampedLognormalMean } from './lognormal-fit.ts';

/**
 * A sampler of integer token lengths in [dist.min, dist.max] for `dist`, drawing from `rng`
 * (pass a stream of its own, e.g. `rng.fork('prompt_tokens')`). Throws RangeError on a
 * distribution the scenario validator should have refused (min > max, empty values, bad weights).
 */
export function createLengthSampler(dist: LengthDist, rng: Rng): () => number {
  const { min, max } = dist;
  if (!(min <= max)) throw new RangeError(`length distribution needs min <= max, got [${min}, ${max}]`);
  const clamp = (x: number): number => {
    const r = Math.round(x);
    return r < min ? min : r > max ? max : r;
  };

  switch (dist.dist) {
    case 'fixed': {
      const v = clamp(dist.value);
      return () => v;
    }
    case 'uniform': {
      const lo = Math.ceil(min);
      const hi = Math.floor(max);
      if (lo > hi) throw new RangeError(`uniform length distribution has no integer in [${min}, ${max}]`);
      return () => rng.int(lo, hi);
    }
    case 'normal': {
      const { mean, stddev } = dist;
      return () => clamp(rng.normal(mean, stddev));
    }
    case 'lognormal': {
      const { mu, sigma } = dist;
      return () => clamp(Math.exp(mu + sigma * rng.normal()));
    }
    case 'empirical':
      return empiricalSampler(dist.values, dist.weights, clamp, rng);
  }
}

function empiricalSampler(
  values: readonly number[],
  weights: readonly number[] | undefined,
  clamp: (x: number) => number,
  rng: Rng,
): () => number {
  const n = values.length;
  if (n === 0) throw new RangeError('empirical length distribution has no values');
  const clamped = Float64Array.from(values, clamp);
  if (weights === undefined) return () => clamped[rng.int(0, n - 1)]!;

  if (weights.length !== n) {
    throw new RangeError(`empirical length distribution has ${n} values but ${weights.length} weights`);
  }
  // Cumulative weights; a draw u * total picks the first index whose cumulative weight exceeds it.
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`empirical weight ${i} must be finite and >= 0, got ${w}`);
    total += w;
    cumulative[i] = total;
  }
  if (!(total > 0)) throw new RangeError('empirical weights must not all be zero');
  return () => {
    const target = rng.next() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return clamped[lo]!;
  };
}

/** The mean of a length distribution as the sampler draws it (clamped to min and max). */
export function meanLength(d: LengthDist): number {
  switch (d.dist) {
    case 'fixed':
      return d.value;
    case 'uniform':
      return (d.min + d.max) / 2;
    case 'normal':
      return Math.min(Math.max(d.mean, d.min), d.max);
    case 'lognormal':
      return clampedLognormalMean(d.mu, d.sigma, d.min, d.max);
    case 'empirical':
      return d.values.length ? d.values.reduce((a, b) => a + Math.min(Math.max(b, d.min), d.max), 0) / d.values.length : 1;
  }
}
