/**
 * Mooncake traces (kvcache-ai/Mooncake, FAST'25): JSON Lines, one request per line,
 * `{"timestamp": ms from the trace's start, "input_length": n, "output_length": n, "hash_ids": [...]}`.
 * Each hash id stands for one block of `blockTokens` (512) prompt tokens with a rolling prefix
 * hash: requests whose hash_ids start alike share that many blocks of prompt, token for token.
 *
 * A row whose hash_ids do not fit its input length (`len != ceil(input_length / blockTokens)`)
 * is kept with its input length and reported as a warning with its line: never silently fixed.
 */

import { countFromJson, jsonCol, jsonObject, shown, textLines, type ParsedTrace, type RawRow, type TraceProblems } from './rows.ts';

const ROW_ALLOWED = '{"timestamp": ms >= 0, "input_length": integer >= 0, "output_length": integer >= 0, "hash_ids": [integers >= 0]}';

export function readMooncake(text: string, problems: TraceProblems, blockTokens: number): ParsedTrace {
  const rows: RawRow[] = [];
  const warnings: ParsedTrace['warnings'] = [];
  let rowsRead = 0;
  for (const { line, text: lt } of textLines(text)) {
    if (lt.trim() === '') continue;
    rowsRead++;
    const o = jsonObject(line, lt, problems, ROW_ALLOWED);
    if (!o) continue;
    let ok = true;
    const bad = (key: string, why: string, allowed: string): void => {
      problems.row(line, o[key] === undefined ? 1 : jsonCol(lt, key), key, o[key] === undefined ? `${key} is missing` : `${key} ${shown(o[key])} ${why}`, o[key], allowed);
      ok = false;
    };
    const ts = o.timestamp;
    if (ts === undefined) bad('timestamp', 'is missing', 'ms from the start of the trace, a number >= 0');
    else if (typeof ts !== 'number' || !Number.isFinite(ts)) bad('timestamp', 'is not a number', 'ms from the start of the trace, a number >= 0');
    else if (ts < 0) bad('timestamp', 'is negative', 'ms from the start of the trace, a number >= 0');
    const input = countFromJson(o.input_length);
    if (typeof input === 'string') bad('input_length', input, 'input tokens, an integer >= 0');
    const output = countFromJson(o.output_length);
    if (typeof output === 'string') bad('output_length', output, 'output tokens, an integer >= 0');
    const ids = o.hash_ids;
    if (ids === undefined) bad('hash_ids', 'is missing', 'a list of integers >= 0 (one per block of prompt tokens)');
    else if (!Array.isArray(ids)) bad('hash_ids', 'is not a list', 'a list of integers >= 0 (one per block of prompt tokens)');
    else {
      const wrong = ids.findIndex((v) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0);
      if (wrong >= 0) bad('hash_ids', `holds ${shown(ids[wrong])} at index ${wrong}, not an integer >= 0`, 'a list of integers >= 0 (one per block of prompt tokens)');
    }
    if (!ok) continue;
    const hashIds = ids as number[];
    const inputN = input as number;
    const expected = Math.ceil(inputN / blockTokens);
    if (hashIds.length !== expected) {
      warnings.push({
        line,
        message: `hash_ids has ${hashIds.length} block${hashIds.length === 1 ? '' : 's'} but input_length ${inputN} needs ceil(${inputN} / ${blockTokens}) = ${expected}; the row is sent with its input_length`,
      });
    }
    rows.push({ line, t: ts as number, input: inputN, output: output as number, hashIds });
  }
  return { rows, rowsRead, warnings };
}
