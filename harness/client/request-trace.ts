/**
 * Client-side OpenTelemetry for the harness: one client span per request, named and attributed
 * after the OTel GenAI conventions (`chat llama-3.1-8b`, kind client), whose W3C traceparent is
 * sent with the request so the gateway's spans (admission, queue, each upstream attempt) join
 * the same trace. Docs: docs/metrics.md, "Tracing".
 *
 * What must stay true:
 * - Tracing off costs nothing on the hot path: `harnessTracer` returns undefined, the executor
 *   then makes no RequestSpans, and a request is sent with the shared headers object untouched.
 * - Spans carry ids, sizes, token counts, status codes and timings only: never prompt or
 *   completion text, and never a server's error message (it may quote the request); a failed
 *   request's span names its error code.
 * - Span times are the record's times: the span starts when the request is sent and ends at the
 *   record's `endMs`, converted from the run clock to epoch time with one offset per executor.
 */
import fs from 'node:fs';
import { nowMs, tracerFromEnv, type Span, type Tracer } from '../telemetry/otel.ts';
import type { PlannedRequest } from '../workload/plan.ts';
import type { RequestRecord } from '../metrics/request-record.ts';
import type { Endpoint } from '../scenario/scenario-types.ts';

/** service.name of the harness's spans unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
export const HARNESS_SERVICE_NAME = 'floodgate-harness';

/**
 * Tracing settings a RequestTemplate carries to the client threads (serialisable). The OTEL_*
 * environment is the main switch; `enabled: false` turns tracing off whatever it says.
 */
export interface RequestTraceConfig {
  /** false: no spans and no traceparent even when an OTLP endpoint is configured. */
  enabled?: boolean | undefined;
  /** The scenario's name (floodgate.scenario). */
  scenario?: string | undefined;
  /** Stage names by index (floodgate.stage); a missing one is `stage-<index>`. */
  stages?: readonly string[] | undefined;
}

/** The template's tracing settings for a scenario (its name and stage names). */
export function requestTraceConfig(scenario: { name: string; load: { stages: readonly { name: string }[] } }, enabled?: boolean): RequestTraceConfig {
  return {
    ...(enabled !== undefined ? { enabled } : {}),
    scenario: scenario.name,
    stages: scenario.load.stages.map((s) => s.name),
  };
}

let cachedVersion: string | null | undefined;
function packageVersion(): string | undefined {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : null;
    } catch {
      cachedVersion = null;
    }
  }
  return cachedVersion ?? undefined;
}

/**
 * The tracer for one executor (one per client thread): from the OTEL_* environment (see
 * tracerFromEnv), service.name `floodgate-harness` by default; undefined when tracing is off
 * (no endpoint configured, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none, or `enabled: false`).
 * Throws a TypeError for an OTEL_* configuration it cannot honour.
 */
export function harnessTracer(cfg?: RequestTraceConfig, env: Readonly<Record<string, string | undefined>> = process.env): Tracer | undefined {
  if (cfg?.enabled === false) return undefined;
  return tracerFromEnv({ serviceName: HARNESS_SERVICE_NAME, serviceVersion: packageVersion(), env });
}

/** gen_ai.operation.name for an endpoint: `chat`, or `text_completion` for /v1/completions. */
export function operationName(endpoint: Endpoint): 'chat' | 'text_completion' {
  return endpoint === 'chat' ? 'chat' : 'text_completion';
}

/** The GenAI span name: `{operation} {model}`, e.g. `chat llama-3.1-8b`. */
export function requestSpanName(endpoint: Endpoint, model: string): string {
  return `${operationName(endpoint)} ${model}`;
}

/** server.address and server.port of an endpoint URL (port defaulted from the scheme). */
export function serverAttributes(url: string): { 'server.address'?: string; 'server.port'?: number } {
  try {
    const u = new URL(url);
    const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    // URL keeps IPv6 hosts bracketed; the convention wants the bare address.
    return { 'server.address': u.hostname.replace(/^\[(.*)\]$/, '$1'), 'server.port': port };
  } catch {
    return {};
  }
}

/** Grace for flushing a client thread's spans at the end of a run; later spans are dropped. */
export const TRACE_FLUSH_LIMIT_MS = 15_000;

