/**
 * Ambient types of the xk6-sse extension (`k6/x/sse`, github.com/phymbert/xk6-sse), as far as
 * the scripts of `harness export k6` use it. Written by Floodgate (not part of @types/k6); shipped
 * next to an exported script (`harness export k6 --out script.js` writes `k6-sse.d.ts` beside it)
 * so that editors and `tsc --checkJs` type-check the script.
 */
declare module 'k6/x/sse' {
  /** One server-sent event. */
  export interface SseEvent {
    /** The event's `id:` field ('' when absent). */
    id: string;
    /** The event's `event:` field ('' or 'message' when absent). */
    name: string;
    /** The event's `data:` lines. */
    data: string;
  }

  /** The error passed to an 'error' handler. */
  export interface SseError {
    error(): string;
  }

  export interface SseClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (event: SseEvent) => void): void;
    on(event: 'error', handler: (error: SseError) => void): void;
    /** Stop reading the stream; `open()` returns. */
    close(): void;
  }

  export interface SseParams {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
  }

  export interface SseResponse {
    url?: string;
    /** HTTP status of the response (0 when no response came). */
    status: number;
    headers?: Record<string, string>;
    error?: string;
  }

  /** Open a stream and run `setup` on its client; returns when the stream is closed or ends. */
  export function open(url: string, params: SseParams | null, setup: (client: SseClient) => void): SseResponse;

  const sse: { open: typeof open };
  export default sse;
}
