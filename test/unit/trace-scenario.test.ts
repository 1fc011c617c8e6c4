/**
 * `workload.trace` in scenarios: a trace block loads (the trace read once, at load time, kept on
 * the scenario), stages cut the replay and get the trace's rates, lengths become empirical
 * distributions; bad options and bad rows are reported with positions (the rows at the trace
 * file's own line and column). The bad fixtures test/fixtures/scenarios/bad/trace-*.yaml are
 * checked with every other bad fixture in scenario-validation.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { readTrace } from '../../harness/workload/traces/index.ts';
import { issueKey, issuesOf } from '../fixtures/config-issues.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Inline scenarios "live" in test/fixtures/scenarios: relative paths start there.
const FILE = join(ROOT, 'test/fixtures/scenarios/inline.yaml');
const load = (yaml: string) => parseScenario(yaml, FILE, { env: {} });

test('a BurstGPT trace with a model map loads; no stages: one `trace` stage just past the last request', () => {
  const s = load(`name: burst
target: {model: llama-3.1-8b}
seed: 3
workload:
  trace:
    format: burstgpt
    file: ../../../traces/burstgpt_1_200.csv
    models: {ChatGPT: llama-3.1-8b, GPT-4: llama-3.1-70b}
    speed: 100
`);
  const t = s.workload.trace!;
  assert.equal(t.format, 'burstgpt');
  assert.equal(t.speed, 100);
  assert.equal(t.seed, 3);
  assert.equal(t.failedRows, 'drop');
  const loaded = t.loaded!;
  assert.equal(loaded.requests.length, 191);
  assert.equal(loaded.report.spanMs, 337_790);
  assert.deepEqual(s.load.stages.map((st) => [st.name, st.durationMs, st.kind]), [['trace', 337_791, 'open']]);
  assert.ok(Math.abs((s.load.stages[0] as { rateRps: number }).rateRps - 191 / 337.791) < 1e-9);
  // Lengths: the empirical distributions of what is replayed.
  assert.equal(s.workload.promptTokens.dist, 'empirical');
  assert.deepEqual(s.workload.promptTokens.dist === 'empirical' && s.workload.promptTokens.values, loaded.requests.map((q) => q.inputTokens));
  assert.ok(Object.isFrozen(loaded.requests));
  // The same as reading the file directly.
  assert.deepEqual(readTrace({ ...t, loaded: undefined }, join(ROOT, 'test/fixtures/scenarios')).requests, loaded.requests);
});

test('stages cut the replay at their total and get the trace\'s mean rate in their window', () => {
  const s = load(`name: moon
target: {model: m}
workload:
  trace: {format: mooncake, file: ../../../traces/mooncake_conversation_200.jsonl, block_tokens: 512}
load:
  warmup: 5s
  stages:
    - {name: a, duration: 20s}
    - {name: b, duration: 10s}
`);
  const reqs = s.workload.trace!.loaded!.requests;
  assert.ok(reqs.every((q) => q.tMs! < 30_000));
  assert.equal(s.workload.trace!.cutMs, 30_000);
  const inA = reqs.filter((q) => q.tMs! < 20_000).length;
  assert.deepEqual(s.load.stages.map((st) => (st as { rateRps: number }).rateRps), [inA / 20, (reqs.length - inA) / 10]);
  assert.equal(s.load.warmupMs, 5000);
});

test('loop: true loops until the stages end', () => {
  const s = load(`name: looped
target: {model: m}
workload:
  trace: {format: azure, file: ../../../traces/azure_conv_2023_200.csv, loop: true, rate_scale: 0.5}
load:
  stages: [{duration: 3m}]
`);
  const reqs = s.workload.trace!.loaded!.requests;
  assert.ok(reqs.at(-1)!.tMs! > 120_000 && reqs.at(-1)!.tMs! < 180_000);
});

test('a trace without times replays closed loop (users) or all at once', () => {
  const closed = load(`name: closed
target: {model: m}
workload:
  trace:
    format: csv
    file: ../traces/no-times.csv
    fields: {input_tokens: input, output_tokens: output}
load:
  stages: [{duration: 1m, users: 4, think_time: 1s}]
`);
  assert.equal(closed.workload.trace!.noTimestamps, 'closed_loop');
  assert.deepEqual(closed.workload.trace!.loaded!.requests.map((q) => q.tMs), [null, null, null]);
  assert.equal(closed.load.stages[0]!.kind, 'closed');
  const all = load(`name: all
target: {model: m}
workload:
  trace:
    format: csv
    file: ../traces/no-times.csv
    no_timestamps: all_at_once
    fields: {input_tokens: input, output_tokens: output}
load:
  stages: [{duration: 1m}]
`);
  assert.equal(all.workload.trace!.noTimestamps, 'all_at_once');
  assert.equal(all.load.stages[0]!.kind, 'open');
});

test('bad rows are reported at the trace file\'s line and column, with the other problems', () => {
  const issues = issuesOf(() => load(`name: bad
target: {model: m}
workload:
  trace: {format: mooncake, file: ../traces/mooncake-bad-rows.jsonl}
`));
  const trace = join(ROOT, 'test/fixtures/scenarios/../traces/mooncake-bad-rows.jsonl');
  assert.equal(issues.length, 7);
  assert.ok(issues.every((i) => i.code === 'FG_TRACE_BAD_ROW' && i.file === trace && i.allowed));
  assert.deepEqual(issues.map((i) => i.line), [2, 3, 4, 5, 6, 7, 8]);
});

test('options are checked before the file is read; every problem is listed with its position', () => {
  const issues = issuesOf(() => load(`name: opts
target: {model: m}
workload:
  trace: {format: mooncak, file: ../traces/mooncake-bad-rows.jsonl, rate_scale: 0}
  output_tokens: 5
load:
  burstiness: 2
  stages: [{duration: 10s, users: 2}]
`));
  assert.deepEqual(issues.map(issueKey).sort(), [
    'FG_SCENARIO_BAD_VALUE 4:19 workload.trace.format',
    'FG_SCENARIO_BAD_VALUE 4:81 workload.trace.rate_scale',
    'FG_SCENARIO_CONFLICT 5:3 workload.output_tokens',
    'FG_SCENARIO_CONFLICT 7:3 load.burstiness',
    'FG_SCENARIO_CONFLICT 8:28 load.stages[0].users',
  ].sort());
  assert.match(issues.find((i) => i.path === 'workload.trace.format')!.message, /did you mean "mooncake"/);
});

test('a closed-loop replay needs users; a timed one needs no load at all', () => {
  const issues = issuesOf(() => load(`name: nousers
target: {model: m}
workload:
  trace: {format: jsonl, file: ../traces/mapped.jsonl, fields: {input_tokens: in, output_tokens: out}}
load:
  stages: [{duration: 10s}]
`));
  assert.deepEqual(issues.map(issueKey), ['FG_SCENARIO_MISSING_FIELD 6:12 load.stages[0].users']);
  const s = load(`name: noload
target: {model: m}
workload:
  trace: {format: jsonl, file: ../traces/mapped.jsonl, fields: {time: ts, time_unit: datetime, input_tokens: in, output_tokens: out}}
`);
  assert.equal(s.workload.trace!.loaded!.requests.length, 3);
  assert.equal(s.load.drainMs, 30_000);
  // A load block without stages (drain, warmup) takes its one stage from the trace too.
  const drained = load(`name: drained
target: {model: m}
workload:
  trace: {format: jsonl, file: ../traces/mapped.jsonl, fields: {time: ts, time_unit: datetime, input_tokens: in, output_tokens: out}}
load: {drain: 20s}
`);
  assert.equal(drained.load.drainMs, 20_000);
  assert.deepEqual(drained.load.stages.map((st) => st.name), ['trace']);
});
