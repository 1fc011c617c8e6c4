/**
 * Trace readers (harness/workload/traces/): each format parsed from the committed excerpts in
 * traces/ (exact row counts, first and last values, checked against an independent reading of
 * the file), time precision, columns by name, failed rows, model mapping, the CSV parser, the
 * replay options (window, speed, rate scaling, loop, cut), Mooncake hash-id checks, and broken
 * rows with line-precise coded errors (fixtures in test/fixtures/traces/).
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTrace, TRACE_DEFAULTS, type TraceConfig } from '../../harness/workload/traces/index.ts';
import { parseCsv } from '../../harness/workload/traces/csv.ts';
import { ksCritical, ksStatistic, ksTest } from '../../harness/workload/traces/ks.ts';
import { parseDatetime, instantDiffMs, MAX_TRACE_PROBLEMS } from '../../harness/workload/traces/rows.ts';
import { issuesOf } from '../fixtures/config-issues.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TRACES = join(ROOT, 'traces');
const FIX = join(ROOT, 'test/fixtures/traces');
const SHARED = '/work/shared/data/traces';

function cfg(format: TraceConfig['format'], file: string, extra: Partial<TraceConfig> = {}): TraceConfig {
  return { ...TRACE_DEFAULTS, loop: 1, format, file, ...extra };
}

/** An independent reading of a Mooncake file: JSON.parse per non-blank line. */
function mooncakeRows(path: string): Array<{ timestamp: number; input_length: number; output_length: number; hash_ids: number[] }> {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}
/** An independent reading of a CSV without quoted fields: split on commas. */
function plainCsv(path: string): string[][] {
  return readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l !== '').map((l) => l.split(','));
}

describe('Mooncake excerpts', () => {
  for (const [file, first, last] of [
    ['mooncake_conversation_200.jsonl', [0, 6758, 500, 14], [72000, 19978, 448, 40]],
    ['mooncake_synthetic_200.jsonl', [0, 40160, 6, 79], [58501, 37625, 2, 74]],
  ] as const) {
    test(file, () => {
      const r = readTrace(cfg('mooncake', file), TRACES);
      assert.equal(r.report.rowsRead, 200);
      assert.equal(r.requests.length, 200);
      assert.equal(r.blockTokens, 512);
      assert.deepEqual(r.report.warnings, []);
      assert.equal(r.report.reordered, false);
      const a = r.requests[0]!;
      const z = r.requests[199]!;
      assert.deepEqual([a.tMs, a.inputTokens, a.outputTokens, a.hashIds!.length, a.line], [...first, 1]);
      assert.deepEqual([z.tMs, z.inputTokens, z.outputTokens, z.hashIds!.length, z.line], [...last, 200]);
      assert.equal(r.report.spanMs, last[0]);
      // Against an independent reading: every row, in order.
      const rows = mooncakeRows(join(TRACES, file));
      assert.deepEqual(r.requests.map((q) => [q.tMs, q.inputTokens, q.outputTokens, q.hashIds]), rows.map((o) => [o.timestamp, o.input_length, o.output_length, o.hash_ids]));
      assert.equal(ksStatistic(r.requests.map((q) => q.inputTokens), rows.map((o) => o.input_length)), 0);
    });
  }

  test('full samples, when present: 2000 rows, the README span', { skip: !existsSync(SHARED) }, () => {
    const conv = readTrace(cfg('mooncake', 'mooncake_conversation_2000.jsonl'), SHARED);
    assert.equal(conv.requests.length, 2000);
    assert.equal(conv.report.spanMs, 669_000);
    assert.equal(new Set(conv.requests.map((q) => q.tMs)).size, 224);
    const syn = readTrace(cfg('mooncake', 'mooncake_synthetic_2000.jsonl'), SHARED);
    assert.equal(syn.report.spanMs, 532_806);
    assert.deepEqual(syn.report.warnings, []);
  });

  test('hash ids that do not fit the input length: a warning with the line, the row kept as written', () => {
    const r = readTrace(cfg('mooncake', 'mooncake-mismatch.jsonl'), FIX);
    assert.equal(r.report.rowsRead, 4);
    assert.deepEqual(r.requests.map((q) => q.inputTokens), [1024, 1025, 513, 100]);
    assert.deepEqual(r.report.warnings.map((w) => w.line), [2, 5]);
    assert.match(r.report.warnings[0]!.message, /ceil\(1025 \/ 512\) = 3/);
    // With 1024-token blocks, other rows mismatch.
    const big = readTrace(cfg('mooncake', 'mooncake-mismatch.jsonl', { blockTokens: 1024 }), FIX);
    assert.equal(big.blockTokens, 1024);
    assert.deepEqual(big.report.warnings.map((w) => w.line), [1, 3, 5]);
  });

  test('an unsorted file is sorted stably by time, and the report says so', () => {
    const r = readTrace(cfg('mooncake', 'mooncake-unsorted.jsonl'), FIX);
    assert.equal(r.report.reordered, true);
    assert.ok(r.report.notes!.some((n) => /not in time order/.test(n)));
    // Times relative to the earliest row (1000 ms); equal times keep file order.
    assert.deepEqual(r.requests.map((q) => [q.tMs, q.outputTokens]), [[0, 2], [0, 4], [1000, 5], [2000, 1], [2000, 3]]);
  });
});

