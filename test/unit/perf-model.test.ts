/**
 * The simulated GPU's performance model (reference-stack/worker-sim/perf-model.ts) and KV-cache
 * sizing (kv-capacity.ts): the directions every roofline must get right, the figures fitted to
 * the measured vLLM point P2 (CALIBRATION.md), and the KV-cache derivation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getGpu } from '../../reference-stack/worker-sim/gpu-catalog.ts';
import { getModel } from '../../reference-stack/worker-sim/model-catalog.ts';
import { defaultEfficiency, distinctExperts, mfuFor, stepCost, DEFAULT_EFFICIENCY } from '../../reference-stack/worker-sim/perf-model.ts';
import { kvCapacity, vllmBatchDefaults } from '../../reference-stack/worker-sim/kv-capacity.ts';
import type { GpuSpec, KvCacheDtype, ModelSpec, PerfConfig, StepCost, StepWork, WeightQuant } from '../../reference-stack/worker-sim/sim-types.ts';

function gpu(id: string): GpuSpec {
  const g = getGpu(id);
  assert.ok(g, `GPU ${id} in the catalogue`);
  return g;
}

function model(id: string): ModelSpec {
  const m = getModel(id);
  assert.ok(m, `model ${id} in the catalogue`);
  return m;
}

function cfg(o: { gpu?: string; model?: string | ModelSpec; q?: WeightQuant; kv?: KvCacheDtype; tp?: number } = {}): PerfConfig {
  const g = gpu(o.gpu ?? 'h100-sxm');
  return {
    gpu: g,
    model: typeof o.model === 'object' ? o.model : model(o.model ?? 'llama-3.1-8b'),
    quantization: o.q ?? 'bf16',
    kvCacheDtype: o.kv ?? 'auto',
    tensorParallelSize: o.tp ?? 1,
    efficiency: defaultEfficiency(g),
  };
}

function decode(batch: number, context: number): StepWork {
  return { prefill: [], decode: Array.from({ length: batch }, () => ({ context })) };
}

function cost(c: PerfConfig, w: StepWork): StepCost {
  return stepCost(c, w);
}

/** Time to prefill `promptLen` tokens in chunks of `chunk`, one chunk per step, ms (the TTFT of a lone request). */
function prefillMs(c: PerfConfig, promptLen: number, chunk = 8192): number {
  let t = 0;
  for (let done = 0; done < promptLen; done += chunk) {
    t += cost(c, { prefill: [{ newTokens: Math.min(chunk, promptLen - done), contextBefore: done }], decode: [] }).timeMs;
  }
  return t;
}

function assertWithin(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual / expected - 1) <= rel, `${what}: ${actual.toFixed(4)} is not within ${rel * 100}% of ${expected.toFixed(4)}`);
}

describe('P2 fit: Llama-3.1-8B BF16 on 1x H100 SXM, concurrency 1 (CALIBRATION.md)', () => {
  for (const context of [256, 32768, 100000]) {
    it(`batch-1 ITL at context ${context} is 6.44 + 4.37e-5 x context ms (BF16 KV) within 10%`, () => {
      const t = cost(cfg(), decode(1, context)).timeMs;
      assertWithin(t, 6.44 + 4.37e-5 * context, 0.1, `ITL at ${context}`);
    });
    it(`batch-1 ITL at context ${context} is 6.58 + 2.37e-5 x context ms (FP8 KV) within 10%`, () => {
      const t = cost(cfg({ kv: 'fp8' }), decode(1, context)).timeMs;
      assertWithin(t, 6.58 + 2.37e-5 * context, 0.1, `ITL at ${context}, fp8 KV`);
    });
  }

  it('the ITL slope per context token is 4.37e-5 ms (BF16 KV) and 2.37e-5 ms (FP8 KV) within 10%', () => {
    for (const [kv, slope] of [['auto', 4.37e-5], ['fp8', 2.37e-5]] as const) {
      const c = cfg({ kv });
      const s = (cost(c, decode(1, 100000)).timeMs - cost(c, decode(1, 256)).timeMs) / (100000 - 256);
      assertWithin(s, slope, 0.1, `slope with ${kv} KV`);
    }
  });

  it('a 32k-token prompt prefilled in 8192-token chunks takes ~1.3 s (P2 TTFT) within 10%', () => {
    assertWithin(prefillMs(cfg(), 32768), 1300, 0.1, '32k prefill');
  });

  it('65k- and 131k-token prompts take ~3.6 s and ~10.1 s (P2 TTFT, read off a chart) within 10%', () => {
    assertWithin(prefillMs(cfg(), 65536), 3600, 0.1, '65k prefill');
    assertWithin(prefillMs(cfg(), 131072), 10100, 0.1, '131k prefill');
  });
});

