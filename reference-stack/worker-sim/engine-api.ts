/**
 * The contract between the simulated worker's HTTP surface (worker-server.ts) and its engine
 * (sim-engine.ts): what a request asks for, how tokens come back, and how failures are told.
 * The HTTP layer owns OpenAI/vLLM formats; the engine owns scheduling, the KV cache, the
 * performance model and the clock.
 */

/** A generation request as the engine sees it (already tokenized and validated by the server). */
export interface GenerateRequest {
  /** Unique id (the server's request id, e.g. `chatcmpl-...`). */
  requestId: string;
  promptTokenIds: readonly number[];
  /** Output cap (max_tokens; the server fills in max_model_len - prompt when absent). */
  maxTokens: number;
  /** Minimum output tokens before generation may stop on its own (vLLM's min_tokens). */
  minTokens: number;
  /** Generate exactly maxTokens, ignoring the end-of-sequence token (vLLM's ignore_eos). */
  ignoreEos: boolean;
  /** Scheduling priority (lower is served first) with scheduling_policy 'priority'; 0 otherwise. */
  priority: number;
  /** Seed of the generated text (the request's `seed`, else derived from the request id). */
  seed: number;
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** One generated token, emitted at the end of the engine step that produced it. */
export interface TokenEvent {
  tokenId: number;
  /** Its text (with its leading space): exactly one token by the worker's tokenizer. */
  text: string;
  /** 0-based index among the request's output tokens. */
  index: number;
  /** Set on the last token. */
  finishReason: FinishReason | undefined;
  promptTokens: number;
  /** Output tokens so far, this one included. */
  completionTokens: number;
}

/** A failure the server turns into an OpenAI-shape error (before or during the stream). */
export interface EngineFailure {
  /** HTTP status when it happens before the first byte (e.g. 500 for CUDA OOM, 503 when dead). */
  status: number;
  /** OpenAI/vLLM error type, e.g. InternalServerError, ServiceUnavailableError. */
  type: string;
  message: string;
}

export interface GenerationSink {
  onToken(ev: TokenEvent): void;
  onError(err: EngineFailure): void;
}

export interface GenerationHandle {
  /** The client went away: drop the request (frees its KV blocks). */
  abort(): void;
}

/** What the HTTP layer needs from an engine. */
export interface WorkerEngine {
  /** Model id served (and accepted in requests), plus aliases. */
  readonly modelName: string;
  readonly modelAliases: readonly string[];
  readonly maxModelLen: number;
  /** 'priority' lets requests carry `priority`; 'fcfs' rejects non-zero priorities (as vLLM does). */
  readonly schedulingPolicy: 'fcfs' | 'priority';
  /** The worker's tokenizer: usage counts and /tokenize agree with it by construction. */
  tokenize(text: string): number[];
  /** Token ids of a chat conversation with the model's chat template applied. */
  applyChatTemplate(messages: ReadonlyArray<{ role: string; content: string }>, addGenerationPrompt: boolean): number[];
  detokenize(ids: readonly number[]): string;
  /** Submit a request; tokens and failures come through the sink. */
  submit(req: GenerateRequest, sink: GenerationSink): GenerationHandle;
  /** False once the engine has died (fault injection): /health answers 503. */
  healthy(): boolean;
  /** Prometheus text exposition of the worker's vLLM and DCGM metrics. */
  metricsText(): Promise<string>;
}
