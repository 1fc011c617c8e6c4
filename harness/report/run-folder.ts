/**
 * The run folder: reports/<name>-<UTC time>/ (or --out DIR) holding summary.json,
 * requests.jsonl (one line per request: timings and token counts, never prompt or completion
 * text), timeseries.json and, when the target's metrics were sampled, server.json. requests.jsonl is streamed as records arrive, so a long run never
 * holds them all in memory; it is written through a temporary name and renamed when complete.
 * The reports rendered from these files (summary.md, junit.xml) are written after finish() by
 * writeRunReports (write-reports.ts), which `harness report` calls too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RequestRecord } from '../metrics/request-record.ts';
import type { SeriesPoint } from '../metrics/time-series.ts';
import type { Summary } from '../metrics/summary.ts';
import type { ServerPoint } from '../observe/server-summary.ts';

/** `2026-11-27T13:05:09Z` -> `20261127T130509Z` (sortable, safe in file names). */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function defaultRunDir(reportsDir: string, name: string, startedAt: Date): string {
  return path.join(reportsDir, `${name}-${utcStamp(startedAt)}`);
}

/** One requests.jsonl line: what was measured about a request, and nothing of its content. */
export function requestLine(r: RequestRecord): Record<string, unknown> {
  let itlSum = 0;
  let itlMax: number | null = null;
  for (const v of r.itlMs) {
    itlSum += v;
    if (itlMax === null || v > itlMax) itlMax = v;
  }
  return {
    id: r.id,
    stage: r.stage,
    phase: r.phase,
    model: r.model,
    ...(r.tenant !== undefined ? { tenant: r.tenant } : {}),
    ...(r.user !== undefined ? { user: r.user } : {}),
    conversation: r.conversation ?? null,
    turn: r.turn ?? null,
    ok: r.ok,
    status: r.status ?? null,
    error: r.error ? r.error.code : null,
    error_message: r.error ? r.error.message : null,
    intended_ms: round3(r.intendedMs),
    sent_ms: round3(r.sentMs),
    end_ms: round3(r.endMs),
    schedule_lag_ms: round3(r.scheduleLagMs),
    cap_wait_ms: round3(r.capWaitMs),
    headers_ms: round3(r.headersMs),
    ttft_ms: round3(r.ttftMs),
    e2e_ms: round3(r.e2eMs),
    tpot_ms: round3(r.tpotMs),
    itl_mean_ms: r.itlMs.length ? round3(itlSum / r.itlMs.length) : null,
    itl_max_ms: round3(itlMax ?? undefined),
    queue_ms: round3(r.queueMs),
    chunks: r.chunks,
    planned_prompt_tokens: r.plannedPromptTokens,
    prompt_tokens: r.promptTokens ?? null,
    planned_output_tokens: r.plannedOutputTokens,
    output_tokens: r.outputTokens,
    token_source: r.tokenSource,
    retry_after_ms: r.retryAfterMs ?? null,
    request_id: r.requestId ?? null,
    served_by: r.servedBy ?? null,
    served_model: r.servedModel ?? null,
    trace_id: r.traceId ?? null,
  };
}

function round3(v: number | undefined): number | null {
  return v === undefined ? null : Math.round(v * 1000) / 1000;
}

export class RunFolder {
  private readonly requests: fs.WriteStream;
  private readonly tmpRequests: string;

  private constructor(readonly dir: string) {
    this.tmpRequests = path.join(dir, 'requests.jsonl.partial');
    this.requests = fs.createWriteStream(this.tmpRequests, { flags: 'w' });
  }

  static create(dir: string): RunFolder {
    fs.mkdirSync(dir, { recursive: true });
    return new RunFolder(dir);
  }

  writeRecord(r: RequestRecord): void {
    this.requests.write(JSON.stringify(requestLine(r)) + '\n');
  }

  /** `server`: server.json's points (the target's sampled metrics); not written when undefined. */
  async finish(summary: Summary, series: SeriesPoint[], server?: readonly ServerPoint[]): Promise<void> {
    await new Promise<void>((resolve, reject) => this.requests.end((err?: Error | null) => (err ? reject(err) : resolve())));
    fs.renameSync(this.tmpRequests, path.join(this.dir, 'requests.jsonl'));
    fs.writeFileSync(path.join(this.dir, 'timeseries.json'), JSON.stringify(series) + '\n');
    if (server !== undefined) fs.writeFileSync(path.join(this.dir, 'server.json'), JSON.stringify(server) + '\n');
    // summary.json last: its presence means the folder is complete.
    fs.writeFileSync(path.join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
}
