/**
 * Typed reading of a parsed YAML document that records every problem as a positioned
 * ConfigIssue instead of throwing, so a validator can report all problems in one pass.
 *
 * Owns: where a node is (file:line:col, or `<command line>` for overridden values), how values
 * are described in messages, the "loose" scalars whose type comes from text decided at load time
 * (environment interpolation, command-line overrides), and the per-type readers (string, number,
 * boolean, enum, duration, map, list) with their range checks.
 *
 * Readers return `undefined` both when a value is absent and when it is invalid (an issue is then
 * recorded); callers apply defaults and skip cross-field checks on undefined, so one bad value
 * yields one issue rather than a cascade.
 */

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import { parseDuration, formatDuration } from '../util/duration.ts';
import { nearest } from '../util/did-you-mean.ts';

/** File name given to issues in values set by `overrides` (the command line). */
export const COMMAND_LINE = '<command line>';

/** A position in a file. line/col are 1-based; 0 when there is no position. */
export interface Where {
  file: string;
  line: number;
  col: number;
}

/** Extra fields of an issue besides its code, position, path and message. */
export interface IssueExtra {
  value?: unknown;
  allowed?: string;
}

export interface NumberRule {
  integer?: boolean;
  /** Lower bound, inclusive unless `minExclusive`. */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  /** Accept `.inf` (YAML's infinity) besides finite numbers. */
  allowInfinity?: boolean;
}

export interface DurationRule {
  /** Refuse 0. */
  positive?: boolean;
}

/** `a.b` / `a[0]`: the dotted path of a child field. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/**
 * The issue collector and the node-level readers. One per document being validated.
 */
export class NodeReader {
  readonly issues: ConfigIssue[] = [];
  readonly file: string;
  private readonly lineCounter: LineCounter;
  private readonly doc: Document;
  private readonly fromCommandLine = new WeakSet<object>();
  private readonly looseText = new WeakMap<object, string>();

  constructor(file: string, lineCounter: LineCounter, doc: Document) {
    this.file = file;
    this.lineCounter = lineCounter;
    this.doc = doc;
  }