describe('Azure excerpts', () => {
  for (const [file, first, last, lastMs] of [
    ['azure_conv_2023_200.csv', [374, 44], [1143, 409], 61263.537],
    ['azure_code_2023_200.csv', [4808, 10], [65, 10], 199089.585],
  ] as const) {
    test(file, () => {
      const r = readTrace(cfg('azure', file), TRACES);
      assert.equal(r.report.rowsRead, 200);
      assert.equal(r.requests.length, 200);
      assert.equal(r.blockTokens, undefined);
      const a = r.requests[0]!;
      const z = r.requests[199]!;
      assert.deepEqual([a.tMs, a.inputTokens, a.outputTokens, a.line], [0, ...first, 2]);
      assert.deepEqual([z.tMs, z.inputTokens, z.outputTokens, z.line], [lastMs, ...last, 201]);
      const rows = plainCsv(join(TRACES, file)).slice(1);
      assert.deepEqual(r.requests.map((q) => [q.inputTokens, q.outputTokens]), rows.map((c) => [Number(c[1]), Number(c[2])]));
    });
  }

  test('full samples, when present: the README spans', { skip: !existsSync(SHARED) }, () => {
    assert.equal(readTrace(cfg('azure', 'azure_conv_2023_2000.csv'), SHARED).report.spanMs, 424259.457);
    assert.equal(readTrace(cfg('azure', 'azure_code_2023_2000.csv'), SHARED).report.spanMs, 853079.347);
  });

  test('full precision: 52 ms apart is 52 ms exactly, 100 ns steps are kept', () => {
    const r = readTrace(cfg('azure', 'azure-precision.csv'), FIX);
    assert.deepEqual(r.requests.map((q) => q.tMs), [0, 52, 52.0001, 2020.0399]);
    const a = parseDatetime('2023-11-16 18:15:46.6805900');
    const b = parseDatetime('2023-11-16 18:15:46.6805901');
    assert.ok(typeof a === 'object' && typeof b === 'object');
    assert.equal(instantDiffMs(a, b), 0.0001);
    assert.equal(instantDiffMs(a, parseDatetime('2023-11-17 18:15:46.6805900') as never), 86_400_000);
  });
});

