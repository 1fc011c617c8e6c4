/**
 * A scenario's `stack:` as a user runs it (`harness` in a child process): the embedded stack
 * runs the scenario's stack file (test/fixtures/stacks/one-worker.yaml: one simulated worker
 * `w-tiny` serving `tiny-llama`, fifty times faster than real time), as the named tenant, and the
 * report says so; `harness validate` prints a broken stack file's problems under the scenario's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const scenario = path.join(root, 'test/fixtures/scenarios/good/stack-tenant.yaml');
const stackFile = path.join(root, 'test/fixtures/stacks/one-worker.yaml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-scenario-stack-'));

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const harness = (args: string[]): Promise<CliResult> => runHarness(args, { cwd: tmp });

test('run: a scenario with stack: runs against that stack file, as its tenant, and the report names it', async () => {
  const out = path.join(tmp, 'out');
  const r = await harness(['run', scenario, '--out', out, '--allow-saturated', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /embedded stack: reference stack "one-worker": gateway \+ 1 simulated vLLM workers, tenant bench \(stack file .*one-worker\.yaml\)/);

  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(s.target.embedded, true);
  assert.equal(s.target.model, 'tiny-llama');
  assert.equal(s.target.stack.name, 'one-worker');
  assert.equal(path.resolve(tmp, s.target.stack.file), stackFile);
  assert.equal(s.target.stack.tenant, 'bench');
  assert.ok(s.requests.total >= 3, `only ${s.requests.total} requests`);
  assert.equal(s.requests.ok, s.requests.total);
  assert.deepEqual(Object.keys(s.by_model), ['tiny-llama']);

  // Every request was served by the fixture stack's worker and model, not the default stack's.
  const records = fs.readFileSync(path.join(out, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, s.requests.total);
  for (const rec of records) {
    assert.equal(rec.ok, true);
    assert.equal(rec.served_by, 'w-tiny');
    assert.equal(rec.served_model, 'tiny-llama');
  }
});

test('run: a model the scenario\'s stack does not serve exits 3 naming that stack, nothing sent', async () => {
  const r = await harness(['run', scenario, '--model', 'llama-3.1-8b', '--out', path.join(tmp, 'out-bad'), '--quiet']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /FG_EMBEDDED_MODEL_UNKNOWN.*"one-worker".*serves tiny-llama to tenant bench; the scenario asks for "llama-3\.1-8b"/);
  assert.equal(fs.existsSync(path.join(tmp, 'out-bad', 'requests.jsonl')), false);
});

test('validate: a broken stack file is one line at the scenario\'s stack field, then its own problems', async () => {
  const f = path.join(tmp, 'broken-stack.yaml');
  fs.writeFileSync(f, `name: broken
target: {model: m}
stack: ${path.join(root, 'test/fixtures/stacks/bad/duplicate-names.yaml')}
workload: {prompt_tokens: 20, output_tokens: 4}
load: {stages: [{duration: 1s, rate: 1}]}
`);
  const r = await harness(['validate', f, scenario]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /broken-stack\.yaml:3:8 {2}FG_SCENARIO_STACK_FILE {2}stack: ".*duplicate-names\.yaml" is not a valid stack file: \d+ problems?/);
  assert.ok(lines.length >= 2);
  for (const l of lines.slice(1)) assert.match(l, /duplicate-names\.yaml:\d+:\d+ {2}FG_STACK_[A-Z_]+ {2}/);
  assert.match(r.stdout, /stack-tenant\.yaml: ok \(scenario "stack-tenant", 1 stage, stack "one-worker" \(.*one-worker\.yaml\) as tenant bench\)/);
});
