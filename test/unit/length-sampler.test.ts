import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLengthSampler } from '../../harness/workload/length-sampler.ts';
import { fitLognormal } from '../../harness/workload/lognormal-fit.ts';
import { Rng } from '../../harness/workload/rng.ts';
import type { LengthDist } from '../../harness/scenario/scenario-types.ts';

function draws(dist: LengthDist, n: number, seed = 1): Float64Array {
  const next = createLengthSampler(dist, new Rng(seed).fork('lengths'));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out;
}

function mean(xs: Float64Array): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function sd(xs: Float64Array): number {
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

function quantile(xs: Float64Array, q: number): number {
  const sorted = Float64Array.from(xs).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function frequency(xs: Float64Array, v: number): number {
  let c = 0;
  for (const x of xs) if (x === v) c++;
  return c / xs.length;
}

function assertIntegersIn(xs: Float64Array, min: number, max: number): void {
  for (const x of xs) {
    assert.ok(Number.isInteger(x), `${x} is not an integer`);
    assert.ok(x >= min && x <= max, `${x} outside [${min}, ${max}]`);
  }
}

describe('createLengthSampler', () => {
  it('fixed: always the value, rounded and clamped', () => {
    assert.deepEqual([...draws({ dist: 'fixed', value: 128, min: 1, max: 4096 }, 5)], [128, 128, 128, 128, 128]);
    assert.deepEqual([...draws({ dist: 'fixed', value: 5000, min: 1, max: 4096 }, 2)], [4096, 4096]);
    assert.deepEqual([...draws({ dist: 'fixed', value: 3.6, min: 1, max: 10 }, 2)], [4, 4]);
  });

  it('uniform: integers in [min, max], both ends as likely as the middle, mean (min+max)/2', () => {
    const xs = draws({ dist: 'uniform', min: 10, max: 20 }, 50_000);
    assertIntegersIn(xs, 10, 20);
    assert.ok(Math.abs(mean(xs) - 15) < 0.1, `mean ${mean(xs)}`);
    for (const v of [10, 15, 20]) {
      const f = frequency(xs, v);
      assert.ok(Math.abs(f - 1 / 11) < 0.008, `P(${v}) = ${f}`);
    }
    assert.deepEqual([...draws({ dist: 'uniform', min: 7, max: 7 }, 3)], [7, 7, 7]);
  });

  it('normal: mean and sd, integers', () => {
    const xs = draws({ dist: 'normal', mean: 500, stddev: 100, min: 1, max: 10_000 }, 50_000);
    assertIntegersIn(xs, 1, 10_000);
    assert.ok(Math.abs(mean(xs) / 500 - 1) < 0.01, `mean ${mean(xs)}`);
    assert.ok(Math.abs(sd(xs) / 100 - 1) < 0.02, `sd ${sd(xs)}`);
  });

  it('normal: out-of-range draws are clamped (an atom at each bound), not redrawn', () => {
    const xs = draws({ dist: 'normal', mean: 100, stddev: 100, min: 50, max: 150 }, 50_000);
    assertIntegersIn(xs, 50, 150);
    // P(round(X) <= 50) = P(X < 50.5) = Phi(-0.495) = 0.3103, and the same at the top.
    assert.ok(Math.abs(frequency(xs, 50) - 0.3103) < 0.012, `P(50) = ${frequency(xs, 50)}`);
    assert.ok(Math.abs(frequency(xs, 150) - 0.3103) < 0.012, `P(150) = ${frequency(xs, 150)}`);
  });

  it('lognormal from fitLognormal(800, 2000, 1, 8000): sampled mean 800 and p90 2000 within 3%', () => {
    const fit = fitLognormal(800, 2000, 1, 8000);
    assert.ok(fit.ok);
    const xs = draws({ dist: 'lognormal', mu: fit.mu, sigma: fit.sigma, min: 1, max: 8000 }, 200_000);
    assertIntegersIn(xs, 1, 8000);
    assert.ok(Math.abs(mean(xs) / 800 - 1) < 0.03, `mean ${mean(xs)}`);
    const p90 = quantile(xs, 0.9);
    assert.ok(Math.abs(p90 / 2000 - 1) < 0.03, `p90 ${p90}`);
    // Clamped, not redrawn: P(X >= 7999.5) = 1 - Phi((ln 7999.5 - mu) / sigma) sits at 8000.
    const atTop = frequency(xs, 8000);
    assert.ok(atTop > 0.01 && atTop < 0.016, `P(8000) = ${atTop}`);
  });

  it('lognormal: clamps honoured at a tight range', () => {
    const xs = draws({ dist: 'lognormal', mu: Math.log(100), sigma: 2, min: 20, max: 300 }, 20_000);
    assertIntegersIn(xs, 20, 300);
    assert.ok(frequency(xs, 20) > 0.15 && frequency(xs, 300) > 0.15);
  });

  it('empirical: uniform over the values, duplicates counting twice', () => {
    const xs = draws({ dist: 'empirical', values: [100, 200, 300, 300], file: 'lens.txt', min: 1, max: 1000 }, 40_000);
    assert.ok(Math.abs(frequency(xs, 100) - 0.25) < 0.01);
    assert.ok(Math.abs(frequency(xs, 200) - 0.25) < 0.01);
    assert.ok(Math.abs(frequency(xs, 300) - 0.5) < 0.01);
  });

  it('empirical: by weights, a zero weight never drawn', () => {
    const xs = draws(
      { dist: 'empirical', values: [10, 20, 30, 40], weights: [1, 0, 3, 0], file: 'lens.csv', min: 1, max: 1000 },
      40_000,
    );
    assert.ok(Math.abs(frequency(xs, 10) - 0.25) < 0.01, `P(10) = ${frequency(xs, 10)}`);
    assert.equal(frequency(xs, 20), 0);
    assert.ok(Math.abs(frequency(xs, 30) - 0.75) < 0.01, `P(30) = ${frequency(xs, 30)}`);
    assert.equal(frequency(xs, 40), 0);
  });

  it('empirical: values rounded and clamped', () => {
    const xs = draws({ dist: 'empirical', values: [5, 49.6, 500], file: 'lens.json', min: 10, max: 100 }, 3_000);
    assert.deepEqual(new Set(xs), new Set([10, 50, 100]));
  });

  it('same seed, same lengths; another seed, other lengths', () => {
    const d: LengthDist = { dist: 'lognormal', mu: 6, sigma: 1, min: 1, max: 100_000 };
    assert.deepEqual(draws(d, 1000, 9), draws(d, 1000, 9));
    assert.notDeepEqual(draws(d, 1000, 9), draws(d, 1000, 10));
  });

  it('refuses distributions the validator should have refused', () => {
    const rng = new Rng(1);
    assert.throws(() => createLengthSampler({ dist: 'uniform', min: 10, max: 5 }, rng), RangeError);
    assert.throws(() => createLengthSampler({ dist: 'empirical', values: [], file: 'f', min: 1, max: 9 }, rng), RangeError);
    assert.throws(
      () => createLengthSampler({ dist: 'empirical', values: [1, 2], weights: [1], file: 'f', min: 1, max: 9 }, rng),
      RangeError,
    );
    assert.throws(
      () => createLengthSampler({ dist: 'empirical', values: [1, 2], weights: [0, 0], file: 'f', min: 1, max: 9 }, rng),
      RangeError,
    );
    assert.throws(
      () => createLengthSampler({ dist: 'empirical', values: [1, 2], weights: [1, -1], file: 'f', min: 1, max: 9 }, rng),
      RangeError,
    );
  });
});
