/**
 * RequestRecord: everything measured about one request, and nothing of its content (no prompt
 * or completion text, ever). Times are milliseconds on the run's monotonic clock: 0 is the run
 * epoch (`process.hrtime` at the engine's start), so records from several client threads share
 * one clock. Formulas: docs/metrics.md.
 */

export type Phase = 'warmup' | 'measure' | 'cooldown';

export interface RequestError {
  /** See harness/client/request-error-codes.ts: http_429, timeout_ttft, stream_truncated, ... */
  code: string;
  /** Short description (server's error message, truncated; never prompt text). */
  message: string;
}

export interface RequestRecord {
  /** Sequence number in the plan (0-based). */
  id: number;
  /** Stage index in scenario.load.stages. */
  stage: number;
  phase: Phase;
  model: string;
  tenant: string | undefined;
  /** Closed-loop user number, when the stage is closed-loop. */
  user: number | undefined;

  /** When the plan meant the request to be sent. */
  intendedMs: number;
  /** When the client actually started sending (before connect). */
  sentMs: number;
  /**
   * Schedule lag: sentMs - max(intendedMs, slotFreeMs), the client's own lateness. Time spent
   * waiting for a `max_in_flight` slot is not lag (it is `capWaitMs`).
   */
  scheduleLagMs: number;
  /** Time waited for a max_in_flight slot (0 when there is no cap or a slot was free). */
  capWaitMs: number;
  /** When the request was over, successfully or not (last byte, error, or abort). */
  endMs: number;

  /** Response headers arrived (ms after sentMs). */
  headersMs: number | undefined;
  /** TTFT: sentMs -> first chunk carrying generated content (not a role-only chunk). */
  ttftMs: number | undefined;
  /** E2E: sentMs -> last content chunk (non-streaming: -> full body). */
  e2eMs: number | undefined;
  /** Per-token inter-token latencies: a chunk with k tokens contributes k gaps of gap/k. */
  itlMs: number[];
  /** Gaps between consecutive content chunks, as they arrived. */
  chunkGapsMs: number[];
  /** TPOT: (e2e - ttft) / (outputTokens - 1); undefined when outputTokens < 2. */
  tpotMs: number | undefined;
  /** Admission wait reported by the target (`x-queue-ms`), when it sends one. */
  queueMs: number | undefined;

  /** Prompt tokens planned, and as the server counted them (usage), when it reported usage. */
  plannedPromptTokens: number;
  promptTokens: number | undefined;
  /** Output tokens asked for (max_tokens), and produced. */
  plannedOutputTokens: number;
  outputTokens: number;
  /** Where outputTokens came from: server usage, or one token per content chunk. */
  tokenSource: 'usage' | 'chunks';
  /** Content chunks received. */
  chunks: number;

  ok: boolean;
  /** HTTP status, when a response arrived. */
  status: number | undefined;
  error: RequestError | undefined;
  /** `retry-after` of a 429/503, in ms. */
  retryAfterMs: number | undefined;
  /** Response headers worth keeping: x-request-id, x-served-by, x-served-model. */
  requestId: string | undefined;
  servedBy: string | undefined;
  servedModel: string | undefined;
  /**
   * W3C trace id (32 hex digits) of the request's client span, when tracing is on (docs/metrics.md,
   * "Tracing"): joins the record with the harness's and the gateway's spans. Absent otherwise.
   */
  traceId?: string | undefined;
  /**
   * `workload.conversation` (docs/scenarios.md, "Conversations"): the run-unique id of the
   * conversation the request is a turn of, the turn (1-based), and the conversation's planned
   * turns. Absent for requests that are not turns of a conversation.
   */
  conversation?: number | undefined;
  turn?: number | undefined;
  conversationTurns?: number | undefined;
  /**
   * A trace session's turn (`trace.sessions: conversation`, history included) whose row's input
   * length was not more than the history's tokens: its new text was clamped to 1 token.
   */
  newTextClamped?: true | undefined;
}
