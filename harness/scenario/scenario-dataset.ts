/**
 * A scenario's `workload.dataset` block: real prompts from a user-supplied dataset
 * (docs/scenarios.md, "Prompt datasets").
 *
 *     workload:
 *       dataset: {format: sharegpt, file: data/sharegpt.json, order: random, output_tokens: from_data}
 *
 * `format` (sharegpt | jsonl) and `file` are required; `order` defaults to random (seeded);
 * `output_tokens` is from_data (the data's answer lengths / max_tokens) unless the workload sets
 * its own `output_tokens` distribution (dist). The file is read and checked here, at load time;
 * only lengths are kept on the Scenario (`loaded`): client threads read the texts themselves.
 * Conflicts: trace, prompt_tokens, shared_prefix, conversation, target.endpoint: completions.
 */
import { isAbsolute, resolve } from 'node:path';
import { readDataset } from '../workload/dataset.ts';
import type { DatasetConfig, LengthDist, TargetConfig, WorkloadConfig } from './scenario-types.ts';
import { LENGTH_DIST_SHAPE, readLengthDist } from './length-distribution.ts';
import type { MapView } from './yaml-node-reader.ts';
import { whyUnreadable } from '../util/file-errors.ts';

export const DATASET_KEYS = ['format', 'file', 'order', 'output_tokens'] as const;
const FORMATS = ['sharegpt', 'jsonl'] as const;

/** The dataset file as the harness opens it: relative to the scenario's folder. */
export function datasetFilePath(file: string, baseDir: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

/**
 * Read the workload of a scenario with `workload.dataset` (the caller checked it is there):
 * validate the block and its conflicts, read the file. Undefined when anything is wrong (issues
 * recorded).
 */
export function readDatasetWorkload(workload: MapView, baseDir: string, traced: boolean): WorkloadConfig | undefined {
  const r = workload.r;
  const before = r.issues.length;
  const at = workload.keyNode('dataset');
  for (const key of ['trace', 'prompt_tokens', 'shared_prefix', 'conversation']) {
    if (!workload.has(key) || (key === 'trace' && !traced)) continue;
    const later = r.offset(workload.keyNode(key)) > r.offset(at) ? key : 'dataset';
    r.report('FG_SCENARIO_CONFLICT', workload.keyNode(later), workload.pathOf(later), `${key} does not apply with dataset: the dataset gives the prompts`, { allowed: `dataset or ${key}, not both` });
  }
  const m = workload.map('dataset');
  if (!m) return undefined;
  m.checkKeys(DATASET_KEYS);
  const format = m.oneOf('format', FORMATS);
  if (!m.has('format')) m.missing('format', '"format" is required', FORMATS.join(', '));
  const file = m.str('file', true);
  if (file !== undefined && file.trim() === '') m.missing('file', '"file" must not be empty', 'a path to the dataset file, relative to the scenario');
  const order = m.oneOf('order', ['sequential', 'random'] as const) ?? 'random';
  const hasDist = workload.has('output_tokens');
  const outputTokens = m.oneOf('output_tokens', ['from_data', 'dist'] as const) ?? (hasDist ? 'dist' : 'from_data');
  let dist: LengthDist | undefined;
  if (outputTokens === 'from_data' && hasDist) {
    r.report('FG_SCENARIO_CONFLICT', workload.keyNode('output_tokens'), workload.pathOf('output_tokens'), 'workload.output_tokens does not apply with dataset.output_tokens: from_data (the lengths come from the data)', { allowed: 'dataset.output_tokens: dist, or remove workload.output_tokens' });
  } else if (outputTokens === 'dist') {
    const node = workload.need('output_tokens', `${LENGTH_DIST_SHAPE} (dataset.output_tokens is dist)`);
    dist = node && readLengthDist(r, node, workload.pathOf('output_tokens'), baseDir);
  }
  if (r.issues.length > before || format === undefined || file === undefined) return undefined;

  const path = datasetFilePath(file, baseDir);
  let read;
  try {
    read = readDataset(path, { format, outputFromData: outputTokens === 'from_data' });
  } catch (err) {
    const why = whyUnreadable(err);
    r.report('FG_SCENARIO_DATASET_FILE', m.get('file'), m.pathOf('file'), `dataset file "${path}" ${why}`, { value: file, allowed: "a readable dataset file (relative to the scenario's folder, or absolute)" });
    return undefined;
  }
  if (read.issues.length > 0) {
    r.issues.push(...read.issues);
    return undefined;
  }
  if (read.entries.length === 0) {
    r.report('FG_DATASET_EMPTY', m.get('file'), m.pathOf('file'), `dataset file "${path}" holds no usable entry (${read.skipped} skipped)`, { allowed: `a dataset with at least one usable entry (see docs/scenarios.md, "Prompt datasets")` });
    return undefined;
  }
  const prompts = read.entries.map((e) => e.promptTokens);
  const outputs = read.entries.map((e) => e.outputTokens ?? 1);
  const empirical = (values: number[]): LengthDist => ({ dist: 'empirical', values, file: path, min: 1, max: Infinity });
  const dataset: DatasetConfig = {
    format,
    file: path,
    order,
    outputTokens,
    loaded: { count: read.entries.length, skipped: read.skipped, promptTokens: prompts, outputTokens: outputs },
  };
  return { promptTokens: empirical(prompts), outputTokens: dist ?? empirical(outputs), dataset };
}

/** The dataset's conflict with the rest of the scenario: the completions endpoint. */
export function checkDataset(workload: MapView, target: TargetConfig | undefined): void {
  if (!workload.has('dataset') || !target || target.endpoint === 'chat') return;
  workload.r.report('FG_SCENARIO_CONFLICT', workload.keyNode('dataset'), workload.pathOf('dataset'), `dataset needs target.endpoint: chat (its entries are chat messages); endpoint is ${target.endpoint}`, {
    allowed: 'set target.endpoint: chat, or remove dataset',
  });
}
