/**
 * The reference gateway's prefix-affinity routing key, budget restore across a restart and JSON
 * access log, end to end over loopback against real simulated workers (small inline stacks).
 *
 * - prefix_affinity: requests sharing a long system prompt land on one worker (x-served-by);
 *   different prompts spread over both. Requests are sent one at a time, so the bounded load
 *   never spills and the choice depends only on the prompt.
 * - budgets: spend recorded in the ledger by a first gateway counts against the daily budget of a
 *   second gateway started on the same ledger file.
 * - access log: one JSON line per request with the documented fields; a canary in the prompt,
 *   the API key and the prefix key never appear in it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';
import { UsageLedger, type UsageRow } from '../../reference-stack/gateway/usage-ledger.ts';

const KEYS = { open: 'fg-extras-open-key-5d1e', budget: 'fg-extras-budget-key-9b7c' } as const;
const hashOf = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;
/** A fixed wall clock (mid-day UTC), so that budgets do not depend on when the test runs. */
const FIXED_NOW = Date.UTC(2025, 5, 15, 12, 0, 0);
const PREFIX_TOKENS = 32;

let tmp: string;
const workers: SimWorker[] = [];
const gateways: Gateway[] = [];

function stackOf(name: string, body: string): StackConfig {
  return parseStack(
    `name: ${name}
${body}
tenants:
  - name: open
    api_key_hashes: ['${hashOf(KEYS.open)}']
    allowed_models: '*'
  - name: budget
    api_key_hashes: ['${hashOf(KEYS.budget)}']
    allowed_models: '*'
    budget: {per_day: 0.05}
`,
    `${name}.yaml`,
  );
}

const TWO_WORKERS = `
models:
  - name: small
    workers: [w0, w1]
    price: {input_per_1m: 1000, output_per_1m: 1000}
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 0}
  - name: w1
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 1}
gateway:
  routing: prefix_affinity
  prefix_affinity: {prefix_tokens: ${PREFIX_TOKENS}}
  health: {interval: 60s}
`;

async function startWorkers(stack: StackConfig): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  await Promise.all(
    stack.workers.map(async (w) => {
      assert.ok(w.kind === 'sim');
      const s = await startSimWorker({ ...w.sim, timeScale: 50, port: 0 });
      workers.push(s);
      urls[w.name] = s.url;
    }),
  );
  return urls;
}

async function gatewayOf(stack: StackConfig, urls: Record<string, string>, db: string, log?: NodeJS.WritableStream): Promise<Gateway> {
  const g = await startGateway({ stack, workerUrls: urls, port: 0, host: '127.0.0.1', usageDbPath: path.join(tmp, db), now: () => FIXED_NOW, ...(log ? { log } : {}) });
  gateways.push(g);
  return g;
}

