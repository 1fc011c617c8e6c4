/**
 * The simulated worker's HTTP surface: a node:http server speaking vLLM's OpenAI-compatible API
 * in front of a {@link WorkerEngine} (`/v1/chat/completions`, `/v1/completions`, `/v1/models`,
 * `/tokenize`, `/detokenize`, `/health`, `/ping`, `/version`, `/metrics`).
 *
 * Owns: routing, request bodies (bounded), validation order (as vLLM: body -> model -> context
 * length -> sampling params -> priority), request ids and `x-request-id`, turning engine events
 * into SSE chunks or one JSON body, and client disconnects (-> `handle.abort()`). The wire
 * format itself is in openai-format.ts.
 *
 * Streaming: the response head is written with the first token (so an engine failure before the
 * first token is still a plain HTTP error with its status, and a gateway may retry it); the role
 * chunk and the first token chunk go out in that one write, then one write per token. A failure
 * after the first byte is vLLM's `data: {"error": {...}}` event followed by `data: [DONE]`.
 *
 * Privacy: prompts and completions are never logged; the server logs nothing at all.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EngineFailure, GenerationHandle, GenerationSink, TokenEvent, WorkerEngine } from './engine-api.ts';
import {
  OpenAIError,
  SSE_DONE,
  StreamChunkFormatter,
  chatCompletionResponse,
  detailBody,
  errorBody,
  errorTypeForStatus,
  modelNotFoundError,
  modelsList,
  parseChatRequest,
  parseCompletionRequest,
  parseDetokenizeRequest,
  parseTokenizeRequest,
  priorityNotEnabledError,
  resolveMaxTokens,
  sseErrorEvent,
  textCompletionResponse,
  tokenizeResponse,
  type ChatRequest,
  type CompletionRequest,
  type ErrorInfo,
  type FinalOutput,
} from './openai-format.ts';

export interface WorkerServerOptions {
  engine: WorkerEngine;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Largest request body accepted, bytes (default 32 MiB); larger bodies get 413. */
  maxBodyBytes?: number;
}

export interface WorkerServer {
  /** `http://host:port` (no `/v1`). */
  url: string;
  port: number;
  /** Stops listening and drops every open connection (in-flight generations are aborted). */
  close(): Promise<void>;
}

/** Default bound of a request body, bytes. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

const PACKAGE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** `/version`'s answer: the simulator names itself instead of claiming a vLLM version. */
export const WORKER_VERSION = `floodgate-sim ${PACKAGE_VERSION}`;

const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const JSON_TYPE = 'application/json';
const SSE_TYPE = 'text/event-stream; charset=utf-8';

/** vLLM's uuid4().hex: 32 lowercase hex digits. */
function hexId(): string {
  return randomUUID().replaceAll('-', '');
}

/** FNV-1a 32-bit of a string: a request's default seed, from its (unique) engine id. */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function requestIdHeader(req: http.IncomingMessage): string | undefined {
  const v = req.headers['x-request-id'];
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && s !== '' ? s : undefined;
}

function sendJson(res: http.ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendError(res: http.ServerResponse, info: ErrorInfo, extra?: Record<string, string>): void {
  sendJson(res, info.code, errorBody(info), extra);
}

function failureInfo(f: EngineFailure): ErrorInfo {
  return { message: f.message, type: f.type || errorTypeForStatus(f.status), param: null, code: f.status };
}

function internalError(err: unknown): OpenAIError {
  return new OpenAIError(500, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * Reads a JSON request body, bounded. vLLM accepts only `application/json` on its POST routes
 * (400 otherwise); an oversize body is 413 and the connection is closed after the answer.
 */
function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== JSON_TYPE) {
    return Promise.reject(new OpenAIError(400, "Unsupported Media Type: Only 'application/json' is allowed"));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('error', (err) => {
      if (failed) return;
      failed = true;
      reject(err);
    });
    req.on('end', () => {
      if (failed) return;
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new OpenAIError(400, `JSON decode error: the request body (${size} bytes) is not valid JSON.`));
      }
    });
  });
}

function tooLarge(limit: number): OpenAIError {
  return new OpenAIError(413, `Request body too large: the limit is ${limit} bytes.`);
}

/**
 * One generation request in flight: the engine's sink, writing SSE chunks or collecting the text
 * for one JSON body. Everything per token is a field access, one string build and one write.
 */
