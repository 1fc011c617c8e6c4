/**
 * Stack file loading and validation (reference-stack/stack/load-stack.ts).
 *
 * test/fixtures/stacks/bad/*.yaml begin with `# expect: CODE LINE:COL path` lines, one per issue
 * (as test/fixtures/scenarios/bad): loading must throw a ConfigError holding exactly those issues.
 * The default stack must load with the values docs/stack.md promises.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack, parseStack } from '../../reference-stack/stack/load-stack.ts';
import { STACK_ERROR_CODES } from '../../reference-stack/stack/stack-error-codes.ts';
import { codesUsedUnder, expectations, issueKey, issuesOf } from '../fixtures/config-issues.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BAD = join(ROOT, 'test/fixtures/stacks/bad');
const DEFAULT_STACK = join(ROOT, 'reference-stack/stacks/default.yaml');


const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A small valid stack; tests append to or replace parts of it. */
const MINIMAL = `name: mini
models: [{name: m, workers: [w0]}]
workers: [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8}}]
`;

const badFiles = readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort();

describe('bad stacks report exactly the expected issues', () => {
  for (const name of badFiles) {
    test(name, () => {
      const file = join(BAD, name);
      const expected = expectations(file);
      assert.ok(expected.length > 0, `${name} has no "# expect:" lines`);
      const issues = issuesOf(() => loadStack(file, { env: {} }));
      assert.deepEqual(issues.map(issueKey).sort(), [...expected].sort());
      for (const i of issues) {
        assert.ok(i.message.length > 0, `${issueKey(i)} has no message`);
        assert.ok(i.allowed && i.allowed.length > 0, `${issueKey(i)} does not say what is allowed`);
        assert.equal(i.file, file);
      }
    });
  }
});

test('the bad fixtures cover every stack error code', () => {
  const covered = new Set(badFiles.flatMap((f) => expectations(join(BAD, f)).map((e) => e.split(' ')[0]!)));
  covered.add('FG_STACK_NOT_FOUND'); // a missing file cannot be a fixture: tested below
  assert.deepEqual([...covered].sort(), Object.keys(STACK_ERROR_CODES).sort());
});

test('every FG_STACK_ code used in the stack code or the fixtures is registered', () => {
  const used = codesUsedUnder([join(ROOT, 'reference-stack'), join(ROOT, 'harness'), BAD], /FG_STACK_[A-Z0-9_]+/g);
  assert.ok(used.size >= 9);
  for (const code of used) assert.ok(code in STACK_ERROR_CODES, `${code} is not in STACK_ERROR_CODES`);
});

test('the default stack loads, frozen, with the documented shape', () => {
  const s = loadStack(DEFAULT_STACK, { env: {} });
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.models[0]) && Object.isFrozen(s.gateway.queue) && Object.isFrozen(s.tenants[0]!.keyHashes));
  assert.equal(s.name, 'default');
  assert.equal(s.currency, 'USD');
  assert.deepEqual(s.models.map((m) => [m.name, m.workers, m.fallback]), [
    ['llama-3.1-8b', ['w8b-0', 'w8b-1'], []],
    ['llama-3.1-70b', ['w70b-0'], ['llama-3.1-8b']],
  ]);
  const sims = s.workers.map((w) => (w.kind === 'sim' ? [w.name, w.sim.gpu, w.sim.model, w.sim.quantization, w.sim.tensorParallelSize ?? 1, w.port] : [w.name]));
  assert.deepEqual(sims, [
    ['w8b-0', 'h100-sxm', 'llama-3.1-8b', 'fp8', 1, 0],
    ['w8b-1', 'h100-sxm', 'llama-3.1-8b', 'fp8', 1, 0],
    ['w70b-0', 'h100-sxm', 'llama-3.1-70b', 'fp8', 2, 0],
  ]);
  for (const w of s.workers) assert.ok(w.maxInFlight >= 1);
  assert.equal(s.gateway.host, '127.0.0.1');
  assert.equal(s.gateway.port, 8080);
  assert.equal(s.gateway.routing, 'least_outstanding');
  assert.equal(s.gateway.bodyLimitBytes, 32 * 1024 * 1024);
  assert.equal(s.gateway.timeouts.totalMs, 600_000);
  const [free, pro] = s.tenants;
  assert.deepEqual(free!.keyHashes, [sha('fg-dev-free')]);
  assert.deepEqual(pro!.keyHashes, [sha('fg-dev-pro')]);
  assert.deepEqual([free!.defaultPriority, free!.maxPriority, free!.rpm, free!.tpm, free!.maxConcurrent], [5, 3, 600, 2_000_000, 32]);
  assert.deepEqual([pro!.defaultPriority, pro!.maxPriority, pro!.weight], [1, 0, 3]);
  assert.deepEqual(free!.allowedModels, ['llama-3.1-8b']);
  assert.equal(pro!.allowedModels, '*');
  assert.ok(pro!.rpm! > free!.rpm! && pro!.budgetPerDay! > free!.budgetPerDay!);
  // The dev keys themselves never appear in the file, only their hashes.
  const text = readFileSync(DEFAULT_STACK, 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  assert.ok(!text.includes('fg-dev-'));
});