describe('stepCost directions', () => {
  it('FP8 weights decode faster than BF16 on H100 (half the weight bytes)', () => {
    for (const batch of [1, 64]) {
      const bf16 = cost(cfg(), decode(batch, 1000));
      const fp8 = cost(cfg({ q: 'fp8' }), decode(batch, 1000));
      assert.ok(fp8.timeMs < bf16.timeMs, `batch ${batch}: fp8 ${fp8.timeMs} vs bf16 ${bf16.timeMs}`);
      assert.ok(fp8.bytes < bf16.bytes);
    }
  });

  it('FP8 W8A8 prefill is faster than BF16 on H100 (FP8 tensor cores), not on A100 (W8A16 Marlin)', () => {
    const chunk: StepWork = { prefill: [{ newTokens: 8192, contextBefore: 0 }], decode: [] };
    assert.ok(cost(cfg({ q: 'fp8' }), chunk).computeMs < cost(cfg(), chunk).computeMs);
    const a100 = { gpu: 'a100-80gb' };
    assert.ok(cost(cfg({ ...a100, q: 'fp8' }), chunk).computeMs > cost(cfg(a100), chunk).computeMs);
    // but A100 still decodes FP8 weights faster: memory-bound, half the bytes
    assert.ok(cost(cfg({ ...a100, q: 'fp8' }), decode(1, 1000)).timeMs < cost(cfg(a100), decode(1, 1000)).timeMs);
  });

  it('AWQ decodes faster than BF16 but prefills slower (Marlin dequantisation)', () => {
    const chunk: StepWork = { prefill: [{ newTokens: 8192, contextBefore: 0 }], decode: [] };
    assert.ok(cost(cfg({ q: 'awq' }), decode(1, 1000)).timeMs < cost(cfg(), decode(1, 1000)).timeMs);
    assert.ok(cost(cfg({ q: 'awq' }), chunk).timeMs > cost(cfg(), chunk).timeMs);
  });

  it('larger decode batches raise both the step time and the tokens per second', () => {
    let prev: { t: number; tps: number } | undefined;
    for (const batch of [1, 8, 64, 256]) {
      const t = cost(cfg(), decode(batch, 1000)).timeMs;
      const tps = (batch / t) * 1000;
      if (prev) {
        assert.ok(t > prev.t, `step time at batch ${batch}: ${t} <= ${prev.t}`);
        assert.ok(tps > prev.tps, `tokens/s at batch ${batch}: ${tps} <= ${prev.tps}`);
      }
      prev = { t, tps };
    }
  });

  it('longer contexts slow decode', () => {
    const times = [1000, 10000, 100000].map((ctx) => cost(cfg(), decode(16, ctx)).timeMs);
    assert.ok(times[0]! < times[1]! && times[1]! < times[2]!, times.join(' < '));
  });

  it('an A100 is slower than an H100 on the same work', () => {
    const works: StepWork[] = [decode(32, 2000), { prefill: [{ newTokens: 2048, contextBefore: 0 }], decode: [] }];
    for (const w of works) assert.ok(cost(cfg({ gpu: 'a100-80gb' }), w).timeMs > cost(cfg(), w).timeMs);
  });

  it('Llama-3.1-70B is slower than Llama-3.1-8B on the same GPUs', () => {
    for (const w of [decode(8, 1000), { prefill: [{ newTokens: 4096, contextBefore: 0 }], decode: [] }]) {
      assert.ok(cost(cfg({ model: 'llama-3.1-70b', tp: 2 }), w).timeMs > cost(cfg({ tp: 2 }), w).timeMs);
    }
  });

  it('FP8 KV cache reduces the context slope of decode to about half', () => {
    const slope = (kv: KvCacheDtype): number => (cost(cfg({ kv }), decode(8, 60000)).timeMs - cost(cfg({ kv }), decode(8, 1000)).timeMs) / 59000;
    const ratio = slope('fp8') / slope('auto');
    assert.ok(ratio > 0.45 && ratio < 0.65, `fp8 / bf16 slope ratio ${ratio}`);
  });

  it('TP2 adds all-reduce time but halves the bytes each GPU moves', () => {
    const w = decode(32, 2000);
    const tp1 = cost(cfg(), w);
    const tp2 = cost(cfg({ tp: 2 }), w);
    assert.equal(tp1.commMs, 0);
    assert.ok(tp2.commMs > 0);
    assertWithin(tp2.bytes, tp1.bytes / 2, 1e-9, 'bytes per GPU under TP2');
    assertWithin(tp2.flops, tp1.flops / 2, 1e-9, 'FLOPs per GPU under TP2');
    // the all-reduce is in the step time
    assert.ok(tp2.timeMs >= Math.max(tp2.computeMs, tp2.memoryMs) + tp2.commMs);
  });

  it('TP over PCIe (L40S) costs more all-reduce time than over NVLink (H100)', () => {
    const w = decode(64, 1000);
    assert.ok(cost(cfg({ gpu: 'l40s', tp: 2 }), w).commMs > cost(cfg({ tp: 2 }), w).commMs);
  });

  it('Mixtral-8x7B (12.9B active) decodes faster than a dense model of its total size (46.7B)', () => {
    const mixtral = model('mixtral-8x7b');
    const dense: ModelSpec = { ...mixtral, id: 'dense-46.7b', activeParamsB: mixtral.paramsB };
    delete (dense as { experts?: unknown }).experts;
    const w = decode(1, 1000);
    const moe = cost(cfg({ model: mixtral, tp: 2 }), w);
    const den = cost(cfg({ model: dense, tp: 2 }), w);
    assert.ok(moe.timeMs < den.timeMs, `${moe.timeMs} vs ${den.timeMs}`);
    assert.ok(moe.bytes < 0.4 * den.bytes, 'one token reads 2 of 8 experts');
    // a large batch touches every expert, so the weight bytes converge
    const big = decode(256, 10);
    assertWithin(cost(cfg({ model: mixtral, tp: 2 }), big).bytes, cost(cfg({ model: dense, tp: 2 }), big).bytes, 0.01, 'bytes at batch 256');
  });

  it('an empty step costs nothing', () => {
    assert.deepEqual(cost(cfg(), { prefill: [], decode: [] }), {
      timeMs: 0,
      computeMs: 0,
      memoryMs: 0,
      commMs: 0,
      overheadMs: 0,
      flops: 0,
      bytes: 0,
      tensorActive: 0,
      dramActive: 0,
    });
  });

  it('decode is memory-bound and a large prefill chunk compute-bound; activities stay in 0..1', () => {
    const d = cost(cfg(), decode(1, 1000));
    assert.ok(d.memoryMs > d.computeMs);
    assert.ok(d.dramActive > d.tensorActive);
    const p = cost(cfg(), { prefill: [{ newTokens: 8192, contextBefore: 0 }], decode: [] });
    assert.ok(p.computeMs > p.memoryMs);
    assert.ok(p.tensorActive > p.dramActive);
    for (const c of [d, p]) {
      for (const a of [c.tensorActive, c.dramActive]) assert.ok(a >= 0 && a <= 1, `activity ${a}`);
      assertWithin(c.timeMs, Math.max(c.computeMs, c.memoryMs) + c.commMs + c.overheadMs, 1e-12, 'time decomposition');
    }
    // a compute-bound step keeps the tensor cores busy about MFU of the time
    assert.ok(p.tensorActive > 0.5 && p.tensorActive < 0.65, `tensorActive ${p.tensorActive}`);
  });

  it('the per-sequence overhead counts prefill entries and decode sequences', () => {
    const c = cfg();
    const one = cost(c, decode(1, 100)).overheadMs;
    const mixed = cost(c, { prefill: [{ newTokens: 10, contextBefore: 0 }], decode: [{ context: 100 }, { context: 100 }] }).overheadMs;
    assertWithin(mixed - one, 2 * c.efficiency.perSeqOverheadMs, 1e-9, 'two more sequences');
  });
});

