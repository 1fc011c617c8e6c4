import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KvCacheManager } from '../../reference-stack/worker-sim/kv-cache-manager.ts';
import {
  Scheduler,
  SchedulerConfigError,
  SchedulerStateError,
  type SchedulerConfig,
  type SimRequest,
  type StepEvents,
  type StepPlan,
} from '../../reference-stack/worker-sim/scheduler.ts';
import { Rng } from '../../harness/workload/rng.ts';

interface ReqSpec {
  id: string;
  prompt: number[];
  maxTokens: number;
  target?: number;
  maxModelLen?: number;
  priority?: number;
  arrivalMs?: number;
}

function mkReq(s: ReqSpec): SimRequest {
  return {
    id: s.id,
    arrivalMs: s.arrivalMs ?? 0,
    priority: s.priority ?? 0,
    promptTokenIds: s.prompt,
    maxTokens: s.maxTokens,
    targetOutputTokens: s.target ?? s.maxTokens,
    maxModelLen: s.maxModelLen ?? 4096,
    status: 'waiting',
    numComputedTokens: 0,
    outputTokenIds: [],
    numPreemptions: 0,
  };
}

function seq(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

interface Setup {
  kv: KvCacheManager;
  sched: Scheduler;
}

function setup(cfg: Partial<SchedulerConfig> & { numBlocks?: number; prefix?: boolean } = {}): Setup {
  const kv = new KvCacheManager({ numBlocks: cfg.numBlocks ?? 256, enablePrefixCaching: cfg.prefix ?? true });
  const sched = new Scheduler(
    {
      maxNumSeqs: cfg.maxNumSeqs ?? 16,
      maxNumBatchedTokens: cfg.maxNumBatchedTokens ?? 2048,
      enableChunkedPrefill: cfg.enableChunkedPrefill ?? true,
      policy: cfg.policy ?? 'fcfs',
      ...(cfg.longPrefillTokenThreshold !== undefined ? { longPrefillTokenThreshold: cfg.longPrefillTokenThreshold } : {}),
    },
    kv,
  );
  return { kv, sched };
}

function addOk(sched: Scheduler, r: SimRequest): SimRequest {
  const res = sched.add(r);
  assert.deepEqual(res, { ok: true }, `add ${r.id}`);
  return r;
}

/** Token ids that depend only on the request and the output index (deterministic). */
const tokenOf = (r: SimRequest): number => (r.id.length * 7919 + r.outputTokenIds.length * 104729) % 32000;

/** One schedule + commit at time `t`. */
function step(s: Setup, t: number): { plan: StepPlan; ev: StepEvents } {
  const plan = s.sched.schedule(t);
  const ev = s.sched.commit(plan, tokenOf, t + 1);
  return { plan, ev };
}

function runToCompletion(s: Setup, maxSteps = 10_000): StepPlan[] {
  const plans: StepPlan[] = [];
  for (let t = 0; s.sched.hasUnfinished(); t++) {
    assert.ok(t < maxSteps, 'did not drain');
    plans.push(step(s, t).plan);
    s.kv.checkInvariants();
  }
  return plans;
}

function expectedOutputs(r: SimRequest): number {
  return Math.min(r.targetOutputTokens, r.maxTokens, r.maxModelLen - r.promptTokenIds.length);
}

describe('Scheduler: random workloads', () => {
  const configs: Array<{ name: string; cfg: Partial<SchedulerConfig> & { numBlocks: number; prefix: boolean } }> = [
    { name: 'fcfs, chunked, tiny KV, prefix cache', cfg: { maxNumSeqs: 6, maxNumBatchedTokens: 96, numBlocks: 14, prefix: true } },
    { name: 'fcfs, whole prompts, tiny KV', cfg: { maxNumSeqs: 5, maxNumBatchedTokens: 160, enableChunkedPrefill: false, numBlocks: 13, prefix: true } },
    { name: 'priority, chunked, tiny KV, no prefix cache', cfg: { policy: 'priority', maxNumSeqs: 8, maxNumBatchedTokens: 64, numBlocks: 14, prefix: false } },
    { name: 'priority, whole prompts, threshold', cfg: { policy: 'priority', maxNumSeqs: 4, maxNumBatchedTokens: 200, enableChunkedPrefill: false, longPrefillTokenThreshold: 48, numBlocks: 16, prefix: true } },
    { name: 'fcfs, chunked, roomy KV', cfg: { maxNumSeqs: 32, maxNumBatchedTokens: 256, numBlocks: 400, prefix: true } },
  ];

  for (const [ci, { name, cfg }] of configs.entries()) {
    it(`keeps every invariant and finishes every request: ${name}`, () => {
      const rng = new Rng(7000 + ci).fork('scheduler-random');
      const s = setup(cfg);
      const { kv, sched } = s;
      const bs = kv.blockSize;
      const prefixes = [seq(10_000, 64), seq(20_000, 32), seq(30_000, 17), []];
      const all: SimRequest[] = [];
      const aborted = new Set<string>();
      const outputsSeen = new Map<string, number>();
      const preemptedEver = new Set<string>();
      let rejected = 0;
      let nextId = 0;
      let maxRunning = 0;
      const arrivalSteps = 2500;
      for (let t = 0; t < arrivalSteps || sched.hasUnfinished(); t++) {
        assert.ok(t < 60_000, 'did not drain');
        if (t < arrivalSteps && rng.next() < 0.3) {
          const prefix = prefixes[rng.int(0, prefixes.length - 1)]!;
          const prompt = [...prefix, ...Array.from({ length: rng.int(1, 90) }, () => rng.int(0, 31_999))];
          const maxTokens = rng.int(1, 60);
          const r = mkReq({
            id: `r${nextId++}`,
            prompt,
            maxTokens,
            target: rng.next() < 0.3 ? maxTokens : rng.int(1, 80),
            maxModelLen: rng.int(prompt.length, 220),
            priority: rng.int(0, 3),
            arrivalMs: t,
          });
          const res = sched.add(r);
          if (res.ok) all.push(r);
          else {
            rejected++;
            const longest = Math.min(prompt.length + maxTokens, r.maxModelLen) - 1;
            const expected =
              prompt.length >= r.maxModelLen
                ? 'prompt_too_long'
                : cfg.enableChunkedPrefill === false && prompt.length > cfg.maxNumBatchedTokens!
                  ? 'prompt_exceeds_batch_tokens'
                  : Math.ceil(longest / bs) > kv.numBlocks
                    ? 'exceeds_kv_capacity'
                    : 'none';
            assert.equal(res.code, expected, res.message);
          }
        }
        if (t < arrivalSteps && rng.next() < 0.02) {
          const live = all.filter((r) => r.status !== 'finished');
          const victim = live[rng.int(0, Math.max(0, live.length - 1))];
          if (victim !== undefined) {
            const blocksBefore = kv.numUsedBlocks;
            assert.equal(sched.abort(victim.id), true);
            aborted.add(victim.id);
            assert.equal(victim.finishReason, 'abort');
            assert.deepEqual(kv.blockTable(victim.id), []);
            assert.ok(kv.numUsedBlocks <= blocksBefore);
          }
        }

        const plan = sched.schedule(t);
        // A plan with no entries means there is nothing runnable at all.
        assert.ok(plan.entries.length > 0 || !sched.hasUnfinished());
        const running = sched.runningRequests();
        maxRunning = Math.max(maxRunning, running.length);
        assert.ok(running.length <= cfg.maxNumSeqs!, `${running.length} running`);
        assert.ok(plan.numScheduledTokens <= cfg.maxNumBatchedTokens!);
        assert.equal(plan.numScheduledTokens, plan.entries.reduce((a, e) => a + e.numNewTokens, 0));
        assert.equal(plan.numScheduledTokens, plan.numPrefillTokens + plan.numDecodeTokens);
        assert.equal(plan.work.prefill.length + plan.work.decode.length, plan.entries.length);
        assert.ok(kv.numUsedBlocks <= kv.numBlocks);
        kv.checkInvariants();
        if (plan.preempted.length > 0) {
          // Waiting requests are not admitted in a step that preempted.
          for (const e of plan.entries) assert.equal(e.cachedTokens, 0);
        }
        if (cfg.policy !== 'priority') {
          // fcfs: preempted requests go back to the front of the queue, earliest-scheduled first.
          const k = plan.preempted.length;
          assert.deepEqual(sched.waitingRequests().slice(0, k), [...plan.preempted].reverse());
        }
        for (const p of plan.preempted) {
          preemptedEver.add(p.id);
          assert.equal(p.status, 'preempted');
          assert.equal(p.numComputedTokens, 0);
          assert.deepEqual(kv.blockTable(p.id), []);
          assert.ok(sched.waitingRequests().includes(p));
          assert.ok(!plan.entries.some((e) => e.request === p));
        }
        for (const e of plan.entries) {
          const r = e.request;
          assert.equal(r.status, 'running');
          assert.ok(e.numNewTokens >= 1);
          assert.equal(e.contextBefore, r.numComputedTokens);
          assert.ok(e.contextBefore + e.numNewTokens <= r.promptTokenIds.length + r.outputTokenIds.length);
          assert.ok(kv.blockTable(r.id).length * bs >= e.contextBefore + e.numNewTokens);
          if (cfg.longPrefillTokenThreshold !== undefined) assert.ok(e.numNewTokens <= cfg.longPrefillTokenThreshold);
          else if (cfg.enableChunkedPrefill === false) {
            // Whole prompts: everything still to compute, unless that can never fit one step
            // (a resumed request whose prompt + outputs outgrew the budget is chunked).
            const remaining = r.promptTokenIds.length + r.outputTokenIds.length - e.contextBefore;
            if (remaining <= cfg.maxNumBatchedTokens!) assert.equal(e.numNewTokens, remaining);
          }
          assert.ok(r.firstScheduledMs !== undefined && r.firstScheduledMs <= t);
        }
        const stats = sched.stats();
        assert.equal(stats.numRunning, running.length);
        assert.equal(stats.numWaiting, sched.waitingRequests().length);
        assert.equal(stats.kvUsage, kv.usage());
        assert.ok(stats.prefixHitsTokens <= stats.prefixQueriesTokens);

        // A random abort between schedule() and commit(): its entry is skipped.
        let abortedMidStep: string | undefined;
        if (t < arrivalSteps && plan.entries.length > 0 && rng.next() < 0.01) {
          abortedMidStep = plan.entries[rng.int(0, plan.entries.length - 1)]!.request.id;
          sched.abort(abortedMidStep);
          aborted.add(abortedMidStep);
        }
        const ev = sched.commit(plan, tokenOf, t + 1);
        for (const tok of ev.tokens) {
          assert.notEqual(tok.req.id, abortedMidStep);
          const seen = outputsSeen.get(tok.req.id) ?? 0;
          assert.equal(tok.index, seen);
          outputsSeen.set(tok.req.id, seen + 1);
        }
        for (const f of ev.finished) {
          assert.equal(f.req.status, 'finished');
          assert.deepEqual(kv.blockTable(f.req.id), []);
        }
        kv.checkInvariants();
      }

      assert.equal(kv.numUsedBlocks, 0);
      assert.ok(all.length > 500, `${all.length} requests`);
      assert.ok(aborted.size > 10);
      assert.ok(maxRunning >= 2);
      for (const r of all) {
        assert.equal(r.status, 'finished');
        if (aborted.has(r.id)) continue;
        const n = expectedOutputs(r);
        assert.equal(r.outputTokenIds.length, n, `${r.id} outputs`);
        assert.equal(outputsSeen.get(r.id), n);
        const lengthCapped = r.outputTokenIds.length >= r.maxTokens || r.promptTokenIds.length + r.outputTokenIds.length >= r.maxModelLen;
        assert.equal(r.finishReason, lengthCapped ? 'length' : 'stop');
      }
      const completedAfterPreemption = [...preemptedEver].filter((id) => !aborted.has(id));
      if (cfg.numBlocks < 20) {
        assert.ok(sched.stats().preemptionsTotal > 20, `${sched.stats().preemptionsTotal} preemptions`);
        assert.ok(completedAfterPreemption.length > 5);
      }
      if (cfg.prefix) assert.ok(sched.stats().prefixHitsTokens > 0);
      else assert.equal(sched.stats().prefixQueriesTokens, 0);
      assert.ok(rejected > 0 && rejected < all.length);
    });
  }
});

describe('Scheduler: chunked prefill', () => {
  it('cuts a long prompt into budget-sized chunks; the last chunk yields the first token', () => {
    const s = setup({ maxNumBatchedTokens: 64 });
    const r = addOk(s.sched, mkReq({ id: 'long', prompt: seq(0, 200), maxTokens: 3 }));
    const chunks: Array<[number, number]> = [];
    const tokensAt: number[] = [];
    for (let t = 0; s.sched.hasUnfinished(); t++) {
      const { plan, ev } = step(s, t);
      for (const e of plan.entries) chunks.push([e.contextBefore, e.numNewTokens]);
      if (ev.tokens.length > 0) tokensAt.push(t);
    }
    assert.deepEqual(chunks, [[0, 64], [64, 64], [128, 64], [192, 8], [200, 1], [201, 1]]);
    assert.deepEqual(tokensAt, [3, 4, 5]);
    assert.equal(r.finishReason, 'length');
  });

  it('shares the budget: running decodes first, then the prompt chunk gets what is left', () => {
    const s = setup({ maxNumBatchedTokens: 64 });
    addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 10), maxTokens: 50 }));
    step(s, 0);
    addOk(s.sched, mkReq({ id: 'b', prompt: seq(100, 200), maxTokens: 2 }));
    const { plan } = step(s, 1);
    assert.deepEqual(
      plan.entries.map((e) => [e.request.id, e.numNewTokens, e.isPrefill]),
      [['a', 1, false], ['b', 63, true]],
    );
    assert.deepEqual(plan.work, { prefill: [{ newTokens: 63, contextBefore: 0 }], decode: [{ context: 10 }] });
    assert.equal(plan.numDecodeTokens, 1);
    assert.equal(plan.numPrefillTokens, 63);
  });

  it('caps a prefill chunk at longPrefillTokenThreshold', () => {
    const s = setup({ maxNumBatchedTokens: 512, longPrefillTokenThreshold: 50 });
    addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 120), maxTokens: 1 }));
    const sizes = runToCompletion(s).flatMap((p) => p.entries.map((e) => e.numNewTokens));
    assert.deepEqual(sizes, [50, 50, 20]);
  });
});

