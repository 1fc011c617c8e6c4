/**
 * The simulated worker as the rest of the stack sees it: /metrics parsed by a Prometheus
 * text-format parser (vLLM's names, types, labels and buckets; DCGM's names), faults (CUDA OOM
 * above a prompt length, slow-down, death and restart), `harness stack worker` from the command
 * line, and a harness run against a worker.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { parsePromText } from '../fixtures/prom-text.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const workers: SimWorker[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sim-'));
after(async () => {
  await Promise.all(workers.map((w) => w.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function worker(o: Partial<Parameters<typeof startSimWorker>[0]> = {}): Promise<SimWorker> {
  const w = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, ...o });
  workers.push(w);
  return w;
}

async function chat(w: SimWorker, content: string, maxTokens: number): Promise<Response> {
  return fetch(`${w.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: w.engine.modelName, messages: [{ role: 'user', content }], max_tokens: maxTokens, ignore_eos: true }),
  });
}

const VLLM = {
  gauge: ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc'],
  counter: ['vllm:prompt_tokens_total', 'vllm:generation_tokens_total', 'vllm:num_preemptions_total', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total', 'vllm:request_success_total'],
  histogram: [
    'vllm:time_to_first_token_seconds',
    'vllm:inter_token_latency_seconds',
    'vllm:time_per_output_token_seconds',
    'vllm:e2e_request_latency_seconds',
    'vllm:request_queue_time_seconds',
    'vllm:request_prefill_time_seconds',
    'vllm:request_decode_time_seconds',
    'vllm:request_inference_time_seconds',
    'vllm:request_prompt_tokens',
    'vllm:request_generation_tokens',
    'vllm:iteration_tokens_total',
  ],
};
const DCGM = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'DCGM_FI_PROF_DRAM_ACTIVE'];

test('/metrics: vLLM names, types, labels and buckets, DCGM names, counts that add up', async () => {
  const w = await worker({ tensorParallelSize: 2 });
  for (let i = 0; i < 3; i++) assert.equal((await chat(w, 'hello world '.repeat(50), 12)).status, 200);
  const fam = parsePromText(await (await fetch(`${w.url.replace(/\/v1$/, '')}/metrics`)).text());
  for (const [type, names] of Object.entries(VLLM)) {
    for (const n of names) {
      const f = fam.get(n);
      assert.ok(f, `${n} is exposed`);
      assert.equal(f.type, type, `${n} is a ${type}`);
      for (const s of f.samples) {
        assert.equal(s.labels.model_name, w.engine.modelName, `${n} model_name`);
        assert.equal(s.labels.engine, '0', `${n} engine`);
      }
    }
  }
  const ttftBuckets = fam.get('vllm:time_to_first_token_seconds')!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le);
  assert.deepEqual(ttftBuckets, ['0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '20', '40', '80', '160', '640', '2560', '+Inf']);
  const e2eBuckets = fam.get('vllm:e2e_request_latency_seconds')!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => Number(s.labels.le));
  assert.deepEqual(e2eBuckets.slice(0, 4), [0.3, 0.5, 0.8, 1]);
  const value = (n: string, pred: (l: Record<string, string>) => boolean = () => true) =>
    fam.get(n)!.samples.filter((s) => s.name === n && pred(s.labels)).reduce((a, s) => a + s.value, 0);
  assert.equal(value('vllm:generation_tokens_total'), 36);
  assert.equal(value('vllm:request_success_total', (l) => l.finished_reason === 'length'), 3);
  const ttftCount = fam.get('vllm:time_to_first_token_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value;
  assert.equal(ttftCount, 3);
  for (const n of DCGM) {
    const f = fam.get(n);
    assert.ok(f, `${n} is exposed`);
    assert.deepEqual(f.samples.map((s) => s.labels.gpu).sort(), ['0', '1'], `${n} per TP rank`);
    assert.match(f.samples[0]!.labels.UUID!, /^GPU-[0-9a-f-]+$/);
  }
  const used = fam.get('DCGM_FI_DEV_FB_USED')!.samples[0]!.value;
  const free = fam.get('DCGM_FI_DEV_FB_FREE')!.samples[0]!.value;
  assert.ok(used > 8000, `weights alone are ~7.5 GiB per TP rank (used ${used} MiB)`);
  assert.ok(Math.abs(used + free - w.engine.config.kv.totalMemoryBytes / 2 ** 20) <= 2);
});

test('fault: CUDA out of memory above a prompt length is a 500 in vLLM shape; shorter prompts pass', async () => {
  const w = await worker({ faults: { oom: { abovePromptTokens: 100 } } });
  const bad = await chat(w, 'word '.repeat(300), 4);
  assert.equal(bad.status, 500);
  const body = (await bad.json()) as { error: { message: string; type: string } };
  assert.match(body.error.message, /CUDA out of memory/);
  assert.equal((await chat(w, 'word '.repeat(20), 4)).status, 200);
});

test('fault: a slowed-down GPU takes longer per token (simulated timeline)', async () => {
  const normal = await worker({ seed: 1 });
  const slow = await worker({ seed: 1, faults: { slowdown: { factor: 3 } } });
  for (const w of [normal, slow]) assert.equal((await chat(w, 'x '.repeat(64), 32)).status, 200);
  // The engines' own step accounting: same work, three times the GPU time.
  const gpuSeconds = async (w: SimWorker) => {
    const fam = parsePromText(await w.engine.metricsText());
    return fam.get('vllm:request_decode_time_seconds')!.samples.find((s) => s.name.endsWith('_sum'))!.value;
  };
  const [a, b] = [await gpuSeconds(normal), await gpuSeconds(slow)];
  assert.ok(b > 2 * a, `decode time ${b} s slowed vs ${a} s`);
});

test('fault: engine death fails in-flight requests, /health 503, then a restart brings it back', async () => {
  const w = await worker({ timeScale: 1, faults: { death: { afterRequests: 2, restartAfterS: 0.2 } } });
  const base = w.url.replace(/\/v1$/, '');
  assert.equal((await chat(w, 'a b c', 2)).status, 200);
  const dead = await chat(w, 'a b c', 2);
  assert.equal(dead.status, 503);
  assert.equal((await fetch(`${base}/health`)).status, 503);
  // Restart after 0.2 s: poll /health, bounded, instead of sleeping a fixed time.
  let healthy = false;
  for (let i = 0; i < 20_000 && !healthy; i++) {
    healthy = (await fetch(`${base}/health`)).status === 200;
    if (!healthy) await new Promise((r) => setImmediate(r));
  }
  assert.ok(healthy, 'healthy again after the restart');
  assert.equal((await chat(w, 'a b c', 2)).status, 200);
});

test('a harness run against a simulated worker: exact prompt lengths from /tokenize, all ok', async () => {
  const w = await worker({ timeScale: 10 });
  const sc = parseScenario(
    `name: sim
target: {url: "${w.url}", model: ${w.engine.modelName}}
workload: {prompt_tokens: {dist: uniform, min: 100, max: 400}, output_tokens: 24}
load: {arrival: poisson, stages: [{duration: 2s, rate: 10}]}`,
    path.join(tmp, 'sim.yaml'),
  );
  const planned: number[] = [];
  const seen: number[] = [];
  const out = await runScenario(sc, {
    threads: 0,
    allowSaturated: true,
    outDir: path.join(tmp, 'run'),
    onRecord: (r) => {
      planned.push(r.plannedPromptTokens);
      seen.push(r.promptTokens ?? -1);
    },
  });
  assert.equal(out.summary.requests.failed, 0);
  assert.ok(out.summary.requests.ok > 5);
  assert.equal(out.summary.prompts.source, 'server');
  assert.equal(out.summary.prompts.exact, true);
  assert.deepEqual(seen, planned, 'usage.prompt_tokens equals the planned length for every request');
  assert.equal(out.summary.tokens.output, out.summary.requests.ok * 24);
});

test('harness stack worker starts a worker from the command line and stops on SIGINT', async () => {
  const child = spawn(process.execPath, [path.join(root, 'bin/harness.js'), 'stack', 'worker', '--port', '0', '--gpu', 'a100-80gb', '--quantization', 'fp8', '--time-scale', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`exited ${c}: ${out}`)));
  });
  assert.match(out, /A100/);
  const models = (await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> };
  assert.equal(models.data[0]!.id, 'meta-llama/Llama-3.1-8B-Instruct');
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
});

test('harness stack worker: an unknown GPU is exit 2 with a suggestion', async () => {
  const child = spawn(process.execPath, [path.join(root, 'bin/harness.js'), 'stack', 'worker', '--gpu', 'h100sxm'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /FG_SIM_UNKNOWN_GPU.*did you mean "h100-sxm"/);
});
