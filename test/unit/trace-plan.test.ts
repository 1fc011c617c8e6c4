/**
 * The plan of a trace replay (harness/workload/trace-plan.ts), from in-memory TraceReadResults:
 * intended times are the trace's, lengths are preserved (two-sample KS statistic 0), hash ids
 * become prompt blocks, model/tenant/session are carried over, the stages cut the replay, rows
 * without times go all at once, and buildPlan plans a scenario with `workload.trace` this way.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTracePlan, planFromTrace, traceBlockKey, traceRunMs, DEFAULT_BLOCK_TOKENS } from '../../harness/workload/trace-plan.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { Rng } from '../../harness/workload/rng.ts';
import { ksStatistic } from '../../harness/workload/traces/ks.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import type { TraceReadResult, TraceRequest } from '../../harness/workload/traces/trace-types.ts';
import type { Scenario, Stage } from '../../harness/scenario/scenario-types.ts';

function result(requests: TraceRequest[], blockTokens?: number): TraceReadResult {
  const times = requests.map((r) => r.tMs).filter((t): t is number => t !== null);
  return {
    requests,
    report: { file: 'mem', format: 'mooncake', rowsRead: requests.length, requests: requests.length, skipped: {}, warnings: [], spanMs: times.length ? Math.max(...times) : null },
    ...(blockTokens !== undefined ? { blockTokens } : {}),
  };
}

/** A Mooncake-like trace: Poisson arrivals, lognormal-ish lengths, hash ids sharing leading runs. */
function synthetic(n: number, seed = 1): TraceReadResult {
  const rng = new Rng(seed);
  let t = 0;
  const rows: TraceRequest[] = [];
  for (let i = 0; i < n; i++) {
    t += rng.exponential(40);
    const inputTokens = Math.max(1, Math.round(Math.exp(7 + 0.8 * rng.normal())));
    const blocks = Math.ceil(inputTokens / 512);
    const root = rng.int(0, 4);
    const hashIds = Array.from({ length: blocks }, (_, b) => (b === 0 ? root : 1000 * i + b));
    rows.push({ tMs: Math.round(t * 1000) / 1000, inputTokens, outputTokens: rng.int(1, 400), hashIds, line: i + 1, ...(i % 3 === 0 ? { tenant: 'pro', session: `s${i % 7}`, model: 'big' } : {}) });
  }
  return result(rows);
}

const NO_STAGES = { stages: [] as Stage[], warmupMs: 0, cooldownMs: 0 };

function open(durationMs: number, index = 0, name = `stage-${index}`): Stage {
  return { index, name, durationMs, rampMs: 0, kind: 'open', rateRps: 1 };
}