describe('Scheduler: without chunked prefill', () => {
  it('schedules a prompt only whole; one that does not fit the budget left waits while smaller ones go', () => {
    const s = setup({ maxNumBatchedTokens: 64, enableChunkedPrefill: false });
    addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 40), maxTokens: 5 }));
    addOk(s.sched, mkReq({ id: 'b', prompt: seq(100, 40), maxTokens: 5 }));
    addOk(s.sched, mkReq({ id: 'c', prompt: seq(200, 10), maxTokens: 5 }));
    const first = step(s, 0).plan;
    assert.deepEqual(first.entries.map((e) => [e.request.id, e.numNewTokens]), [['a', 40], ['c', 10]]);
    const second = step(s, 1).plan;
    assert.deepEqual(second.entries.map((e) => [e.request.id, e.numNewTokens]), [['a', 1], ['c', 1], ['b', 40]]);
  });

  it('chunks a resumed request whose prompt + outputs outgrew the budget (it could never go whole)', () => {
    const s = setup({ maxNumBatchedTokens: 24, enableChunkedPrefill: false, numBlocks: 4, prefix: false });
    const a = addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 20), maxTokens: 40 }));
    const b = addOk(s.sched, mkReq({ id: 'b', prompt: seq(100, 20), maxTokens: 40 }));
    const bSteps: Array<[number, number]> = [];
    let preemptedWith = -1;
    for (let t = 0; s.sched.hasUnfinished(); t++) {
      assert.ok(t < 1000);
      const { plan } = step(s, t);
      if (plan.preempted.includes(b)) preemptedWith = b.outputTokenIds.length;
      for (const e of plan.entries) if (e.request === b) bSteps.push([e.contextBefore, e.numNewTokens]);
    }
    const recompute = 20 + preemptedWith;
    assert.ok(recompute > 24, `b preempted with ${preemptedWith} outputs`);
    const resumed = bSteps.slice(bSteps.findIndex(([, n], i) => i > 0 && n > 1));
    assert.deepEqual(resumed.slice(0, 3), [[0, 24], [24, recompute - 24], [recompute, 1]]);
    assert.deepEqual([a.outputTokenIds.length, b.outputTokenIds.length], [40, 40]);
  });

  it('refuses at add() a prompt longer than maxNumBatchedTokens', () => {
    const s = setup({ maxNumBatchedTokens: 64, enableChunkedPrefill: false });
    const r = mkReq({ id: 'x', prompt: seq(0, 65), maxTokens: 5 });
    const res = s.sched.add(r);
    assert.equal(res.ok, false);
    assert.equal(res.ok === false && res.code, 'prompt_exceeds_batch_tokens');
    assert.equal(s.sched.hasUnfinished(), false);
    addOk(s.sched, mkReq({ id: 'y', prompt: seq(0, 64), maxTokens: 5 }));
  });
});

