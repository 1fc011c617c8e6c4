/**
 * Sends one request to an OpenAI-compatible endpoint and measures it: the client half of a
 * RequestRecord (timings, tokens, status, error code), never its content.
 *
 * Owns: the metric definitions as measured on the wire (docs/metrics.md; aligned with
 * `vllm bench serve`), per-request timeouts, and the classification of failures into the codes
 * of request-error-codes.ts. A failed request is data: sendRequest never rejects.
 *
 * Precision and cost: it uses undici's low-level `dispatch()` handler API, so every body chunk
 * is timestamped in the data callback itself, before any parsing, with `process.hrtime.bigint()`;
 * an SSE event inherits the arrival time of the network chunk that completed it. Per chunk the
 * work is one SSE scan and one JSON.parse; per request there is one handler object, one SSE
 * decoder and at most three timers (connect/TTFT phase and total), cleared as soon as they are moot.
 */

import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import type { RequestError, RequestRecord } from '../metrics/request-record.ts';
import { SseDecoder } from './sse-decoder.ts';
import { errorCodeFor, errorMessageFor, httpErrorCode } from './request-error-codes.ts';

/** What to send, where, and the limits to hold it to. */
export interface SendOptions {
  /** Dispatcher to send through (see createDispatcher); owned by the caller. */
  dispatcher: Dispatcher;
  /** Full endpoint URL, e.g. http://127.0.0.1:8000/v1/chat/completions. */
  url: string;
  /** Request headers; the caller supplies content-type, authorization, ... */
  headers: Record<string, string>;
  /** Request body: JSON, already serialised. */
  body: string;
  /** Whether the body asks for an SSE stream (`"stream": true`). */
  stream: boolean;
  /** Which response shape to read: chat (`delta.content`, `message.content`) or completions (`text`). */
  endpoint: 'chat' | 'completions';
  /**
   * Timeouts in ms from send; 0 or a non-finite value disables one.
   * - connectMs: no connection within it -> `timeout_connect` (counted from send, so it includes
   *   waiting for a pooled connection when the dispatcher's connections are bounded). Only
   *   checked when shorter than ttftMs. The dispatcher's own connect timeout applies as well.
   * - ttftMs: no first content chunk within it -> `timeout_ttft`. For a non-streaming request,
   *   or a non-2xx response, it ends when the response headers arrive (the body is the answer).
   * - totalMs: the response has not finished within it -> `timeout_total`.
   */
  timeouts: { connectMs: number; ttftMs: number; totalMs: number };
  /** Run epoch from process.hrtime.bigint(); every *Ms time is relative to it. */
  epochNs: bigint;
  /**
   * Aborting it ends the request with error code `aborted`. One signal may be shared by every
   * request of a run: its listener limit is lifted (no MaxListenersExceededWarning).
   */
  signal?: AbortSignal;
  /**
   * Conversations only (docs/scenarios.md, "Conversations"): called with each piece of generated
   * chat content (`delta.content`, or a non-streaming `message.content`), in order, so the caller
   * can send the answer back as the next turn's assistant message. The text is handed over and
   * never kept, logged or put in the outcome. Absent (every other request): no text is read.
   */
  onText?: (piece: string) => void;
}

/** The part of a RequestRecord the client measures. */
export type ClientOutcome = Pick<
  RequestRecord,
  | 'sentMs'
  | 'headersMs'
  | 'ttftMs'
  | 'e2eMs'
  | 'itlMs'
  | 'chunkGapsMs'
  | 'tpotMs'
  | 'queueMs'
  | 'promptTokens'
  | 'outputTokens'
  | 'tokenSource'
  | 'chunks'
  | 'ok'
  | 'status'
  | 'error'
  | 'retryAfterMs'
  | 'requestId'
  | 'servedBy'
  | 'servedModel'
>;

/** Error bodies are read up to this many bytes (enough for any OpenAI-shape error). */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** A non-streaming JSON body larger than this is `invalid_response` (bounds memory). */
const MAX_JSON_BODY_BYTES = 64 * 1024 * 1024;
/** Messages kept on a RequestRecord are cut to this many characters. */
const MAX_MESSAGE_CHARS = 200;
/** setTimeout's largest delay (ms); larger ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Sends one request and measures it. Never rejects: every failure (HTTP status, timeout,
 * connection, bad stream, abort) resolves with `ok: false` and an error code, keeping the
 * timings gathered before it.
 */
