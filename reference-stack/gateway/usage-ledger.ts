/**
 * The gateway's usage ledger: one row per request in an embedded SQLite file (better-sqlite3),
 * kept across restarts and pruned by a retention setting. It serves /v1/usage (one tenant's
 * totals by model) and the budget spend to restore after a restart.
 *
 * What must stay true (privacy): a row holds counts, ids, statuses and latencies, never prompt or
 * completion text. The schema has no column that could hold content, rows are written field by
 * field from {@link UsageRow} (an object carrying more properties, a prompt say, has them
 * ignored), id strings are clipped to {@link MAX_ID_CHARS}, and deleted rows are overwritten
 * (`secure_delete`) so pruned data leaves the file.
 *
 * Writes are buffered and inserted in one transaction per `flush()`, which the caller drives on an
 * interval (and which `close()` and every query run first): a crash loses at most the rows of one
 * interval. Times are epoch milliseconds; money is in the stack's currency.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FloodgateError } from '../../harness/errors.ts';

export const LEDGER_SCHEMA_VERSION = 1;
/** Longest id string stored (request id, tenant, key id, model names, error code). */
export const MAX_ID_CHARS = 128;
const DAY_MS = 86_400_000;

/** One request's usage. No field holds text from the request or the response. */
export interface UsageRow {
  /** Request start (admission), epoch ms. */
  tsMs: number;
  requestId: string;
  tenant: string;
  /** Short id derived from the API key's hash ({@link keyIdFromHash}); never the key. */
  keyId: string;
  /** Model the client asked for. */
  model: string;
  /** Model that served it (differs after a fallback). */
  servedModel: string;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  /** HTTP status returned to the client. */
  status: number;
  errorCode: string | null;
  queueMs: number;
  ttftMs: number | null;
  e2eMs: number;
  retries: number;
  fallback: boolean;
}

/** The table's columns, in order; a test checks the file's schema against this list. */
export const USAGE_COLUMNS = [
  'ts_ms', 'request_id', 'tenant', 'key_id', 'model', 'served_model', 'prompt_tokens',
  'completion_tokens', 'cost', 'status', 'error_code', 'queue_ms', 'ttft_ms', 'e2e_ms', 'retries',
  'fallback',
] as const;

export interface ModelUsage {
  model: string;
  requests: number;
  /** Requests answered with a status >= 400. */
  errors: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
}

export interface UsageReport {
  tenant: string;
  fromMs: number;
  toMs: number;
  /** By requested model, sorted by name. */
  byModel: ModelUsage[];
  total: Omit<ModelUsage, 'model'>;
}

export interface LedgerOptions {
  /** Buffered rows that trigger a flush on their own (bounds memory between flushes). Default 1000. */
  maxBufferedRows?: number;
}