describe('Scheduler: prefix caching', () => {
  it('a request sharing a 64-token prefix computes 64 fewer prompt tokens; counters say 64', () => {
    const s = setup({ maxNumBatchedTokens: 1024 });
    const prefix = seq(5000, 64);
    addOk(s.sched, mkReq({ id: 'a', prompt: [...prefix, ...seq(1, 30)], maxTokens: 4 }));
    runToCompletion(s);
    const before = s.sched.stats();
    assert.deepEqual([before.prefixQueriesTokens, before.prefixHitsTokens], [94, 0]);
    const b = addOk(s.sched, mkReq({ id: 'b', prompt: [...prefix, ...seq(900, 50)], maxTokens: 4 }));
    const plans = runToCompletion(s);
    const prefill = plans.flatMap((p) => p.entries.filter((e) => e.request === b && e.isPrefill));
    assert.deepEqual(prefill.map((e) => [e.contextBefore, e.numNewTokens, e.cachedTokens]), [[64, 50, 64]]);
    const after = s.sched.stats();
    assert.equal(after.prefixHitsTokens - before.prefixHitsTokens, 64);
    assert.equal(after.prefixQueriesTokens - before.prefixQueriesTokens, 114);
    assert.deepEqual(plans[0]!.work.prefill, [{ newTokens: 50, contextBefore: 64 }]);
  });

  it('a request whose whole prompt is cached still computes its last token', () => {
    const s = setup();
    const prompt = seq(42, 65);
    addOk(s.sched, mkReq({ id: 'a', prompt, maxTokens: 2 }));
    runToCompletion(s);
    const b = addOk(s.sched, mkReq({ id: 'b', prompt, maxTokens: 2 }));
    const { plan, ev } = step(s, 100);
    assert.deepEqual(plan.entries.map((e) => [e.request.id, e.contextBefore, e.numNewTokens, e.isPrefill]), [['b', 64, 1, true]]);
    assert.deepEqual(ev.tokens.map((t) => [t.req.id, t.index]), [['b', 0]]);
    assert.equal(b.numComputedTokens, 65);
  });
});