class Generation implements GenerationSink {
  handle: GenerationHandle | undefined;
  /** No more writes: finished, failed, or the client went away. */
  #done = false;
  #headSent = false;
  readonly #res: http.ServerResponse;
  readonly #parsed: ChatRequest | CompletionRequest;
  readonly #fmt: StreamChunkFormatter | undefined;
  readonly #head: Record<string, string>;
  readonly #out: FinalOutput;
  readonly #parts: string[] = [];
  readonly #role: string;

  constructor(res: http.ServerResponse, parsed: ChatRequest | CompletionRequest, out: FinalOutput, requestIdHeaderValue: string) {
    this.#res = res;
    this.#parsed = parsed;
    this.#out = out;
    this.#role = 'assistant';
    if (parsed.endpoint === 'chat' && !parsed.addGenerationPrompt) this.#role = parsed.messages[parsed.messages.length - 1]?.role ?? 'assistant';
    this.#head = { 'x-request-id': requestIdHeaderValue };
    this.#fmt = parsed.stream
      ? new StreamChunkFormatter({ endpoint: parsed.endpoint, id: out.id, created: out.created, model: out.model, continuousUsage: parsed.continuousUsage })
      : undefined;
    res.on('close', () => {
      if (this.#done) return;
      this.#done = true;
      this.handle?.abort();
    });
  }

  onToken(ev: TokenEvent): void {
    if (this.#done) return;
    const fmt = this.#fmt;
    const last = ev.finishReason !== undefined;
    if (fmt === undefined) {
      this.#parts.push(ev.text);
      if (!last) return;
      this.#done = true;
      const out = this.#out;
      out.text = this.#parts.join('');
      out.finishReason = ev.finishReason!;
      out.promptTokens = ev.promptTokens;
      out.completionTokens = ev.completionTokens;
      const body = this.#parsed.endpoint === 'chat' ? chatCompletionResponse(out, this.#role) : textCompletionResponse(out);
      sendJson(this.#res, 200, JSON.stringify(body), this.#head);
      return;
    }
    let s = '';
    if (!this.#headSent) {
      this.#headSent = true;
      this.#res.writeHead(200, { 'content-type': SSE_TYPE, ...this.#head });
      s = fmt.roleChunk(ev.promptTokens, this.#role);
    }
    s += fmt.tokenChunk(ev.text, ev.finishReason, ev.promptTokens, ev.completionTokens);
    if (!last) {
      this.#res.write(s);
      return;
    }
    this.#done = true;
    if (this.#parsed.includeUsage) s += fmt.usageChunk(ev.promptTokens, ev.completionTokens);
    this.#res.end(s + SSE_DONE);
  }

  onError(err: EngineFailure): void {
    if (this.#done) return;
    this.#done = true;
    const info = failureInfo(err);
    if (this.#headSent) this.#res.end(sseErrorEvent(info) + SSE_DONE);
    else sendError(this.#res, info, this.#head);
  }

  /** Fail before anything was written (the engine threw in submit). */
  fail(err: OpenAIError): void {
    if (this.#done) return;
    this.#done = true;
    sendError(this.#res, err.info(), this.#head);
  }
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/**
 * Starts a simulated vLLM worker's HTTP server on `host:port` (default 127.0.0.1, a free port)
 * in front of `engine`. Resolves once listening.
 */
export async function startWorkerServer(options: WorkerServerOptions): Promise<WorkerServer> {
  const { engine } = options;
  const host = options.host ?? '127.0.0.1';
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const servedNames = new Set([engine.modelName, ...engine.modelAliases]);
  let seq = 0;

  function checkModel(model: string | undefined): void {
    if (model !== undefined && !servedNames.has(model)) throw modelNotFoundError(model);
  }

  async function generate(req: http.IncomingMessage, res: http.ServerResponse, endpoint: 'chat' | 'completion'): Promise<void> {
    const given = requestIdHeader(req);
    // vLLM's request id: `chatcmpl-` / `cmpl-` + X-Request-Id when given, else a uuid4 hex.
    const id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${given ?? hexId()}`;
    const head = { 'x-request-id': given ?? id };
    try {
      const body = await readJson(req, limit);
      const parsed = endpoint === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
      checkModel(parsed.model);
      let promptTokenIds: number[];
      try {
        if (parsed.endpoint === 'chat') promptTokenIds = engine.applyChatTemplate(parsed.messages, parsed.addGenerationPrompt);
        else promptTokenIds = typeof parsed.prompt === 'string' ? engine.tokenize(parsed.prompt) : parsed.prompt;
      } catch (err) {
        throw new OpenAIError(400, err instanceof Error ? err.message : String(err), { cause: err });
      }
      if (promptTokenIds.length === 0) throw new OpenAIError(400, 'Prompt cannot be empty', { param: 'prompt' });
      const maxTokens = resolveMaxTokens(promptTokenIds.length, parsed.maxTokens, parsed.minTokens, engine.maxModelLen);
      if (parsed.priority !== 0 && engine.schedulingPolicy === 'fcfs') throw priorityNotEnabledError(parsed.priority);
      if (res.destroyed) return;
      // The engine needs unique ids; a client-chosen X-Request-Id may repeat.
      const engineId = given === undefined ? id : `${id}-${(seq++).toString(36)}`;
      const out: FinalOutput = {
        id,
        created: Math.floor(Date.now() / 1000),
        model: engine.modelName,
        text: '',
        finishReason: 'stop',
        promptTokens: promptTokenIds.length,
        completionTokens: 0,
      };
      const gen = new Generation(res, parsed, out, head['x-request-id']);
      try {
        gen.handle = engine.submit(
          {
            requestId: engineId,
            promptTokenIds,
            maxTokens,
            minTokens: parsed.minTokens,
            ignoreEos: parsed.ignoreEos,
            priority: parsed.priority,
            seed: parsed.seed ?? seedOf(engineId),
          },
          gen,
        );
      } catch (err) {
        gen.fail(internalError(err));
      }
    } catch (err) {
      const e = err instanceof OpenAIError ? err : internalError(err);
      sendError(res, e.info(), e.status === 413 ? { ...head, connection: 'close' } : head);
    }
  }

  async function withJson(req: http.IncomingMessage, res: http.ServerResponse, fn: (body: unknown) => unknown): Promise<void> {
    try {
      const body = await readJson(req, limit);
      sendJson(res, 200, JSON.stringify(fn(body)));
    } catch (err) {
      const e = err instanceof OpenAIError ? err : internalError(err);
      sendError(res, e.info(), e.status === 413 ? { connection: 'close' } : undefined);
    }
  }

  function health(_req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(engine.healthy() ? 200 : 503, { 'content-length': 0 });
    res.end();
  }

  const routes = new Map<string, Record<string, Handler>>([
    ['/v1/chat/completions', { POST: (req, res) => generate(req, res, 'chat') }],
    ['/v1/completions', { POST: (req, res) => generate(req, res, 'completion') }],
    [
      '/v1/models',
      {
        GET: (_req, res) => {
          const created = Math.floor(Date.now() / 1000);
          const body = modelsList([...servedNames], engine.modelName, engine.maxModelLen, created, () => `modelperm-${hexId()}`);
          sendJson(res, 200, JSON.stringify(body));
        },
      },
    ],
    [
      '/tokenize',
      {
        POST: (req, res) =>
          withJson(req, res, (body) => {
            const t = parseTokenizeRequest(body);
            checkModel(t.model);
            const tokens = t.kind === 'chat' ? engine.applyChatTemplate(t.messages, t.addGenerationPrompt) : engine.tokenize(t.prompt);
            return tokenizeResponse(tokens, engine.maxModelLen, t.returnTokenStrs ? tokens.map((id) => engine.detokenize([id])) : null);
          }),
      },
    ],
    [
      '/detokenize',
      {
        POST: (req, res) =>
          withJson(req, res, (body) => {
            const d = parseDetokenizeRequest(body);
            checkModel(d.model);
            return { prompt: engine.detokenize(d.tokens) };
          }),
      },
    ],
    ['/health', { GET: health }],
    ['/ping', { GET: health, POST: health }],
    ['/version', { GET: (_req, res) => sendJson(res, 200, JSON.stringify({ version: WORKER_VERSION })) }],
    [
      '/metrics',
      {
        GET: async (_req, res) => {
          try {
            const text = await engine.metricsText();
            if (res.destroyed) return;
            res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
            res.end(text);
          } catch (err) {
            sendError(res, internalError(err).info());
          }
        },
      },
    ],
  ]);

  const server = http.createServer({ noDelay: true }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routes.get(path);
    if (route === undefined) return sendJson(res, 404, detailBody(404));
    const handler = route[req.method ?? 'GET'];
    if (handler === undefined) return sendJson(res, 405, detailBody(405), { allow: Object.keys(route).join(', ') });
    const r = handler(req, res);
    if (r instanceof Promise) {
      r.catch((err: unknown) => {
        if (!res.headersSent) sendError(res, internalError(err).info());
        else res.destroy();
      });
    }
  });
  // uvicorn's keep-alive timeout.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