  /** Mark a node and everything below it as set from the command line (position 0:0). */
  markCommandLine(node: unknown): void {
    if (node === null || typeof node !== 'object') return;
    this.fromCommandLine.add(node);
    if (isMap(node)) {
      for (const p of node.items) {
        this.markCommandLine(p.key);
        this.markCommandLine(p.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) this.markCommandLine(item);
    }
  }

  /**
   * Give a scalar a value decided from text at load time. Its value becomes what an unquoted YAML
   * scalar with that text would be (number, boolean, null for ''), and readers that want a
   * string still get the text as written: `${PORT}` -> 8080 for a number field, "8080" for a string.
   */
  setLoose(scalar: Scalar, text: string, value: unknown = resolvePlainText(text)): void {
    scalar.value = value;
    this.looseText.set(scalar, text);
  }

  /** Where a node is; the command line for overridden values; the file's start when unknown. */
  where(node: unknown): Where {
    if (node !== null && typeof node === 'object') {
      if (this.fromCommandLine.has(node)) return { file: COMMAND_LINE, line: 0, col: 0 };
      const range = (node as { range?: [number, number, number] | null }).range;
      if (range) {
        const { line, col } = this.lineCounter.linePos(range[0]);
        return { file: this.file, line, col };
      }
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** Source offset of a node, for "which came later" decisions; command-line values come last. */
  offset(node: unknown): number {
    if (node === null || typeof node !== 'object' || this.fromCommandLine.has(node)) return Infinity;
    const range = (node as { range?: [number, number, number] | null }).range;
    return range ? range[0] : Infinity;
  }

  /** Record one issue at a node (or an explicit position). */
  report(code: string, at: unknown, path: string, message: string, extra: IssueExtra = {}): void {
    const w = isWhere(at) ? at : this.where(at);
    const issue: ConfigIssue = { code, file: w.file, line: w.line, col: w.col, path, message };
    if (extra.value !== undefined) issue.value = extra.value;
    if (extra.allowed !== undefined) issue.allowed = extra.allowed;
    this.issues.push(issue);
  }

  /** The node an alias points to; the node itself otherwise. */
  deref(node: unknown): Scalar | YAMLMap | YAMLSeq | undefined {
    if (isAlias(node)) return node.resolve(this.doc) ?? undefined;
    if (isScalar(node) || isMap(node) || isSeq(node)) return node;
    return undefined;
  }

  /** True when a value is absent: no node, or a null scalar (`key:` with nothing after it). */
  isEmpty(node: unknown): boolean {
    const n = this.deref(node);
    return n === undefined || (isScalar(n) && n.value === null);
  }

  /** A map, or undefined with a TYPE issue. */
  asMap(node: unknown, path: string, what = 'a map'): MapView | undefined {
    const n = this.deref(node);
    if (isMap(n)) return new MapView(this, n, path);
    this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected ${what}, got ${describe(n)}`, { value: scalarValue(n), allowed: what });
    return undefined;
  }

  /** A list, or undefined with a TYPE issue. */
  asSeq(node: unknown, path: string, what = 'a list'): YAMLSeq | undefined {
    const n = this.deref(node);
    if (isSeq(n)) return n;
    this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected ${what}, got ${describe(n)}`, { value: scalarValue(n), allowed: what });
    return undefined;
  }

  /** A string (the text as written, for loose scalars), or undefined with a TYPE issue. */
  str(node: unknown, path: string): string | undefined {
    const n = this.deref(node);
    if (isScalar(n)) {
      if (typeof n.value === 'string') return n.value;
      const loose = this.looseText.get(n);
      if (loose !== undefined) return loose;
    }
    const hint = isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'boolean')
      ? `; quote it to make it a string: "${String(n.value)}"`
      : '';
    this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected a string, got ${describe(n)}${hint}`, { value: scalarValue(n), allowed: 'a string' });
    return undefined;
  }

  /** A number within `rule`, or undefined with a TYPE or BAD_VALUE issue. */
  num(node: unknown, path: string, rule: NumberRule = {}): number | undefined {
    const n = this.deref(node);
    const allowed = describeRule(rule);
    if (!isScalar(n) || typeof n.value !== 'number') {
      this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected ${allowed}, got ${describe(n)}`, { value: scalarValue(n), allowed });
      return undefined;
    }
    const v = n.value;
    const bad = (why: string) => {
      this.report('FG_SCENARIO_BAD_VALUE', n, path, `${formatNumber(v)} ${why}; expected ${allowed}`, { value: v, allowed });
      return undefined;
    };
    if (Number.isNaN(v)) return bad('is not a number');
    if (!Number.isFinite(v) && !(rule.allowInfinity && v === Infinity)) return bad('is not finite');
    if (rule.integer && Number.isFinite(v) && !Number.isInteger(v)) return bad('is not an integer');
    if (rule.integer && Number.isFinite(v) && !Number.isSafeInteger(v)) return bad('is too large');
    if (rule.min !== undefined && (rule.minExclusive ? !(v > rule.min) : !(v >= rule.min))) return bad('is out of range');
    if (rule.max !== undefined && !(v <= rule.max)) return bad('is out of range');
    return v;
  }

  /** A boolean, or undefined with a TYPE issue. */
  bool(node: unknown, path: string): boolean | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected true or false, got ${describe(n)}`, { value: scalarValue(n), allowed: 'true, false' });
    return undefined;
  }

  /**
   * One of a fixed set of words (booleans included, for `true | false | auto` settings), or
   * undefined with a BAD_VALUE issue that suggests the nearest word.
   */
  oneOf<T extends string | boolean>(node: unknown, path: string, values: readonly T[]): T | undefined {
    const n = this.deref(node);
    const allowed = values.map(String).join(', ');
    if (isScalar(n)) {
      const v = n.value;
      const text = typeof v === 'string' ? v : this.looseText.get(n);
      for (const candidate of values) {
        // A quoted "true" still means true here: quoting does not change the intent of a switch.
        if (candidate === v || (text !== undefined && String(candidate) === text)) return candidate;
      }
      if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') {
        const hint = typeof v === 'string' ? nearest(v, values.map(String)) : undefined;
        this.report('FG_SCENARIO_BAD_VALUE', n, path, `${describe(n)} is not one of ${allowed}${hint ? ` (did you mean "${hint}"?)` : ''}`, { value: v, allowed });
        return undefined;
      }
    }
    this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected one of ${allowed}, got ${describe(n)}`, { value: scalarValue(n), allowed });
    return undefined;
  }

  /** A duration in milliseconds, or undefined with a TYPE, BAD_DURATION or BAD_VALUE issue. */
  duration(node: unknown, path: string, rule: DurationRule = {}): number | undefined {
    const n = this.deref(node);
    const allowed = durationAllowed(rule);
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number')) {
      this.report('FG_SCENARIO_TYPE', n ?? node, path, `expected ${allowed}, got ${describe(n)}`, { value: scalarValue(n), allowed });
      return undefined;
    }
    const v = n.value;
    const ms = parseDuration(v);
    if (ms === undefined) {
      const why = typeof v === 'number'
        ? `${formatNumber(v)} has no unit; write ${formatNumber(v)}s or ${formatNumber(v)}ms`
        : `${JSON.stringify(v)} is not a duration (write it like 500ms, 30s, 2m or 1h30m)`;
      this.report('FG_SCENARIO_BAD_DURATION', n, path, why, { value: v, allowed });
      return undefined;
    }
    if (rule.positive && !(ms > 0)) {
      this.report('FG_SCENARIO_BAD_VALUE', n, path, `${describe(n)} must be longer than 0`, { value: v, allowed });
      return undefined;
    }
    return ms;
  }
}

