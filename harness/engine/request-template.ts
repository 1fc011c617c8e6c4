/**
 * RequestTemplate: everything a client thread needs to turn a PlannedRequest into an HTTP
 * request (serialisable, so it crosses to worker threads). `buildBody` writes the OpenAI-shape
 * JSON: the output length is pinned with `max_tokens`, plus `ignore_eos` and `min_tokens` where
 * the target accepts them (vLLM); usage is asked for in the stream (`include_usage`, and
 * `continuous_usage_stats` for tokens per chunk where supported). The prompt is composed from
 * the request's PromptSpec when it has one (shared segments first: in a chat body they open the
 * one user message, right after the template's fixed tokens, so a prefix cache matches them).
 */
import { composePrompt, wordsFor, type PromptShape } from '../workload/prompt-factory.ts';
import type { PlannedRequest } from '../workload/plan.ts';
import type { Endpoint } from '../scenario/scenario-types.ts';
import type { RequestTraceConfig } from '../client/request-trace.ts';

export interface RequestTemplate {
  /** Full endpoint URL (…/v1/chat/completions or …/v1/completions). */
  url: string;
  headers: Record<string, string>;
  endpoint: Endpoint;
  stream: boolean;
  extraBody: Record<string, unknown>;
  ignoreEos: boolean;
  continuousUsageStats: boolean;
  timeouts: { connectMs: number; ttftMs: number; totalMs: number };
  promptShape: PromptShape;
  seed: number;
  /**
   * Tracing (docs/metrics.md, "Tracing"): the scenario and stage names the client spans carry,
   * and an explicit off switch. Tracing itself is on when the OTEL_* environment configures an
   * OTLP endpoint (read once per client thread); absent: spans carry no scenario name.
   */
  trace?: RequestTraceConfig | undefined;
  /**
   * `mix:` streams, by stream index (PlannedRequest.mix): the headers each stream sends (its API
   * key; computed once, so the hot path only looks them up) and the body fields it adds
   * (`priority`). Absent: every request sends `headers`.
   */
  mix?: ReadonlyArray<{ headers: Record<string, string>; body?: Record<string, unknown> }>;
}

/** The headers of a request: its mix stream's, else the template's. */
export function headersFor(t: RequestTemplate, p: PlannedRequest): Record<string, string> {
  return p.mix !== undefined && t.mix ? t.mix[p.mix]?.headers ?? t.headers : t.headers;
}

export function endpointUrl(baseUrl: string, endpoint: Endpoint): string {
  return `${baseUrl.replace(/\/$/, '')}/${endpoint === 'chat' ? 'chat/completions' : 'completions'}`;
}

export function buildBody(t: RequestTemplate, p: PlannedRequest): string {
  return serialise(t, p, composePrompt(t.seed, p.key, wordsFor(p.promptTokens, t.promptShape), p.prompt, t.promptShape), undefined);
}

/**
 * A request of a prompt dataset (docs/scenarios.md, "Prompt datasets"; chat endpoint only): the
 * entry's messages are sent as they are; only model, max_tokens, ignore_eos/min_tokens and the
 * stream options are the harness's. The body lives in memory only.
 */
export function buildDatasetBody(t: RequestTemplate, p: PlannedRequest, messages: ReadonlyArray<{ role: string; content: string }>): string {
  return serialise(t, p, '', messages);
}

/**
 * A turn of a conversation (docs/scenarios.md, "Conversations"; chat endpoint only): `history`
 * is the conversation so far, user and assistant contents alternating from a user message; the
 * turn's new user message is composed as buildBody composes a prompt (its planned length is the
 * length of a single-message prompt: the same words). Returns the body and the new message, which
 * the caller keeps in memory for the next turn (never written anywhere).
 */
export function buildTurnBody(t: RequestTemplate, p: PlannedRequest, history: readonly string[]): { body: string; message: string } {
  const message = composePrompt(t.seed, p.key, wordsFor(p.promptTokens, t.promptShape), p.prompt, t.promptShape);
  const messages = history.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content }));
  messages.push({ role: 'user', content: message });
  return { body: serialise(t, p, message, messages), message };
}

function serialise(t: RequestTemplate, p: PlannedRequest, text: string, messages: ReadonlyArray<{ role: string; content: string }> | undefined): string {
  const body: Record<string, unknown> = { ...t.extraBody, model: p.model };
  const extra = p.mix !== undefined ? t.mix?.[p.mix]?.body : undefined;
  if (extra) Object.assign(body, extra);
  if (t.endpoint === 'chat') body.messages = messages ?? [{ role: 'user', content: text }];
  else body.prompt = text;
  body.max_tokens = p.outputTokens;
  if (t.ignoreEos) {
    body.ignore_eos = true;
    body.min_tokens = p.outputTokens;
  }
  body.stream = t.stream;
  if (t.stream) body.stream_options = t.continuousUsageStats ? { include_usage: true, continuous_usage_stats: true } : { include_usage: true };
  return JSON.stringify(body);
}
