/**
 * Rendering a stack to a folder: pick the renderer by format, check the options, and write the
 * files where the renderer may write them.
 *
 * The folder rule: `--out DIR` must be absent, empty, or a folder this renderer wrote before
 * (it holds `.floodgate-render`, the list of files of the last render). A render replaces the
 * files it wrote last time and never touches, or writes over, a file it did not write; files of
 * the previous render that the new one no longer has are removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RunError, UsageError } from '../../../harness/errors.ts';
import type { StackConfig } from '../../stack/stack-types.ts';
import { renderCompose } from './compose.ts';
import { renderK8s } from './k8s.ts';
import type { RenderOptions } from './render-common.ts';

export const RENDER_FORMATS = ['compose', 'k8s'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];
/** The marker file of a rendered folder: what the last render wrote. */
export const MARKER = '.floodgate-render';

/** Render `stack` in `format`. */
export function renderStack(stack: StackConfig, format: RenderFormat, o: RenderOptions): Map<string, string> {
  checkOptions(o);
  const files = format === 'compose' ? renderCompose(stack, o) : renderK8s(stack, o);
  files.set(MARKER, markerText(format, [...files.keys()]));
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A format given on the command line. */
export function renderFormat(value: unknown): RenderFormat {
  if (typeof value === 'string' && (RENDER_FORMATS as readonly string[]).includes(value)) return value as RenderFormat;
  throw new UsageError(
    'FG_RENDER_BAD_OPTION',
    `--format ${value === undefined ? 'is required' : `${JSON.stringify(String(value))} is not a known format`}; allowed: ${RENDER_FORMATS.join(', ')}`,
  );
}

function checkOptions(o: RenderOptions): void {
  if (o.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.namespace) || (o.namespace?.length ?? 0) > 63) {
    throw new UsageError('FG_RENDER_BAD_OPTION', `--namespace ${JSON.stringify(o.namespace)} is not a Kubernetes namespace name; allowed: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`);
  }
  if (o.vllmImage !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(o.vllmImage)) {
    throw new UsageError('FG_RENDER_BAD_OPTION', `--vllm-image ${JSON.stringify(o.vllmImage)} is not an image reference; allowed: e.g. vllm/vllm-openai:v0.10.0 or registry.example.com/vllm:tag`);
  }
  if (o.shards !== undefined && (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > 1000)) {
    throw new UsageError('FG_RENDER_BAD_OPTION', `--shards ${JSON.stringify(o.shards)} is not a whole number from 1 to 1000`);
  }
}

function markerText(format: RenderFormat, paths: readonly string[]): string {
  return [`# Files written by harness stack render --format ${format}; the next render of this folder replaces them.`, ...[...paths, MARKER].sort(), ''].join('\n');
}

/** The files a previous render listed in DIR's marker, or undefined when there is no marker. */
function previousFiles(dir: string): string[] | undefined {
  const marker = path.join(dir, MARKER);
  if (!fs.existsSync(marker)) return undefined;
  return fs.readFileSync(marker, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

/** Every file under `dir`, relative, with '/' separators. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * Write `files` under `dir` (created when absent), following the folder rule above.
 * @returns the paths written, relative to `dir`.
 * @throws UsageError FG_RENDER_OUT_NOT_EMPTY when DIR holds files the renderer did not write;
 *         RunError FG_RENDER_WRITE (exit 3) when a file cannot be written.
 */
export function writeRendered(dir: string, files: ReadonlyMap<string, string>): string[] {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new UsageError('FG_RENDER_OUT_NOT_EMPTY', `--out ${dir} is a file; allowed: an absent or empty folder, or one harness stack render wrote before`);
  }
  const existing = fs.existsSync(dir) ? listFiles(dir) : [];
  const previous = previousFiles(dir);
  const ours = new Set(previous ?? []);
  const foreign = existing.filter((f) => !ours.has(f));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
    throw new UsageError(
      'FG_RENDER_OUT_NOT_EMPTY',
      `--out ${dir} holds files harness stack render did not write (${shown}); allowed: an absent or empty folder, or one rendered before (it has ${MARKER}). Nothing was written.`,
    );
  }
  try {
    for (const old of previous ?? []) {
      if (!files.has(old) && fs.existsSync(path.join(dir, old))) fs.rmSync(path.join(dir, old));
    }
    for (const [rel, text] of files) {
      const target = path.join(dir, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text);
    }
  } catch (e) {
    throw new RunError('FG_RENDER_WRITE', `cannot write the rendered files under ${dir}: ${(e as Error).message}`);
  }
  return [...files.keys()];
}
