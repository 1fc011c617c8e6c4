/**
 * OpenTelemetry tracing without the SDK: W3C Trace Context propagation (traceparent, tracestate),
 * a Tracer whose Spans are plain objects, and an OTLP/HTTP exporter (protocol http/json) with a
 * batching queue. Shared by the load-generating harness and the reference gateway; it has no
 * dependency beyond node:http/https/crypto.
 *
 * What must stay true:
 * - It never exports prompt or completion text. Span names and attribute and event values that a
 *   caller passes are the only content that leaves the process; callers pass sizes, token counts,
 *   ids, status codes and timings, never message bodies. `recordException` exports the error's
 *   name, message and stack, so errors whose message may quote a body must not be passed to it.
 * - Tracing off costs nothing: `tracerFromEnv` returns `undefined` when no OTLP endpoint is
 *   configured (or the SDK is disabled), and call sites write `tracer?.startSpan(...)`.
 * - Telemetry never breaks the caller: export failures (refused connection, non-2xx, timeout)
 *   are counted in `stats()`, never thrown; a full queue drops spans and counts them.
 * - Ids always propagate: a span under an unsampled parent is not recorded or exported, but it
 *   has its own span id and `traceparent()` still carries the trace downstream.
 *
 * Sampling is parent-based: a span with a parent follows the parent's sampled flag; a root span
 * is sampled with probability `rootSampleRatio` (default 1), decided from its trace id.
 *
 * Times are epoch milliseconds with sub-millisecond precision (`nowMs()`: performance.timeOrigin
 * + performance.now()), exported as unix-nanosecond decimal strings as OTLP/JSON requires.
 * Configuration from the environment follows the OpenTelemetry specification (see tracerFromEnv).
 */

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------------------------------------
// Ids and W3C Trace Context

/** The propagated part of a span: what a traceparent (and tracestate) header carries. */
export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  sampled: boolean;
  /** A validated tracestate header value, passed through unchanged. */
  traceState?: string | undefined;
}

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const s = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}

/** A random 16-byte trace id as 32 lowercase hex digits; never all zero. */
export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO_TRACE_ID) id = randomHex(16);
  return id;
}

/** A random 8-byte span id as 16 lowercase hex digits; never all zero. */
export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO_SPAN_ID) id = randomHex(8);
  return id;
}

const TRACE_ID_RE = /^[0-9a-f]{32}$/;
const SPAN_ID_RE = /^[0-9a-f]{16}$/;
const HEX2_RE = /^[0-9a-f]{2}$/;

/** Whether s is a valid trace id: 32 lowercase hex digits, not all zero. */
export function isValidTraceId(s: string): boolean {
  return TRACE_ID_RE.test(s) && s !== ZERO_TRACE_ID;
}

/** Whether s is a valid span id: 16 lowercase hex digits, not all zero. */
export function isValidSpanId(s: string): boolean {
  return SPAN_ID_RE.test(s) && s !== ZERO_SPAN_ID;
}

/**
 * Parses a traceparent header (W3C Trace Context level 1). Version 00 must be exactly
 * `00-<32 hex>-<16 hex>-<2 hex>`, lowercase; ids must not be all zero. A higher version (not ff)
 * is parsed by the version-00 layout of its first 55 characters, which must be followed by the
 * end of the value or a '-'. Returns undefined for anything invalid, including a repeated header.
 * The returned spanId is the caller's span: the parent of the span this side starts.
 */
export function parseTraceparent(header: string | readonly string[] | undefined): SpanContext | undefined {
  if (header === undefined) return undefined;
  let h: string;
  if (typeof header === 'string') h = header;
  else if (header.length === 1) h = header[0]!;
  else return undefined;
  h = h.trim();
  if (h.length < 55) return undefined;
  const version = h.slice(0, 2);
  if (!HEX2_RE.test(version) || version === 'ff') return undefined;
  if (version === '00' ? h.length !== 55 : h.length > 55 && h[55] !== '-') return undefined;
  if (h[2] !== '-' || h[35] !== '-' || h[52] !== '-') return undefined;
  const traceId = h.slice(3, 35);
  const spanId = h.slice(36, 52);
  const flags = h.slice(53, 55);
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId) || !HEX2_RE.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** The version-00 traceparent header value for a span context. */
export function formatTraceparent(ctx: { traceId: string; spanId: string; sampled: boolean }): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

