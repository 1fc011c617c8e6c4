/**
 * vLLM's OpenAI-compatible wire format, as `vllm serve` v0.10.1 speaks it, for the simulated
 * worker: request parsing and validation (with vLLM's error messages where vLLM has one), the
 * streaming chunks (built as strings, one per token, on the hot path), the non-streaming response
 * objects, `/v1/models`, `/tokenize`, and errors in the shape `{"error": {message, type, param,
 * code}}` where `code` is the HTTP status as a number (vLLM's ErrorInfo).
 *
 * Pure functions only: no I/O, no clock reads except where a caller passes `created`.
 *
 * Shapes follow vLLM's pydantic dumps: chat chunks are dumped with `exclude_unset` (so a content
 * chunk carries `delta: {content}` and no `usage` key unless continuous usage is on), completion
 * chunks without it (`"stop_reason": null` on every chunk and `"usage": null` when there is no
 * continuous usage), final usage chunks with `exclude_none` (`choices: []`, usage without
 * `prompt_tokens_details`). Key order is pydantic's field order (`prompt_tokens, total_tokens,
 * completion_tokens`).
 */

/** The stream terminator vLLM writes after the last chunk (also after an error event). */
export const SSE_DONE = 'data: [DONE]\n\n';

/** Which OpenAI endpoint a generation request came through. */
export type Endpoint = 'chat' | 'completion';

/** A finish reason as it appears on the wire. */
export type WireFinishReason = 'stop' | 'length' | 'abort';

// ---------------------------------------------------------------------------------------------
// Errors

/** vLLM's ErrorInfo: `code` is the HTTP status. */
export interface ErrorInfo {
  message: string;
  type: string;
  param: string | null;
  code: number;
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  405: 'MethodNotAllowedError',
  408: 'RequestTimeoutError',
  413: 'RequestEntityTooLargeError',
  415: 'UnsupportedMediaTypeError',
  422: 'UnprocessableEntityError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  501: 'NotImplementedError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
};

/** The error `type` vLLM (and openai-python's class names) use for an HTTP status. */
export function errorTypeForStatus(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError');
}

/**
 * A request the worker refuses, with the status and vLLM error type to answer with. Thrown by the
 * parsers here and by the server's own checks; the server turns it into {@link errorBody}.
 */
export class OpenAIError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;

  constructor(status: number, message: string, options: { type?: string; param?: string | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpenAIError';
    this.status = status;
    this.type = options.type ?? errorTypeForStatus(status);
    this.param = options.param ?? null;
  }

  /** The `error` object of the response body. */
  info(): ErrorInfo {
    return { message: this.message, type: this.type, param: this.param, code: this.status };
  }
}

/** `{"error": {...}}` as a JSON string, the body of every error response. */
export function errorBody(info: ErrorInfo): string {
  return JSON.stringify({ error: info });
}

/** vLLM's in-stream error event: `data: {"error": {...}}`; the server writes {@link SSE_DONE} after it. */
export function sseErrorEvent(info: ErrorInfo): string {
  return `data: ${errorBody(info)}\n\n`;
}

/** FastAPI's body for an unknown route (404) or a known route with the wrong method (405). */
export function detailBody(status: 404 | 405): string {
  return status === 404 ? '{"detail":"Not Found"}' : '{"detail":"Method Not Allowed"}';
}

// ---------------------------------------------------------------------------------------------
// Requests

/** A chat message reduced to what the chat template needs. */
export interface TemplateMessage {
  role: string;
  content: string;
}

/** Sampling and streaming parameters common to both generation endpoints. */
export interface GenerationParams {
  /** `model` as sent; undefined when absent (vLLM then serves its first model). */
  model: string | undefined;
  stream: boolean;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
  /** `stream_options.continuous_usage_stats`, effective only with include_usage (as vLLM). */
  continuousUsage: boolean;
  /** The output cap asked for; null = fill the context (max_model_len - prompt tokens). */
  maxTokens: number | null;
  minTokens: number;
  ignoreEos: boolean;
  priority: number;
  seed: number | undefined;
}

