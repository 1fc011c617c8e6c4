import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdmissionQueue,
  effectivePriority,
  retryAfterMs,
  type QueuedRequest,
} from '../../reference-stack/gateway/admission-queue.ts';
import { Rng } from '../../harness/workload/rng.ts';

/** A hand-driven clock. */
function clock(startMs = 1000): { now: () => number; t: number; advance(ms: number): void } {
  const c = {
    t: startMs,
    now: () => c.t,
    advance(ms: number) {
      c.t += ms;
    },
  };
  return c;
}

interface Spec {
  id: string;
  tenant?: string;
  weight?: number;
  priority?: number;
  cost?: number;
  deadlineMs?: number;
}

function req(s: Spec): Omit<QueuedRequest<string>, 'enqueuedMs' | 'deadlineMs'> & { deadlineMs?: number } {
  const r: Omit<QueuedRequest<string>, 'enqueuedMs' | 'deadlineMs'> & { deadlineMs?: number } = {
    id: s.id,
    tenant: s.tenant ?? 't',
    weight: s.weight ?? 1,
    priority: s.priority ?? 5,
    cost: s.cost ?? 1,
    payload: `p-${s.id}`,
  };
  if (s.deadlineMs !== undefined) r.deadlineMs = s.deadlineMs;
  return r;
}

function mustEnqueue(q: AdmissionQueue<string>, s: Spec): void {
  const r = q.enqueue(req(s));
  assert.equal(r.ok, true, `enqueue ${s.id}`);
}

function drain(q: AdmissionQueue<string>, n = Number.POSITIVE_INFINITY): QueuedRequest<string>[] {
  const out: QueuedRequest<string>[] = [];
  while (out.length < n) {
    const r = q.dequeue();
    if (r === undefined) break;
    out.push(r);
  }
  return out;
}

describe('AdmissionQueue: order', () => {
  it('serves the most urgent class first, whatever the enqueue order', () => {
    const c = clock();
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 10_000, now: c.now });
    mustEnqueue(q, { id: 'p3', priority: 3 });
    mustEnqueue(q, { id: 'p1', priority: 1 });
    mustEnqueue(q, { id: 'p9', priority: 9 });
    mustEnqueue(q, { id: 'p0', priority: 0 });
    mustEnqueue(q, { id: 'p1b', priority: 1, tenant: 'other' });
    assert.deepEqual(
      drain(q).map((r) => r.id),
      ['p0', 'p1', 'p1b', 'p3', 'p9'],
    );
    assert.equal(q.dequeue(), undefined);
    assert.equal(q.peek(), undefined);
  });

  it('a more urgent arrival overtakes a waiting backlog', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 10_000, now: clock().now });
    for (let i = 0; i < 5; i++) mustEnqueue(q, { id: `low${i}`, priority: 4 });
    assert.equal(q.dequeue()?.id, 'low0');
    mustEnqueue(q, { id: 'urgent', priority: 2 });
    assert.equal(q.peek()?.id, 'urgent');
    assert.equal(q.dequeue()?.id, 'urgent');
    assert.equal(q.dequeue()?.id, 'low1');
  });

  it('is FIFO within a tenant, stamps enqueue time and deadline, and returns the payload', () => {
    const c = clock(5000);
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 2000, now: c.now });
    for (let i = 0; i < 20; i++) {
      mustEnqueue(q, { id: `r${i}`, cost: 1 + (i % 7) });
      c.advance(3);
    }
    const out = drain(q);
    assert.deepEqual(
      out.map((r) => r.id),
      Array.from({ length: 20 }, (_, i) => `r${i}`),
    );
    assert.equal(out[0]!.enqueuedMs, 5000);
    assert.equal(out[0]!.deadlineMs, 7000);
    assert.equal(out[19]!.enqueuedMs, 5057);
    assert.equal(out[7]!.payload, 'p-r7');
  });

  it('peek returns what dequeue then returns, without removing it', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 10_000, now: clock().now });
    for (let i = 0; i < 30; i++) mustEnqueue(q, { id: `a${i}`, tenant: `t${i % 4}`, weight: 1 + (i % 3), cost: 1 + (i % 5), priority: i % 2 });
    while (q.depth > 0) {
      const before = q.depth;
      const p = q.peek();
      assert.equal(q.depth, before);
      assert.equal(q.dequeue(), p);
    }
  });
});

