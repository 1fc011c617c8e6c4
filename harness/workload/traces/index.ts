/**
 * readTrace(): read a trace file (Mooncake, Azure, BurstGPT, or any CSV/JSONL with a field
 * mapping) and apply the replay options, giving the requests the plan sends.
 *
 * Steps, in this order (docs/scenarios.md, "Replaying a trace"):
 *  1. parse and validate every row (bad rows: one ConfigError listing up to 20, FG_TRACE_BAD_ROW
 *     at the trace file's line and column);
 *  2. times: ms from the earliest row (the trace's own origin), full precision; rows sorted
 *     stably by time when the file was not (report.reordered);
 *  3. window: keep rows with from <= t < to (trace clock); the window's start becomes replay 0;
 *  4. speed: times divided by `speed`;
 *  5. row filters: failed rows (0 output tokens) dropped or kept (sent with 1 output token),
 *     models mapped (unmapped: error / drop / keep);
 *  6. rate scaling: each row sent floor(s) times plus once more with probability frac(s)
 *     (seeded); extra copies spread over the gap to the next arrival (or at the same time);
 *  7. loop: N passes, or passes until a replay time; pass p starts at p x the pass period;
 *  8. cut: nothing at or after `cutMs` (the stages' total, or the loop's end).
 */

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { Rng } from '../rng.ts';
import type { TraceReadResult, TraceRequest } from './trace-types.ts';
import { traceHasTimes, type TraceConfig } from './trace-config.ts';
import { TraceProblems, type ParsedTrace, type RawRow } from './rows.ts';
import { readMooncake } from './mooncake.ts';
import { readAzure } from './azure.ts';
import { readBurstGpt } from './burstgpt.ts';
import { readMappedCsv, readMappedJsonl } from './mapped.ts';
import { whyUnreadable } from '../../util/file-errors.ts';

export type { TraceConfig, TraceFieldMap, TraceFormat, TimeUnit } from './trace-config.ts';
export { TRACE_DEFAULTS, TRACE_FORMATS, TIME_UNITS, traceHasTimes } from './trace-config.ts';
export type { TraceReadReport, TraceReadResult, TraceRequest } from './trace-types.ts';

/** Warnings listed one by one in the report; the rest are counted in a note. */
export const MAX_TRACE_WARNINGS = 100;

/** The trace file's path as readTrace opens it. */
export function traceFilePath(config: Pick<TraceConfig, 'file'>, baseDir: string): string {
  return isAbsolute(config.file) ? config.file : join(baseDir, config.file);
}

/**
 * Read and replay-shape a trace. `baseDir`: where a relative `config.file` starts (the scenario's
 * folder).
 * @throws ConfigError: FG_TRACE_FILE (missing/unreadable), FG_TRACE_EMPTY (no data rows),
 *   FG_TRACE_COLUMN (a CSV without a needed column), FG_TRACE_BAD_ROW (bad rows, with line and
 *   column), FG_TRACE_UNMAPPED_MODEL (a model the `models` map does not name, unmapped: error).
 */
export function readTrace(config: TraceConfig, baseDir: string): TraceReadResult {
  const path = traceFilePath(config, baseDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = whyUnreadable(err);
    throw new ConfigError([{ code: 'FG_TRACE_FILE', file: path, line: 0, col: 0, path: '', message: `trace file "${path}" ${why}`, value: config.file, allowed: `a readable ${config.format} trace file` }]);
  }
  const problems = new TraceProblems(path);
  const parsed = parse(text, config, problems);
  if (problems.issues.length === 0 && problems.rowProblems === 0 && parsed.rowsRead === 0) {
    problems.add('FG_TRACE_EMPTY', 0, 0, '', `trace file "${path}" holds no requests`, 'a trace with at least one row');
  }
  const issues = problems.finish();
  if (issues.length > 0) throw new ConfigError(issues);
  return replay(parsed, config, path);
}

function parse(text: string, config: TraceConfig, problems: TraceProblems): ParsedTrace {
  switch (config.format) {
    case 'mooncake':
      return readMooncake(text, problems, config.blockTokens);
    case 'azure':
      return readAzure(text, problems);
    case 'burstgpt':
      return readBurstGpt(text, problems);
    case 'csv':
    case 'jsonl': {
      const f = config.fields;
      if (!f) throw new ConfigError([{ code: 'FG_TRACE_COLUMN', file: config.file, line: 0, col: 0, path: 'fields', message: `a ${config.format} trace needs a field mapping (fields)`, allowed: 'fields: {time, time_unit, input_tokens, output_tokens, ...}' }]);
      return config.format === 'csv' ? readMappedCsv(text, problems, f) : readMappedJsonl(text, problems, f);
    }
  }
}

interface Row extends RawRow {
  /** Replay time (ms) once the time options are applied; null without times. */
  at: number | null;
}

