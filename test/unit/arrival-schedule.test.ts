import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  closedLoopUserStarts,
  expectedCount,
  openLoopArrivals,
  rateAt,
  stageStartsMs,
  totalDurationMs,
} from '../../harness/engine/arrival-schedule.ts';
import { Rng } from '../../harness/workload/rng.ts';
import type { Arrival, ClosedStage, Stage } from '../../harness/scenario/scenario-types.ts';

type StageSpec =
  | { open: number; s: number; rampS?: number }
  | { users: number; s: number; rampS?: number };

/** Stages from a compact spec: `{open: rps, s: seconds}` or `{users: n, s: seconds}`. */
function stages(...specs: StageSpec[]): Stage[] {
  return specs.map((spec, index) => {
    const base = { index, name: `stage-${index}`, durationMs: spec.s * 1000, rampMs: (spec.rampS ?? 0) * 1000 };
    return 'open' in spec
      ? { ...base, kind: 'open' as const, rateRps: spec.open }
      : { ...base, kind: 'closed' as const, users: spec.users, thinkTimeMs: { min: 0, max: 0 } };
  });
}

function arrivals(st: Stage[], arrival: Arrival, seed = 1, burstiness = 1) {
  return openLoopArrivals(st, { arrival, burstiness }, new Rng(seed).fork('arrivals'));
}

function gaps(times: Float64Array): Float64Array {
  const out = new Float64Array(times.length - 1);
  for (let i = 1; i < times.length; i++) out[i - 1] = times[i]! - times[i - 1]!;
  return out;
}

function meanSd(xs: ArrayLike<number>): { mean: number; sd: number; cv: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  const mean = s / xs.length;
  let ss = 0;
  for (let i = 0; i < xs.length; i++) ss += (xs[i]! - mean) ** 2;
  const sd = Math.sqrt(ss / (xs.length - 1));
  return { mean, sd, cv: sd / mean };
}

/** Counts of times in consecutive windows of `windowMs` over [0, totalMs). */
function windowCounts(times: Float64Array, windowMs: number, totalMs: number): number[] {
  const counts = new Array<number>(Math.ceil(totalMs / windowMs)).fill(0);
  for (const t of times) counts[Math.floor(t / windowMs)]!++;
  return counts;
}

/**
 * Independent oracle for Lambda(t) = integral of rateAt / 1000, for stages whose durations and
 * ramps are whole milliseconds: rateAt is linear within each millisecond, so the midpoint rule
 * on a 1 ms grid is exact.
 */
function lambdaOracle(st: Stage[]): (t: number) => number {
  const total = totalDurationMs(st);
  const cum = new Float64Array(total + 1);
  for (let ms = 0; ms < total; ms++) cum[ms + 1] = cum[ms]! + rateAt(st, ms + 0.5) / 1000;
  return (t) => {
    const ms = Math.floor(t);
    return cum[ms]! + (rateAt(st, (ms + t) / 2) * (t - ms)) / 1000;
  };
}

/** Every invariant of a schedule: sorted, inside [0, total), stage index = the stage holding t. */
function assertWellFormed(st: Stage[], a: { timesMs: Float64Array; stage: Uint16Array }): void {
  const total = totalDurationMs(st);
  const starts = stageStartsMs(st);
  assert.equal(a.timesMs.length, a.stage.length);
  for (let i = 0; i < a.timesMs.length; i++) {
    const t = a.timesMs[i]!;
    assert.ok(t >= 0 && t < total, `t = ${t} outside [0, ${total})`);
    if (i > 0) assert.ok(t >= a.timesMs[i - 1]!, `not sorted at ${i}`);
    let s = 0;
    while (s + 1 < starts.length && starts[s + 1]! <= t) s++;
    assert.equal(a.stage[i], s, `t = ${t} given stage ${a.stage[i]}, lies in ${s}`);
    assert.equal(st[s]!.kind, 'open');
  }
}

const SPIKE = stages({ open: 5, s: 30 }, { open: 50, s: 10, rampS: 2 }, { open: 5, s: 30 });

describe('stage timing', () => {
  it('stageStartsMs and totalDurationMs sum the durations', () => {
    assert.deepEqual(stageStartsMs(SPIKE), [0, 30_000, 40_000]);
    assert.equal(totalDurationMs(SPIKE), 70_000);
    assert.deepEqual(stageStartsMs([]), []);
    assert.equal(totalDurationMs([]), 0);
  });

  it('closedLoopUserStarts spreads users over the ramp, or starts them together', () => {
    const [ramped] = stages({ users: 4, s: 60, rampS: 1 }) as [ClosedStage];
    assert.deepEqual([...closedLoopUserStarts(ramped, 5000)], [5000, 5250, 5500, 5750]);
    const [flat] = stages({ users: 3, s: 60 }) as [ClosedStage];
    assert.deepEqual([...closedLoopUserStarts(flat, 7000)], [7000, 7000, 7000]);
  });
});

