/**
 * The usage ledger on a real SQLite file in a temporary folder: rows survive close and reopen,
 * /v1/usage totals never include another tenant's rows, retention pruning, batched flushing, and
 * privacy: the table has exactly the listed columns, and after requests whose prompts and
 * completions carried a canary were recorded by a careless caller (the whole request context
 * spread into the row), no byte of the database files holds the canary.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  keyIdFromHash,
  MAX_ID_CHARS,
  USAGE_COLUMNS,
  UsageLedger,
  UsageLedgerClosedError,
  type UsageRow,
} from '../../reference-stack/gateway/usage-ledger.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 2, 14, 12);
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-ledger-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function row(over: Partial<UsageRow> = {}): UsageRow {
  seq++;
  return {
    tsMs: T0,
    requestId: `req-${seq}`,
    tenant: 'acme',
    keyId: keyIdFromHash('ab'.repeat(32)),
    model: 'llama-3.1-8b',
    servedModel: 'llama-3.1-8b',
    promptTokens: 100,
    completionTokens: 50,
    cost: 0.001,
    status: 200,
    errorCode: null,
    queueMs: 3,
    ttftMs: 40,
    e2eMs: 900,
    retries: 0,
    fallback: false,
    ...over,
  };
}

/** All bytes of the database and its WAL/SHM side files, if present. */
function fileBytes(file: string): Buffer {
  return Buffer.concat(['', '-wal', '-shm', '-journal'].map((s) => file + s).filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
}

describe('UsageLedger', () => {
  it('keeps rows across close and reopen', () => {
    const file = path.join(dir, 'nested', 'usage.db');
    const a = UsageLedger.open(file);
    a.record(row({ promptTokens: 10, completionTokens: 5, cost: 0.5 }));
    a.record(row({ promptTokens: 20, completionTokens: 7, cost: 0.25, status: 429, errorCode: 'rate_limited', ttftMs: null }));
    a.record(row({ model: 'qwen-7b', servedModel: 'llama-3.1-8b', fallback: true, retries: 1 }));
    assert.equal(a.pendingRows, 3, 'buffered until a flush');
    a.close();
    a.close(); // idempotent

    const b = UsageLedger.open(file);
    const u = b.usage('acme', T0, T0 + 1);
    assert.deepEqual(u.byModel.map((m) => m.model), ['llama-3.1-8b', 'qwen-7b']);
    assert.deepEqual(u.byModel[0], {
      model: 'llama-3.1-8b', requests: 2, errors: 1, promptTokens: 30, completionTokens: 12, totalTokens: 42, cost: 0.75,
    });
    assert.equal(u.total.requests, 3);
    assert.equal(u.total.totalTokens, 42 + 150);
    assert.ok(Math.abs(b.spend('acme', T0, T0 + 1) - 0.751) < 1e-12);
    b.close();
    assert.throws(() => b.record(row()), (e: unknown) => e instanceof UsageLedgerClosedError && e.code === 'FG_LEDGER_CLOSED');

    const raw = new Database(file, { readonly: true });
    const fallback = raw.prepare('SELECT served_model, fallback, retries, ttft_ms, error_code FROM usage WHERE model = ?').get('qwen-7b');
    assert.deepEqual(fallback, { served_model: 'llama-3.1-8b', fallback: 1, retries: 1, ttft_ms: 40, error_code: null });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  });

  it('writes batches in one transaction when flushed, and on its own past maxBufferedRows', () => {
    const ledger = UsageLedger.open(path.join(dir, 'batch.db'), { maxBufferedRows: 4 });
    for (let i = 0; i < 3; i++) ledger.record(row({ tenant: 'batch' }));
    assert.equal(ledger.pendingRows, 3);
    assert.equal(ledger.flush(), 3);
    assert.equal(ledger.flush(), 0);
    for (let i = 0; i < 4; i++) ledger.record(row({ tenant: 'batch' }));
    assert.equal(ledger.pendingRows, 0, 'the 4th row flushed the batch');
    ledger.record(row({ tenant: 'batch' }));
    // Queries see buffered rows too (they flush first).
    assert.equal(ledger.usage('batch', 0, Number.MAX_SAFE_INTEGER).total.requests, 8);
    ledger.close();
  });

  it('never returns another tenant\'s rows and respects the time range', () => {
    const ledger = UsageLedger.open(path.join(dir, 'tenants.db'));
    ledger.record(row({ tenant: 'a', cost: 1 }));
    ledger.record(row({ tenant: 'a', cost: 2, tsMs: T0 + DAY }));
    ledger.record(row({ tenant: 'b', cost: 4 }));
    ledger.record(row({ tenant: "a' OR '1'='1", cost: 8 }));
    const a = ledger.usage('a', T0, T0 + DAY);
    assert.equal(a.tenant, 'a');
    assert.equal(a.total.requests, 1);
    assert.equal(a.total.cost, 1);
    assert.equal(ledger.spend('a', 0, T0 + 2 * DAY), 3);
    assert.equal(ledger.spend('b', 0, T0 + 2 * DAY), 4);
    assert.equal(ledger.spend("a' OR '1'='1", 0, T0 + 2 * DAY), 8);
    assert.deepEqual(ledger.usage('nobody', 0, T0 + 2 * DAY).byModel, []);
    assert.equal(ledger.spend('nobody', 0, T0 + 2 * DAY), 0);
    ledger.close();
  });

  it('prunes rows older than the retention, and pruned rows leave the file', () => {
    const file = path.join(dir, 'prune.db');
    const ledger = UsageLedger.open(file);
    const oldId = 'old-request-7f3a9c1e';
    ledger.record(row({ tenant: 'p', tsMs: T0 - 31 * DAY, requestId: oldId }));
    ledger.record(row({ tenant: 'p', tsMs: T0 - 30 * DAY }));
    ledger.record(row({ tenant: 'p', tsMs: T0 - 29 * DAY }));
    ledger.record(row({ tenant: 'p', tsMs: T0 }));
    ledger.flush();
    assert.equal(fileBytes(file).includes(oldId), true, 'the scan sees the row before pruning');
    assert.equal(ledger.prune(T0, Infinity), 0);
    assert.equal(ledger.prune(T0, 30), 1, 'only the row older than 30 days; the one at exactly 30 days stays');
    assert.equal(ledger.usage('p', 0, T0 + 1).total.requests, 3);
    assert.equal(ledger.prune(T0 + 1, 0), 3);
    ledger.close();
    const reopened = UsageLedger.open(file);
    assert.equal(reopened.usage('p', 0, T0 + 1).total.requests, 0);
    reopened.close();
    assert.equal(fileBytes(file).includes(oldId), false, 'secure_delete overwrote the pruned row');
  });

  it('clips id strings so a client-supplied request id cannot turn the ledger into a text store', () => {
    const file = path.join(dir, 'clip.db');
    const ledger = UsageLedger.open(file);
    ledger.record(row({ tenant: 'clip', requestId: 'x'.repeat(10_000), errorCode: 'e'.repeat(500) }));
    ledger.close();
    const raw = new Database(file, { readonly: true });
    const lengths = raw.prepare('SELECT length(request_id) AS r, length(error_code) AS e FROM usage').get();
    raw.close();
    assert.deepEqual(lengths, { r: MAX_ID_CHARS, e: MAX_ID_CHARS });
    const memory = UsageLedger.open(':memory:');
    memory.record(row({ tenant: 'mem' }));
    assert.equal(memory.usage('mem', 0, T0 + 1).total.requests, 1);
    memory.close();
    assert.match(keyIdFromHash('0123456789ABCDEF'.repeat(4)), /^key_0123456789ab$/);
  });
});

describe('UsageLedger privacy', () => {
  const CANARY = 'CANARY-9d1e5b7f-prompt-text';
  const COMPLETION_CANARY = 'CANARY-41c2aa0e-completion-text';

  it('has exactly the listed columns and no others', () => {
    const file = path.join(dir, 'schema.db');
    UsageLedger.open(file).close();
    const raw = new Database(file, { readonly: true });
    const columns = raw.prepare<[], { name: string; type: string }>("SELECT name, type FROM pragma_table_info('usage')").all();
    const tables = raw.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'").all();
    raw.close();
    assert.deepEqual(columns.map((c) => c.name), [
      'ts_ms', 'request_id', 'tenant', 'key_id', 'model', 'served_model', 'prompt_tokens',
      'completion_tokens', 'cost', 'status', 'error_code', 'queue_ms', 'ttft_ms', 'e2e_ms', 'retries',
      'fallback',
    ]);
    assert.deepEqual(columns.map((c) => c.name), [...USAGE_COLUMNS]);
    assert.deepEqual(tables.map((t) => t.name), ['usage']);
    // The only TEXT columns are ids and codes.
    assert.deepEqual(columns.filter((c) => c.type === 'TEXT').map((c) => c.name),
      ['request_id', 'tenant', 'key_id', 'model', 'served_model', 'error_code']);
  });

  it('never writes prompt or completion text, even when a caller passes the whole request context', () => {
    const file = path.join(dir, 'privacy.db');
    const ledger = UsageLedger.open(file, { maxBufferedRows: 7 });
    for (let i = 0; i < 50; i++) {
      // A careless usage meter spreading everything it has into the row: the ledger reads only
      // UsageRow's fields, so the extra properties (content, headers, raw body) never reach SQLite.
      const requestContext = {
        ...row({ tenant: 'privacy', status: i % 5 === 0 ? 500 : 200 }),
        prompt: `${CANARY} tell me a secret #${i}`,
        messages: [{ role: 'user', content: `${CANARY} #${i}` }],
        completion: `${COMPLETION_CANARY} #${i}`,
        body: JSON.stringify({ messages: [{ role: 'user', content: CANARY }] }),
        headers: { authorization: `Bearer sk-${CANARY}` },
        toString: () => CANARY,
      };
      ledger.record(requestContext);
    }
    const u = ledger.usage('privacy', 0, Number.MAX_SAFE_INTEGER);
    assert.equal(u.total.requests, 50);
    assert.equal(u.total.errors, 10);
    // Scan while open (main file + WAL) and after close (checkpointed into the main file).
    for (const stage of ['open', 'closed']) {
      if (stage === 'closed') ledger.close();
      const bytes = fileBytes(file);
      assert.ok(bytes.length > 0);
      assert.ok(bytes.includes('privacy'), `${stage}: the scan does see stored ids`);
      for (const needle of [CANARY, COMPLETION_CANARY, 'CANARY']) {
        for (const enc of ['utf8', 'utf16le'] as const) {
          assert.equal(bytes.includes(Buffer.from(needle, enc)), false, `${stage}: found ${needle} (${enc})`);
        }
      }
    }
  });
});
