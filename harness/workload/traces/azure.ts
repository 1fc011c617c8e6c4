/**
 * Azure LLM inference traces (Azure/AzurePublicDataset; 2023 "Splitwise" and 2024 week-long
 * releases): CSV `TIMESTAMP,ContextTokens,GeneratedTokens`, CRLF line endings, TIMESTAMP an
 * absolute datetime with 7 fractional digits (100 ns), no zone (read as UTC). Times are kept to
 * the full precision: each TIMESTAMP is parsed into whole seconds plus nanoseconds (integers), and
 * differences are taken in that form (inference-perf rounds these to 10 ms; a double holding epoch
 * milliseconds could not keep 100 ns either).
 */

import { cellOf, checkWidth, COUNT_ALLOWED, instantDiffMs, parseCount, parseDatetime, readCsvTable, type Instant, type ParsedTrace, type RawRow, type TraceProblems } from './rows.ts';

const COLS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;
const TIME_ALLOWED = 'a datetime YYYY-MM-DD HH:MM:SS.fffffff (up to 9 fractional digits, optional Z or +HH:MM)';

export function readAzure(text: string, problems: TraceProblems): ParsedTrace {
  const table = readCsvTable(text, problems, COLS);
  if (!table) return { rows: [], rowsRead: 0, warnings: [] };
  const rows: RawRow[] = [];
  let ref: Instant | undefined;
  for (const rec of table.records) {
    if (!checkWidth(table, rec, problems)) continue;
    const tc = cellOf(table, rec, 'TIMESTAMP', problems, TIME_ALLOWED);
    const ic = cellOf(table, rec, 'ContextTokens', problems, COUNT_ALLOWED);
    const oc = cellOf(table, rec, 'GeneratedTokens', problems, COUNT_ALLOWED);
    if (!tc || !ic || !oc) continue;
    let ok = true;
    const when = parseDatetime(tc.text);
    if (typeof when === 'string') {
      problems.row(rec.line, tc.col, 'TIMESTAMP', `${JSON.stringify(tc.text)} ${when}`, tc.text, TIME_ALLOWED);
      ok = false;
    }
    const input = parseCount(ic.text);
    if (typeof input === 'string') {
      problems.row(rec.line, ic.col, 'ContextTokens', `${JSON.stringify(ic.text)} ${input}`, ic.text, COUNT_ALLOWED);
      ok = false;
    }
    const output = parseCount(oc.text);
    if (typeof output === 'string') {
      problems.row(rec.line, oc.col, 'GeneratedTokens', `${JSON.stringify(oc.text)} ${output}`, oc.text, COUNT_ALLOWED);
      ok = false;
    }
    if (!ok) continue;
    const at = when as Instant;
    ref ??= at;
    rows.push({ line: rec.line, t: instantDiffMs(ref, at), input: input as number, output: output as number });
  }
  return { rows, rowsRead: table.records.length, warnings: [] };
}
