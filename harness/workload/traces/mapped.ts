/**
 * Any CSV or JSONL trace, with a field mapping (`fields`): which CSV column (by header name) or
 * JSON key holds the arrival time (in s, ms, us, or a datetime), the input and output token
 * counts, and optionally the session, model and tenant. Without a time field the rows have no
 * times (tMs null), and the plan replays them closed-loop or all at once (TraceConfig.noTimestamps).
 */

import type { TraceFieldMap } from './trace-config.ts';
import {
  cellOf,
  checkWidth,
  COUNT_ALLOWED,
  countFromJson,
  instantDiffMs,
  jsonCol,
  jsonObject,
  parseCount,
  parseDatetime,
  parseNumber,
  readCsvTable,
  shown,
  textLines,
  type Instant,
  type ParsedTrace,
  type RawRow,
  type TraceProblems,
} from './rows.ts';

const UNIT_MS = { s: 1000, ms: 1, us: 0.001 } as const;

function timeAllowed(f: TraceFieldMap): string {
  return f.timeUnit === 'datetime' ? 'a datetime YYYY-MM-DD HH:MM:SS[.fraction] (optional Z or +HH:MM)' : `a number of ${f.timeUnit}`;
}

/** Turns time values into ms from the first row's time (datetimes exactly, numbers by unit). */
class Clock {
  private ref: Instant | undefined;
  constructor(private readonly f: TraceFieldMap) {}
  /** ms, or a reason. */
  read(v: unknown): number | string {
    if (this.f.timeUnit === 'datetime') {
      if (typeof v !== 'string') return 'is not a datetime string';
      const at = parseDatetime(v);
      if (typeof at === 'string') return at;
      this.ref ??= at;
      return instantDiffMs(this.ref, at);
    }
    const n = typeof v === 'number' ? v : typeof v === 'string' ? parseNumber(v) : 'is not a number';
    if (typeof n === 'string') return n;
    if (!Number.isFinite(n)) return 'is not a finite number';
    return n * UNIT_MS[this.f.timeUnit];
  }
}

export function readMappedCsv(text: string, problems: TraceProblems, f: TraceFieldMap): ParsedTrace {
  const required = [f.time, f.inputTokens, f.outputTokens].filter((x): x is string => x !== undefined);
  const optional = [f.session, f.model, f.tenant].filter((x): x is string => x !== undefined);
  // Optional fields named in the mapping must exist too: a typo there would silently lose them.
  const table = readCsvTable(text, problems, [...required, ...optional]);
  if (!table) return { rows: [], rowsRead: 0, warnings: [] };
  const clock = new Clock(f);
  const rows: RawRow[] = [];
  for (const rec of table.records) {
    if (!checkWidth(table, rec, problems)) continue;
    let ok = true;
    let t: number | null = null;
    if (f.time !== undefined) {
      const c = cellOf(table, rec, f.time, problems, timeAllowed(f));
      if (!c) continue;
      const v = clock.read(c.text);
      if (typeof v === 'string') {
        problems.row(rec.line, c.col, f.time, `${JSON.stringify(c.text)} ${v}`, c.text, timeAllowed(f));
        ok = false;
      } else t = v;
    }
    const ic = cellOf(table, rec, f.inputTokens, problems, COUNT_ALLOWED);
    const oc = cellOf(table, rec, f.outputTokens, problems, COUNT_ALLOWED);
    if (!ic || !oc) continue;
    const input = parseCount(ic.text);
    if (typeof input === 'string') {
      problems.row(rec.line, ic.col, f.inputTokens, `${JSON.stringify(ic.text)} ${input}`, ic.text, COUNT_ALLOWED);
      ok = false;
    }
    const output = parseCount(oc.text);
    if (typeof output === 'string') {
      problems.row(rec.line, oc.col, f.outputTokens, `${JSON.stringify(oc.text)} ${output}`, oc.text, COUNT_ALLOWED);
      ok = false;
    }
    if (!ok) continue;
    const row: RawRow = { line: rec.line, t, input: input as number, output: output as number };
    const text = (name: string | undefined): { text: string; col: number } | undefined => {
      if (name === undefined) return undefined;
      const cell = rec.cells[table.index.get(name)!];
      return cell && cell.text.trim() !== '' ? { text: cell.text.trim(), col: cell.col } : undefined;
    };
    const model = text(f.model);
    if (model) {
      row.model = model.text;
      row.modelCol = model.col;
    }
    const session = text(f.session);
    if (session) row.session = session.text;
    const tenant = text(f.tenant);
    if (tenant) row.tenant = tenant.text;
    rows.push(row);
  }
  return { rows, rowsRead: table.records.length, warnings: [] };
}

export function readMappedJsonl(text: string, problems: TraceProblems, f: TraceFieldMap): ParsedTrace {
  const clock = new Clock(f);
  const rows: RawRow[] = [];
  let rowsRead = 0;
  const keys = [f.time, f.inputTokens, f.outputTokens].filter((x): x is string => x !== undefined);
  const allowed = `a JSON object with ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
  for (const { line, text: lt } of textLines(text)) {
    if (lt.trim() === '') continue;
    rowsRead++;
    const o = jsonObject(line, lt, problems, allowed);
    if (!o) continue;
    let ok = true;
    let t: number | null = null;
    if (f.time !== undefined) {
      const v = o[f.time];
      const ms = v === undefined ? 'is missing' : clock.read(v);
      if (typeof ms === 'string') {
        problems.row(line, v === undefined ? 1 : jsonCol(lt, f.time), f.time, v === undefined ? `${f.time} is missing` : `${f.time} ${shown(v)} ${ms}`, v, timeAllowed(f));
        ok = false;
      } else t = ms;
    }
    const count = (key: string): number | undefined => {
      const c = countFromJson(o[key]);
      if (typeof c === 'number') return c;
      problems.row(line, o[key] === undefined ? 1 : jsonCol(lt, key), key, o[key] === undefined ? `${key} is missing` : `${key} ${shown(o[key])} ${c}`, o[key], COUNT_ALLOWED);
      ok = false;
      return undefined;
    };
    const input = count(f.inputTokens);
    const output = count(f.outputTokens);
    const str = (key: string | undefined): string | undefined => {
      if (key === undefined) return undefined;
      const v = o[key];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v === 'string' || typeof v === 'number') return String(v);
      problems.row(line, jsonCol(lt, key), key, `${key} ${shown(v)} is not a string`, v, 'a string (or a number)');
      ok = false;
      return undefined;
    };
    const model = str(f.model);
    const session = str(f.session);
    const tenant = str(f.tenant);
    if (!ok || input === undefined || output === undefined) continue;
    const row: RawRow = { line, t, input, output };
    if (model !== undefined) {
      row.model = model;
      row.modelCol = jsonCol(lt, f.model!);
    }
    if (session !== undefined) row.session = session;
    if (tenant !== undefined) row.tenant = tenant;
    rows.push(row);
  }
  return { rows, rowsRead, warnings: [] };
}
