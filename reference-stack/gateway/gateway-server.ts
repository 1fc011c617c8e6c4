/**
 * The reference gateway's HTTP server (node:http): wires auth (API key -> tenant), per-tenant
 * limits, the per-model admission queue, the router over the worker pool, the upstream relay
 * (undici, streaming SSE, retry before the first byte, fallback models) and the usage ledger.
 *
 * Request path of POST /v1/chat/completions and /v1/completions:
 *   auth -> body (JSON, size limit) -> model (name or alias) -> allowed? -> limiter.admit
 *   (worst case reserved) -> AdmissionQueue of the model -> worker slot (pool + router) -> relay
 *   -> limiter.settle (real usage) + ledger row (counts and ids only, never content).
 *
 * What must stay true:
 * - Every response, success or error, carries x-request-id, x-queue-ms, x-served-by,
 *   x-served-model and server-timing; every error has the OpenAI shape with a string `code`.
 * - A worker slot acquired is always released (release is idempotent), and each release
 *   dispatches the next queued request of the models that worker serves.
 * - A dead worker never hangs a request: connect timeout, first-byte (headers) timeout, total
 *   timeout, all from the stack's gateway.timeouts.
 * - Prompts and completions never reach the ledger, the metrics or logs. prefix_affinity's
 *   prefix key is a hash of the prompt's first words, used for routing only: never logged or stored.
 * - At start, each tenant's budget spend for the current UTC day and month is restored from the
 *   ledger, so a restart does not reset budgets; the ledger is pruned to gateway.usage.retention
 *   at start and hourly.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelConfig, StackConfig, TenantConfig } from '../stack/stack-types.ts';
import { AdmissionQueue, effectivePriority } from './admission-queue.ts';
import { WorkerPool, type WorkerState } from './worker-pool.ts';
import { HealthChecker } from './health-checker.ts';
import { createRouter, type Router } from './router.ts';
import { cost as priceOf, createTenantLimiters, utcDayStartMs, utcMonthStartMs, utcNextMonthStartMs, type Reservation, type TenantLimiter } from './limits.ts';
import { UsageLedger, keyIdFromHash } from './usage-ledger.ts';
import { formatAccessLog, type AccessLogEntry } from './request-log.ts';
import { extractTraceContext, tracerFromEnv, type Span, type Tracer } from '../../harness/telemetry/otel.ts';

export interface GatewayOptions {
  stack: StackConfig;
  /** Base URL (`/v1` included) of each worker of the stack, by worker name. */
  workerUrls: Record<string, string>;
  /** Default: the stack's gateway.port (0 = any free port). */
  port?: number;
  host?: string;
  /** Default: the stack's gateway.usage.dbPath. `:memory:` keeps no file. */
  usageDbPath?: string;
  /** Wall clock, epoch ms (limits, budgets, ledger). Default Date.now. */
  now?: () => number;
  /** Access log: one JSON line per completions request ({@link formatAccessLog}). Default none. */
  log?: NodeJS.WritableStream;
  /**
   * OpenTelemetry tracer for the gateway's spans. Default: from the OTEL_* environment
   * (OTEL_EXPORTER_OTLP_ENDPOINT set: OTLP/HTTP; unset: no tracing); `null`: never trace.
   */
  tracer?: Tracer | null;
}

export interface Gateway {
  url: string;
  port: number;
  /** The gateway's own metrics registry (never prom-client's global one). */
  registry: Registry;
  close(): Promise<void>;
}

/** A failure answered to the client, OpenAI-shaped. */
class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'server_error',
  502: 'server_error',
  503: 'server_error',
  504: 'server_error',
};

function errorJson(status: number, code: string, message: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type: ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param, code } });
}

/** One request waiting in a model's queue for a worker slot. */
interface Waiter {
  excluded: ReadonlySet<string>;
  prefixKey: string | undefined;
  resolve: (w: { worker: WorkerState; release: () => void }) => void;
  reject: (e: GatewayError) => void;
  timer: NodeJS.Timeout;
}

interface Tenant {
  config: TenantConfig;
  hashes: Buffer[];
  limiter: TenantLimiter;
}

/** Whitespace as /\s/ sees it in prompts: space, tab, newlines, vertical tab, form feed, NBSP. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160 || c === 0x2028 || c === 0x2029 || c === 0x3000 || c === 0xfeff;
}

/** Whitespace-separated words in `text`, counted in one pass without allocating. */
function countWords(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/** Cheap prompt-token estimate: about 4/3 tokens per whitespace-separated word. Never exact. */
function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil((countWords(text) * 4) / 3));
}

/**
 * prefix_affinity's routing key: sha1 of the prompt's first `prefixTokens` whitespace-separated
 * words (words stand in for tokens), joined by single spaces. Requests sharing a long system
 * prompt share the key.
 */
function promptPrefixKey(text: string, prefixTokens: number): string {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length && words.length < prefixTokens; i++) {
    const space = i === text.length || isSpace(text.charCodeAt(i));
    if (space && start >= 0) {
      words.push(text.slice(start, i));
      start = -1;
    } else if (!space && start < 0) start = i;
  }
  return createHash('sha1').update(words.join(' ')).digest('hex');
}

function promptText(body: Record<string, unknown>, chat: boolean): string {
  if (chat) {
    const msgs = Array.isArray(body.messages) ? body.messages : [];
    const parts: string[] = [];
    for (const m of msgs) {
      const c = (m as { content?: unknown } | null)?.content;
      if (typeof c === 'string') parts.push(c);
      else if (Array.isArray(c)) for (const p of c) if (typeof (p as { text?: unknown })?.text === 'string') parts.push((p as { text: string }).text);
    }
    return parts.join(' ');
  }
  const p = body.prompt;
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) return p.map((x) => (typeof x === 'string' ? x : Array.isArray(x) ? x.map(() => 'w').join(' ') : '')).join(' ');
  return '';
}