export function sendRequest(opts: SendOptions): Promise<ClientOutcome> {
  return new Promise<ClientOutcome>((resolve) => {
    const run = new RequestRun(opts, resolve);
    run.start();
  });
}

type Mode = 'pending' | 'sse' | 'json' | 'error';

/** One request in flight: the undici handler and the measurement state. */
class RequestRun implements Dispatcher.DispatchHandler {
  readonly #opts: SendOptions;
  readonly #resolve: (outcome: ClientOutcome) => void;
  readonly #epochNs: bigint;
  readonly #chat: boolean;

  #finished = false;
  /** undici has reported the end (or failure) of the response: nothing left to abort. */
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined = undefined;
  #phaseTimer: NodeJS.Timeout | undefined = undefined;
  #totalTimer: NodeJS.Timeout | undefined = undefined;

  // All times: ms on the run clock (since epochNs). -1 = not happened.
  #sentAt = 0;
  #headersAt = -1;
  #firstContentAt = -1;
  #lastContentAt = -1;
  /** Arrival time of the network chunk being decoded: SSE events inherit it. */
  #chunkAt = 0;

  #mode: Mode = 'pending';
  #status: number | undefined = undefined;
  #statusText = '';
  #queueMs: number | undefined = undefined;
  #retryAfterMs: number | undefined = undefined;
  #requestId: string | undefined = undefined;
  #servedBy: string | undefined = undefined;
  #servedModel: string | undefined = undefined;

  #decoder: SseDecoder | undefined = undefined;
  #body: Buffer[] = [];
  #bodyBytes = 0;

  #chunks = 0;
  #chunkTokens = 0;
  /** usage.completion_tokens (cumulative) as of the previous content chunk. */
  #cumTokens = 0;
  #itlMs: number[] = [];
  #chunkGapsMs: number[] = [];
  #promptTokens: number | undefined = undefined;
  #usageTokens: number | undefined = undefined;

  constructor(opts: SendOptions, resolve: (outcome: ClientOutcome) => void) {
    this.#opts = opts;
    this.#resolve = resolve;
    this.#epochNs = opts.epochNs;
    this.#chat = opts.endpoint === 'chat';
  }