const TS_KEY_RE = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
// Printable ASCII except ',' and '=', not ending in a space, 1..256 characters.
const TS_VALUE_RE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const TS_MAX_MEMBERS = 32;

/**
 * Validates a tracestate header (repeated headers are joined) for passthrough: empty members are
 * dropped, whitespace around members trimmed. Returns undefined when it is absent, empty, or
 * invalid (a bad key or value, a duplicate key, more than 32 members): then nothing is forwarded.
 */
export function normalizeTracestate(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const joined = typeof header === 'string' ? header : header.join(',');
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of joined.split(',')) {
    const m = raw.trim();
    if (m === '') continue;
    const eq = m.indexOf('=');
    if (eq <= 0) return undefined;
    const key = m.slice(0, eq);
    const value = m.slice(eq + 1);
    if (!TS_KEY_RE.test(key) || !TS_VALUE_RE.test(value) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(m);
  }
  if (members.length === 0 || members.length > TS_MAX_MEMBERS) return undefined;
  return members.join(',');
}

/**
 * The incoming span context from request headers (node's IncomingHttpHeaders fit): traceparent,
 * plus tracestate when the traceparent is valid. Undefined when there is no valid traceparent.
 */
export function extractTraceContext(headers: Readonly<Record<string, string | readonly string[] | undefined>>): SpanContext | undefined {
  const ctx = parseTraceparent(headers['traceparent']);
  if (ctx === undefined) return undefined;
  const ts = normalizeTracestate(headers['tracestate']);
  if (ts !== undefined) ctx.traceState = ts;
  return ctx;
}