describe('rateAt and expectedCount', () => {
  it('spike: holds, ramps linearly from the previous rate, drops without a ramp', () => {
    assert.equal(rateAt(SPIKE, 0), 5);
    assert.equal(rateAt(SPIKE, 29_999), 5);
    assert.equal(rateAt(SPIKE, 30_000), 5);
    assert.equal(rateAt(SPIKE, 31_000), 27.5);
    assert.equal(rateAt(SPIKE, 32_000), 50);
    assert.equal(rateAt(SPIKE, 39_999), 50);
    assert.equal(rateAt(SPIKE, 40_000), 5);
    assert.equal(rateAt(SPIKE, 70_000), 0);
    assert.equal(rateAt(SPIKE, -1), 0);
    assert.ok(Math.abs(expectedCount(SPIKE) - (5 * 30 + (50 * 8 + ((5 + 50) / 2) * 2) + 5 * 30)) < 1e-9);
  });

  it('closed stages have rate 0, and an open stage after one ramps from 0', () => {
    const st = stages({ users: 8, s: 10 }, { open: 5, s: 10, rampS: 2 }, { users: 8, s: 10 });
    assert.equal(rateAt(st, 5000), 0);
    assert.equal(rateAt(st, 10_000), 0);
    assert.equal(rateAt(st, 11_000), 2.5);
    assert.equal(rateAt(st, 15_000), 5);
    assert.equal(rateAt(st, 25_000), 0);
    assert.ok(Math.abs(expectedCount(st) - (5 * 8 + 2.5 * 2)) < 1e-9);
    assert.equal(expectedCount(stages({ users: 8, s: 10 })), 0);
  });

  it('the first stage ramps from 0; a ramp longer than its stage is cut off at the stage end', () => {
    const st = stages({ open: 20, s: 10, rampS: 20 }, { open: 20, s: 10 });
    assert.equal(rateAt(st, 5000), 5);
    assert.equal(rateAt(st, 9999.5), 20 * (9999.5 / 20_000));
    assert.equal(rateAt(st, 10_000), 20);
    assert.ok(Math.abs(expectedCount(st) - (10 * 10 / 2 + 200)) < 1e-9);
  });

  it('refuses negative or non-finite stage numbers', () => {
    assert.throws(() => expectedCount(stages({ open: -1, s: 10 })), RangeError);
    assert.throws(() => expectedCount(stages({ open: 1, s: -10 })), RangeError);
    assert.throws(() => rateAt(stages({ open: Number.NaN, s: 10 }), 1), RangeError);
  });
});

describe('openLoopArrivals: constant', () => {
  it('5 req/s for 30 s: 150 sends exactly 200 ms apart from 0', () => {
    const a = arrivals(stages({ open: 5, s: 30 }), 'constant');
    assert.equal(a.timesMs.length, 150);
    for (let i = 0; i < 150; i++) assert.equal(a.timesMs[i], 200 * i);
  });

  it('count = rate x duration', () => {
    for (const [rate, s] of [
      [1, 10],
      [7, 10],
      [0.5, 60],
      [100, 3],
      [1000, 1],
    ] as const) {
      assert.equal(arrivals(stages({ open: rate, s }), 'constant').timesMs.length, rate * s, `${rate} req/s for ${s} s`);
    }
  });

  it('sends sit exactly at whole numbers of expected sends, across ramps, drops and gaps', () => {
    const cases = [
      SPIKE,
      stages({ open: 50, s: 60, rampS: 60 }),
      stages({ open: 50, s: 10 }, { open: 10, s: 30, rampS: 20 }),
      stages({ open: 10, s: 10 }, { open: 0, s: 10 }, { open: 10, s: 10, rampS: 4 }),
      stages({ users: 3, s: 5 }, { open: 30, s: 10, rampS: 3 }, { users: 3, s: 5 }, { open: 7, s: 4 }),
      // Lambda = 7.5 at the stage change: one process, not restarted per stage.
      stages({ open: 2.5, s: 3 }, { open: 4, s: 2 }),
    ];
    for (const st of cases) {
      const lambda = lambdaOracle(st);
      const a = arrivals(st, 'constant');
      assert.equal(a.timesMs.length, Math.ceil(expectedCount(st) - 1e-9));
      for (let k = 0; k < a.timesMs.length; k++) {
        const got = lambda(a.timesMs[k]!);
        assert.ok(Math.abs(got - k) < 1e-6, `send ${k} at ${a.timesMs[k]} ms has Lambda ${got}`);
      }
      assertWellFormed(st, a);
    }
  });

  it('is not restarted at a stage change: Lambda 8 falls 125 ms into the second stage', () => {
    const a = arrivals(stages({ open: 2.5, s: 3 }, { open: 4, s: 2 }), 'constant');
    assert.equal(a.timesMs[7], 2800);
    assert.equal(a.timesMs[8], 3125);
    assert.equal(a.timesMs.length, 16);
  });

  it('spike: 150 + 455 + 150 sends, in the right stages', () => {
    const a = arrivals(SPIKE, 'constant');
    assert.equal(a.timesMs.length, 755);
    const perStage = [0, 0, 0];
    for (const s of a.stage) perStage[s]!++;
    assert.deepEqual(perStage, [150, 455, 150]);
    assertWellFormed(SPIKE, a);
  });

  it('does not draw from the rng', () => {
    const st = stages({ open: 5, s: 30 });
    assert.deepEqual(arrivals(st, 'constant', 1), arrivals(st, 'constant', 2));
  });
});

