/**
 * Empirical CDFs for the report, summarised to at most `maxPoints` points whatever the number of
 * requests. With n values sorted, the CDF at x_i is (i + 1) / n. Up to `maxPoints` values every
 * value is a point; beyond, the points are the values at evenly spaced probabilities j / m plus
 * the tail (p99, p99.5, p99.9, p99.95, p99.99, ... while above 1/n of the top) and the minimum and
 * the maximum, each value taken by nearest rank: x(p) = sorted[ceil(p * n) - 1]. Equal values
 * keep their highest probability, so x is strictly increasing.
 */

export interface CdfPoints {
  /** Values (ms), increasing. */
  x: number[];
  /** P(X <= x), 0..1. */
  p: number[];
  /** How many values the CDF is of. */
  n: number;
}

export const MAX_CDF_POINTS = 500;

const TAIL = [0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999];

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function cdfPoints(values: Iterable<number | null | undefined>, maxPoints = MAX_CDF_POINTS): CdfPoints | null {
  const arr: number[] = [];
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) arr.push(v);
  const n = arr.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(arr).sort();
  const probs: number[] = [];
  if (n <= maxPoints) {
    for (let i = 0; i < n; i++) probs.push((i + 1) / n);
  } else {
    const tail = TAIL.filter((p) => 1 - p > 1 / n);
    const m = Math.max(2, maxPoints - tail.length - 2);
    probs.push(1 / n);
    for (let j = 1; j <= m; j++) probs.push(j / m);
    probs.push(...tail, 1);
    probs.sort((a, b) => a - b);
  }
  const x: number[] = [];
  const p: number[] = [];
  for (const prob of probs) {
    const rank = Math.min(n, Math.max(1, Math.ceil(prob * n - 1e-9)));
    const v = round(sorted[rank - 1]!, 3);
    const pr = round(rank / n, 6);
    if (x.length && x[x.length - 1] === v) {
      p[p.length - 1] = Math.max(p[p.length - 1]!, pr);
    } else if (!x.length || v > x[x.length - 1]!) {
      x.push(v);
      p.push(pr);
    }
  }
  return { x, p, n };
}