/** Sets traceparent (and tracestate when there is one) on outgoing headers, with ctx as parent. */
export function injectTraceContext(ctx: SpanContext, headers: Record<string, string>): Record<string, string> {
  headers['traceparent'] = formatTraceparent(ctx);
  if (ctx.traceState !== undefined) headers['tracestate'] = ctx.traceState;
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Time

/** Current time as epoch milliseconds with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Epoch milliseconds (fractional) as a unix-nanosecond decimal string; negative clamps to '0'. */
export function msToUnixNanos(ms: number): string {
  if (!(ms > 0)) return '0';
  let whole = Math.floor(ms);
  let frac = Math.round((ms - whole) * 1e6);
  if (frac >= 1e6) {
    whole += 1;
    frac -= 1e6;
  }
  return whole === 0 ? String(frac) : String(whole) + String(frac).padStart(6, '0');
}

// ---------------------------------------------------------------------------------------------
// Spans

export type AttributeScalar = string | number | boolean | bigint;
export type AttributeValue = AttributeScalar | readonly AttributeScalar[];
/** Attributes as callers pass them; undefined and null values are skipped. */
export type Attributes = Readonly<Record<string, AttributeValue | undefined | null>>;

export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
/** OTLP SpanKind enum values. */
export const SPAN_KIND: Readonly<Record<SpanKindName, number>> = Object.freeze({ internal: 1, server: 2, client: 3, producer: 4, consumer: 5 });
/** OTLP StatusCode enum values. */
export const STATUS_CODE = Object.freeze({ unset: 0, ok: 1, error: 2 } as const);

/** Per-span limits (the OTel defaults): further new attributes / events are dropped and counted. */
export const SPAN_ATTRIBUTE_COUNT_LIMIT = 128;
export const SPAN_EVENT_COUNT_LIMIT = 128;

export interface Resource {
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export interface InstrumentationScope {
  readonly name: string;
  readonly version?: string | undefined;
}

export interface SpanEvent {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** A finished span as exporters see it. */
export interface ReadableSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly traceState: string | undefined;
  readonly name: string;
  readonly kind: SpanKindName;
  readonly startTimeMs: number;
  readonly endTimeMs: number | undefined;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: readonly SpanEvent[];
  readonly status: { readonly code: 'unset' | 'ok' | 'error'; readonly message?: string | undefined };
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
}

export interface StartSpanOptions {
  /** A parsed incoming context (parseTraceparent / extractTraceContext) or a local Span. */
  parent?: SpanContext | Span | undefined;
  kind?: SpanKindName | undefined;
  attributes?: Attributes | undefined;
  /** Epoch ms (see nowMs); default now. */
  startTimeMs?: number | undefined;
}

function copyValue(v: AttributeValue): AttributeValue {
  return Array.isArray(v) ? Object.freeze(v.slice()) : v;
}

/**
 * One operation. Mutators return the span for chaining and are no-ops once it has ended or when
 * it is not sampled (isRecording false). Its ids and traceparent() are valid either way.
 */
export class Span implements ReadableSpan, SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly sampled: boolean;
  readonly traceState: string | undefined;
  readonly name: string;
  readonly kind: SpanKindName;
  readonly startTimeMs: number;
  endTimeMs: number | undefined = undefined;
  readonly attributes: Record<string, AttributeValue> = Object.create(null) as Record<string, AttributeValue>;
  readonly events: SpanEvent[] = [];
  status: { code: 'unset' | 'ok' | 'error'; message?: string | undefined } = { code: 'unset' };
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  private attributeCount = 0;
  private readonly exporter: SpanExporter | undefined;

  /** @internal Use Tracer.startSpan. */
  constructor(
    init: {
      traceId: string;
      spanId: string;
      parentSpanId: string | undefined;
      sampled: boolean;
      traceState: string | undefined;
      name: string;
      kind: SpanKindName;
      startTimeMs: number;
      resource: Resource;
      scope: InstrumentationScope;
    },
    exporter: SpanExporter | undefined,
  ) {
    this.traceId = init.traceId;
    this.spanId = init.spanId;
    this.parentSpanId = init.parentSpanId;
    this.sampled = init.sampled;
    this.traceState = init.traceState;
    this.name = init.name;
    this.kind = init.kind;
    this.startTimeMs = init.startTimeMs;
    this.resource = init.resource;
    this.scope = init.scope;
    this.exporter = exporter;
  }

  /** True while the span is sampled and not yet ended. */
  get isRecording(): boolean {
    return this.sampled && this.endTimeMs === undefined;
  }

  get ended(): boolean {
    return this.endTimeMs !== undefined;
  }

  setAttribute(key: string, value: AttributeValue | undefined | null): this {
    if (!this.isRecording || value === undefined || value === null) return this;
    if (!(key in this.attributes)) {
      if (this.attributeCount >= SPAN_ATTRIBUTE_COUNT_LIMIT) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount++;
    }
    this.attributes[key] = copyValue(value);
    return this;
  }

  setAttributes(attrs: Attributes): this {
    if (!this.isRecording) return this;
    for (const k of Object.keys(attrs)) this.setAttribute(k, attrs[k]);
    return this;
  }

  addEvent(name: string, attributes?: Attributes, timeMs?: number): this {
    if (!this.isRecording) return this;
    if (this.events.length >= SPAN_EVENT_COUNT_LIMIT) {
      this.droppedEventsCount++;
      return this;
    }
    const attrs = Object.create(null) as Record<string, AttributeValue>;
    if (attributes !== undefined) {
      for (const k of Object.keys(attributes)) {
        const v = attributes[k];
        if (v !== undefined && v !== null) attrs[k] = copyValue(v);
      }
    }
    this.events.push({ name, timeMs: timeMs ?? nowMs(), attributes: attrs });
    return this;
  }

  /** Sets the status; 'ok' is final (later calls are ignored), the message is kept for 'error' only. */
  setStatus(code: 'ok' | 'error', message?: string): this {
    if (!this.isRecording || this.status.code === 'ok') return this;
    this.status = code === 'error' ? { code, message } : { code };
    return this;
  }

  /**
   * Adds an `exception` event (exception.type, exception.message, exception.stacktrace). It does
   * not set the status; call setStatus('error') as well when the exception failed the operation.
   */
  recordException(err: unknown, timeMs?: number): this {
    if (!this.isRecording) return this;
    const attrs: Record<string, string> = {};
    if (err instanceof Error) {
      attrs['exception.type'] = err.name;
      attrs['exception.message'] = err.message;
      if (err.stack !== undefined) attrs['exception.stacktrace'] = err.stack;
    } else {
      attrs['exception.type'] = typeof err;
      attrs['exception.message'] = String(err);
    }
    return this.addEvent('exception', attrs, timeMs);
  }

  /** Ends the span (idempotent): the first call fixes the end time and hands it to the exporter. */
  end(endTimeMs?: number): void {
    if (this.endTimeMs !== undefined) return;
    const t = endTimeMs ?? nowMs();
    this.endTimeMs = t >= this.startTimeMs ? t : this.startTimeMs;
    if (this.sampled && this.exporter !== undefined) this.exporter.export(this);
  }

  /** The traceparent header value that makes this span the parent of the downstream span. */
  traceparent(): string {
    return formatTraceparent(this);
  }

  /** The tracestate header value to forward, if the trace carries one. */
  tracestate(): string | undefined {
    return this.traceState;
  }

  /** This span's propagated context. */
  context(): SpanContext {
    return { traceId: this.traceId, spanId: this.spanId, sampled: this.sampled, traceState: this.traceState };
  }
}

// ---------------------------------------------------------------------------------------------
// Exporters

export interface ExporterStats {
  /** Spans delivered (2xx answer). */
  exported: number;
  /** Spans dropped: queue full, or ended after shutdown. */
  dropped: number;
  /** Export requests that failed: connection error, non-2xx, timeout. Their spans are lost. */
  failedExports: number;
}

/** Receives ended, sampled spans. export() must not throw or block. */
export interface SpanExporter {
  export(span: ReadableSpan): void;
  /** Resolves once every span handed over before the call has been sent (or has failed). */
  forceFlush(): Promise<void>;
  /** Refuses further spans (counted as dropped), then sends what is queued. Idempotent. */
  shutdown(): Promise<void>;
  stats(): ExporterStats;
}

/** Keeps spans in memory (tests, debugging). */
export interface MemoryExporter extends SpanExporter {
  readonly spans: ReadableSpan[];
  reset(): void;
}

export function createMemoryExporter(): MemoryExporter {
  const spans: ReadableSpan[] = [];
  let stopped = false;
  let dropped = 0;
  return {
    spans,
    export(span) {
      if (stopped) dropped++;
      else spans.push(span);
    },
    forceFlush: () => Promise.resolve(),
    shutdown() {
      stopped = true;
      return Promise.resolve();
    },
    stats: () => ({ exported: spans.length, dropped, failedExports: 0 }),
    reset() {
      spans.length = 0;
    },
  };
}

// --- OTLP/JSON encoding (opentelemetry-proto, JSON mapping: hex ids, int64 as strings) ---

export type OtlpAnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number | string }
  | { boolValue: boolean }
  | { arrayValue: { values: OtlpAnyValue[] } };

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  traceState?: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events: { timeUnixNano: string; name: string; attributes: OtlpKeyValue[] }[];
  droppedEventsCount?: number;
  status: { code: number; message?: string };
}