  start(): void {
    const opts = this.#opts;
    let target: Target;
    try {
      target = parseTarget(opts.url);
    } catch (err) {
      this.#sentAt = this.#now();
      this.#fail('client_error', `invalid url: ${errorMessageFor(err)}`);
      return;
    }
    if (opts.signal?.aborted) {
      this.#sentAt = this.#now();
      this.#fail('aborted', 'aborted before sending');
      return;
    }
    this.#sentAt = this.#now();
    const { connectMs, ttftMs, totalMs } = opts.timeouts;
    if (enabled(connectMs) && (!enabled(ttftMs) || connectMs < ttftMs)) {
      this.#phaseTimer = setTimeout(this.#onConnectDeadline, Math.min(connectMs, MAX_TIMER_MS));
    } else if (enabled(ttftMs)) {
      this.#phaseTimer = setTimeout(this.#onTtftDeadline, Math.min(ttftMs, MAX_TIMER_MS));
    }
    if (enabled(totalMs)) this.#totalTimer = setTimeout(this.#onTotalDeadline, Math.min(totalMs, MAX_TIMER_MS));
    if (opts.signal !== undefined) listenForAbort(opts.signal, this.#onAbort);
    try {
      opts.dispatcher.dispatch(
        { origin: target.origin, path: target.path, method: 'POST', headers: opts.headers, body: opts.body },
        this,
      );
    } catch (err) {
      this.#fail(errorCodeFor(err), errorMessageFor(err));
    }
  }

  // ---- undici handler -------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Timed out or aborted while waiting for a connection: never write the request.
    if (this.#finished) controller.abort(new Error('request already ended by the client'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    const t = this.#now();
    if (this.#finished || statusCode < 200) return; // 1xx: informational, not the response
    this.#controller = controller;
    this.#headersAt = t;
    this.#status = statusCode;
    this.#statusText = statusMessage ?? '';
    this.#readHeaders(headers);
    if (statusCode >= 300) {
      // The status is the answer; only the (bounded) body's message is left to read.
      this.#mode = 'error';
      this.#clearPhaseTimer();
    } else if (this.#opts.stream) {
      const ct = firstHeader(headers['content-type']);
      if (ct !== undefined && !ct.toLowerCase().includes('text/event-stream')) {
        this.#fail('invalid_response', `expected text/event-stream for a streaming request, got ${ct.slice(0, 100)}`);
        return;
      }
      this.#mode = 'sse';
      this.#decoder = new SseDecoder(this.#onEvent);
    } else {
      this.#mode = 'json';
      this.#clearPhaseTimer();
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Timestamp first: this is the arrival time every event in the chunk inherits.
    const t = Number(process.hrtime.bigint() - this.#epochNs) / 1e6;
    if (this.#finished) return;
    this.#chunkAt = t;
    switch (this.#mode) {
      case 'sse':
        this.#decoder!.push(chunk);
        return;
      case 'json':
        this.#bodyBytes += chunk.length;
        if (this.#bodyBytes > MAX_JSON_BODY_BYTES) {
          this.#fail('invalid_response', `response body over ${MAX_JSON_BODY_BYTES} bytes`);
          return;
        }
        this.#body.push(chunk);
        return;
      case 'error':
        if (this.#bodyBytes < MAX_ERROR_BODY_BYTES) {
          const room = MAX_ERROR_BODY_BYTES - this.#bodyBytes;
          this.#body.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
          this.#bodyBytes += Math.min(chunk.length, room);
        }
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    const t = this.#now();
    this.#settled = true;
    this.#clearTotalTimer();
    if (this.#finished) return;
    switch (this.#mode) {
      case 'sse':
        this.#decoder!.end(true); // a server may close right after `data: [DONE]\n`
        if (!this.#finished) this.#fail('stream_truncated', 'stream ended without data: [DONE]');
        return;
      case 'json':
        this.#finishJson(t);
        return;
      case 'error':
        this.#fail(httpErrorCode(this.#status!), '');
        return;
      default:
        this.#fail('invalid_response', 'response ended before its headers');
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#settled = true;
    this.#clearTotalTimer();
    if (this.#finished) return;
    this.#fail(errorCodeFor(err), errorMessageFor(err));
  }

  // ---- timers and abort (bound once per request) -----------------------------------------

  readonly #onConnectDeadline = (): void => {
    this.#phaseTimer = undefined;
    if (this.#finished) return;
    const { connectMs, ttftMs } = this.#opts.timeouts;
    if (this.#controller === undefined) {
      this.#fail('timeout_connect', `no connection within ${connectMs} ms`);
    } else if (this.#firstContentAt < 0 && this.#mode !== 'json' && this.#mode !== 'error' && enabled(ttftMs)) {
      this.#phaseTimer = setTimeout(this.#onTtftDeadline, Math.min(Math.max(ttftMs - connectMs, 0), MAX_TIMER_MS));
    }
  };

  readonly #onTtftDeadline = (): void => {
    this.#phaseTimer = undefined;
    if (this.#finished) return;
    this.#fail('timeout_ttft', `no first content within ${this.#opts.timeouts.ttftMs} ms`);
  };

  readonly #onTotalDeadline = (): void => {
    this.#totalTimer = undefined;
    if (this.#finished) {
      // Finished at `data: [DONE]` but the server never ended the response: free the socket.
      if (!this.#settled) this.#controller?.abort(new Error('response did not end after [DONE]'));
      return;
    }
    this.#fail('timeout_total', `not finished within ${this.#opts.timeouts.totalMs} ms`);
  };

  readonly #onAbort = (): void => {
    if (this.#finished) return;
    const reason = this.#opts.signal?.reason;
    this.#fail('aborted', reason instanceof Error ? errorMessageFor(reason) : 'aborted by the harness');
  };

  // ---- stream parsing -------------------------------------------------------------------

  readonly #onEvent = (data: string, event: string | undefined): void => {
    if (this.#finished) return;
    if (event === 'error') {
      this.#fail('mid_stream_error', errorMessageFromText(data) ?? 'event: error');
      return;
    }
    if (data === '[DONE]') {
      this.#finish(undefined);
      return;
    }
    // Never quote the data in a message: it may hold generated text.
    const o = parseObject(data);
    if (typeof o === 'string') {
      this.#fail('invalid_response', `${o} in an SSE data line (${data.length} chars)`);
      return;
    }
    if (o.error !== undefined && o.error !== null) {
      this.#fail('mid_stream_error', errorMessageFromObject(o) ?? 'error object in stream');
      return;
    }
    const cumulative = this.#readUsage(o.usage);
    const c0: unknown = Array.isArray(o.choices) ? o.choices[0] : undefined;
    if (c0 === undefined || c0 === null || typeof c0 !== 'object') return; // e.g. the usage chunk
    const choice = c0 as ChoiceShape;
    if (this.#chat ? deltaHasContent(choice.delta) : nonEmpty(choice.text)) this.#onContent(this.#chunkAt, cumulative);
    if (this.#opts.onText !== undefined && this.#chat) emitContent(choice.delta, this.#opts.onText);
  };

  /**
   * One content chunk arrived at `t`. Its tokens: the increase of the cumulative
   * usage.completion_tokens since the previous content chunk (vLLM continuous_usage_stats),
   * else 1. ITL: gap to the previous content chunk, split evenly over its k tokens (k entries
   * of gap/k); the first chunk's tokens are part of TTFT and add no ITL entries.
   */
  #onContent(t: number, cumulative: number | undefined): void {
    let tokens = 1;
    if (cumulative !== undefined) {
      tokens = cumulative - this.#cumTokens;
      if (tokens < 1) tokens = 1; // content means at least one token, whatever usage says
      this.#cumTokens = Math.max(cumulative, this.#cumTokens + 1);
    } else {
      this.#cumTokens += 1;
    }
    this.#chunks++;
    this.#chunkTokens += tokens;
    if (this.#firstContentAt < 0) {
      this.#firstContentAt = t;
      this.#clearPhaseTimer();
    } else {
      const gap = t - this.#lastContentAt;
      this.#chunkGapsMs.push(gap);
      const per = gap / tokens;
      for (let i = 0; i < tokens; i++) this.#itlMs.push(per);
    }
    this.#lastContentAt = t;
  }

  /** Records usage counts; returns completion_tokens when the object carries it. */
  #readUsage(usage: unknown): number | undefined {
    if (usage === null || typeof usage !== 'object') return undefined;
    const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
    if (typeof u.prompt_tokens === 'number') this.#promptTokens = u.prompt_tokens;
    if (typeof u.completion_tokens === 'number') {
      this.#usageTokens = u.completion_tokens;
      return u.completion_tokens;
    }
    return undefined;
  }

  /** Non-streaming: TTFT = E2E = body complete; content and usage from the one JSON body. */
  #finishJson(t: number): void {
    const text = Buffer.concat(this.#body, this.#bodyBytes).toString('utf8');
    this.#body = [];
    const o = parseObject(text);
    if (typeof o === 'string') {
      this.#fail('invalid_response', `${o} in the response body (${this.#bodyBytes} bytes)`);
      return;
    }
    if (o.error !== undefined && o.error !== null) {
      this.#fail('invalid_response', errorMessageFromObject(o) ?? 'error object in a 2xx response');
      return;
    }
    if (!Array.isArray(o.choices)) {
      this.#fail('invalid_response', 'response has no choices array');
      return;
    }
    this.#readUsage(o.usage);
    const c0: unknown = o.choices[0];
    const choice = c0 !== null && typeof c0 === 'object' ? (c0 as ChoiceShape) : undefined;
    const hasContent = choice !== undefined && (this.#chat ? deltaHasContent(choice.message) : nonEmpty(choice.text));
    if (this.#opts.onText !== undefined && this.#chat && choice !== undefined) emitContent(choice.message, this.#opts.onText);
    this.#firstContentAt = t;
    this.#lastContentAt = t;
    if (hasContent) {
      this.#chunks = 1;
      this.#chunkTokens = 1;
    }
    this.#finish(undefined);
  }

  // ---- outcome --------------------------------------------------------------------------

  #fail(code: string, message: string): void {
    if (this.#finished) return;
    // Once a non-2xx status arrived, it is the error, whatever ended the body read.
    if (this.#mode === 'error' && this.#status !== undefined) {
      code = httpErrorCode(this.#status);
      message = this.#errorBodyMessage();
    }
    message = truncate(message);
    this.#finish({ code, message: quotesRequest(message, this.#opts.body) ? WITHHELD : message });
  }

  #finish(error: RequestError | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearPhaseTimer();
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    if (error !== undefined) {
      this.#clearTotalTimer();
      if (!this.#settled) this.#controller?.abort(new Error(`request ended by the client: ${error.code}`));
    }
    // On success the total timer stays armed until the response ends: it only frees a socket
    // whose server never ends the response after [DONE] (see #onTotalDeadline).
    if (this.#settled) this.#clearTotalTimer();
    this.#decoder = undefined;
    this.#body = [];
    this.#resolve(this.#outcome(error));
  }

  #outcome(error: RequestError | undefined): ClientOutcome {
    const sent = this.#sentAt;
    const ttftMs = this.#firstContentAt >= 0 ? this.#firstContentAt - sent : undefined;
    const e2eMs = this.#lastContentAt >= 0 ? this.#lastContentAt - sent : undefined;
    const fromUsage = this.#usageTokens !== undefined;
    const outputTokens = fromUsage ? this.#usageTokens! : this.#chunkTokens;
    // TPOT = (E2E - TTFT) / (outputTokens - 1): time per output token after the first.
    const tpotMs =
      ttftMs !== undefined && e2eMs !== undefined && outputTokens >= 2 ? (e2eMs - ttftMs) / (outputTokens - 1) : undefined;
    return {
      sentMs: sent,
      headersMs: this.#headersAt >= 0 ? this.#headersAt - sent : undefined,
      ttftMs,
      e2eMs,
      itlMs: this.#itlMs,
      chunkGapsMs: this.#chunkGapsMs,
      tpotMs,
      queueMs: this.#queueMs,
      promptTokens: this.#promptTokens,
      outputTokens,
      tokenSource: fromUsage ? 'usage' : 'chunks',
      chunks: this.#chunks,
      ok: error === undefined,
      status: this.#status,
      error,
      retryAfterMs: this.#retryAfterMs,
      requestId: this.#requestId,
      servedBy: this.#servedBy,
      servedModel: this.#servedModel,
    };
  }

  #errorBodyMessage(): string {
    const text = Buffer.concat(this.#body, Math.min(this.#bodyBytes, MAX_ERROR_BODY_BYTES)).toString('utf8');
    const fromJson = errorMessageFromText(text);
    if (fromJson !== undefined) return fromJson;
    if (text.trim() !== '') return text.slice(0, MAX_MESSAGE_CHARS);
    return `HTTP ${this.#status}${this.#statusText ? ` ${this.#statusText}` : ''}`;
  }

  #readHeaders(headers: Record<string, string | string[] | undefined>): void {
    const queue = firstHeader(headers['x-queue-ms']);
    if (queue !== undefined) {
      const v = Number(queue);
      if (queue.trim() !== '' && Number.isFinite(v)) this.#queueMs = v;
    }
    const retry = firstHeader(headers['retry-after']);
    if (retry !== undefined) this.#retryAfterMs = parseRetryAfterMs(retry);
    this.#requestId = firstHeader(headers['x-request-id']);
    this.#servedBy = firstHeader(headers['x-served-by']);
    this.#servedModel = firstHeader(headers['x-served-model']);
  }

  #clearPhaseTimer(): void {
    if (this.#phaseTimer !== undefined) {
      clearTimeout(this.#phaseTimer);
      this.#phaseTimer = undefined;
    }
  }

  #clearTotalTimer(): void {
    if (this.#totalTimer !== undefined) {
      clearTimeout(this.#totalTimer);
      this.#totalTimer = undefined;
    }
  }

  #now(): number {
    return Number(process.hrtime.bigint() - this.#epochNs) / 1e6;
  }
}

// ---- helpers ------------------------------------------------------------------------------

/** The parts of a chunk / response object the client reads. */
interface ChunkShape {
  choices?: unknown;
  usage?: unknown;
  error?: unknown;
  message?: unknown;
}

interface ChoiceShape {
  delta?: unknown;
  message?: unknown;
  text?: unknown;
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0;
}

/** A chat delta (or message) carries generated content: content, reasoning_content or reasoning. */
function deltaHasContent(delta: unknown): boolean {
  if (delta === null || typeof delta !== 'object') return false;
  const d = delta as { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
  return nonEmpty(d.content) || nonEmpty(d.reasoning_content) || nonEmpty(d.reasoning);
}

/** Hand a chat delta's (or message's) `content` to `onText`, when it is a non-empty string. */
function emitContent(delta: unknown, onText: (piece: string) => void): void {
  if (delta === null || typeof delta !== 'object') return;
  const c = (delta as { content?: unknown }).content;
  if (typeof c === 'string' && c.length > 0) onText(c);
}

/** error.message of an OpenAI-shape error (`{"error":{"message"}}`, or vLLM's flat `{"message"}`). */
function errorMessageFromObject(o: ChunkShape): string | undefined {
  const e = o.error;
  if (typeof e === 'string' && e !== '') return e;
  if (e !== null && typeof e === 'object') {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string') return m;
  }
  if (typeof o.message === 'string') return o.message;
  const detail = (o as { detail?: unknown }).detail; // FastAPI's default error shape
  if (typeof detail === 'string') return detail;
  return undefined;
}

function errorMessageFromText(text: string): string | undefined {
  try {
    const obj: unknown = JSON.parse(text);
    if (obj !== null && typeof obj === 'object') return errorMessageFromObject(obj as ChunkShape);
  } catch {
    // not JSON: the caller falls back to the raw text
  }
  return undefined;
}

/** What an error message that quoted the request becomes: records never hold prompt text. */
export const WITHHELD = '[the server\'s message quoted the request; withheld]';
const QUOTE_WINDOW = 32;

/**
 * Whether `message` repeats a stretch of the request body (a prompt, say): any window of 32
 * characters of it, taken every 16, found in the body. A quote of 48 characters or more is always
 * caught; shorter ones are too short to carry much of a prompt. At most a dozen substring
 * searches, on failures only.
 */
export function quotesRequest(message: string, body: string): boolean {
  if (message.length < QUOTE_WINDOW) return false;
  for (let i = 0; i + QUOTE_WINDOW <= message.length; i += QUOTE_WINDOW / 2) {
    if (body.includes(message.slice(i, i + QUOTE_WINDOW))) return true;
  }
  return false;
}

function truncate(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? s.slice(0, MAX_MESSAGE_CHARS) : s;
}

function enabled(ms: number): boolean {
  return Number.isFinite(ms) && ms > 0;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A JSON object of the OpenAI response shape, or what is wrong with the text. */
function parseObject(text: string): ChunkShape | string {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return 'unparseable JSON';
  }
  return obj !== null && typeof obj === 'object' ? (obj as ChunkShape) : 'not a JSON object';
}

/** `retry-after` in ms: delta-seconds, or an HTTP-date (ms from now, at least 0). */
export function parseRetryAfterMs(value: string): number | undefined {
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

interface Target {
  origin: string;
  path: string;
}

/** Splits the endpoint URL into undici's origin and path (about a microsecond: not cached). */
function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported protocol ${u.protocol}`);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}

/**
 * One run-wide signal is typically shared by every request in flight (1,000s of listeners):
 * by design, not the leak Node warns of, so its listener limit is lifted (a cheap property set).
 */
function listenForAbort(signal: AbortSignal, listener: () => void): void {
  setMaxListeners(0, signal);
  signal.addEventListener('abort', listener, { once: true });
}