describe('planFromTrace', () => {
  const trace = synthetic(2000);
  const plan = planFromTrace(trace, { model: 'default-model', load: NO_STAGES });

  test('every row is planned at its trace time, in order, ids and keys by position', () => {
    assert.equal(plan.length, trace.requests.length);
    plan.forEach((p, i) => {
      assert.equal(p.intendedMs, trace.requests[i]!.tMs);
      assert.equal(p.id, i);
      assert.equal(p.key, `o${i}`);
      assert.equal(p.stage, 0);
      assert.equal(p.user, undefined);
    });
  });

  test('lengths preserved: KS statistic 0 between trace and plan, row for row', () => {
    const input = trace.requests.map((r) => r.inputTokens);
    const output = trace.requests.map((r) => r.outputTokens);
    assert.equal(ksStatistic(input, plan.map((p) => p.promptTokens)), 0);
    assert.equal(ksStatistic(output, plan.map((p) => p.outputTokens)), 0);
    assert.deepEqual(plan.map((p) => p.promptTokens), input);
    // The statistic does see a difference when there is one.
    assert.ok(ksStatistic(input, input.map((x) => x + 50)) > 0.01);
  });

  test('hash ids become blocks h<id> of blockTokens tokens (512 by default); the segment objects are shared', () => {
    assert.equal(DEFAULT_BLOCK_TOKENS, 512);
    plan.forEach((p, i) => {
      const ids = trace.requests[i]!.hashIds!;
      assert.deepEqual(p.prompt!.shared.map((s) => s.key), ids.map(traceBlockKey));
      assert.ok(p.prompt!.shared.every((s) => s.tokens === 512));
      assert.equal(p.prompt!.minOwnWords, undefined, 'a trace prompt may be all blocks');
    });
    const firsts = plan.filter((p) => p.prompt!.shared[0]!.key === 'h0').map((p) => p.prompt!.shared[0]);
    assert.ok(firsts.length > 10 && firsts.every((s) => s === firsts[0]));
    const other = planFromTrace(result([{ tMs: 0, inputTokens: 100, outputTokens: 1, hashIds: [3], line: 1 }], 16), { model: 'm', load: NO_STAGES });
    assert.equal(other[0]!.prompt!.shared[0]!.tokens, 16);
    const forced = planFromTrace(result([{ tMs: 0, inputTokens: 100, outputTokens: 1, hashIds: [3], line: 1 }], 16), { model: 'm', load: NO_STAGES, blockTokens: 64 });
    assert.equal(forced[0]!.prompt!.shared[0]!.tokens, 64);
  });

  test('model, tenant and session carried over; rows without a model go to the target model', () => {
    plan.forEach((p, i) => {
      const r = trace.requests[i]!;
      assert.equal(p.model, r.model ?? 'default-model');
      assert.equal(p.tenant, r.tenant);
      assert.equal(p.session, r.session);
    });
    assert.ok(plan.some((p) => p.model === 'big') && plan.some((p) => p.model === 'default-model'));
  });

  test('rows out of order are planned in time order (stable for ties)', () => {
    const rows: TraceRequest[] = [
      { tMs: 30, inputTokens: 3, outputTokens: 1, line: 1 },
      { tMs: 10, inputTokens: 1, outputTokens: 1, line: 2 },
      { tMs: 10, inputTokens: 2, outputTokens: 1, line: 3 },
    ];
    const p = planFromTrace(result(rows), { model: 'm', load: NO_STAGES });
    assert.deepEqual(p.map((x) => [x.intendedMs, x.promptTokens, x.id]), [[10, 1, 0], [10, 2, 1], [30, 3, 2]]);
  });

  test('rows without hash ids get a shared_prefix group when the workload has one; none otherwise', () => {
    const rows: TraceRequest[] = Array.from({ length: 400 }, (_, i) => ({ tMs: i, inputTokens: 300, outputTokens: 5, line: i + 1 }));
    const none = planFromTrace(result(rows), { model: 'm', load: NO_STAGES });
    assert.ok(none.every((p) => p.prompt === undefined));
    const withPrefix = planFromTrace(result(rows), { model: 'm', load: NO_STAGES, sharedPrefix: { groups: 2, tokens: 100, share: 0.5 }, seed: 4 });
    const share = withPrefix.filter((p) => p.prompt !== undefined).length / rows.length;
    assert.ok(Math.abs(share - 0.5) < 0.1, `share ${share}`);
    assert.deepEqual(new Set(withPrefix.flatMap((p) => p.prompt?.shared.map((s) => s.key) ?? [])), new Set(['p0', 'p1']));
  });
});

describe('run length, stages, no timestamps', () => {
  const rows: TraceRequest[] = [0, 400, 1500.5, 2600, 4999.9].map((t, i) => ({ tMs: t, inputTokens: 10 + i, outputTokens: 2, line: i + 2 }));

  test('the trace span sets the run length without stages', () => {
    assert.equal(traceRunMs(result(rows), []), 5000);
    const p = planFromTrace(result(rows), { model: 'm', load: NO_STAGES });
    assert.deepEqual(p.map((x) => x.intendedMs), [0, 400, 1500.5, 2600, 4999.9]);
  });

  test('the stages cut the replay and assign each request its stage; warmup/cooldown set phases', () => {
    const load = { stages: [open(1000, 0, 'a'), open(1600, 1, 'b')], warmupMs: 300, cooldownMs: 500 };
    assert.equal(traceRunMs(result(rows), load.stages), 2600);
    const p = planFromTrace(result(rows), { model: 'm', load });
    assert.deepEqual(p.map((x) => [x.intendedMs, x.stage, x.phase]), [
      [0, 0, 'warmup'],
      [400, 0, 'measure'],
      [1500.5, 1, 'measure'],
    ]);
    // Stages longer than the trace: the trace's span is the run.
    assert.equal(traceRunMs(result(rows), [open(60_000)]), 5000);
  });

  test('rows without times: all at once (intended at 0), in file order; closed_loop rows are not open-loop arrivals', () => {
    const untimed = rows.map((r) => ({ ...r, tMs: null }));
    const p = planFromTrace(result(untimed), { model: 'm', load: NO_STAGES, noTimestamps: 'all_at_once' });
    assert.deepEqual(p.map((x) => [x.intendedMs, x.promptTokens]), untimed.map((r) => [0, r.inputTokens]));
    assert.equal(traceRunMs(result(untimed), []), 1);
    assert.equal(traceRunMs(result(untimed), [open(4000)]), 4000, 'without times the stages set the length');
    assert.throws(() => planFromTrace(result(untimed), { model: 'm', load: NO_STAGES, noTimestamps: 'closed_loop' }), RangeError);
  });

  test('closed loop: each closed stage gets the rows in trace order (keys r<row>), users ramped; open stages none', () => {
    const untimed: TraceRequest[] = rows.map((r) => ({ ...r, tMs: null, hashIds: [1, r.line], session: `s${r.line}` }));
    const closedStage = (index: number, users: number, durationMs: number): Stage => ({ index, name: `c${index}`, durationMs, rampMs: 1000, kind: 'closed', users, thinkTimeMs: { min: 0, max: 10 } });
    const base = parseScenario('name: c\nseed: 2\ntarget: {model: m}\nworkload: {prompt_tokens: 1, output_tokens: 1}\nload: {stages: [{duration: 1s, rate: 1}]}\n', 'c.yaml', { env: {} });
    const sc = { ...base, load: { ...base.load, stages: [closedStage(0, 2, 3000), closedStage(1, 4, 2500)] } } as Scenario;
    const plan = buildTracePlan(sc, { loaded: result(untimed), noTimestamps: 'closed_loop' });
    assert.deepEqual(plan.open, []);
    assert.equal(plan.totalMs, 5500);
    assert.deepEqual(plan.closed.map((c) => [c.stage, c.startMs, c.endMs, c.userStartsMs.length]), [[0, 0, 3000, 2], [1, 3000, 5500, 4]]);
    assert.deepEqual(plan.closed[1]!.userStartsMs, [3000, 3250, 3500, 3750]);
    for (const c of plan.closed) {
      assert.deepEqual(c.rows!.map((r) => [r.key, r.promptTokens, r.outputTokens, r.session, r.prompt!.shared.map((x) => x.key).join()]), untimed.map((r, i) => [`r${i}`, r.inputTokens, 2, r.session, `h1,h${r.line}`]));
    }
    assert.deepEqual(plan.targetsPerSecond, [null, null, null, null, null, null]);
    // The default for a trace without times is closed loop, as in the trace config.
    assert.deepEqual(buildTracePlan(sc, { loaded: result(untimed) }), plan);
    const openOnly = { ...base, load: { ...base.load, stages: [open(1000)] } } as Scenario;
    assert.throws(() => buildTracePlan(openOnly, { loaded: result(untimed), noTimestamps: 'closed_loop' }), RangeError);
    assert.equal(buildTracePlan(openOnly, { loaded: result(untimed), noTimestamps: 'all_at_once' }).open.length, untimed.length);
  });
});

