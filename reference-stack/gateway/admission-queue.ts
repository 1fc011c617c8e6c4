/**
 * The gateway's admission queue for one model: bounded, strict priority classes, weighted fair
 * share between tenants inside a class, per-request deadlines. Pure logic: no timers, no I/O.
 * The caller owns time: it injects the clock (`now`, used to stamp enqueues and dequeues) and
 * calls {@link AdmissionQueue.expire} with that same clock's reading to time out waiting
 * requests (503/504 are the caller's to send), and {@link AdmissionQueue.dequeue} whenever a
 * worker has room.
 *
 * Order of service:
 * 1. Strict priority: the most urgent (lowest-numbered, 0..9) non-empty class is always served
 *    first. Lower classes can starve under sustained load by design; their deadline bounds it.
 * 2. Inside a class, start-time fair queueing (SFQ; Goyal, Vin & Cheng, 1996) over one FIFO
 *    sub-queue ("flow") per tenant. Each class has a virtual time V; each flow f a finish tag F_f.
 *    Tags are computed lazily, for the head of each flow only:
 *      - a flow that becomes backlogged (was empty) gets head start tag S = max(V, F_f), so an
 *        idle tenant cannot bank credit: it re-enters at the class's current virtual time;
 *      - dequeue takes the flow with the smallest head S (ties: the head enqueued first),
 *        sets V = S and F_f = S + cost / weight; if the flow still has requests its next head
 *        gets S = F_f (continuously backlogged);
 *      - when the class empties (end of a busy period) V = max finish tag served, and all flow
 *        state is dropped.
 *    So a tenant receives cost-weighted service in proportion to its weight while backlogged
 *    (in tokens when cost is prompt+max tokens, in requests when cost is 1), and the discipline
 *    is work-conserving: an idle tenant's share goes to whoever is backlogged.
 *    A request removed or expired before service is never charged: tags belong to flow heads,
 *    not to requests, so removal needs no re-tagging.
 * 3. FIFO within a tenant (and class).
 *
 * Complexity: enqueue O(log n) (deadline heap), dequeue O(tenants in the class), remove O(1)
 * (lazy deletion from the deadline heap), expire O(k log n) for k expired.
 */

/** The least urgent priority class; 0 is the most urgent. */
export const LEAST_URGENT_PRIORITY = 9;

/** A request waiting for a worker. */
export interface QueuedRequest<T> {
  /** Unique among the requests in this queue. */
  id: string;
  tenant: string;
  /** The tenant's weight in the fair share of its class; > 0. */
  weight: number;
  /** Priority class, an integer 0..9; 0 = most urgent. */
  priority: number;
  /** Work the request stands for (e.g. prompt + max tokens; 1 for request-count fairness); > 0. */
  cost: number;
  /** Clock reading (the queue's clock, ms) when it was enqueued. */
  enqueuedMs: number;
  /** Clock reading (ms) from which it counts as timed out. */
  deadlineMs: number;
  payload: T;
}

export type EnqueueResult = { ok: true; depth: number } | { ok: false; code: 'queue_full'; retryAfterMs: number };

export interface AdmissionQueueOptions {
  /** Requests waiting at most (all classes together); an integer >= 0. */
  maxDepth: number;
  /** Longest wait in the queue, ms; > 0. A request's deadline is at most enqueuedMs + timeoutMs. */
  timeoutMs: number;
  /** Monotonic clock in ms; default `performance.now()`. expire()/oldestWaitMs() take its readings. */
  now?: () => number;
  /** Window over which the dequeue rate is measured, ms; default 10 000. */
  rateWindowMs?: number;
}

interface Node<T> {
  readonly req: QueuedRequest<T>;
  /** Enqueue order, for FIFO tie-breaks. */
  readonly seq: number;
  readonly flow: Flow<T>;
  removed: boolean;
  /** Links in the tenant's FIFO (within its class). */
  fPrev: Node<T> | undefined;
  fNext: Node<T> | undefined;
  /** Links in the queue-wide enqueue-order list (oldest first). */
  gPrev: Node<T> | undefined;
  gNext: Node<T> | undefined;
}

