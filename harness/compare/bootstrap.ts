/**
 * Seeded bootstrap intervals for the difference between two runs (B - A) of one statistic:
 * a percentile, a mean (or a proportion: the mean of 0/1 values), or the mean of a per-second
 * series. Every function is deterministic for a given seed (harness/workload/rng.ts).
 *
 * How each statistic is resampled (runs are independent samples; 95% percentile intervals):
 * - Percentile p of n sorted values, nearest rank k = ceil(p/100 * n): in a resample of n draws
 *   with replacement, the k-th smallest *drawn index* is floor(n * U(k)), where U(k), the k-th
 *   order statistic of n uniforms, is Beta(k, n - k + 1). Since the values are sorted, the
 *   resample's percentile is sorted[floor(n * U(k))]: the exact bootstrap distribution in O(1)
 *   per resample, whatever n (no copying, no selection).
 * - Mean (and proportion): resampled for real (n draws per resample, all the run's means from
 *   one set of indices) while n * resamples <= EXACT_MEAN_DRAWS; past that, the bootstrap
 *   distribution of a mean is normal to within the resampling noise itself (central limit
 *   theorem), so it is drawn as Normal(mean, sd / sqrt(n)).
 * - Per-second series (throughput, goodput rate): a paired moving-block bootstrap. Second i of A
 *   and second i of B (each counted from the start of its measurement) are kept together, and
 *   blocks of `blockLength(T)` consecutive seconds are drawn with replacement: the pairing removes
 *   the load shape the runs share (a spike is in both), the blocks keep neighbouring seconds'
 *   dependence.
 */
import { Rng } from '../workload/rng.ts';

/** Above this many draws per run (n * resamples), means use the normal approximation. */
export const EXACT_MEAN_DRAWS = 20_000_000;

/** Default number of resamples and confidence level. */
export const DEFAULT_RESAMPLES = 2000;
export const DEFAULT_CONFIDENCE = 0.95;

/** A bootstrap distribution of (B - A) and of (B / A - 1), and the sample's own values. */
export interface BootDraws {
  /** Statistic of A and of B on the full samples. */
  a: number;
  b: number;
  /** Resampled B - A. */
  diff: Float64Array;
  /** Resampled B / A - 1 (NaN where the resampled A is 0). */
  rel: Float64Array;
}

/** Interval [lo, hi] of a sample at `confidence` (percentile method; NaNs ignored). */
export function percentileInterval(draws: Float64Array, confidence = DEFAULT_CONFIDENCE): [number, number] | null {
  const v = Float64Array.from(draws.filter((x) => Number.isFinite(x))).sort();
  if (v.length === 0) return null;
  const tail = (1 - confidence) / 2;
  return [quantileSorted(v, tail), quantileSorted(v, 1 - tail)];
}