describe('BurstGPT', () => {
  test('the excerpt: 200 rows, 9 failed rows dropped by default, times from the first row', () => {
    const r = readTrace(cfg('burstgpt', 'burstgpt_1_200.csv'), TRACES);
    assert.equal(r.report.rowsRead, 200);
    assert.equal(r.requests.length, 191);
    assert.deepEqual(r.report.skipped, { failed: 9 });
    const a = r.requests[0]!;
    const z = r.requests.at(-1)!;
    assert.deepEqual([a.tMs, a.inputTokens, a.outputTokens, a.line, a.model], [0, 472, 18, 2, undefined]);
    assert.deepEqual([z.tMs, z.inputTokens, z.outputTokens, z.line], [(33784 - 5) * 1000, 916, 484, 201]);
    const rows = plainCsv(join(TRACES, 'burstgpt_1_200.csv')).slice(1).filter((c) => c[3] !== '0');
    assert.deepEqual(r.requests.map((q) => [q.tMs, q.inputTokens, q.outputTokens]), rows.map((c) => [(Number(c[0]) - 5) * 1000, Number(c[2]), Number(c[3])]));
  });

  test('failed rows kept: sent with 1 output token (and a 1-token prompt at least)', () => {
    const r = readTrace(cfg('burstgpt', 'burstgpt_1_200.csv', { failedRows: 'keep' }), TRACES);
    assert.equal(r.requests.length, 200);
    const failed = r.requests.filter((q) => q.outputTokens === 1 && q.inputTokens === 1);
    assert.equal(failed.length, 9);
    assert.ok(r.report.notes!.some((n) => /9 failed rows/.test(n)));
  });

  test('model mapping; an unmapped model is an error listing the trace\'s models, or dropped, or kept', () => {
    const mapped = readTrace(cfg('burstgpt', 'burstgpt_1_200.csv', { models: { ChatGPT: 'llama-3.1-8b', 'GPT-4': 'llama-3.1-70b' } }), TRACES);
    const counts = new Map<string, number>();
    for (const q of mapped.requests) counts.set(q.model!, (counts.get(q.model!) ?? 0) + 1);
    const raw = plainCsv(join(TRACES, 'burstgpt_1_200.csv')).slice(1).filter((c) => c[3] !== '0');
    assert.equal(counts.get('llama-3.1-8b'), raw.filter((c) => c[1] === 'ChatGPT').length);
    assert.equal(counts.get('llama-3.1-70b'), raw.filter((c) => c[1] === 'GPT-4').length);

    const issues = issuesOf(() => readTrace(cfg('burstgpt', 'burstgpt_1_200.csv', { models: { ChatGPT: 'x' } }), TRACES));
    assert.equal(issues.length, 1);
    const lines = plainCsv(join(TRACES, 'burstgpt_1_200.csv'));
    const at = lines.findIndex((c) => c[1] === 'GPT-4' && c[3] !== '0');
    // The model cell: after the timestamp and its comma.
    assert.deepEqual([issues[0]!.code, issues[0]!.line, issues[0]!.col, issues[0]!.value], ['FG_TRACE_UNMAPPED_MODEL', at + 1, lines[at]![0]!.length + 2, 'GPT-4']);
    assert.match(issues[0]!.message, /"ChatGPT", "GPT-4"/);

    const dropped = readTrace(cfg('burstgpt', 'burstgpt_1_200.csv', { models: { ChatGPT: 'x' }, unmapped: 'drop' }), TRACES);
    assert.equal(dropped.requests.length, counts.get('llama-3.1-8b'));
    assert.equal(dropped.report.skipped.unmapped_model, counts.get('llama-3.1-70b'));
    const kept = readTrace(cfg('burstgpt', 'burstgpt_1_200.csv', { models: { ChatGPT: 'x' }, unmapped: 'keep' }), TRACES);
    assert.ok(kept.requests.some((q) => q.model === 'GPT-4'));
  });

  test('columns are read by name: inserted and reordered columns, Session ID, float timestamps', () => {
    const r = readTrace(cfg('burstgpt', 'burstgpt-extra-columns.csv', { models: { ChatGPT: 'a', 'GPT-4': 'b' } }), FIX);
    assert.deepEqual(r.requests.map((q) => [q.line, q.tMs, q.inputTokens, q.outputTokens, q.model, q.session]), [
      [2, 0, 472, 18, 'a', '6b1f7c3e-aaaa-bbbb-cccc-000000000001'],
      [3, 1500, 1087, 230, 'b', '6b1f7c3e-aaaa-bbbb-cccc-000000000002'],
      [6, 15250, 35, 70, 'a', '6b1f7c3e-aaaa-bbbb-cccc-000000000003'],
    ]);
    assert.deepEqual(r.report.skipped, { failed: 2 });
    // Keeping failed rows brings in Llama, which the map does not name: line 5, column 1.
    const issues = issuesOf(() => readTrace(cfg('burstgpt', 'burstgpt-extra-columns.csv', { models: { ChatGPT: 'a', 'GPT-4': 'b' }, failedRows: 'keep' }), FIX));
    assert.deepEqual(issues.map((i) => [i.code, i.line, i.col, i.value]), [['FG_TRACE_UNMAPPED_MODEL', 5, 1, 'Llama']]);
  });
});

