/**
 * The reference gateway's refusals and failure paths end to end over loopback, each provoked
 * deterministically by a small inline stack (parseStack) in front of real simulated workers:
 * tenant limits (429 rate_limited / tokens_limited / concurrency_limited / budget_exceeded with
 * retry-after), queue_full (429) and queue_timeout (503), 413 over the body limit, a worker's
 * engine dying mid-stream (the client gets an error event then [DONE]), /ready 503 when a model
 * has no healthy worker, and the engine-death and context-length fallbacks.
 *
 * Requests that must stay in flight (to hold a concurrency slot or a worker slot) stream from a
 * worker at time scale 1 with ignore_eos and a large max_tokens, and are aborted by the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';

const KEYS = { rpm: 'fg-test-rpm', tpm: 'fg-test-tpm', conc: 'fg-test-conc', budget: 'fg-test-budget', open: 'fg-test-open' } as const;
const hashOf = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;
/** A fixed wall clock (mid-day UTC), so that RPM windows and budgets do not depend on when the test runs. */
const FIXED_NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

let tmp: string;
const workers: SimWorker[] = [];
const gateways: Gateway[] = [];
const holds: AbortController[] = [];

function tenantsYaml(): string {
  return `
tenants:
  - name: rpm
    api_key_hashes: ['${hashOf(KEYS.rpm)}']
    allowed_models: '*'
    limits: {rpm: 2}
  - name: tpm
    api_key_hashes: ['${hashOf(KEYS.tpm)}']
    allowed_models: '*'
    limits: {tpm: 50}
  - name: conc
    api_key_hashes: ['${hashOf(KEYS.conc)}']
    allowed_models: '*'
    limits: {max_concurrent: 1}
  - name: budget
    api_key_hashes: ['${hashOf(KEYS.budget)}']
    allowed_models: '*'
    budget: {per_day: 0.01}
  - name: open
    api_key_hashes: ['${hashOf(KEYS.open)}']
    allowed_models: '*'
`;
}

function stackOf(name: string, body: string): StackConfig {
  return parseStack(`name: ${name}\n${body}\n${tenantsYaml()}`, `${name}.yaml`);
}

async function startWorkers(stack: StackConfig, timeScale: Record<string, number> = {}): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  await Promise.all(
    stack.workers.map(async (w) => {
      assert.ok(w.kind === 'sim');
      const s = await startSimWorker({ ...w.sim, timeScale: timeScale[w.name] ?? 50, port: 0 });
      workers.push(s);
      urls[w.name] = s.url;
    }),
  );
  return urls;
}

async function gatewayOf(stack: StackConfig, urls: Record<string, string>, db: string): Promise<Gateway> {
  const g = await startGateway({ stack, workerUrls: urls, port: 0, host: '127.0.0.1', usageDbPath: path.join(tmp, db), now: () => FIXED_NOW });
  gateways.push(g);
  return g;
}

function post(g: Gateway, key: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const chat = (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4, ...extra });

async function errorOf(res: Response): Promise<{ status: number; code: string; retryAfter: string | null }> {
  const body = (await res.json()) as { error: { code: string; message: string; type: string } };
  assert.equal(typeof body.error.message, 'string');
  assert.equal(typeof body.error.type, 'string');
  return { status: res.status, code: body.error.code, retryAfter: res.headers.get('retry-after') };
}

/** Reads an SSE body until `until` holds for the text so far (or the body ends). */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: (text: string) => boolean, start = ''): Promise<{ text: string; ended: boolean }> {
  const decoder = new TextDecoder();
  let text = start;
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) return { text, ended: true };
    text += decoder.decode(value, { stream: true });
  }
  return { text, ended: false };
}

/**
 * Starts a streaming request that stays in flight (slow worker, ignore_eos, many tokens) and
 * resolves once its first data event has reached the client. Abort the returned controller to end it.
 */
async function hold(g: Gateway, key: string, model: string): Promise<AbortController> {
  const ac = new AbortController();
  holds.push(ac);
  const res = await post(g, key, chat(model, { stream: true, max_tokens: 20000, ignore_eos: true }), ac.signal);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const { ended } = await readUntil(reader, (t) => t.includes('data: '));
  assert.equal(ended, false);
  // Keep reading in the background (so the stream is not back-pressured) until aborted.
  void (async () => {
    try {
      for (;;) if ((await reader.read()).done) return;
    } catch {
      // aborted
    }
  })();
  return ac;
}

async function metricsOf(g: Gateway): Promise<string> {
  return (await fetch(`${g.url}/metrics`)).text();
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-gateway-limits-'));
});