/** Short, stable key id from the sha256 hex of an API key: `key_` + its first 12 hex digits. */
export function keyIdFromHash(keyHashHex: string): string {
  return `key_${keyHashHex.slice(0, 12).toLowerCase()}`;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS usage (
  ts_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  served_model TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost REAL NOT NULL,
  status INTEGER NOT NULL,
  error_code TEXT,
  queue_ms REAL NOT NULL,
  ttft_ms REAL,
  e2e_ms REAL NOT NULL,
  retries INTEGER NOT NULL,
  fallback INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_tenant_ts ON usage (tenant, ts_ms);
CREATE INDEX IF NOT EXISTS usage_ts ON usage (ts_ms);
`;

interface Params {
  ts_ms: number;
  request_id: string;
  tenant: string;
  key_id: string;
  model: string;
  served_model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  status: number;
  error_code: string | null;
  queue_ms: number;
  ttft_ms: number | null;
  e2e_ms: number;
  retries: number;
  fallback: number;
}

interface ModelRow {
  model: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
}

/** record() after close() (FG_LEDGER_CLOSED): a shutdown-order bug in the caller (the row would be lost). */
export class UsageLedgerClosedError extends FloodgateError {
  constructor(readonly requestId: string) {
    super('FG_LEDGER_CLOSED', `usage ledger is closed; the usage of request '${requestId}' cannot be recorded`);
    this.name = 'UsageLedgerClosedError';
  }
}

export class UsageLedger {
  private buffer: Params[] = [];
  private closed = false;
  private readonly maxBufferedRows: number;
  private readonly insert: Database.Statement<[Params]>;
  private readonly insertMany: (rows: readonly Params[]) => void;
  private readonly byModel: Database.Statement<[string, number, number], ModelRow>;
  private readonly spendStmt: Database.Statement<[string, number, number], { cost: number | null }>;
  private readonly pruneStmt: Database.Statement<[number]>;

  private constructor(private readonly db: Database.Database, options: LedgerOptions) {
    this.maxBufferedRows = Math.max(1, options.maxBufferedRows ?? 1000);
    this.insert = db.prepare<[Params]>(
      `INSERT INTO usage (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map((c) => '@' + c).join(', ')})`,
    );
    this.insertMany = db.transaction((rows: readonly Params[]) => {
      for (const r of rows) this.insert.run(r);
    });
    this.byModel = db.prepare<[string, number, number], ModelRow>(
      `SELECT model, COUNT(*) AS requests, SUM(status >= 400) AS errors,
              SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
              SUM(cost) AS cost
         FROM usage WHERE tenant = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY model ORDER BY model`,
    );
    this.spendStmt = db.prepare<[string, number, number], { cost: number | null }>(
      'SELECT SUM(cost) AS cost FROM usage WHERE tenant = ? AND ts_ms >= ? AND ts_ms < ?',
    );
    this.pruneStmt = db.prepare<[number]>('DELETE FROM usage WHERE ts_ms < ?');
  }

  /**
   * Opens (or creates) the ledger at `file`: parent folders, schema and indexes are created,
   * the journal is WAL. `':memory:'` gives a ledger that lives as long as the object.
   */
  static open(file: string, options: LedgerOptions = {}): UsageLedger {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Pruned rows are overwritten, not left in free pages.
      db.pragma('secure_delete = ON');
      db.exec(SCHEMA);
      if (db.pragma('user_version', { simple: true }) === 0) db.pragma(`user_version = ${LEDGER_SCHEMA_VERSION}`);
      return new UsageLedger(db, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Buffers one request's usage; written at the next flush. Only UsageRow's fields are read. */
  record(row: UsageRow): void {
    if (this.closed) throw new UsageLedgerClosedError(clip(row.requestId));
    this.buffer.push({
      ts_ms: Math.round(row.tsMs),
      request_id: clip(row.requestId),
      tenant: clip(row.tenant),
      key_id: clip(row.keyId),
      model: clip(row.model),
      served_model: clip(row.servedModel),
      prompt_tokens: Math.round(row.promptTokens),
      completion_tokens: Math.round(row.completionTokens),
      cost: Number(row.cost),
      status: Math.round(row.status),
      error_code: row.errorCode === null ? null : clip(row.errorCode),
      queue_ms: Number(row.queueMs),
      ttft_ms: row.ttftMs === null ? null : Number(row.ttftMs),
      e2e_ms: Number(row.e2eMs),
      retries: Math.round(row.retries),
      fallback: row.fallback ? 1 : 0,
    });
    if (this.buffer.length >= this.maxBufferedRows) this.flush();
  }

  /** Rows recorded and not yet written. */
  get pendingRows(): number {
    return this.buffer.length;
  }

  /** Writes the buffered rows in one transaction. Returns how many were written. */
  flush(): number {
    if (this.buffer.length === 0 || this.closed) return 0;
    const rows = this.buffer;
    this.buffer = [];
    this.insertMany(rows);
    return rows.length;
  }

  /** One tenant's usage by requested model, over [fromMs, toMs). Other tenants' rows never appear. */
  usage(tenant: string, fromMs: number, toMs: number): UsageReport {
    this.flush();
    const byModel = this.byModel.all(tenant, fromMs, toMs).map((r): ModelUsage => ({
      model: r.model,
      requests: r.requests,
      errors: r.errors,
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
      totalTokens: r.prompt_tokens + r.completion_tokens,
      cost: r.cost,
    }));
    const total = { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 };
    for (const m of byModel) {
      total.requests += m.requests;
      total.errors += m.errors;
      total.promptTokens += m.promptTokens;
      total.completionTokens += m.completionTokens;
      total.totalTokens += m.totalTokens;
      total.cost += m.cost;
    }
    return { tenant, fromMs, toMs, byModel, total };
  }

  /** A tenant's spend over [fromMs, toMs) (requests attributed to their `tsMs`). */
  spend(tenant: string, fromMs: number, toMs: number): number {
    this.flush();
    return this.spendStmt.get(tenant, fromMs, toMs)?.cost ?? 0;
  }

  /** Deletes rows older than `retentionDays` before `nowMs`. Returns how many were deleted. */
  prune(nowMs: number, retentionDays: number): number {
    this.flush();
    if (!(retentionDays >= 0) || retentionDays === Infinity) return 0;
    return this.pruneStmt.run(Math.round(nowMs - retentionDays * DAY_MS)).changes;
  }

  /** Flushes, checkpoints the WAL into the main file and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

function clip(s: string): string {
  const str = String(s);
  return str.length > MAX_ID_CHARS ? str.slice(0, MAX_ID_CHARS) : str;
}