export interface ExportTraceServiceRequest {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
}

function encodeScalar(v: AttributeScalar): OtlpAnyValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    default:
      if (Number.isSafeInteger(v)) return { intValue: String(v) };
      if (Number.isFinite(v)) return { doubleValue: v };
      // proto3 JSON spells the non-finite doubles as strings.
      return { doubleValue: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
  }
}

/** One attribute value in OTLP/JSON form: integers -> intValue (string), other numbers -> doubleValue. */
export function encodeAttributeValue(v: AttributeValue): OtlpAnyValue {
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x: AttributeScalar) => encodeScalar(x)) } };
  return encodeScalar(v as AttributeScalar);
}

export function encodeAttributes(attrs: Readonly<Record<string, AttributeValue>>): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key of Object.keys(attrs)) out.push({ key, value: encodeAttributeValue(attrs[key]!) });
  return out;
}

function encodeSpan(s: ReadableSpan): OtlpSpan {
  const o: OtlpSpan = {
    traceId: s.traceId,
    spanId: s.spanId,
    name: s.name,
    kind: SPAN_KIND[s.kind],
    startTimeUnixNano: msToUnixNanos(s.startTimeMs),
    endTimeUnixNano: msToUnixNanos(s.endTimeMs ?? s.startTimeMs),
    attributes: encodeAttributes(s.attributes),
    events: s.events.map((e) => ({ timeUnixNano: msToUnixNanos(e.timeMs), name: e.name, attributes: encodeAttributes(e.attributes) })),
    status: { code: STATUS_CODE[s.status.code] },
  };
  if (s.traceState !== undefined) o.traceState = s.traceState;
  if (s.parentSpanId !== undefined) o.parentSpanId = s.parentSpanId;
  if (s.droppedAttributesCount > 0) o.droppedAttributesCount = s.droppedAttributesCount;
  if (s.droppedEventsCount > 0) o.droppedEventsCount = s.droppedEventsCount;
  if (s.status.code === 'error' && s.status.message !== undefined) o.status.message = s.status.message;
  return o;
}