describe('Scheduler: preemption', () => {
  /** Two requests that each outgrow half of a 4-block cache. */
  function pair(policy: 'fcfs' | 'priority'): { s: Setup; early: SimRequest; late: SimRequest } {
    const s = setup({ numBlocks: 4, policy });
    // "early" (priority 5: less important) is running before "late" (priority 0) arrives.
    const early = addOk(s.sched, mkReq({ id: 'early', prompt: seq(0, 20), maxTokens: 40, priority: 5, arrivalMs: 0 }));
    step(s, 0);
    const late = addOk(s.sched, mkReq({ id: 'late', prompt: seq(500, 20), maxTokens: 40, priority: 0, arrivalMs: 1 }));
    return { s, early, late };
  }

  it('fcfs preempts the most recently scheduled request by recompute, which later completes', () => {
    const { s, early, late } = pair('fcfs');
    let sawPreemption = false;
    for (let t = 1; s.sched.hasUnfinished(); t++) {
      assert.ok(t < 1000);
      const plan = s.sched.schedule(t);
      for (const p of plan.preempted) {
        assert.equal(p, late);
        sawPreemption = true;
        assert.deepEqual(s.kv.blockTable('late'), []);
        assert.equal(late.numComputedTokens, 0);
        assert.ok(late.outputTokenIds.length > 0, 'outputs are kept');
        assert.equal(s.sched.waitingRequests()[0], late);
        assert.equal(s.kv.numUsedBlocks, s.kv.blockTable('early').length);
      }
      const resumed = plan.entries.find((e) => e.request === late && e.cachedTokens > 0);
      if (resumed !== undefined) assert.equal(resumed.contextBefore + resumed.numNewTokens, 20 + late.outputTokenIds.length);
      s.sched.commit(plan, tokenOf, t + 1);
      s.kv.checkInvariants();
    }
    assert.ok(sawPreemption);
    assert.equal(early.numPreemptions, 0);
    assert.ok(late.numPreemptions >= 1);
    assert.equal(late.firstScheduledMs, 1);
    assert.deepEqual([early.outputTokenIds.length, late.outputTokenIds.length], [40, 40]);
    assert.equal(s.sched.stats().preemptionsTotal, late.numPreemptions);
  });

  it('priority preempts the lowest priority, even when it runs first', () => {
    const { s, early, late } = pair('priority');
    const preempted: string[] = [];
    const finishOrder: string[] = [];
    for (let t = 1; s.sched.hasUnfinished(); t++) {
      assert.ok(t < 1000);
      const { plan, ev } = step(s, t);
      preempted.push(...plan.preempted.map((r) => r.id));
      finishOrder.push(...ev.finished.map((f) => f.req.id));
      s.kv.checkInvariants();
    }
    assert.ok(preempted.length >= 1);
    assert.ok(preempted.every((id) => id === 'early'));
    assert.equal(late.numPreemptions, 0);
    assert.deepEqual(finishOrder, ['late', 'early']);
    assert.deepEqual([early.outputTokenIds.length, late.outputTokenIds.length], [40, 40]);
  });

  it('priority unschedules a victim already scheduled this step and refunds its tokens', () => {
    // Running order [low, high]; high needs a new block at the step where low has taken the last one.
    const s = setup({ numBlocks: 4, policy: 'priority', maxNumBatchedTokens: 64 });
    const low = addOk(s.sched, mkReq({ id: 'low', prompt: seq(0, 16), maxTokens: 16, priority: 9 }));
    step(s, 0); // low: 16 tokens (1 block), first output
    const high = addOk(s.sched, mkReq({ id: 'high', prompt: seq(100, 32), maxTokens: 16, priority: 1 }));
    step(s, 1); // low decodes token 17 (2nd block); high prefills 32 (2 blocks) -> cache full
    assert.equal(s.kv.numFreeBlocks, 0);
    assert.deepEqual(s.sched.runningRequests(), [low, high]);
    const plan = s.sched.schedule(2); // low fits in its blocks; high needs a 3rd block for its 33rd token
    assert.deepEqual(plan.preempted, [low]);
    assert.deepEqual(plan.entries.map((e) => e.request.id), ['high']);
    assert.equal(plan.numScheduledTokens, 1);
    s.sched.commit(plan, tokenOf, 3);
    s.kv.checkInvariants();
    runToCompletion(s);
    assert.deepEqual([low.outputTokenIds.length, high.outputTokenIds.length], [16, 16]);
  });

  it('after unscheduling an earlier victim, the requests behind still get the refunded budget', () => {
    // Budget 11 = low 1 + high 1 + third 8 (threshold) + fourth 1; blocks: low, high, fourth 1 each, third up to 2.
    const s = setup({ numBlocks: 5, policy: 'priority', maxNumBatchedTokens: 11, longPrefillTokenThreshold: 8 });
    const low = addOk(s.sched, mkReq({ id: 'low', prompt: seq(0, 8), maxTokens: 8, priority: 9 }));
    step(s, 0);
    addOk(s.sched, mkReq({ id: 'high', prompt: seq(100, 8), maxTokens: 8, priority: 1 }));
    step(s, 1);
    addOk(s.sched, mkReq({ id: 'third', prompt: seq(200, 60), maxTokens: 2, priority: 5 }));
    addOk(s.sched, mkReq({ id: 'fourth', prompt: seq(300, 40), maxTokens: 2, priority: 7 }));
    const shape = (p: StepPlan): Array<[string, number]> => p.entries.map((e) => [e.request.id, e.numNewTokens]);
    for (let t = 2; t <= 5; t++) {
      const { plan } = step(s, t);
      assert.deepEqual(shape(plan), [['low', 1], ['high', 1], ['third', 8], ['fourth', 1]], `step ${t}`);
    }
    // third needs a 3rd block for tokens 33..40: low (largest priority value) is the victim.
    const plan = s.sched.schedule(6);
    assert.deepEqual(plan.preempted, [low]);
    assert.deepEqual(shape(plan), [['high', 1], ['third', 8], ['fourth', 2]]);
    s.sched.commit(plan, tokenOf, 7);
    s.kv.checkInvariants();
    runToCompletion(s);
    assert.equal(low.outputTokenIds.length, 8);
  });

  it('a request that must preempt itself is not scheduled; the step goes on without it', () => {
    const s = setup({ numBlocks: 4, policy: 'priority' });
    const early = addOk(s.sched, mkReq({ id: 'early', prompt: seq(0, 31), maxTokens: 20, priority: 5 }));
    step(s, 0);
    const late = addOk(s.sched, mkReq({ id: 'late', prompt: seq(500, 32), maxTokens: 20, priority: 0 }));
    step(s, 1); // early: 32 tokens (2 blocks); late: 32 tokens (2 blocks)
    // early needs a 3rd block and is its own victim; vLLM's next (empty-step-later) pass runs late.
    const plan = s.sched.schedule(2);
    assert.deepEqual(plan.preempted, [early]);
    assert.deepEqual(plan.entries.map((e) => [e.request.id, e.numNewTokens]), [['late', 1]]);
    assert.deepEqual(s.sched.waitingRequests(), [early]);
    s.sched.commit(plan, tokenOf, 3);
    runToCompletion(s);
    assert.deepEqual([early.outputTokenIds.length, late.outputTokenIds.length], [20, 20]);
  });
});

