/**
 * Router: picks the worker for one request among candidates, by the stack's routing policy.
 * Candidates are the caller's `pool.available(model.workers)`: healthy workers with room. The
 * router never mutates them; the caller acquires the one picked. `excluded` holds workers this
 * request already tried, so a retry goes elsewhere.
 *
 * Policies:
 * - round_robin: the candidates in turn.
 * - least_outstanding: fewest requests in flight from this gateway; ties broken round-robin.
 * - kv_aware: lowest score = kvUsage + (waiting + outstanding) / maxInFlight, from the workers'
 *   scraped /metrics. kvUsage (0..1) is how full the KV cache is (a full cache preempts);
 *   waiting is the worker's own queue and outstanding the gateway's in-flight requests, both in
 *   units of the worker's room. Outstanding moves between scrapes, so a burst does not herd onto
 *   the worker that looked emptiest at the last scrape. Ties broken round-robin. Until every
 *   candidate has a scrape (or after one failed), falls back to least_outstanding.
 * - prefix_affinity: consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
 *   "Consistent Hashing with Bounded Loads", 2018). The prompt's prefix key is hashed onto a
 *   ring of virtual nodes; the request goes to the first worker clockwise that is eligible, i.e.
 *   whose outstanding < ceil(loadFactor x average outstanding over the candidates + 1). Same
 *   prefix -> same worker (prefix-cache hits) while load allows; a hot prefix spills to the next
 *   workers on the ring instead of pinning one. Without a key, least_outstanding.
 */
import { fnv1a32 } from '../../harness/util/fnv1a.ts';
import { fmix32 } from '../../harness/workload/rng.ts';
import type { RoutingPolicy } from '../stack/stack-types.ts';
import type { WorkerState } from './worker-pool.ts';

export interface PickRequest {
  /** prefix_affinity: a key derived from the prompt's first tokens (GatewayConfig.prefixAffinity.prefixTokens). */
  promptPrefixKey?: string;
  /** Workers already tried for this request. */
  excluded?: ReadonlySet<string>;
}

export interface Router {
  readonly policy: RoutingPolicy;
  /** The worker for this request, or undefined when no candidate is left. */
  pick(candidates: readonly WorkerState[], req?: PickRequest): WorkerState | undefined;
}

export interface RouterOptions {
  /** prefix_affinity: bounded-load factor (>= 1; default 1.25) and virtual nodes per worker (default 160). */
  prefixAffinity?: { loadFactor?: number; virtualNodes?: number };
}

/** FNV-1a 32-bit followed by murmur3's finaliser (so nearby strings land far apart on the ring). */
export function hash32(s: string): number {
  return fmix32(fnv1a32(s));
}

/** The bounded-load capacity: a worker may take a request while its outstanding is below this. */
export function boundedLoadCapacity(loadFactor: number, averageOutstanding: number): number {
  return Math.ceil(loadFactor * averageOutstanding + 1);
}

/** kv_aware's score (lower is better); undefined before the worker's first successful scrape. */
export function kvScore(w: WorkerState): number | undefined {
  if (w.kvUsage === undefined) return undefined;
  return w.kvUsage + ((w.waiting ?? 0) + w.outstanding) / w.maxInFlight;
}

interface Ring {
  /** Sorted positions and, at the same index, the worker name. */
  points: Uint32Array;
  names: string[];
  distinct: number;
}

function buildRing(names: readonly string[], virtualNodes: number): Ring {
  const entries: { point: number; name: string }[] = [];
  for (const name of names) for (let v = 0; v < virtualNodes; v++) entries.push({ point: hash32(`${name}#${v}`), name });
  // Ties on a point (rare) are ordered by name so the ring does not depend on candidate order.
  entries.sort((a, b) => a.point - b.point || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { points: Uint32Array.from(entries, (e) => e.point), names: entries.map((e) => e.name), distinct: new Set(names).size };
}

/** First index whose point is >= p (wrapping to 0). */
function lowerBound(points: Uint32Array, p: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

export function createRouter(policy: RoutingPolicy, opts: RouterOptions = {}): Router {
  let turn = 0;
  /** The next candidate in turn among `ws` (non-empty). */
  const inTurn = (ws: readonly WorkerState[]): WorkerState => ws[turn++ % ws.length]!;

  const leastOutstanding = (ws: readonly WorkerState[]): WorkerState => {
    let min = Infinity;
    for (const w of ws) min = Math.min(min, w.outstanding);
    return inTurn(ws.filter((w) => w.outstanding === min));
  };

  const kvAware = (ws: readonly WorkerState[]): WorkerState => {
    const scores = ws.map(kvScore);
    if (scores.some((s) => s === undefined)) return leastOutstanding(ws);
    const min = Math.min(...(scores as number[]));
    return inTurn(ws.filter((_, i) => scores[i] === min));
  };

  const loadFactor = Math.max(1, opts.prefixAffinity?.loadFactor ?? 1.25);
  const virtualNodes = Math.max(1, Math.floor(opts.prefixAffinity?.virtualNodes ?? 160));
  /** Rings by candidate set: the set changes only when a worker is ejected, fills up or is excluded. */
  const rings = new Map<string, Ring>();
  const ringFor = (ws: readonly WorkerState[]): Ring => {
    const key = ws
      .map((w) => w.name)
      .sort()
      .join('\u0000');
    let ring = rings.get(key);
    if (ring === undefined) {
      if (rings.size >= 64) rings.delete(rings.keys().next().value!);
      ring = buildRing(
        ws.map((w) => w.name),
        virtualNodes,
      );
      rings.set(key, ring);
    }
    return ring;
  };

  const prefixAffinity = (all: readonly WorkerState[], ws: readonly WorkerState[], key: string | undefined): WorkerState => {
    if (key === undefined) return leastOutstanding(ws);
    // The average is over every candidate (tried ones included): they share the load.
    let total = 0;
    for (const w of all) total += w.outstanding;
    const capacity = boundedLoadCapacity(loadFactor, total / all.length);
    const byName = new Map(ws.map((w) => [w.name, w]));
    // The ring is built over all candidates, so excluding one for a retry moves only its keys.
    const ring = ringFor(all);
    const seen = new Set<string>();
    for (let i = lowerBound(ring.points, hash32(key)), n = 0; n < ring.points.length && seen.size < ring.distinct; i = (i + 1) % ring.points.length, n++) {
      const name = ring.names[i]!;
      if (seen.has(name)) continue;
      seen.add(name);
      const w = byName.get(name);
      if (w !== undefined && w.outstanding < capacity) return w;
    }
    // Unreachable while loadFactor >= 1 and nothing is excluded (the least loaded worker is below
    // the capacity); with exclusions every remaining worker may be full: take the least loaded.
    return leastOutstanding(ws);
  };

  return {
    policy,
    pick(candidates, req = {}) {
      const excluded = req.excluded;
      const ws = excluded === undefined || excluded.size === 0 ? candidates : candidates.filter((w) => !excluded.has(w.name));
      if (ws.length === 0) return undefined;
      switch (policy) {
        case 'round_robin':
          return inTurn(ws);
        case 'least_outstanding':
          return leastOutstanding(ws);
        case 'kv_aware':
          return kvAware(ws);
        case 'prefix_affinity':
          return prefixAffinity(candidates, ws, req.promptPrefixKey);
      }
    },
  };
}