describe('buildPlan with workload.trace', () => {
  const base = parseScenario(
    'name: tr\nseed: 3\ntarget: {model: m}\nworkload: {prompt_tokens: 10, output_tokens: 10}\nload: {arrival: poisson, warmup: 1s, stages: [{duration: 3s, rate: 50}, {duration: 3s, rate: 50}]}\n',
    'tr.yaml',
    { env: {} },
  );
  const trace = synthetic(300, 9);
  const withTrace = (t: TraceReadResult | undefined, extra: Record<string, unknown> = {}): Scenario =>
    ({ ...base, workload: { ...base.workload, trace: { noTimestamps: 'all_at_once', blockTokens: 512, ...extra, ...(t ? { loaded: t } : {}) } } }) as Scenario;

  test('a scenario with a trace is planned from it: open loop, the stages cut it, targets per second from the trace', () => {
    const plan = buildPlan(withTrace(trace));
    const kept = trace.requests.filter((r) => r.tMs! < 6000);
    assert.ok(kept.length < trace.requests.length && kept.length > 50);
    assert.deepEqual(plan.open.map((p) => p.intendedMs), kept.map((r) => r.tMs));
    assert.equal(plan.totalMs, 6000);
    assert.deepEqual(plan.stageStartsMs, [0, 3000]);
    assert.deepEqual(plan.closed, []);
    assert.equal(plan.targetsPerSecond.length, 6);
    for (let s = 0; s < 6; s++) assert.equal(plan.targetsPerSecond[s], kept.filter((r) => Math.floor(r.tMs! / 1000) === s).length);
    assert.ok(plan.open.every((p) => p.stage === (p.intendedMs < 3000 ? 0 : 1)));
    assert.ok(plan.open.every((p) => p.phase === (p.intendedMs < 1000 ? 'warmup' : 'measure')));
    assert.deepEqual(buildPlan(withTrace(trace)), plan, 'deterministic');
    assert.deepEqual(buildTracePlan(withTrace(trace), { loaded: trace, noTimestamps: 'all_at_once' }), plan);
  });

  test('blockTokens from the trace config; an unread trace is an error', () => {
    const plan = buildPlan(withTrace(trace, { blockTokens: 128 }));
    assert.ok(plan.open.every((p) => p.prompt!.shared.every((s) => s.tokens === 128)));
    assert.throws(() => buildPlan(withTrace(undefined)), RangeError);
  });

  test('without a trace, buildPlan is the synthetic plan', () => {
    const plan = buildPlan(base);
    assert.ok(plan.open.length > 200);
    assert.ok(plan.open.every((p) => p.prompt === undefined && p.promptTokens === 10));
  });
});