describe('Scheduler: queue order', () => {
  it('priority admits lower values first, ties by arrival', () => {
    const s = setup({ maxNumSeqs: 1, policy: 'priority' });
    addOk(s.sched, mkReq({ id: 'c3', prompt: seq(0, 8), maxTokens: 2, priority: 3, arrivalMs: 0 }));
    addOk(s.sched, mkReq({ id: 'a1-late', prompt: seq(0, 8), maxTokens: 2, priority: 1, arrivalMs: 5 }));
    addOk(s.sched, mkReq({ id: 'b2', prompt: seq(0, 8), maxTokens: 2, priority: 2, arrivalMs: 1 }));
    addOk(s.sched, mkReq({ id: 'a1-early', prompt: seq(0, 8), maxTokens: 2, priority: 1, arrivalMs: 2 }));
    const order: string[] = [];
    for (const p of runToCompletion(s)) for (const e of p.entries) if (e.contextBefore === 0) order.push(e.request.id);
    assert.deepEqual(order, ['a1-early', 'a1-late', 'b2', 'c3']);
  });

  it('fcfs keeps the order of arrival and ignores priority', () => {
    const s = setup({ maxNumSeqs: 2, policy: 'fcfs' });
    const ids = ['p9', 'p0', 'p5', 'p1', 'p3'];
    const order: string[] = [];
    const made = ids.map((id, i) => addOk(s.sched, mkReq({ id, prompt: seq(i * 100, 20), maxTokens: 3, priority: Number(id.slice(1)), arrivalMs: i })));
    for (const p of runToCompletion(s)) for (const e of p.entries) if (e.contextBefore === 0) order.push(e.request.id);
    assert.deepEqual(order, ids);
    const firsts = made.map((r) => r.firstScheduledMs!);
    assert.deepEqual([...firsts].sort((a, b) => a - b), firsts);
  });

  it('never runs more than maxNumSeqs', () => {
    const s = setup({ maxNumSeqs: 3 });
    for (let i = 0; i < 10; i++) addOk(s.sched, mkReq({ id: `r${i}`, prompt: seq(i * 50, 5), maxTokens: 4 }));
    const plan = s.sched.schedule(0);
    assert.equal(plan.entries.length, 3);
    assert.deepEqual(s.sched.stats().numRunning, 3);
    assert.deepEqual(s.sched.stats().numWaiting, 7);
    s.sched.commit(plan, tokenOf, 1);
  });
});