after(async () => {
  for (const ac of holds) ac.abort();
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(workers.map((w) => w.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('gateway tenant limits', () => {
  let g: Gateway;
  before(async () => {
    const stack = stackOf(
      'limits',
      `
models:
  - name: small
    workers: [s0]
    price: {input_per_1m: 1000, output_per_1m: 1000}
  - name: slow
    workers: [slow0]
workers:
  - name: s0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 0}
  - name: slow0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: slow, quantization: fp8, seed: 1}
gateway:
  health: {interval: 60s}
`,
    );
    g = await gatewayOf(stack, await startWorkers(stack, { slow0: 1 }), 'limits.db');
  });

  it('refuses the third request in a minute with 429 rate_limited and retry-after', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await post(g, KEYS.rpm, chat('small'));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const res = await post(g, KEYS.rpm, chat('small'));
    assert.deepEqual(await errorOf(res), { status: 429, code: 'rate_limited', retryAfter: '60' });
    assert.ok(res.headers.get('x-request-id'));
    assert.match(await metricsOf(g), /floodgate_gateway_rate_limited_total\{tenant="rpm",code="rate_limited"\} 1/);
  });

  it('refuses a request whose worst case is over the TPM limit with 429 tokens_limited', async () => {
    const res = await post(g, KEYS.tpm, chat('small', { max_tokens: 100 }));
    assert.deepEqual(await errorOf(res), { status: 429, code: 'tokens_limited', retryAfter: '60' });
    // A request that fits still passes.
    const ok = await post(g, KEYS.tpm, chat('small', { max_tokens: 4 }));
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  it('refuses a second concurrent request with 429 concurrency_limited, and admits once the first ends', async () => {
    const first = await hold(g, KEYS.conc, 'slow');
    const res = await post(g, KEYS.conc, chat('small'));
    const e = await errorOf(res);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'concurrency_limited');
    assert.ok(e.retryAfter !== null && Number(e.retryAfter) >= 1, `retry-after ${String(e.retryAfter)}`);
    first.abort();
    // The slot is freed when the gateway sees the client go; poll until a request is admitted.
    for (let i = 0; ; i++) {
      const again = await post(g, KEYS.conc, chat('small'));
      if (again.status === 200) {
        await again.arrayBuffer();
        break;
      }
      assert.equal((await errorOf(again)).code, 'concurrency_limited');
      assert.ok(i < 500, 'the concurrency slot was never freed');
      await new Promise((r) => setImmediate(r));
    }
  });

  it('refuses a request whose worst-case cost is over the daily budget with 429 budget_exceeded', async () => {
    const res = await post(g, KEYS.budget, chat('small', { max_tokens: 100 }));
    const e = await errorOf(res);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'budget_exceeded');
    assert.ok(e.retryAfter !== null && Number(e.retryAfter) >= 1, `retry-after ${String(e.retryAfter)}`);
  });
});

describe('gateway admission queue and body limit', () => {
  const queueStack = (timeout: string): StackConfig =>
    stackOf(
      'queue',
      `
models:
  - name: slow
    workers: [slow0]
workers:
  - name: slow0
    max_in_flight: 1
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: slow, quantization: fp8, seed: 3}
gateway:
  queue: {max_depth: 1, timeout: ${timeout}}
  health: {interval: 60s}
  body_limit: 1KiB
`,
    );

  it('answers 429 queue_full with retry-after when the queue is full', async () => {
    const stack = queueStack('60s');
    const g = await gatewayOf(stack, await startWorkers(stack, { slow0: 1 }), 'queue-full.db');
    const running = await hold(g, KEYS.open, 'slow');
    // The second request waits in the queue (depth 1): wait until the gauge shows it.
    const queuedAc = new AbortController();
    holds.push(queuedAc);
    const queued = post(g, KEYS.open, chat('slow'), queuedAc.signal).catch(() => undefined);
    for (let i = 0; !/floodgate_gateway_queue_depth\{model="slow"\} 1/.test(await metricsOf(g)); i++) assert.ok(i < 1000, 'the request never queued');
    const res = await post(g, KEYS.open, chat('slow'));
    const e = await errorOf(res);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'queue_full');
    assert.ok(e.retryAfter !== null && Number(e.retryAfter) >= 1, `retry-after ${String(e.retryAfter)}`);
    assert.match(await metricsOf(g), /floodgate_gateway_rate_limited_total\{tenant="open",code="queue_full"\} 1/);
    queuedAc.abort();
    running.abort();
    await queued;
  });

  it('answers 503 queue_timeout when no worker slot frees in time', async () => {
    const stack = queueStack('200ms');
    const g = await gatewayOf(stack, await startWorkers(stack, { slow0: 1 }), 'queue-timeout.db');
    const running = await hold(g, KEYS.open, 'slow');
    const res = await post(g, KEYS.open, chat('slow'));
    assert.equal((await errorOf(res)).code, 'queue_timeout');
    assert.equal(res.status, 503);
    running.abort();
  });

  it('answers 413 body_too_large over the body limit, declared or streamed', async () => {
    const stack = queueStack('60s');
    const g = await gatewayOf(stack, await startWorkers(stack), 'body.db');
    const big = JSON.stringify(chat('slow', { messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    const declared = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.open}`, 'content-type': 'application/json' }, body: big });
    assert.deepEqual(await errorOf(declared), { status: 413, code: 'body_too_large', retryAfter: null });
    // No content-length (chunked): the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.open}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.end(big);
    });
    assert.equal(chunked.status, 413);
    assert.equal((JSON.parse(chunked.body) as { error: { code: string } }).error.code, 'body_too_large');
    // Under the limit the same route serves.
    const small = await post(g, KEYS.open, chat('slow'));
    assert.equal(small.status, 200);
    await small.arrayBuffer();
  });
});

describe('gateway worker failures', () => {
  it('ends a stream whose engine dies mid-way with an error event then [DONE]', async () => {
    const stack = stackOf(
      'death',
      `
models:
  - name: small
    workers: [d0]
workers:
  - name: d0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 4, faults: {die_after_requests: 2}}
gateway:
  health: {interval: 60s}
`,
    );
    const urls = await startWorkers(stack, { d0: 1 });
    const g = await gatewayOf(stack, urls, 'death.db');
    const res = await post(g, KEYS.open, chat('small', { stream: true, max_tokens: 20000, ignore_eos: true }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-served-by'), 'd0');
    const reader = res.body!.getReader();
    const first = await readUntil(reader, (t) => t.includes('data: '));
    assert.equal(first.ended, false);
    // The worker's second request kills its engine (faults.death.afterRequests: 2).
    const killer = await fetch(`${urls.d0}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('small')) });
    assert.equal(killer.status, 503);
    await killer.arrayBuffer();
    const rest = await readUntil(reader, () => false, first.text);
    assert.equal(rest.ended, true);
    const events = rest.text.split('\n\n').filter((e) => e.trim().length > 0);
    assert.equal(events.at(-1), 'data: [DONE]');
    const err = events.at(-2)!;
    assert.ok(err.startsWith('data: {"error"'), `penultimate event: ${err}`);
    const parsed = JSON.parse(err.slice('data: '.length)) as { error: { message: string } };
    assert.equal(typeof parsed.error.message, 'string');
    // Only the one error event, and the tokens before it came through.
    assert.equal(events.filter((e) => e.startsWith('data: {"error"')).length, 1);
    assert.ok(events.length >= 3);
  });

  describe('fallbacks and readiness', () => {
    let g: Gateway;
    before(async () => {
      const stack = stackOf(
        'fallback',
        `
models:
  - name: small
    workers: [s0]
  - name: big
    workers: [b0]
    fallback: [small]
  - name: short
    workers: [c0]
    context_length: 2048
    fallback: [small]
workers:
  - name: s0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: small, quantization: fp8, seed: 5}
  - name: b0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: big, quantization: fp8, seed: 6, faults: {die_after_requests: 1}}
  - name: c0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: short, quantization: fp8, seed: 7, max_model_len: 2048}
gateway:
  health: {interval: 60s, failures_to_eject: 1, successes_to_readmit: 2}
`,
      );
      g = await gatewayOf(stack, await startWorkers(stack), 'fallback.db');
    });

    it('falls back on a context-length refusal', async () => {
      const res = await post(g, KEYS.open, chat('short', { max_tokens: 4000 }));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-served-model'), 'small');
      assert.equal(res.headers.get('x-served-by'), 's0');
      const body = (await res.json()) as { usage: { completion_tokens: number } };
      assert.ok(body.usage.completion_tokens > 0);
      assert.match(await metricsOf(g), /floodgate_gateway_fallbacks_total\{from="short",to="small",reason="context_length"\} 1/);
    });

    it('falls back when the engine is dead, and /ready turns 503 for the model left without a worker', async () => {
      const ready = await fetch(`${g.url}/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ready: true, models_without_workers: [] });
      const res = await post(g, KEYS.open, chat('big'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-served-model'), 'small');
      assert.equal(res.headers.get('x-served-by'), 's0');
      await res.arrayBuffer();
      assert.match(await metricsOf(g), /floodgate_gateway_fallbacks_total\{from="big",to="small",reason="engine_dead"\} 1/);
      // The 503 ejected b0 (failures_to_eject: 1): its model has no healthy worker.
      const notReady = await fetch(`${g.url}/ready`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), { ready: false, models_without_workers: ['big'] });
      assert.match(await metricsOf(g), /floodgate_gateway_worker_healthy\{worker="b0"\} 0/);
    });
  });
});
