/**
 * A parser for the Prometheus text exposition format (version 0.0.4, the format of every
 * /metrics the harness samples: the gateway, vLLM or the simulated workers, dcgm-exporter), that
 * also reads the OpenMetrics text subset those exporters emit (`# EOF`, `_created`, `# UNIT`).
 *
 *   # HELP name help text (escapes \\ and \n)
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   name{label="value",other="with \"escapes\"\n"} 1.5e3 1700000000000
 *
 * Samples are grouped into metric families: a histogram family `x` holds `x_bucket`, `x_sum` and
 * `x_count`; a summary `x` holds `x`, `x_sum`, `x_count`; a counter family `x` (OpenMetrics) holds
 * `x_total` and `x_created`. Values are floats, with `NaN`, `+Inf`, `-Inf` (any case); the
 * timestamp (integer ms) is optional. A line that cannot be read is reported in `errors` with its
 * line number and skipped: one bad line never hides the rest of a scrape.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'gaugehistogram' | 'info' | 'stateset' | 'unknown';

export interface PromSample {
  /** The sample's own name (`x_bucket` in histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carries one. */
  timestampMs?: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help: string | undefined;
  samples: PromSample[];
}

export interface PromParseError {
  line: number;
  message: string;
}

export interface PromParseResult {
  families: Map<string, PromFamily>;
  errors: PromParseError[];
}

export interface PromParseOptions {
  /**
   * Keep only these families (by family name; a sample is kept when its family is listed). The
   * lines of other families are still checked for their name, not parsed further: cheap on the
   * large /metrics of a vLLM worker when only a few gauges are wanted.
   */
  only?: ReadonlySet<string>;
}

const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'gaugehistogram', 'info', 'stateset', 'unknown']);

/** Suffixes a sample may add to its family's name, by family type. */
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
  info: ['_info'],
};

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58; // A-Z a-z _ :
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}
function isLabelStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isLabelChar(c: number): boolean {
  return isLabelStart(c) || (c >= 48 && c <= 57);
}
function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** A float as Prometheus writes it: decimal or exponent notation, NaN, +Inf, -Inf (any case). */
export function parsePromValue(s: string): number | undefined {
  const lower = s.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && !/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isNaN(n) ? undefined : n;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

export function parsePromText(text: string, options: PromParseOptions = {}): PromParseResult {
  const families = new Map<string, PromFamily>();
  const errors: PromParseError[] = [];
  const only = options.only;
  const familyOf = (name: string): PromFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  /** The family a sample name belongs to: its own, or a typed family it is a suffix of. */
  const resolve = (sample: string): string => {
    const own = families.get(sample);
    if (own && (own.type === 'untyped' || own.type === 'gauge' || own.type === 'summary' || own.type === 'unknown' || own.type === 'counter' || own.type === 'stateset')) return sample;
    for (const [type, suffixes] of Object.entries(SUFFIXES)) {
      for (const sfx of suffixes) {
        if (!sample.endsWith(sfx)) continue;
        const base = sample.slice(0, -sfx.length);
        const f = families.get(base);
        if (f && f.type === type) return base;
      }
    }
    return sample;
  };

  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') {
      if (end === text.length) break;
      continue;
    }
    if (line[0] === '#') {
      const m = /^#[ \t]+(HELP|TYPE|UNIT)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:[ \t]+(.*))?$/.exec(line);
      if (m) {
        const name = m[2]!;
        if (only && !only.has(name)) continue;
        if (m[1] === 'HELP') {
          familyOf(name).help = unescapeHelp(m[3] ?? '');
        } else if (m[1] === 'TYPE') {
          const t = (m[3] ?? '').trim().toLowerCase();
          if (!TYPES.has(t)) {
            errors.push({ line: lineNo, message: `unknown metric type "${m[3] ?? ''}" for ${name}` });
            continue;
          }
          const f = familyOf(name);
          if (f.samples.length > 0 && f.type !== t) {
            errors.push({ line: lineNo, message: `TYPE for ${name} after its samples` });
            continue;
          }
          f.type = t as PromType;
        }
      }
      // Any other comment (and `# EOF`) is ignored.
      continue;
    }
    if (only && !wanted(only, line)) continue;
    const parsed = parseSampleLine(line);
    if (typeof parsed === 'string') {
      errors.push({ line: lineNo, message: `${parsed}: ${line.length > 200 ? line.slice(0, 200) + '...' : line}` });
      continue;
    }
    familyOf(resolve(parsed.name)).samples.push(parsed);
  }
  return { families, errors };
}

const ALL_SUFFIXES = [...new Set(Object.values(SUFFIXES).flat())];

/** Whether a sample line's metric name, or the family it may belong to, is in `only`. */
function wanted(only: ReadonlySet<string>, line: string): boolean {
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  const s = i;
  while (i < line.length && isNameChar(line.charCodeAt(i))) i++;
  const name = line.slice(s, i);
  if (name === '' || only.has(name)) return true; // an empty name: let the parser report it
  for (const sfx of ALL_SUFFIXES) if (name.endsWith(sfx) && only.has(name.slice(0, -sfx.length))) return true;
  return false;
}