export interface ChatRequest extends GenerationParams {
  endpoint: 'chat';
  messages: TemplateMessage[];
  addGenerationPrompt: boolean;
}

export interface CompletionRequest extends GenerationParams {
  endpoint: 'completion';
  /** Text, or token ids (vLLM accepts a prompt as a list of ints). */
  prompt: string | number[];
}

/** `/tokenize` with a `prompt`, or with `messages` (chat template applied). */
export type TokenizeRequest =
  | { kind: 'prompt'; model: string | undefined; prompt: string; returnTokenStrs: boolean }
  | { kind: 'chat'; model: string | undefined; messages: TemplateMessage[]; addGenerationPrompt: boolean; returnTokenStrs: boolean };

export interface DetokenizeRequest {
  model: string | undefined;
  tokens: number[];
}

/** vLLM's default `max_tokens` of a /v1/completions request that does not send the field. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

// Python's int64 range bounds vLLM's `seed`; JS keeps it to safe integers.
const SEED_MIN = Number.MIN_SAFE_INTEGER;
const SEED_MAX = Number.MAX_SAFE_INTEGER;

type Json = Record<string, unknown>;

function bad(message: string, param: string | null = null): OpenAIError {
  return new OpenAIError(400, message, { param });
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

function asObject(body: unknown): Json {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad(`The request body must be a JSON object, got ${describe(body)}.`);
  }
  return body as Json;
}

/** undefined when absent or null. */
function optInt(o: Json, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${key}: Input should be a valid integer, got ${describe(v)}.`, key);
  return v;
}

function optBool(o: Json, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(`${key}: Input should be a valid boolean, got ${describe(v)}.`, key);
  return v;
}

function optModel(o: Json): string | undefined {
  const v = o['model'];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`model: Input should be a valid string, got ${describe(v)}.`, 'model');
  return v;
}

function parseMessages(o: Json): TemplateMessage[] {
  const raw = o['messages'];
  if (raw === undefined) throw bad('messages: Field required.', 'messages');
  if (!Array.isArray(raw)) throw bad(`messages: Input should be a valid list, got ${describe(raw)}.`, 'messages');
  if (raw.length === 0) throw bad('messages: List should have at least 1 item.', 'messages');
  return raw.map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad(`messages[${i}]: Input should be an object, got ${describe(m)}.`, 'messages');
    const msg = m as Json;
    const role = msg['role'];
    if (typeof role !== 'string') throw bad(`messages[${i}].role: Field required (a string).`, 'messages');
    return { role, content: messageContent(msg['content'], i) };
  });
}

/** String content, or text parts joined by newlines (vLLM's "string" content format); null = ''. */
function messageContent(c: unknown, i: number): string {
  if (typeof c === 'string') return c;
  if (c === undefined || c === null) return '';
  if (!Array.isArray(c)) throw bad(`messages[${i}].content: Input should be a string or a list of content parts, got ${describe(c)}.`, 'messages');
  const texts: string[] = [];
  for (const part of c as unknown[]) {
    if (typeof part === 'string') {
      texts.push(part);
      continue;
    }
    const p = part as Json | null;
    const type = p !== null && typeof p === 'object' ? p['type'] : undefined;
    if (type !== 'text' || typeof p?.['text'] !== 'string') {
      throw bad(`messages[${i}].content: unsupported content part type ${describe(type)}; the simulated worker serves a text-only model (type 'text' with a string 'text').`, 'messages');
    }
    texts.push(p['text'] as string);
  }
  return texts.join('\n');
}

function parseCommon(o: Json, maxTokens: number | null): GenerationParams {
  const n = optInt(o, 'n');
  if (n !== undefined && n !== 1) throw bad(`n must be 1 on the simulated worker, got ${n}.`, 'n');
  const stream = optBool(o, 'stream', false);
  let includeUsage = false;
  let continuousUsage = false;
  const so = o['stream_options'];
  if (so !== undefined && so !== null) {
    if (!stream) throw bad('Stream options can only be defined when `stream=True`.', 'stream_options');
    if (typeof so !== 'object' || Array.isArray(so)) throw bad(`stream_options: Input should be an object, got ${describe(so)}.`, 'stream_options');
    includeUsage = optBool(so as Json, 'include_usage', false);
    continuousUsage = includeUsage && optBool(so as Json, 'continuous_usage_stats', false);
  }
  const minTokens = optInt(o, 'min_tokens') ?? 0;
  if (minTokens < 0) throw bad(`min_tokens must be greater than or equal to 0, got ${minTokens}.`, 'min_tokens');
  const seed = optInt(o, 'seed');
  if (seed !== undefined && (seed < SEED_MIN || seed > SEED_MAX)) throw bad(`seed must be a safe integer, got ${seed}.`, 'seed');
  return {
    model: optModel(o),
    stream,
    includeUsage,
    continuousUsage,
    maxTokens,
    minTokens,
    ignoreEos: optBool(o, 'ignore_eos', false),
    priority: optInt(o, 'priority') ?? 0,
    seed,
  };
}

/**
 * Parses a `/v1/chat/completions` body. `max_completion_tokens` wins over `max_tokens`; both
 * absent (or null) = fill the context. Sampling fields (temperature, top_p, ...) and unknown
 * fields are accepted and ignored. Throws {@link OpenAIError} (400).
 */
export function parseChatRequest(body: unknown): ChatRequest {
  const o = asObject(body);
  const messages = parseMessages(o);
  const maxTokens = optInt(o, 'max_completion_tokens') ?? optInt(o, 'max_tokens') ?? null;
  return { endpoint: 'chat', messages, addGenerationPrompt: optBool(o, 'add_generation_prompt', true), ...parseCommon(o, maxTokens) };
}

/**
 * Parses a `/v1/completions` body. `prompt`: a string, a list of token ids, or a list holding
 * one of those; more than one prompt (a batch) is refused. `max_tokens` absent = 16 (vLLM's
 * CompletionRequest default), null = fill the context. Throws {@link OpenAIError} (400).
 */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  const o = asObject(body);
  const prompt = parsePrompt(o['prompt']);
  const maxTokens = o['max_tokens'] === undefined ? COMPLETIONS_DEFAULT_MAX_TOKENS : optInt(o, 'max_tokens') ?? null;
  return { endpoint: 'completion', prompt, ...parseCommon(o, maxTokens) };
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
}

function parsePrompt(p: unknown): string | number[] {
  if (p === undefined || p === null) throw bad('prompt: Field required.', 'prompt');
  if (typeof p === 'string') return p;
  if (isTokenIds(p)) return p;
  if (Array.isArray(p)) {
    if (p.length > 1 && p.every((x) => typeof x === 'string' || Array.isArray(x))) {
      throw bad(`Batched prompts are not supported by the simulated worker: got ${p.length} prompts; send one request per prompt.`, 'prompt');
    }
    if (p.length === 1 && (typeof p[0] === 'string' || isTokenIds(p[0]))) return p[0] as string | number[];
  }
  throw bad('prompt: Input should be a string, a list of token ids, or a list holding one of those.', 'prompt');
}

/** Parses a `/tokenize` body: `{prompt}` or `{messages, add_generation_prompt = true}`. */
export function parseTokenizeRequest(body: unknown): TokenizeRequest {
  const o = asObject(body);
  const model = optModel(o);
  const returnTokenStrs = optBool(o, 'return_token_strs', false);
  if (o['messages'] !== undefined) {
    return { kind: 'chat', model, messages: parseMessages(o), addGenerationPrompt: optBool(o, 'add_generation_prompt', true), returnTokenStrs };
  }
  const p = o['prompt'];
  if (typeof p !== 'string') throw bad(p === undefined ? 'prompt or messages: Field required.' : `prompt: Input should be a valid string, got ${describe(p)}.`, 'prompt');
  return { kind: 'prompt', model, prompt: p, returnTokenStrs };
}

/** Parses a `/detokenize` body: `{tokens: int[]}`. */
export function parseDetokenizeRequest(body: unknown): DetokenizeRequest {
  const o = asObject(body);
  const t = o['tokens'];
  if (!Array.isArray(t) || !t.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw bad('tokens: Input should be a list of non-negative integers.', 'tokens');
  }
  return { model: optModel(o), tokens: t as number[] };
}

/**
 * Resolves the output cap against the context (vLLM's `_validate_input` and `get_max_tokens`):
 * returns max_tokens, or max_model_len - prompt tokens when none was asked. Throws vLLM's
 * context-length error (400), its `max_tokens must be at least 1` and its min_tokens errors.
 */
export function resolveMaxTokens(promptTokens: number, maxTokens: number | null, minTokens: number, maxModelLen: number): number {
  if (maxTokens === null) {
    if (promptTokens >= maxModelLen) {
      throw bad(
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens} tokens in the messages, Please reduce the length of the messages.`,
      );
    }
    maxTokens = maxModelLen - promptTokens;
  } else if (promptTokens + maxTokens > maxModelLen) {
    throw bad(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
    );
  }
  if (maxTokens < 1) throw bad(`max_tokens must be at least 1, got ${maxTokens}.`, 'max_tokens');
  if (minTokens > maxTokens) throw bad(`min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${minTokens}.`, 'min_tokens');
  return maxTokens;
}

