/**
 * The reference gateway's admission scheduling end to end under saturation: one simulated worker
 * with max_in_flight 1, so that everything behind one long "blocker" request waits in the
 * gateway's admission queue. The blocker is then aborted and the queue drains one request at a
 * time; the order in which the gateway dispatches is observed at the worker side by a small
 * recording relay (a real HTTP server between the gateway and the worker) that notes each
 * request's tag (its distinct prompt) as it arrives. With one slot, the gateway sends request
 * i+1 only after request i has finished, so arrival order at the relay is the dispatch order.
 *
 * Covers strict priority classes (tenant default priority, a request's own priority within the
 * tenant's max, a request asking for more than its max being capped) and weighted fair share
 * between tenants of one class (equal weights interleave; weights 3:1 split service about 3:1).
 * Assertions are on order and counts only, never on durations.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';
import { holdStream, waitForQueueDepth } from '../fixtures/gateway-queue.ts';

const hashOf = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const FIXED_NOW = Date.UTC(2025, 5, 15, 12, 0, 0);
const MODEL = 'solo';

let tmp: string;
const closers: (() => Promise<void>)[] = [];
const holds: AbortController[] = [];

/** A relay in front of a worker that records the tag of every completion request, in arrival order. */
interface Relay {
  url: string;
  tags: string[];
  close(): Promise<void>;
}

async function startRelay(target: string): Promise<Relay> {
  const tags: string[] = [];
  const up = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && body.length > 0) {
        try {
          const parsed = JSON.parse(body.toString('utf8')) as { messages?: { content?: unknown }[] };
          const content = parsed.messages?.[0]?.content;
          if (typeof content === 'string') tags.push(content);
        } catch {
          // not JSON: not one of ours
        }
      }
      const headers = { ...req.headers, host: up.host };
      const upReq = http.request({ hostname: up.hostname, port: up.port, path: req.url ?? '/', method: req.method, headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      });
      upReq.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) upReq.destroy();
      });
      upReq.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${up.pathname.replace(/\/$/, '')}`,
    tags,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Stack {
  g: Gateway;
  relay: Relay;
}

/** One worker (max_in_flight 1) behind a relay, one gateway; `tenants` is the YAML list body. */
async function startStack(name: string, tenants: string): Promise<Stack> {
  const stack = parseStack(
    `name: ${name}
models:
  - name: ${MODEL}
    workers: [w0]
workers:
  - name: w0
    max_in_flight: 1
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: ${MODEL}, quantization: fp8, seed: 11}
gateway:
  queue: {max_depth: 500, timeout: 300s}
  health: {interval: 60s}
tenants:
  - name: blk
    api_key_hashes: ['${hashOf('fg-sched-blk')}']
    allowed_models: '*'
${tenants}
`,
    `${name}.yaml`,
  );
  const w = stack.workers[0]!;
  assert.ok(w.kind === 'sim');
  const worker: SimWorker = await startSimWorker({ ...w.sim, timeScale: 20, port: 0 });
  closers.push(() => worker.close());
  const relay = await startRelay(worker.url);
  closers.push(() => relay.close());
  const g = await startGateway({ stack, workerUrls: { w0: relay.url }, port: 0, host: '127.0.0.1', usageDbPath: path.join(tmp, `${name}.db`), now: () => FIXED_NOW });
  closers.unshift(() => g.close());
  return { g, relay };
}

const tenantYaml = (name: string, extra = ''): string => `  - name: ${name}
    api_key_hashes: ['${hashOf(`fg-sched-${name}`)}']
    allowed_models: '*'