describe('openLoopArrivals: poisson', () => {
  const st = stages({ open: 20, s: 2000 });
  const a = arrivals(st, 'poisson', 42);

  it('counts per 1-s window have variance/mean ~ 1 over 2,000 windows', () => {
    const counts = windowCounts(a.timesMs, 1000, 2_000_000);
    const s = meanSd(counts);
    assert.ok(Math.abs(s.mean - 20) < 0.4, `mean count ${s.mean}`);
    const dispersion = (s.sd * s.sd) / s.mean;
    assert.ok(dispersion > 0.85 && dispersion < 1.15, `variance/mean ${dispersion}`);
  });

  it('gaps are exponential: mean 1/rate, CV ~ 1', () => {
    const g = meanSd(gaps(a.timesMs));
    assert.ok(Math.abs(g.mean / 50 - 1) < 0.03, `mean gap ${g.mean} ms`);
    assert.ok(Math.abs(g.cv - 1) < 0.03, `gap CV ${g.cv}`);
    assertWellFormed(st, a);
  });

  it('spike: total near the expected count, all stages well formed', () => {
    const s = arrivals(SPIKE, 'poisson', 3);
    assert.ok(Math.abs(s.timesMs.length - 755) < 4 * Math.sqrt(755), `count ${s.timesMs.length}`);
    assertWellFormed(SPIKE, s);
  });

  it('a 0 -> 50 req/s ramp: counts per 5-s window follow the integral of the rate', () => {
    const ramp = stages({ open: 500, s: 60, rampS: 60 });
    const r = arrivals(ramp, 'poisson', 7);
    const counts = windowCounts(r.timesMs, 5000, 60_000);
    const lambda = (t: number) => (500 * t * t) / (2 * 60_000 * 1000);
    let chi2 = 0;
    for (const [w, observed] of counts.entries()) {
      const expected = lambda((w + 1) * 5000) - lambda(w * 5000);
      assert.ok(Math.abs(observed - expected) < 4 * Math.sqrt(expected) + 1, `window ${w}: ${observed} vs ${expected}`);
      chi2 += (observed - expected) ** 2 / expected;
    }
    assert.ok(chi2 < 32.91, `chi-square ${chi2}`); // 12 df, p = 0.001
    assertWellFormed(ramp, r);
  });

  it('one process across stages: nothing in zero-rate or closed stages', () => {
    const st2 = stages({ open: 10, s: 10 }, { users: 4, s: 10 }, { open: 0, s: 10 }, { open: 10, s: 10, rampS: 4 });
    const r = arrivals(st2, 'poisson', 11);
    assert.ok(r.timesMs.every((t) => t < 10_000 || t >= 30_000));
    assertWellFormed(st2, r);
    const closedOnly = arrivals(stages({ users: 4, s: 10 }), 'poisson');
    assert.equal(closedOnly.timesMs.length, 0);
    assert.equal(closedOnly.stage.length, 0);
  });
});

describe('openLoopArrivals: gamma', () => {
  for (const k of [0.25, 4]) {
    it(`burstiness ${k}: gaps have mean 1/rate and CV 1/sqrt(${k}) = ${1 / Math.sqrt(k)}`, () => {
      const st = stages({ open: 50, s: 1000 });
      const a = arrivals(st, 'gamma', 5, k);
      const g = meanSd(gaps(a.timesMs));
      assert.ok(Math.abs(g.mean / 20 - 1) < 0.03, `mean gap ${g.mean} ms`);
      assert.ok(Math.abs(g.cv * Math.sqrt(k) - 1) < 0.05, `gap CV ${g.cv}`);
      assertWellFormed(st, a);
    });
  }

  it('burstiness 1 is exactly poisson', () => {
    assert.deepEqual(arrivals(SPIKE, 'gamma', 9, 1), arrivals(SPIKE, 'poisson', 9));
  });

  it('refuses burstiness <= 0', () => {
    assert.throws(() => arrivals(SPIKE, 'gamma', 1, 0), RangeError);
  });
});

describe('openLoopArrivals: reproducibility', () => {
  for (const kind of ['poisson', 'gamma'] as const) {
    it(`${kind}: same seed, identical arrays; another seed, different ones`, () => {
      const a = arrivals(SPIKE, kind, 123, 0.5);
      const b = arrivals(SPIKE, kind, 123, 0.5);
      assert.deepEqual(a.timesMs, b.timesMs);
      assert.deepEqual(a.stage, b.stage);
      assert.notDeepEqual(arrivals(SPIKE, kind, 124, 0.5).timesMs, a.timesMs);
    });
  }
});
