/**
 * Token-cost fairness end to end through the real gateway.
 *
 * One model, one simulated worker behind the gateway with max_in_flight 2, two tenants of equal
 * weight in the same priority class. The gateway's admission queue charges each request its
 * reserved tokens (its prompt estimate, ~4/3 tokens per word, plus max_tokens) in start-time fair
 * queueing, so while both tenants are backlogged each is served about the same number of tokens:
 * a tenant whose requests reserve 4x the tokens gets about a quarter as many requests served.
 *
 * Setup of each phase: two long streaming "hold" requests (a third tenant) occupy both worker
 * slots; then "big" and "small" each fire a burst of concurrent streaming requests, which all
 * wait in the gateway's queue (polled on /metrics until the depth is the whole burst, each poll a
 * real round trip); then the holds are aborted and the queue drains. Service order is observed on
 * the client side: the order in which the responses' headers arrive (the gateway sends a stream's
 * headers once the worker has answered, i.e. just after dispatch; with two slots two neighbours
 * may swap, which the bands below absorb).
 *
 * - Phase 1 (cost 4:1): big reserves 800 tokens a request (594 prompt words, estimated 792
 *   tokens, + 8 max_tokens), small 200 (144 words + 8). Over the first K dispatches (both still backlogged), big's share of
 *   the reserved tokens is within 35%..65% and small gets more than twice big's request count
 *   (about 4x expected). Request-count fairness or FIFO would give big about 80% of the tokens.
 * - Phase 2 (control, equal cost): both reserve 200 tokens a request; request counts over the
 *   first K dispatches are about equal.
 *
 * Prompt-heavy costs keep the test fast: a prompt costs the simulated GPU one prefill step,
 * while every output token is an engine step (at least a timer tick) and an SSE event. No durations are asserted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';
import { holdStream, waitForQueueDepth } from '../fixtures/gateway-queue.ts';

const MODEL = 'fair';
const keyOf = (tenant: string): string => `fg-fair-e2e-${tenant}-71b4`;
const hashOf = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const MAX_IN_FLIGHT = 2;
const MAX_TOKENS = 8;

let worker: SimWorker | undefined;
let gateway: Gateway | undefined;
const holds: AbortController[] = [];

/** The gateway's prompt estimate for a one-message chat of `words` words: ceil(words * 4 / 3). */
const estimate = (words: number): number => Math.ceil((words * 4) / 3);

/** A prompt of exactly `words` whitespace-separated words, tagged (the tag is its first word). */
const promptOf = (tag: string, words: number): string => [tag, ...Array.from({ length: words - 1 }, (_, i) => `w${i % 50}`)].join(' ');

