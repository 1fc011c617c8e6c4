/**
 * HealthChecker: the active half of the gateway's worker health. Every `intervalMs` it GETs
 * each worker's /health (2xx = success; anything else, a refused connection or a timeout =
 * failure) and feeds the result to the {@link WorkerPool}, which ejects and re-admits; with
 * `scrapeMetrics` (kv_aware routing) it also reads the worker's /metrics and stores the two
 * gauges routing needs: `vllm:kv_cache_usage_perc` and `vllm:num_requests_waiting`.
 *
 * What must stay true: a worker that never answers never blocks the checker. Every probe of a
 * worker (health and metrics together) is bounded by `timeoutMs`; the workers of a round are
 * probed concurrently, so a round ends within `timeoutMs`; rounds never overlap (the next one
 * starts `intervalMs` after the previous ended), and a probe still in flight is joined, not
 * duplicated, by a concurrent `checkOnce()`. Probes cut short by stop() count for nothing.
 *
 * HTTP goes through an explicit undici Dispatcher (given, or a private Agent closed by stop()).
 * The round timer is unref'd: the checker never keeps a process alive on its own.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { HealthState, WorkerPool, WorkerState } from './worker-pool.ts';

/** Why a probe failed: no answer in time, no connection, a non-2xx status, or the checker stopped. */
export type ProbeFailure = 'timeout' | 'unreachable' | 'status' | 'aborted';

export interface WorkerGauges {
  /** `vllm:kv_cache_usage_perc` (0..1), the highest over the worker's engines. */
  kvUsage: number | undefined;
  /** `vllm:num_requests_waiting`, summed over the worker's engines and models. */
  waiting: number | undefined;
}

export interface ProbeResult {
  name: string;
  ok: boolean;
  /** HTTP status of /health, when one came back. */
  status?: number;
  failure?: ProbeFailure;
  /** The underlying error's message or code, for logs. */
  message?: string;
  /** The worker's health after this probe was counted. */
  health: HealthState | undefined;
  /** The gauges scraped (scrapeMetrics only, after a healthy probe). */
  metrics?: WorkerGauges;
  /** Why the scrape failed (the probe itself may still be ok). */
  metricsFailure?: ProbeFailure;
}

export interface HealthCheckerOptions {
  pool: WorkerPool;
  /** Pause between the end of one round and the start of the next, ms. */
  intervalMs: number;
  /** Bound of one worker's probe (health + metrics), ms. Default min(2000, intervalMs), at least 50. */
  timeoutMs?: number;
  /** Also scrape /metrics (kv_aware routing). Default false. */
  scrapeMetrics?: boolean;
  /** Dispatcher for the probes; default a private Agent, closed by stop(). */
  dispatcher?: Dispatcher;
  /** Largest /metrics body read, bytes (default 8 MiB); larger is a failed scrape. */
  maxMetricsBytes?: number;
}

const KV_USAGE = 'vllm:kv_cache_usage_perc';
/** vLLM before v0.10 named the same gauge this way. */
const KV_USAGE_OLD = 'vllm:gpu_cache_usage_perc';
const WAITING = 'vllm:num_requests_waiting';

function parseNumber(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/**
 * One sample line of the Prometheus text (or OpenMetrics) format: `name{labels} value [ts]`.
 * Tolerant: returns undefined for comments, blank or malformed lines. Label values may hold
 * spaces, braces and escaped quotes.
 */
function sampleOf(line: string): { name: string; value: number } | undefined {
  let i = 0;
  while (i < line.length && /[A-Za-z0-9_:]/.test(line[i]!)) i++;
  if (i === 0) return undefined;
  const name = line.slice(0, i);
  if (line[i] === '{') {
    i++;
    let quoted = false;
    for (; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === '}') break;
    }
    if (i >= line.length) return undefined;
    i++;
  }
  const token = line.slice(i).trim().split(/\s+/, 1)[0];
  if (token === undefined || token === '') return undefined;
  const value = parseNumber(token);
  return Number.isNaN(value) ? undefined : { name, value };
}

/**
 * The two gauges kv_aware routing needs, from a worker's /metrics text. Only these lines are
 * read; everything else (and anything malformed) is skipped. KV usage is the highest over
 * label sets (a data-parallel worker is as full as its fullest engine); waiting is the sum.
 */
export function parseWorkerGauges(text: string): WorkerGauges {
  let kv: number | undefined;
  let kvOld: number | undefined;
  let waiting: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('vllm:')) continue;
    const s = sampleOf(line);
    if (s === undefined) continue;
    if (s.name === KV_USAGE) kv = Math.max(kv ?? -Infinity, s.value);
    else if (s.name === KV_USAGE_OLD) kvOld = Math.max(kvOld ?? -Infinity, s.value);
    else if (s.name === WAITING) waiting = (waiting ?? 0) + s.value;
  }
  return { kvUsage: kv ?? kvOld, waiting };
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