/** The worker's error message from a vLLM error body (or the raw text). */
function upstreamMessage(text: string): { message: string; type: string } {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown; type?: unknown }; message?: unknown };
    const m = j.error?.message ?? j.message;
    return { message: typeof m === 'string' ? m : text.slice(0, 500), type: typeof j.error?.type === 'string' ? j.error.type : '' };
  } catch {
    return { message: text.slice(0, 500), type: '' };
  }
}

/** Why a model cannot serve a request, so the fallback chain moves on: OOM, engine death, context length. */
function fallbackReason(status: number, message: string, type: string): string | undefined {
  if (status === 500 && /CUDA out of memory/i.test(message)) return 'oom';
  if (status === 503 || type === 'EngineDeadError' || /EngineDeadError|EngineCore encountered/i.test(message)) return 'engine_dead';
  if (status === 400 && /maximum context length/i.test(message)) return 'context_length';
  return undefined;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { stack } = options;
  const g = stack.gateway;
  const now = options.now ?? Date.now;

  // --- models, tenants ------------------------------------------------------------------------
  const modelByName = new Map<string, ModelConfig>();
  for (const m of stack.models) {
    modelByName.set(m.name, m);
    for (const a of m.aliases) modelByName.set(a, m);
  }
  const limiters = createTenantLimiters(stack.tenants);
  const tenants: Tenant[] = stack.tenants.map((t) => ({
    config: t,
    hashes: t.keyHashes.map((h) => Buffer.from(h.replace(/^sha256:/i, '').toLowerCase(), 'hex')),
    limiter: limiters.get(t.name)!,
  }));
  const allowed = (t: TenantConfig, m: ModelConfig): boolean =>
    t.allowedModels === '*' || t.allowedModels.some((a) => a === m.name || m.aliases.includes(a) || modelByName.get(a) === m);

  // --- workers ----------------------------------------------------------------------------------
  const missing = stack.workers.filter((w) => options.workerUrls[w.name] === undefined).map((w) => w.name);
  if (missing.length > 0) throw new TypeError(`startGateway: no URL for worker(s) ${missing.join(', ')} (workerUrls has ${Object.keys(options.workerUrls).join(', ') || 'none'})`);
  const pool = new WorkerPool(
    stack.workers.map((w) => ({ name: w.name, url: options.workerUrls[w.name]!, maxInFlight: w.maxInFlight, ...(w.kind === 'url' ? { metricsUrl: w.metricsUrl } : {}) })),
    {
      failuresToEject: g.health.failuresToEject,
      successesToReadmit: g.health.successesToReadmit,
      onTransition: (w, _from, to) => {
        if (to === 'healthy') for (const m of stack.models) if (m.workers.includes(w.name)) dispatch(m);
      },
    },
  );
  const checker = new HealthChecker({ pool, intervalMs: g.health.intervalMs, scrapeMetrics: g.routing === 'kv_aware' });
  const router: Router = createRouter(g.routing, { prefixAffinity: { loadFactor: g.prefixAffinity.loadFactor } });
  const tracer: Tracer | undefined = options.tracer === null ? undefined : (options.tracer ?? tracerFromEnv({ serviceName: 'floodgate-gateway' }));
  const agent: Dispatcher = new Agent({
    connect: { timeout: g.timeouts.connectMs },
    headersTimeout: g.timeouts.firstByteMs,
    bodyTimeout: g.timeouts.firstByteMs,
  });

  // --- queues -----------------------------------------------------------------------------------
  const queues = new Map<string, AdmissionQueue<Waiter>>();
  for (const m of stack.models) queues.set(m.name, new AdmissionQueue<Waiter>({ maxDepth: g.queue.maxDepth, timeoutMs: g.queue.timeoutMs }));
  /**
   * Retries waiting for a worker they have not tried yet, per model, FIFO. They were admitted
   * once already, so they are served before the model's queue; and they live apart from it so that
   * a retry whose only free worker is one it must avoid never blocks the requests behind it
   * (each is placed independently; the queue's head never carries exclusions).
   */
  const retryLanes = new Map<string, Waiter[]>();
  for (const m of stack.models) retryLanes.set(m.name, []);
  /** The models each worker serves, for the dispatch after a slot is released. */
  const modelsOfWorker = new Map<string, ModelConfig[]>();
  for (const w of stack.workers) modelsOfWorker.set(w.name, stack.models.filter((m) => m.workers.includes(w.name)));

  /** A slot on a worker of `m` not in `excluded`, now, or undefined. */
  const tryPick = (m: ModelConfig, excluded: ReadonlySet<string>, prefixKey: string | undefined): { worker: WorkerState; release: () => void } | undefined => {
    const w = router.pick(pool.available(m.workers), prefixKey === undefined ? { excluded } : { excluded, promptPrefixKey: prefixKey });
    if (w === undefined) return undefined;
    const rel = pool.acquire(w.name);
    let done = false;
    return {
      worker: w,
      release: () => {
        if (done) return;
        done = true;
        rel();
        for (const mm of modelsOfWorker.get(w.name) ?? []) dispatch(mm);
      },
    };
  };

  /** Serves waiting retries of `m`, then its queue while a worker has room (head of line first). */
  function dispatch(m: ModelConfig): void {
    const lane = retryLanes.get(m.name)!;
    for (let i = 0; i < lane.length; ) {
      const r = lane[i]!;
      const slot = tryPick(m, r.excluded, r.prefixKey);
      if (slot === undefined) {
        i++;
        continue;
      }
      lane.splice(i, 1);
      clearTimeout(r.timer);
      r.resolve(slot);
    }
    const q = queues.get(m.name)!;
    for (let head = q.peek(); head !== undefined; head = q.peek()) {
      const slot = tryPick(m, head.payload.excluded, head.payload.prefixKey);
      if (slot === undefined) return;
      q.dequeue();
      clearTimeout(head.payload.timer);
      head.payload.resolve(slot);
    }
  }

  const queueTimeoutError = (m: ModelConfig): GatewayError =>
    new GatewayError(503, 'queue_timeout', `waited longer than ${g.queue.timeoutMs} ms in the queue of model '${m.name}'`);

  /** Waits in the model's queue (or its retry lane) for a worker slot. Rejects with queue_full / queue_timeout / no_worker. */
  const acquire = (
    m: ModelConfig,
    id: string,
    tenant: TenantConfig,
    priority: number,
    excluded: ReadonlySet<string>,
    prefixKey: string | undefined,
    /** Fair-share cost of the request: its reserved tokens (prompt + max_tokens). */
    cost: number,
    signal: AbortSignal,
  ): Promise<{ worker: WorkerState; release: () => void }> => {
    const q = queues.get(m.name)!;
    const lane = retryLanes.get(m.name)!;
    const retry = excluded.size > 0;
    // A retry with every healthy worker of the model already tried has nowhere to go.
    if (retry && !m.workers.some((n) => pool.get(n)?.health === 'healthy' && !excluded.has(n))) {
      return Promise.reject(new GatewayError(502, 'no_worker', `no other healthy worker of model '${m.name}' to retry on`));
    }
    if (retry || (q.depth === 0 && lane.length === 0)) {
      const slot = tryPick(m, excluded, prefixKey);
      if (slot !== undefined) return Promise.resolve(slot);
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = lane.indexOf(waiter);
        if (i >= 0) lane.splice(i, 1);
        if (i >= 0 || q.remove(id)) {
          clearTimeout(waiter.timer);
          reject(new GatewayError(408, 'client_closed', 'the client went away while queued'));
        }
      };
      const waiter: Waiter = {
        excluded,
        prefixKey,
        resolve: (s) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
        timer: retry
          ? setTimeout(() => {
              const i = lane.indexOf(waiter);
              if (i >= 0) lane.splice(i, 1);
              waiter.reject(queueTimeoutError(m));
            }, g.queue.timeoutMs)
          : setTimeout(() => {
              for (const x of q.expire(performance.now() + 1)) {
                clearTimeout(x.payload.timer);
                x.payload.reject(queueTimeoutError(m));
              }
            }, g.queue.timeoutMs),
      };
      waiter.timer.unref();
      if (retry) {
        lane.push(waiter);
      } else {
        const r = q.enqueue({ id, tenant: tenant.name, weight: tenant.weight, priority, cost: Math.max(1, cost), payload: waiter });
        if (!r.ok) {
          clearTimeout(waiter.timer);
          reject(new GatewayError(429, 'queue_full', `the queue of model '${m.name}' is full (${g.queue.maxDepth} waiting)`, null, Math.ceil(r.retryAfterMs / 1000)));
          return;
        }
      }
      signal.addEventListener('abort', onAbort, { once: true });
      dispatch(m);
    });
  };

  // --- metrics ----------------------------------------------------------------------------------
  const registry = new Registry();
  const requestsTotal = new Counter({ name: 'floodgate_gateway_requests_total', help: 'Requests answered, by tenant, requested model and HTTP status.', labelNames: ['tenant', 'model', 'status'], registers: [registry] });
  new Gauge({
    name: 'floodgate_gateway_queue_depth',
    help: 'Requests waiting in the admission queue, by model.',
    labelNames: ['model'],
    registers: [registry],
    collect() {
      for (const [name, q] of queues) this.set({ model: name }, q.depth + retryLanes.get(name)!.length);
    },
  });
  const queueTime = new Histogram({ name: 'floodgate_gateway_queue_time_seconds', help: 'Time from admission to a worker slot, seconds.', labelNames: ['model'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
  const ttft = new Histogram({ name: 'floodgate_gateway_ttft_seconds', help: 'Request arrival to the first body byte sent to the client, seconds.', labelNames: ['model'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] });
  const e2e = new Histogram({ name: 'floodgate_gateway_e2e_seconds', help: 'Request arrival to the end of the response, seconds.', labelNames: ['model'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers: [registry] });
  const retriesTotal = new Counter({ name: 'floodgate_gateway_retries_total', help: 'Upstream attempts retried on another worker before the first byte.', labelNames: ['model'], registers: [registry] });
  const fallbacksTotal = new Counter({ name: 'floodgate_gateway_fallbacks_total', help: 'Requests moved to a fallback model, by from/to model and reason.', labelNames: ['from', 'to', 'reason'], registers: [registry] });
  const rateLimited = new Counter({ name: 'floodgate_gateway_rate_limited_total', help: 'Requests refused by a tenant limit or a full queue, by code.', labelNames: ['tenant', 'code'], registers: [registry] });
  new Gauge({
    name: 'floodgate_gateway_worker_in_flight',
    help: 'Requests the gateway has in flight on each worker.',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      for (const w of pool.all()) this.set({ worker: w.name }, w.outstanding);
    },
  });
  const tokensTotal = new Counter({ name: 'floodgate_gateway_tokens_total', help: 'Tokens served (from the workers\' usage), by tenant, requested model and kind (prompt, completion).', labelNames: ['tenant', 'model', 'kind'], registers: [registry] });
  const costTotal = new Counter({ name: 'floodgate_gateway_cost_total', help: 'Spend at the stack\'s prices, in its currency, by tenant and requested model.', labelNames: ['tenant', 'model'], registers: [registry] });
  /** A per-tenant, per-period (day, month) budget gauge read from each tenant's budget state. */
  const budgetGauge = (name: string, help: string, pick: (b: ReturnType<TenantLimiter['budgetState']>, period: 'day' | 'month') => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['tenant', 'period'],
      registers: [registry],
      collect() {
        const t = now();
        for (const x of tenants) {
          const b = x.limiter.budgetState(t);
          for (const period of ['day', 'month'] as const) {
            const v = pick(b, period);
            if (v !== null) this.set({ tenant: x.config.name, period }, v);
          }
        }
      },
    });
  };
  budgetGauge('floodgate_gateway_budget_spent', "Spend counted against the tenant's budget this UTC day or month, in the stack's currency.", (b, p) => (p === 'day' ? b.spentDay : b.spentMonth));
  budgetGauge('floodgate_gateway_budget_limit', "The tenant's budget per UTC day or month, in the stack's currency (absent when it has none).", (b, p) => (p === 'day' ? b.limitDay : b.limitMonth));
  /** Labelled children, looked up once per label set (the per-request path skips prom-client's label hashing). */
  const cached = <T>(make: (key: string) => T): ((key: string) => T) => {
    const m = new Map<string, T>();
    return (key) => {
      let v = m.get(key);
      if (v === undefined) m.set(key, (v = make(key)));
      return v;
    };
  };
  const queueTimeOf = cached((model) => queueTime.labels({ model }));
  const ttftOf = cached((model) => ttft.labels({ model }));
  const e2eOf = cached((model) => e2e.labels({ model }));
  const splitKey = (k: string): [string, string] => k.split('\n') as [string, string];
  const promptTokensOf = cached((k) => tokensTotal.labels({ tenant: splitKey(k)[0], model: splitKey(k)[1], kind: 'prompt' }));
  const completionTokensOf = cached((k) => tokensTotal.labels({ tenant: splitKey(k)[0], model: splitKey(k)[1], kind: 'completion' }));
  const costOf = cached((k) => costTotal.labels({ tenant: splitKey(k)[0], model: splitKey(k)[1] }));
  const requestsOf = (tenant: string, model: string, status: number) => requestsChild(`${tenant}\n${model}\n${status}`);
  const requestsChild = cached((k) => {
    const [tenant, model, status] = k.split('\n') as [string, string, string];
    return requestsTotal.labels({ tenant, model, status });
  });
  new Gauge({
    name: 'floodgate_gateway_worker_healthy',
    help: '1 when the worker is healthy (routable), 0 when ejected.',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      for (const w of pool.all()) this.set({ worker: w.name }, w.health === 'healthy' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'floodgate_gateway_budget_alert',
    help: '1 when the tenant spent at least alert_threshold of a daily or monthly budget.',
    labelNames: ['tenant'],
    registers: [registry],
    collect() {
      const t = now();
      for (const x of tenants) this.set({ tenant: x.config.name }, x.limiter.budgetState(t).alert ? 1 : 0);
    },
  });

  // --- ledger -----------------------------------------------------------------------------------
  const ledger = UsageLedger.open(options.usageDbPath ?? g.usage.dbPath);
  const flushTimer = setInterval(() => ledger.flush(), 100);
  flushTimer.unref();
  {
    // Budgets survive a restart: spend already recorded this UTC day and month counts again.
    // Restored before pruning, so a retention shorter than a month still restores the month.
    const t = now();
    const dayStart = utcDayStartMs(t);
    for (const x of tenants) {
      const day = ledger.spend(x.config.name, dayStart, dayStart + 86_400_000);
      const month = ledger.spend(x.config.name, utcMonthStartMs(t), utcNextMonthStartMs(t));
      x.limiter.restoreSpend(t, { day, month });
    }
  }
  ledger.prune(now(), g.usage.retentionDays);
  const pruneTimer = setInterval(() => ledger.prune(now(), g.usage.retentionDays), 3_600_000);
  pruneTimer.unref();

  // --- helpers ----------------------------------------------------------------------------------
  const authenticate = (req: http.IncomingMessage): { tenant: Tenant; keyHash: string } => {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
    if (m === null || m[1] === undefined) throw new GatewayError(401, 'missing_api_key', 'no API key: send "Authorization: Bearer <key>"');
    const hash = createHash('sha256').update(m[1].trim()).digest();
    let found: Tenant | undefined;
    // Compare against every hash (no early exit), each in constant time.
    for (const t of tenants) for (const k of t.hashes) if (k.length === hash.length && timingSafeEqual(k, hash) && found === undefined) found = t;
    if (found === undefined) throw new GatewayError(401, 'invalid_api_key', 'the API key is not valid');
    return { tenant: found, keyHash: hash.toString('hex') };
  };

  const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > g.bodyLimitBytes) {
        reject(new GatewayError(413, 'body_too_large', `request body of ${declared} bytes is over the limit of ${g.bodyLimitBytes} bytes`));
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > g.bodyLimitBytes) {
          over = true;
          reject(new GatewayError(413, 'body_too_large', `request body is over the limit of ${g.bodyLimitBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (!over) resolve(Buffer.concat(chunks));
      });
      req.on('error', reject);
    });

  interface Ctx {
    id: string;
    t0: number;
    queueMs: number;
    upstreamMs: number;
    servedBy: string;
    servedModel: string;
    /** Access-log fields the completions path fills in (completions requests only). */
    access?: Partial<AccessLogEntry>;
    /** The request's server span (completions requests, when tracing). */
    span?: Span;
    /** The client's traceparent, passed on to workers as it is when the gateway does not trace. */
    traceparent?: string;
  }

  const baseHeaders = (c: Ctx): Record<string, string> => ({
    'x-request-id': c.id,
    'x-queue-ms': String(Math.round(c.queueMs)),
    'x-served-by': c.servedBy,
    'x-served-model': c.servedModel,
    'server-timing': `queue;dur=${c.queueMs.toFixed(1)}, upstream;dur=${c.upstreamMs.toFixed(1)}`,
  });

  const sendJson = (res: http.ServerResponse, c: Ctx, status: number, body: string, extra: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    res.writeHead(status, { ...baseHeaders(c), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...extra });
    res.end(body);
  };

  const sendError = (res: http.ServerResponse, c: Ctx, e: GatewayError): void => {
    sendJson(res, c, e.status, errorJson(e.status, e.code, e.message, e.param), e.retryAfterS !== undefined ? { 'retry-after': String(Math.max(1, e.retryAfterS)) } : {});
  };

  // --- the completions path ---------------------------------------------------------------------
  const completions = async (req: http.IncomingMessage, res: http.ServerResponse, c: Ctx, chat: boolean): Promise<void> => {
    const { tenant, keyHash } = authenticate(req);
    const tsMs = now();
    let prefixKey: string | undefined;
    let status = 500;
    let errorCode: string | null = null;
    let requestedModel = '';
    let promptTokens = 0;
    let completionTokens = 0;
    let ttftMs: number | null = null;
    let retries = 0;
    let fellBack = false;
    let reservation: Reservation | undefined;
    let usageKnown = false;
    let totalTimer: NodeJS.Timeout | undefined;
    const admission = tracer?.startSpan('admission', { parent: c.span, attributes: { 'floodgate.tenant': tenant.config.name } });
    try {
      const raw = await readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        // V8's message quotes the body around the fault: only its position is passed on, so that
        // no prompt text is echoed into clients' logs.
        const at = /position (\d+)/.exec((err as Error).message)?.[1];
        throw new GatewayError(400, 'invalid_json', `request body is not valid JSON${at !== undefined ? ` (at character ${at})` : ''}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new GatewayError(400, 'invalid_body', 'request body must be a JSON object');
      const body = parsed as Record<string, unknown>;
      if (typeof body.model !== 'string' || body.model === '') throw new GatewayError(400, 'missing_model', "'model' is required and must be a string", 'model');
      requestedModel = body.model;
      if (chat && !Array.isArray(body.messages)) throw new GatewayError(400, 'invalid_messages', "'messages' must be an array", 'messages');
      if (!chat && body.prompt === undefined) throw new GatewayError(400, 'missing_prompt', "'prompt' is required", 'prompt');
      let model = modelByName.get(requestedModel);
      if (model === undefined) throw new GatewayError(404, 'model_not_found', `the model '${requestedModel}' does not exist`, 'model');
      requestedModel = model.name;
      c.servedModel = model.name;
      if (!allowed(tenant.config, model)) throw new GatewayError(403, 'model_not_allowed', `tenant '${tenant.config.name}' may not use model '${model.name}'`, 'model');

      const stream = body.stream === true;
      const so = body.stream_options as { include_usage?: unknown } | undefined;
      const clientWantsUsage = stream && so?.include_usage === true;
      const text = promptText(body, chat);
      promptTokens = estimateTokens(text);
      if (g.routing === 'prefix_affinity') prefixKey = promptPrefixKey(text, g.prefixAffinity.prefixTokens);
      const mt = body.max_completion_tokens ?? body.max_tokens;
      const maxTokens = typeof mt === 'number' && mt > 0 ? Math.floor(mt) : chat ? Math.max(1, model.contextLength - promptTokens) : 16;
      const nowMs = now();
      const adm = tenant.limiter.admit({ reserveTokens: promptTokens + maxTokens, reserveCost: priceOf(model, promptTokens, maxTokens), nowMs });
      admission?.setAttributes({ 'floodgate.reserved_tokens': promptTokens + maxTokens, 'floodgate.admitted': adm.ok });
      if (!adm.ok) {
        admission?.setStatus('error', adm.code);
        rateLimited.inc({ tenant: tenant.config.name, code: adm.code });
        throw new GatewayError(429, adm.code, adm.message, null, Math.ceil(adm.retryAfterMs / 1000));
      }
      reservation = adm.reservation;
      if (body.priority !== undefined && body.priority !== null && (typeof body.priority !== 'number' || !Number.isInteger(body.priority))) {
        throw new GatewayError(400, 'invalid_priority', `priority must be an integer class (0 is served first, 9 last), got ${JSON.stringify(body.priority)}`, 'priority');
      }
      const priority = effectivePriority(typeof body.priority === 'number' ? body.priority : undefined, tenant.config);
      admission?.setAttribute('floodgate.priority', priority).end();
      c.span?.setAttributes({ 'gen_ai.request.model': requestedModel, 'floodgate.priority': priority, 'floodgate.stream': stream });
      // The gateway owns priority; vLLM refuses it unless started with priority scheduling.
      delete body.priority;
      if (stream) body.stream_options = { ...(so ?? {}), include_usage: true };

      // `abort`: the client went away. `total`: that, or the total timeout (one timer, cleared at the end).
      const abort = new AbortController();
      const total = new AbortController();
      totalTimer = setTimeout(() => total.abort(new DOMException(`no answer within ${g.timeouts.totalMs} ms`, 'TimeoutError')), g.timeouts.totalMs);
      totalTimer.unref();
      res.on('close', () => {
        if (res.writableFinished) return;
        abort.abort();
        total.abort();
      });
      const totalSignal = total.signal;

      const chain = [model, ...model.fallback.map((n) => modelByName.get(n)).filter((x): x is ModelConfig => x !== undefined)];
      let lastError: GatewayError | undefined;
      let chainIdx = 0;
      let attempt = 0;
      let excluded = new Set<string>();
      const tQueue = performance.now();
      let firstSlot = true;
      for (;;) {
        model = chain[chainIdx]!;
        body.model = model.servedModelName;
        let slot: { worker: WorkerState; release: () => void };
        try {
          const tq = performance.now();
          const queueSpan = tracer?.startSpan('queue', { parent: c.span, attributes: { 'floodgate.model': model.name, 'floodgate.attempt': attempt } });
          slot = await acquire(model, `${c.id}#${chainIdx}.${attempt}`, tenant.config, priority, excluded, prefixKey, promptTokens + maxTokens, abort.signal).finally(() => queueSpan?.end());
          if (firstSlot) {
            firstSlot = false;
            c.queueMs = performance.now() - tQueue;
            queueTimeOf(model.name).observe(c.queueMs / 1000);
          } else c.queueMs += performance.now() - tq;
        } catch (err) {
          if (err instanceof GatewayError && err.code === 'queue_full') rateLimited.inc({ tenant: tenant.config.name, code: 'queue_full' });
          if (err instanceof GatewayError && err.code === 'no_worker' && lastError !== undefined) throw lastError;
          throw err;
        }
        const { worker, release } = slot;
        c.servedBy = worker.name;
        c.servedModel = model.name;
        const tUp = performance.now();
        const attemptSpan = tracer?.startSpan('upstream', {
          parent: c.span,
          kind: 'client',
          attributes: { 'floodgate.worker': worker.name, 'floodgate.model': model.name, 'floodgate.attempt': attempt, 'server.address': worker.url },
        });
        const upHeaders: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': c.id };
        const tp = attemptSpan?.traceparent() ?? c.traceparent;
        if (tp !== undefined) upHeaders.traceparent = tp;
        let upstream: Dispatcher.ResponseData;
        try {
          upstream = await undiciRequest(`${worker.url}/${chat ? 'chat/completions' : 'completions'}`, {
            method: 'POST',
            dispatcher: agent,
            signal: totalSignal,
            headers: upHeaders,
            body: JSON.stringify(body),
          });
        } catch (err) {
          attemptSpan?.setStatus('error', String((err as { code?: unknown }).code ?? (err as Error).name)).end();
          release();
          if (abort.signal.aborted) throw new GatewayError(408, 'client_closed', 'the client went away');
          const code = (err as { code?: unknown }).code;
          pool.markFailure(worker.name, `relay: ${String(code ?? (err as Error).message)}`);
          lastError = new GatewayError(typeof code === 'string' && code.includes('TIMEOUT') ? 504 : 502, 'upstream_unavailable', `worker '${worker.name}' did not answer: ${String(code ?? (err as Error).message)}`);
          if (attempt >= g.retries.max) throw lastError;
          attempt++;
          retries++;
          retriesTotal.inc({ model: model.name });
          c.span?.addEvent('retry', { 'floodgate.worker': worker.name, 'floodgate.reason': 'upstream_unavailable' });
          excluded.add(worker.name);
          await delay(g.retries.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
          continue;
        }
        attemptSpan?.setAttribute('http.response.status_code', upstream.statusCode);
        if (upstream.statusCode >= 400) {
          const text = await upstream.body.text().catch(() => '');
          attemptSpan?.setStatus('error', `status ${upstream.statusCode}`).end();
          release();
          c.upstreamMs += performance.now() - tUp;
          const um = upstreamMessage(text);
          const reason = fallbackReason(upstream.statusCode, um.message, um.type);
          if (upstream.statusCode >= 500) pool.markFailure(worker.name, `relay: status ${upstream.statusCode}`);
          if (reason !== undefined && chainIdx + 1 < chain.length) {
            fallbacksTotal.inc({ from: model.name, to: chain[chainIdx + 1]!.name, reason });
            c.span?.addEvent('fallback', { 'floodgate.from': model.name, 'floodgate.to': chain[chainIdx + 1]!.name, 'floodgate.reason': reason });
            fellBack = true;
            chainIdx++;
            excluded = new Set();
            continue;
          }
          const st = upstream.statusCode;
          lastError = new GatewayError(st, reason ?? (st >= 500 ? 'upstream_error' : 'invalid_request'), `worker '${worker.name}': ${um.message}`);
          if (st >= 500 && reason === undefined && attempt < g.retries.max) {
            attempt++;
            retries++;
            retriesTotal.inc({ model: model.name });
            c.span?.addEvent('retry', { 'floodgate.worker': worker.name, 'floodgate.reason': `status ${st}` });
            excluded.add(worker.name);
            await delay(g.retries.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
            continue;
          }
          throw lastError;
        }
        pool.markSuccess(worker.name);
        // --- relay the success ---
        try {
          if (!stream) {
            const buf = Buffer.from(await upstream.body.arrayBuffer());
            c.upstreamMs += performance.now() - tUp;
            try {
              const u = (JSON.parse(buf.toString('utf8')) as { usage?: { prompt_tokens?: number; completion_tokens?: number } }).usage;
              if (u !== undefined) {
                promptTokens = u.prompt_tokens ?? promptTokens;
                completionTokens = u.completion_tokens ?? 0;
                usageKnown = true;
              }
            } catch {
              // A body we cannot read is relayed as it is; usage stays estimated.
            }
            // Non-streaming: the first byte the client gets is the whole answer's.
            ttftMs = performance.now() - c.t0;
            ttftOf(requestedModel).observe(ttftMs / 1000);
            status = upstream.statusCode;
            res.writeHead(status, { ...baseHeaders(c), 'content-type': String(upstream.headers['content-type'] ?? 'application/json'), 'content-length': String(buf.length) });
            res.end(buf);
          } else {
            status = upstream.statusCode;
            res.writeHead(status, { ...baseHeaders(c), 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
            res.flushHeaders();
            let pending = '';
            const decoder = new TextDecoder();
            const handleEvent = (ev: string): void => {
              const data = ev.startsWith('data:') ? ev.slice(5).trim() : undefined;
              if (data !== undefined && data !== '[DONE]' && data.includes('"usage"')) {
                try {
                  const j = JSON.parse(data) as { choices?: unknown[]; usage?: { prompt_tokens?: number; completion_tokens?: number } | null; error?: unknown };
                  if (j.usage) {
                    promptTokens = j.usage.prompt_tokens ?? promptTokens;
                    completionTokens = j.usage.completion_tokens ?? completionTokens;
                    usageKnown = true;
                    if (!clientWantsUsage && Array.isArray(j.choices) && j.choices.length === 0) return;
                  }
                } catch {
                  // Not JSON: relayed as it is.
                }
              }
              if (data !== undefined && data.startsWith('{"error"')) errorCode = 'upstream_stream_error';
              if (ttftMs === null) {
                ttftMs = performance.now() - c.t0;
                ttftOf(requestedModel).observe(ttftMs / 1000);
              }
              res.write(`${ev}\n\n`);
            };
            try {
              for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
                pending += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
                for (let i = pending.indexOf('\n\n'); i >= 0; i = pending.indexOf('\n\n')) {
                  const ev = pending.slice(0, i);
                  pending = pending.slice(i + 2);
                  if (ev.length > 0) handleEvent(ev);
                }
              }
              if (pending.trim().length > 0) handleEvent(pending.trim());
            } catch (err) {
              if (!abort.signal.aborted) {
                errorCode = 'upstream_stream_error';
                res.write(`data: ${errorJson(502, 'upstream_stream_error', `worker '${worker.name}' failed mid-stream: ${(err as { code?: string }).code ?? (err as Error).message}`)}\n\n`);
                res.write('data: [DONE]\n\n');
              }
            }
            c.upstreamMs += performance.now() - tUp;
            res.end();
          }
        } finally {
          if (errorCode === 'upstream_stream_error') attemptSpan?.setStatus('error', 'upstream_stream_error');
          attemptSpan?.end();
          release();
        }
        break;
      }
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError(500, 'internal_error', `gateway error: ${(err as Error).message}`);
      status = e.status;
      errorCode = e.code;
      sendError(res, c, e);
    } finally {
      clearTimeout(totalTimer);
      admission?.end();
      c.span?.setAttributes({
        'floodgate.tenant': tenant.config.name,
        'gen_ai.response.model': c.servedModel,
        'floodgate.served_by': c.servedBy,
        'floodgate.queue_ms': c.queueMs,
        'floodgate.retries': retries,
        'floodgate.fallback': fellBack,
        ...(usageKnown ? { 'gen_ai.usage.input_tokens': promptTokens, 'gen_ai.usage.output_tokens': completionTokens } : {}),
        ...(ttftMs !== null ? { 'floodgate.ttft_ms': ttftMs } : {}),
      });
      const actualCost = usageKnown ? priceOf(modelByName.get(c.servedModel) ?? { priceInputPer1M: 0, priceOutputPer1M: 0 }, promptTokens, completionTokens) : 0;
      if (reservation !== undefined) {
        if (usageKnown) tenant.limiter.settle(reservation, promptTokens + completionTokens, actualCost);
        else tenant.limiter.release(reservation);
      }
      const e2eMs = performance.now() - c.t0;
      c.access = {
        ...c.access,
        tenant: tenant.config.name,
        keyId: keyIdFromHash(keyHash),
        model: requestedModel === '' ? null : requestedModel,
        status,
        errorCode,
        ttftMs,
        promptTokens: usageKnown ? promptTokens : 0,
        completionTokens: usageKnown ? completionTokens : 0,
        retries,
        fallback: fellBack,
      };
      requestsOf(tenant.config.name, requestedModel || 'unknown', status).inc();
      if (requestedModel !== '') {
        e2eOf(requestedModel).observe(e2eMs / 1000);
        if (usageKnown) {
          const k = `${tenant.config.name}\n${requestedModel}`;
          promptTokensOf(k).inc(promptTokens);
          completionTokensOf(k).inc(completionTokens);
          if (actualCost > 0) costOf(k).inc(actualCost);
        }
        ledger.record({
          tsMs,
          requestId: c.id,
          tenant: tenant.config.name,
          keyId: keyIdFromHash(keyHash),
          model: requestedModel,
          servedModel: c.servedModel,
          promptTokens: usageKnown ? promptTokens : 0,
          completionTokens: usageKnown ? completionTokens : 0,
          cost: actualCost,
          status,
          errorCode,
          queueMs: c.queueMs,
          ttftMs,
          e2eMs,
          retries,
          fallback: fellBack,
        });
      }
    }
  };

  // --- the server -------------------------------------------------------------------------------
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
    const c: Ctx = { id, t0: performance.now(), queueMs: 0, upstreamMs: 0, servedBy: 'gateway', servedModel: 'none' };
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
        c.access = { timeMs: now() };
        const parent = extractTraceContext(req.headers);
        if (tracer !== undefined) {
          c.span = tracer.startSpan(`POST ${path}`, {
            ...(parent ? { parent } : {}),
            kind: 'server',
            attributes: { 'http.request.method': 'POST', 'url.path': path, 'floodgate.request_id': id },
          });
        } else if (parent !== undefined) {
          const tp = req.headers.traceparent;
          c.traceparent = Array.isArray(tp) ? tp[0] : tp;
        }
        await completions(req, res, c, path === '/v1/chat/completions');
        return;
      }
      if (req.method === 'POST' && (path === '/tokenize' || path === '/detokenize')) {
        // vLLM's tokenizer endpoints, forwarded to a healthy worker of the requested model, so
        // that clients (the harness among them) can size prompts exactly through the gateway.
        const { tenant } = authenticate(req);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
        } catch (err) {
          if (err instanceof GatewayError) throw err;
          throw new GatewayError(400, 'invalid_json', 'the request body is not valid JSON');
        }
        const model = typeof body.model === 'string' ? modelByName.get(body.model) : undefined;
        if (model === undefined) throw new GatewayError(404, 'model_not_found', `The model \`${String(body.model)}\` does not exist.`);
        if (!allowed(tenant.config, model)) throw new GatewayError(403, 'model_not_allowed', `tenant "${tenant.config.name}" may not use model "${model.name}"`);
        const worker = model.workers.map((w) => pool.get(w)).find((w) => w !== undefined && w.health === 'healthy');
        if (worker === undefined) throw new GatewayError(503, 'no_worker', `no healthy worker serves "${model.name}"`);
        const up = await undiciRequest(`${worker.url.replace(/\/v1\/?$/, '')}${path}`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', 'x-request-id': c.id },
          body: JSON.stringify({ ...body, model: model.servedModelName }),
        });
        let text = await up.body.text();
        // The context length clients may use is the gateway's, not the worker's.
        if (up.statusCode === 200 && path === '/tokenize') {
          try {
            const j = JSON.parse(text) as Record<string, unknown>;
            if (typeof j.max_model_len === 'number') text = JSON.stringify({ ...j, max_model_len: Math.min(j.max_model_len, model.contextLength) });
          } catch {
            // pass the worker's answer through as it is
          }
        }
        c.servedBy = worker.name;
        c.servedModel = model.name;
        return sendJson(res, c, up.statusCode, text);
      }
      if (req.method === 'GET' && path === '/health') return sendJson(res, c, 200, '{"status":"ok"}');
      if (req.method === 'GET' && path === '/ready') {
        const notReady = stack.models.filter((m) => !m.workers.some((w) => pool.get(w)?.health === 'healthy')).map((m) => m.name);
        return sendJson(res, c, notReady.length === 0 ? 200 : 503, JSON.stringify({ ready: notReady.length === 0, models_without_workers: notReady }));
      }
      if (req.method === 'GET' && path === '/metrics') {
        const text = await registry.metrics();
        res.writeHead(200, { ...baseHeaders(c), 'content-type': registry.contentType });
        res.end(text);
        return;
      }
      if (req.method === 'GET' && path === '/sd/prometheus') {
        // Prometheus HTTP service discovery: the workers' /metrics endpoints (their ports are
        // often chosen at start), labelled with the worker and the models it serves.
        const groups = pool.all().map((w) => {
          const u = new URL(w.metricsUrl);
          return {
            targets: [u.host],
            labels: {
              __scheme__: u.protocol.replace(':', ''),
              __metrics_path__: u.pathname,
              worker: w.name,
              served_models: (modelsOfWorker.get(w.name) ?? []).map((m) => m.name).join(','),
            },
          };
        });
        return sendJson(res, c, 200, JSON.stringify(groups));
      }
      if (req.method === 'GET' && path === '/v1/models') {
        const { tenant } = authenticate(req);
        const created = Math.floor(now() / 1000);
        const data = stack.models.filter((m) => allowed(tenant.config, m)).map((m) => ({ id: m.name, object: 'model', created, owned_by: 'floodgate', max_model_len: m.contextLength, aliases: m.aliases }));
        return sendJson(res, c, 200, JSON.stringify({ object: 'list', data }));
      }
      if (req.method === 'GET' && path === '/v1/usage') {
        const { tenant } = authenticate(req);
        const t = now();
        const end = t + 1;
        const today = ledger.usage(tenant.config.name, utcDayStartMs(t), end);
        const month = ledger.usage(tenant.config.name, utcMonthStartMs(t), end);
        return sendJson(res, c, 200, JSON.stringify({ object: 'usage', tenant: tenant.config.name, currency: stack.currency, today, month }));
      }
      throw new GatewayError(404, 'not_found', `no route for ${req.method ?? '?'} ${path}`);
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError(500, 'internal_error', `gateway error: ${(err as Error).message}`);
      if (c.access !== undefined && c.access.status === undefined) c.access = { ...c.access, status: e.status, errorCode: e.code };
      sendError(res, c, e);
    } finally {
      if (c.access !== undefined && options.log !== undefined) writeAccessLog(options.log, c, c.access);
      if (c.span !== undefined) {
        const st = c.access?.status ?? res.statusCode;
        c.span.setAttribute('http.response.status_code', st);
        if (st >= 500 || c.access?.errorCode === 'upstream_stream_error') c.span.setStatus('error', c.access?.errorCode ?? `status ${st}`);
        c.span.end();
      }
    }
  };

  const writeAccessLog = (log: NodeJS.WritableStream, c: Ctx, a: Partial<AccessLogEntry>): void => {
    const served = c.servedBy !== 'gateway';
    const line = formatAccessLog({
      timeMs: a.timeMs ?? now(),
      requestId: c.id,
      tenant: a.tenant ?? null,
      keyId: a.keyId ?? null,
      model: a.model ?? null,
      servedModel: served ? c.servedModel : null,
      servedBy: served ? c.servedBy : null,
      status: a.status ?? 500,
      errorCode: a.errorCode ?? null,
      queueMs: c.queueMs,
      ttftMs: a.ttftMs ?? null,
      e2eMs: performance.now() - c.t0,
      promptTokens: a.promptTokens ?? 0,
      completionTokens: a.completionTokens ?? 0,
      retries: a.retries ?? 0,
      fallback: a.fallback ?? false,
    });
    try {
      log.write(line);
    } catch {
      // The access log is best effort: a broken log stream never fails a request.
    }
  };

  /** Requests being handled; close() waits for them, so that each one's usage row is written. */
  const inFlight = new Set<Promise<void>>();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const p = handle(req, res)
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.end();
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  // HTTPS when the stack names a certificate and key (PEM files; read once, at start).
  const server = g.tls === undefined ? http.createServer(onRequest) : https.createServer({ cert: fs.readFileSync(g.tls.certPath), key: fs.readFileSync(g.tls.keyPath) }, onRequest);
  const host = options.host ?? g.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? g.port, host, () => resolve());
  });
  checker.start();
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `${g.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    registry,
    close() {
      closed ??= (async () => {
        clearInterval(flushTimer);
        clearInterval(pruneTimer);
        await checker.stop();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        const stopping = (w: Waiter): void => {
          clearTimeout(w.timer);
          w.reject(new GatewayError(503, 'shutting_down', 'the gateway is shutting down'));
        };
        for (const q of queues.values()) for (let x = q.dequeue(); x !== undefined; x = q.dequeue()) stopping(x.payload);
        for (const lane of retryLanes.values()) for (const w of lane.splice(0)) stopping(w);
        // Their sockets are closed and their queue places refused: each finishes now, and its
        // usage row goes into the ledger before the ledger closes.
        await Promise.allSettled([...inFlight]);
        await agent.close();
        ledger.close();
        // A tracer the gateway made itself is flushed and stopped; one passed in is the caller's.
        if (options.tracer === undefined) await tracer?.shutdown();
      })();
      return closed;
    },
  };
}
