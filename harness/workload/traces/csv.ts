/**
 * A CSV parser for trace files (RFC 4180 plus the usual real-world details): fields separated by
 * commas; a field may be quoted with `"`, and a quoted field may hold commas, line breaks and
 * doubled quotes (`""` is one `"`); records end in `\n` or `\r\n` (a lone `\r` too); a UTF-8
 * byte-order mark at the start is skipped; blank lines are skipped.
 *
 * Every record and every cell keeps its 1-based line and column in the file, so a bad value can
 * be reported exactly where it is (a record that spans lines starts on its first line). Malformed
 * quoting (text after a closing quote, a quote never closed) comes back as a problem on that
 * record, which is then left out.
 */

export interface CsvCell {
  text: string;
  /** 1-based line and column of the cell's first character (its opening quote when quoted). */
  line: number;
  col: number;
}

export interface CsvRecord {
  /** 1-based line the record starts on. */
  line: number;
  cells: CsvCell[];
}

export interface CsvProblem {
  line: number;
  col: number;
  message: string;
}

export interface CsvParse {
  records: CsvRecord[];
  problems: CsvProblem[];
}

/** Parse CSV text into records of positioned cells. */
export function parseCsv(text: string): CsvParse {
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i; // offset of the current line's first character
  const n = text.length;

  while (i < n) {
    // One record.
    const recLine = line;
    const cells: CsvCell[] = [];
    let bad: CsvProblem | undefined;
    // A line holding only `""` is a record with one empty cell; an empty line is no record.
    const firstQuoted = text[i] === '"';
    for (;;) {
      const cellLine = line;
      const cellCol = i - lineStart + 1;
      let value = '';
      if (text[i] === '"') {
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
            value += c;
            i++;
            line++;
            lineStart = i;
            continue;
          }
          if (c === '\r') {
            value += '\r\n';
            i += 2;
            line++;
            lineStart = i;
            continue;
          }
          value += c;
          i++;
        }
        if (!closed) {
          bad ??= { line: cellLine, col: cellCol, message: 'a quoted field is never closed (a `"` is missing)' };
        } else if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          bad ??= { line, col: i - lineStart + 1, message: `text after a closing quote (write a quote inside a quoted field as "")` };
          while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
        value = text.slice(start, i);
      }
      cells.push({ text: value, line: cellLine, col: cellCol });
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // End of record: a line break or the end of the text.
    if (i < n) {
      if (text[i] === '\r' && text[i + 1] === '\n') i += 2;
      else i++;
      line++;
      lineStart = i;
    }
    const blank = cells.length === 1 && !firstQuoted && cells[0]!.text.trim() === '';
    if (bad) problems.push(bad);
    else if (!blank) records.push({ line: recLine, cells });
  }
  return { records, problems };
}
