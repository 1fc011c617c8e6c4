/**
 * LatencyHistogram (harness/metrics/latency-histogram.ts): percentiles within 0.1% of the exact
 * nearest-rank value, exact count/mean/min/max, exact merge and encode/decode.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, type LatencyStats } from '../../harness/metrics/latency-histogram.ts';
import { Rng } from '../../harness/workload/rng.ts';

const PCTS = [50, 90, 95, 99] as const;

/** Nearest-rank percentile of sorted values (what an HDR histogram approximates). */
function exactPercentile(sorted: readonly number[], p: number): number {
  // Rounded first so that floating-point noise (0.999 * 50000 = 49950.000000000007) does not
  // push the rank up by one.
  const rank = Math.max(1, Math.ceil(Number(((p / 100) * sorted.length).toFixed(6))));
  return sorted[rank - 1]!;
}

/** 0.1% relative, plus half a microsecond for the rounding to microseconds. */
function assertWithin(actual: number | null, exact: number, label: string): void {
  assert.ok(actual !== null, `${label}: null`);
  const tol = exact * 0.001 + 0.0005;
  assert.ok(Math.abs(actual - exact) <= tol, `${label}: ${actual} vs exact ${exact} (tolerance ${tol})`);
}

function fill(values: readonly number[], digits?: number): LatencyHistogram {
  const h = new LatencyHistogram(digits);
  for (const v of values) h.record(v);
  return h;
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** 1..100000 microseconds, as ms, shuffled so recording order does not matter. */
function microsecondRange(): number[] {
  const xs = Array.from({ length: 100_000 }, (_, i) => (i + 1) / 1000);
  const rng = new Rng(3);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** A lognormal latency sample (median ~ 150 ms, long right tail), in ms. */
function lognormalSample(seed: number, n: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Math.exp(Math.log(150) + 0.9 * rng.normal()));
}

function checkAgainstExact(values: readonly number[], label: string): void {
  const h = fill(values);
  const sorted = [...values].sort((a, b) => a - b);
  for (const p of [...PCTS, 10, 25, 75, 99.9]) assertWithin(h.percentile(p), exactPercentile(sorted, p), `${label} p${p}`);
  const s = h.stats();
  assert.equal(s.count, values.length);
  for (const p of PCTS) assertWithin(s[`p${p}`], exactPercentile(sorted, p), `${label} stats.p${p}`);
  assert.equal(s.min, sorted[0]);
  assert.equal(s.max, sorted[sorted.length - 1]);
  assert.equal(s.mean, sum(values) / values.length);
}

describe('LatencyHistogram statistics', () => {
  test('1..100000 us: percentiles within 0.1%, mean/min/max exact', () => {
    const xs = microsecondRange();
    checkAgainstExact(xs, 'range');
    const s = fill(xs).stats();
    assert.equal(s.min, 0.001);
    assert.equal(s.max, 100);
    assert.ok(Math.abs(s.mean! - 50.0005) < 1e-9);
  });

  test('lognormal sample from the seeded Rng: percentiles within 0.1%, mean/min/max exact', () => {
    checkAgainstExact(lognormalSample(11, 50_000), 'lognormal');
  });

  test('values spanning sub-ms to minutes', () => {
    const rng = new Rng(5);
    const xs = Array.from({ length: 20_000 }, () => Math.exp(rng.next() * Math.log(600_000)));
    checkAgainstExact(xs, 'wide');
  });

  test('percentiles never fall outside [min, max]', () => {
    const h = fill([123.4567]);
    for (const p of [0, 1, 50, 99, 100]) assert.equal(h.percentile(p), 123.4567);
    const two = fill([10.0001, 10.0009]);
    for (const p of [0, 50, 100]) {
      const v = two.percentile(p)!;
      assert.ok(v >= 10.0001 && v <= 10.0009, `p${p}: ${v}`);
    }
  });

  test('p100 is the max and p0 the min', () => {
    const xs = lognormalSample(2, 5000);
    const h = fill(xs);
    assert.equal(h.percentile(100), Math.max(...xs));
    assertWithin(h.percentile(0), Math.min(...xs), 'p0');
  });

  test('empty histogram: count 0 and every statistic null', () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.stats(), { count: 0, mean: null, p50: null, p90: null, p95: null, p99: null, max: null, min: null });
    assert.equal(h.percentile(50), null);
  });

  test('negative values (clock noise) are recorded as 0', () => {
    const h = fill([-5, -0.001, 2]);
    const s = h.stats();
    assert.equal(s.count, 3);
    assert.equal(s.min, 0);
    assert.equal(s.max, 2);
    assert.equal(s.mean, 2 / 3);
    // Zero is kept at the histogram's 1 us resolution.
    const p50 = h.percentile(50)!;
    assert.ok(p50 >= 0 && p50 <= 0.001, `p50 ${p50}`);
    const onlyNeg = fill([-3]).stats();
    // Every percentile is clamped to [min, max] = [0, 0].
    assert.deepEqual([onlyNeg.min, onlyNeg.max, onlyNeg.mean, onlyNeg.p50, onlyNeg.p99], [0, 0, 0, 0, 0]);
  });

  test('2 significant digits (per-second buckets) stay within 1%', () => {
    const xs = lognormalSample(9, 10_000);
    const h = fill(xs, 2);
    const sorted = [...xs].sort((a, b) => a - b);
    for (const p of PCTS) {
      const exact = exactPercentile(sorted, p);
      const v = h.percentile(p)!;
      assert.ok(Math.abs(v - exact) <= exact * 0.01, `p${p}: ${v} vs ${exact}`);
    }
  });
});

