import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../harness/workload/rng.ts';

function draw(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

function stats(xs: ArrayLike<number>): { mean: number; sd: number } {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i]!;
  const mean = sum / xs.length;
  let ss = 0;
  for (let i = 0; i < xs.length; i++) ss += (xs[i]! - mean) ** 2;
  return { mean, sd: Math.sqrt(ss / (xs.length - 1)) };
}

function sample(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

/** Pearson correlation of two equal-length sequences. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sa = stats(a);
  const sb = stats(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i]! - sa.mean) * (b[i]! - sb.mean);
  return c / (a.length - 1) / (sa.sd * sb.sd);
}

describe('Rng core', () => {
  it('matches the xoshiro128** reference output for state {1, 2, 3, 4}', () => {
    const r = Rng.fromState(1, 2, 3, 4);
    assert.deepEqual(draw(r, 8), [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  });

  it('pins the seeding: seed 42 gives the same first outputs on every machine', () => {
    // Changing these numbers changes every plan ever generated from a seed: do it on purpose only.
    assert.deepEqual(draw(new Rng(42), 4), [816730408, 156535803, 3787592256, 2753871212]);
  });

  it('same seed, same sequence; different seeds differ', () => {
    assert.deepEqual(draw(new Rng(7), 1000), draw(new Rng(7), 1000));
    assert.notDeepEqual(draw(new Rng(7), 16), draw(new Rng(8), 16));
    assert.notDeepEqual(draw(new Rng(0), 16), draw(new Rng(-1), 16));
    assert.notDeepEqual(draw(new Rng(1), 16), draw(new Rng(2 ** 32 + 1), 16));
  });

  it('derived distributions are deterministic too', () => {
    const a = new Rng(99);
    const b = new Rng(99);
    for (let i = 0; i < 1000; i++) {
      assert.equal(a.normal(), b.normal());
      assert.equal(a.gamma(0.3), b.gamma(0.3));
      assert.equal(a.exponential(2), b.exponential(2));
      assert.equal(a.int(-5, 5), b.int(-5, 5));
    }
  });

  it('refuses seeds that are not safe integers', () => {
    assert.throws(() => new Rng(1.5), RangeError);
    assert.throws(() => new Rng(Number.NaN), RangeError);
    assert.throws(() => new Rng(2 ** 60), RangeError);
  });
});

describe('Rng.fork', () => {
  it('is stable: same seed and label, same stream', () => {
    assert.deepEqual(draw(new Rng(5).fork('arrivals'), 100), draw(new Rng(5).fork('arrivals'), 100));
  });

  it('depends on the seed, not on how much the parent or other forks have drawn', () => {
    const fresh = draw(new Rng(5).fork('prompt_tokens'), 100);
    const busy = new Rng(5);
    busy.next();
    draw(busy, 1000);
    const other = busy.fork('arrivals');
    draw(other, 1000);
    assert.deepEqual(draw(busy.fork('prompt_tokens'), 100), fresh);
  });

  it('does not consume the parent stream', () => {
    const a = new Rng(11);
    const b = new Rng(11);
    a.fork('x');
    a.fork('y');
    assert.deepEqual(draw(a, 100), draw(b, 100));
  });

  it('gives different streams for different labels, seeds and label paths', () => {
    const r = new Rng(5);
    const first = (x: Rng) => draw(x, 4).join(',');
    const seen = new Set<string>([
      first(r),
      first(r.fork('a')),
      first(r.fork('b')),
      first(r.fork('ab')),
      first(r.fork('a').fork('b')),
      first(r.fork('b').fork('a')),
      first(new Rng(6).fork('a')),
      first(r.fork('')),
    ]);
    assert.equal(seen.size, 8);
  });

  it('gives 10,000 distinct streams for user-0 .. user-9999', () => {
    const r = new Rng(3).fork('users');
    const seen = new Set<string>();
    for (let u = 0; u < 10_000; u++) seen.add(draw(r.fork(`user-${u}`), 2).join(','));
    assert.equal(seen.size, 10_000);
  });

  it('forked streams are uncorrelated with each other and with the parent', () => {
    const n = 50_000;
    const r = new Rng(2024);
    const parent = sample(n, () => r.next());
    const a = sample(n, ((x) => () => x.next())(r.fork('user-1')));
    const b = sample(n, ((x) => () => x.next())(r.fork('user-2')));
    // Standard error of r for independent streams is 1/sqrt(n) = 0.0045.
    assert.ok(Math.abs(correlation(a, b)) < 0.02, `corr(a, b) = ${correlation(a, b)}`);
    assert.ok(Math.abs(correlation(parent, a)) < 0.02, `corr(parent, a) = ${correlation(parent, a)}`);
  });
});

describe('Rng distributions', () => {
  it('next() is uniform on [0, 1): mean and chi-square over 20 bins', () => {
    const rng = new Rng(1);
    const n = 100_000;
    const bins = new Array<number>(20).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      assert.ok(u >= 0 && u < 1);
      sum += u;
      bins[Math.floor(u * 20)]!++;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
    const expected = n / 20;
    const chi2 = bins.reduce((acc, o) => acc + (o - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: P(chi2 > 43.82) = 0.001.
    assert.ok(chi2 < 43.82, `chi-square ${chi2}`);
  });

  it('int(lo, hi) is inclusive and uniform', () => {
    const rng = new Rng(2);
    const n = 60_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const v = rng.int(1, 6);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [1, 2, 3, 4, 5, 6]);
    const chi2 = [...counts.values()].reduce((acc, o) => acc + (o - n / 6) ** 2 / (n / 6), 0);
    assert.ok(chi2 < 20.52, `chi-square ${chi2}`); // 5 df, p = 0.001
    assert.equal(rng.int(4, 4), 4);
    assert.throws(() => rng.int(3, 2), RangeError);
    assert.throws(() => rng.int(0.5, 2), RangeError);
  });

  it('normal(mean, sd) has that mean, sd and the 68% rule', () => {
    const rng = new Rng(3);
    const xs = sample(100_000, () => rng.normal(10, 3));
    const s = stats(xs);
    assert.ok(Math.abs(s.mean - 10) < 0.05, `mean ${s.mean}`);
    assert.ok(Math.abs(s.sd / 3 - 1) < 0.01, `sd ${s.sd}`);
    const within = xs.filter((x) => Math.abs(x - 10) < 3).length / xs.length;
    assert.ok(Math.abs(within - 0.6827) < 0.006, `P(|Z| < 1) = ${within}`);
  });

  it('exponential(mean) has that mean and CV 1', () => {
    const rng = new Rng(4);
    const s = stats(sample(100_000, () => rng.exponential(2.5)));
    assert.ok(Math.abs(s.mean / 2.5 - 1) < 0.02, `mean ${s.mean}`);
    assert.ok(Math.abs(s.sd / s.mean - 1) < 0.03, `cv ${s.sd / s.mean}`);
  });

  for (const shape of [0.25, 0.5, 1, 4]) {
    it(`gamma(${shape}, 2) has mean ${2 * shape} and CV 1/sqrt(${shape})`, () => {
      const rng = new Rng(5).fork(`gamma-${shape}`);
      const xs = sample(400_000, () => rng.gamma(shape, 2));
      const s = stats(xs);
      assert.ok(xs.every((x) => x >= 0 && Number.isFinite(x)));
      assert.ok(Math.abs(s.mean / (2 * shape) - 1) < 0.03, `mean ${s.mean}`);
      const cv = s.sd / s.mean;
      assert.ok(Math.abs(cv * Math.sqrt(shape) - 1) < 0.04, `cv ${cv}, want ${1 / Math.sqrt(shape)}`);
    });
  }

  it('gamma refuses a non-positive shape', () => {
    assert.throws(() => new Rng(1).gamma(0), RangeError);
    assert.throws(() => new Rng(1).gamma(-1), RangeError);
  });
});
