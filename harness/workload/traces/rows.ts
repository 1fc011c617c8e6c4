/**
 * What the format readers share: the parsed row before the replay options, the collector of bad
 * rows (coded issues at the trace file's line and column), and the value parsers (token counts,
 * numeric times, datetimes kept to the nanosecond).
 */

import type { ConfigIssue } from '../../errors.ts';
import { nearest } from '../../util/did-you-mean.ts';
import { parseCsv, type CsvCell, type CsvRecord } from './csv.ts';

/** Bad rows listed per file; one more issue then says how many were not listed. */
export const MAX_TRACE_PROBLEMS = 20;

/** One row as read, on the trace's own clock. */
export interface RawRow {
  line: number;
  /** ms from the file's time reference (readers' choice; index.ts moves the origin to the earliest row); null without times. */
  t: number | null;
  input: number;
  output: number;
  hashIds?: number[];
  /** The trace's model name, with the cell's column (for unmapped-model issues). */
  model?: string;
  modelCol?: number;
  tenant?: string;
  session?: string;
}

export interface ParsedTrace {
  rows: RawRow[];
  /** Data rows in the file (bad ones included). */
  rowsRead: number;
  warnings: Array<{ line: number; message: string }>;
}

/** Collects the issues of one trace file; at most MAX_TRACE_PROBLEMS row issues are listed. */
export class TraceProblems {
  readonly issues: ConfigIssue[] = [];
  private rowCount = 0;
  private firstUnlisted: { line: number; col: number } | undefined;
  constructor(readonly file: string) {}

  /** A bad row: `path` is the row's field (column or key), `value` the text found. */
  row(line: number, col: number, path: string, message: string, value: unknown, allowed: string): void {
    this.rowCount++;
    if (this.rowCount > MAX_TRACE_PROBLEMS) {
      this.firstUnlisted ??= { line, col };
      return;
    }
    this.issues.push({ code: 'FG_TRACE_BAD_ROW', file: this.file, line, col, path, message, value, allowed });
  }

  /** Any other issue (missing column, unmapped model, empty trace). */
  add(code: string, line: number, col: number, path: string, message: string, allowed: string, value?: unknown): void {
    const issue: ConfigIssue = { code, file: this.file, line, col, path, message, allowed };
    if (value !== undefined) issue.value = value;
    this.issues.push(issue);
  }

  /** The issues, with the "N more bad rows" line when some were not listed. */
  finish(): ConfigIssue[] {
    if (this.firstUnlisted) {
      const more = this.rowCount - MAX_TRACE_PROBLEMS;
      this.issues.push({
        code: 'FG_TRACE_BAD_ROW',
        file: this.file,
        line: this.firstUnlisted.line,
        col: this.firstUnlisted.col,
        path: '',
        message: `${more} more bad row${more === 1 ? '' : 's'} from here on (only the first ${MAX_TRACE_PROBLEMS} are listed)`,
        allowed: 'rows like the ones above, fixed',
      });
    }
    return this.issues;
  }

  get rowProblems(): number {
    return this.rowCount;
  }
}

export const COUNT_ALLOWED = 'a token count: an integer >= 0';

/** A token count from text: an integer >= 0 (a trailing `.0` is accepted); a reason string when bad. */
export function parseCount(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'is empty';
  if (/^-\d+(?:\.0*)?$/.test(t)) return 'is negative';
  if (!/^\d+(?:\.0*)?$/.test(t)) return /^-?\d*\.\d+$/.test(t) ? 'is not an integer' : 'is not a number';
  const v = Number(t);
  return Number.isSafeInteger(v) ? v : 'is too large';
}

/** A token count from a JSON value. */
export function countFromJson(v: unknown): number | string {
  if (v === undefined) return 'is missing';
  if (typeof v === 'string') return parseCount(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'is not a number';
  if (v < 0) return 'is negative';
  if (!Number.isInteger(v)) return 'is not an integer';
  return Number.isSafeInteger(v) ? v : 'is too large';
}

/** A finite number from text (times in s/ms/us); a reason when bad. */
export function parseNumber(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'is empty';
  if (!/^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(t)) return 'is not a number';
  return Number(t);
}

/**
 * A datetime `YYYY-MM-DD[ T]HH:MM:SS[.fraction]` with 0 to 9 fractional digits and an optional
 * zone (`Z`, `+HH:MM`, `+HHMM`; none: UTC), as whole seconds since the epoch plus nanoseconds,
 * both integers, so that no precision is lost (a double cannot hold epoch milliseconds to 100 ns).
 */
export interface Instant {
  sec: number;
  ns: number;
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:\s*(Z|[+-]\d{2}:?\d{2}))?$/;

export function parseDatetime(text: string): Instant | string {
  const m = DATETIME.exec(text.trim());
  if (!m) return 'is not a datetime like 2023-11-16 18:15:46.6805900';
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 60) return 'is not a valid date and time';
  let sec = Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  const frac = m[7] ?? '';
  const ns = frac === '' ? 0 : Number(frac.padEnd(9, '0'));
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    sec -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  return { sec, ns };
}