/** vLLM's refusal of a non-zero priority when the scheduling policy is fcfs. */
export function priorityNotEnabledError(priority: number): OpenAIError {
  return bad(`Got priority ${priority} but Priority scheduling is not enabled.`, 'priority');
}

/** vLLM's answer to a model name it does not serve (404). */
export function modelNotFoundError(model: string): OpenAIError {
  return new OpenAIError(404, `The model \`${model}\` does not exist.`, { param: 'model' });
}

// ---------------------------------------------------------------------------------------------
// Streaming chunks

/** What every chunk of one response shares. */
export interface ChunkContext {
  endpoint: Endpoint;
  /** `chatcmpl-...` / `cmpl-...`. */
  id: string;
  /** Unix seconds, the same on every chunk of a response. */
  created: number;
  /** The served model name (vLLM answers with its first served name, whatever alias was asked). */
  model: string;
  /** Put cumulative usage on every chunk (`stream_options.continuous_usage_stats`). */
  continuousUsage: boolean;
}

/**
 * Builds the `data: {...}\n\n` events of one streamed response. The constant parts of a chunk
 * are built once; a token chunk costs one JSON.stringify of the token text and a concatenation.
 */
export class StreamChunkFormatter {
  readonly #ctx: ChunkContext;
  readonly #head: string;
  readonly #tokenHead: string;
  readonly #tokenTail: string;

