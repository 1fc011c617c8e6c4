import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchSaturation } from '../../harness/sweep/saturation.ts';

const step = (capacity: number) => async (rate: number) => ({ goodputFraction: rate <= capacity ? 1 : 0.2 });

for (const capacity of [0.7, 3, 13.7, 100, 431]) {
  test(`saturation search converges on a step at ${capacity} req/s within the precision`, async () => {
    const precision = 0.05;
    const r = await searchSaturation(step(capacity), { start: 1, target: 0.9, precision, max: 10_000, maxSteps: 40 });
    assert.ok(r.rate !== null);
    assert.ok(r.converged);
    assert.ok(r.rate <= capacity, `answer ${r.rate} above capacity ${capacity}`);
    assert.ok(r.rate >= capacity / (1 + precision), `answer ${r.rate} not within ${precision} of ${capacity}`);
    assert.ok(r.hi !== null && r.hi / r.rate - 1 <= precision);
    // Never reports a failing rate: the answer was measured and passed.
    const s = r.steps.find((x) => x.rate === r.rate);
    assert.ok(s?.pass);
    // Bounded: doubling to the bracket plus bisection to the precision.
    const bound = Math.ceil(Math.log2(Math.max(capacity, 1) * 2)) + 2 + Math.ceil(Math.log2(Math.log(2) / Math.log(1 + precision))) + 2;
    assert.ok(r.steps.length <= bound, `${r.steps.length} steps > ${bound}`);
  });
}

test('a smooth monotone (noisy-ish) curve: the answer passes, the bracket holds the crossing', async () => {
  // goodput falls smoothly past a knee at 20 req/s; a small deterministic wobble on top.
  let i = 0;
  const curve = async (rate: number) => {
    const base = 1 / (1 + Math.exp((rate - 24) / 1.5));
    const wobble = 0.01 * Math.sin(i++ * 1.7);
    return { goodputFraction: Math.min(1, Math.max(0, base + wobble)) };
  };
  const r = await searchSaturation(curve, { start: 2, target: 0.9, precision: 0.02, maxSteps: 30 });
  assert.ok(r.rate !== null && r.hi !== null);
  assert.ok(r.converged);
  // The noiseless crossing is at 24 - 1.5 ln 9 = 20.70; the wobble moves it by < 0.2.
  assert.ok(r.rate > 20.2 && r.rate < 21.2, `rate ${r.rate}`);
  assert.ok(r.hi / r.rate - 1 <= 0.02);
  for (const s of r.steps) assert.equal(s.pass, s.fraction >= 0.9);
  assert.ok(r.steps.find((s) => s.rate === r.rate)!.pass);
});

test('max passing: the answer is max, no failing rate; start failing: halves down', async () => {
  const all = await searchSaturation(step(1e9), { start: 1, target: 0.9, precision: 0.05, max: 50 });
  assert.equal(all.rate, 50);
  assert.equal(all.hi, null);
  assert.deepEqual(all.steps.map((s) => s.rate), [1, 2, 4, 8, 16, 32, 50]);
  const low = await searchSaturation(step(0.3), { start: 8, target: 0.9, precision: 0.05, maxSteps: 30 });
  assert.ok(low.rate !== null && low.rate <= 0.3 && low.rate >= 0.3 / 1.05);
});

test('maxSteps bounds the search; nothing passing gives rate null', async () => {
  let calls = 0;
  const r = await searchSaturation(async (rate) => (calls++, { goodputFraction: rate <= 10 ? 1 : 0 }), { start: 1, target: 0.9, precision: 0.0001, maxSteps: 6 });
  assert.equal(calls, 6);
  assert.equal(r.steps.length, 6);
  assert.equal(r.converged, false);
  assert.ok(r.rate !== null && r.rate <= 10);
  const none = await searchSaturation(async () => ({ goodputFraction: 0 }), { start: 1, target: 0.9, precision: 0.05, maxSteps: 5 });
  assert.equal(none.rate, null);
  assert.equal(none.steps.length, 5);
});