function replay(parsed: ParsedTrace, config: TraceConfig, path: string): TraceReadResult {
  const timed = traceHasTimes(config);
  const skipped: Record<string, number> = {};
  const skip = (why: string, n = 1): void => {
    if (n > 0) skipped[why] = (skipped[why] ?? 0) + n;
  };
  const notes: string[] = [];
  const warnings = [...parsed.warnings];

  // 2. Origin and order.
  let rows: Row[] = parsed.rows.map((r) => ({ ...r, at: r.t }));
  let reordered = false;
  if (timed && rows.length > 0) {
    let origin = Infinity;
    for (let i = 0; i < rows.length; i++) {
      const t = rows[i]!.t!;
      if (t < origin) origin = t;
      if (i > 0 && t < rows[i - 1]!.t!) reordered = true;
    }
    for (const r of rows) r.at = r.t! - origin;
    if (reordered) {
      rows.sort((a, b) => a.at! - b.at!); // stable: rows with equal times keep their file order
      notes.push('the file was not in time order: rows were sorted by time (stably)');
    }
  }

  // 3-4. Window and speed.
  const from = timed ? config.fromMs ?? 0 : 0;
  const to = timed ? config.toMs ?? Infinity : Infinity;
  if (timed) {
    const kept = rows.filter((r) => r.at! >= from && r.at! < to);
    skip('window', rows.length - kept.length);
    rows = kept;
    for (const r of rows) r.at = (r.at! - from) / config.speed;
  }
  const period = timed ? passPeriod(rows, from, to, config.speed) : 0;

  // 5. Row filters.
  let keptFailed = 0;
  const unmapped = new Map<string, { count: number; line: number; col: number }>();
  rows = rows.filter((r) => {
    if (r.output === 0) {
      if (config.failedRows === 'drop') {
        skip('failed');
        return false;
      }
      keptFailed++;
      r.output = 1;
      r.input = Math.max(1, r.input);
    } else if (r.input === 0) {
      warnings.push({ line: r.line, message: 'input length 0: sent as a 1-token prompt' });
      r.input = 1;
    }
    if (config.models && r.model !== undefined) {
      const target = Object.hasOwn(config.models, r.model) ? config.models[r.model] : undefined;
      if (target !== undefined) r.model = target;
      else if (config.unmapped === 'drop') {
        skip('unmapped_model');
        return false;
      } else if (config.unmapped === 'error') {
        const u = unmapped.get(r.model);
        if (u) u.count++;
        else unmapped.set(r.model, { count: 1, line: r.line, col: r.modelCol ?? 1 });
      }
    } else if (!config.models) {
      delete r.model;
    }
    return true;
  });
  if (keptFailed > 0) notes.push(`${keptFailed} failed row${keptFailed === 1 ? '' : 's'} (0 output tokens) kept and sent with 1 output token (and a prompt of at least 1 token)`);
  if (unmapped.size > 0) {
    const traceModels = new Set(parsed.rows.map((r) => r.model).filter((m): m is string => m !== undefined));
    const mapped = Object.keys(config.models!);
    throw new ConfigError([...unmapped].map(([model, u]) => ({
      code: 'FG_TRACE_UNMAPPED_MODEL',
      file: path,
      line: u.line,
      col: u.col,
      path: 'model',
      message: `model ${JSON.stringify(model)} (${u.count} row${u.count === 1 ? '' : 's'}, first here) is not in workload.trace.models (${mapped.map((m) => JSON.stringify(m)).join(', ')}); the trace's models are ${[...traceModels].sort().map((m) => JSON.stringify(m)).join(', ')}`,
      value: model,
      allowed: `map every model of the trace (${[...traceModels].sort().join(', ')}) in workload.trace.models, or set unmapped: drop or keep`,
    })));
  }

  // 6. Rate scaling.
  const copies = scale(rows, config, timed, skip);
  if (config.rateScale > 1) notes.push(`rate_scale ${config.rateScale}: ${copies.length - rows.length} duplicate request${copies.length - rows.length === 1 ? '' : 's'} added (${config.duplicates === 'spread' ? 'spread over the gap to the next arrival' : 'at the same time as the original'})`);
  rows = copies;

  // 7-8. Loop and cut.
  const loopUntil = typeof config.loop === 'object' ? config.loop.untilMs : undefined;
  const cut = Math.min(config.cutMs ?? Infinity, timed ? loopUntil ?? Infinity : Infinity);
  let passes = typeof config.loop === 'number' ? config.loop : 1;
  if (loopUntil !== undefined && timed) passes = period > 0 ? Math.max(1, Math.ceil(loopUntil / period)) : 1;
  const stride = hashStride(rows);
  const requests: TraceRequest[] = [];
  let cutCount = 0;
  for (let p = 0; p < passes; p++) {
    for (const r of rows) {
      const at = r.at === null ? null : r.at + p * period;
      if (at !== null && at >= cut) {
        cutCount++;
        continue;
      }
      requests.push(toRequest(r, at, p * stride, p));
    }
  }
  skip('cut', cutCount);
  if (passes > 1) notes.push(`looped ${passes} times${timed ? `, a pass every ${round3(period)} ms` : ''}${stride > 0 ? `; hash ids of pass p shifted by p x ${stride} so passes share no prefix` : ''}`);

  if (warnings.length > MAX_TRACE_WARNINGS) {
    notes.push(`${warnings.length - MAX_TRACE_WARNINGS} more warnings not listed`);
    warnings.length = MAX_TRACE_WARNINGS;
  }
  const mismatch = parsed.warnings.length;
  if (config.format === 'mooncake' && mismatch > parsed.rows.length / 2) {
    notes.push(`${mismatch} of ${parsed.rows.length} rows have hash_ids that do not fit block_tokens ${config.blockTokens}: is block_tokens right?`);
  }
  const last = requests.length > 0 ? requests[requests.length - 1]!.tMs : null;
  const result: TraceReadResult = {
    requests,
    report: {
      file: path,
      format: config.format,
      rowsRead: parsed.rowsRead,
      requests: requests.length,
      skipped,
      warnings,
      spanMs: timed ? last ?? 0 : null,
      reordered,
      notes,
    },
  };
  if (config.format === 'mooncake') result.blockTokens = config.blockTokens;
  return result;
}

