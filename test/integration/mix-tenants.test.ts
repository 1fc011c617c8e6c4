/**
 * A `mix:` end to end (docs/scenarios.md, "Mixes"): an in-process stack with two tenants of
 * different keys and one fast simulated worker; a two-stream mix through runScenario. Each
 * request carried its stream's key (the gateway's per-tenant request counts match the records
 * per tenant exactly), its model and priority, and summary.json's by_tenant / by_model show
 * each stream with the right counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const hash = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
let stack: RunningStack | undefined;
let tmp = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-mix-'));
  stack = await startStack(
    parseStack(
      `name: mix-test
models:
  - {name: small, workers: [w0], context_length: 4096}
  - {name: other, workers: [w0], context_length: 4096}
workers:
  - {name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8, max_model_len: 4096, seed: 0}}
gateway:
  port: 0
tenants:
  - {name: alpha, api_key_hashes: ['${hash('k-alpha')}']}
  - {name: beta, api_key_hashes: ['${hash('k-beta')}']}
`,
      'mix-test.yaml',
    ),
    { port: 0, usageDbPath: ':memory:', timeScale: 50 },
  );
});

after(async () => {
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** floodgate_gateway_requests_total summed per tenant, for the chat requests of `models`. */
async function gatewayCounts(models: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(stack!.url.replace(/\/v1$/, '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^floodgate_gateway_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!models.includes(labels['model']!)) continue;
    out[labels['tenant']!] = (out[labels['tenant']!] ?? 0) + Number(m[2]);
  }
  return out;
}

test('two streams, two keys: each request carried its stream key; by_tenant and by_model per stream', { timeout: 90_000 }, async () => {
  const sc = parseScenario(
    `name: mix-e2e
target: {url: "${stack!.url}", model: small, api_key: \${NO_SUCH_KEY}}
workload: {prompt_tokens: 32, output_tokens: 4}
load: {arrival: poisson, drain: 5s}
mix:
  - {name: a, tenant: alpha, api_key: \${ALPHA_KEY}, load: {stages: [{duration: 3s, rate: 10}]}}
  - {name: b, tenant: beta, api_key: k-beta, model: other, priority: 2, load: {stages: [{duration: 1s, rate: 5}, {duration: 1s, rate: 30}, {duration: 1s, rate: 5}]}}
thresholds: ["by_tenant.alpha.error_rate < 1%", "by_tenant.beta.ttft.p95 < 30s"]
`,
    path.join(tmp, 'mix.yaml'),
    { env: { ALPHA_KEY: 'k-alpha' } },
  );
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'run'), onRecord: (r) => records.push(r) });
  assert.equal(out.exitCode, 0, out.reasons.join('; '));
  const per = (tenant: string) => records.filter((r) => r.tenant === tenant);
  const alpha = per('alpha');
  const beta = per('beta');
  assert.ok(alpha.length > 10 && beta.length > 10, `alpha ${alpha.length}, beta ${beta.length}`);
  assert.equal(alpha.length + beta.length, records.length);
  assert.ok(alpha.every((r) => r.model === 'small' && r.ok), 'alpha: model small, all ok');
  assert.ok(beta.every((r) => r.model === 'other' && r.ok), 'beta: model other, all ok');
  // The gateway counted each tenant's requests from the key it got: they match exactly.
  assert.deepEqual(await gatewayCounts(['small', 'other']), { alpha: alpha.length, beta: beta.length });
  const summary = JSON.parse(fs.readFileSync(path.join(out.runDir, 'summary.json'), 'utf8'));
  assert.deepEqual(Object.keys(summary.by_tenant).sort(), ['alpha', 'beta']);
  assert.equal(summary.by_tenant.alpha.requests.ok, alpha.length);
  assert.equal(summary.by_tenant.beta.requests.ok, beta.length);
  assert.equal(summary.by_model.small.requests.ok, alpha.length);
  assert.equal(summary.by_model.other.requests.ok, beta.length);
  assert.equal(summary.requests.ok, records.length);
});
