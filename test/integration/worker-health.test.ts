/**
 * The gateway's worker health: WorkerPool bookkeeping (room, passive health), the /metrics
 * gauge parser, and the HealthChecker against real servers on 127.0.0.1 port 0: two simulated
 * vLLM workers, a port where nothing listens, a server that accepts and never answers, a server
 * whose /health is flipped by the test, and a worker stopped and started again on its port.
 * Rounds are driven with checkOnce(); nothing waits on the interval.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { WorkerPool, type HealthState, type WorkerSpec } from '../../reference-stack/gateway/worker-pool.ts';
import { HealthChecker, parseWorkerGauges, type WorkerGauges } from '../../reference-stack/gateway/health-checker.ts';

const SIM = { gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 50 } as const;
/** Probe bound: generous for loopback, short enough that the silent server costs little. */
const TIMEOUT_MS = 400;

let w1: SimWorker;
let w2: SimWorker;
/** A port where nothing listens (bound, then closed). */
let deadPort: number;
/** Accepts connections, reads, never answers. */
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
let silentAccepted = 0;
/** /health answers 200 or 503 as `flipHealthy` says; /metrics as `flipMetrics` says. */
let flip: http.Server;
let flipHealthy = true;
let flipMetrics: { status: number; body: string } = { status: 200, body: '' };
const checkers: HealthChecker[] = [];
const extraWorkers: SimWorker[] = [];

function portOf(s: net.Server): number {
  return (s.address() as AddressInfo).port;
}

function listen(s: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
}

