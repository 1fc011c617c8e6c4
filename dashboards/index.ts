/**
 * The Floodgate Grafana dashboards, built as code with @grafana/grafana-foundation-sdk, and
 * helpers to read their queries back (for tests that check metric names or run every panel
 * query against a real Prometheus).
 */
import { gpu } from './src/gpu.ts';
import { harnessRun } from './src/harness-run.ts';
import { servingOverview } from './src/serving-overview.ts';
import { tenantsCost } from './src/tenants-cost.ts';
import { workers } from './src/workers.ts';

export { DATASOURCE, DATASOURCE_VARIABLE } from './src/common.ts';

export interface GeneratedDashboard {
  /** File stem: the dashboard is written to dashboards/<name>.json. */
  name: string;
  json: object;
}

const BUILDERS: ReadonlyArray<readonly [string, () => object]> = [
  ['serving-overview', servingOverview],
  ['workers', workers],
  ['gpu', gpu],
  ['tenants-cost', tenantsCost],
  ['harness-run', harnessRun],
];

/** Every dashboard, freshly built (a new object on every call). */
export function allDashboards(): GeneratedDashboard[] {
  return BUILDERS.map(([name, build]) => ({ name, json: build() }));
}

/** The exact text written to dashboards/<name>.json: 2-space JSON and a trailing newline. */
export function renderDashboard(json: object): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}

interface JsonPanel {
  type?: string;
  title?: string;
  datasource?: unknown;
  targets?: Array<{ refId?: string; expr?: string; instant?: boolean; datasource?: unknown }>;
  panels?: JsonPanel[];
}

/** Every panel of a dashboard model, rows' nested panels included, rows themselves excluded. */
export function panels(json: object): JsonPanel[] {
  const out: JsonPanel[] = [];
  const walk = (list: JsonPanel[] | undefined) => {
    for (const p of list ?? []) {
      if (p.type === 'row') walk(p.panels);
      else out.push(p);
    }
  };
  walk((json as { panels?: JsonPanel[] }).panels);
  return out;
}

export interface PanelQuery {
  /** Title of the panel the query belongs to. */
  panel: string;
  refId: string;
  /** The PromQL expression, with Grafana variables not substituted. */
  expr: string;
  /** True for instant queries (stat, gauge, table panels). */
  instant: boolean;
}

/** Every Prometheus expression of every panel, with its panel title, in panel order. */
export function panelQueries(json: object): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const p of panels(json)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== 'string') continue;
      out.push({ panel: p.title ?? '', refId: t.refId ?? '', expr: t.expr, instant: t.instant === true });
    }
  }
  return out;
}

/** Names and queries of the dashboard's variables (`label_values(...)` for query variables). */
export function dashboardVariables(json: object): Array<{ name: string; type: string; query: string }> {
  const list = (json as { templating?: { list?: Array<{ name: string; type: string; query?: unknown }> } }).templating?.list ?? [];
  return list.map((v) => ({ name: v.name, type: v.type, query: typeof v.query === 'string' ? v.query : JSON.stringify(v.query ?? '') }));
}

/** Grafana's variable syntaxes: $name, ${name}, ${name:format}, [[name]], [[name:format]]. */
const VARIABLE_RE = /\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]/g;

/** Names of the variables an expression references (built-ins such as __rate_interval included). */
export function referencedVariables(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(VARIABLE_RE)) names.add((m[1] ?? m[2] ?? m[3]) as string);
  return [...names].sort();
}

/** Durations for Grafana's built-in interval variables. */
export interface BuiltinDurations {
  /** $__rate_interval (default 1m). */
  rateInterval?: string;
  /** $__interval (default 15s). */
  interval?: string;
  /** $__range (default 15m, the dashboards' default time range). */
  range?: string;
}

/**
 * Replace Grafana variables in a PromQL expression: `$var`, `${var}`, `${var:format}`,
 * `[[var]]` by `values[var]`, and `$__rate_interval`, `$__interval`, `$__range` by the given
 * durations. For an "All" selection pass the regex the dashboards use as allValue (`.*`), or `.+`.
 * A variable that is neither in `values` nor a built-in is left as it is (see referencedVariables).
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, string>>, durations: BuiltinDurations = {}): string {
  const builtins: Record<string, string> = {
    __rate_interval: durations.rateInterval ?? '1m',
    __interval: durations.interval ?? '15s',
    __range: durations.range ?? '15m',
  };
  return expr.replace(VARIABLE_RE, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    if (Object.hasOwn(values, name)) return values[name] as string;
    if (Object.hasOwn(builtins, name)) return builtins[name] as string;
    return whole;
  });
}

const PROMQL_KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan',
]);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * Metric names a PromQL expression selects (vector selectors, Grafana variables allowed). A small
 * tokenizer, enough for the dashboards' queries: string literals, label matchers `{...}`, ranges
 * `[...]`, label lists after by/without/on/ignoring/group_left/group_right, numbers, durations,
 * `$variables`, keywords and function names (an identifier followed by `(`) are skipped.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let i = 0;
  const n = expr.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(expr[i] as string)) i++;
  };
  const skipBalanced = (open: string, close: string) => {
    // expr[i] === open
    let depth = 0;
    while (i < n) {
      const c = expr[i] as string;
      if (c === '"' || c === "'" || c === '`') {
        skipString();
        continue;
      }
      if (c === open) depth++;
      else if (c === close) {
        depth--;
        if (depth === 0) {
          i++;
          return;
        }
      }
      i++;
    }
    throw new Error(`unbalanced ${open}${close} in ${expr}`);
  };
  const skipString = () => {
    const q = expr[i];
    i++;
    while (i < n && expr[i] !== q) {
      if (expr[i] === '\\' && q !== '`') i++;
      i++;
    }
    if (i >= n) throw new Error(`unterminated string in ${expr}`);
    i++;
  };
  while (i < n) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      skipString();
    } else if (c === '{') {
      skipBalanced('{', '}');
    } else if (c === '[') {
      skipBalanced('[', ']');
    } else if (c === '$') {
      const m = /^\$(\{[^}]*\}|\w+)/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?[a-zA-Z0-9_]*)/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i)) as RegExpExecArray;
      const word = m[0];
      i += word.length;
      skipSpace();
      const next = expr[i];
      if (LABEL_LIST_KEYWORDS.has(word.toLowerCase())) {
        if (next === '(') skipBalanced('(', ')');
      } else if (PROMQL_KEYWORDS.has(word.toLowerCase())) {
        // operator or literal
      } else if (next === '(' || /^(by|without)\s*\(/i.test(expr.slice(i))) {
        // function, or aggregation (`sum by (x) (...)`): its arguments are scanned on
      } else {
        names.add(word);
      }
    } else {
      i++;
    }
  }
  return [...names].sort();
}
