/**
 * WorkerPool: the gateway's view of its upstream workers. Owns, per worker, its addresses
 * (OpenAI base URL, /health, /metrics), its room (`maxInFlight`), the requests the gateway has
 * in flight on it (`outstanding`, via acquire/release), its health state with the consecutive
 * failure/success counts that drive ejection and re-admission, and the last KV-cache usage and
 * queue length scraped from its /metrics.
 *
 * Health is fed from two sides: the active {@link HealthChecker} (periodic /health probes) and
 * request outcomes (passive health: the relay calls markFailure on a connect error or a 5xx
 * before the first byte, markSuccess on a served request). Both count in the same streaks.
 *
 * Invariants: `outstanding >= 0`; a worker is ejected only after `failuresToEject` consecutive
 * failures and re-admitted only after `successesToReadmit` consecutive successes; an ejected
 * worker is never `available()`.
 */

export type HealthState = 'healthy' | 'ejected';

/** One worker as routers and the relay see it. Read-only outside the pool. */
export interface WorkerState {
  readonly name: string;
  /** Base URL of its OpenAI API, `/v1` included. */
  readonly url: string;
  /** Its /health (probed by the health checker). */
  readonly healthUrl: string;
  /** Its Prometheus /metrics (scraped for kv_aware routing). */
  readonly metricsUrl: string;
  /** Requests the gateway keeps in flight on it at most. */
  readonly maxInFlight: number;
  /** Requests the gateway has in flight on it now. */
  readonly outstanding: number;
  readonly health: HealthState;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /** Last scraped `vllm:kv_cache_usage_perc` (0..1); undefined before a scrape or after a failed one. */
  readonly kvUsage: number | undefined;
  /** Last scraped `vllm:num_requests_waiting`; undefined like kvUsage. */
  readonly waiting: number | undefined;
  /** When kvUsage/waiting were scraped (ms, the pool's clock). */
  readonly scrapedAtMs: number | undefined;
  /** When the current health state began (ms, the pool's clock). */
  readonly healthSinceMs: number;
  /** The last failure's reason (for logs and /health of the gateway); cleared on success. */
  readonly lastFailure: string | undefined;
}

/** How a worker is declared to the pool. */
export interface WorkerSpec {
  name: string;
  /** Base URL of its OpenAI API, `/v1` included. */
  url: string;
  /** Default: the URL's origin + `/health` (vLLM serves it at the root). */
  healthUrl?: string;
  /** Default: the URL's origin + `/metrics`. */
  metricsUrl?: string;
  maxInFlight: number;
}

export interface WorkerPoolOptions {
  /** Consecutive failures (probes or requests) that eject a healthy worker (>= 1). */
  failuresToEject: number;
  /** Consecutive successes that re-admit an ejected worker (>= 1). */
  successesToReadmit: number;
  /** Clock for timestamps, ms. Default Date.now. */
  now?: () => number;
  /** Called on every health transition (ejection or re-admission), e.g. for logs and metrics. */
  onTransition?: (worker: WorkerState, from: HealthState, to: HealthState) => void;
}

type MutableWorker = { -readonly [K in keyof WorkerState]: WorkerState[K] };

function originOf(url: string): string {
  return new URL(url).origin;
}

export class WorkerPool {
  private readonly workers = new Map<string, MutableWorker>();
  private readonly failuresToEject: number;
  private readonly successesToReadmit: number;
  private readonly now: () => number;
  private readonly onTransition: WorkerPoolOptions['onTransition'];