/** The ExportTraceServiceRequest for spans, grouped by resource and scope (by identity). */
export function encodeExportRequest(spans: readonly ReadableSpan[]): ExportTraceServiceRequest {
  const byResource = new Map<Resource, Map<InstrumentationScope, OtlpSpan[]>>();
  for (const s of spans) {
    let byScope = byResource.get(s.resource);
    if (byScope === undefined) byResource.set(s.resource, (byScope = new Map()));
    let list = byScope.get(s.scope);
    if (list === undefined) byScope.set(s.scope, (list = []));
    list.push(encodeSpan(s));
  }
  const req: ExportTraceServiceRequest = { resourceSpans: [] };
  for (const [resource, byScope] of byResource) {
    const scopeSpans: ExportTraceServiceRequest['resourceSpans'][number]['scopeSpans'] = [];
    for (const [scope, list] of byScope) {
      const sc: { name: string; version?: string } = { name: scope.name };
      if (scope.version !== undefined) sc.version = scope.version;
      scopeSpans.push({ scope: sc, spans: list });
    }
    req.resourceSpans.push({ resource: { attributes: encodeAttributes(resource.attributes) }, scopeSpans });
  }
  return req;
}

// --- OTLP/HTTP exporter ---

export interface OtlpHttpExporterOptions {
  /** Full traces URL, used as is (e.g. http://collector:4318/v1/traces). */
  url?: string | undefined;
  /** Base URL; '/v1/traces' is appended. Give url or endpoint. */
  endpoint?: string | undefined;
  /** Extra request headers (authorization, tenant, ...). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Per export request, ms; default 10000. */
  timeoutMs?: number | undefined;
  /** Spans waiting to be exported; beyond it new spans are dropped. Default 2048. */
  maxQueueSize?: number | undefined;
  /** Spans per request; a full batch is sent at once. Default 512 (at most maxQueueSize). */
  maxExportBatchSize?: number | undefined;
  /** Longest a queued span waits before it is sent, ms; default 1000. */
  scheduledDelayMs?: number | undefined;
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** The traces URL for a base endpoint: '/v1/traces' appended (one slash between). */
export function tracesUrlFromEndpoint(endpoint: string): string {
  return endpoint.replace(/\/+$/, '') + '/v1/traces';
}

function checkUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`${what}: not a valid URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`${what}: unsupported protocol ${u.protocol} (http: or https: only)`);
  return u;
}

function checkHeaders(headers: Readonly<Record<string, string>>, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(headers)) {
    const v = headers[k]!;
    try {
      http.validateHeaderName(k);
      http.validateHeaderValue(k, v);
    } catch {
      throw new TypeError(`${what}: invalid header ${JSON.stringify(k)}`);
    }
    out[k.toLowerCase()] = v;
  }
  return out;
}

/**
 * Sends spans to an OTLP/HTTP receiver as JSON (POST, content-type application/json). Ended spans
 * are queued; a request goes out when a batch is full or scheduledDelayMs after the first queued
 * span, with at most one request in flight and no retries.
 */
export class OtlpHttpExporter implements SpanExporter {
  readonly url: string;
  private readonly target: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxQueueSize: number;
  private readonly batchSize: number;
  private readonly delayMs: number;
  private readonly agent: http.Agent;
  private queue: ReadableSpan[] = [];
  /** Spans at the head of the queue that are due now (timer fired or a flush asked). */
  private due = 0;
  private sending = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private shutdownPromise: Promise<void> | undefined = undefined;
  private readonly counters: ExporterStats = { exported: 0, dropped: 0, failedExports: 0 };

  constructor(opts: OtlpHttpExporterOptions) {
    if ((opts.url === undefined) === (opts.endpoint === undefined)) throw new TypeError('OTLP exporter: give exactly one of url or endpoint');
    this.url = opts.url ?? tracesUrlFromEndpoint(opts.endpoint!);
    this.target = checkUrl(this.url, 'OTLP exporter');
    this.headers = checkHeaders(opts.headers ?? {}, 'OTLP exporter');
    this.timeoutMs = positiveInt('timeoutMs', opts.timeoutMs, 10_000);
    this.maxQueueSize = positiveInt('maxQueueSize', opts.maxQueueSize, 2048);
    this.batchSize = Math.min(positiveInt('maxExportBatchSize', opts.maxExportBatchSize, 512), this.maxQueueSize);
    this.delayMs = positiveInt('scheduledDelayMs', opts.scheduledDelayMs, 1000);
    this.agent = this.target.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  export(span: ReadableSpan): void {
    if (this.stopped || this.queue.length >= this.maxQueueSize) {
      this.counters.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize) this.pump();
    else if (this.timer === undefined && !this.sending) this.armTimer();
  }

  forceFlush(): Promise<void> {
    this.due = this.queue.length;
    this.clearTimer();
    return new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.pump();
    });
  }

  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      this.stopped = true; // spans ended from now on are dropped
      this.shutdownPromise = this.forceFlush().then(() => {
        this.clearTimer();
        this.agent.destroy();
      });
    }
    return this.shutdownPromise;
  }

  stats(): ExporterStats {
    return { ...this.counters };
  }

  private armTimer(): void {
    if (this.timer !== undefined || this.queue.length === 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = this.queue.length;
      this.pump();
    }, this.delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts the next request if none is in flight and spans are due or a batch is full. */
  private pump(): void {
    if (this.sending) return;
    if (this.due === 0 && this.queue.length < this.batchSize) {
      this.armTimer();
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const batch = this.queue.splice(0, this.batchSize);
    this.due = Math.max(0, this.due - batch.length);
    if (this.queue.length === 0) this.clearTimer();
    this.sending = true;
    void this.send(batch).then(() => {
      this.sending = false;
      this.pump();
    });
  }

  /** One POST; resolves (never rejects) once it has succeeded or failed, counting either. */
  private send(batch: ReadableSpan[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let answered = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        if (ok) this.counters.exported += batch.length;
        else this.counters.failedExports++;
        resolve();
      };
      try {
        const body = Buffer.from(JSON.stringify(encodeExportRequest(batch)));
        const mod = this.target.protocol === 'https:' ? https : http;
        const req = mod.request(
          this.target,
          {
            method: 'POST',
            agent: this.agent,
            headers: { ...this.headers, 'content-type': 'application/json', 'content-length': String(body.length) },
          },
          (res) => {
            answered = true;
            const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
            res.on('error', () => finish(false));
            res.on('end', () => finish(ok));
            res.on('close', () => finish(ok && res.complete));
            res.resume();
          },
        );
        req.on('error', () => finish(false));
        req.on('close', () => {
          if (!answered) finish(false);
        });
        timer = setTimeout(() => {
          req.destroy(new Error('OTLP export timed out'));
          finish(false);
        }, this.timeoutMs);
        timer.unref();
        req.end(body);
      } catch {
        finish(false);
      }
    });
  }
}

export function createOtlpHttpExporter(opts: OtlpHttpExporterOptions): OtlpHttpExporter {
  return new OtlpHttpExporter(opts);
}

// ---------------------------------------------------------------------------------------------
// Tracer

export interface TracerOptions {
  serviceName: string;
  serviceVersion?: string | undefined;
  /** More resource attributes (deployment.environment, host.name, ...); service.name/version win. */
  resourceAttributes?: Attributes | undefined;
  exporter: SpanExporter;
  /** Instrumentation scope; default name 'floodgate', version = serviceVersion. */
  scope?: InstrumentationScope | undefined;
  /** Probability that a root span (no parent) is sampled, 0..1; default 1. */
  rootSampleRatio?: number | undefined;
}

export interface Tracer {
  readonly serviceName: string;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  startSpan(name: string, opts?: StartSpanOptions): Span;
  /** The exporter's forceFlush. */
  forceFlush(): Promise<void>;
  /** Shuts the exporter down (flushing first); spans ended afterwards are dropped. */
  shutdown(): Promise<void>;
  stats(): ExporterStats;
}

export const TELEMETRY_SDK_NAME = 'floodgate-otel';

function rootSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (!(ratio > 0)) return false;
  // 56 random bits of the trace id (as the W3C level 2 "random" bits) against the ratio.
  return parseInt(traceId.slice(18, 32), 16) / 2 ** 56 < ratio;
}

export function createTracer(opts: TracerOptions): Tracer {
  const attrs = Object.create(null) as Record<string, AttributeValue>;
  attrs['telemetry.sdk.name'] = TELEMETRY_SDK_NAME;
  attrs['telemetry.sdk.language'] = 'nodejs';
  if (opts.resourceAttributes !== undefined) {
    for (const k of Object.keys(opts.resourceAttributes)) {
      const v = opts.resourceAttributes[k];
      if (v !== undefined && v !== null) attrs[k] = copyValue(v);
    }
  }
  attrs['service.name'] = opts.serviceName;
  if (opts.serviceVersion !== undefined) attrs['service.version'] = opts.serviceVersion;
  const resource: Resource = Object.freeze({ attributes: Object.freeze(attrs) });
  const scope: InstrumentationScope = Object.freeze(opts.scope ?? { name: 'floodgate', version: opts.serviceVersion });
  const ratio = opts.rootSampleRatio ?? 1;
  if (typeof ratio !== 'number' || Number.isNaN(ratio) || ratio < 0 || ratio > 1) throw new TypeError(`rootSampleRatio must be in [0, 1], got ${ratio}`);
  const exporter = opts.exporter;

  return {
    serviceName: opts.serviceName,
    resource,
    scope,
    startSpan(name: string, o?: StartSpanOptions): Span {
      const parent = o?.parent;
      let traceId: string;
      let parentSpanId: string | undefined;
      let sampled: boolean;
      let traceState: string | undefined;
      if (parent !== undefined) {
        traceId = parent.traceId;
        parentSpanId = parent.spanId;
        sampled = parent.sampled;
        traceState = parent.traceState;
      } else {
        traceId = newTraceId();
        sampled = rootSampled(traceId, ratio);
      }
      const span = new Span(
        { traceId, spanId: newSpanId(), parentSpanId, sampled, traceState, name, kind: o?.kind ?? 'internal', startTimeMs: o?.startTimeMs ?? nowMs(), resource, scope },
        exporter,
      );
      if (sampled && o?.attributes !== undefined) span.setAttributes(o.attributes);
      return span;
    },
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    stats: () => exporter.stats(),
  };
}

// ---------------------------------------------------------------------------------------------
// Configuration from the environment

type Env = Readonly<Record<string, string | undefined>>;

/** What tracerFromEnv reads from the environment. */
export interface OtelEnvConfig {
  /** The traces URL. */
  url: string;
  headers: Record<string, string>;
  /** OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES. */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, values percent-decoded. */
  resourceAttributes: Record<string, string>;
  timeoutMs: number | undefined;
  maxQueueSize: number | undefined;
  maxExportBatchSize: number | undefined;
  scheduledDelayMs: number | undefined;
}

function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function decodePercent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses `k=v,k2=v2` (values percent-decoded, whitespace trimmed); throws TypeError naming the variable. */
export function parseKeyValueList(value: string, variable: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    if (key === '') throw new TypeError(`${variable}: expected comma-separated key=value pairs, got ${JSON.stringify(item)}`);
    out[key] = decodePercent(item.slice(eq + 1).trim());
  }
  return out;
}

function envPositiveInt(env: Env, name: string): number | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new TypeError(`${name}=${JSON.stringify(v)}: expected a positive integer`);
  return n;
}

/**
 * Reads the OpenTelemetry environment variables. Returns undefined when tracing is off:
 * OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or no endpoint set. Otherwise:
 * - endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + '/v1/traces';
 * - protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; only http/json
 *   is supported, anything else throws a TypeError naming the variable and value;
 * - headers: OTEL_EXPORTER_OTLP_HEADERS, overridden per key by OTEL_EXPORTER_OTLP_TRACES_HEADERS;
 * - timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT (ms);
 * - batching: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
 * - OTEL_TRACES_EXPORTER other than otlp / none throws a TypeError.
 */
export function readOtelEnv(env: Env = process.env): OtelEnvConfig | undefined {
  if (envValue(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporters = envValue(env, 'OTEL_TRACES_EXPORTER');
  if (exporters !== undefined) {
    const list = exporters.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    if (list.includes('none')) return undefined;
    const other = list.find((s) => s !== 'otlp');
    if (other !== undefined) throw new TypeError(`OTEL_TRACES_EXPORTER=${JSON.stringify(exporters)}: only "otlp" (or "none") is supported`);
  }

  let url: string;
  let urlVar: string;
  const tracesEndpoint = envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = envValue(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint !== undefined) {
    url = tracesEndpoint;
    urlVar = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  } else if (endpoint !== undefined) {
    url = tracesUrlFromEndpoint(endpoint);
    urlVar = 'OTEL_EXPORTER_OTLP_ENDPOINT';
  } else {
    return undefined;
  }
  checkUrl(url, urlVar);

  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const p = envValue(env, name);
    if (p === undefined) continue;
    if (p !== 'http/json') throw new TypeError(`${name}=${JSON.stringify(p)}: only the http/json OTLP protocol is supported (not grpc or http/protobuf)`);
    break; // the traces-specific variable wins over the general one
  }

  const headers: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const v = envValue(env, name);
    if (v !== undefined) Object.assign(headers, checkHeaders(parseKeyValueList(v, name), name));
  }

  const ra = envValue(env, 'OTEL_RESOURCE_ATTRIBUTES');
  const resourceAttributes = ra === undefined ? {} : parseKeyValueList(ra, 'OTEL_RESOURCE_ATTRIBUTES');
  const serviceName = envValue(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'];

  return {
    url,
    headers,
    serviceName,
    resourceAttributes,
    timeoutMs: envPositiveInt(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? envPositiveInt(env, 'OTEL_EXPORTER_OTLP_TIMEOUT'),
    maxQueueSize: envPositiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: envPositiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    scheduledDelayMs: envPositiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY'),
  };
}

export interface TracerFromEnvOptions {
  /** Default service.name; OTEL_SERVICE_NAME (then service.name in OTEL_RESOURCE_ATTRIBUTES) wins. */
  serviceName: string;
  serviceVersion?: string | undefined;
  /** Defaults under OTEL_RESOURCE_ATTRIBUTES. */
  resourceAttributes?: Attributes | undefined;
  rootSampleRatio?: number | undefined;
  env?: Env | undefined;
}

/**
 * A Tracer exporting over OTLP/HTTP JSON as the environment says (see readOtelEnv), or undefined
 * when tracing is off. Throws TypeError for a configuration it cannot honour. Call shutdown() on
 * the returned tracer before exit to send what is queued.
 */
export function tracerFromEnv(opts: TracerFromEnvOptions): Tracer | undefined {
  const cfg = readOtelEnv(opts.env ?? process.env);
  if (cfg === undefined) return undefined;
  const exporter = new OtlpHttpExporter({
    url: cfg.url,
    headers: cfg.headers,
    timeoutMs: cfg.timeoutMs,
    maxQueueSize: cfg.maxQueueSize,
    maxExportBatchSize: cfg.maxExportBatchSize,
    scheduledDelayMs: cfg.scheduledDelayMs,
  });
  return createTracer({
    serviceName: cfg.serviceName ?? opts.serviceName,
    serviceVersion: opts.serviceVersion,
    resourceAttributes: { ...opts.resourceAttributes, ...cfg.resourceAttributes },
    rootSampleRatio: opts.rootSampleRatio,
    exporter,
  });
}
