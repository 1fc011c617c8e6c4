/**
 * Error codes of failed requests. A failed request is data, never an exception: it becomes a
 * RequestRecord with `ok: false` and `error: { code, message }`, counted per code in the report
 * (`summary.json` `errors{<code>: count}`).
 *
 * Owns: the list of codes and their meanings, and the mapping from undici / Node errors to a
 * code. Every code here is documented in docs/errors.md.
 */

/**
 * code -> one-line meaning. `http_<status>` is a pattern: the real codes are `http_429`,
 * `http_500`, ... (see {@link httpErrorCode}).
 */
export const REQUEST_ERROR_CODES: Record<string, string> = {
  'http_<status>':
    'The target answered with a non-2xx HTTP status, e.g. http_429, http_500; the message is the ' +
    "body's error.message (OpenAI shape), else the body's first 200 characters.",
  timeout_connect: 'No connection to the target within the connect timeout.',
  timeout_ttft: 'No first content chunk (non-streaming: no response headers) within the TTFT timeout of sending; the request was aborted.',
  timeout_total: 'The response did not finish within the total timeout of sending; the request was aborted.',
  connection_refused: 'The target refused the connection (nothing listening on the port).',
  connection_reset: 'The connection was reset or closed abruptly before the response finished.',
  stream_truncated: 'The stream ended cleanly but without `data: [DONE]`.',
  mid_stream_error: 'The stream carried an error (`data: {"error": {...}}` or an `event: error`); the message is its error.message.',
  invalid_response:
    'The response could not be understood: unparseable JSON, an unexpected shape, or a non-SSE body to a streaming request.',
  aborted: 'Cancelled by the harness (e.g. Ctrl-C after the grace period, or the dispatcher closed).',
  client_error: 'Any other failure inside the client; the message keeps the original error text.',
};

/** Code of a non-2xx response: `http_<status>`, e.g. `http_429`. */
export function httpErrorCode(status: number): string {
  return `http_${status}`;
}

/** True when `code` is one of REQUEST_ERROR_CODES, or an instance of the `http_<status>` pattern. */
export function isRequestErrorCode(code: string): boolean {
  if (/^http_[1-5]\d\d$/.test(code)) return true;
  return code !== 'http_<status>' && Object.hasOwn(REQUEST_ERROR_CODES, code);
}

/** Node / undici error codes (err.code) and the request error code each maps to. */
const BY_SYSTEM_CODE: Record<string, string> = {
  ECONNREFUSED: 'connection_refused',
  UND_ERR_CONNECT_TIMEOUT: 'timeout_connect',
  ETIMEDOUT: 'timeout_connect', // net-level connect timeout (SYN unanswered)
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset', // "other side closed" mid-response
  // undici's own timeouts are disabled by createDispatcher (ours are enforced per request),
  // but a caller's dispatcher may keep them.
  UND_ERR_HEADERS_TIMEOUT: 'timeout_ttft',
  UND_ERR_BODY_TIMEOUT: 'timeout_total',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'invalid_response',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'connection_reset',
  HPE_INVALID_CONSTANT: 'invalid_response', // llhttp: not HTTP
  UND_ERR_ABORTED: 'aborted',
  UND_ERR_ABORT: 'aborted',
  ABORT_ERR: 'aborted',
  UND_ERR_DESTROYED: 'aborted', // the harness destroyed the dispatcher
  UND_ERR_CLOSED: 'aborted', // the harness closed the dispatcher
};

/**
 * Maps an error thrown or reported by undici / Node to a request error code. Looks at
 * `err.code`, then at `err.cause` and the first of `err.errors` (Node reports connection
 * attempts to several addresses as an AggregateError). Unknown errors give `client_error`.
 */
export function errorCodeFor(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const o = e as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof o.code === 'string') {
      if (Object.hasOwn(BY_SYSTEM_CODE, o.code)) return BY_SYSTEM_CODE[o.code]!;
      if (o.code.startsWith('HPE_')) return 'invalid_response';
    }
    if (o.name === 'AbortError') return 'aborted';
    if (Array.isArray(o.errors) && o.errors.length > 0) e = o.errors[0];
    else e = o.cause;
  }
  return 'client_error';
}

/** Short message of an error for a RequestRecord: `CODE: message`, at most 200 characters. */
export function errorMessageFor(err: unknown): string {
  let text: string;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    text = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    if (text === '' && err instanceof AggregateError && err.errors[0] instanceof Error) text = errorMessageFor(err.errors[0]);
  } else {
    text = String(err);
  }
  return text.length > 200 ? text.slice(0, 200) : text;
}
