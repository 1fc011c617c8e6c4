/**
 * The simulated engine behaves like vLLM under load (deterministic: virtual clock, seeded
 * arrivals): TTFT rises under a spike as the queue builds and falls back after it; ITL rises
 * with the batch size; a KV cache too small for the load preempts; fp8 weights serve more
 * than bf16 on an H100; prefix caching skips shared prefill work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { virtualRun, type VirtualRequest } from '../../reference-stack/worker-sim/virtual-run.ts';
import { resolveConfig, SimConfigError } from '../../reference-stack/worker-sim/sim-engine.ts';
import { openLoopArrivals } from '../../harness/engine/arrival-schedule.ts';
import { Rng } from '../../harness/workload/rng.ts';
import type { Stage } from '../../harness/scenario/scenario-types.ts';

const H100_8B = { gpu: 'h100-sxm', model: 'llama-3.1-8b' } as const;

function arrivals(stages: Array<[rate: number, seconds: number]>, prompt: number, output: number): VirtualRequest[] {
  const st: Stage[] = stages.map(([rateRps, s], index) => ({ kind: 'open', index, name: `s${index}`, rateRps, durationMs: s * 1000, rampMs: 0 }));
  const a = openLoopArrivals(st, { arrival: 'poisson', burstiness: 1 }, new Rng(3));
  return Array.from(a.timesMs, (t) => ({ arrivalMs: t, promptTokens: prompt, outputTokens: output }));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('TTFT rises under a spike as the queue builds, and recovers after it', () => {
  const reqs = arrivals([[4, 20], [40, 10], [4, 30]], 1000, 200);
  const r = virtualRun(H100_8B, reqs);
  const ttft = (from: number, to: number) => mean(r.requests.filter((q) => q.arrivalMs >= from && q.arrivalMs < to).map((q) => q.ttftMs));
  const before = ttft(5_000, 20_000);
  const during = ttft(25_000, 30_000);
  const after = ttft(50_000, 60_000);
  assert.ok(during > 3 * before, `spike TTFT ${during.toFixed(1)} ms vs baseline ${before.toFixed(1)} ms`);
  assert.ok(after < during / 2, `recovered TTFT ${after.toFixed(1)} ms vs spike ${during.toFixed(1)} ms`);
  assert.equal(r.requests.length, reqs.length);
});

test('ITL rises with the batch size', () => {
  const itl = (users: number) => {
    const reqs = Array.from({ length: users * 3 }, () => ({ arrivalMs: 0, promptTokens: 500, outputTokens: 300 }));
    return mean(virtualRun(H100_8B, reqs, { concurrency: users }).requests.flatMap((q) => q.itlMs));
  };
  const [i1, i32, i256] = [itl(1), itl(32), itl(256)];
  assert.ok(i1 < i32 && i32 < i256, `ITL 1: ${i1.toFixed(2)}, 32: ${i32.toFixed(2)}, 256: ${i256.toFixed(2)} ms`);
});

test('a KV cache too small for the load preempts, and every request still completes', () => {
  const reqs = Array.from({ length: 64 }, () => ({ arrivalMs: 0, promptTokens: 3000, outputTokens: 1000 }));
  const small = virtualRun({ ...H100_8B, gpuMemoryUtilization: 0.28, maxModelLen: 8192 }, reqs, { concurrency: 64 });
  assert.ok(small.preemptions > 0, `preemptions: ${small.preemptions}`);
  assert.equal(small.requests.length, 64);
  assert.ok(small.requests.every((q) => q.outputTokens === 1000));
  const big = virtualRun({ ...H100_8B, maxModelLen: 8192 }, reqs, { concurrency: 64 });
  assert.equal(big.preemptions, 0);
  assert.ok(small.peakKvUsage > 0.9, `peak KV usage ${small.peakKvUsage}`);
});

test('fp8 weights serve more tokens per second than bf16 on an H100', () => {
  const reqs = Array.from({ length: 256 }, () => ({ arrivalMs: 0, promptTokens: 1000, outputTokens: 200 }));
  const tput = (quantization: 'bf16' | 'fp8') => {
    const r = virtualRun({ ...H100_8B, quantization }, reqs, { concurrency: 64 });
    return r.requests.reduce((a, q) => a + q.outputTokens, 0) / r.durationMs;
  };
  assert.ok(tput('fp8') > tput('bf16') * 1.1);
});

test('the run is deterministic: same inputs, same figures', () => {
  const reqs = arrivals([[20, 10]], 800, 100);
  const a = virtualRun(H100_8B, reqs);
  const b = virtualRun(H100_8B, reqs);
  assert.deepEqual(a.requests.map((q) => q.ttftMs), b.requests.map((q) => q.ttftMs));
  assert.equal(a.steps, b.steps);
});

test('without chunked prefill the step budget must hold max_model_len: raised by default, refused when set below', () => {
  const base = { gpu: 'h100-sxm', model: 'llama-3.1-8b', maxModelLen: 16384, enableChunkedPrefill: false } as const;
  assert.equal(resolveConfig(base).maxNumBatchedTokens, 16384);
  assert.equal(resolveConfig({ ...base, maxNumBatchedTokens: 20000 }).maxNumBatchedTokens, 20000);
  assert.throws(() => resolveConfig({ ...base, maxNumBatchedTokens: 2048 }), (e: unknown) => e instanceof SimConfigError && /max_num_batched_tokens \(2048\) is below max_model_len \(16384\)/.test(e.message));
  // With chunked prefill the budget is a step's, whatever the context.
  assert.equal(resolveConfig({ ...base, enableChunkedPrefill: true, maxNumBatchedTokens: 2048 }).maxNumBatchedTokens, 2048);
});
