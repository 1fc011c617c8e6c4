/**
 * The Plan (harness/workload/plan.ts): reproducible from the seed; open-loop requests with
 * stage, phase and lengths; closed-loop stages with ramped user starts and null per-second
 * targets; per-user seeded streams.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario, type LoadOptions } from '../../harness/scenario/load-scenario.ts';
import { buildPlan, closedUserRng, phaseOf } from '../../harness/workload/plan.ts';
import type { Scenario } from '../../harness/scenario/scenario-types.ts';

const FILE = join(tmpdir(), 'floodgate-plan-test.yaml');

function scenario(yaml: string, options: LoadOptions = {}): Scenario {
  return parseScenario(yaml, FILE, { env: {}, ...options });
}

const RANDOM = `
name: random
seed: 7
target: {model: llama-test}
workload:
  prompt_tokens: {dist: uniform, min: 100, max: 200}
  output_tokens: {dist: lognormal, mean: 50, p90: 120, min: 8, max: 256}
load:
  arrival: poisson
  stages:
    - {duration: 10s, rate: 40}
    - {duration: 10s, rate: 80, ramp: 5s}
`;

const CONSTANT = `
name: constant
seed: 3
target: {model: m}
workload:
  prompt_tokens: 64
  output_tokens: 16
load:
  arrival: constant
  warmup: 2s
  cooldown: 3s
  stages:
    - {name: a, duration: 10s, rate: 2}
    - {name: b, duration: 5s, rate: 4}
    - {duration: 3s, rate: 1}
`;

const MIXED = `
name: mixed
seed: 11
target: {model: m}
workload:
  prompt_tokens: 32
  output_tokens: 8
load:
  arrival: constant
  stages:
    - {duration: 4s, rate: 2}
    - {name: users, duration: 6s, users: 4, ramp: 2s, think_time: {min: 100ms, max: 300ms}}
    - {duration: 2s, rate: 3}
    - {duration: 3s, users: 2, think_time: 1s}
`;

describe('buildPlan reproducibility', () => {
  test('same seed: identical plan', () => {
    const a = buildPlan(scenario(RANDOM));
    const b = buildPlan(scenario(RANDOM));
    assert.deepEqual(a, b);
    assert.ok(a.open.length > 500);
  });

  test('different seed: different arrival times and lengths', () => {
    const a = buildPlan(scenario(RANDOM));
    const b = buildPlan(scenario(RANDOM, { overrides: { seed: 8 } }));
    assert.equal(a.seed, 7);
    assert.equal(b.seed, 8);
    assert.notDeepEqual(a.open.map((r) => r.intendedMs), b.open.map((r) => r.intendedMs));
    const n = Math.min(a.open.length, b.open.length);
    assert.notDeepEqual(a.open.slice(0, n).map((r) => r.promptTokens), b.open.slice(0, n).map((r) => r.promptTokens));
    assert.notDeepEqual(a.open.slice(0, n).map((r) => r.outputTokens), b.open.slice(0, n).map((r) => r.outputTokens));
  });

  test('ids and keys follow the schedule; times ascend within the run', () => {
    const scn = scenario(RANDOM);
    const p = buildPlan(scn);
    assert.equal(p.totalMs, 20_000);
    assert.deepEqual(p.stageStartsMs, [0, 10_000]);
    for (const [i, r] of p.open.entries()) {
      assert.equal(r.id, i);
      assert.equal(r.key, `o${i}`);
      assert.equal(r.model, 'llama-test');
      assert.equal(r.user, undefined);
      assert.ok(r.intendedMs >= 0 && r.intendedMs < p.totalMs);
      if (i > 0) assert.ok(r.intendedMs >= p.open[i - 1]!.intendedMs);
      assert.equal(r.stage, r.intendedMs < 10_000 ? 0 : 1);
    }
    assert.equal(new Set(p.open.map((r) => r.key)).size, p.open.length);
  });
});

describe('buildPlan lengths', () => {
  test('lengths are integers within [min, max]', () => {
    const p = buildPlan(scenario(RANDOM));
    for (const r of p.open) {
      assert.ok(Number.isInteger(r.promptTokens) && r.promptTokens >= 100 && r.promptTokens <= 200, `prompt ${r.promptTokens}`);
      assert.ok(Number.isInteger(r.outputTokens) && r.outputTokens >= 8 && r.outputTokens <= 256, `output ${r.outputTokens}`);
    }
    // The draws actually vary and reach across the range.
    const prompts = p.open.map((r) => r.promptTokens);
    assert.ok(Math.min(...prompts) <= 105 && Math.max(...prompts) >= 195);
    assert.ok(new Set(p.open.map((r) => r.outputTokens)).size > 50);
  });

  test('fixed lengths are used as they are', () => {
    const p = buildPlan(scenario(CONSTANT));
    for (const r of p.open) assert.deepEqual([r.promptTokens, r.outputTokens], [64, 16]);
  });
});

describe('buildPlan open-loop stages', () => {
  test('constant arrivals: count, times and stage index per stage', () => {
    const p = buildPlan(scenario(CONSTANT));
    assert.equal(p.totalMs, 18_000);
    assert.deepEqual(p.stageStartsMs, [0, 10_000, 15_000]);
    assert.equal(p.open.length, 20 + 20 + 3);
    const byStage = [0, 1, 2].map((s) => p.open.filter((r) => r.stage === s));
    assert.deepEqual(byStage.map((rs) => rs.length), [20, 20, 3]);
    assert.deepEqual(byStage[0]!.map((r) => r.intendedMs), Array.from({ length: 20 }, (_, i) => 500 * i));
    byStage[1]!.forEach((r, i) => assert.ok(Math.abs(r.intendedMs - (10_000 + 250 * i)) < 1e-6, `${r.intendedMs}`));
    byStage[2]!.forEach((r, i) => assert.ok(Math.abs(r.intendedMs - (15_000 + 1000 * i)) < 1e-6, `${r.intendedMs}`));
    assert.deepEqual(p.closed, []);
  });

  test('warmup and cooldown phases are assigned by intended time', () => {
    const p = buildPlan(scenario(CONSTANT));
    for (const r of p.open) {
      const expected = r.intendedMs < 2000 ? 'warmup' : r.intendedMs >= 15_000 - 1e-6 ? 'cooldown' : 'measure';
      assert.equal(r.phase, expected, `t=${r.intendedMs}`);
    }
    const count = (ph: string) => p.open.filter((r) => r.phase === ph).length;
    assert.deepEqual([count('warmup'), count('measure'), count('cooldown')], [4, 36, 3]);
  });

  test('targets per second count the planned arrivals of each second', () => {
    const p = buildPlan(scenario(CONSTANT));
    assert.equal(p.targetsPerSecond.length, 18);
    assert.deepEqual(p.targetsPerSecond, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 1, 1, 1]);
    const sum = p.targetsPerSecond.reduce<number>((a, b) => a + (b ?? 0), 0);
    assert.equal(sum, p.open.length);
  });
});

describe('buildPlan closed-loop stages', () => {
  test('closed stages get their users, ramped start times and think time', () => {
    const p = buildPlan(scenario(MIXED));
    assert.deepEqual(p.stageStartsMs, [0, 4000, 10_000, 12_000]);
    assert.deepEqual(p.closed, [
      { stage: 1, startMs: 4000, endMs: 10_000, userStartsMs: [4000, 4500, 5000, 5500], thinkTimeMs: { min: 100, max: 300 } },
      { stage: 3, startMs: 12_000, endMs: 15_000, userStartsMs: [12_000, 12_000], thinkTimeMs: { min: 1000, max: 1000 } },
    ]);
  });

  test('closed stages have no open requests and null per-second targets', () => {
    const p = buildPlan(scenario(MIXED));
    assert.ok(p.open.every((r) => r.stage === 0 || r.stage === 2));
    assert.deepEqual(p.open.filter((r) => r.stage === 0).length, 8);
    assert.deepEqual(p.open.filter((r) => r.stage === 2).length, 6);
    assert.deepEqual(p.targetsPerSecond, [2, 2, 2, 2, null, null, null, null, null, null, 3, 3, null, null, null]);
  });
});

describe('phaseOf', () => {
  const load = scenario(CONSTANT).load; // warmup 2 s, cooldown 3 s

  test('boundaries: warmup is [0, warmup), cooldown is [total - cooldown, total)', () => {
    assert.equal(phaseOf(load, 18_000, 0), 'warmup');
    assert.equal(phaseOf(load, 18_000, 1999.999), 'warmup');
    assert.equal(phaseOf(load, 18_000, 2000), 'measure');
    assert.equal(phaseOf(load, 18_000, 14_999.999), 'measure');
    assert.equal(phaseOf(load, 18_000, 15_000), 'cooldown');
    assert.equal(phaseOf(load, 18_000, 17_999), 'cooldown');
  });

  test('no warmup and no cooldown: everything is measured', () => {
    const plain = scenario(MIXED).load;
    for (const t of [0, 1, 7000, 14_999]) assert.equal(phaseOf(plain, 15_000, t), 'measure');
  });
});

describe('closedUserRng', () => {
  const draw = (seed: number, stage: number, user: number) => {
    const r = closedUserRng(seed, stage, user);
    return Array.from({ length: 8 }, () => r.next());
  };

  test('the same (seed, stage, user) gives the same stream', () => {
    assert.deepEqual(draw(5, 1, 3), draw(5, 1, 3));
  });

  test('a different seed, stage or user gives a different stream', () => {
    const base = draw(5, 1, 3);
    assert.notDeepEqual(draw(6, 1, 3), base);
    assert.notDeepEqual(draw(5, 2, 3), base);
    assert.notDeepEqual(draw(5, 1, 4), base);
    // stage 1 user 12 and stage 11 user 2 must not collide through their labels
    assert.notDeepEqual(draw(5, 1, 12), draw(5, 11, 2));
  });
});