interface Flow<T> {
  readonly tenant: string;
  readonly cls: PriorityClass<T>;
  head: Node<T> | undefined;
  tail: Node<T> | undefined;
  size: number;
  /** Virtual finish tag of the last request served from this flow. */
  finishTag: number;
  /** Virtual start tag of the current head; meaningful only while size > 0. */
  headStart: number;
}

interface PriorityClass<T> {
  readonly priority: number;
  /** SFQ virtual time: start tag of the request served last (or, between busy periods, max finish). */
  vtime: number;
  /** Largest finish tag handed out in the current busy period. */
  maxFinish: number;
  size: number;
  readonly flows: Map<string, Flow<T>>;
}

const DEFAULT_RATE_WINDOW_MS = 10_000;
/** Dequeue timestamps kept for the rate estimate. */
const RATE_SAMPLES = 256;

/**
 * The bounded, prioritised, fair admission queue of one model. See the module comment for the
 * service order.
 *
 * @example
 * const q = new AdmissionQueue<Req>({ maxDepth: 100, timeoutMs: 30_000 });
 * const r = q.enqueue({ id, tenant: t.name, weight: t.weight, priority: effectivePriority(body.priority, t), cost: 1, payload });
 * if (!r.ok) reply429(Math.ceil(r.retryAfterMs / 1000));
 * // on a timer the caller owns:       for (const x of q.expire(performance.now())) reply503(x);
 * // whenever a worker has room:       const next = q.dequeue();
 */
export class AdmissionQueue<T> {
  private readonly maxDepth: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly rateWindowMs: number;

  private readonly classes: PriorityClass<T>[] = [];
  private readonly byId = new Map<string, Node<T>>();
  private readonly tenantDepth = new Map<string, number>();
  /** Queue-wide enqueue order; gHead is the oldest waiting request. */
  private gHead: Node<T> | undefined;
  private gTail: Node<T> | undefined;
  /** Min-heap on (deadlineMs, seq); removed nodes are skipped and compacted lazily. */
  private heap: Node<T>[] = [];
  private seq = 0;
  private size = 0;

  /** Ring of the last RATE_SAMPLES dequeue times. */
  private readonly dequeueTimes = new Float64Array(RATE_SAMPLES);
  private dequeueCount = 0;
  private readonly createdMs: number;