describe('mapped CSV and JSONL', () => {
  test('CSV with quoted cells over two lines, time in microseconds, sessions', () => {
    const r = readTrace(cfg('csv', 'mapped.csv', { fields: { time: 'arrival_us', timeUnit: 'us', inputTokens: 'prompt', outputTokens: 'completion', session: 'user' } }), FIX);
    assert.deepEqual(r.requests.map((q) => [q.line, q.tMs, q.inputTokens, q.outputTokens, q.session]), [
      [2, 0, 100, 10, 'alice'],
      [3, 1.5, 200, 20, 'bob'],
      [4, 2.5, 300, 30, 'alice'],
      [6, 4, 400, 40, undefined],
    ]);
  });

  test('time units s and ms scale the same column', () => {
    const s = readTrace(cfg('csv', 'mapped.csv', { fields: { time: 'arrival_us', timeUnit: 's', inputTokens: 'prompt', outputTokens: 'completion' } }), FIX);
    const ms = readTrace(cfg('csv', 'mapped.csv', { fields: { time: 'arrival_us', timeUnit: 'ms', inputTokens: 'prompt', outputTokens: 'completion' } }), FIX);
    assert.deepEqual(s.requests.map((q) => q.tMs), [0, 1_500_000, 2_500_000, 4_000_000]);
    assert.deepEqual(ms.requests.map((q) => q.tMs), [0, 1500, 2500, 4000]);
  });

  test('JSONL with datetimes (zones), model mapping and tenants', () => {
    const r = readTrace(cfg('jsonl', 'mapped.jsonl', { fields: { time: 'ts', timeUnit: 'datetime', inputTokens: 'in', outputTokens: 'out', model: 'model', tenant: 'tenant' }, models: { 'm-a': 'llama', 'm-b': 'qwen' } }), FIX);
    assert.deepEqual(r.requests.map((q) => [q.tMs, q.inputTokens, q.model, q.tenant]), [
      [0, 10, 'llama', 'free'],
      [995.022, 20, 'qwen', 'pro'],
      [1495.022, 30, 'llama', undefined],
    ]);
  });

  test('without a time field: no times (tMs null), span null; time options do not apply', () => {
    const r = readTrace(cfg('csv', 'no-times.csv', { fields: { timeUnit: 's', inputTokens: 'input', outputTokens: 'output' }, loop: 2 }), FIX);
    assert.deepEqual(r.requests.map((q) => [q.tMs, q.inputTokens]), [[null, 10], [null, 20], [null, 30], [null, 10], [null, 20], [null, 30]]);
    assert.equal(r.report.spanMs, null);
  });

  test('a mapped column that is not in the header is FG_TRACE_COLUMN at the header, with a suggestion', () => {
    const issues = issuesOf(() => readTrace(cfg('csv', 'mapped.csv', { fields: { timeUnit: 's', inputTokens: 'promt', outputTokens: 'completion' } }), FIX));
    assert.deepEqual(issues.map((i) => [i.code, i.line, i.path]), [['FG_TRACE_COLUMN', 1, 'promt']]);
    assert.match(issues[0]!.message, /did you mean "prompt"/);
  });
});