describe('AdmissionQueue: fair share', () => {
  it('a light tenant is interleaved with a heavy backlog, not served after it', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 2000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 1000; i++) mustEnqueue(q, { id: `A${i}`, tenant: 'A' });
    for (let i = 0; i < 10; i++) mustEnqueue(q, { id: `B${i}`, tenant: 'B' });
    const out = drain(q);
    assert.equal(out.length, 1010);
    const lastB = out.map((r) => r.id).lastIndexOf('B9');
    assert.ok(lastB < 21, `B's last request left at dequeue ${lastB + 1}`);
    // FIFO kept for each tenant.
    assert.deepEqual(
      out.filter((r) => r.tenant === 'B').map((r) => r.id),
      Array.from({ length: 10 }, (_, i) => `B${i}`),
    );
    assert.deepEqual(
      out.filter((r) => r.tenant === 'A').map((r) => r.id),
      Array.from({ length: 1000 }, (_, i) => `A${i}`),
    );
  });

  it('weights 3:1 give a 3:1 dispatch ratio over a long backlog', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 10_000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 4000; i++) {
      mustEnqueue(q, { id: `H${i}`, tenant: 'heavy', weight: 3 });
      mustEnqueue(q, { id: `L${i}`, tenant: 'light', weight: 1 });
    }
    const out = drain(q, 4000); // both stay backlogged throughout
    const h = out.filter((r) => r.tenant === 'heavy').length;
    const l = out.filter((r) => r.tenant === 'light').length;
    const ratio = h / l;
    assert.ok(Math.abs(ratio - 3) / 3 < 0.05, `ratio ${ratio} (${h}:${l})`);
    // And in every window of 40 dequeues too, not only on average.
    for (let s = 0; s + 40 <= out.length; s += 40) {
      const hw = out.slice(s, s + 40).filter((r) => r.tenant === 'heavy').length;
      assert.ok(hw >= 29 && hw <= 31, `window at ${s}: ${hw} heavy of 40`);
    }
  });

  it('shares by cost: a tenant with 4x the cost per request gets 1/4 of the requests', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 10_000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 2000; i++) {
      mustEnqueue(q, { id: `big${i}`, tenant: 'big', cost: 4000 });
      mustEnqueue(q, { id: `small${i}`, tenant: 'small', cost: 1000 });
    }
    const out = drain(q, 2000);
    const big = out.filter((r) => r.tenant === 'big');
    const small = out.filter((r) => r.tenant === 'small');
    const ratio = small.length / big.length;
    assert.ok(Math.abs(ratio - 4) / 4 < 0.05, `requests small:big = ${ratio}`);
    const tokens = (rs: QueuedRequest<string>[]) => rs.reduce((s, r) => s + r.cost, 0);
    const tokenRatio = tokens(small) / tokens(big);
    assert.ok(Math.abs(tokenRatio - 1) < 0.05, `tokens small:big = ${tokenRatio}`);
  });

  it('fair share holds per class: tenants compete only within their class', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 1000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 50; i++) mustEnqueue(q, { id: `A1-${i}`, tenant: 'A', priority: 1 });
    for (let i = 0; i < 50; i++) mustEnqueue(q, { id: `B2-${i}`, tenant: 'B', priority: 2 });
    for (let i = 0; i < 5; i++) mustEnqueue(q, { id: `B1-${i}`, tenant: 'B', priority: 1 });
    const first = drain(q, 55);
    assert.ok(first.every((r) => r.priority === 1));
    assert.ok(first.slice(0, 10).filter((r) => r.tenant === 'B').length === 5);
  });

  it('is work-conserving: an idle tenant\'s share goes to the backlogged one', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 1000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 10; i++) mustEnqueue(q, { id: `A${i}`, tenant: 'A', weight: 1 });
    mustEnqueue(q, { id: 'B0', tenant: 'B', weight: 100 });
    // B (weight 100) is idle after one request; A must still get every remaining dispatch.
    const out = drain(q);
    assert.equal(out.length, 11);
    assert.equal(q.depth, 0);
  });

  it('an idle tenant that comes back gets its share, not a burst for the time it was away', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 5000, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 1000; i++) mustEnqueue(q, { id: `A${i}`, tenant: 'A' });
    mustEnqueue(q, { id: 'B-early', tenant: 'B' });
    // B is served once, then is idle while A is served alone for a long time.
    const early = drain(q, 400);
    assert.equal(early.filter((r) => r.tenant === 'B').length, 1);
    for (let i = 0; i < 100; i++) mustEnqueue(q, { id: `B${i}`, tenant: 'B' });
    const next = drain(q, 40);
    const b = next.filter((r) => r.tenant === 'B').length;
    // Equal weights: about half, never the burst of 40 that credit for ~400 idle dispatches would give.
    assert.ok(b >= 19 && b <= 21, `B got ${b} of the next 40`);
    for (let s = 0; s + 4 <= next.length; s += 4) {
      const bw = next.slice(s, s + 4).filter((r) => r.tenant === 'B').length;
      assert.equal(bw, 2, `window at ${s}`);
    }
  });

  it('a tenant that just used its share does not go first again after a short gap', () => {
    // B is charged for a large request; when it returns soon after, A (not yet served that much)
    // comes first.
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 60_000, now: clock().now });
    for (let i = 0; i < 20; i++) mustEnqueue(q, { id: `A${i}`, tenant: 'A', cost: 1 });
    mustEnqueue(q, { id: 'Bbig', tenant: 'B', cost: 10 });
    const first = drain(q, 2);
    assert.deepEqual(
      first.map((r) => r.id),
      ['A0', 'Bbig'],
    );
    mustEnqueue(q, { id: 'B1', tenant: 'B', cost: 1 });
    const next = drain(q, 10).map((r) => r.id);
    // B's finish tag is 10; A's run from 1 to 10 goes first (ties to the earlier enqueue).
    assert.deepEqual(next, ['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9', 'A10']);
    assert.equal(q.dequeue()?.id, 'B1');
  });

  it('a removed or expired request is not charged to its tenant', () => {
    const c = clock();
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 60_000, now: c.now });
    for (let i = 0; i < 10; i++) mustEnqueue(q, { id: `A${i}`, tenant: 'A' });
    mustEnqueue(q, { id: 'Bhuge', tenant: 'B', cost: 1000 });
    mustEnqueue(q, { id: 'Bshort', tenant: 'B', cost: 1000, deadlineMs: c.t + 5 });
    mustEnqueue(q, { id: 'B1', tenant: 'B', cost: 1 });
    assert.equal(q.remove('Bhuge'), true);
    c.advance(5);
    assert.deepEqual(
      q.expire(c.t).map((r) => r.id),
      ['Bshort'],
    );
    // B1 is now B's head with B's original start tag: it interleaves with A immediately.
    const out = drain(q, 3).map((r) => r.id);
    assert.ok(out.includes('B1'), out.join(','));
  });
});

