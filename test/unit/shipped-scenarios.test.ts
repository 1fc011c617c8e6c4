/**
 * Every scenario and stack file the project ships loads without a problem (scenario files with
 * their traces and stack files read and checked, as `harness validate` does), and the trace
 * scenarios replay the committed excerpts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../../harness/scenario/load-scenario.ts';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import { isSweepFile, loadSweep } from '../../harness/sweep/sweep-file.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const yamls = (dir: string): string[] => fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(root, dir, f));

test('every shipped scenario loads', () => {
  const files = yamls('scenarios').filter((f) => !isSweepFile(f));
  assert.ok(files.length >= 9, `${files.length} scenarios`);
  for (const f of files) {
    const s = loadScenario(f, { env: {} });
    assert.equal(s.name, path.basename(f, '.yaml'), `${f}: name matches the file`);
    assert.ok(s.load.stages.length > 0, f);
  }
});

test('the trace scenarios replay the committed excerpts, all of them', () => {
  for (const [name, rows] of [['replay-mooncake', 200], ['replay-azure-code', 200]] as const) {
    const s = loadScenario(path.join(root, 'scenarios', `${name}.yaml`), { env: {} });
    assert.equal(s.workload.trace?.loaded?.requests.length, rows, name);
  }
  const burst = loadScenario(path.join(root, 'scenarios', 'replay-burstgpt.yaml'), { env: {} });
  const models = new Set(burst.workload.trace!.loaded!.requests.map((r) => r.model));
  assert.deepEqual([...models].sort(), ['llama-3.1-70b', 'llama-3.1-8b']);
});

test('every shipped stack loads', () => {
  const files = yamls('reference-stack/stacks');
  assert.ok(files.length >= 2);
  for (const f of files) assert.equal(loadStack(f, { env: {} }).name, path.basename(f, '.yaml'));
});

test('every shipped sweep loads, with every cell a valid stack', () => {
  const files = yamls('scenarios').filter((f) => isSweepFile(f));
  assert.deepEqual(files.map((f) => path.basename(f)), ['tune-batching.yaml', 'tune-quantization.yaml']);
  for (const f of files) {
    const s = loadSweep(f);
    assert.equal(s.name, path.basename(f, '.yaml'));
    assert.ok(s.cells.length >= 5, `${f}: ${s.cells.length} cells`);
    assert.equal(new Set(s.cells.map((c) => c.id)).size, s.cells.length);
  }
  assert.equal(loadSweep(path.join(root, 'scenarios/tune-batching.yaml')).cells.length, 12);
});