before(async () => {
  [w1, w2] = await Promise.all([startSimWorker({ ...SIM, port: 0 }), startSimWorker({ ...SIM, port: 0, seed: 2 })]);
  const probe = net.createServer();
  await listen(probe);
  deadPort = portOf(probe);
  await new Promise<void>((r) => probe.close(() => r()));

  silent = net.createServer((sock) => {
    silentAccepted++;
    silentSockets.add(sock);
    sock.on('close', () => silentSockets.delete(sock));
    sock.on('error', () => {});
    sock.resume();
  });
  await listen(silent);

  flip = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(flipHealthy ? 200 : 503, { 'content-length': 0 });
      res.end();
    } else if (req.url === '/metrics') {
      res.writeHead(flipMetrics.status, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(flipMetrics.body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await listen(flip);
});

after(async () => {
  await Promise.all(checkers.map((c) => c.stop()));
  for (const s of silentSockets) s.destroy();
  await Promise.all([
    w1.close(),
    w2.close(),
    ...extraWorkers.map((w) => w.close()),
    new Promise<void>((r) => silent.close(() => r())),
    new Promise<void>((r) => {
      flip.closeAllConnections();
      flip.close(() => r());
    }),
  ]);
});

function spec(name: string, url: string, maxInFlight = 8): WorkerSpec {
  return { name, url, maxInFlight };
}

function simSpec(name: string, w: SimWorker): WorkerSpec {
  return spec(name, w.url);
}

function checker(pool: WorkerPool, scrapeMetrics = false): HealthChecker {
  const c = new HealthChecker({ pool, intervalMs: 60_000, timeoutMs: TIMEOUT_MS, scrapeMetrics });
  checkers.push(c);
  return c;
}

function byName<T extends { name: string }>(xs: readonly T[]): Record<string, T> {
  return Object.fromEntries(xs.map((x) => [x.name, x]));
}

describe('WorkerPool', () => {
  const specs = [spec('a', 'http://127.0.0.1:1/v1', 2), spec('b', 'http://127.0.0.1:2/v1/', 1)];

  it('derives /health and /metrics from the base URL', () => {
    const pool = new WorkerPool(specs, { failuresToEject: 2, successesToReadmit: 2 });
    const a = pool.get('a')!;
    assert.equal(a.url, 'http://127.0.0.1:1/v1');
    assert.equal(a.healthUrl, 'http://127.0.0.1:1/health');
    assert.equal(a.metricsUrl, 'http://127.0.0.1:1/metrics');
    assert.equal(pool.get('b')!.url, 'http://127.0.0.1:2/v1');
    const custom = new WorkerPool([{ name: 'c', url: 'http://h:1/v1', metricsUrl: 'http://h:9/m', maxInFlight: 1 }], { failuresToEject: 1, successesToReadmit: 1 });
    assert.equal(custom.get('c')!.metricsUrl, 'http://h:9/m');
    assert.throws(() => new WorkerPool([specs[0]!, specs[0]!], { failuresToEject: 1, successesToReadmit: 1 }), TypeError);
  });

  it('counts requests in flight; a full worker is not available; release is idempotent', () => {
    const pool = new WorkerPool(specs, { failuresToEject: 2, successesToReadmit: 2 });
    assert.deepEqual(
      pool.available(['a', 'b']).map((w) => w.name),
      ['a', 'b'],
    );
    const releaseB = pool.acquire('b');
    assert.equal(pool.get('b')!.outstanding, 1);
    assert.deepEqual(
      pool.available(['a', 'b']).map((w) => w.name),
      ['a'],
    );
    releaseB();
    releaseB();
    assert.equal(pool.get('b')!.outstanding, 0);
    pool.acquire('a');
    pool.release('a');
    pool.release('a');
    assert.equal(pool.get('a')!.outstanding, 0);
    // The model's worker list decides membership and order; unknown names are skipped.
    assert.deepEqual(
      pool.available(['b', 'nope', 'a']).map((w) => w.name),
      ['b', 'a'],
    );
    assert.throws(() => pool.acquire('nope'), TypeError);
    assert.equal(pool.markFailure('nope'), undefined);
  });

  it('passive health: request failures eject, successes re-admit, a success breaks a failure streak', () => {
    let t = 1000;
    const transitions: [string, HealthState, HealthState][] = [];
    const pool = new WorkerPool(specs, { failuresToEject: 3, successesToReadmit: 2, now: () => t, onTransition: (w, from, to) => transitions.push([w.name, from, to]) });
    assert.equal(pool.markFailure('a', 'connect refused'), 'healthy');
    assert.equal(pool.markFailure('a'), 'healthy');
    assert.equal(pool.markSuccess('a'), 'healthy');
    assert.equal(pool.get('a')!.consecutiveFailures, 0);
    t = 2000;
    pool.markFailure('a');
    pool.markFailure('a');
    assert.equal(pool.markFailure('a', '502 before first byte'), 'ejected');
    assert.equal(pool.get('a')!.lastFailure, '502 before first byte');
    assert.equal(pool.get('a')!.healthSinceMs, 2000);
    assert.deepEqual(
      pool.available().map((w) => w.name),
      ['b'],
    );
    t = 3000;
    assert.equal(pool.markSuccess('a'), 'ejected');
    assert.equal(pool.markSuccess('a'), 'healthy');
    assert.equal(pool.get('a')!.healthSinceMs, 3000);
    assert.deepEqual(transitions, [
      ['a', 'healthy', 'ejected'],
      ['a', 'ejected', 'healthy'],
    ]);
  });
});

describe('parseWorkerGauges', () => {
  it('reads the two gauges from vLLM-style text, tolerating everything else', () => {
    const text = [
      '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
      '# TYPE vllm:kv_cache_usage_perc gauge',
      'vllm:kv_cache_usage_perc{model_name="m {odd}, \\"quoted\\"",engine="0"} 0.25',
      'vllm:kv_cache_usage_perc{model_name="m",engine="1"} 0.5 1700000000000',
      '  vllm:num_requests_waiting{model_name="m",engine="0"} 3',
      'vllm:num_requests_waiting{model_name="m",engine="1"}\t4',
      'vllm:num_requests_waiting_other 99',
      'vllm:num_requests_running{model_name="m"} 7',
      'vllm:kv_cache_usage_perc{broken 0.9',
      'vllm:num_requests_waiting{model_name="m"} not-a-number',
      'garbage line',
      '',
    ].join('\r\n');
    assert.deepEqual(parseWorkerGauges(text), { kvUsage: 0.5, waiting: 7 });
  });

  it('falls back to the pre-v0.10 gpu_cache_usage_perc and reports missing gauges as undefined', () => {
    assert.deepEqual(parseWorkerGauges('vllm:gpu_cache_usage_perc{model_name="m"} 0.125\n'), { kvUsage: 0.125, waiting: undefined });
    assert.deepEqual(parseWorkerGauges(''), { kvUsage: undefined, waiting: undefined });
  });
});

describe('HealthChecker', () => {
  it('checkOnce marks dead and silent workers, ejects after N failures, and finishes despite the silent server', async () => {
    const pool = new WorkerPool(
      [simSpec('w1', w1), simSpec('w2', w2), spec('dead', `http://127.0.0.1:${deadPort}/v1`), spec('silent', `http://127.0.0.1:${portOf(silent)}/v1`)],
      { failuresToEject: 2, successesToReadmit: 2 },
    );
    const c = checker(pool);
    const acceptedBefore = silentAccepted;

    const r1 = byName(await c.checkOnce());
    assert.equal(r1.w1!.ok, true);
    assert.equal(r1.w1!.status, 200);
    assert.equal(r1.w2!.ok, true);
    assert.equal(r1.dead!.ok, false);
    assert.equal(r1.dead!.failure, 'unreachable');
    assert.equal(r1.silent!.ok, false);
    assert.equal(r1.silent!.failure, 'timeout');
    assert.ok(silentAccepted > acceptedBefore, 'the silent server accepted the probe');
    // One failure is not enough to eject.
    assert.deepEqual(
      pool.available().map((w) => w.name),
      ['w1', 'w2', 'dead', 'silent'],
    );
    assert.equal(pool.get('dead')!.consecutiveFailures, 1);

    const r2 = byName(await c.checkOnce());
    assert.equal(r2.dead!.health, 'ejected');
    assert.equal(r2.silent!.health, 'ejected');
    assert.equal(r2.w1!.health, 'healthy');
    assert.deepEqual(
      pool.available().map((w) => w.name),
      ['w1', 'w2'],
    );
    assert.equal(pool.get('w1')!.consecutiveSuccesses, 2);

    await c.checkOnce();
    assert.equal(pool.get('silent')!.consecutiveFailures, 3);
    assert.match(pool.get('silent')!.lastFailure ?? '', /^timeout/);
  });

  it('re-admits a worker after N consecutive successes once its /health recovers', async () => {
    const transitions: [string, HealthState, HealthState][] = [];
    const pool = new WorkerPool([spec('flip', `http://127.0.0.1:${portOf(flip)}/v1`)], {
      failuresToEject: 2,
      successesToReadmit: 2,
      onTransition: (w, from, to) => transitions.push([w.name, from, to]),
    });
    const c = checker(pool);
    flipHealthy = true;
    assert.equal((await c.checkOnce())[0]!.health, 'healthy');

    flipHealthy = false;
    const down1 = (await c.checkOnce())[0]!;
    assert.equal(down1.failure, 'status');
    assert.equal(down1.status, 503);
    assert.equal(down1.health, 'healthy');
    assert.equal((await c.checkOnce())[0]!.health, 'ejected');
    assert.deepEqual(pool.available(), []);

    flipHealthy = true;
    const up1 = (await c.checkOnce())[0]!;
    assert.equal(up1.ok, true);
    assert.equal(up1.health, 'ejected');
    // A failure in between restarts the streak.
    flipHealthy = false;
    await c.checkOnce();
    flipHealthy = true;
    assert.equal((await c.checkOnce())[0]!.health, 'ejected');
    assert.equal((await c.checkOnce())[0]!.health, 'healthy');
    assert.deepEqual(
      pool.available().map((w) => w.name),
      ['flip'],
    );
    assert.deepEqual(transitions, [
      ['flip', 'healthy', 'ejected'],
      ['flip', 'ejected', 'healthy'],
    ]);
  });

  it('ejects a simulated worker that goes away and re-admits it when it comes back on the same port', async () => {
    let w3 = await startSimWorker({ ...SIM, port: 0, seed: 3 });
    const port = w3.port;
    const pool = new WorkerPool([simSpec('w3', w3)], { failuresToEject: 2, successesToReadmit: 2 });
    const c = checker(pool);
    assert.equal((await c.checkOnce())[0]!.ok, true);

    await w3.close();
    const d1 = (await c.checkOnce())[0]!;
    assert.equal(d1.ok, false);
    assert.equal(d1.health, 'healthy');
    const d2 = (await c.checkOnce())[0]!;
    assert.equal(d2.ok, false);
    assert.equal(d2.health, 'ejected');

    w3 = await startSimWorker({ ...SIM, port, seed: 3 });
    extraWorkers.push(w3);
    // Re-admitted after two successes in a row; bounded rounds, in case a connection from
    // before the restart is noticed dead only by the first probe.
    let rounds = 0;
    while (pool.get('w3')!.health === 'ejected' && rounds < 6) {
      const r = (await c.checkOnce())[0]!;
      rounds++;
      if (r.health === 'healthy') assert.equal(pool.get('w3')!.consecutiveSuccesses, 2);
    }
    assert.equal(pool.get('w3')!.health, 'healthy');
    assert.ok(rounds >= 2, `re-admitted after ${rounds} rounds`);
  });

  it('scrapes KV usage and waiting requests from a real simulated worker while it serves', async () => {
    // Real-time GPU, two sequences at most: long requests stay running, the rest wait.
    const kv = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 1, maxNumSeqs: 2, port: 0 });
    extraWorkers.push(kv);
    let t = 5_000;
    const pool = new WorkerPool([simSpec('kv', kv)], { failuresToEject: 2, successesToReadmit: 2, now: () => t });
    const c = checker(pool, true);

    const idle = (await c.checkOnce())[0]!;
    assert.deepEqual(idle.metrics, { kvUsage: 0, waiting: 0 });
    assert.equal(pool.get('kv')!.scrapedAtMs, 5_000);

    const post = (body: object, signal?: AbortSignal) =>
      fetch(`${kv.url}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: kv.engine.modelName, ...body }), signal: signal ?? null });
    // Served to the end first.
    for (const r of await Promise.all([post({ prompt: 'Hello there', max_tokens: 4 }), post({ prompt: 'General Kenobi', max_tokens: 4 })])) {
      assert.equal(r.status, 200);
      await r.text();
    }

    const ac = new AbortController();
    // Left unread until the end: cancelling a body is a client disconnect, which frees the request.
    const inflight = Array.from({ length: 5 }, (_, i) =>
      post({ prompt: `Tell a very long story number ${i}. `.repeat(40), max_tokens: 4000, ignore_eos: true, stream: true }, ac.signal),
    );

    t = 6_000;
    let seen: WorkerGauges | undefined;
    for (let i = 0; i < 2000; i++) {
      const r = (await c.checkOnce())[0]!;
      assert.equal(r.ok, true);
      seen = r.metrics;
      if (seen !== undefined && (seen.kvUsage ?? 0) > 0 && (seen.waiting ?? 0) >= 1) break;
    }
    assert.ok(seen !== undefined && seen.kvUsage! > 0 && seen.kvUsage! <= 1, `kvUsage ${seen?.kvUsage}`);
    assert.ok(seen.waiting! >= 1 && seen.waiting! <= 3, `waiting ${seen.waiting}`);
    const state = pool.get('kv')!;
    assert.equal(state.kvUsage, seen.kvUsage);
    assert.equal(state.waiting, seen.waiting);
    assert.equal(state.scrapedAtMs, 6_000);

    // Clients go away: the engine frees everything, and the next scrapes say so.
    ac.abort();
    for (const r of await Promise.allSettled(inflight)) if (r.status === 'fulfilled') await r.value.body?.cancel().catch(() => {});
    let last: WorkerGauges | undefined = seen;
    for (let i = 0; i < 2000 && !(last?.kvUsage === 0 && last.waiting === 0); i++) last = (await c.checkOnce())[0]!.metrics;
    assert.deepEqual(last, { kvUsage: 0, waiting: 0 });
  });

  it('a failed scrape keeps the worker healthy but forgets its stale load', async () => {
    const pool = new WorkerPool([spec('flip', `http://127.0.0.1:${portOf(flip)}/v1`)], { failuresToEject: 1, successesToReadmit: 1 });
    const c = checker(pool, true);
    flipHealthy = true;
    flipMetrics = { status: 200, body: '# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine="0"} 0.75\nvllm:num_requests_waiting 2\n' };
    const ok = (await c.checkOnce())[0]!;
    assert.deepEqual(ok.metrics, { kvUsage: 0.75, waiting: 2 });
    assert.equal(pool.get('flip')!.kvUsage, 0.75);

    flipMetrics = { status: 500, body: 'boom' };
    const bad = (await c.checkOnce())[0]!;
    assert.equal(bad.ok, true);
    assert.equal(bad.metricsFailure, 'status');
    assert.equal(bad.health, 'healthy');
    assert.equal(pool.get('flip')!.kvUsage, undefined);
    assert.equal(pool.get('flip')!.scrapedAtMs, undefined);
  });

  it('start() runs rounds on its own; stop() aborts probes in flight without counting them', async () => {
    let onEjected: (name: string) => void = () => {};
    const ejected = new Promise<string>((resolve) => (onEjected = resolve));
    const pool = new WorkerPool([simSpec('w1', w1), spec('dead', `http://127.0.0.1:${deadPort}/v1`)], {
      failuresToEject: 1,
      successesToReadmit: 1,
      onTransition: (w, _from, to) => {
        if (to === 'ejected') onEjected(w.name);
      },
    });
    const c = new HealthChecker({ pool, intervalMs: 60_000, timeoutMs: TIMEOUT_MS });
    checkers.push(c);
    c.start();
    c.start();
    assert.equal(await ejected, 'dead');
    await c.stop();

    const pool2 = new WorkerPool([simSpec('w1', w1), spec('silent', `http://127.0.0.1:${portOf(silent)}/v1`)], { failuresToEject: 1, successesToReadmit: 1 });
    const c2 = new HealthChecker({ pool: pool2, intervalMs: 60_000, timeoutMs: 60_000 });
    checkers.push(c2);
    c2.start();
    // Stopped before any answer: the silent server would hold the probe for a minute.
    await c2.stop();
    for (const w of pool2.all()) {
      assert.equal(w.health, 'healthy');
      assert.equal(w.consecutiveFailures, 0);
      assert.equal(w.consecutiveSuccesses, 0);
    }
  });
});