  constructor(opts: AdmissionQueueOptions) {
    const problems: string[] = [];
    if (!Number.isSafeInteger(opts.maxDepth) || opts.maxDepth < 0) problems.push(`maxDepth must be an integer >= 0, got ${opts.maxDepth}`);
    if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) problems.push(`timeoutMs must be a finite number > 0, got ${opts.timeoutMs}`);
    const win = opts.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
    if (!(win > 0) || !Number.isFinite(win)) problems.push(`rateWindowMs must be a finite number > 0, got ${win}`);
    if (problems.length > 0) throw new RangeError(`invalid admission queue options: ${problems.join('; ')}`);
    this.maxDepth = opts.maxDepth;
    this.timeoutMs = opts.timeoutMs;
    this.now = opts.now ?? (() => performance.now());
    this.rateWindowMs = win;
    for (let p = 0; p <= LEAST_URGENT_PRIORITY; p++) {
      this.classes.push({ priority: p, vtime: 0, maxFinish: 0, size: 0, flows: new Map() });
    }
    this.createdMs = this.now();
  }

  /**
   * Adds a request stamped with the clock's current reading. Its deadline is
   * enqueuedMs + timeoutMs, or the given `deadlineMs` when that is earlier (e.g. the client's own).
   * A full queue refuses it with an estimate of when to retry (see {@link retryAfterMs}).
   * Call expire() first so that timed-out requests do not hold places.
   * Throws RangeError for a malformed request or an id already queued (caller bugs).
   */
  enqueue(r: Omit<QueuedRequest<T>, 'enqueuedMs' | 'deadlineMs'> & { deadlineMs?: number }): EnqueueResult {
    const problems: string[] = [];
    if (this.byId.has(r.id)) problems.push(`id ${JSON.stringify(r.id)} is already queued`);
    if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > LEAST_URGENT_PRIORITY) {
      problems.push(`priority must be an integer 0..${LEAST_URGENT_PRIORITY}, got ${r.priority}`);
    }
    if (!(r.weight > 0) || !Number.isFinite(r.weight)) problems.push(`weight must be a finite number > 0, got ${r.weight}`);
    if (!(r.cost > 0) || !Number.isFinite(r.cost)) problems.push(`cost must be a finite number > 0, got ${r.cost}`);
    if (r.deadlineMs !== undefined && Number.isNaN(r.deadlineMs)) problems.push('deadlineMs must be a number, got NaN');
    if (problems.length > 0) throw new RangeError(`invalid admission request: ${problems.join('; ')}`);

    const nowMs = this.now();
    if (this.size >= this.maxDepth) {
      return { ok: false, code: 'queue_full', retryAfterMs: this.retryAfterMs(nowMs) };
    }

    const cap = nowMs + this.timeoutMs;
    const req: QueuedRequest<T> = {
      id: r.id,
      tenant: r.tenant,
      weight: r.weight,
      priority: r.priority,
      cost: r.cost,
      enqueuedMs: nowMs,
      deadlineMs: r.deadlineMs === undefined ? cap : Math.min(r.deadlineMs, cap),
      payload: r.payload,
    };
    const cls = this.classes[req.priority]!;
    let flow = cls.flows.get(req.tenant);
    if (flow === undefined) {
      flow = { tenant: req.tenant, cls, head: undefined, tail: undefined, size: 0, finishTag: cls.vtime, headStart: cls.vtime };
      cls.flows.set(req.tenant, flow);
    }
    const node: Node<T> = {
      req,
      seq: this.seq++,
      flow,
      removed: false,
      fPrev: flow.tail,
      fNext: undefined,
      gPrev: this.gTail,
      gNext: undefined,
    };
    // Tenant FIFO. A flow that becomes backlogged re-enters at the class's virtual time at the
    // earliest: no credit for having been idle.
    if (flow.tail === undefined) {
      flow.head = node;
      flow.headStart = Math.max(cls.vtime, flow.finishTag);
    } else {
      flow.tail.fNext = node;
    }
    flow.tail = node;
    flow.size++;
    // Queue-wide order.
    if (this.gTail === undefined) this.gHead = node;
    else this.gTail.gNext = node;
    this.gTail = node;

    this.byId.set(req.id, node);
    this.heapPush(node);
    cls.size++;
    this.size++;
    this.tenantDepth.set(req.tenant, (this.tenantDepth.get(req.tenant) ?? 0) + 1);
    return { ok: true, depth: this.size };
  }

  /**
   * Next request to dispatch, removed from the queue: the most urgent non-empty class; within
   * it, the tenant whose head has the smallest SFQ start tag; FIFO within a tenant. Records the
   * dequeue time for the rate estimate.
   */
  dequeue(): QueuedRequest<T> | undefined {
    const flow = this.select();
    if (flow === undefined) return undefined;
    const node = flow.head!;
    const cls = flow.cls;
    const start = flow.headStart;
    cls.vtime = Math.max(cls.vtime, start);
    flow.finishTag = start + node.req.cost / node.req.weight;
    if (flow.finishTag > cls.maxFinish) cls.maxFinish = flow.finishTag;
    this.unlink(node);
    if (flow.size > 0) flow.headStart = flow.finishTag;
    this.recordDequeue(this.now());
    return node.req;
  }

  /** What dequeue() would return now, left in the queue. */
  peek(): QueuedRequest<T> | undefined {
    return this.select()?.head?.req;
  }

  /** Removes a waiting request (its client gave up); false when it is not queued. Never charged. */
  remove(id: string): boolean {
    const node = this.byId.get(id);
    if (node === undefined) return false;
    this.unlink(node);
    return true;
  }

  /**
   * Removes and returns every request whose deadline has come (deadlineMs <= nowMs), oldest
   * (earliest enqueued) first. `nowMs` is a reading of the queue's clock.
   */
  expire(nowMs: number): QueuedRequest<T>[] {
    const out: Node<T>[] = [];
    for (;;) {
      const top = this.heapTop();
      if (top === undefined || top.req.deadlineMs > nowMs) break;
      this.heapPop();
      out.push(top);
      this.unlink(top);
    }
    out.sort((a, b) => a.req.enqueuedMs - b.req.enqueuedMs || a.seq - b.seq);
    return out.map((n) => n.req);
  }

  /** Whether a request with this id is waiting. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Requests waiting, all classes together. */
  get depth(): number {
    return this.size;
  }

  /** Requests waiting per priority class; classes with none are absent. */
  depthByPriority(): Map<number, number> {
    const m = new Map<number, number>();
    for (const c of this.classes) if (c.size > 0) m.set(c.priority, c.size);
    return m;
  }

  /** Requests waiting per tenant, all classes together; tenants with none are absent. */
  depthByTenant(): Map<string, number> {
    return new Map(this.tenantDepth);
  }

  /** How long the longest-waiting request has waited at `nowMs` (queue's clock), ms; 0 when empty. */
  oldestWaitMs(nowMs: number): number {
    return this.gHead === undefined ? 0 : Math.max(0, nowMs - this.gHead.req.enqueuedMs);
  }

  /**
   * Dequeues per second over the last rateWindowMs (or since the queue was created, when that is
   * shorter). When more than RATE_SAMPLES dequeues fall in the window, the rate is measured over
   * the span of the retained samples instead: (samples after the oldest retained) / (now - oldest).
   */
  dequeueRatePerS(nowMs: number = this.now()): number {
    const n = Math.min(this.dequeueCount, RATE_SAMPLES);
    const from = Math.max(nowMs - this.rateWindowMs, this.createdMs);
    let count = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const t = this.dequeueTimes[(this.dequeueCount - 1 - i) % RATE_SAMPLES]!;
      if (t < from) break; // ring read newest first; times are non-decreasing with a monotonic clock
      count++;
      oldest = t;
    }
    if (count === 0) return 0;
    if (count === RATE_SAMPLES && this.dequeueCount > RATE_SAMPLES) {
      return ((count - 1) * 1000) / Math.max(nowMs - oldest, 1);
    }
    return (count * 1000) / Math.max(nowMs - from, 1);
  }

  /** The retry-after this queue would give a request refused now, ms. */
  retryAfterMs(nowMs: number = this.now()): number {
    const top = this.heapTop();
    return retryAfterMs({
      depth: this.size,
      dequeueRatePerS: this.dequeueRatePerS(nowMs),
      msUntilSlotFrees: top === undefined ? undefined : top.req.deadlineMs - nowMs,
      maxMs: Math.max(this.timeoutMs, 1000),
    });
  }

  // --- internals ---------------------------------------------------------------------------

  /** The flow whose head dequeue() would take; prunes idle flows that hold no state worth keeping. */
  private select(): Flow<T> | undefined {
    for (const cls of this.classes) {
      if (cls.size === 0) continue;
      let best: Flow<T> | undefined;
      for (const [tenant, f] of cls.flows) {
        if (f.size === 0) {
          // An idle flow whose finish tag V has passed would re-enter at V anyway: forget it.
          if (f.finishTag <= cls.vtime) cls.flows.delete(tenant);
          continue;
        }
        if (best === undefined || f.headStart < best.headStart || (f.headStart === best.headStart && f.head!.seq < best.head!.seq)) {
          best = f;
        }
      }
      return best;
    }
    return undefined;
  }

  /** Takes a node out of every structure but the heap (which skips removed nodes lazily). */
  private unlink(node: Node<T>): void {
    node.removed = true;
    const flow = node.flow;
    const cls = flow.cls;
    if (node.fPrev === undefined) flow.head = node.fNext;
    else node.fPrev.fNext = node.fNext;
    if (node.fNext === undefined) flow.tail = node.fPrev;
    else node.fNext.fPrev = node.fPrev;
    flow.size--;
    if (node.gPrev === undefined) this.gHead = node.gNext;
    else node.gPrev.gNext = node.gNext;
    if (node.gNext === undefined) this.gTail = node.gPrev;
    else node.gNext.gPrev = node.gPrev;
    node.fPrev = node.fNext = node.gPrev = node.gNext = undefined;

    this.byId.delete(node.req.id);
    cls.size--;
    this.size--;
    const td = (this.tenantDepth.get(node.req.tenant) ?? 1) - 1;
    if (td === 0) this.tenantDepth.delete(node.req.tenant);
    else this.tenantDepth.set(node.req.tenant, td);

    if (cls.size === 0) {
      // End of the class's busy period (SFQ): V jumps to the largest finish tag served, so every
      // flow would re-enter at V: flow state can go.
      cls.vtime = Math.max(cls.vtime, cls.maxFinish);
      cls.flows.clear();
    }
    if (this.size === 0) this.heap = [];
    else if (this.heap.length > 2 * this.size + 64) this.compactHeap();
  }

  private recordDequeue(t: number): void {
    this.dequeueTimes[this.dequeueCount % RATE_SAMPLES] = t;
    this.dequeueCount++;
  }

  private static before<T>(a: Node<T>, b: Node<T>): boolean {
    return a.req.deadlineMs < b.req.deadlineMs || (a.req.deadlineMs === b.req.deadlineMs && a.seq < b.seq);
  }

  private heapTop(): Node<T> | undefined {
    while (this.heap.length > 0 && this.heap[0]!.removed) this.heapPop();
    return this.heap[0];
  }

  private heapPush(node: Node<T>): void {
    const h = this.heap;
    h.push(node);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!AdmissionQueue.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private heapPop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && AdmissionQueue.before(h[l]!, h[m]!)) m = l;
      if (r < h.length && AdmissionQueue.before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }

  private compactHeap(): void {
    this.heap = this.heap.filter((n) => !n.removed);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}

