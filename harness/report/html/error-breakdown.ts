/**
 * The report's error section from summary.json and requests.jsonl: failures by error code (the
 * measured counts of summary.errors, which the thresholds see, beside every failed line of
 * requests.jsonl, warmup and cooldown included), the HTTP statuses each code came with, and up to
 * `perCode` example requests per code, distinct messages first. An example holds what
 * requests.jsonl holds about a failure (status, code, message, ids, worker, times), and never any
 * prompt or completion text: requests.jsonl has none.
 */
import type { RequestLine } from '../run-data.ts';

export interface ErrorExample {
  id: number;
  stage: number;
  phase: string;
  /** When it ended, seconds on the run clock. */
  end_s: number | null;
  status: number | null;
  code: string;
  /** The error message, at most MAX_MESSAGE characters. */
  message: string | null;
  request_id: string | null;
  served_by: string | null;
  model: string;
  tenant: string | null;
}

export interface ErrorGroup {
  code: string;
  /** summary.errors: measured requests (warmup and cooldown not counted); 0 when only those failed. */
  measured: number;
  /** Failed lines in requests.jsonl with this code, every phase. */
  logged: number;
  /** HTTP status (or "none": no response) -> failed lines. */
  statuses: Record<string, number>;
  examples: ErrorExample[];
}

export const MAX_MESSAGE = 300;
export const EXAMPLES_PER_CODE = 5;

/** The code a failed line counts under (as StatsBlock counts it). */
export function errorCode(r: RequestLine): string {
  return r.error ?? 'client_error';
}

export function errorBreakdown(summaryErrors: Record<string, number>, requests: readonly RequestLine[], perCode = EXAMPLES_PER_CODE): ErrorGroup[] {
  const groups = new Map<string, ErrorGroup & { messages: Set<string>; rest: RequestLine[] }>();
  const group = (code: string) => {
    let g = groups.get(code);
    if (!g) {
      g = { code, measured: 0, logged: 0, statuses: {}, examples: [], messages: new Set(), rest: [] };
      groups.set(code, g);
    }
    return g;
  };
  for (const [code, n] of Object.entries(summaryErrors)) group(code).measured = n;
  for (const r of requests) {
    if (r.ok) continue;
    const g = group(errorCode(r));
    g.logged++;
    const st = r.status === null || r.status === undefined ? 'none' : String(r.status);
    g.statuses[st] = (g.statuses[st] ?? 0) + 1;
    if (g.examples.length >= perCode) continue;
    // Distinct messages first; the others wait in `rest` in case there are too few.
    const msg = r.error_message ?? '';
    if (!g.messages.has(msg)) {
      g.messages.add(msg);
      g.examples.push(example(r));
    } else if (g.rest.length < perCode) {
      g.rest.push(r);
    }
  }
  const out: ErrorGroup[] = [];
  for (const g of groups.values()) {
    for (const r of g.rest) {
      if (g.examples.length >= perCode) break;
      g.examples.push(example(r));
    }
    g.examples.sort((a, b) => a.id - b.id);
    out.push({ code: g.code, measured: g.measured, logged: g.logged, statuses: g.statuses, examples: g.examples });
  }
  return out.sort((a, b) => b.measured - a.measured || b.logged - a.logged || a.code.localeCompare(b.code));
}

function example(r: RequestLine): ErrorExample {
  const msg = r.error_message;
  return {
    id: r.id,
    stage: r.stage,
    phase: r.phase,
    end_s: typeof r.end_ms === 'number' ? Math.round(r.end_ms) / 1000 : null,
    status: r.status ?? null,
    code: errorCode(r),
    message: msg === null || msg === undefined ? null : msg.length > MAX_MESSAGE ? `${msg.slice(0, MAX_MESSAGE)}…` : msg,
    request_id: r.request_id ?? null,
    served_by: r.served_by ?? null,
    model: r.model,
    tenant: r.tenant ?? null,
  };
}
