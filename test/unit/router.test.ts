/**
 * The gateway's routing policies on hand-made worker states: round robin cycles, least
 * outstanding (ties in turn), kv_aware (KV usage and queue, fallback before a scrape),
 * prefix_affinity (stickiness, bounded-load spill of a hot prefix, spread of distinct prefixes,
 * consistency when a worker leaves), exclusions and empty candidate sets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { boundedLoadCapacity, createRouter, kvScore } from '../../reference-stack/gateway/router.ts';
import type { WorkerState } from '../../reference-stack/gateway/worker-pool.ts';
import type { RoutingPolicy } from '../../reference-stack/stack/stack-types.ts';

type Mutable = { -readonly [K in keyof WorkerState]: WorkerState[K] };

function worker(name: string, over: Partial<Mutable> = {}): Mutable {
  return {
    name,
    url: `http://${name}.invalid/v1`,
    healthUrl: `http://${name}.invalid/health`,
    metricsUrl: `http://${name}.invalid/metrics`,
    maxInFlight: 100,
    outstanding: 0,
    health: 'healthy',
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    kvUsage: undefined,
    waiting: undefined,
    scrapedAtMs: undefined,
    healthSinceMs: 0,
    lastFailure: undefined,
    ...over,
  };
}

function names(ws: readonly (WorkerState | undefined)[]): (string | undefined)[] {
  return ws.map((w) => w?.name);
}

/** Seeded xorshift32 for reproducible interleavings. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

const POLICIES: RoutingPolicy[] = ['round_robin', 'least_outstanding', 'kv_aware', 'prefix_affinity'];

describe('every policy', () => {
  for (const policy of POLICIES) {
    it(`${policy}: no candidates -> undefined; all excluded -> undefined`, () => {
      const r = createRouter(policy);
      assert.equal(r.policy, policy);
      assert.equal(r.pick([], { promptPrefixKey: 'k' }), undefined);
      const ws = [worker('a'), worker('b')];
      assert.equal(r.pick(ws, { promptPrefixKey: 'k', excluded: new Set(['a', 'b']) }), undefined);
    });

    it(`${policy}: never picks an excluded worker`, () => {
      const r = createRouter(policy);
      const ws = [worker('a', { kvUsage: 0, waiting: 0 }), worker('b', { kvUsage: 0.5, waiting: 3 }), worker('c', { kvUsage: 0.9, waiting: 9 })];
      for (let i = 0; i < 50; i++) {
        const w = r.pick(ws, { promptPrefixKey: `p${i}`, excluded: new Set(['a']) });
        assert.ok(w !== undefined && w.name !== 'a', `pick ${i}: ${w?.name}`);
        const w2 = r.pick(ws, { promptPrefixKey: `p${i}`, excluded: new Set(['a', 'c']) });
        assert.equal(w2?.name, 'b');
      }
    });
  }
});

describe('round_robin', () => {
  it('cycles through the candidates in order', () => {
    const r = createRouter('round_robin');
    const ws = [worker('a'), worker('b'), worker('c')];
    assert.deepEqual(names(Array.from({ length: 7 }, () => r.pick(ws))), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('ignores load', () => {
    const r = createRouter('round_robin');
    const ws = [worker('a', { outstanding: 50 }), worker('b')];
    assert.deepEqual(names([r.pick(ws), r.pick(ws), r.pick(ws), r.pick(ws)]), ['a', 'b', 'a', 'b']);
  });
});

describe('least_outstanding', () => {
  it('picks the worker with the fewest requests in flight', () => {
    const r = createRouter('least_outstanding');
    const ws = [worker('a', { outstanding: 5 }), worker('b', { outstanding: 2 }), worker('c', { outstanding: 9 })];
    assert.equal(r.pick(ws)?.name, 'b');
  });

  it('breaks ties round-robin', () => {
    const r = createRouter('least_outstanding');
    const ws = [worker('a', { outstanding: 1 }), worker('b', { outstanding: 1 }), worker('c', { outstanding: 4 }), worker('d', { outstanding: 1 })];
    assert.deepEqual(names(Array.from({ length: 6 }, () => r.pick(ws))), ['a', 'b', 'd', 'a', 'b', 'd']);
  });

  it('balances a stream of requests that stay in flight', () => {
    const r = createRouter('least_outstanding');
    const ws = [worker('a'), worker('b'), worker('c')];
    for (let i = 0; i < 300; i++) {
      const w = r.pick(ws) as Mutable;
      w.outstanding++;
    }
    assert.deepEqual(
      ws.map((w) => w.outstanding),
      [100, 100, 100],
    );
  });
});

describe('kv_aware', () => {
  it('prefers low KV-cache usage', () => {
    const r = createRouter('kv_aware');
    const ws = [worker('a', { kvUsage: 0.8, waiting: 0 }), worker('b', { kvUsage: 0.1, waiting: 0 }), worker('c', { kvUsage: 0.5, waiting: 0 })];
    assert.equal(r.pick(ws)?.name, 'b');
  });

  it('prefers few waiting requests', () => {
    const r = createRouter('kv_aware');
    const ws = [worker('a', { kvUsage: 0.3, waiting: 40 }), worker('b', { kvUsage: 0.3, waiting: 2 }), worker('c', { kvUsage: 0.3, waiting: 10 })];
    assert.equal(r.pick(ws)?.name, 'b');
  });

  it('weighs KV usage against the queue in units of the worker room', () => {
    // a: 0.2 + 50/100 = 0.7; b: 0.6 + 0/100 = 0.6
    const a = worker('a', { kvUsage: 0.2, waiting: 50 });
    const b = worker('b', { kvUsage: 0.6, waiting: 0 });
    assert.ok(Math.abs(kvScore(a)! - 0.7) < 1e-12);
    assert.ok(Math.abs(kvScore(b)! - 0.6) < 1e-12);
    assert.equal(createRouter('kv_aware').pick([a, b])?.name, 'b');
  });

  it("counts the gateway's own in-flight requests, so a burst between scrapes spreads", () => {
    const r = createRouter('kv_aware');
    const ws = [worker('a', { kvUsage: 0.1, waiting: 0, maxInFlight: 10 }), worker('b', { kvUsage: 0.3, waiting: 0, maxInFlight: 10 })];
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const w = r.pick(ws) as Mutable;
      w.outstanding++;
      picks.push(w.name);
    }
    // a scores 0.1 + n/10; b 0.3 + m/10: a takes the first two, then they alternate.
    assert.deepEqual(picks.slice(0, 2), ['a', 'a']);
    assert.ok(picks.includes('b'));
    assert.ok(Math.abs(ws[0]!.outstanding - ws[1]!.outstanding) <= 2);
  });

  it('falls back to least_outstanding until every candidate has a scrape', () => {
    const r = createRouter('kv_aware');
    const ws = [worker('a', { outstanding: 3, kvUsage: 0 }), worker('b', { outstanding: 1 }), worker('c', { outstanding: 2, kvUsage: 0 })];
    assert.equal(kvScore(ws[1]!), undefined);
    assert.equal(r.pick(ws)?.name, 'b');
    const none = [worker('x', { outstanding: 4 }), worker('y', { outstanding: 0 })];
    assert.equal(r.pick(none)?.name, 'y');
  });

  it('breaks score ties round-robin', () => {
    const r = createRouter('kv_aware');
    const ws = [worker('a', { kvUsage: 0.2, waiting: 0 }), worker('b', { kvUsage: 0.2, waiting: 0 })];
    assert.deepEqual(names([r.pick(ws), r.pick(ws), r.pick(ws)]), ['a', 'b', 'a']);
  });
});

describe('prefix_affinity', () => {
  const fourWorkers = () => [worker('w0', { maxInFlight: 10_000 }), worker('w1', { maxInFlight: 10_000 }), worker('w2', { maxInFlight: 10_000 }), worker('w3', { maxInFlight: 10_000 })];

  it('sends the same prefix to the same worker while load allows', () => {
    const r = createRouter('prefix_affinity', { prefixAffinity: { loadFactor: 1.25 } });
    const ws = fourWorkers();
    for (const w of ws) w.outstanding = 3;
    const first = r.pick(ws, { promptPrefixKey: 'system: you are a helpful assistant' })!;
    for (let i = 0; i < 50; i++) {
      // Served one at a time: acquired, then released.
      const w = r.pick(ws, { promptPrefixKey: 'system: you are a helpful assistant' }) as Mutable;
      assert.equal(w.name, first.name);
      w.outstanding++;
      w.outstanding--;
    }
    // Candidate order does not matter.
    assert.equal(r.pick([...ws].reverse(), { promptPrefixKey: 'system: you are a helpful assistant' })?.name, first.name);
    // Another router instance agrees (the ring is a pure function of the names).
    assert.equal(createRouter('prefix_affinity').pick(ws, { promptPrefixKey: 'system: you are a helpful assistant' })?.name, first.name);
  });

  it('spills a hot prefix once the bounded load bites: 1,000 requests never put more than ceil(1.25 x avg + 1) on one worker', () => {
    const loadFactor = 1.25;
    const r = createRouter('prefix_affinity', { prefixAffinity: { loadFactor } });
    const ws = fourWorkers();
    const home = r.pick(ws, { promptPrefixKey: 'hot' })!.name;
    for (let i = 0; i < 1000; i++) {
      const avg = ws.reduce((s, w) => s + w.outstanding, 0) / ws.length;
      const w = r.pick(ws, { promptPrefixKey: 'hot' }) as Mutable;
      assert.ok(w.outstanding < boundedLoadCapacity(loadFactor, avg), `request ${i}: ${w.name} had ${w.outstanding}, avg ${avg}`);
      w.outstanding++;
      const after = ws.reduce((s, x) => s + x.outstanding, 0) / ws.length;
      for (const x of ws) assert.ok(x.outstanding <= Math.ceil(loadFactor * after + 1), `request ${i}: ${x.name} holds ${x.outstanding}, avg ${after}`);
    }
    const loads = ws.map((w) => w.outstanding);
    assert.equal(
      loads.reduce((s, n) => s + n, 0),
      1000,
    );
    assert.ok(Math.max(...loads) <= Math.ceil(1.25 * 250 + 1), `loads ${loads}`);
    // The hot prefix's home worker is the fullest: it is served first until the bound bites.
    assert.equal(ws.find((w) => w.name === home)!.outstanding, Math.max(...loads));
    assert.ok(loads.every((n) => n > 0), `every worker took a share: ${loads}`);
  });

  it('keeps the bound with requests finishing in between (seeded interleaving)', () => {
    const r = createRouter('prefix_affinity', { prefixAffinity: { loadFactor: 1.25 } });
    const ws = fourWorkers();
    const rand = rng(42);
    for (let i = 0; i < 5000; i++) {
      if (rand() < 0.45) {
        const busy = ws.filter((w) => w.outstanding > 0);
        const w = busy[Math.floor(rand() * busy.length)];
        if (w !== undefined) w.outstanding--;
        continue;
      }
      const avg = ws.reduce((s, w) => s + w.outstanding, 0) / ws.length;
      const w = r.pick(ws, { promptPrefixKey: rand() < 0.8 ? 'hot' : `cold-${i}` }) as Mutable;
      assert.ok(w.outstanding < boundedLoadCapacity(1.25, avg));
      w.outstanding++;
    }
  });

  it('spreads different prefixes across workers', () => {
    const r = createRouter('prefix_affinity');
    const ws = fourWorkers();
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      // No load: pure consistent hashing.
      const w = r.pick(ws, { promptPrefixKey: `tenant-${i % 37} conversation ${i}` })!;
      counts.set(w.name, (counts.get(w.name) ?? 0) + 1);
    }
    assert.equal(counts.size, 4);
    for (const [name, n] of counts) assert.ok(n > 2000 * 0.15 && n < 2000 * 0.35, `${name}: ${n} of 2000`);
  });

  it('moves only the keys of a worker that leaves (consistent hashing)', () => {
    const r = createRouter('prefix_affinity');
    const ws = fourWorkers();
    const without = ws.filter((w) => w.name !== 'w2');
    let moved = 0;
    for (let i = 0; i < 1000; i++) {
      const key = `prefix ${i}`;
      const before = r.pick(ws, { promptPrefixKey: key })!.name;
      const after = r.pick(without, { promptPrefixKey: key })!.name;
      if (before !== 'w2') assert.equal(after, before, key);
      else moved++;
    }
    assert.ok(moved > 0);
  });

  it('a retry that excludes the home worker goes to the next one on the ring, the same every time', () => {
    const r = createRouter('prefix_affinity');
    const ws = fourWorkers();
    const home = r.pick(ws, { promptPrefixKey: 'abc' })!.name;
    const next = r.pick(ws, { promptPrefixKey: 'abc', excluded: new Set([home]) })!.name;
    assert.notEqual(next, home);
    for (let i = 0; i < 10; i++) assert.equal(r.pick(ws, { promptPrefixKey: 'abc', excluded: new Set([home]) })?.name, next);
  });

  it('without a prefix key, picks the least loaded worker', () => {
    const r = createRouter('prefix_affinity');
    const ws = [worker('a', { outstanding: 4 }), worker('b', { outstanding: 1 }), worker('c', { outstanding: 2 })];
    assert.equal(r.pick(ws)?.name, 'b');
  });
});