function daysIn(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** b - a in milliseconds, exact to the nanosecond for spans up to years. */
export function instantDiffMs(a: Instant, b: Instant): number {
  // In whole nanoseconds (exact up to about 104 days), then one correctly rounded division.
  const ns = (b.sec - a.sec) * 1e9 + (b.ns - a.ns);
  return Number.isSafeInteger(ns) ? ns / 1e6 : (b.sec - a.sec) * 1000 + (b.ns - a.ns) / 1e6;
}

/** A CSV file read as a table with named columns. */
export interface CsvTable {
  records: CsvRecord[];
  /** Column index by name; absent names were reported. */
  index: Map<string, number>;
  headerLength: number;
}

/**
 * Parse a CSV trace with a header and find the named columns (exact name, else a unique
 * case-insensitive match). Missing columns are FG_TRACE_COLUMN issues at the header; malformed
 * records are bad rows. Returns undefined when a required column is missing.
 */
export function readCsvTable(text: string, problems: TraceProblems, required: readonly string[], optional: readonly string[] = []): CsvTable | undefined {
  const { records, problems: csvProblems } = parseCsv(text);
  for (const p of csvProblems) problems.row(p.line, p.col, '', `malformed CSV: ${p.message}`, undefined, 'RFC 4180 CSV: quote a field holding commas, quotes or line breaks, and double the quotes inside it');
  const header = records.shift();
  if (!header) {
    problems.add('FG_TRACE_EMPTY', 0, 0, '', 'the trace file is empty (no header row)', `a header row with ${required.join(', ')}, then one row per request`);
    return undefined;
  }
  const names = header.cells.map((c) => c.text.trim());
  const index = new Map<string, number>();
  let ok = true;
  for (const name of [...required, ...optional]) {
    let idx = names.indexOf(name);
    if (idx === -1) {
      const ci = names.map((n, i) => (n.toLowerCase() === name.toLowerCase() ? i : -1)).filter((i) => i >= 0);
      if (ci.length === 1) idx = ci[0]!;
    }
    if (idx >= 0) {
      index.set(name, idx);
      continue;
    }
    if (!required.includes(name)) continue;
    ok = false;
    const hint = nearest(name, names);
    problems.add('FG_TRACE_COLUMN', header.line, 1, name, `the header has no column "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; it has ${names.map((n) => JSON.stringify(n)).join(', ')}`, `a header naming ${required.map((r) => JSON.stringify(r)).join(', ')}`, names.join(','));
  }
  return ok ? { records, index, headerLength: names.length } : undefined;
}

/** The cell of a named column in a record, or undefined (reported as missing) when the row is short. */
export function cellOf(table: CsvTable, rec: CsvRecord, name: string, problems: TraceProblems, allowed: string): CsvCell | undefined {
  const idx = table.index.get(name);
  if (idx === undefined) return undefined;
  const cell = rec.cells[idx];
  if (cell) return cell;
  const last = rec.cells[rec.cells.length - 1]!;
  problems.row(rec.line, last.col + last.text.length, name, `the row has ${rec.cells.length} cells and no "${name}" (the header has ${table.headerLength})`, undefined, allowed);
  return undefined;
}

/** Check a record's cell count against the header: more cells than columns is a bad row. */
export function checkWidth(table: CsvTable, rec: CsvRecord, problems: TraceProblems): boolean {
  if (rec.cells.length <= table.headerLength) return true;
  const extra = rec.cells[table.headerLength]!;
  problems.row(rec.line, extra.col, '', `the row has ${rec.cells.length} cells, the header ${table.headerLength} (an unquoted comma?)`, extra.text, `${table.headerLength} cells, as in the header; quote a value that holds a comma`);
  return false;
}

/** Split text into lines with their 1-based numbers (for JSONL), `\r\n` or `\n`, BOM skipped. */
export function textLines(text: string): Array<{ line: number; text: string }> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return body.split('\n').map((t, i) => ({ line: i + 1, text: t.endsWith('\r') ? t.slice(0, -1) : t }));
}

/** 1-based column of a JSON key's value in a line (of the key when the value cannot be found; 1 when neither). */
export function jsonCol(lineText: string, key: string): number {
  const k = lineText.indexOf(JSON.stringify(key));
  if (k === -1) return 1;
  const m = /^\s*:\s*/.exec(lineText.slice(k + JSON.stringify(key).length));
  return m ? k + JSON.stringify(key).length + m[0].length + 1 : k + 1;
}

/** Parse one JSONL line as an object; a bad-row issue and undefined when it is not one. */
export function jsonObject(line: number, text: string, problems: TraceProblems, allowed: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec((err as Error).message);
    const col = pos ? Number(pos[1]) + 1 : 1;
    problems.row(line, col, '', `not valid JSON: ${(err as Error).message}`, text.length > 80 ? text.slice(0, 77) + '...' : text, allowed);
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    problems.row(line, 1, '', `expected a JSON object, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`, text.length > 80 ? text.slice(0, 77) + '...' : text, allowed);
    return undefined;
  }
  return v as Record<string, unknown>;
}

/** A JSON value shown in a message. */
export function shown(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}