/** Linear-interpolated quantile q (0..1) of sorted values. */
export function quantileSorted(v: Float64Array, q: number): number {
  const pos = q * (v.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < v.length ? v[i]! * (1 - f) + v[i + 1]! * f : v[i]!;
}

/** Nearest-rank percentile p (0..100) of sorted values; NaN when empty. */
export function percentileSorted(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const k = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[k - 1]!;
}

/** Beta(a, b) from two gammas. */
function beta(rng: Rng, a: number, b: number): number {
  const x = rng.gamma(a);
  const y = rng.gamma(b);
  return x / (x + y);
}

/** Resampled nearest-rank percentile p of sorted values, `resamples` times (see the header). */
export function bootPercentile(sorted: Float64Array, p: number, resamples: number, rng: Rng): Float64Array {
  const n = sorted.length;
  const out = new Float64Array(resamples);
  if (n === 0) return out.fill(Number.NaN);
  const k = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  for (let r = 0; r < resamples; r++) {
    const u = n === 1 ? 0 : beta(rng, k, n - k + 1);
    out[r] = sorted[Math.min(n - 1, Math.floor(u * n))]!;
  }
  return out;
}

/**
 * Resampled means of several columns that share their rows (one request per row; NaN = the row
 * has no value in that column, left out of that column's mean). Returns one Float64Array of
 * `resamples` means per column (NaN when a resample has no value in the column).
 */
export function bootMeans(columns: readonly Float64Array[], resamples: number, rng: Rng): Float64Array[] {
  const n = columns[0]?.length ?? 0;
  const out = columns.map(() => new Float64Array(resamples));
  if (n === 0) {
    for (const o of out) o.fill(Number.NaN);
    return out;
  }
  if (n * resamples <= EXACT_MEAN_DRAWS) {
    const sums = new Float64Array(columns.length);
    const counts = new Float64Array(columns.length);
    for (let r = 0; r < resamples; r++) {
      sums.fill(0);
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        // 32 random bits scaled to [0, n): bias under n / 2^32, far below resampling noise.
        const j = Math.floor((rng.uint32() / 4294967296) * n);
        for (let c = 0; c < columns.length; c++) {
          const v = columns[c]![j]!;
          if (v === v) {
            sums[c] = sums[c]! + v;
            counts[c] = counts[c]! + 1;
          }
        }
      }
      for (let c = 0; c < columns.length; c++) out[c]![r] = counts[c]! > 0 ? sums[c]! / counts[c]! : Number.NaN;
    }
    return out;
  }
  for (let c = 0; c < columns.length; c++) {
    const { mean, sd, count } = meanSd(columns[c]!);
    const se = count > 0 ? sd / Math.sqrt(count) : Number.NaN;
    for (let r = 0; r < resamples; r++) out[c]![r] = count > 0 ? rng.normal(mean, se) : Number.NaN;
  }
  return out;
}

/** Mean, sample standard deviation and count of the non-NaN values. */
export function meanSd(v: Float64Array): { mean: number; sd: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const x of v) {
    if (x === x) {
      sum += x;
      count++;
    }
  }
  if (count === 0) return { mean: Number.NaN, sd: Number.NaN, count: 0 };
  const mean = sum / count;
  let ss = 0;
  for (const x of v) if (x === x) ss += (x - mean) * (x - mean);
  return { mean, sd: count > 1 ? Math.sqrt(ss / (count - 1)) : 0, count };
}

/** Block length of the moving-block bootstrap for a series of T seconds: ceil(T^(1/3)), at least 2. */
export function blockLength(t: number): number {
  return Math.max(2, Math.ceil(Math.cbrt(t)));
}

/**
 * Paired moving-block bootstrap of the means of two per-second series over their common length
 * (see the header). Returns the resampled means of A and of B.
 */
export function bootPairedSeriesMeans(a: Float64Array, b: Float64Array, resamples: number, rng: Rng): { a: Float64Array; b: Float64Array } {
  const t = Math.min(a.length, b.length);
  const outA = new Float64Array(resamples);
  const outB = new Float64Array(resamples);
  if (t === 0) return { a: outA.fill(Number.NaN), b: outB.fill(Number.NaN) };
  const len = Math.min(t, blockLength(t));
  const starts = t - len + 1;
  for (let r = 0; r < resamples; r++) {
    let sa = 0;
    let sb = 0;
    let taken = 0;
    while (taken < t) {
      const s = Math.floor((rng.uint32() / 4294967296) * starts);
      for (let i = s; i < s + len && taken < t; i++, taken++) {
        sa += a[i]!;
        sb += b[i]!;
      }
    }
    outA[r] = sa / t;
    outB[r] = sb / t;
  }
  return { a: outA, b: outB };
}

/** Combine resampled statistics of A and B (independent, or paired row by row) into BootDraws. */
export function drawsOf(a: number, b: number, bootA: Float64Array, bootB: Float64Array): BootDraws {
  const n = Math.min(bootA.length, bootB.length);
  const diff = new Float64Array(n);
  const rel = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    diff[i] = bootB[i]! - bootA[i]!;
    rel[i] = bootA[i]! !== 0 ? bootB[i]! / bootA[i]! - 1 : Number.NaN;
  }
  return { a, b, diff, rel };
}