describe('AdmissionQueue: bounds, timeouts, removal', () => {
  it('a full queue refuses with queue_full and a positive retry-after', () => {
    const c = clock();
    const q = new AdmissionQueue<string>({ maxDepth: 3, timeoutMs: 30_000, now: c.now });
    for (let i = 0; i < 3; i++) assert.deepEqual(q.enqueue(req({ id: `r${i}` })), { ok: true, depth: i + 1 });
    const full = q.enqueue(req({ id: 'r3' }));
    assert.equal(full.ok, false);
    assert.ok(!full.ok && full.code === 'queue_full' && full.retryAfterMs > 0);
    // Nothing dequeued yet: no rate; a place frees at the latest when r0's deadline passes.
    assert.ok(!full.ok && full.retryAfterMs === 30_000, JSON.stringify(full));
    assert.equal(q.depth, 3);
    assert.equal(q.has('r3'), false);
    // After a dequeue there is room again.
    q.dequeue();
    assert.deepEqual(q.enqueue(req({ id: 'r3' })), { ok: true, depth: 3 });
  });

  it('retry-after follows the recent dequeue rate: depth / rate', () => {
    const c = clock(0);
    const q = new AdmissionQueue<string>({ maxDepth: 20, timeoutMs: 60_000, now: c.now });
    for (let i = 0; i < 20; i++) mustEnqueue(q, { id: `w${i}` });
    // 10 dequeues over 1 s: 10/s measured over the 1 s since creation.
    for (let i = 0; i < 10; i++) {
      c.advance(100);
      q.dequeue();
      mustEnqueue(q, { id: `x${i}` });
    }
    assert.equal(q.dequeueRatePerS(), 10);
    const full = q.enqueue(req({ id: 'late' }));
    assert.ok(!full.ok);
    // 20 waiting at 10/s: 2 s.
    assert.equal(full.retryAfterMs, 2000);
    // Dequeues stop: the rate decays over the window, retry-after grows.
    c.advance(9000);
    assert.equal(q.dequeueRatePerS(), 1);
    const later = q.enqueue(req({ id: 'later' }));
    assert.ok(!later.ok && later.retryAfterMs === 20_000, JSON.stringify(later));
    // Past the window nothing is known: bounded by the time until the earliest deadline.
    c.advance(20_000);
    assert.equal(q.dequeueRatePerS(), 0);
    const stalled = q.enqueue(req({ id: 'stalled' }));
    // w10 enqueued at 0 has deadline 60 000; now is 30 000.
    assert.ok(!stalled.ok && stalled.retryAfterMs === 30_000, JSON.stringify(stalled));
  });

  it('measures high rates over the retained samples', () => {
    const c = clock(0);
    const q = new AdmissionQueue<string>({ maxDepth: 10_000, timeoutMs: 60_000, now: c.now });
    for (let i = 0; i < 3000; i++) mustEnqueue(q, { id: `r${i}` });
    for (let i = 0; i < 3000; i++) {
      c.advance(1);
      q.dequeue();
    }
    assert.equal(q.dequeueRatePerS(), 1000);
  });

  it('retryAfterMs: the formula, its floor and ceiling', () => {
    assert.equal(retryAfterMs({ depth: 50, dequeueRatePerS: 10 }), 5000);
    assert.equal(retryAfterMs({ depth: 50, dequeueRatePerS: 10, msUntilSlotFrees: 1234.5 }), 1235);
    assert.equal(retryAfterMs({ depth: 1, dequeueRatePerS: 1000 }), 1000); // floor
    assert.equal(retryAfterMs({ depth: 1, dequeueRatePerS: 1000, minMs: 10 }), 10);
    assert.equal(retryAfterMs({ depth: 10_000, dequeueRatePerS: 1 }), 60_000); // ceiling
    assert.equal(retryAfterMs({ depth: 5, dequeueRatePerS: 0 }), 60_000); // unknown
    assert.equal(retryAfterMs({ depth: 5, dequeueRatePerS: 0, maxMs: 30_000 }), 30_000);
    assert.equal(retryAfterMs({ depth: 0, dequeueRatePerS: 0, msUntilSlotFrees: -5 }), 1000);
  });

  it('maxDepth 0 refuses everything', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 0, timeoutMs: 1000, now: clock().now });
    const r = q.enqueue(req({ id: 'x' }));
    assert.ok(!r.ok && r.retryAfterMs > 0);
    assert.equal(q.depth, 0);
  });

  it('expire removes requests past their deadline, oldest first, and returns them', () => {
    const c = clock(0);
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 1000, now: c.now });
    mustEnqueue(q, { id: 'a', tenant: 'A', priority: 3 }); // deadline 1000
    c.advance(100);
    mustEnqueue(q, { id: 'b', tenant: 'B', priority: 1 }); // deadline 1100
    c.advance(100);
    mustEnqueue(q, { id: 'c', tenant: 'A', priority: 3, deadlineMs: 500 }); // client's own, earlier
    mustEnqueue(q, { id: 'd', tenant: 'C', priority: 3, deadlineMs: 99_999 }); // capped at 1200
    c.advance(100);
    mustEnqueue(q, { id: 'e', tenant: 'A', priority: 3 }); // deadline 1300
    assert.deepEqual(q.expire(499), []);
    assert.deepEqual(
      q.expire(500).map((r) => r.id),
      ['c'],
    );
    assert.equal(q.depth, 4);
    const out = q.expire(1200);
    assert.deepEqual(
      out.map((r) => r.id),
      ['a', 'b', 'd'],
    );
    assert.deepEqual(
      out.map((r) => r.deadlineMs),
      [1000, 1100, 1200],
    );
    assert.equal(q.depth, 1);
    assert.equal(q.has('a'), false);
    assert.equal(q.remove('a'), false);
    assert.equal(q.dequeue()?.id, 'e');
    assert.deepEqual(q.expire(1e9), []);
  });

  it('expire returns requests oldest first even when deadlines run in another order', () => {
    const c = clock(0);
    const q = new AdmissionQueue<string>({ maxDepth: 100, timeoutMs: 10_000, now: c.now });
    for (let i = 0; i < 10; i++) {
      mustEnqueue(q, { id: `r${i}`, deadlineMs: 1000 - i * 10, tenant: `t${i % 3}`, priority: i % 4 });
      c.advance(1);
    }
    assert.deepEqual(
      q.expire(2000).map((r) => r.id),
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    assert.equal(q.depth, 0);
  });

  it('remove takes a waiting request out; dequeue never returns it', () => {
    const q = new AdmissionQueue<string>({ maxDepth: 10, timeoutMs: 10_000, now: clock().now });
    mustEnqueue(q, { id: 'a' });
    mustEnqueue(q, { id: 'b' });
    mustEnqueue(q, { id: 'c' });
    assert.equal(q.remove('b'), true);
    assert.equal(q.remove('b'), false);
    assert.equal(q.remove('nope'), false);
    assert.equal(q.depth, 2);
    assert.equal(q.remove('a'), true);
    assert.equal(q.peek()?.id, 'c');
    assert.deepEqual(
      drain(q).map((r) => r.id),
      ['c'],
    );
    // The id can be used again once it left.
    mustEnqueue(q, { id: 'b' });
    assert.equal(q.depth, 1);
  });

  it('oldestWaitMs is the wait of the longest-waiting request', () => {
    const c = clock(0);
    const q = new AdmissionQueue<string>({ maxDepth: 10, timeoutMs: 10_000, now: c.now });
    assert.equal(q.oldestWaitMs(50), 0);
    mustEnqueue(q, { id: 'a', priority: 5 });
    c.advance(30);
    mustEnqueue(q, { id: 'b', priority: 0 });
    assert.equal(q.oldestWaitMs(100), 100);
    q.dequeue(); // b, the more urgent
    assert.equal(q.oldestWaitMs(100), 100);
    q.dequeue(); // a
    assert.equal(q.oldestWaitMs(100), 0);
  });

  it('rejects malformed requests, duplicate ids and bad options with a RangeError naming each problem', () => {
    assert.throws(() => new AdmissionQueue({ maxDepth: -1, timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /maxDepth/);
      assert.match(e.message, /timeoutMs/);
      return true;
    });
    const q = new AdmissionQueue<string>({ maxDepth: 10, timeoutMs: 1000, now: clock().now });
    mustEnqueue(q, { id: 'a' });
    assert.throws(() => q.enqueue(req({ id: 'a' })), RangeError);
    assert.throws(() => q.enqueue(req({ id: 'x', priority: 10, weight: 0, cost: -1 })), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /priority/);
      assert.match(e.message, /weight/);
      assert.match(e.message, /cost/);
      return true;
    });
    assert.throws(() => q.enqueue(req({ id: 'y', priority: 1.5 })), RangeError);
    assert.equal(q.depth, 1);
  });
});