/**
 * One executor's request spans. Times come in on the run clock (ms since the run epoch) and are
 * converted to epoch ms with `clockOffsetMs` (see setClockOffset).
 */
export class RequestSpans {
  readonly tracer: Tracer;
  private readonly endpoint: Endpoint;
  private readonly operation: 'chat' | 'text_completion';
  private readonly server: { 'server.address'?: string; 'server.port'?: number };
  private readonly scenario: string | undefined;
  private readonly stages: readonly string[];
  private readonly names = new Map<string, string>();
  private clockOffsetMs = 0;

  constructor(tracer: Tracer, opts: { url: string; endpoint: Endpoint; trace?: RequestTraceConfig | undefined }) {
    this.tracer = tracer;
    this.endpoint = opts.endpoint;
    this.operation = operationName(opts.endpoint);
    this.server = serverAttributes(opts.url);
    this.scenario = opts.trace?.scenario;
    this.stages = opts.trace?.stages ?? [];
  }

  /**
   * Ties the run clock to epoch time: call when the epoch is set, with the run-clock reading now
   * (both clocks are monotonic and tick together, so one offset holds for the run).
   */
  setClockOffset(runNowMs: number): void {
    this.clockOffsetMs = nowMs() - runNowMs;
  }

  /** Epoch ms of a run-clock time. */
  epochMs(runMs: number): number {
    return this.clockOffsetMs + runMs;
  }

  private spanName(model: string): string {
    let n = this.names.get(model);
    if (n === undefined) {
      n = requestSpanName(this.endpoint, model);
      if (this.names.size < 1024) this.names.set(model, n);
    }
    return n;
  }

  /** Starts the client span of a planned request about to be sent at run-clock `sendMs`. */
  start(p: PlannedRequest, sendMs: number): Span {
    return this.tracer.startSpan(this.spanName(p.model), {
      kind: 'client',
      startTimeMs: this.epochMs(sendMs),
      attributes: {
        'gen_ai.operation.name': this.operation,
        'gen_ai.request.model': p.model,
        'gen_ai.request.max_tokens': p.outputTokens,
        ...this.server,
        'http.request.method': 'POST',
        'floodgate.scenario': this.scenario,
        'floodgate.stage': this.stages[p.stage] ?? `stage-${p.stage}`,
        'floodgate.stage.index': p.stage,
        'floodgate.phase': p.phase,
        'floodgate.tenant': p.tenant,
        'floodgate.user': p.user,
        'floodgate.request_index': p.id,
        'floodgate.prompt_tokens.planned': p.promptTokens,
      },
    });
  }

  /** Adds the outcome of the request to its span and ends it at the record's end. */
  end(span: Span, r: RequestRecord): void {
    if (span.isRecording) {
      span.setAttributes({
        'http.response.status_code': r.status,
        'floodgate.ttft_ms': r.ttftMs,
        'floodgate.tpot_ms': r.tpotMs,
        'floodgate.queue_ms': r.queueMs,
        'floodgate.chunks': r.chunks,
        'floodgate.output_tokens': r.outputTokens,
        'floodgate.token_source': r.tokenSource,
        'gen_ai.usage.input_tokens': r.promptTokens,
        'gen_ai.usage.output_tokens': r.tokenSource === 'usage' ? r.outputTokens : undefined,
        'gen_ai.response.model': r.servedModel,
        'floodgate.request_id': r.requestId,
        'floodgate.served_by': r.servedBy,
        'floodgate.schedule_lag_ms': r.scheduleLagMs,
      });
      if (r.ttftMs !== undefined) span.addEvent('first_token', undefined, this.epochMs(r.sentMs + r.ttftMs));
      if (r.error !== undefined) {
        // The code only: the message may be the server's and may quote the request.
        span.setAttributes({ 'floodgate.error_code': r.error.code, 'error.type': r.error.code });
        span.setStatus('error', r.error.code);
      }
    }
    span.end(this.epochMs(r.endMs));
  }

  /** Sends every span ended so far and stops the exporter, waiting at most `limitMs`. */
  async shutdown(limitMs = TRACE_FLUSH_LIMIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.tracer.shutdown().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, limitMs);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
  }
}