function post(g: Gateway, key: string, body: Record<string, unknown>, route = 'chat/completions'): Promise<Response> {
  return fetch(`${g.url}/v1/${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A system prompt of `n` distinct words, different for each `seed`. */
const systemPrompt = (seed: string, n = 64): string => Array.from({ length: n }, (_, i) => `${seed}w${i}`).join(' ');

const chatOf = (system: string, user: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'small',
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ],
  max_tokens: 4,
  ...extra,
});

/** A stream collecting what is written, resolving `waitLines(n)` once n lines have arrived. */
class LineSink extends Writable {
  text = '';
  private waiters: { n: number; resolve: () => void }[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    const lines = this.lines().length;
    this.waiters = this.waiters.filter((w) => {
      if (lines >= w.n) w.resolve();
      return lines < w.n;
    });
    cb();
  }
  lines(): string[] {
    return this.text.split('\n').filter((l) => l.length > 0);
  }
  waitLines(n: number): Promise<void> {
    if (this.lines().length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-gateway-extras-'));
});

after(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(workers.map((w) => w.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('gateway prefix_affinity routing', () => {
  let g: Gateway;
  before(async () => {
    const stack = stackOf('affinity', TWO_WORKERS);
    g = await gatewayOf(stack, await startWorkers(stack), 'affinity.db');
  });

  it('sends requests sharing a long system prompt to the same worker', async () => {
    const system = systemPrompt('shared');
    const servedBy = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const res = await post(g, KEYS.open, chatOf(system, `question number ${i} about something else`));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      servedBy.add(res.headers.get('x-served-by') ?? '');
    }
    assert.equal(servedBy.size, 1, `served by ${[...servedBy].join(', ')}`);
    assert.ok(['w0', 'w1'].includes([...servedBy][0]!));
  });

  it('keys completions on the prompt too', async () => {
    const servedBy = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await post(g, KEYS.open, { model: 'small', prompt: `${systemPrompt('completion')} tail ${i}`, max_tokens: 4 }, 'completions');
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      servedBy.add(res.headers.get('x-served-by') ?? '');
    }
    assert.equal(servedBy.size, 1);
  });

  it('spreads different prompts over both workers', async () => {
    const servedBy = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const res = await post(g, KEYS.open, chatOf(systemPrompt(`p${i}`), 'same question'));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      servedBy.add(res.headers.get('x-served-by') ?? '');
    }
    assert.deepEqual([...servedBy].sort(), ['w0', 'w1']);
  });
});

describe('gateway budget restore across a restart', () => {
  const ONE_WORKER = `
models:
  - name: small
    workers: [b0]
    price: {input_per_1m: 1000, output_per_1m: 1000}
workers:
  - name: b0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 4}
gateway:
  health: {interval: 60s}
  usage: {retention_days: 30}
`;
  // Worst case of this request: (prompt estimate + 30) tokens x 0.001 = about 0.033, under the
  // 0.05 daily budget; its real cost (30 completion tokens at least) leaves less than that.
  const spendy = (): Record<string, unknown> => ({ model: 'small', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 30, ignore_eos: true });

  it('refuses with budget_exceeded after a restart on the same ledger, and not on a fresh one', async () => {
    const stack = stackOf('budget', ONE_WORKER);
    const urls = await startWorkers(stack);
    const first = await gatewayOf(stack, urls, 'budget.db');
    const ok = await post(first, KEYS.budget, spendy());
    assert.equal(ok.status, 200);
    const usage = ((await ok.json()) as { usage: { completion_tokens: number } }).usage;
    assert.equal(usage.completion_tokens, 30);
    await first.close();

    const restarted = await gatewayOf(stack, urls, 'budget.db');
    const res = await post(restarted, KEYS.budget, spendy());
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(res.status, 429);
    assert.equal(body.error.code, 'budget_exceeded');

    // Control: the same request on a gateway with an empty ledger is admitted.
    const fresh = await gatewayOf(stack, urls, 'budget-fresh.db');
    const control = await post(fresh, KEYS.budget, spendy());
    assert.equal(control.status, 200);
    await control.arrayBuffer();
  });

  it('prunes ledger rows older than usage.retention_days at start', async () => {
    const file = path.join(tmp, 'prune.db');
    const row = (tsMs: number, requestId: string): UsageRow => ({
      tsMs, requestId, tenant: 'open', keyId: 'key_000000000000', model: 'small', servedModel: 'small', promptTokens: 1,
      completionTokens: 1, cost: 0, status: 200, errorCode: null, queueMs: 0, ttftMs: 1, e2eMs: 1, retries: 0, fallback: false,
    });
    const seed = UsageLedger.open(file);
    seed.record(row(FIXED_NOW - 31 * 86_400_000, 'old'));
    seed.record(row(FIXED_NOW - 29 * 86_400_000, 'kept'));
    seed.close();
    const stack = stackOf('prune', ONE_WORKER);
    const g = await gatewayOf(stack, await startWorkers(stack), 'prune.db');
    await g.close();
    const check = UsageLedger.open(file);
    try {
      assert.equal(check.usage('open', 0, FIXED_NOW + 1).total.requests, 1);
      assert.equal(check.usage('open', FIXED_NOW - 30 * 86_400_000, FIXED_NOW + 1).total.requests, 1);
    } finally {
      check.close();
    }
  });
});

describe('gateway access log', () => {
  const CANARY = 'CANARY-b41c9e77-never-log-me';
  let g: Gateway;
  const sink = new LineSink();
  before(async () => {
    const stack = stackOf('log', TWO_WORKERS);
    g = await gatewayOf(stack, await startWorkers(stack), 'log.db', sink);
  });

  it('writes one JSON line per request with the fields, and no prompt, completion or key', async () => {
    const system = `${CANARY} ${systemPrompt('log')}`;
    const res = await post(g, KEYS.open, chatOf(system, `user ${CANARY}`), 'chat/completions');
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { choices: { message: { content: string } }[] };
    const completion = answer.choices[0]!.message.content;
    const streamed = await post(g, KEYS.open, chatOf(system, CANARY, { stream: true }));
    assert.equal(streamed.status, 200);
    await streamed.arrayBuffer();
    const refused = await post(g, 'fg-not-a-key-' + CANARY, chatOf(system, CANARY));
    assert.equal(refused.status, 401);
    await refused.arrayBuffer();
    await sink.waitLines(3);

    const lines = sink.lines();
    assert.equal(lines.length, 3);
    const text = sink.text;
    assert.ok(!text.includes('CANARY'), 'the prompt canary is in the access log');
    assert.ok(!text.includes(KEYS.open), 'the API key is in the access log');
    if (completion.trim().length > 8) assert.ok(!text.includes(completion), 'the completion is in the access log');
    const words = `${system} user ${CANARY}`.split(/\s+/).slice(0, PREFIX_TOKENS).join(' ');
    assert.ok(!text.includes(createHash('sha1').update(words).digest('hex')), 'the prefix key is in the access log');

    const [ok, stream, unauth] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const FIELDS = ['time', 'request_id', 'tenant', 'key_id', 'model', 'served_model', 'served_by', 'status', 'error_code', 'queue_ms', 'ttft_ms', 'e2e_ms', 'prompt_tokens', 'completion_tokens', 'retries', 'fallback'];
    for (const l of [ok!, stream!, unauth!]) assert.deepEqual(Object.keys(l).sort(), [...FIELDS].sort());
    assert.equal(ok!.request_id, res.headers.get('x-request-id'));
    assert.equal(ok!.time, new Date(FIXED_NOW).toISOString());
    assert.equal(ok!.tenant, 'open');
    assert.match(String(ok!.key_id), /^key_[0-9a-f]{12}$/);
    assert.equal(ok!.model, 'small');
    assert.equal(ok!.served_model, 'small');
    assert.equal(ok!.served_by, res.headers.get('x-served-by'));
    assert.equal(ok!.status, 200);
    assert.equal(ok!.error_code, null);
    assert.equal(typeof ok!.queue_ms, 'number');
    assert.equal(typeof ok!.ttft_ms, 'number');
    assert.equal(typeof ok!.e2e_ms, 'number');
    assert.ok((ok!.prompt_tokens as number) > 0);
    assert.equal(ok!.completion_tokens, 4);
    assert.equal(ok!.retries, 0);
    assert.equal(ok!.fallback, false);

    assert.equal(stream!.request_id, streamed.headers.get('x-request-id'));
    assert.equal(stream!.status, 200);
    assert.equal(stream!.completion_tokens, 4);

    assert.equal(unauth!.status, 401);
    assert.equal(unauth!.error_code, 'invalid_api_key');
    assert.equal(unauth!.tenant, null);
    assert.equal(unauth!.key_id, null);
    assert.equal(unauth!.served_by, null);
  });
});