describe('effectivePriority', () => {
  const tenant = { defaultPriority: 5, maxPriority: 2 };
  it('uses the tenant default when the request asks for none', () => {
    assert.equal(effectivePriority(undefined, tenant), 5);
    assert.equal(effectivePriority(Number.NaN, tenant), 5);
  });
  it('grants what is asked within the cap, never more urgent than maxPriority', () => {
    assert.equal(effectivePriority(3, tenant), 3);
    assert.equal(effectivePriority(2, tenant), 2);
    assert.equal(effectivePriority(0, tenant), 2);
    assert.equal(effectivePriority(8, tenant), 8); // less urgent than default is allowed
  });
  it('clamps to 0..9 and rounds to a class', () => {
    assert.equal(effectivePriority(42, tenant), 9);
    assert.equal(effectivePriority(-3, { defaultPriority: 0, maxPriority: 0 }), 0);
    assert.equal(effectivePriority(undefined, { defaultPriority: 12, maxPriority: 0 }), 9);
    assert.equal(effectivePriority(3.4, tenant), 3);
    assert.equal(effectivePriority(undefined, { defaultPriority: 1, maxPriority: 3 }), 3); // default capped too
  });
});

describe('AdmissionQueue: invariants under a random sequence of operations', () => {
  interface ModelReq {
    id: string;
    tenant: string;
    priority: number;
    enqueuedMs: number;
    deadlineMs: number;
    seq: number;
  }

  for (const seed of [1, 7, 2024]) {
    it(`seed ${seed}: depth accounting, priority, per-tenant FIFO, expiry and removal stay consistent`, () => {
      const rng = new Rng(seed);
      const c = clock(0);
      const maxDepth = 60;
      const timeoutMs = 500;
      const q = new AdmissionQueue<string>({ maxDepth, timeoutMs, now: c.now });
      const model = new Map<string, ModelReq>();
      const tenants = ['a', 'b', 'c', 'd', 'e'];
      const weights: Record<string, number> = { a: 1, b: 2, c: 3, d: 0.5, e: 10 };
      let nextId = 0;
      let seq = 0;
      let dequeued = 0;

      const check = (where: string): void => {
        assert.equal(q.depth, model.size, `${where}: depth`);
        const byP = new Map<number, number>();
        const byT = new Map<string, number>();
        let oldest = Number.POSITIVE_INFINITY;
        for (const m of model.values()) {
          byP.set(m.priority, (byP.get(m.priority) ?? 0) + 1);
          byT.set(m.tenant, (byT.get(m.tenant) ?? 0) + 1);
          oldest = Math.min(oldest, m.enqueuedMs);
        }
        assert.deepEqual(new Map([...q.depthByPriority()].sort((x, y) => x[0] - y[0])), new Map([...byP].sort((x, y) => x[0] - y[0])), `${where}: byPriority`);
        assert.deepEqual(new Map([...q.depthByTenant()].sort()), new Map([...byT].sort()), `${where}: byTenant`);
        assert.equal(q.oldestWaitMs(c.t), model.size === 0 ? 0 : c.t - oldest, `${where}: oldestWait`);
        for (const id of model.keys()) assert.ok(q.has(id), `${where}: has ${id}`);
      };

      for (let step = 0; step < 4000; step++) {
        const op = rng.next();
        const where = `step ${step}`;
        if (op < 0.45) {
          const id = `r${nextId++}`;
          const tenant = tenants[rng.int(0, tenants.length - 1)]!;
          const priority = rng.int(0, 3);
          const own = rng.next() < 0.2 ? c.t + rng.int(0, 800) : undefined;
          const spec: Spec = { id, tenant, priority, weight: weights[tenant]!, cost: rng.int(1, 50) };
          if (own !== undefined) spec.deadlineMs = own;
          const r = q.enqueue(req(spec));
          if (model.size >= maxDepth) {
            assert.ok(!r.ok && r.code === 'queue_full' && r.retryAfterMs > 0, `${where}: full`);
          } else {
            assert.deepEqual(r, { ok: true, depth: model.size + 1 }, `${where}: enqueue`);
            model.set(id, { id, tenant, priority, enqueuedMs: c.t, deadlineMs: Math.min(own ?? Infinity, c.t + timeoutMs), seq: seq++ });
          }
        } else if (op < 0.8) {
          const peeked = q.peek();
          const r = q.dequeue();
          assert.equal(r, peeked, `${where}: peek = dequeue`);
          if (model.size === 0) {
            assert.equal(r, undefined);
          } else {
            assert.ok(r !== undefined, `${where}: dequeue returned nothing`);
            const m = model.get(r.id);
            assert.ok(m !== undefined, `${where}: dequeued unknown ${r.id}`);
            const minP = Math.min(...[...model.values()].map((x) => x.priority));
            assert.equal(r.priority, minP, `${where}: most urgent class`);
            const firstOfTenant = [...model.values()].filter((x) => x.tenant === r.tenant && x.priority === r.priority).sort((x, y) => x.seq - y.seq)[0]!;
            assert.equal(r.id, firstOfTenant.id, `${where}: FIFO within tenant`);
            assert.equal(r.deadlineMs, m.deadlineMs);
            assert.equal(r.enqueuedMs, m.enqueuedMs);
            model.delete(r.id);
            dequeued++;
          }
        } else if (op < 0.88) {
          const ids = [...model.keys()];
          const pickReal = ids.length > 0 && rng.next() < 0.8;
          const id = pickReal ? ids[rng.int(0, ids.length - 1)]! : `gone${rng.int(0, 1000)}`;
          assert.equal(q.remove(id), pickReal, `${where}: remove ${id}`);
          model.delete(id);
        } else if (op < 0.96) {
          c.advance(rng.int(0, 60));
        } else {
          const out = q.expire(c.t);
          const want = [...model.values()].filter((m) => m.deadlineMs <= c.t).sort((x, y) => x.enqueuedMs - y.enqueuedMs || x.seq - y.seq);
          assert.deepEqual(
            out.map((r) => r.id),
            want.map((m) => m.id),
            `${where}: expire`,
          );
          for (const m of want) model.delete(m.id);
          for (const m of model.values()) assert.ok(m.deadlineMs > c.t);
        }
        check(where);
      }
      assert.ok(dequeued > 500, `exercised dequeue ${dequeued} times`);
    });
  }
});