  constructor(ctx: ChunkContext) {
    this.#ctx = ctx;
    const object = ctx.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.#head = `data: {"id":${JSON.stringify(ctx.id)},"object":"${object}","created":${ctx.created},"model":${JSON.stringify(ctx.model)},"choices":`;
    this.#tokenHead = ctx.endpoint === 'chat' ? `${this.#head}[{"index":0,"delta":{"content":` : `${this.#head}[{"index":0,"text":`;
    this.#tokenTail = ctx.endpoint === 'chat' ? '},"logprobs":null,"finish_reason":null}]' : ',"logprobs":null,"finish_reason":null,"stop_reason":null}]';
  }

  #usage(promptTokens: number, completionTokens: number): string {
    const details = this.#ctx.endpoint === 'completion' ? ',"prompt_tokens_details":null' : '';
    return `,"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + completionTokens},"completion_tokens":${completionTokens}${details}}`;
  }

  #end(promptTokens: number, completionTokens: number): string {
    if (this.#ctx.continuousUsage) return `${this.#usage(promptTokens, completionTokens)}}\n\n`;
    return this.#ctx.endpoint === 'completion' ? ',"usage":null}\n\n' : '}\n\n';
  }

  /** Chat's first chunk, `delta: {role, content: ''}`, sent with the first token; '' for completions. */
  roleChunk(promptTokens: number, role = 'assistant'): string {
    if (this.#ctx.endpoint !== 'chat') return '';
    return `${this.#head}[{"index":0,"delta":{"role":${JSON.stringify(role)},"content":""},"logprobs":null,"finish_reason":null}]${this.#end(promptTokens, 0)}`;
  }

  /** One token's chunk; `finishReason` set on the last one (which then also carries `stop_reason: null`). */
  tokenChunk(text: string, finishReason: WireFinishReason | undefined, promptTokens: number, completionTokens: number): string {
    const tail =
      finishReason === undefined
        ? this.#tokenTail
        : this.#ctx.endpoint === 'chat'
          ? `},"logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}]`
          : `,"logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}]`;
    return `${this.#tokenHead}${JSON.stringify(text)}${tail}${this.#end(promptTokens, completionTokens)}`;
  }

  /** The `include_usage` chunk after the last token: `choices: []` and the final usage. */
  usageChunk(promptTokens: number, completionTokens: number): string {
    return `${this.#head}[],"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + completionTokens},"completion_tokens":${completionTokens}}}\n\n`;
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streaming responses

/** vLLM's UsageInfo as dumped in a non-streaming response. */
export interface UsageInfo {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
  prompt_tokens_details: null;
}

export interface FinalOutput {
  id: string;
  created: number;
  model: string;
  text: string;
  finishReason: WireFinishReason;
  promptTokens: number;
  completionTokens: number;
}

function usageInfo(promptTokens: number, completionTokens: number): UsageInfo {
  return { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens, prompt_tokens_details: null };
}

/** A `chat.completion` object (vLLM's ChatCompletionResponse, every field dumped). */
export function chatCompletionResponse(out: FinalOutput, role = 'assistant'): Record<string, unknown> {
  return {
    id: out.id,
    object: 'chat.completion',
    created: out.created,
    model: out.model,
    choices: [
      {
        index: 0,
        message: {
          role,
          content: out.text,
          refusal: null,
          annotations: null,
          audio: null,
          function_call: null,
          tool_calls: [],
          reasoning_content: null,
        },
        logprobs: null,
        finish_reason: out.finishReason,
        stop_reason: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: usageInfo(out.promptTokens, out.completionTokens),
    prompt_logprobs: null,
    kv_transfer_params: null,
  };
}

/** A `text_completion` object (vLLM's CompletionResponse, every field dumped). */
export function textCompletionResponse(out: FinalOutput): Record<string, unknown> {
  return {
    id: out.id,
    object: 'text_completion',
    created: out.created,
    model: out.model,
    choices: [{ index: 0, text: out.text, logprobs: null, finish_reason: out.finishReason, stop_reason: null, prompt_logprobs: null }],
    service_tier: null,
    system_fingerprint: null,
    usage: usageInfo(out.promptTokens, out.completionTokens),
    kv_transfer_params: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Other endpoints

/**
 * `/v1/models`: one card per served name (the model name, then its aliases), each with `root`
 * the model and one default permission, as vLLM's OpenAIServingModels.show_available_models.
 */
export function modelsList(names: readonly string[], root: string, maxModelLen: number, created: number, permissionId: (i: number) => string): Record<string, unknown> {
  return {
    object: 'list',
    data: names.map((id, i) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root,
      parent: null,
      max_model_len: maxModelLen,
      permission: [
        {
          id: permissionId(i),
          object: 'model_permission',
          created,
          allow_create_engine: false,
          allow_sampling: true,
          allow_logprobs: true,
          allow_search_indices: false,
          allow_view: true,
          allow_fine_tuning: false,
          organization: '*',
          group: null,
          is_blocking: false,
        },
      ],
    })),
  };
}

/** `/tokenize` answer (vLLM's TokenizeResponse). */
export function tokenizeResponse(tokens: readonly number[], maxModelLen: number, tokenStrs: readonly string[] | null): Record<string, unknown> {
  return { count: tokens.length, max_model_len: maxModelLen, tokens, token_strs: tokenStrs };
}