${extra}`;

function post(g: Gateway, tenant: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer fg-sched-${tenant}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const chat = (tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: MODEL,
  messages: [{ role: 'user', content: tag }],
  max_tokens: 2,
  ignore_eos: true,
  ...extra,
});

/**
 * Starts the blocker: a streaming request that occupies the worker's only slot until aborted.
 * Resolves once its first data event reached the client; `ended()` says whether the stream
 * ended on its own (which would mean the queue started draining too early).
 */
async function block(g: Gateway): Promise<{ abort: () => void; ended: () => boolean }> {
  const ac = new AbortController();
  holds.push(ac);
  const res = await post(g, 'blk', chat('blocker', { stream: true, max_tokens: 100000 }), ac.signal);
  assert.equal(res.status, 200);
  const { ended } = await holdStream(res, 'the blocker');
  return { abort: () => ac.abort(), ended };
}

const waitForDepth = (g: Gateway, n: number): Promise<void> => waitForQueueDepth(g.url, MODEL, n);

interface Sent {
  tag: string;
  done: Promise<number>;
}

/** Sends a queued request; its promise resolves with the HTTP status once the body is read. */
function send(g: Gateway, tenant: string, tag: string, extra: Record<string, unknown> = {}): Sent {
  const done = post(g, tenant, chat(tag, extra)).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
  return { tag, done };
}

/** Releases the blocker, waits for every queued request, and returns the worker-side order (blocker excluded). */
async function drain(s: Stack, blocker: { abort: () => void; ended: () => boolean }, sent: Sent[]): Promise<string[]> {
  assert.equal(blocker.ended(), false, 'the blocker finished before the queue was built: the order below would not be the queue order');
  assert.deepEqual(s.relay.tags, ['blocker'], 'only the blocker reached the worker before release');
  blocker.abort();
  const statuses = await Promise.all(sent.map((x) => x.done));
  assert.deepEqual(statuses, sent.map(() => 200));
  const order = s.relay.tags.filter((t) => t !== 'blocker');
  assert.deepEqual([...order].sort(), sent.map((x) => x.tag).sort(), 'each queued request reached the worker exactly once');
  return order;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-gateway-sched-'));
});

after(async () => {
  for (const ac of holds) ac.abort();
  for (const c of closers) await c();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('gateway admission scheduling under saturation', () => {
  it('dispatches high-priority requests before low-priority ones queued earlier', async () => {
    const s = await startStack(
      'sched-prio',
      [tenantYaml('lo'), tenantYaml('hi', '    priority: {default: 1}\n'), tenantYaml('mid', '    priority: {default: 5, max: 3}\n')].join(''),
    );
    const blocker = await block(s.g);
    const sent: Sent[] = [];
    // Low priority first (tenant default 5) ...
    for (let i = 0; i < 5; i++) sent.push(send(s.g, 'lo', `lo-${i}`));
    await waitForDepth(s.g, 5);
    // ... then high priority: tenant default 1, and a request's own priority within its tenant's max (3).
    for (let i = 0; i < 3; i++) sent.push(send(s.g, 'hi', `hi-${i}`));
    await waitForDepth(s.g, 8);
    for (let i = 0; i < 2; i++) sent.push(send(s.g, 'mid', `mid-${i}`, { priority: 3 }));
    await waitForDepth(s.g, 10);

    const order = await drain(s, blocker, sent);
    const cls = (t: string): string => t.replace(/-\d+$/, '');
    // Strict priority: class 1 (hi), then class 3 (mid), then class 5 (lo).
    assert.deepEqual(order.map(cls), ['hi', 'hi', 'hi', 'mid', 'mid', 'lo', 'lo', 'lo', 'lo', 'lo'], `dispatch order ${order.join(' ')}`);
  });

  it('caps a request asking for more urgency than its tenant max: it does not overtake', async () => {
    const s = await startStack(
      'sched-cap',
      [tenantYaml('lo'), tenantYaml('hi', '    priority: {default: 1}\n'), tenantYaml('mid', '    priority: {default: 5, max: 3}\n')].join(''),
    );
    const blocker = await block(s.g);
    const sent: Sent[] = [];
    // One at a time, each queued before the next is sent, so that the enqueue order is known.
    const steps: [string, string, Record<string, unknown>][] = [
      ['lo', 'lo-0', {}],
      ['lo', 'lo-1', {}],
      // hi asks for class 2 (less urgent than its default is allowed).
      ['hi', 'hi-p2', { priority: 2 }],
      // mid asks for 0, is capped to its max 3: it must stay behind hi's class 2.
      ['mid', 'mid-p0', { priority: 0 }],
      // lo asks for 0 but its max is its default 5: capped to 5, FIFO behind lo's earlier two.
      ['lo', 'lo-p0', { priority: 0 }],
      // mid asks for 9 (least urgent): last.
      ['mid', 'mid-p9', { priority: 9 }],
    ];
    for (const [tenant, tag, extra] of steps) {
      sent.push(send(s.g, tenant, tag, extra));
      await waitForDepth(s.g, sent.length);
    }
    const order = await drain(s, blocker, sent);
    assert.deepEqual(order, ['hi-p2', 'mid-p0', 'lo-0', 'lo-1', 'lo-p0', 'mid-p9']);
  });

  it('serves a small tenant queued behind a big backlog within the first dispatches (equal weights)', async () => {
    const s = await startStack('sched-fair', [tenantYaml('a'), tenantYaml('b')].join(''));
    const blocker = await block(s.g);
    const sent: Sent[] = [];
    for (let i = 0; i < 20; i++) sent.push(send(s.g, 'a', `a-${i}`));
    await waitForDepth(s.g, 20);
    for (let i = 0; i < 3; i++) sent.push(send(s.g, 'b', `b-${i}`));
    await waitForDepth(s.g, 23);

    const order = await drain(s, blocker, sent);
    const firstEight = order.slice(0, 8);
    assert.equal(firstEight.filter((t) => t.startsWith('b-')).length, 3, `first dispatches ${firstEight.join(' ')}`);
    // Equal weights, both backlogged: strict alternation while b lasts (a's head was queued first).
    assert.deepEqual(order.slice(0, 6).map((t) => t[0]), ['a', 'b', 'a', 'b', 'a', 'b'], `dispatch order ${order.join(' ')}`);
  });

  it('splits service 3:1 between tenants of weights 3 and 1 while both are backlogged', async () => {
    const s = await startStack('sched-weight', [tenantYaml('heavy', '    weight: 3\n'), tenantYaml('light', '    weight: 1\n')].join(''));
    const blocker = await block(s.g);
    const sent: Sent[] = [];
    for (let i = 0; i < 40; i++) sent.push(send(s.g, 'heavy', `heavy-${i}`));
    await waitForDepth(s.g, 40);
    for (let i = 0; i < 40; i++) sent.push(send(s.g, 'light', `light-${i}`));
    await waitForDepth(s.g, 80);

    const order = await drain(s, blocker, sent);
    const heavyIn = (n: number): number => order.slice(0, n).filter((t) => t.startsWith('heavy-')).length;
    const h20 = heavyIn(20);
    assert.ok(h20 >= 13 && h20 <= 17, `heavy got ${h20} of the first 20 (expected about 15): ${order.slice(0, 20).join(' ')}`);
    const h40 = heavyIn(40);
    assert.ok(h40 >= 28 && h40 <= 32, `heavy got ${h40} of the first 40 (expected about 30)`);
    // Once heavy's backlog is gone, light takes the rest.
    assert.ok(order.slice(-10).every((t) => t.startsWith('light-')), `tail ${order.slice(-10).join(' ')}`);
  });
});