describe('CSV parser', () => {
  test('quotes, embedded commas, quotes and line breaks, CRLF, BOM, blank lines, positions', () => {
    const text = '\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\r\nlines",""\r\n3,,\n"",4,5';
    const { records, problems } = parseCsv(text);
    assert.deepEqual(problems, []);
    assert.deepEqual(records.map((r) => [r.line, r.cells.map((c) => c.text)]), [
      [1, ['a', 'b', 'c']],
      [2, ['1', 'x, y', 'say "hi"']],
      [4, ['2', 'two\r\nlines', '']],
      [6, ['3', '', '']],
      [7, ['', '4', '5']],
    ]);
    assert.deepEqual(records[1]!.cells.map((c) => c.col), [1, 3, 10]);
    assert.deepEqual([records[2]!.cells[2]!.line, records[2]!.cells[2]!.col], [5, 8]);
  });

  test('malformed quoting is a problem at its position, and the record is left out', () => {
    const { records, problems } = parseCsv('a,b\n1,"x"y\n2,3\n4,"never closed\n');
    assert.deepEqual(problems.map((p) => [p.line, p.col]), [[2, 6], [4, 3]]);
    assert.deepEqual(records.map((r) => r.line), [1, 3]);
  });
});

describe('broken rows: one coded error, every bad row at its line and column', () => {
  const key = (i: { code: string; line: number; col: number; path: string }): string => `${i.code} ${i.line}:${i.col} ${i.path}`.trimEnd();
  test('Mooncake', () => {
    const issues = issuesOf(() => readTrace(cfg('mooncake', 'mooncake-bad-rows.jsonl'), FIX));
    assert.deepEqual(issues.map(key), [
      'FG_TRACE_BAD_ROW 2:80', // bad JSON: at the parser's position
      'FG_TRACE_BAD_ROW 3:1 input_length', // missing
      'FG_TRACE_BAD_ROW 4:57 output_length', // negative
      'FG_TRACE_BAD_ROW 5:72 hash_ids', // not a list
      'FG_TRACE_BAD_ROW 6:15 timestamp', // not a number
      'FG_TRACE_BAD_ROW 7:35 input_length', // not an integer
      'FG_TRACE_BAD_ROW 8:1', // not an object
    ]);
    assert.deepEqual(issues.map((i) => i.value).slice(2, 6), [-5, '0,1', 'soon', 512.5]);
    for (const i of issues) {
      assert.equal(i.file, join(FIX, 'mooncake-bad-rows.jsonl'));
      assert.ok(i.allowed && i.message);
    }
  });
  test('Azure', () => {
    const issues = issuesOf(() => readTrace(cfg('azure', 'azure-bad-rows.csv'), FIX));
    assert.deepEqual(issues.map(key), ['FG_TRACE_BAD_ROW 3:21 ContextTokens', 'FG_TRACE_BAD_ROW 4:1 TIMESTAMP', 'FG_TRACE_BAD_ROW 5:32 GeneratedTokens', 'FG_TRACE_BAD_ROW 6:1 TIMESTAMP', 'FG_TRACE_BAD_ROW 7:31 GeneratedTokens']);
    assert.deepEqual(issues.map((i) => i.value), ['abc', '2023-11-16 25:17:04.1000000', '-2', '11/16/2023 18:17:06', undefined]);
  });
  test('BurstGPT', () => {
    const issues = issuesOf(() => readTrace(cfg('burstgpt', 'burstgpt-bad-rows.csv'), FIX));
    assert.deepEqual(issues.map(key), ['FG_TRACE_BAD_ROW 3:43', 'FG_TRACE_BAD_ROW 4:15 Response tokens', 'FG_TRACE_BAD_ROW 5:1 Timestamp', 'FG_TRACE_BAD_ROW 6:16 Response tokens']);
  });
  test('a missing column, an empty file, a missing file', () => {
    assert.deepEqual(issuesOf(() => readTrace(cfg('burstgpt', 'burstgpt-missing-column.csv'), FIX)).map(key), ['FG_TRACE_COLUMN 1:1 Response tokens']);
    assert.deepEqual(issuesOf(() => readTrace(cfg('mooncake', 'empty.jsonl'), FIX)).map(key), ['FG_TRACE_EMPTY 0:0']);
    assert.deepEqual(issuesOf(() => readTrace(cfg('mooncake', 'nope.jsonl'), FIX)).map(key), ['FG_TRACE_FILE 0:0']);
  });
  test(`at most ${MAX_TRACE_PROBLEMS} bad rows are listed, then one line counts the rest`, () => {
    const issues = issuesOf(() => readTrace(cfg('mooncake', 'many-bad.jsonl'), FIX));
    assert.equal(issues.length, MAX_TRACE_PROBLEMS + 1);
    assert.deepEqual(issues.slice(0, 20).map((i) => i.line), Array.from({ length: 20 }, (_, i) => i + 4));
    assert.equal(issues[20]!.line, 24);
    assert.match(issues[20]!.message, /5 more bad rows/);
  });
});