/**
 * The replay time between two loop passes: the window's length (replay clock) when `to` is set,
 * else the span plus one mean gap, so the join looks like any other gap.
 */
function passPeriod(rows: readonly Row[], from: number, to: number, speed: number): number {
  if (Number.isFinite(to)) return (to - from) / speed;
  if (rows.length === 0) return 0;
  const span = rows[rows.length - 1]!.at! ;
  const gap = rows.length > 1 ? span / (rows.length - 1) : 0;
  return span + gap > 0 ? span + gap : 1;
}

/** Thinning and duplication (step 6). Seeded: same seed, same rows, same copies. */
function scale(rows: Row[], config: TraceConfig, timed: boolean, skip: (why: string, n?: number) => void): Row[] {
  const s = config.rateScale;
  if (s === 1) return rows;
  const root = new Rng(config.seed).fork('trace');
  const keepRng = root.fork('rate_scale');
  const spreadRng = root.fork('duplicates');
  const whole = Math.floor(s);
  const frac = s - whole;
  // Hash ids used by one row only are that row's own blocks: a copy gets fresh ones, so that it
  // shares with the trace exactly what the original shares (its common prefixes), no more.
  const uses = new Map<number, number>();
  for (const r of rows) for (const id of r.hashIds ?? []) uses.set(id, (uses.get(id) ?? 0) + 1);
  let nextId = 0;
  for (const id of uses.keys()) if (id >= nextId) nextId = id + 1;

  const out: Row[] = [];
  let thinned = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const k = whole + (frac > 0 && keepRng.next() < frac ? 1 : 0);
    if (k === 0) {
      thinned++;
      continue;
    }
    out.push(r);
    if (k === 1) continue;
    let gap = 0;
    if (timed && config.duplicates === 'spread') {
      let j = i + 1;
      while (j < rows.length && rows[j]!.at === r.at) j++;
      gap = j < rows.length ? rows[j]!.at! - r.at! : 0;
    }
    for (let c = 1; c < k; c++) {
      const copy: Row = { ...r };
      if (timed && gap > 0) copy.at = r.at! + spreadRng.next() * gap;
      if (r.hashIds) copy.hashIds = r.hashIds.map((id) => (uses.get(id) === 1 ? nextId++ : id));
      out.push(copy);
    }
  }
  skip('thinned', thinned);
  if (timed && whole >= 1) out.sort((a, b) => a.at! - b.at!);
  return out;
}

/** One more than the largest hash id (0 without hash ids): the shift between loop passes. */
function hashStride(rows: readonly Row[]): number {
  let max = -1;
  for (const r of rows) for (const id of r.hashIds ?? []) if (id > max) max = id;
  return max + 1;
}

/** A request of loop pass `pass`: hash ids shifted, and the session renamed (`id#2`) so passes are different conversations. */
function toRequest(r: Row, at: number | null, idShift: number, pass: number): TraceRequest {
  const q: TraceRequest = { tMs: at, inputTokens: r.input, outputTokens: r.output, line: r.line };
  if (r.hashIds) q.hashIds = idShift === 0 ? r.hashIds : r.hashIds.map((id) => id + idShift);
  if (r.model !== undefined) q.model = r.model;
  if (r.tenant !== undefined) q.tenant = r.tenant;
  if (r.session !== undefined) q.session = pass === 0 ? r.session : `${r.session}#${pass}`;
  return q;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