function post(g: Gateway, tenant: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keyOf(tenant)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** A streaming request that holds one worker slot until aborted; resolves once its first event arrived. */
async function hold(g: Gateway, n: number): Promise<{ abort: () => void; ended: () => boolean }> {
  const ac = new AbortController();
  holds.push(ac);
  const res = await post(g, 'hold', { model: MODEL, messages: [{ role: 'user', content: `hold ${n}` }], max_tokens: 100_000, ignore_eos: true, stream: true }, ac.signal);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-served-by'), 'w0');
  const { ended } = await holdStream(res, 'a hold');
  return { abort: () => ac.abort(), ended };
}

const waitForDepth = (g: Gateway, n: number): Promise<void> => waitForQueueDepth(g.url, MODEL, n);

interface Spec {
  tenant: string;
  count: number;
  words: number;
}

interface Served {
  tenant: string;
  cost: number;
}

/**
 * One phase: holds on both slots, the bursts queued behind them, the holds released. Returns the
 * service order (tenant and reserved tokens of each request, by header arrival) once every
 * request has completed with a whole stream.
 */
async function phase(g: Gateway, specs: Spec[]): Promise<Served[]> {
  const hs = [await hold(g, 0), await hold(g, 1)];
  const order: Served[] = [];
  const done: Promise<void>[] = [];
  const total = specs.reduce((s, x) => s + x.count, 0);
  // Interleaved, so that neither tenant's burst is wholly ahead of the other in arrival order.
  for (let i = 0; i < Math.max(...specs.map((s) => s.count)); i++) {
    for (const s of specs) {
      if (i >= s.count) continue;
      const cost = estimate(s.words) + MAX_TOKENS;
      const body = { model: MODEL, messages: [{ role: 'user', content: promptOf(`${s.tenant}-${i}`, s.words) }], max_tokens: MAX_TOKENS, ignore_eos: true, stream: true };
      done.push(
        post(g, s.tenant, body).then(async (res) => {
          order.push({ tenant: s.tenant, cost });
          const text = await res.text();
          assert.equal(res.status, 200, `${s.tenant}-${i}: ${text.slice(0, 300)}`);
          assert.equal(res.headers.get('x-served-by'), 'w0');
          assert.ok(text.includes('data: [DONE]') && /"finish_reason":"length"/.test(text) && !text.includes('"error"'), `${s.tenant}-${i}: incomplete stream`);
        }),
      );
    }
  }
  await waitForDepth(g, total);
  for (const h of hs) assert.equal(h.ended(), false, 'a hold ended before the queue was built: the order would not be the queue order');
  for (const h of hs) h.abort();
  await Promise.all(done);
  assert.equal(order.length, total);
  return order;
}

/** The longest prefix of `order` during which every tenant still had requests not yet served. */
function backloggedPrefix(order: Served[], specs: Spec[]): number {
  const left = new Map(specs.map((s) => [s.tenant, s.count]));
  for (let i = 0; i < order.length; i++) {
    const t = order[i]!.tenant;
    left.set(t, left.get(t)! - 1);
    if (left.get(t) === 0) return i;
  }
  return order.length;
}

const count = (xs: Served[], tenant: string): number => xs.filter((x) => x.tenant === tenant).length;
const tokens = (xs: Served[], tenant: string): number => xs.filter((x) => x.tenant === tenant).reduce((s, x) => s + x.cost, 0);
const show = (xs: Served[]): string => xs.map((x) => x.tenant[0]).join('');

before(async () => {
  const stack = parseStack(
    `name: fairness-e2e
models:
  - name: ${MODEL}
    workers: [w0]
workers:
  - name: w0
    max_in_flight: ${MAX_IN_FLIGHT}
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: ${MODEL}, quantization: fp8, seed: 5}
gateway:
  queue: {max_depth: 1000, timeout: 120s}
  health: {interval: 60s}
tenants:
  - name: hold
    api_key_hashes: ['${hashOf(keyOf('hold'))}']
  - name: big
    api_key_hashes: ['${hashOf(keyOf('big'))}']
  - name: small
    api_key_hashes: ['${hashOf(keyOf('small'))}']
`,
    'fairness-e2e.yaml',
  );
  const w = stack.workers[0]!;
  assert.ok(w.kind === 'sim');
  assert.equal(w.maxInFlight, MAX_IN_FLIGHT);
  // Same weight, same class: the split below comes from cost alone.
  for (const t of stack.tenants) assert.ok(t.weight === 1 && t.defaultPriority === 5, `tenant ${t.name}`);
  worker = await startSimWorker({ ...w.sim, timeScale: 20, port: 0 });
  gateway = await startGateway({ stack, workerUrls: { w0: worker.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
});

after(async () => {
  for (const ac of holds) ac.abort();
  await gateway?.close();
  await worker?.close();
});

describe('gateway fair share by token cost, end to end', () => {
  it('serves about equal tokens to a 4x-cost tenant and a small one (about 4x the requests to the small one); equal costs give equal counts', async () => {
    const g = gateway!;
    // Phase 1: big costs 4x small.
    const BIG_WORDS = 594; // estimate 792 + 8 = 800 reserved tokens
    const SMALL_WORDS = 144; // estimate 192 + 8 = 200
    assert.equal(estimate(BIG_WORDS) + MAX_TOKENS, 4 * (estimate(SMALL_WORDS) + MAX_TOKENS));
    const specs1: Spec[] = [
      { tenant: 'big', count: 30, words: BIG_WORDS },
      { tenant: 'small', count: 100, words: SMALL_WORDS },
    ];
    const order1 = await phase(g, specs1);
    // Both backlogged for the first K dispatches (SFQ: small runs out near dispatch 125; by request
    // count or FIFO, big would run out at about 60).
    const K1 = 60;
    const prefix1 = backloggedPrefix(order1, specs1);
    const first1 = order1.slice(0, Math.min(K1, prefix1));
    const bigShare = tokens(first1, 'big') / (tokens(first1, 'big') + tokens(first1, 'small'));
    assert.ok(bigShare >= 0.35 && bigShare <= 0.65, `big got ${(bigShare * 100).toFixed(1)}% of the reserved tokens over the first ${first1.length} (order ${show(first1)})`);
    assert.ok(count(first1, 'small') > 2 * count(first1, 'big'), `small ${count(first1, 'small')} vs big ${count(first1, 'big')} requests (order ${show(first1)})`);
    assert.ok(prefix1 >= K1, `a tenant ran out after ${prefix1} dispatches (order ${show(order1)})`);
    // Over the whole backlogged period too.
    const whole = order1.slice(0, prefix1);
    const wholeShare = tokens(whole, 'big') / (tokens(whole, 'big') + tokens(whole, 'small'));
    assert.ok(wholeShare >= 0.35 && wholeShare <= 0.65, `big got ${(wholeShare * 100).toFixed(1)}% over the ${prefix1} backlogged dispatches`);

    // Phase 2 (control): equal costs, equal counts.
    const specs2: Spec[] = [
      { tenant: 'big', count: 40, words: SMALL_WORDS },
      { tenant: 'small', count: 40, words: SMALL_WORDS },
    ];
    const order2 = await phase(g, specs2);
    const K2 = 40;
    assert.ok(backloggedPrefix(order2, specs2) >= K2 - 2, `a tenant ran out early (order ${show(order2)})`);
    const first2 = order2.slice(0, K2);
    const b2 = count(first2, 'big');
    assert.ok(b2 >= 14 && b2 <= 26, `equal costs: big ${b2} of the first ${K2} (order ${show(first2)})`);

    if (process.env.FG_FAIR_DEBUG) console.log(`phase 1: ${show(order1)} (big share ${(bigShare * 100).toFixed(1)}%, prefix ${prefix1})\nphase 2: ${show(order2)}`);
  });
});
