/** The seeded bootstrap behind `harness compare` and `gate`: deterministic, and its intervals cover. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../harness/workload/rng.ts';
import {
  bootMeans,
  bootPairedSeriesMeans,
  bootPercentile,
  drawsOf,
  percentileInterval,
  percentileSorted,
} from '../../harness/compare/bootstrap.ts';

function normalSample(seed: number, n: number, mean: number, sd: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal(mean, sd)).sort();
}

function pDiffInterval(a: Float64Array, b: Float64Array, p: number, seed: number): [number, number] {
  const rng = new Rng(seed);
  const d = drawsOf(percentileSorted(a, p), percentileSorted(b, p), bootPercentile(a, p, 2000, rng), bootPercentile(b, p, 2000, rng));
  return percentileInterval(d.diff)!;
}

test('the bootstrap is deterministic for a seed, and another seed gives other draws', () => {
  const a = normalSample(1, 500, 100, 10);
  assert.deepEqual(bootPercentile(a, 95, 200, new Rng(7)), bootPercentile(a, 95, 200, new Rng(7)));
  assert.notDeepEqual(bootPercentile(a, 95, 200, new Rng(7)), bootPercentile(a, 95, 200, new Rng(8)));
  const cols = [Float64Array.from(a)];
  assert.deepEqual(bootMeans(cols, 100, new Rng(3)), bootMeans(cols, 100, new Rng(3)));
});

test('order-statistic percentile draws match brute-force resampling', () => {
  const a = normalSample(2, 300, 50, 5);
  const fast = bootPercentile(a, 90, 4000, new Rng(1));
  const rng = new Rng(2);
  const slow = new Float64Array(4000);
  for (let r = 0; r < slow.length; r++) {
    const s = Float64Array.from({ length: a.length }, () => a[Math.floor(rng.next() * a.length)]!).sort();
    slow[r] = percentileSorted(s, 90);
  }
  const mean = (v: Float64Array) => v.reduce((x, y) => x + y, 0) / v.length;
  const sd = (v: Float64Array) => Math.sqrt(v.reduce((x, y) => x + (y - mean(v)) ** 2, 0) / v.length);
  assert.ok(Math.abs(mean(fast) - mean(slow)) < 0.1, `${mean(fast)} vs ${mean(slow)}`);
  assert.ok(Math.abs(sd(fast) / sd(slow) - 1) < 0.1, `${sd(fast)} vs ${sd(slow)}`);
});

test('percentile intervals cover the true difference in most repetitions, and contain 0 for equal distributions', () => {
  let covered = 0;
  let zero = 0;
  const reps = 40;
  for (let i = 0; i < reps; i++) {
    const a = normalSample(100 + i, 1000, 100, 10);
    const b = normalSample(200 + i, 1000, 105, 10);
    const [lo, hi] = pDiffInterval(a, b, 50, i);
    if (lo <= 5 && 5 <= hi) covered++;
    const c = normalSample(300 + i, 1000, 100, 10);
    const [zl, zh] = pDiffInterval(a, c, 95, i);
    if (zl <= 0 && 0 <= zh) zero++;
  }
  // 95% intervals: expect about 38 of 40; allow sampling slack.
  assert.ok(covered >= 34, `covered ${covered}/${reps}`);
  assert.ok(zero >= 34, `zero inside ${zero}/${reps}`);
  // A shift of 5 sd/2 with n = 1000 is far outside noise.
  const [lo] = pDiffInterval(normalSample(1, 1000, 100, 10), normalSample(2, 1000, 105, 10), 50, 1);
  assert.ok(lo > 0);
});

test('means: exact resampling and the normal approximation give intervals that cover', () => {
  const a = normalSample(5, 2000, 10, 2);
  const b = normalSample(6, 2000, 10.5, 2);
  for (const resamples of [1000, 20_000]) {
    // 2000 x 20000 draws is past EXACT_MEAN_DRAWS: the normal path.
    const ma = bootMeans([a], resamples, new Rng(1))[0]!;
    const mb = bootMeans([b], resamples, new Rng(2))[0]!;
    const [lo, hi] = percentileInterval(drawsOf(0, 0, ma, mb).diff)!;
    assert.ok(lo < 0.5 && 0.5 < hi, `[${lo}, ${hi}] (${resamples})`);
    assert.ok(lo > 0, 'a 0.5 shift is beyond noise at n = 2000');
  }
});

test('means skip NaN rows and proportions work as 0/1 means', () => {
  const col = Float64Array.from([1, Number.NaN, 3]);
  const [m] = bootMeans([col], 50, new Rng(1));
  for (const v of m!) assert.ok(Number.isNaN(v) || (v >= 1 && v <= 3), String(v));
  assert.ok(m!.some((v) => v > 1 && v < 3 && v !== 2), 'mixed resamples');
  const zeros = new Float64Array(100);
  const [z] = bootMeans([zeros], 50, new Rng(1));
  assert.deepEqual(percentileInterval(z!), [0, 0]);
});

test('paired block bootstrap: identical series give a zero interval; a shift is found', () => {
  const rng = new Rng(9);
  const a = Float64Array.from({ length: 70 }, (_, i) => (i >= 30 && i < 40 ? 50 : 5) + rng.normal(0, 1));
  const same = bootPairedSeriesMeans(a, a, 500, new Rng(1));
  assert.deepEqual(percentileInterval(drawsOf(0, 0, same.a, same.b).diff), [0, 0]);
  const b = a.map((v) => v * 0.8);
  const shifted = bootPairedSeriesMeans(a, b, 500, new Rng(1));
  const [, hi] = percentileInterval(drawsOf(0, 0, shifted.a, shifted.b).rel)!;
  assert.ok(hi < 0);
});
