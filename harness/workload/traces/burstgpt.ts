/**
 * BurstGPT traces (HPMLL/BurstGPT, KDD'25): CSV with a header, columns read **by name** (later
 * releases insert `Session ID` and `Elapsed time` after `Timestamp`): `Timestamp` (seconds since
 * midnight of the trace's first day; integers, or floats like `19440110.0`), `Model` (`ChatGPT`,
 * `GPT-4`), `Request tokens`, `Response tokens`, `Total tokens`, `Log Type`, optional
 * `Session ID`. Rows with `Response tokens` 0 are failed requests (see TraceConfig.failedRows).
 */

import { cellOf, checkWidth, COUNT_ALLOWED, parseCount, parseNumber, readCsvTable, type ParsedTrace, type RawRow, type TraceProblems } from './rows.ts';

const REQUIRED = ['Timestamp', 'Model', 'Request tokens', 'Response tokens'] as const;
const TIME_ALLOWED = 'seconds since the trace\'s first midnight, a number >= 0';

export function readBurstGpt(text: string, problems: TraceProblems): ParsedTrace {
  const table = readCsvTable(text, problems, REQUIRED, ['Session ID']);
  if (!table) return { rows: [], rowsRead: 0, warnings: [] };
  const rows: RawRow[] = [];
  for (const rec of table.records) {
    if (!checkWidth(table, rec, problems)) continue;
    const tc = cellOf(table, rec, 'Timestamp', problems, TIME_ALLOWED);
    const mc = cellOf(table, rec, 'Model', problems, 'a model name');
    const ic = cellOf(table, rec, 'Request tokens', problems, COUNT_ALLOWED);
    const oc = cellOf(table, rec, 'Response tokens', problems, COUNT_ALLOWED);
    if (!tc || !mc || !ic || !oc) continue;
    let ok = true;
    const t = parseNumber(tc.text);
    if (typeof t === 'string' || t < 0) {
      problems.row(rec.line, tc.col, 'Timestamp', `${JSON.stringify(tc.text)} ${typeof t === 'string' ? t : 'is negative'}`, tc.text, TIME_ALLOWED);
      ok = false;
    }
    const model = mc.text.trim();
    if (model === '') {
      problems.row(rec.line, mc.col, 'Model', 'the model is empty', mc.text, 'a model name, e.g. ChatGPT or GPT-4');
      ok = false;
    }
    const input = parseCount(ic.text);
    if (typeof input === 'string') {
      problems.row(rec.line, ic.col, 'Request tokens', `${JSON.stringify(ic.text)} ${input}`, ic.text, COUNT_ALLOWED);
      ok = false;
    }
    const output = parseCount(oc.text);
    if (typeof output === 'string') {
      problems.row(rec.line, oc.col, 'Response tokens', `${JSON.stringify(oc.text)} ${output}`, oc.text, COUNT_ALLOWED);
      ok = false;
    }
    if (!ok) continue;
    const row: RawRow = { line: rec.line, t: (t as number) * 1000, input: input as number, output: output as number, model, modelCol: mc.col };
    const si = table.index.get('Session ID');
    const session = si === undefined ? '' : (rec.cells[si]?.text.trim() ?? '');
    if (session !== '') row.session = session;
    rows.push(row);
  }
  return { rows, rowsRead: table.records.length, warnings: [] };
}