test('defaults are applied once, from a minimal stack', () => {
  const s = parseStack(MINIMAL, '<inline>', { env: {} });
  assert.equal(s.currency, 'USD');
  assert.equal(s.file, '<inline>');
  assert.deepEqual(s.models[0], { name: 'm', aliases: [], servedModelName: 'm', workers: ['w0'], fallback: [], contextLength: 32768, priceInputPer1M: 0, priceOutputPer1M: 0 });
  const w = s.workers[0]!;
  assert.equal(w.kind, 'sim');
  assert.equal(w.kind === 'sim' && w.port, 0);
  assert.deepEqual(s.gateway.queue, { maxDepth: 1000, timeoutMs: 30_000 });
  assert.deepEqual(s.gateway.retries, { max: 2, backoffMs: 50 });
  assert.deepEqual(s.gateway.health, { intervalMs: 2000, failuresToEject: 3, successesToReadmit: 2 });
  assert.deepEqual(s.gateway.prefixAffinity, { prefixTokens: 256, loadFactor: 1.25 });
  assert.deepEqual(s.gateway.usage, { dbPath: 'reports/usage.db', retentionDays: 30 });
  assert.equal(s.gateway.tls, undefined);
  assert.deepEqual(s.tenants, []);
});

test('max_in_flight defaults to the sim max_num_seqs; url workers get 64 and a derived metrics URL', () => {
  const s = parseStack(`name: mix
models: [{name: m, workers: [a, b, c]}]
workers:
  - {name: a, sim: {gpu: h100-sxm, model: llama-3.1-8b, max_num_seqs: 96}}
  - {name: b, url: 'http://10.0.0.5:8000/v1/'}
  - {name: c, url: 'https://vllm.example:8443/v1', metrics_url: 'http://10.0.0.6:9000/metrics', max_in_flight: 12}
`, '<inline>', { env: {} });
  assert.deepEqual(s.workers.map((w) => w.maxInFlight), [96, 64, 12]);
  const [, b, c] = s.workers;
  assert.deepEqual(b, { name: 'b', kind: 'url', url: 'http://10.0.0.5:8000/v1', metricsUrl: 'http://10.0.0.5:8000/metrics', maxInFlight: 64 });
  assert.equal(c!.kind === 'url' && c!.metricsUrl, 'http://10.0.0.6:9000/metrics');
});

