/**
 * The example CI workflow (.github/workflows/perf-gate.yml) parses, has the steps docs/ci.md
 * describes, and refers to files, commands and a --max-regression spec that exist and parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { parseGateSpec } from '../../harness/compare/gate-spec.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file = path.join(root, '.github/workflows/perf-gate.yml');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}

test('perf-gate.yml: triggers, steps, and what they refer to', () => {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(doc.errors, []);
  const wf = doc.toJS() as { on: Record<string, unknown>; jobs: Record<string, { 'runs-on': string; steps: Step[] }> };
  assert.ok('pull_request' in wf.on && 'workflow_dispatch' in wf.on);
  const jobs = Object.values(wf.jobs);
  assert.equal(jobs.length, 1);
  const job = jobs[0]!;
  assert.equal(job['runs-on'], 'ubuntu-latest');
  const steps = job.steps;
  const uses = (prefix: string) => steps.find((s) => s.uses?.startsWith(prefix));
  assert.ok(uses('actions/checkout@'));
  assert.equal(String(uses('actions/setup-node@')!.with!['node-version']), '20');
  assert.ok(uses('actions/upload-artifact@'));
  const runs = steps.map((s) => s.run ?? '').join('\n');
  assert.match(runs, /npm ci/);
  const run = /npx harness run (\S+) --out (\S+)/.exec(runs);
  assert.ok(run, 'a harness run step');
  assert.ok(fs.existsSync(path.join(root, run[1]!)), `${run[1]} exists`);
  const gate = /npx harness gate (\S+) --baseline (\S+) --max-regression '([^']+)'/.exec(runs);
  assert.ok(gate, 'a harness gate step');
  assert.equal(gate[1], run[2]);
  for (const f of ['summary.json', 'requests.jsonl']) assert.ok(fs.existsSync(path.join(root, gate[2]!, f)), `${gate[2]}/${f} is committed`);
  assert.ok(parseGateSpec(gate[3]!).length > 0);
  assert.match(runs, /GITHUB_STEP_SUMMARY/);
  assert.match(runs, new RegExp(`${run[2]}/summary\\.md`));
  // The report is uploaded and the summary written even when the run or the gate failed.
  for (const s of steps.filter((x) => x.uses?.startsWith('actions/upload-artifact@') || /GITHUB_STEP_SUMMARY/.test(x.run ?? ''))) assert.match(s.if ?? '', /always\(\)/);
});