/**
 * The priority class a request gets: the tenant's default when it asks for none; otherwise what
 * it asks for, but never more urgent than the tenant's maxPriority (a lower number is more
 * urgent). A non-integer request is rounded to the nearest class, a non-finite one counts as
 * absent; the result is clamped to 0..9.
 */
export function effectivePriority(requested: number | undefined, tenant: { defaultPriority: number; maxPriority: number }): number {
  const wanted = requested === undefined || !Number.isFinite(requested) ? tenant.defaultPriority : Math.round(requested);
  const capped = Math.max(wanted, tenant.maxPriority);
  return clampPriority(capped);
}

function clampPriority(p: number): number {
  if (!Number.isFinite(p)) return LEAST_URGENT_PRIORITY;
  return Math.min(LEAST_URGENT_PRIORITY, Math.max(0, Math.round(p)));
}

export interface RetryAfterInput {
  /** Requests waiting now. */
  depth: number;
  /** Recent dequeues per second; 0 when unknown (nothing dequeued lately). */
  dequeueRatePerS: number;
  /** Ms until the earliest queued deadline, when one request is bound to leave by then. */
  msUntilSlotFrees?: number | undefined;
  /** Floor, ms; default 1000 (the retry-after header counts whole seconds). */
  minMs?: number;
  /** Ceiling and the answer when nothing is known, ms; default 60 000. */
  maxMs?: number;
}

