/**
 * A finished run folder read back: summary.json, timeseries.json, server.json (when the target
 * was sampled) and requests.jsonl, for the renderers (report.html, summary.md, junit.xml) and for
 * `harness report`, `compare` and `gate`. reports/README.md describes the files.
 *
 * Bad input is a coded UsageError naming the file (and the line, for requests.jsonl):
 * FG_REPORT_NOT_A_RUN (no summary.json: not a run folder, or a run that did not finish),
 * FG_REPORT_BAD_FILE (a file that is not what the run wrote), FG_REPORT_SCHEMA (a summary.json
 * schema_version this harness does not read).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import type { Summary } from '../metrics/summary.ts';
import type { SeriesPoint } from '../metrics/time-series.ts';
import type { ServerPoint } from '../observe/server-summary.ts';

/** summary.json schema versions this harness reads. */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1];

/** One line of requests.jsonl (run-folder.ts requestLine); never prompt or completion text. */
export interface RequestLine {
  id: number;
  stage: number;
  phase: 'warmup' | 'measure' | 'cooldown';
  model: string;
  tenant?: string;
  user?: number;
  ok: boolean;
  status: number | null;
  error: string | null;
  error_message: string | null;
  intended_ms: number | null;
  sent_ms: number | null;
  end_ms: number | null;
  schedule_lag_ms: number | null;
  cap_wait_ms: number | null;
  headers_ms: number | null;
  ttft_ms: number | null;
  e2e_ms: number | null;
  tpot_ms: number | null;
  itl_mean_ms: number | null;
  itl_max_ms: number | null;
  queue_ms: number | null;
  chunks: number;
  planned_prompt_tokens: number;
  prompt_tokens: number | null;
  planned_output_tokens: number;
  output_tokens: number;
  token_source: string;
  retry_after_ms: number | null;
  request_id: string | null;
  served_by: string | null;
  served_model: string | null;
  trace_id?: string | null;
  /** Conversations: the run-unique conversation id and the 1-based turn (null otherwise). */
  conversation?: number | null;
  turn?: number | null;
}

export interface RunData {
  /** The run folder. */
  dir: string;
  summary: Summary;
  /** timeseries.json: one point per second of the run clock. */
  timeseries: SeriesPoint[];
  /** server.json: the target's sampled metrics on the same clock; null when not sampled. */
  server: ServerPoint[] | null;
  /** requests.jsonl, in completion order; empty when not asked for. */
  requests: RequestLine[];
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('FG_REPORT_BAD_FILE', `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError('FG_REPORT_BAD_FILE', `${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** requests.jsonl, line by line; a line that is not a JSON object is FG_REPORT_BAD_FILE with its number. */
export function readRequestLines(file: string): RequestLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('FG_REPORT_BAD_FILE', `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: RequestLine[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new UsageError('FG_REPORT_BAD_FILE', `${file}:${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof (v as { id?: unknown }).id !== 'number' || typeof (v as { ok?: unknown }).ok !== 'boolean') {
      throw new UsageError('FG_REPORT_BAD_FILE', `${file}:${lineNo}: not a request line (an object with a numeric "id" and a boolean "ok")`);
    }
    out.push(v as RequestLine);
  }
  return out;
}

/**
 * Reads the run folder `dir`. `requests: false` skips requests.jsonl (large runs, when only the
 * summary and the series are needed).
 */
export function loadRunData(dir: string, opts: { requests?: boolean } = {}): RunData {
  const summaryFile = path.join(dir, 'summary.json');
  if (!fs.existsSync(summaryFile)) {
    throw new UsageError(
      'FG_REPORT_NOT_A_RUN',
      fs.existsSync(dir) ? `${dir}: no summary.json (not a run folder, or a run that did not finish)` : `${dir}: no such folder`,
    );
  }
  const summary = readJson(summaryFile);
  if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) throw new UsageError('FG_REPORT_BAD_FILE', `${summaryFile}: not a JSON object`);
  const version = (summary as { schema_version?: unknown }).schema_version;
  if (typeof version !== 'number' || !READABLE_SCHEMA_VERSIONS.includes(version)) {
    throw new UsageError('FG_REPORT_SCHEMA', `${summaryFile}: schema_version ${JSON.stringify(version)} is not one this harness reads (${READABLE_SCHEMA_VERSIONS.join(', ')})`);
  }
  const seriesFile = path.join(dir, 'timeseries.json');
  const series = fs.existsSync(seriesFile) ? readJson(seriesFile) : [];
  if (!Array.isArray(series)) throw new UsageError('FG_REPORT_BAD_FILE', `${seriesFile}: not a JSON array`);
  const serverFile = path.join(dir, 'server.json');
  const server = fs.existsSync(serverFile) ? readJson(serverFile) : null;
  if (server !== null && !Array.isArray(server)) throw new UsageError('FG_REPORT_BAD_FILE', `${serverFile}: not a JSON array`);
  const requestsFile = path.join(dir, 'requests.jsonl');
  const requests = opts.requests === false || !fs.existsSync(requestsFile) ? [] : readRequestLines(requestsFile);
  return { dir, summary: summary as Summary, timeseries: series as SeriesPoint[], server: server as ServerPoint[] | null, requests };
}
