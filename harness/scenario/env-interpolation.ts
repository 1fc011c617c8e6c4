/**
 * Environment interpolation in scenario files: `${VAR}`, `${VAR:-default}`, and `$${` for a
 * literal `${`.
 *
 * Substitution has to happen after YAML parsing (an environment value must not change the
 * document's structure) yet `${...}` is not valid YAML everywhere: inside a flow map such as
 * `{api_key: ${KEY}}` the braces end the map. So each expression is first replaced in the source
 * text by a placeholder of the same length made of Unicode noncharacters (valid in a plain YAML
 * scalar, never found in real files); the document is parsed, positions stay exact, and the
 * placeholders inside each scalar are then swapped for their values. Placeholders that fell in a
 * comment simply disappear with it.
 */

import { isMap, isScalar, isSeq, type Document, type Scalar } from 'yaml';
import { childPath, type NodeReader } from './yaml-node-reader.ts';

const MARK = '\uFDD0';
const PAD = '\uFDD1';
const PLACEHOLDER = /\uFDD0\uFDD1*/g;
const EXPRESSION = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** One `${...}` found in the source: where it is and what it stands for. */
export interface EnvSlot {
  /** Source offsets [start, end) of the expression. */
  start: number;
  end: number;
  /** The text it is replaced by. */
  value: string;
  /** Set when the expression is malformed; `value` is then the expression as written. */
  error?: string;
}

export interface MaskedSource {
  /** The source with every expression replaced by a same-length placeholder. */
  text: string;
  /** Expressions in source order. */
  slots: EnvSlot[];
}

/**
 * Find every `${...}` in `src`, resolve it against `env` and replace it by a placeholder.
 * An unset variable is the empty string; `${VAR:-default}` uses the default when the variable is
 * unset or empty. An expression ends at the first `}` on its line; a malformed one is kept as
 * written and reported.
 */
export function maskEnvReferences(src: string, env: Record<string, string | undefined>): MaskedSource {
  const slots: EnvSlot[] = [];
  let out = '';
  let last = 0;
  let i = src.indexOf('$');
  while (i !== -1 && i < src.length) {
    let slot: EnvSlot | undefined;
    if (src.startsWith('$${', i)) {
      const close = closingBrace(src, i + 3);
      slot = close === -1 || /["'{$]/.test(src.slice(i + 3, close))
        ? { start: i, end: i + 3, value: '${' }
        : { start: i, end: close + 1, value: src.slice(i + 1, close + 1) };
    } else if (src.startsWith('${', i)) {
      const close = closingBrace(src, i + 2);
      const inner = close === -1 ? undefined : src.slice(i + 2, close);
      const m = inner === undefined ? null : EXPRESSION.exec(inner);
      if (m) {
        const set = env[m[1]!];
        const value = m[2] !== undefined ? (set ? set : m[2]) : (set ?? '');
        slot = { start: i, end: close + 1, value };
      } else if (inner !== undefined && !/["'{$]/.test(inner)) {
        slot = {
          start: i,
          end: close + 1,
          value: src.slice(i, close + 1),
          error: `"\${${inner}}" is not \${NAME} or \${NAME:-default} (NAME: letters, digits, _)`,
        };
      } else {
        // No plausible end: mask only the "${" so the rest parses as the YAML it is.
        slot = { start: i, end: i + 2, value: '${', error: 'unterminated "${" (write "$${" for a literal "${")' };
      }
    }
    if (slot) {
      slots.push(slot);
      out += src.slice(last, slot.start) + MARK + PAD.repeat(slot.end - slot.start - 1);
      last = slot.end;
      i = src.indexOf('$', slot.end);
    } else {
      i = src.indexOf('$', i + 1);
    }
  }
  return { text: out + src.slice(last), slots };
}

/**
 * Put the values of `slots` into the parsed document. A plain (unquoted) scalar holding an
 * expression is typed from the result (`seed: ${SEED}` can be a number, and empty means unset);
 * a quoted one stays a string. Malformed expressions are reported at their scalar.
 */
export function applyEnvReferences(doc: Document, r: NodeReader, slots: readonly EnvSlot[]): void {
  if (slots.length === 0) return;
  const walk = (node: unknown, path: string): void => {
    if (isScalar(node)) {
      substitute(node, path);
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key)) substitute(pair.key, path);
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        walk(pair.value, childPath(path, key));
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, childPath(path, i)));
    }
  };
  const substitute = (scalar: Scalar, path: string): void => {
    if (typeof scalar.value !== 'string' || !scalar.value.includes(MARK) || !scalar.range) return;
    const [from, to] = scalar.range;
    const mine = slots.filter((s) => s.start >= from && s.end <= to);
    let k = 0;
    const text = scalar.value.replace(PLACEHOLDER, (run) => {
      const slot = mine[k++];
      return slot ? slot.value : run;
    });
    for (const slot of mine) {
      if (slot.error) r.report('FG_SCENARIO_BAD_VALUE', scalar, path, slot.error, { value: slot.value, allowed: '${NAME}, ${NAME:-default}, $${ for a literal ${' });
    }
    if (scalar.type === 'PLAIN') r.setLoose(scalar, text);
    else scalar.value = text;
  };
  walk(doc.contents, '');
}

/** Offset of the `}` closing an expression started before `from`, or -1 (none on this line). */
function closingBrace(src: string, from: number): number {
  for (let j = from; j < src.length; j++) {
    const c = src[j];
    if (c === '}') return j;
    if (c === '\n' || c === '\r') return -1;
  }
  return -1;
}