/**
 * Retry-after estimate for a refused (queue_full) request, ms:
 *
 *   drainMs = depth / dequeueRatePerS * 1000      (time to serve the backlog now waiting;
 *                                                   Infinity when the rate is 0)
 *   est     = min(drainMs, msUntilSlotFrees)      (a place frees at the latest when the
 *                                                   earliest deadline passes)
 *   result  = ceil(clamp(est, minMs, maxMs))      (maxMs when est is not finite)
 *
 * Waiting for the whole backlog to turn over, rather than for the first free place, spreads
 * retries out instead of inviting every refused client back at once.
 */
export function retryAfterMs(input: RetryAfterInput): number {
  const minMs = input.minMs ?? 1000;
  const maxMs = Math.max(input.maxMs ?? 60_000, minMs);
  const drainMs = input.dequeueRatePerS > 0 ? (Math.max(input.depth, 1) / input.dequeueRatePerS) * 1000 : Number.POSITIVE_INFINITY;
  const slotMs = input.msUntilSlotFrees === undefined ? Number.POSITIVE_INFINITY : Math.max(0, input.msUntilSlotFrees);
  const est = Math.min(drainMs, slotMs);
  if (!Number.isFinite(est)) return Math.ceil(maxMs);
  return Math.ceil(Math.min(maxMs, Math.max(minMs, est)));
}