describe('Scheduler: finishing, aborts and misuse', () => {
  it('stops at the sampled EOS point with "stop", at max_tokens or max_model_len with "length"', () => {
    const s = setup();
    const eos = addOk(s.sched, mkReq({ id: 'eos', prompt: seq(0, 10), maxTokens: 20, target: 7 }));
    const ignore = addOk(s.sched, mkReq({ id: 'ignore', prompt: seq(100, 10), maxTokens: 6, target: 6 }));
    const mml = addOk(s.sched, mkReq({ id: 'mml', prompt: seq(200, 10), maxTokens: 100, target: 100, maxModelLen: 15 }));
    const one = addOk(s.sched, mkReq({ id: 'one', prompt: seq(300, 10), maxTokens: 1, target: 50 }));
    runToCompletion(s);
    assert.deepEqual(
      [eos, ignore, mml, one].map((r) => [r.id, r.outputTokenIds.length, r.finishReason]),
      [['eos', 7, 'stop'], ['ignore', 6, 'length'], ['mml', 5, 'length'], ['one', 1, 'length']],
    );
  });

  it('abort frees a running request at once and drops a waiting one', () => {
    const s = setup({ maxNumSeqs: 1 });
    const a = addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 40), maxTokens: 10 }));
    const b = addOk(s.sched, mkReq({ id: 'b', prompt: seq(100, 40), maxTokens: 10 }));
    step(s, 0);
    assert.equal(s.kv.numUsedBlocks, 3);
    assert.equal(s.sched.abort('a'), true);
    assert.equal(s.kv.numUsedBlocks, 0);
    assert.equal(s.sched.abort('b'), true);
    assert.equal(s.sched.abort('b'), false);
    assert.equal(s.sched.abort('nope'), false);
    assert.deepEqual([a.finishReason, b.finishReason], ['abort', 'abort']);
    assert.equal(s.sched.hasUnfinished(), false);
    s.kv.checkInvariants();
  });

  it('skips, at commit, a request aborted after schedule()', () => {
    const s = setup();
    const a = addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 40), maxTokens: 10 }));
    const plan = s.sched.schedule(0);
    s.sched.abort('a');
    const ev = s.sched.commit(plan, tokenOf, 1);
    assert.deepEqual(ev.tokens, []);
    assert.equal(a.outputTokenIds.length, 0);
    assert.equal(s.kv.numUsedBlocks, 0);
  });

  it('refuses requests it could never serve, with a code', () => {
    const s = setup({ numBlocks: 4 });
    const codes = [
      mkReq({ id: 'empty', prompt: [], maxTokens: 1 }),
      mkReq({ id: 'long', prompt: seq(0, 10), maxTokens: 1, maxModelLen: 10 }),
      mkReq({ id: 'zero', prompt: seq(0, 10), maxTokens: 0 }),
      mkReq({ id: 'big', prompt: seq(0, 60), maxTokens: 10 }), // 69 tokens of KV > 4 blocks
    ].map((r) => {
      const res = s.sched.add(r);
      return res.ok ? 'ok' : res.code;
    });
    assert.deepEqual(codes, ['prompt_empty', 'prompt_too_long', 'invalid_lengths', 'exceeds_kv_capacity']);
    addOk(s.sched, mkReq({ id: 'dup', prompt: seq(0, 10), maxTokens: 2 }));
    const dup = s.sched.add(mkReq({ id: 'dup', prompt: seq(0, 10), maxTokens: 2 }));
    assert.equal(dup.ok === false && dup.code, 'duplicate_id');
    assert.equal(s.sched.stats().numWaiting, 1);
  });

  it('rejects a bad configuration with every problem listed', () => {
    const kv = new KvCacheManager({ numBlocks: 4, enablePrefixCaching: true });
    assert.throws(
      () =>
        new Scheduler(
          { maxNumSeqs: 0, maxNumBatchedTokens: -1, enableChunkedPrefill: true, policy: 'lifo' as 'fcfs', longPrefillTokenThreshold: 1.5 },
          kv,
        ),
      (e: unknown) => e instanceof SchedulerConfigError && e.code === 'FG_SIM_SCHEDULER_CONFIG' && e.problems.length === 4,
    );
  });

  it('insists on schedule() and commit() in pairs', () => {
    const s = setup();
    addOk(s.sched, mkReq({ id: 'a', prompt: seq(0, 4), maxTokens: 2 }));
    const plan = s.sched.schedule(0);
    assert.throws(() => s.sched.schedule(1), (e: unknown) => e instanceof SchedulerStateError && e.code === 'FG_SIM_SCHEDULER_STATE');
    s.sched.commit(plan, tokenOf, 1);
    assert.throws(() => s.sched.commit(plan, tokenOf, 2), SchedulerStateError);
    runToCompletion(s);
    // An empty plan (nothing to run) needs no commit.
    const idle = s.sched.schedule(10);
    assert.deepEqual([idle.entries.length, idle.numScheduledTokens], [0, 0]);
    const again = s.sched.schedule(11);
    assert.deepEqual(s.sched.commit(again, tokenOf, 12), { nowMs: 12, tokens: [], finished: [] });
  });
});