/**
 * A YAML map being read: its pairs by key, unknown-key checks and field readers that know the
 * field's path and report a missing required field at the map (or at an empty key).
 */
export class MapView {
  readonly r: NodeReader;
  readonly node: YAMLMap;
  readonly path: string;
  private readonly pairs = new Map<string, Pair>();

  constructor(r: NodeReader, node: YAMLMap, path: string) {
    this.r = r;
    this.node = node;
    this.path = path;
    for (const pair of node.items) {
      const key = r.deref(pair.key);
      if (isScalar(key) && key.value !== null && typeof key.value !== 'object') {
        this.pairs.set(String(key.value), pair);
      } else {
        r.report('FG_SCENARIO_TYPE', key ?? node, path, `a key must be a plain word, got ${describe(key)}`, { allowed: 'a string key' });
      }
    }
  }

  /** Every key present, in file order. */
  keys(): string[] {
    return [...this.pairs.keys()];
  }

  /** Report an UNKNOWN_KEY issue, at the key, for every key not in `allowed`. */
  checkKeys(allowed: readonly string[]): void {
    for (const [key, pair] of this.pairs) {
      if (allowed.includes(key)) continue;
      const hint = nearest(key, allowed);
      this.r.report(
        'FG_SCENARIO_UNKNOWN_KEY',
        pair.key,
        this.pathOf(key),
        `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        { value: key, allowed: allowed.join(', ') },
      );
    }
  }

  pathOf(key: string): string {
    return childPath(this.path, key);
  }

  /** True when the key is present with a non-empty value. */
  has(key: string): boolean {
    const pair = this.pairs.get(key);
    return pair !== undefined && !this.r.isEmpty(pair.value);
  }

  /** The key's node (for issues about the key's presence), or the map when absent. */
  keyNode(key: string): unknown {
    return this.pairs.get(key)?.key ?? this.node;
  }

  /** The value node; undefined when absent or empty. */
  get(key: string): Scalar | YAMLMap | YAMLSeq | undefined {
    const pair = this.pairs.get(key);
    if (!pair || this.r.isEmpty(pair.value)) return undefined;
    return this.r.deref(pair.value);
  }

  /** Report a missing required field: at the empty key when written, else at this map. */
  missing(key: string, message?: string, allowed?: string): void {
    const pair = this.pairs.get(key);
    const at = pair ? pair.key : this.node;
    const extra: IssueExtra = allowed === undefined ? {} : { allowed };
    this.r.report('FG_SCENARIO_MISSING_FIELD', at, this.pathOf(key), message ?? `"${key}" is required`, extra);
  }

  /** The value node of a required field, reporting it missing (expecting `allowed`) when absent. */
  need(key: string, allowed?: string): Scalar | YAMLMap | YAMLSeq | undefined {
    const node = this.get(key);
    if (node === undefined) this.missing(key, undefined, allowed);
    return node;
  }

  str(key: string, required = false): string | undefined {
    const node = required ? this.need(key, 'a string') : this.get(key);
    return node === undefined ? undefined : this.r.str(node, this.pathOf(key));
  }

  num(key: string, rule: NumberRule = {}, required = false): number | undefined {
    const node = required ? this.need(key, describeRule(rule)) : this.get(key);
    return node === undefined ? undefined : this.r.num(node, this.pathOf(key), rule);
  }

  bool(key: string): boolean | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.r.bool(node, this.pathOf(key));
  }

  oneOf<T extends string | boolean>(key: string, values: readonly T[]): T | undefined {
    const node = this.get(key);
    return node === undefined ? undefined : this.r.oneOf(node, this.pathOf(key), values);
  }

  duration(key: string, rule: DurationRule = {}, required = false): number | undefined {
    const node = required ? this.need(key, durationAllowed(rule)) : this.get(key);
    return node === undefined ? undefined : this.r.duration(node, this.pathOf(key), rule);
  }

  map(key: string, required = false): MapView | undefined {
    const node = required ? this.need(key, 'a map') : this.get(key);
    return node === undefined ? undefined : this.r.asMap(node, this.pathOf(key));
  }

  seq(key: string, required = false): YAMLSeq | undefined {
    const node = required ? this.need(key, 'a list') : this.get(key);
    return node === undefined ? undefined : this.r.asSeq(node, this.pathOf(key));
  }
}

/** How a value reads in a message: `"abc"`, `12`, `true`, `a map`, `a list`, `nothing`. */
export function describe(node: unknown): string {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'nothing';
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') return formatNumber(v);
    return String(v);
  }
  return 'nothing';
}

/** A scalar's value for ConfigIssue.value; undefined for collections. */
export function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value ?? undefined : undefined;
}

/** What a number rule allows, in words: "an integer >= 0", "a number > 0", "an integer 1 to 64". */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  const lo = rule.min;
  const hi = rule.max;
  if (lo !== undefined && hi !== undefined && !rule.minExclusive) return `${kind} from ${lo} to ${hi}`;
  const parts: string[] = [];
  if (lo !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${lo}`);
  if (hi !== undefined) parts.push(`<= ${hi}`);
  const inf = rule.allowInfinity ? ' (or .inf)' : '';
  return `${kind}${parts.length ? ' ' + parts.join(' and ') : ''}${inf}`;
}

/** What a duration rule allows, in words. */
export function durationAllowed(rule: DurationRule): string {
  return rule.positive ? 'a duration > 0 such as 500ms, 30s, 2m, 1h30m' : 'a duration such as 0, 500ms, 30s, 2m, 1h30m';
}

/** `12`, `0.5`, `.inf`: numbers as a YAML user writes them. */
export function formatNumber(v: number): string {
  if (v === Infinity) return '.inf';
  if (v === -Infinity) return '-.inf';
  if (Number.isNaN(v)) return '.nan';
  return String(v);
}

/** `30s`, `1.25s`: a millisecond count as a duration, for messages. */
export function formatMs(ms: number): string {
  return ms === 0 ? '0' : formatDuration(ms);
}

/**
 * What an unquoted YAML scalar with this text would be under the YAML 1.2 core schema: null for
 * '' and `~`/`null`, booleans, numbers; any other text stays a string (never a map or a list), so
 * a value from the environment or the command line cannot inject structure.
 */
export function resolvePlainText(text: string): unknown {
  const t = text.trim();
  if (/^(?:~|null|Null|NULL)?$/.test(t)) return null;
  if (/^(?:true|True|TRUE)$/.test(t)) return true;
  if (/^(?:false|False|FALSE)$/.test(t)) return false;
  if (/^0o[0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(t)) return Number(t);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(t)) return NaN;
  return text;
}

function isWhere(x: unknown): x is Where {
  return x !== null && typeof x === 'object' && 'file' in x && 'line' in x && 'col' in x && !('range' in x);
}
