/**
 * The gateway's access log: one JSON line per completions request, written to a stream the
 * caller passes in (none by default).
 *
 * What must stay true (privacy): a line holds ids, counts, statuses and latencies, never request
 * or response bodies, prompts, completions or API keys. Lines are built field by field from
 * {@link AccessLogEntry}, so an object carrying more properties (a prompt, say) has them ignored.
 * Times are milliseconds; `time` is the request's arrival, ISO 8601 UTC.
 */

/** One request's access-log fields. No field holds text from the request body or the response. */
export interface AccessLogEntry {
  /** Request arrival, epoch ms. */
  timeMs: number;
  requestId: string;
  /** null when the request was refused before the API key was recognised. */
  tenant: string | null;
  /** Short id derived from the API key's hash; never the key. */
  keyId: string | null;
  /** Model the client asked for (canonical name), null before the body was read. */
  model: string | null;
  /** Model that served it (differs after a fallback), null when none did. */
  servedModel: string | null;
  /** Worker that served it, null when none did. */
  servedBy: string | null;
  status: number;
  errorCode: string | null;
  queueMs: number;
  ttftMs: number | null;
  e2eMs: number;
  promptTokens: number;
  completionTokens: number;
  retries: number;
  fallback: boolean;
}

/** Longest id string written (request id, tenant, key id, model and worker names, error code). */
const MAX_ID_CHARS = 128;

const id = (s: string | null): string | null => (s === null ? null : s.slice(0, MAX_ID_CHARS));
/** Milliseconds rounded to 0.1 ms (enough for latencies, keeps lines short). */
const ms = (x: number): number => Math.round(x * 10) / 10;
const count = (x: number): number => (Number.isFinite(x) ? Math.max(0, Math.round(x)) : 0);

/** The JSON line (newline included) for one request. Field names are snake_case, times in ms. */
export function formatAccessLog(e: AccessLogEntry): string {
  return (
    JSON.stringify({
      time: new Date(e.timeMs).toISOString(),
      request_id: id(e.requestId),
      tenant: id(e.tenant),
      key_id: id(e.keyId),
      model: id(e.model),
      served_model: id(e.servedModel),
      served_by: id(e.servedBy),
      status: e.status,
      error_code: id(e.errorCode),
      queue_ms: ms(e.queueMs),
      ttft_ms: e.ttftMs === null ? null : ms(e.ttftMs),
      e2e_ms: ms(e.e2eMs),
      prompt_tokens: count(e.promptTokens),
      completion_tokens: count(e.completionTokens),
      retries: count(e.retries),
      fallback: e.fallback,
    }) + '\n'
  );
}