describe('perf-model helpers', () => {
  it('MFU is computeDecode up to 32 tokens, computePrefill from 2048, log-linear between', () => {
    const e = DEFAULT_EFFICIENCY.hopper;
    assert.equal(mfuFor(1, e), e.computeDecode);
    assert.equal(mfuFor(32, e), e.computeDecode);
    assert.equal(mfuFor(2048, e), e.computePrefill);
    assert.equal(mfuFor(100000, e), e.computePrefill);
    // 256 tokens: log2(256/32) / log2(2048/32) = 3/6 of the way
    assertWithin(mfuFor(256, e), (e.computeDecode + e.computePrefill) / 2, 1e-12, 'MFU at 256');
  });

  it('distinct experts: k for one token, all E for many, E (1 - (1 - k/E)^T) between', () => {
    assert.equal(distinctExperts(8, 2, 1), 2);
    assertWithin(distinctExperts(8, 2, 2), 8 * (1 - 0.75 ** 2), 1e-12, 'two tokens');
    assert.ok(distinctExperts(8, 2, 100) > 7.999);
  });

  it('default efficiencies: every catalogue architecture has one, inside the published ranges', () => {
    for (const id of ['l4', 'a10g', 'l40s', 'a100-40gb', 'a100-80gb', 'h100-sxm', 'h100-pcie', 'h200', 'b200', 'mi300x']) {
      const e = defaultEfficiency(gpu(id));
      assert.ok(e.memory >= 0.75 && e.memory <= 0.9, `${id} memory ${e.memory}`);
      assert.ok(e.computeDecode < e.computePrefill && e.computePrefill <= 0.75, `${id} MFU`);
      assert.ok(e.stepOverheadMs > 0 && e.perSeqOverheadMs > 0);
    }
    // the A10G (Ampere with GDDR6) takes the GDDR6 memory efficiency, not the A100's HBM2e one
    assert.ok(defaultEfficiency(gpu('a10g')).memory < defaultEfficiency(gpu('a100-80gb')).memory);
    assert.equal(defaultEfficiency(gpu('a10g')).computePrefill, defaultEfficiency(gpu('a100-80gb')).computePrefill);
    // a fresh object each time: a worker's overrides never leak into the defaults
    const e = defaultEfficiency(gpu('h100-sxm'));
    e.memory = 0.1;
    assert.equal(defaultEfficiency(gpu('h100-sxm')).memory, DEFAULT_EFFICIENCY.hopper.memory);
  });
});