test('sim options and faults map onto the engine options', () => {
  const s = parseStack(`name: sim
models: [{name: m, workers: [w0]}]
workers:
  - name: w0
    port: 9100
    sim: {gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8, max_num_seqs: 256, max_num_batched_tokens: 8192, kv_cache_dtype: auto, tensor_parallel_size: 1, gpu_memory_utilization: 0.9, max_model_len: 32768, time_scale: 1, seed: 0, enable_chunked_prefill: true, enable_prefix_caching: true, scheduling_policy: fcfs, faults: {oom_above: 30000, oom_rate: 0.01, die_after: 60s, restart_after: 10s, slowdown: 1.5, error_rate: {status: 503, rate: 0.05}}}
`, '<inline>', { env: {} });
  const w = s.workers[0]!;
  assert.ok(w.kind === 'sim');
  assert.equal(w.port, 9100);
  assert.equal(w.maxInFlight, 256);
  assert.deepEqual(w.sim, {
    gpu: 'h100-sxm', model: 'llama-3.1-8b', quantization: 'fp8', maxNumSeqs: 256, maxNumBatchedTokens: 8192, kvCacheDtype: 'auto',
    tensorParallelSize: 1, gpuMemoryUtilization: 0.9, maxModelLen: 32768, timeScale: 1, seed: 0, enableChunkedPrefill: true,
    enablePrefixCaching: true, schedulingPolicy: 'fcfs',
    // The stack's model name "m", which the gateway sends, is accepted besides the catalogue names.
    extraServedNames: ['m'],
    faults: { oom: { abovePromptTokens: 30000, rate: 0.01 }, death: { afterS: 60, restartAfterS: 10 }, slowdown: { factor: 1.5 }, errors: { status: 503, rate: 0.05 } },
  });
});

test('a key hash can come from the environment; hashes are stored without the prefix, lower-cased', () => {
  const h = sha('k');
  const text = `${MINIMAL}tenants:
  - {name: t, api_key_hashes: ['\${KEY_HASH}', 'sha256:${sha('k2').toUpperCase()}'], allowed_models: [m]}
`;
  const s = parseStack(text, '<inline>', { env: { KEY_HASH: `sha256:${h}` } });
  assert.deepEqual(s.tenants[0]!.keyHashes, [h, sha('k2')]);
  assert.equal(s.tenants[0]!.maxPriority, s.tenants[0]!.defaultPriority);
  // Unset: an empty value at that item, reported like any other.
  const issues = issuesOf(() => parseStack(text, '<inline>', { env: {} }));
  assert.deepEqual(issues.map(issueKey), ['FG_STACK_BAD_VALUE 5:32 tenants[0].api_key_hashes[0]']);
});

test('fallbacks may name aliases and resolve to model names; tenants may allow aliases', () => {
  const s = parseStack(`name: alias
models:
  - {name: big, workers: [w0], fallback: [small-alias]}
  - {name: small, aliases: [small-alias], workers: [w0]}
workers: [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b}}]
tenants: [{name: t, api_key_hashes: ['sha256:${sha('x')}'], allowed_models: [small-alias]}]
`, '<inline>', { env: {} });
  assert.deepEqual(s.models[0]!.fallback, ['small']);
  assert.deepEqual(s.tenants[0]!.allowedModels, ['small-alias']);
});

test('unknown keys and references suggest the nearest name', () => {
  const unknown = issuesOf(() => loadStack(join(BAD, 'unknown-key-suggestion.yaml'), { env: {} }));
  assert.match(unknown[0]!.message, /did you mean "max_in_flight"\?/);
  const gpu = issuesOf(() => loadStack(join(BAD, 'unknown-gpu.yaml'), { env: {} }));
  assert.match(gpu.find((i) => i.path === 'workers[0].sim.gpu')!.message, /did you mean "h100-sxm"\?/);
  const ref = issuesOf(() => loadStack(join(BAD, 'tenant-unknown-model.yaml'), { env: {} }));
  assert.match(ref[0]!.message, /did you mean "llama-3.1-8b"\?/);
  const cycle = issuesOf(() => loadStack(join(BAD, 'fallback-cycle.yaml'), { env: {} }));
  assert.ok(cycle.some((i) => i.message.includes('a -> b -> c -> a')));
});

test('a missing stack file is FG_STACK_NOT_FOUND; one kind of issue carries its code', () => {
  const missing = join(BAD, 'no-such-stack.yaml');
  const issues = issuesOf(() => loadStack(missing));
  assert.deepEqual(issues.map((i) => [i.code, i.file]), [['FG_STACK_NOT_FOUND', missing]]);
  assert.throws(() => loadStack(join(BAD, 'unknown-worker.yaml'), { env: {} }), { code: 'FG_STACK_BAD_REFERENCE' });
  assert.throws(() => loadStack(join(BAD, 'sim-refused.yaml'), { env: {} }), { code: 'FG_CONFIG_INVALID' });
});
