/**
 * The undici dispatcher the client sends through, tuned for load generation: many concurrent,
 * long-lived streaming responses to one or a few origins.
 *
 * Owns: connection-pool settings. Timeouts other than connect are deliberately not undici's:
 * sendRequest enforces TTFT and total timeouts per request, with error codes of its own.
 */

import { Agent, type Dispatcher } from 'undici';

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** TCP connect timeout, in ms (-> error code `timeout_connect`). */
  connectTimeoutMs: number;
  /**
   * Maximum connections per origin. Default: unlimited, so that N requests in flight use N
   * connections and no request waits in undici's queue behind another stream (which would show
   * up as TTFT the server never caused). Set it to model a client with a bounded pool.
   */
  connections?: number;
  /**
   * Idle keep-alive time of a pooled connection, in ms, when the server sends no
   * `Keep-Alive: timeout=` hint. Default 4000: below uvicorn's (vLLM's) 5 s idle close, so the
   * client does not reuse a connection the server is closing (a spurious `connection_reset`).
   */
  keepAliveTimeoutMs?: number;
}

/**
 * Creates an undici Agent for sendRequest: unlimited (or `connections`) connections per origin,
 * no pipelining (one request per connection at a time: a stream would block the pipeline),
 * keep-alive, and no undici headers/body timeouts (ours are per request). The caller owns it
 * and closes it (`await dispatcher.close()`, or `destroy()` to cut streams in flight).
 */
export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  return new Agent({
    connections: opts.connections ?? null,
    pipelining: 1,
    connectTimeout: opts.connectTimeoutMs,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    // Response bodies are bounded by sendRequest itself (error bodies, non-streaming JSON).
    maxResponseSize: -1,
  });
}
