/**
 * Empirical length files: token counts measured from real traffic, read once at load time.
 *
 * Formats, by extension:
 * - `.csv`: a header row, then rows; the values are the cells of the named column.
 * - `.json`: an array of integers.
 * - anything else: plain text, one integer per line; blank lines and `#` comments skipped.
 *
 * Values are non-negative integers (sampling clamps them to the distribution's [min, max]).
 * Problems come back as data, with the data file's own line and column, for the caller to turn
 * into issues; at most MAX_BAD_ROWS bad rows are listed.
 */

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isSeq, LineCounter, parseDocument } from 'yaml';
import { nearest } from '../util/did-you-mean.ts';
import { whyUnreadable } from '../util/file-errors.ts';

/** Bad rows listed per file before the rest are summarised in one last problem. */
export const MAX_BAD_ROWS = 10;

export type EmpiricalProblem =
  /** The file as a whole: missing, unreadable, malformed, empty. */
  | { kind: 'file'; message: string }
  /** The CSV has no column of that name. */
  | { kind: 'column'; message: string; allowed: string }
  /** One bad value, at a 1-based line and column of the data file. */
  | { kind: 'value'; line: number; col: number; text: string; message: string };

export interface EmpiricalData {
  values: number[];
  problems: EmpiricalProblem[];
}

/** Read the values of an empirical length file. `column` is required for CSV files. */
export function readEmpiricalFile(path: string, column: string | undefined): EmpiricalData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = whyUnreadable(err);
    return { values: [], problems: [{ kind: 'file', message: `empirical file "${path}" ${why}` }] };
  }
  const ext = extname(path).toLowerCase();
  const data = ext === '.csv' ? readCsv(text, column) : ext === '.json' ? readJson(text) : readLines(text);
  if (data.values.length === 0 && data.problems.length === 0) {
    data.problems.push({ kind: 'file', message: `empirical file "${path}" holds no values` });
  }
  return data;
}

/** True when a file of this name needs a `column` (CSV). */
export function needsColumn(path: string): boolean {
  return extname(path).toLowerCase() === '.csv';
}

const INTEGER = /^\d+$/;

class BadRows {
  readonly problems: EmpiricalProblem[] = [];
  private count = 0;
  add(line: number, col: number, text: string, why: string): void {
    this.count++;
    if (this.count <= MAX_BAD_ROWS) {
      this.problems.push({ kind: 'value', line, col, text, message: `${JSON.stringify(text)} ${why}` });
    } else if (this.count === MAX_BAD_ROWS + 1) {
      this.problems.push({ kind: 'value', line, col, text, message: `${JSON.stringify(text)} ${why} (further bad rows are not listed)` });
    }
  }
}

const NOT_A_COUNT = 'is not a token count (a non-negative integer)';

function readLines(text: string): EmpiricalData {
  const values: number[] = [];
  const bad = new BadRows();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (INTEGER.test(t) && Number.isSafeInteger(Number(t))) values.push(Number(t));
    else bad.add(i + 1, raw.indexOf(t) + 1, t, NOT_A_COUNT);
  }
  return { values, problems: bad.problems };
}

function readCsv(text: string, column: string | undefined): EmpiricalData {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt === -1) return { values: [], problems: [] };
  const header = splitCsvLine(lines[headerAt]!).map((c) => c.text.trim());
  if (column === undefined) return { values: [], problems: [] };
  const idx = header.indexOf(column);
  if (idx === -1) {
    const hint = nearest(column, header);
    return {
      values: [],
      problems: [{ kind: 'column', message: `the CSV has no column "${column}"${hint ? ` (did you mean "${hint}"?)` : ''}`, allowed: header.join(', ') }],
    };
  }
  const values: number[] = [];
  const bad = new BadRows();
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cell = splitCsvLine(line)[idx];
    if (!cell) {
      bad.add(i + 1, line.length + 1, '', `is missing: the row has no column "${column}"`);
      continue;
    }
    const t = cell.text.trim();
    if (INTEGER.test(t) && Number.isSafeInteger(Number(t))) values.push(Number(t));
    else bad.add(i + 1, cell.col, t, NOT_A_COUNT);
  }
  return { values, problems: bad.problems };
}

/** Cells of one CSV line (RFC 4180 quoting, on one line), each with its 1-based column. */
function splitCsvLine(line: string): { text: string; col: number }[] {
  const cells: { text: string; col: number }[] = [];
  let i = 0;
  for (;;) {
    const col = i + 1;
    let text = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            text += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += line[i++];
      }
      while (i < line.length && line[i] !== ',') i++;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma === -1 ? line.length : comma;
      text = line.slice(i, end);
      i = end;
    }
    cells.push({ text, col });
    if (i >= line.length) return cells;
    i++; // the comma
  }
}

function readJson(text: string): EmpiricalData {
  try {
    JSON.parse(text);
  } catch (err) {
    return { values: [], problems: [{ kind: 'file', message: `empirical file is not valid JSON: ${(err as Error).message}` }] };
  }
  // JSON is YAML, and the YAML parser keeps positions, so bad elements can be located.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (!isSeq(doc.contents)) {
    return { values: [], problems: [{ kind: 'file', message: 'empirical JSON file must hold an array of integers' }] };
  }
  const values: number[] = [];
  const bad = new BadRows();
  for (const item of doc.contents.items) {
    const v = (item as { toJSON?: () => unknown }).toJSON?.();
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      values.push(v);
      continue;
    }
    const range = (item as { range?: [number, number, number] }).range;
    const pos = range ? lineCounter.linePos(range[0]) : { line: 0, col: 0 };
    const shown = range ? text.slice(range[0], range[1]) : JSON.stringify(v);
    bad.add(pos.line, pos.col, shown, NOT_A_COUNT);
  }
  return { values, problems: bad.problems };
}