describe('replay options', () => {
  const moon = (extra: Partial<TraceConfig> = {}) => readTrace(cfg('mooncake', 'mooncake_conversation_200.jsonl', extra), TRACES);
  const raw = mooncakeRows(join(TRACES, 'mooncake_conversation_200.jsonl'));

  test('window then speed: rows with from <= t < to, times from the window start, divided by speed', () => {
    const r = moon({ fromMs: 30_000, toMs: 60_000, speed: 2 });
    const expected = raw.filter((o) => o.timestamp >= 30_000 && o.timestamp < 60_000);
    assert.ok(expected.length > 10);
    assert.deepEqual(r.requests.map((q) => [q.tMs, q.inputTokens]), expected.map((o) => [(o.timestamp - 30_000) / 2, o.input_length]));
    assert.equal(r.report.skipped.window, 200 - expected.length);
  });

  test('speed alone: every replayed time is the trace time over the speed', () => {
    const r = moon({ speed: 0.5 });
    assert.deepEqual(r.requests.map((q) => q.tMs), raw.map((o) => o.timestamp * 2));
  });

  test('cut: nothing at or after cutMs', () => {
    const r = moon({ cutMs: 30_000 });
    assert.equal(r.requests.length, raw.filter((o) => o.timestamp < 30_000).length);
    assert.equal(r.report.skipped.cut, raw.filter((o) => o.timestamp >= 30_000).length);
  });

  test('loop N: passes a period apart, hash ids shifted so passes share no prefix', () => {
    const r = moon({ loop: 2 });
    assert.equal(r.requests.length, 400);
    const period = 72_000 + 72_000 / 199;
    const maxId = Math.max(...raw.flatMap((o) => o.hash_ids));
    for (let i = 0; i < 200; i++) {
      const a = r.requests[i]!;
      const b = r.requests[i + 200]!;
      assert.ok(Math.abs(b.tMs! - (a.tMs! + period)) < 1e-6);
      assert.deepEqual(b.hashIds, a.hashIds!.map((id) => id + maxId + 1));
      assert.equal(b.inputTokens, a.inputTokens);
    }
  });

  test('loop until a time: passes until then, the last one cut there', () => {
    const r = moon({ loop: { untilMs: 100_000 } });
    assert.ok(r.requests.every((q) => q.tMs! < 100_000));
    assert.ok(r.requests.length > 200 && r.requests.length < 400);
    const windowed = moon({ fromMs: 0, toMs: 36_000, loop: 3 });
    assert.equal(windowed.requests.length, 3 * raw.filter((o) => o.timestamp < 36_000).length);
    assert.equal(windowed.requests.at(-1)!.tMs! < 3 * 36_000, true);
  });

  // A synthetic trace with a known shape: the rate rises from 10/s to 100/s over 10 minutes.
  const dir = mkdtempSync(join(tmpdir(), 'fg-trace-'));
  const shapeFile = join(dir, 'shape.jsonl');
  {
    const lines: string[] = [];
    let t = 0;
    let i = 0;
    while (t < 600_000) {
      const rate = 10 + 90 * (t / 600_000);
      lines.push(JSON.stringify({ t, in: 100 + ((i * 7919) % 900), out: 1 + ((i * 104729) % 300) }));
      t += 1000 / rate;
      i++;
    }
    writeFileSync(shapeFile, lines.join('\n') + '\n');
  }
  const shape = (extra: Partial<TraceConfig> = {}) => readTrace(cfg('jsonl', shapeFile, { fields: { time: 't', timeUnit: 'ms', inputTokens: 'in', outputTokens: 'out' }, ...extra }), dir);
  const perMinute = (ts: Array<number | null>): number[] => {
    const c = new Array(10).fill(0) as number[];
    for (const t of ts) c[Math.min(9, Math.floor(t! / 60_000))]!++;
    return c;
  };

  for (const s of [0.5, 2.5]) {
    test(`rate_scale ${s}: per-minute counts scale by ${s}, lengths keep their distribution, deterministic by seed`, () => {
      const base = shape();
      const scaled = shape({ rateScale: s, seed: 7 });
      const b = perMinute(base.requests.map((q) => q.tMs));
      const c = perMinute(scaled.requests.map((q) => q.tMs));
      for (let m = 0; m < 10; m++) {
        const expected = b[m]! * s;
        // Binomial noise: 4 standard deviations of the fractional draw.
        const sd = Math.sqrt(b[m]! * (s % 1) * (1 - (s % 1)));
        assert.ok(Math.abs(c[m]! - expected) <= 4 * sd + 1, `minute ${m}: ${c[m]} vs ${expected}`);
      }
      const ks = ksTest(base.requests.map((q) => q.inputTokens), scaled.requests.map((q) => q.inputTokens));
      assert.ok(ks.same, `KS D ${ks.d} > ${ks.critical}`);
      assert.deepEqual(shape({ rateScale: s, seed: 7 }).requests, scaled.requests);
      assert.notDeepEqual(shape({ rateScale: s, seed: 8 }).requests, scaled.requests);
      // Sorted by time.
      for (let i = 1; i < scaled.requests.length; i++) assert.ok(scaled.requests[i]!.tMs! >= scaled.requests[i - 1]!.tMs!);
    });
  }

  test('duplicates spread within the gap to the next arrival, or stay at the same time', () => {
    const spread = moon({ rateScale: 2 });
    assert.equal(spread.requests.length, 400);
    const times = [...new Set(raw.map((o) => o.timestamp))].sort((a, b) => a - b);
    for (const q of spread.requests) {
      const orig = raw[q.line - 1]!.timestamp;
      const next = times.find((t) => t > orig) ?? orig;
      assert.ok(q.tMs! >= orig && (q.tMs! < next || q.tMs === orig), `line ${q.line} at ${q.tMs}`);
    }
    const same = moon({ rateScale: 2, duplicates: 'same_time' });
    assert.deepEqual(same.requests.map((q) => q.tMs), raw.flatMap((o) => [o.timestamp, o.timestamp]));
    // A copy keeps the blocks its original shares with other rows, and gets fresh ids for its own.
    const uses = new Map<number, number>();
    for (const o of raw) for (const id of o.hash_ids) uses.set(id, (uses.get(id) ?? 0) + 1);
    const byLine = new Map<number, number[][]>();
    for (const q of same.requests) byLine.set(q.line, [...(byLine.get(q.line) ?? []), [...q.hashIds!]]);
    for (const [line, [orig, copy]] of byLine) {
      assert.deepEqual(orig, raw[line - 1]!.hash_ids);
      orig!.forEach((id, k) => (uses.get(id)! > 1 ? assert.equal(copy![k], id) : assert.notEqual(copy![k], id)));
    }
  });

  test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
});

describe('KS statistic', () => {
  test('identical samples 0, disjoint 1, a known value, the critical value', () => {
    assert.equal(ksStatistic([3, 1, 2], [1, 2, 3]), 0);
    assert.equal(ksStatistic([1, 2], [3, 4]), 1);
    assert.equal(ksStatistic([1, 2, 3], [1, 2, 3, 4]), 0.25);
    assert.ok(Math.abs(ksCritical(100, 100) - 1.358 * Math.sqrt(2 / 100)) < 1e-3);
    assert.throws(() => ksStatistic([], [1]), RangeError);
  });
  test('the lengths read equal the file\'s (D = 0) for every excerpt', () => {
    for (const [format, file, col] of [['azure', 'azure_conv_2023_200.csv', 1], ['azure', 'azure_code_2023_200.csv', 1], ['burstgpt', 'burstgpt_1_200.csv', 2]] as const) {
      const r = readTrace(cfg(format, file, { failedRows: 'keep' }), TRACES);
      const fileValues = plainCsv(join(TRACES, file)).slice(1).map((c) => Math.max(1, Number(c[col])));
      assert.equal(ksStatistic(r.requests.map((q) => q.inputTokens), fileValues), 0, file);
    }
  });
});