class ProbeError extends Error {
  constructor(
    readonly failure: ProbeFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class HealthChecker {
  private readonly pool: WorkerPool;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly scrapeMetrics: boolean;
  private readonly givenDispatcher: Dispatcher | undefined;
  private readonly maxMetricsBytes: number;
  private ownAgent: Agent | undefined;
  private stopper = new AbortController();
  private readonly inflight = new Map<string, Promise<ProbeResult>>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> | undefined;

  constructor(options: HealthCheckerOptions) {
    this.pool = options.pool;
    this.intervalMs = Math.max(1, options.intervalMs);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? Math.max(50, Math.min(2000, options.intervalMs)));
    this.scrapeMetrics = options.scrapeMetrics ?? false;
    this.givenDispatcher = options.dispatcher;
    this.maxMetricsBytes = options.maxMetricsBytes ?? 8 * 1024 * 1024;
  }

  /** Starts the periodic rounds (the first one at once). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.stopper.signal.aborted) this.stopper = new AbortController();
    this.tick();
  }

  /** Stops the rounds, aborts probes in flight (they count for nothing) and closes the private Agent. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopper.abort();
    await this.round;
    await Promise.allSettled([...this.inflight.values()]);
    const agent = this.ownAgent;
    this.ownAgent = undefined;
    await agent?.close();
  }

  /**
   * One round: every worker probed concurrently, results counted in the pool. Resolves within
   * about `timeoutMs` whatever the workers do. Usable without start() (tests, a first check
   * before serving).
   */
  checkOnce(): Promise<ProbeResult[]> {
    if (this.stopper.signal.aborted && !this.running) this.stopper = new AbortController();
    return Promise.all(this.pool.all().map((w) => this.probe(w)));
  }

  private tick(): void {
    this.round = this.checkOnce()
      .catch(() => undefined)
      .then(() => {
        this.round = undefined;
        if (!this.running) return;
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.tick();
        }, this.intervalMs);
        this.timer.unref();
      });
  }

  private dispatcher(): Dispatcher {
    if (this.givenDispatcher !== undefined) return this.givenDispatcher;
    this.ownAgent ??= new Agent({ connect: { timeout: this.timeoutMs }, keepAliveTimeout: Math.max(this.intervalMs * 2, 4_000) });
    return this.ownAgent;
  }

  private probe(w: WorkerState): Promise<ProbeResult> {
    const existing = this.inflight.get(w.name);
    if (existing !== undefined) return existing;
    const p = this.runProbe(w).finally(() => this.inflight.delete(w.name));
    this.inflight.set(w.name, p);
    return p;
  }

  private async runProbe(w: WorkerState): Promise<ProbeResult> {
    const stopSignal = this.stopper.signal;
    const timeoutSignal = AbortSignal.timeout(this.timeoutMs);
    const signal = AbortSignal.any([stopSignal, timeoutSignal]);
    const classify = (err: unknown): ProbeError => {
      if (err instanceof ProbeError) return err;
      if (stopSignal.aborted) return new ProbeError('aborted', 'health checker stopped');
      const code = (err as { code?: unknown } | null)?.code;
      if (timeoutSignal.aborted || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
        return new ProbeError('timeout', `no answer within ${this.timeoutMs} ms`);
      }
      return new ProbeError('unreachable', errorMessage(err));
    };

    let status: number | undefined;
    try {
      const res = await request(w.healthUrl, { method: 'GET', dispatcher: this.dispatcher(), signal });
      status = res.statusCode;
      await res.body.dump();
      if (status < 200 || status >= 300) throw new ProbeError('status', `/health answered ${status}`, status);
    } catch (err) {
      const e = classify(err);
      if (e.failure === 'aborted') return { name: w.name, ok: false, failure: 'aborted', message: e.message, health: w.health, ...(status !== undefined ? { status } : {}) };
      // Metrics of a failing worker are not routed on.
      this.pool.recordMetrics(w.name, undefined);
      const health = this.pool.markFailure(w.name, `${e.failure}: ${e.message}`);
      return { name: w.name, ok: false, failure: e.failure, message: e.message, health, ...(status !== undefined ? { status } : {}) };
    }

    const result: ProbeResult = { name: w.name, ok: true, status, health: undefined };
    if (this.scrapeMetrics) {
      try {
        result.metrics = await this.scrape(w, signal);
        this.pool.recordMetrics(w.name, result.metrics);
      } catch (err) {
        const e = classify(err);
        result.metricsFailure = e.failure;
        result.message = e.message;
        if (e.failure === 'aborted') {
          result.health = w.health;
          return result;
        }
        this.pool.recordMetrics(w.name, undefined);
      }
    }
    result.health = this.pool.markSuccess(w.name);
    return result;
  }

  private async scrape(w: WorkerState, signal: AbortSignal): Promise<WorkerGauges> {
    const res = await request(w.metricsUrl, {
      method: 'GET',
      dispatcher: this.dispatcher(),
      signal,
      headers: { accept: 'text/plain; version=0.0.4' },
    });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new ProbeError('status', `/metrics answered ${res.statusCode}`, res.statusCode);
    }
    const decoder = new TextDecoder();
    let text = '';
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxMetricsBytes) {
        res.body.destroy();
        throw new ProbeError('status', `/metrics larger than ${this.maxMetricsBytes} bytes`);
      }
      text += decoder.decode(chunk, { stream: true });
    }
    text += decoder.decode();
    return parseWorkerGauges(text);
  }
}