  constructor(specs: readonly WorkerSpec[], options: WorkerPoolOptions) {
    this.failuresToEject = Math.max(1, Math.floor(options.failuresToEject));
    this.successesToReadmit = Math.max(1, Math.floor(options.successesToReadmit));
    this.now = options.now ?? Date.now;
    this.onTransition = options.onTransition;
    const t = this.now();
    for (const s of specs) {
      // The stack file's validation rejects duplicate names; this guards the invariant for callers from code.
      if (this.workers.has(s.name)) throw new TypeError(`duplicate worker name "${s.name}"`);
      this.workers.set(s.name, {
        name: s.name,
        url: s.url.replace(/\/+$/, ''),
        healthUrl: s.healthUrl ?? `${originOf(s.url)}/health`,
        metricsUrl: s.metricsUrl ?? `${originOf(s.url)}/metrics`,
        maxInFlight: Math.max(1, Math.floor(s.maxInFlight)),
        outstanding: 0,
        health: 'healthy',
        consecutiveFailures: 0,
        consecutiveSuccesses: 0,
        kvUsage: undefined,
        waiting: undefined,
        scrapedAtMs: undefined,
        healthSinceMs: t,
        lastFailure: undefined,
      });
    }
  }

  /** Every worker, in declaration order. */
  all(): readonly WorkerState[] {
    return [...this.workers.values()];
  }

  get(name: string): WorkerState | undefined {
    return this.workers.get(name);
  }

  /**
   * Routing candidates: the named workers (e.g. a model's `workers`; default all), in the order
   * given, that are healthy and have room (`outstanding < maxInFlight`). Unknown names are skipped.
   */
  available(names?: readonly string[]): WorkerState[] {
    const out: WorkerState[] = [];
    for (const n of names ?? this.workers.keys()) {
      const w = this.workers.get(n);
      if (w !== undefined && w.health === 'healthy' && w.outstanding < w.maxInFlight) out.push(w);
    }
    return out;
  }

  /**
   * Counts one request in flight on the worker. Returns its release: idempotent, so a relay
   * may call it from every exit path without driving the count below the truth.
   */
  acquire(name: string): () => void {
    const w = this.must(name);
    w.outstanding++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      w.outstanding = Math.max(0, w.outstanding - 1);
    };
  }

  /** Uncounts one request (prefer the function acquire() returns). Never goes below 0. */
  release(name: string): void {
    const w = this.must(name);
    w.outstanding = Math.max(0, w.outstanding - 1);
  }

  /**
   * One failed probe or request. Ejects a healthy worker at `failuresToEject` in a row.
   * Returns the worker's health afterwards (undefined for an unknown name).
   */
  markFailure(name: string, reason?: string): HealthState | undefined {
    const w = this.workers.get(name);
    if (w === undefined) return undefined;
    w.consecutiveFailures++;
    w.consecutiveSuccesses = 0;
    w.lastFailure = reason ?? 'failure';
    if (w.health === 'healthy' && w.consecutiveFailures >= this.failuresToEject) this.transition(w, 'ejected');
    return w.health;
  }

  /**
   * One successful probe or request. Re-admits an ejected worker at `successesToReadmit` in a
   * row. Returns the worker's health afterwards (undefined for an unknown name).
   */
  markSuccess(name: string): HealthState | undefined {
    const w = this.workers.get(name);
    if (w === undefined) return undefined;
    w.consecutiveSuccesses++;
    w.consecutiveFailures = 0;
    w.lastFailure = undefined;
    if (w.health === 'ejected' && w.consecutiveSuccesses >= this.successesToReadmit) this.transition(w, 'healthy');
    return w.health;
  }

  /** Stores a /metrics scrape; `undefined` (a failed scrape) forgets the previous one, so stale load is never routed on. */
  recordMetrics(name: string, metrics: { kvUsage: number | undefined; waiting: number | undefined } | undefined): void {
    const w = this.workers.get(name);
    if (w === undefined) return;
    w.kvUsage = metrics?.kvUsage;
    w.waiting = metrics?.waiting;
    w.scrapedAtMs = metrics === undefined ? undefined : this.now();
  }

  private transition(w: MutableWorker, to: HealthState): void {
    const from = w.health;
    w.health = to;
    w.healthSinceMs = this.now();
    this.onTransition?.(w, from, to);
  }

  private must(name: string): MutableWorker {
    const w = this.workers.get(name);
    if (w === undefined) throw new TypeError(`unknown worker "${name}"`);
    return w;
  }
}
