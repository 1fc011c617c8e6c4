/**
 * Overrides: values set by dotted path (`target.url`, `load.stages[0].rate`) into a parsed
 * scenario document before validation, so they are checked exactly like the file's own values.
 * Nodes they create are marked as coming from the command line, which is where issues about
 * them point.
 */

import { isMap, isScalar, isSeq, Pair, Scalar, YAMLMap, type Document } from 'yaml';
import { COMMAND_LINE, type NodeReader } from './yaml-node-reader.ts';

type Segment = string | number;

const SEGMENT = /^([A-Za-z0-9_-]+)((?:\[\d+\])*)$/;

/**
 * Split `load.stages[0].rate` into ['load', 'stages', 0, 'rate']; undefined when malformed.
 */
export function parseOverridePath(path: string): Segment[] | undefined {
  const out: Segment[] = [];
  for (const part of path.split('.')) {
    const m = SEGMENT.exec(part);
    if (!m) return undefined;
    out.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/**
 * Set each override into `doc`, in the order given. A string value is read like an unquoted YAML
 * value from text (`'7'` is a number for a number field, still `"7"` for a string field; `''`
 * means unset); other values are used as they are. Missing maps on the way are created; a path
 * through a value that is not a map or a list, or an index past the end of a list (one past the
 * end appends), is an issue.
 */
export function applyOverrides(doc: Document, r: NodeReader, overrides: Record<string, unknown>): void {
  for (const [path, value] of Object.entries(overrides)) {
    const segments = parseOverridePath(path);
    const at = { file: COMMAND_LINE, line: 0, col: 0 };
    if (!segments) {
      r.report('FG_SCENARIO_BAD_VALUE', at, path, `override path "${path}" is not a dotted path like load.stages[0].rate`, { value: path, allowed: 'key.key[index].key' });
      continue;
    }
    const node = makeNode(doc, r, value);
    let parent: unknown = doc.contents;
    let where = '';
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const next = isLast ? node : undefined;
      const here = typeof seg === 'number' ? `${where}[${seg}]` : where ? `${where}.${seg}` : seg;
      if (typeof seg === 'string') {
        if (!isMap(parent)) {
          r.report('FG_SCENARIO_TYPE', at, path, `cannot set "${path}": "${where}" is not a map`, { value, allowed: 'a path through maps and lists' });
          break;
        }
        let pair = parent.items.find((p): p is Pair<Scalar> => isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) {
          const key = new Scalar(seg);
          r.markCommandLine(key);
          pair = new Pair(key, null) as Pair<Scalar>;
          parent.items.push(pair);
        }
        if (isLast) pair.value = next;
        else if (r.isEmpty(pair.value)) pair.value = container(r);
        parent = r.deref(pair.value);
      } else {
        if (!isSeq(parent)) {
          r.report('FG_SCENARIO_TYPE', at, path, `cannot set "${path}": "${where}" is not a list`, { value, allowed: 'a path through maps and lists' });
          break;
        }
        if (seg > parent.items.length) {
          r.report('FG_SCENARIO_BAD_VALUE', at, path, `cannot set "${path}": "${where}" has ${parent.items.length} item(s); an override may append one at [${parent.items.length}]`, { value, allowed: `an index from 0 to ${parent.items.length}` });
          break;
        }
        if (isLast) parent.items[seg] = next;
        else if (r.isEmpty(parent.items[seg])) parent.items[seg] = container(r);
        parent = r.deref(parent.items[seg]);
      }
      where = here;
    }
  }
}

function makeNode(doc: Document, r: NodeReader, value: unknown): unknown {
  // Scalars from the command line are loose both ways: '7' reads as 7 where a number belongs,
  // and 7 reads as "7" where a string belongs (`--set name=2024` after the CLI typed it).
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    const scalar = new Scalar<unknown>(value);
    if (typeof value === 'string') r.setLoose(scalar, value);
    else r.setLoose(scalar, String(value), value);
    r.markCommandLine(scalar);
    return scalar;
  }
  const node = doc.createNode(value);
  r.markCommandLine(node);
  return node;
}

function container(r: NodeReader): YAMLMap {
  const map = new YAMLMap();
  r.markCommandLine(map);
  return map;
}
