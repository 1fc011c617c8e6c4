/**
 * Closed-loop stages in a `mix:` end to end (docs/scenarios.md, "Mixes"): an in-process stack
 * with tenants of different keys and one fast simulated worker. A stream of closed-loop users
 * (tenant alpha) beside an open-loop stream (tenant beta): every user request carried its
 * stream's key (the gateway's per-tenant request counts equal the records per tenant exactly; the
 * run has no key of its own, so a request without its stream's key is refused), model and
 * tenant label. Then conversations held by
 * the closed-loop users of two streams, each with its stream's key and model.
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
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-mix-closed-'));
  stack = await startStack(
    parseStack(
      `name: mix-closed-test
models:
  - {name: small, workers: [w0], context_length: 8192}
  - {name: other, workers: [w0], context_length: 8192}
workers:
  - {name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8, max_model_len: 8192, seed: 0}}
gateway:
  port: 0
tenants:
  - {name: alpha, api_key_hashes: ['${hash('k-alpha')}']}
  - {name: beta, api_key_hashes: ['${hash('k-beta')}']}
`,
      'mix-closed-test.yaml',
    ),
    { port: 0, usageDbPath: ':memory:', timeScale: 50 },
  );
});

after(async () => {
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** floodgate_gateway_requests_total summed per tenant (every model). */
async function gatewayCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(stack!.url.replace(/\/v1$/, '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^floodgate_gateway_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (labels['model'] !== 'small' && labels['model'] !== 'other') continue;
    out[labels['tenant']!] = (out[labels['tenant']!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The gateway's counts since `before`, per tenant (tenants with none left out). */
function since(before: Record<string, number>, now: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, n] of Object.entries(now)) if (n - (before[t] ?? 0) > 0) out[t] = n - (before[t] ?? 0);
  return out;
}

test('a closed-loop stream beside an open-loop stream: each user request carried its stream key, model and tenant', { timeout: 90_000 }, async () => {
  const sc = parseScenario(
    `name: mix-closed-e2e
target: {url: "${stack!.url}", model: small, api_key: \${NO_SUCH_KEY}}
workload: {prompt_tokens: 32, output_tokens: 4}
load: {arrival: poisson, drain: 5s}
mix:
  - {name: chat, tenant: alpha, api_key: k-alpha, priority: 1, load: {stages: [{duration: 2s, users: 3, think_time: 20ms}, {duration: 1s, users: 2}]}}
  - {name: spike, tenant: beta, api_key: k-beta, model: other, load: {stages: [{duration: 1s, rate: 5}, {duration: 1s, rate: 20}]}}
`,
    path.join(tmp, 'mix-closed.yaml'),
    { env: {} },
  );
  const before = await gatewayCounts();
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'run-closed'), onRecord: (r) => records.push(r) });
  assert.equal(out.exitCode, 0, out.reasons.join('; '));
  const alpha = records.filter((r) => r.tenant === 'alpha');
  const beta = records.filter((r) => r.tenant === 'beta');
  assert.equal(alpha.length + beta.length, records.length, 'every request belongs to a stream');
  assert.ok(alpha.length > 3 && beta.length > 5, `alpha ${alpha.length}, beta ${beta.length}`);
  // alpha: the closed-loop users (of both of the stream's stages), model small, all accepted with the stream's key
  assert.ok(alpha.every((r) => r.user !== undefined && r.model === 'small' && r.ok), 'alpha: closed-loop users, model small, all ok');
  assert.deepEqual([...new Set(alpha.map((r) => r.user))].sort(), [0, 1, 2]);
  assert.ok(alpha.every((r) => r.stage === 0), 'recorded in the run stage (the derived `mix` stage)');
  assert.ok(beta.every((r) => r.user === undefined && r.model === 'other' && r.ok), 'beta: open loop, model other, all ok');
  // The gateway counted each tenant's requests from the key it got: exactly the records per tenant.
  assert.deepEqual(since(before, await gatewayCounts()), { alpha: alpha.length, beta: beta.length });
  const summary = JSON.parse(fs.readFileSync(path.join(out.runDir, 'summary.json'), 'utf8'));
  assert.equal(summary.by_tenant.alpha.requests.ok, alpha.length);
  assert.equal(summary.by_tenant.beta.requests.ok, beta.length);
  assert.equal(summary.by_model.small.requests.ok, alpha.length);
  assert.equal(summary.by_model.other.requests.ok, beta.length);
});

test('conversations held by the closed-loop users of two streams, each with its stream key and model', { timeout: 90_000 }, async () => {
  const sc = parseScenario(
    `name: mix-conversation-e2e
target: {url: "${stack!.url}", model: small, api_key: \${NO_SUCH_KEY}}
workload: {prompt_tokens: 16, output_tokens: 4, conversation: {turns: 3, think_time: 10ms}}
load: {drain: 5s}
mix:
  - {name: a, tenant: alpha, api_key: k-alpha, load: {stages: [{duration: 2s, users: 2}]}}
  - {name: b, tenant: beta, api_key: k-beta, model: other, load: {stages: [{duration: 2s, users: 2}]}}
`,
    path.join(tmp, 'mix-conversation.yaml'),
    { env: {} },
  );
  const before = await gatewayCounts();
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 2, allowSaturated: true, outDir: path.join(tmp, 'run-conv'), onRecord: (r) => records.push(r) });
  assert.equal(out.exitCode, 0, out.reasons.join('; '));
  assert.ok(records.every((r) => r.ok && r.conversation !== undefined && r.turn !== undefined), 'every request is a turn of a conversation, all ok');
  // a conversation stays within one stream: one tenant and one model per conversation id
  const owner = new Map<number, string>();
  for (const r of records) {
    const who = `${r.tenant}/${r.model}`;
    assert.ok(who === 'alpha/small' || who === 'beta/other', who);
    assert.equal(owner.get(r.conversation!) ?? who, who, `conversation ${r.conversation} in one stream`);
    owner.set(r.conversation!, who);
  }
  assert.ok(records.some((r) => r.turn! > 1), 'some conversation went past its first turn');
  const alpha = records.filter((r) => r.tenant === 'alpha').length;
  const beta = records.filter((r) => r.tenant === 'beta').length;
  assert.ok(alpha > 0 && beta > 0);
  assert.deepEqual(since(before, await gatewayCounts()), { alpha, beta });
});
