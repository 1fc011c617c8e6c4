/**
 * The simulated worker's catalogues (gpu-catalog.ts, model-catalog.ts) and quantization helpers
 * (quantization.ts): entries complete and sourced, figures agreeing with CALIBRATION.md and with
 * each model's shape, lookups by alias, validation of user-defined GPUs and models, and the
 * bytes / compute-mode / support rules of each weight format.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GPUS, customGpu, getGpu, usableMemoryBytes } from '../../reference-stack/worker-sim/gpu-catalog.ts';
import { MODELS, MODEL_ALIASES, customModel, getModel, parameterBreakdown, paramsFromShape } from '../../reference-stack/worker-sim/model-catalog.ts';
import {
  computeMode,
  kvBytesPerToken,
  kvBytesPerTokenPerGpu,
  kvHeadsPerGpu,
  modelWeightBytes,
  quantSupport,
  weightBytesPerParam,
  WEIGHT_QUANTS,
} from '../../reference-stack/worker-sim/quantization.ts';
import type { GpuSpec, ModelSpec } from '../../reference-stack/worker-sim/sim-types.ts';

function gpu(id: string): GpuSpec {
  const g = getGpu(id);
  assert.ok(g, `GPU ${id}`);
  return g;
}

function model(id: string): ModelSpec {
  const m = getModel(id);
  assert.ok(m, `model ${id}`);
  return m;
}

function near(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual / expected - 1) <= rel, `${what}: ${actual} is not within ${rel * 100}% of ${expected}`);
}

describe('GPU catalogue', () => {
  it('holds the ten GPUs, each under its own id', () => {
    assert.deepEqual(Object.keys(GPUS).sort(), ['a100-40gb', 'a100-80gb', 'a10g', 'b200', 'h100-pcie', 'h100-sxm', 'h200', 'l4', 'l40s', 'mi300x']);
    for (const [id, g] of Object.entries(GPUS)) assert.equal(g.id, id);
  });

  it('every entry has every field, plausible values and a source', () => {
    for (const g of Object.values(GPUS)) {
      assert.ok(g.name.length > 0, g.id);
      for (const k of ['memoryGB', 'bandwidthGBs', 'bf16Tflops', 'tdpW', 'interconnectGBs', 'usableMemoryGiB'] as const) {
        const v = g[k];
        assert.ok(typeof v === 'number' && v > 0, `${g.id}.${k} = ${v}`);
      }
      assert.ok(g.fp8Tflops === null || g.fp8Tflops > g.bf16Tflops, `${g.id}.fp8Tflops`);
      assert.ok(g.idleW > 0 && g.idleW < g.tdpW, `${g.id}.idleW`);
      assert.ok(g.arch !== undefined, `${g.id}.arch`);
      // what CUDA reports is within 10% of the vendor's figure (binary vs decimal GB, ECC, reserved)
      near(usableMemoryBytes(g), g.memoryGB * 1e9, 0.1, `${g.id} usable memory`);
      assert.match(g.source, /CALIBRATION\.md/, `${g.id}.source cites CALIBRATION.md`);
      assert.match(g.source, /datasheet/, `${g.id}.source cites a datasheet`);
    }
  });

  it('agrees with the CALIBRATION.md GPU table', () => {
    const table: Record<string, [memoryGB: number, bandwidthGBs: number, bf16: number, fp8: number | null]> = {
      l4: [24, 300, 121, 242],
      a10g: [24, 600, 70, null],
      l40s: [48, 864, 362, 733],
      'a100-40gb': [40, 1555, 312, null],
      'a100-80gb': [80, 2039, 312, null],
      'h100-sxm': [80, 3350, 989, 1979],
      'h100-pcie': [80, 2000, 756, 1513],
      h200: [141, 4800, 989, 1979],
      b200: [180, 8000, 2250, 4500],
      mi300x: [192, 5300, 1307, 2615],
    };
    for (const [id, [mem, bw, bf16, fp8]] of Object.entries(table)) {
      const g = gpu(id);
      assert.deepEqual([g.memoryGB, g.bandwidthGBs, g.bf16Tflops, g.fp8Tflops], [mem, bw, bf16, fp8], id);
    }
  });

  it('getGpu is case-insensitive and undefined for an unknown id', () => {
    assert.equal(getGpu('H100-SXM')?.id, 'h100-sxm');
    assert.equal(getGpu('h100'), undefined);
  });

  it('catalogue entries are frozen', () => {
    assert.throws(() => {
      (gpu('l4') as { memoryGB: number }).memoryGB = 1;
    }, TypeError);
  });
});

describe('customGpu', () => {
  it('accepts a minimal spec and fills the defaults', () => {
    const r = customGpu({ id: 'rtx-4090', memoryGB: 24, bandwidthGBs: 1008, bf16Tflops: 165, tdpW: 450, interconnectGBs: 32 });
    assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
    assert.deepEqual(r.gpu, {
      id: 'rtx-4090',
      name: 'rtx-4090',
      memoryGB: 24,
      bandwidthGBs: 1008,
      bf16Tflops: 165,
      fp8Tflops: null,
      tdpW: 450,
      idleW: 45,
      interconnectGBs: 32,
      source: 'user-defined',
    });
  });

  it('keeps the optional figures it is given', () => {
    const r = customGpu({ ...gpu('h100-sxm'), id: 'my-h100' });
    assert.ok(r.ok);
    assert.equal(r.gpu.fp8Tflops, 1979);
    assert.equal(r.gpu.usableMemoryGiB, 79.22);
    assert.equal(r.gpu.arch, 'hopper');
    assert.equal(r.gpu.idleW, 70);
  });

  it('lists every problem at once, with a suggestion for a misspelt field', () => {
    const r = customGpu({ id: '', memoryGB: -1, bandwidthGBs: '900', tdpW: 300, idleW: 400, interconnectGBs: 64, bf16Tflop: 100, arch: 'volta' });
    assert.equal(r.ok, false);
    const problems = r.ok ? [] : r.problems;
    const expected = [/^unknown field "bf16Tflop" \(did you mean "bf16Tflops"\?\)/, /^id: must be a non-empty string/, /^memoryGB: must be a positive number, got -1/, /^bandwidthGBs: must be a positive number, got "900"/, /^bf16Tflops: required/, /^idleW: must be below tdpW/, /^arch: must be one of/];
    for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `no problem matching ${re} in ${JSON.stringify(problems)}`);
    assert.equal(problems.length, expected.length, JSON.stringify(problems));
  });
});

describe('model catalogue', () => {
  it('holds the seven models, each under its own id', () => {
    assert.deepEqual(Object.keys(MODELS).sort(), ['llama-2-7b', 'llama-3.1-70b', 'llama-3.1-8b', 'mistral-7b', 'mixtral-8x7b', 'qwen2.5-72b', 'qwen2.5-7b']);
    for (const [id, m] of Object.entries(MODELS)) assert.equal(m.id, id);
  });

  it('every entry has every field, consistent values and a source', () => {
    for (const m of Object.values(MODELS)) {
      for (const k of ['layers', 'hidden', 'qHeads', 'kvHeads', 'headDim', 'ffn', 'vocab', 'maxContext'] as const) {
        assert.ok(Number.isInteger(m[k]) && m[k] > 0, `${m.id}.${k}`);
      }
      assert.ok(m.paramsB > 0 && m.activeParamsB > 0 && m.activeParamsB <= m.paramsB, `${m.id} params`);
      assert.equal(m.qHeads % m.kvHeads, 0, `${m.id}: GQA groups`);
      assert.equal(m.tiedEmbeddings, false, `${m.id}.tiedEmbeddings stated`);
      assert.match(m.hfName, /^[\w.-]+\/[\w.-]+$/, `${m.id}.hfName`);
      assert.match(m.source, /config\.json/, `${m.id}.source cites config.json`);
    }
  });

  it('parameter counts agree with the shapes within 0.5%', () => {
    for (const m of Object.values(MODELS)) {
      const d = paramsFromShape(m);
      near(d.paramsB, m.paramsB, 0.005, `${m.id} total`);
      near(d.activeParamsB, m.activeParamsB, 0.005, `${m.id} active`);
    }
  });

  it('KV bytes per token (BF16) agree with the CALIBRATION.md table', () => {
    const table: Record<string, number> = {
      'llama-3.1-8b': 128,
      'llama-3.1-70b': 320,
      'qwen2.5-7b': 56,
      'qwen2.5-72b': 320,
      'mistral-7b': 128,
      'mixtral-8x7b': 128,
      'llama-2-7b': 512,
    };
    for (const [id, kib] of Object.entries(table)) assert.equal(kvBytesPerToken(model(id), 'auto'), kib * 1024, id);
  });

  it('Llama-2-7B has the shape the brief gives', () => {
    const m = model('llama-2-7b');
    assert.deepEqual(
      [m.layers, m.hidden, m.qHeads, m.kvHeads, m.headDim, m.ffn, m.vocab, m.paramsB, m.maxContext],
      [32, 4096, 32, 32, 128, 11008, 32000, 6.74, 4096],
    );
  });

  it('getModel finds ids, Hugging Face names and aliases, case-insensitively', () => {
    const cases: [string, string][] = [
      ['llama-3.1-8b', 'llama-3.1-8b'],
      ['meta-llama/Llama-3.1-8B-Instruct', 'llama-3.1-8b'],
      ['meta-llama/Meta-Llama-3.1-8B-Instruct', 'llama-3.1-8b'],
      ['meta-llama/Llama-3.1-70B', 'llama-3.1-70b'],
      ['Qwen/Qwen2.5-7B-Instruct', 'qwen2.5-7b'],
      ['Qwen/Qwen2.5-72B-Instruct', 'qwen2.5-72b'],
      ['mistralai/Mistral-7B-Instruct-v0.3', 'mistral-7b'],
      ['mistralai/Mixtral-8x7B-Instruct-v0.1', 'mixtral-8x7b'],
      ['meta-llama/Llama-2-7b-chat-hf', 'llama-2-7b'],
      ['LLAMA-2-7B', 'llama-2-7b'],
    ];
    for (const [name, id] of cases) assert.equal(getModel(name)?.id, id, name);
    assert.equal(getModel('gpt-4'), undefined);
    for (const target of Object.values(MODEL_ALIASES)) assert.ok(MODELS[target], `alias target ${target}`);
  });

  it('parameterBreakdown splits Mixtral into shared and expert parameters', () => {
    const p = parameterBreakdown(model('mixtral-8x7b'));
    // one expert over 32 layers: 3 x 4096 x 14336 x 32 = 5.64e9
    near(p.perExpert, 3 * 4096 * 14336 * 32, 0.01, 'per expert');
    near(p.shared + 8 * p.perExpert + p.embeddingStored, 46.7e9, 1e-9, 'total');
    near(p.activeBody + p.embeddingStored, 12.9e9, 1e-9, 'active');
    const dense = parameterBreakdown(model('llama-3.1-8b'));
    assert.equal(dense.perExpert, 0);
    assert.equal(dense.activeBody, dense.body);
  });
});

describe('customModel', () => {
  const shape = { id: 'tiny', layers: 4, hidden: 512, qHeads: 8, kvHeads: 2, headDim: 64, ffn: 1024, vocab: 1000, maxContext: 2048 };

  it('derives the parameter counts from the shape when they are not given', () => {
    const r = customModel(shape);
    assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
    // 4 x (512 x 64 x (16 + 4) + 3 x 512 x 1024) + 2 x 1000 x 512 = 8,912,896 + 1,024,000
    near(r.model.paramsB, 9_936_896 / 1e9, 1e-12, 'paramsB');
    assert.equal(r.model.activeParamsB, r.model.paramsB);
    assert.equal(r.model.hfName, 'tiny');
    assert.equal(r.model.source, 'user-defined');
  });

  it('accepts a tied-embedding MoE model', () => {
    const r = customModel({ ...shape, experts: { count: 4, topK: 1 }, tiedEmbeddings: true });
    assert.ok(r.ok);
    assert.ok(r.model.activeParamsB < r.model.paramsB);
    assert.equal(parameterBreakdown(r.model).embeddingStored, 512 * 1000);
  });

  it('lists every problem at once', () => {
    const r = customModel({ ...shape, qHeads: 6, kvHeads: 4, layers: 2.5, experts: { count: 4, topK: 5 }, hidden_size: 4096, id: undefined });
    assert.equal(r.ok, false);
    const problems = r.ok ? [] : r.problems;
    const expected = [/^unknown field "hidden_size"/, /^id: required/, /^layers: must be a positive integer, got 2\.5/, /^kvHeads: qHeads \(6\) must be a multiple of kvHeads \(4\)/, /^experts\.topK: must be an integer in \[1, experts\.count = 4\]/];
    for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `no problem matching ${re} in ${JSON.stringify(problems)}`);
    assert.equal(problems.length, expected.length, JSON.stringify(problems));
  });
});

describe('quantization', () => {
  it('bytes per weight: 2 for bf16/fp16, 1 for fp8/int8, 0.5 + 2.5/128 for 4-bit with group-128 scales and zeros', () => {
    assert.deepEqual(
      WEIGHT_QUANTS.map((q) => weightBytesPerParam(q)),
      [2, 2, 1, 1, 0.51953125, 0.51953125],
    );
  });

  it('model weight bytes keep embeddings and the LM head in bf16', () => {
    const m = model('llama-3.1-8b');
    near(modelWeightBytes(m, 'bf16'), 8.03e9 * 2, 1e-12, 'bf16 bytes');
    // fp8: 6.979e9 body parameters x 1 B + 1.051e9 embedding parameters x 2 B = 9.08 GB
    near(modelWeightBytes(m, 'fp8'), (8.03e9 - 2 * 128256 * 4096) + 2 * 2 * 128256 * 4096, 1e-12, 'fp8 bytes');
    near(modelWeightBytes(m, 'awq'), (8.03e9 - 2 * 128256 * 4096) * 0.51953125 + 2 * 2 * 128256 * 4096, 1e-12, 'awq bytes');
  });

  it('KV bytes per token: 2 x layers x kvHeads x headDim x 2 (bf16) or x 1 (fp8)', () => {
    const m = model('llama-3.1-8b');
    assert.equal(kvBytesPerToken(m, 'auto'), 2 * 32 * 8 * 128 * 2);
    assert.equal(kvBytesPerToken(m, 'fp8'), 2 * 32 * 8 * 128);
  });

  it('KV heads split over TP ranks, and replicate when there are fewer heads than ranks', () => {
    const m = model('llama-3.1-70b'); // 8 KV heads
    assert.deepEqual([1, 2, 4, 8, 16].map((tp) => kvHeadsPerGpu(m, tp)), [8, 4, 2, 1, 1]);
    assert.equal(kvBytesPerTokenPerGpu(m, 'auto', 2), kvBytesPerToken(m, 'auto') / 2);
    // TP16: each rank keeps one head, so the per-GPU figure stops shrinking at TP8
    assert.equal(kvBytesPerTokenPerGpu(m, 'auto', 16), kvBytesPerTokenPerGpu(m, 'auto', 8));
  });

  it('compute modes: FP8 W8A8 where the GPU has FP8, else W8A16 at the bf16 peak with a dequantisation factor', () => {
    const h100 = computeMode(gpu('h100-sxm'), 'fp8');
    assert.equal(h100.mode, 'W8A8-FP8');
    assert.equal(h100.effectiveTflops, 1979);
    const a100 = computeMode(gpu('a100-80gb'), 'fp8');
    assert.equal(a100.mode, 'W8A16');
    assert.equal(a100.peakTflops, 312);
    assert.ok(a100.dequantFactor > 1 && a100.effectiveTflops < 312);
    assert.equal(computeMode(gpu('a10g'), 'fp8').mode, 'W8A16');
    assert.equal(computeMode(gpu('l4'), 'fp8').mode, 'W8A8-FP8');
    const awq = computeMode(gpu('h100-sxm'), 'awq');
    assert.equal(awq.mode, 'W4A16');
    near(awq.effectiveTflops, 989 / 1.15, 1e-12, 'awq effective peak');
    assert.equal(computeMode(gpu('a100-40gb'), 'int8').effectiveTflops, 624);
    assert.equal(computeMode(gpu('h100-sxm'), 'bf16').effectiveTflops, 989);
  });

  it('support: FP8 KV everywhere, FP8 weights via Marlin on Ampere, no Marlin formats on AMD', () => {
    for (const g of Object.values(GPUS)) {
      assert.equal(quantSupport(g, 'bf16', 'fp8').supported, true, `${g.id} fp8 KV`);
    }
    const a10g = quantSupport(gpu('a10g'), 'fp8', 'auto', model('llama-3.1-8b'));
    assert.equal(a10g.supported, true);
    assert.equal(a10g.mode, 'W8A16');
    assert.match(a10g.notes.join(' '), /FP8 Marlin/);
    assert.equal(quantSupport(gpu('a100-80gb'), 'fp8', 'auto', model('mixtral-8x7b')).supported, false);
    assert.equal(quantSupport(gpu('h100-sxm'), 'fp8', 'auto', model('mixtral-8x7b')).supported, true);
    assert.equal(quantSupport(gpu('mi300x'), 'awq', 'auto').supported, false);
    assert.equal(quantSupport(gpu('mi300x'), 'gptq', 'auto').supported, false);
    assert.equal(quantSupport(gpu('mi300x'), 'int8', 'auto').supported, false);
    assert.equal(quantSupport(gpu('mi300x'), 'fp8', 'auto').supported, true);
    assert.equal(quantSupport(gpu('l4'), 'awq', 'auto').supported, true);
  });
});