/** One sample line, or an error message. */
function parseSampleLine(line: string): PromSample | string {
  let i = 0;
  const n = line.length;
  while (i < n && isBlank(line.charCodeAt(i))) i++;
  const nameStart = i;
  if (i >= n || !isNameStart(line.charCodeAt(i))) return 'a sample must start with a metric name';
  while (i < n && isNameChar(line.charCodeAt(i))) i++;
  const name = line.slice(nameStart, i);
  const labels: Record<string, string> = {};
  while (i < n && isBlank(line.charCodeAt(i))) i++;
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (i < n && isBlank(line.charCodeAt(i))) i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (i >= n || !isLabelStart(line.charCodeAt(i))) return 'bad label name';
      while (i < n && isLabelChar(line.charCodeAt(i))) i++;
      const label = line.slice(ls, i);
      while (i < n && isBlank(line.charCodeAt(i))) i++;
      if (line[i] !== '=') return `expected = after label ${label}`;
      i++;
      while (i < n && isBlank(line.charCodeAt(i))) i++;
      if (line[i] !== '"') return `expected " to open the value of label ${label}`;
      i++;
      let v = '';
      let closed = false;
      while (i < n) {
        const c = line[i++]!;
        if (c === '"') {
          closed = true;
          break;
        }
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') v += '\n';
          else if (e === '\\') v += '\\';
          else if (e === '"') v += '"';
          else if (e === undefined) return `unterminated value of label ${label}`;
          else v += '\\' + e; // unknown escape: kept as written, as Prometheus does
        } else v += c;
      }
      if (!closed) return `unterminated value of label ${label}`;
      if (Object.prototype.hasOwnProperty.call(labels, label)) return `label ${label} given twice`;
      labels[label] = v;
      while (i < n && isBlank(line.charCodeAt(i))) i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      return `expected , or } after label ${label}`;
    }
  }
  const rest = line.slice(i).trim();
  if (rest === '') return 'no value';
  const parts = rest.split(/[ \t]+/);
  if (parts.length > 2) return 'trailing text after the timestamp';
  const value = parsePromValue(parts[0]!);
  if (value === undefined) return `bad value "${parts[0]}"`;
  const sample: PromSample = { name, labels, value };
  if (parts.length === 2) {
    const ts = parts[1]!;
    if (!/^-?\d+(\.\d+)?$/.test(ts)) return `bad timestamp "${ts}"`;
    sample.timestampMs = Number(ts);
  }
  return sample;
}

/** The values of the samples named `name` in `fams` (its family found by `family`, default the name). */
export function valuesOf(fams: ReadonlyMap<string, PromFamily>, name: string, family = name): PromSample[] {
  const f = fams.get(family);
  return f ? f.samples.filter((s) => s.name === name) : [];
}

/** A stable key for a label set (sorted), to match the same series across scrapes. */
export function seriesKey(labels: Readonly<Record<string, string>>, drop?: string): string {
  return Object.keys(labels)
    .filter((k) => k !== drop)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

export interface HistogramSeries {
  labels: Record<string, string>;
  /** Cumulative buckets by upper bound (`le`), ascending; the last is +Inf when exported. */
  buckets: Array<{ le: number; count: number }>;
  sum: number | undefined;
  count: number | undefined;
}

/** The series of a histogram family, grouped by their labels without `le`. */
export function histogramSeries(f: PromFamily): HistogramSeries[] {
  const by = new Map<string, HistogramSeries>();
  const get = (labels: Record<string, string>) => {
    const key = seriesKey(labels, 'le');
    let h = by.get(key);
    if (!h) {
      const own = { ...labels };
      delete own.le;
      h = { labels: own, buckets: [], sum: undefined, count: undefined };
      by.set(key, h);
    }
    return h;
  };
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket`) {
      const le = parsePromValue(s.labels.le ?? '');
      if (le !== undefined) get(s.labels).buckets.push({ le, count: s.value });
    } else if (s.name === `${f.name}_sum`) get(s.labels).sum = s.value;
    else if (s.name === `${f.name}_count`) get(s.labels).count = s.value;
  }
  for (const h of by.values()) h.buckets.sort((a, b) => a.le - b.le);
  return [...by.values()];
}

export interface SummarySeries {
  labels: Record<string, string>;
  quantiles: Array<{ quantile: number; value: number }>;
  sum: number | undefined;
  count: number | undefined;
}

/** The series of a summary family, grouped by their labels without `quantile`. */
export function summarySeries(f: PromFamily): SummarySeries[] {
  const by = new Map<string, SummarySeries>();
  const get = (labels: Record<string, string>) => {
    const key = seriesKey(labels, 'quantile');
    let h = by.get(key);
    if (!h) {
      const own = { ...labels };
      delete own.quantile;
      h = { labels: own, quantiles: [], sum: undefined, count: undefined };
      by.set(key, h);
    }
    return h;
  };
  for (const s of f.samples) {
    if (s.name === f.name) {
      const q = parsePromValue(s.labels.quantile ?? '');
      if (q !== undefined) get(s.labels).quantiles.push({ quantile: q, value: s.value });
    } else if (s.name === `${f.name}_sum`) get(s.labels).sum = s.value;
    else if (s.name === `${f.name}_count`) get(s.labels).count = s.value;
  }
  for (const h of by.values()) h.quantiles.sort((a, b) => a.quantile - b.quantile);
  return [...by.values()];
}