describe('LatencyHistogram merge', () => {
  function assertSameStats(a: LatencyStats, b: LatencyStats): void {
    const { mean: ma, ...ra } = a;
    const { mean: mb, ...rb } = b;
    assert.deepEqual(ra, rb);
    assert.ok(ma !== null && mb !== null && Math.abs(ma - mb) <= 1e-9 * Math.abs(mb), `mean ${ma} vs ${mb}`);
  }

  test('merge of two histograms equals the histogram of the union (all statistics)', () => {
    const a = lognormalSample(21, 30_000);
    const b = lognormalSample(22, 7_000).map((x) => x * 3);
    const merged = fill(a).merge(fill(b));
    const union = fill([...a, ...b]);
    assertSameStats(merged.stats(), union.stats());
    for (const p of [1, 10, 33.3, 50, 75, 90, 95, 99, 99.9]) assert.equal(merged.percentile(p), union.percentile(p), `p${p}`);
  });

  test('merge with exactly representable values gives identical stats, mean included', () => {
    const a = [1, 2.5, 300, 0.25];
    const b = [7, 7, 12.75];
    assert.deepEqual(fill(a).merge(fill(b)).stats(), fill([...a, ...b]).stats());
  });

  test('merging into an empty histogram, or merging an empty one, changes nothing', () => {
    const xs = lognormalSample(4, 1000);
    const expected = fill(xs).stats();
    assert.deepEqual(new LatencyHistogram().merge(fill(xs)).stats(), expected);
    assert.deepEqual(fill(xs).merge(new LatencyHistogram()).stats(), expected);
  });

  test('merge returns the receiver', () => {
    const h = new LatencyHistogram();
    assert.equal(h.merge(fill([1])), h);
  });
});

describe('LatencyHistogram encode/decode', () => {
  test('round trip is exact: stats, every percentile, count, sum, min, max', () => {
    const xs = lognormalSample(31, 20_000);
    const h = fill(xs);
    const e = h.encode();
    assert.equal(e.count, xs.length);
    assert.equal(e.sumMs, sum(xs));
    assert.equal(e.minMs, Math.min(...xs));
    assert.equal(e.maxMs, Math.max(...xs));
    assert.equal(typeof e.hdr, 'string');
    assert.ok(e.hdr.length > 0);
    const d = LatencyHistogram.decode(JSON.parse(JSON.stringify(e)));
    assert.deepEqual(d.stats(), h.stats());
    for (let p = 0; p <= 100; p += 0.5) assert.equal(d.percentile(p), h.percentile(p), `p${p}`);
    assert.deepEqual(d.encode(), e);
  });

  test('decoded histograms merge like the originals', () => {
    const a = lognormalSample(41, 5000);
    const b = lognormalSample(42, 5000);
    const viaEncoding = LatencyHistogram.decode(fill(a).encode()).merge(LatencyHistogram.decode(fill(b).encode()));
    const direct = fill(a).merge(fill(b));
    assert.deepEqual(viaEncoding.stats(), direct.stats());
  });

  test('an empty histogram encodes with nulls and decodes empty', () => {
    const e = new LatencyHistogram().encode();
    assert.deepEqual(e, { count: 0, sumMs: 0, minMs: null, maxMs: null, hdr: '' });
    const d = LatencyHistogram.decode(e);
    assert.equal(d.stats().count, 0);
    assert.equal(d.stats().p50, null);
    d.record(4);
    assert.deepEqual([d.stats().min, d.stats().max, d.stats().count], [4, 4, 1]);
  });
});
