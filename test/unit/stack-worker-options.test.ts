/**
 * `harness stack worker` flags -> engine options (harness/cli/stack-command.ts): defaults,
 * faults, custom GPU and model spec files, and the coded errors for bad values.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workerOptionsFrom } from '../../harness/cli/stack-command.ts';
import { FloodgateError } from '../../harness/errors.ts';
import { resolveConfig } from '../../reference-stack/worker-sim/sim-engine.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-stack-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const base = { gpu: 'h100-sxm', model: 'llama-3.1-8b', quantization: 'bf16', kvCacheDtype: 'auto', tensorParallelSize: '1', gpuMemoryUtilization: '0.9', schedulingPolicy: 'fcfs', timeScale: '1', seed: '0' };

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof FloodgateError ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

test('flags become engine options; vLLM batch defaults are left to the engine', () => {
  const o = workerOptionsFrom({ ...base, quantization: 'fp8', maxNumSeqs: '128', enableChunkedPrefill: false });
  assert.equal(o.quantization, 'fp8');
  assert.equal(o.maxNumSeqs, 128);
  assert.equal(o.maxNumBatchedTokens, undefined);
  assert.equal(o.enableChunkedPrefill, false);
  assert.deepEqual(o.faults, {});
});

test('fault flags', () => {
  const o = workerOptionsFrom({ ...base, oomAbove: '4000', dieAfter: '30s', restartAfter: '5s', slowdown: '1.5', errorRate: '503:0.05' });
  assert.deepEqual(o.faults, { oom: { abovePromptTokens: 4000 }, death: { afterS: 30, restartAfterS: 5 }, slowdown: { factor: 1.5 }, errors: { status: 503, rate: 0.05 } });
});

test('bad values get coded errors', () => {
  assert.equal(code(() => workerOptionsFrom({ ...base, gpu: 'h100sxm' })), 'FG_SIM_UNKNOWN_GPU');
  assert.equal(code(() => workerOptionsFrom({ ...base, model: 'llama-9' })), 'FG_SIM_UNKNOWN_MODEL');
  assert.equal(code(() => workerOptionsFrom({ ...base, quantization: 'int3' })), 'FG_SIM_BAD_OPTION');
  assert.equal(code(() => workerOptionsFrom({ ...base, restartAfter: '5s' })), 'FG_SIM_BAD_OPTION');
  assert.equal(code(() => workerOptionsFrom({ ...base, errorRate: '503' })), 'FG_SIM_BAD_OPTION');
  assert.equal(code(() => workerOptionsFrom({ ...base, maxNumSeqs: '0' })), 'FG_USAGE_BAD_NUMBER');
  assert.equal(code(() => workerOptionsFrom({ ...base, dieAfter: '30' })), 'FG_USAGE_BAD_DURATION');
  assert.equal(code(() => workerOptionsFrom({ ...base, gpuMemoryUtilization: '1.5' })), 'FG_USAGE_BAD_NUMBER');
});

test('a custom GPU and model from spec files drive the engine', () => {
  const gpuFile = path.join(tmp, 'gpu.yaml');
  fs.writeFileSync(gpuFile, 'id: my-gpu\nmemoryGB: 48\nbandwidthGBs: 1000\nbf16Tflops: 200\nfp8Tflops: 400\ntdpW: 300\ninterconnectGBs: 32\n');
  const modelFile = path.join(tmp, 'model.json');
  fs.writeFileSync(modelFile, JSON.stringify({ id: 'tiny', layers: 16, hidden: 2048, qHeads: 16, kvHeads: 8, headDim: 128, ffn: 8192, vocab: 32000, maxContext: 8192 }));
  const o = workerOptionsFrom({ ...base, gpuSpec: gpuFile, modelSpec: modelFile });
  const c = resolveConfig(o);
  assert.equal(c.gpu.id, 'my-gpu');
  assert.equal(c.model.id, 'tiny');
  assert.ok(c.kv.numBlocks > 0);
  assert.equal(c.maxModelLen, 8192);
});

test('a spec file with problems lists them under FG_SIM_BAD_SPEC', () => {
  const bad = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(bad, 'id: x\nmemoryGB: -1\nbandwith: 3\n');
  assert.equal(code(() => workerOptionsFrom({ ...base, gpuSpec: bad })), 'FG_SIM_BAD_SPEC');
  assert.equal(code(() => workerOptionsFrom({ ...base, gpuSpec: path.join(tmp, 'missing.yaml') })), 'FG_SIM_BAD_SPEC');
});