describe('kvCapacity', () => {
  const GIB = 2 ** 30;
  const base = { quantization: 'bf16' as const, kvCacheDtype: 'auto' as const, tensorParallelSize: 1 };

  it('Llama-3.1-8B BF16 on an H100 SXM at 0.9 holds ~445k tokens', () => {
    // Expected, by hand: 0.9 x 79.22 GiB = 71.30 GiB; weights 8.03e9 x 2 B = 14.96 GiB; activation
    // 8192 x (4 x 4096 + 3 x 14336) x 2 B + 256 x 128256 x 12 B = 1.27 GiB; non-torch 0.2 GiB;
    // CUDA graphs 0.5 GiB -> 54.37 GiB / 128 KiB per token = 445k tokens (27.8k blocks of 16).
    // vLLM 0.6.5 logged 53.29 GiB available on this GPU for Llama-3-8B (vllm-project/vllm#10511): 436k.
    const k = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: model('llama-3.1-8b'), maxNumBatchedTokens: 8192, maxNumSeqs: 256 });
    assert.equal(k.fits, true);
    assertWithin(k.maxTokens, 445_000, 0.02, 'KV tokens');
    assertWithin(k.maxTokens, (53.29 * GIB) / 131072, 0.05, 'KV tokens vs the vLLM log');
    assert.equal(k.maxTokens, k.numBlocks * 16);
    assert.equal(k.kvBytesPerTokenPerGpu, 131072);
  });

  it('returns every term, and they add up to the memory requested', () => {
    const k = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: model('llama-3.1-8b') });
    assertWithin(k.requestedMemoryBytes, 0.9 * 79.22 * GIB, 1e-12, 'requested');
    assertWithin(
      k.weightsBytesPerGpu + k.activationBytes + k.nonTorchBytes + k.cudaGraphBytes + k.kvBytesPerGpu,
      k.requestedMemoryBytes,
      1e-12,
      'sum of terms',
    );
    assert.ok(k.numBlocks * k.blockBytes <= k.kvBytesPerGpu && (k.numBlocks + 1) * k.blockBytes > k.kvBytesPerGpu);
    // vLLM's defaults for an H100 (OpenAI server): 8192 batched tokens, 1024 sequences
    assert.equal(k.maxNumBatchedTokens, 8192);
    assert.equal(k.maxNumSeqs, 1024);
  });

  it('an FP8 KV cache doubles the blocks', () => {
    const opts = { ...base, gpu: gpu('h100-sxm'), model: model('llama-3.1-8b') };
    const bf16 = kvCapacity(opts);
    const fp8 = kvCapacity({ ...opts, kvCacheDtype: 'fp8' });
    assert.ok(Math.abs(fp8.numBlocks - 2 * bf16.numBlocks) <= 1, `${fp8.numBlocks} vs 2 x ${bf16.numBlocks}`);
  });

  it('quantized weights leave more room for the KV cache', () => {
    const opts = { ...base, gpu: gpu('l4'), model: model('llama-3.1-8b'), maxModelLen: 8192 };
    const bf16 = kvCapacity(opts);
    const awq = kvCapacity({ ...opts, quantization: 'awq' });
    assert.ok(awq.numBlocks > 2 * bf16.numBlocks, `${awq.numBlocks} vs ${bf16.numBlocks}`);
  });

  it('Llama-3.1-70B BF16 does not fit one H100; with TP2 it does (at an 8k max_model_len)', () => {
    const m = model('llama-3.1-70b');
    const tp1 = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: m, maxModelLen: 8192 });
    assert.equal(tp1.fits, false);
    assert.equal(tp1.numBlocks, 0);
    assert.match(tp1.reason ?? '', /model weights take 131\.50 GiB per GPU/);
    const tp2 = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: m, tensorParallelSize: 2, maxModelLen: 8192 });
    assert.equal(tp2.fits, true, tp2.reason);
    assert.ok(tp2.maxTokens >= 8192);
    // 320 KiB per token split over 2 ranks (8 KV heads -> 4 each)
    assert.equal(tp2.kvBytesPerTokenPerGpu, 160 * 1024);
  });

  it('a max_model_len the cache cannot hold does not fit, in vLLM words, and keeps its blocks', () => {
    const k = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: model('llama-3.1-70b'), tensorParallelSize: 2 });
    assert.equal(k.fits, false);
    assert.ok(k.numBlocks > 0);
    assert.match(k.reason ?? '', /max seq len \(131072\) is larger than the maximum number of tokens/);
  });

  it('a tensor-parallel size that does not divide the heads does not fit', () => {
    const k = kvCapacity({ ...base, gpu: gpu('h100-sxm'), model: model('llama-3.1-8b'), tensorParallelSize: 3 });
    assert.equal(k.fits, false);
    assert.equal(k.numBlocks, 0);
    assert.match(k.reason ?? '', /divisible by tensor parallel size \(3\)/);
  });

  it("vLLM's batch defaults: 8192 / 1024 on >= 70 GiB GPUs other than A100, else 2048 / 256", () => {
    assert.deepEqual(vllmBatchDefaults(gpu('h100-sxm')), { maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
    assert.deepEqual(vllmBatchDefaults(gpu('mi300x')), { maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
    assert.deepEqual(vllmBatchDefaults(gpu('a100-80gb')), { maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
    assert.deepEqual(vllmBatchDefaults(gpu('l40s')), { maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
  });
});
