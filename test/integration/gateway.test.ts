/**
 * The reference gateway end to end over loopback: the default stack, its workers replaced by
 * real simulated workers (timeScale 50) on port 0, the official `openai` client in front.
 * Covers auth, model permissions, streaming and non-streaming relay with the gateway headers,
 * /v1/models, /v1/usage isolation, fallback on CUDA OOM, retry past a closed worker, and that a
 * prompt's text never reaches the ledger file or /metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import type { SimWorkerConfig, StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';

const CANARY = 'zebra-canary-7f3a91';
let stack: StackConfig;
let tmp: string;
const workers: SimWorker[] = [];
const gateways: Gateway[] = [];
let gw: Gateway;
let pro: OpenAI;

function simOf(name: string): SimWorkerConfig['sim'] {
  const w = stack.workers.find((x) => x.name === name);
  assert.ok(w !== undefined && w.kind === 'sim');
  return w.sim;
}

async function worker(name: string, extra: Partial<SimWorkerConfig['sim']> = {}): Promise<SimWorker> {
  const w = await startSimWorker({ ...simOf(name), ...extra, timeScale: 50, port: 0 });
  workers.push(w);
  return w;
}

async function gateway(urls: Record<string, string>, db: string): Promise<Gateway> {
  const g = await startGateway({ stack, workerUrls: urls, port: 0, host: '127.0.0.1', usageDbPath: path.join(tmp, db) });
  gateways.push(g);
  return g;
}

function client(g: Gateway, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${g.url}/v1`, maxRetries: 0 });
}

async function errorOf(p: Promise<unknown>): Promise<{ status: number; code: unknown }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    return { status: err.status ?? 0, code: err.code };
  }
  assert.fail('expected an error');
}

function assertGatewayHeaders(h: Headers): void {
  for (const name of ['x-request-id', 'x-queue-ms', 'x-served-by', 'x-served-model', 'server-timing']) assert.ok(h.get(name), `header ${name}`);
  assert.match(h.get('server-timing')!, /queue;dur=[\d.]+, upstream;dur=[\d.]+/);
}

before(async () => {
  stack = loadStack('reference-stack/stacks/default.yaml');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-gateway-'));
  const [a, b, c] = await Promise.all([worker('w8b-0'), worker('w8b-1'), worker('w70b-0')]);
  gw = await gateway({ 'w8b-0': a.url, 'w8b-1': b.url, 'w70b-0': c.url }, 'usage.db');
  pro = client(gw, 'fg-dev-pro');
});

after(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(workers.map((w) => w.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('gateway', () => {
  it('relays a non-streaming chat completion with its headers', async () => {
    const { data, response } = await pro.chat.completions
      .create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: `hello ${CANARY}` }], max_tokens: 8 })
      .withResponse();
    assert.equal(response.status, 200);
    assertGatewayHeaders(response.headers);
    assert.match(response.headers.get('x-served-by')!, /^w8b-[01]$/);
    assert.equal(response.headers.get('x-served-model'), 'llama-3.1-8b');
    assert.ok((data.usage?.completion_tokens ?? 0) > 0);
    assert.ok(typeof data.choices[0]?.message.content === 'string');
  });

  it('streams a chat completion through, usage chunk stripped unless asked for', async () => {
    const { data: stream, response } = await pro.chat.completions
      .create({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [{ role: 'user', content: `tell me ${CANARY}` }], max_tokens: 12, stream: true })
      .withResponse();
    assertGatewayHeaders(response.headers);
    assert.equal(response.headers.get('x-served-model'), 'llama-3.1-8b');
    let text = '';
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usageChunks++;
    }
    assert.ok(text.length > 0);
    assert.equal(usageChunks, 0);

    const withUsage = await pro.chat.completions.create({
      model: 'llama-3.1-8b',
      messages: [{ role: 'user', content: 'count' }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    assert.ok(usage && usage.completion_tokens > 0);
  });

  it('relays /v1/completions streaming and not', async () => {
    const r = await pro.completions.create({ model: 'llama-3.1-8b', prompt: `once upon ${CANARY}`, max_tokens: 6 });
    assert.ok((r.usage?.completion_tokens ?? 0) > 0);
    const s = await pro.completions.create({ model: 'llama-3.1-8b', prompt: 'once upon', max_tokens: 6, stream: true });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
    assert.ok(text.length > 0);
  });

  it('answers 401 for a missing or wrong key, in the OpenAI error shape', async () => {
    const e = await errorOf(client(gw, 'fg-wrong-key').chat.completions.create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'x' }] }));
    assert.deepEqual(e, { status: 401, code: 'invalid_api_key' });
    const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-request-id': 'my-id-1' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('x-request-id'), 'my-id-1');
    const body = (await res.json()) as { error: { message: string; type: string; param: unknown; code: string } };
    assert.equal(body.error.code, 'missing_api_key');
    assert.equal(typeof body.error.message, 'string');
    assert.ok('param' in body.error && 'type' in body.error);
  });

  it('answers 403 for a model the tenant may not use and 404 for an unknown one', async () => {
    const free = client(gw, 'fg-dev-free');
    assert.deepEqual(await errorOf(free.chat.completions.create({ model: 'llama-3.1-70b', messages: [{ role: 'user', content: 'x' }] })), { status: 403, code: 'model_not_allowed' });
    assert.deepEqual(await errorOf(pro.chat.completions.create({ model: 'gpt-17', messages: [{ role: 'user', content: 'x' }] })), { status: 404, code: 'model_not_found' });
  });

  it('answers 400 naming the problem for bad JSON', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer fg-dev-pro', 'content-type': 'application/json' }, body: '{"model":' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_json');
    // The message says where, never what: no body text echoed back (it could be a prompt).
    const bad = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer fg-dev-pro', 'content-type': 'application/json' }, body: '{"messages": CANARY-json-secret}' });
    const e = ((await bad.json()) as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'invalid_json');
    assert.match(e.message, /^request body is not valid JSON/);
    assert.equal(e.message.includes('CANARY'), false);
  });

  it('answers 400 invalid_priority for a priority that is not an integer class', async () => {
    for (const priority of ['0', 1.5, true]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer fg-dev-pro', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, priority }),
      });
      assert.equal(res.status, 400, `priority ${JSON.stringify(priority)}`);
      const body = (await res.json()) as { error: { code: string; param: string } };
      assert.equal(body.error.code, 'invalid_priority');
      assert.equal(body.error.param, 'priority');
    }
  });

  it('lists only the models the tenant may use', async () => {
    const freeModels = (await client(gw, 'fg-dev-free').models.list()).data.map((m) => m.id);
    assert.deepEqual(freeModels, ['llama-3.1-8b']);
    const proModels = (await pro.models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(proModels, ['llama-3.1-70b', 'llama-3.1-8b']);
  });

  it('shows each tenant only its own usage', async () => {
    const free = client(gw, 'fg-dev-free');
    await free.chat.completions.create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    type ModelRow = { model: string; requests: number; errors: number; completionTokens: number };
    type Usage = { tenant: string; today: { tenant: string; byModel: ModelRow[]; total: { requests: number; completionTokens: number } }; month: { total: { requests: number } } };
    const get = async (key: string): Promise<Usage> => {
      const res = await fetch(`${gw.url}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
      return (await res.json()) as Usage;
    };
    const u = await get('fg-dev-free');
    assert.equal(u.tenant, 'free');
    assert.equal(u.today.tenant, 'free');
    // The free tenant's one success, and its refused 70B request from the 403 test (an error row).
    const m8 = u.today.byModel.find((m) => m.model === 'llama-3.1-8b');
    assert.ok(m8 !== undefined && m8.requests === 1 && m8.errors === 0 && m8.completionTokens > 0);
    assert.deepEqual(u.today.byModel.find((m) => m.model === 'llama-3.1-70b'), { model: 'llama-3.1-70b', requests: 1, errors: 1, promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 });
    assert.equal(u.today.total.requests, 2);
    const p = await get('fg-dev-pro');
    assert.equal(p.tenant, 'pro');
    assert.ok(p.today.total.requests >= 5);
    assert.ok(p.month.total.requests >= p.today.total.requests);
  });

  it('lists the workers\' metrics endpoints for Prometheus HTTP service discovery', async () => {
    const r = await fetch(`${gw.url}/sd/prometheus`);
    assert.equal(r.status, 200);
    const groups = (await r.json()) as { targets: string[]; labels: Record<string, string> }[];
    assert.deepEqual(groups.map((g) => g.labels.worker), ['w8b-0', 'w8b-1', 'w70b-0']);
    for (const g of groups) {
      assert.equal(g.targets.length, 1);
      assert.match(g.targets[0]!, /^127\.0\.0\.1:\d+$/);
      assert.equal(g.labels.__metrics_path__, '/metrics');
      const m = await fetch(`${g.labels.__scheme__}://${g.targets[0]}${g.labels.__metrics_path__}`);
      assert.match(await m.text(), /vllm:num_requests_running/);
    }
    assert.equal(groups.find((g) => g.labels.worker === 'w70b-0')!.labels.served_models, 'llama-3.1-70b');
  });

  it('serves /health, /ready and /metrics', async () => {
    assert.equal((await fetch(`${gw.url}/health`)).status, 200);
    assert.equal((await fetch(`${gw.url}/ready`)).status, 200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const name of [
      'floodgate_gateway_requests_total{tenant="pro",model="llama-3.1-8b",status="200"}',
      'floodgate_gateway_queue_depth{model="llama-3.1-8b"}',
      'floodgate_gateway_queue_time_seconds_bucket',
      'floodgate_gateway_ttft_seconds_bucket',
      'floodgate_gateway_e2e_seconds_bucket',
      'floodgate_gateway_retries_total',
      'floodgate_gateway_fallbacks_total',
      'floodgate_gateway_rate_limited_total',
      'floodgate_gateway_worker_healthy{worker="w70b-0"} 1',
      'floodgate_gateway_budget_alert{tenant="free"} 0',
    ]) {
      assert.ok(text.includes(name), `metrics lack ${name}`);
    }
    const completion = /floodgate_gateway_tokens_total\{tenant="pro",model="llama-3\.1-8b",kind="completion"\} (\d+)/.exec(text);
    assert.ok(completion && Number(completion[1]) > 0, 'completion tokens counted');
    assert.match(text, /floodgate_gateway_worker_in_flight\{worker="w8b-0"\} \d+/);
    assert.match(text, /floodgate_gateway_budget_spent\{tenant="pro",period="day"\} [\d.e-]+/);
    // Every metric docs/stack.md lists is exported.
    const doc = fs.readFileSync(new URL('../../docs/stack.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `(floodgate_gateway_[a-z_]+)` \|/gm)].map((m) => m[1]!);
    assert.ok(documented.length >= 10, `docs/stack.md lists ${documented.length} gateway metrics`);
    for (const name of documented) assert.ok(text.includes(`# HELP ${name} `), `/metrics lacks the documented ${name}`);
    const exported = [...text.matchAll(/^# HELP (floodgate_gateway_[a-z_]+) /gm)].map((m) => m[1]!);
    assert.deepEqual(exported.filter((n) => !documented.includes(n)), [], 'every exported metric is documented');
  });

  it('falls back from an out-of-memory 70B to the 8B and says so', async () => {
    const [a, b, oom] = await Promise.all([worker('w8b-0'), worker('w8b-1'), worker('w70b-0', { faults: { oom: { rate: 1 } } })]);
    const g = await gateway({ 'w8b-0': a.url, 'w8b-1': b.url, 'w70b-0': oom.url }, 'fallback.db');
    const { data, response } = await client(g, 'fg-dev-pro')
      .chat.completions.create({ model: 'llama-3.1-70b', messages: [{ role: 'user', content: `big ${CANARY}` }], max_tokens: 4 })
      .withResponse();
    assert.equal(response.headers.get('x-served-model'), 'llama-3.1-8b');
    assert.match(response.headers.get('x-served-by')!, /^w8b-[01]$/);
    assert.ok((data.usage?.completion_tokens ?? 0) > 0);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(metrics, /floodgate_gateway_fallbacks_total\{from="llama-3\.1-70b",to="llama-3\.1-8b",reason="oom"\} 1/);
  });

  it('retries on the other 8B worker when one is closed', async () => {
    const [a, b, c] = await Promise.all([worker('w8b-0'), worker('w8b-1'), worker('w70b-0')]);
    await b.close();
    workers.splice(workers.indexOf(b), 1);
    const g = await gateway({ 'w8b-0': a.url, 'w8b-1': b.url, 'w70b-0': c.url }, 'retry.db');
    const cl = client(g, 'fg-dev-pro');
    for (let i = 0; i < 4; i++) {
      const { data, response } = await cl.chat.completions
        .create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: `again ${i} ${CANARY}` }], max_tokens: 3 })
        .withResponse();
      assert.equal(response.headers.get('x-served-by'), 'w8b-0');
      assert.ok((data.usage?.completion_tokens ?? 0) > 0);
    }
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    const m = /floodgate_gateway_retries_total\{model="llama-3\.1-8b"\} (\d+)/.exec(metrics);
    assert.ok(m !== null && Number(m[1]) >= 1, 'at least one retry counted');
  });

  it('never writes a prompt to the ledger file or /metrics', async () => {
    const metrics = await Promise.all(gateways.map(async (g) => (await fetch(`${g.url}/metrics`)).text()));
    for (const text of metrics) assert.ok(!text.includes(CANARY));
    // /v1/usage flushes the ledger; then close every gateway so that all rows reach the files.
    await Promise.all(gateways.map((g) => g.close()));
    const files = fs.readdirSync(tmp).filter((f) => f.includes('.db'));
    assert.ok(files.some((f) => f === 'usage.db'));
    for (const f of files) assert.ok(!fs.readFileSync(path.join(tmp, f)).includes(CANARY), `${f} holds the canary`);
    assert.ok(fs.statSync(path.join(tmp, 'usage.db')).size > 0);
  });
});
