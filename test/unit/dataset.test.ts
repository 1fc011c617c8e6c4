/**
 * Prompt datasets (docs/scenarios.md, "Prompt datasets"): reading ShareGPT JSON and JSONL of
 * messages (usable entries, skipped ones counted, malformed ones coded with line / index), the
 * scenario block's conflicts, and the plan's entry choice (deterministic by seed and order, lengths
 * from the Llama-3 tokenizer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { readDataset, datasetPicker } from '../../harness/workload/dataset.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { ConfigError } from '../../harness/errors.ts';
import { buildDatasetBody, type RequestTemplate } from '../../harness/engine/request-template.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/datasets');
const CANARY = 'FLOODGATE-CANARY-7f3a';
const tokens = (text: string): number => llama3Tokenizer.encode(text, { bos: false, eos: false }).length;

function scenario(workload: string, extra = '', target = ''): ReturnType<typeof parseScenario> {
  return parseScenario(
    `name: ds\nseed: 5\ntarget: {url: "http://127.0.0.1:9/v1", model: m${target}}\nworkload: ${workload}\nload: {stages: [{duration: 2s, rate: 20}]}\n${extra}`,
    path.join(dir, 'scenario.yaml'),
    { env: {} },
  );
}

function codesOf(fn: () => unknown): Array<{ code: string; line: number; path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => ({ code: i.code, line: i.line, path: i.path, message: i.message }));
  }
  assert.fail('expected a ConfigError');
}

test('ShareGPT: first human turn (with a preceding system turn), answer lengths, skipped entries counted', () => {
  const read = readDataset(path.join(dir, 'sharegpt-small.json'), { format: 'sharegpt', outputFromData: true });
  assert.deepEqual(read.issues, []);
  assert.equal(read.entries.length, 3);
  assert.equal(read.skipped, 3, 'no human turn, empty human text, no answer');
  assert.deepEqual(read.entries[1]!.messages.map((m) => m.role), ['system', 'user']);
  assert.equal(read.entries[1]!.messages[1]!.content, 'Explain, in a few words, why the sky looks blue during a clear day and red at sunset.');
  assert.equal(read.entries[0]!.outputTokens, tokens('The capital of France is Paris.'));
  for (const e of read.entries) assert.equal(e.promptTokens, e.messages.reduce((s, m) => s + tokens(m.content), 0));
  // With output lengths from a distribution, an entry without an answer is usable.
  const dist = readDataset(path.join(dir, 'sharegpt-small.json'), { format: 'sharegpt', outputFromData: false });
  assert.equal(dist.entries.length, 4);
  assert.equal(dist.skipped, 2);
});

test('JSONL: messages as they are, max_tokens, skipped lines counted', () => {
  const read = readDataset(path.join(dir, 'messages-small.jsonl'), { format: 'jsonl', outputFromData: true });
  assert.deepEqual(read.issues, []);
  assert.equal(read.entries.length, 3);
  assert.equal(read.skipped, 2, 'no max_tokens; last message not the user\'s');
  assert.deepEqual(read.entries.map((e) => e.outputTokens), [8, 24, 16]);
  assert.deepEqual(read.entries[2]!.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  const dist = readDataset(path.join(dir, 'messages-small.jsonl'), { format: 'jsonl', outputFromData: false });
  assert.equal(dist.entries.length, 4);
});

test('malformed entries are coded with the JSONL line or the JSON entry index, never quoting text', () => {
  const jl = readDataset(path.join(dir, 'bad.jsonl'), { format: 'jsonl', outputFromData: true });
  assert.deepEqual(jl.issues.map((i) => [i.code, i.line]), [['FG_DATASET_BAD_ENTRY', 2], ['FG_DATASET_BAD_ENTRY', 3], ['FG_DATASET_BAD_ENTRY', 4], ['FG_DATASET_BAD_ENTRY', 5]]);
  assert.ok(jl.issues.every((i) => !i.message.includes('broken')));
  const js = readDataset(path.join(dir, 'bad-sharegpt.json'), { format: 'sharegpt', outputFromData: true });
  assert.deepEqual(js.issues.map((i) => [i.code, i.path]), [['FG_DATASET_BAD_ENTRY', '[1]'], ['FG_DATASET_BAD_ENTRY', '[2]'], ['FG_DATASET_BAD_ENTRY', '[3]']]);
  const notJson = readDataset(path.join(dir, 'messages-small.jsonl'), { format: 'sharegpt', outputFromData: true });
  assert.deepEqual(notJson.issues.map((i) => i.code), ['FG_DATASET_BAD_ENTRY']);
  // Through the scenario loader: the same codes.
  const issues = codesOf(() => scenario('{dataset: {format: jsonl, file: bad.jsonl}}'));
  assert.deepEqual(issues.map((i) => i.code), ['FG_DATASET_BAD_ENTRY', 'FG_DATASET_BAD_ENTRY', 'FG_DATASET_BAD_ENTRY', 'FG_DATASET_BAD_ENTRY']);
  assert.ok(issues.every((i) => !i.message.includes(CANARY)));
});

test('the scenario block: defaults, lengths on the scenario (never text), file and empty errors', () => {
  const sc = scenario('{dataset: {format: sharegpt, file: sharegpt-small.json}}');
  const ds = sc.workload.dataset!;
  assert.equal(ds.order, 'random');
  assert.equal(ds.outputTokens, 'from_data');
  assert.equal(ds.loaded.count, 3);
  assert.equal(ds.loaded.skipped, 3);
  assert.equal(sc.workload.promptTokens.dist, 'empirical');
  assert.ok(!JSON.stringify(sc).includes(CANARY), 'the scenario holds no dataset text');
  const withDist = scenario('{output_tokens: 32, dataset: {format: jsonl, file: messages-small.jsonl, order: sequential}}');
  assert.equal(withDist.workload.dataset!.outputTokens, 'dist');
  assert.equal(withDist.workload.dataset!.loaded.count, 4);
  assert.equal(withDist.workload.outputTokens.dist, 'fixed');
  assert.deepEqual(codesOf(() => scenario('{dataset: {format: jsonl, file: nope.jsonl}}')).map((i) => i.code), ['FG_SCENARIO_DATASET_FILE']);
  assert.deepEqual(codesOf(() => scenario('{dataset: {format: csv, file: x}}')).map((i) => i.code), ['FG_SCENARIO_BAD_VALUE']);
  assert.deepEqual(codesOf(() => scenario('{dataset: {file: messages-small.jsonl}}')).map((i) => i.code), ['FG_SCENARIO_MISSING_FIELD']);
  assert.deepEqual(codesOf(() => scenario('{dataset: {format: jsonl, file: messages-small.jsonl, shuffle: true}}')).map((i) => i.code), ['FG_SCENARIO_UNKNOWN_KEY']);
  assert.deepEqual(codesOf(() => scenario('{dataset: {format: jsonl, file: empty.jsonl}}')).map((i) => i.code), ['FG_DATASET_EMPTY']);
});

test('the scenario block: conflicts are coded', () => {
  const conflict = (workload: string, target = '') => codesOf(() => scenario(workload, '', target)).map((i) => i.code);
  assert.deepEqual(conflict('{prompt_tokens: 100, dataset: {format: jsonl, file: messages-small.jsonl}}'), ['FG_SCENARIO_CONFLICT']);
  assert.deepEqual(conflict('{shared_prefix: {tokens: 10}, dataset: {format: jsonl, file: messages-small.jsonl}}'), ['FG_SCENARIO_CONFLICT']);
  // (and conversation's own conflict with open-loop stages)
  assert.deepEqual([...new Set(conflict('{conversation: {turns: 2}, dataset: {format: jsonl, file: messages-small.jsonl}}'))], ['FG_SCENARIO_CONFLICT']);
  assert.deepEqual(conflict('{output_tokens: 10, dataset: {format: jsonl, file: messages-small.jsonl, output_tokens: from_data}}'), ['FG_SCENARIO_CONFLICT']);
  assert.deepEqual(conflict('{dataset: {format: jsonl, file: messages-small.jsonl, output_tokens: dist}}'), ['FG_SCENARIO_MISSING_FIELD']);
  assert.deepEqual(conflict('{dataset: {format: jsonl, file: messages-small.jsonl}}', ', endpoint: completions'), ['FG_SCENARIO_CONFLICT']);
  const traced = codesOf(() => scenario('{trace: {format: mooncake, file: ../traces/prefix-cache-mooncake.jsonl}, dataset: {format: jsonl, file: messages-small.jsonl}}')).map((i) => i.code);
  assert.ok(traced.includes('FG_SCENARIO_CONFLICT'), traced.join());
});

test('plan: entry indices deterministic by seed and order, lengths from the tokenizer', () => {
  const sc = scenario('{dataset: {format: sharegpt, file: sharegpt-small.json}}');
  const a = buildPlan(sc);
  const b = buildPlan(sc);
  assert.ok(a.open.length > 10);
  assert.deepEqual(a.open.map((r) => r.dataset), b.open.map((r) => r.dataset));
  const read = readDataset(path.join(dir, 'sharegpt-small.json'), { format: 'sharegpt', outputFromData: true });
  const seen = new Set<number>();
  for (const r of a.open) {
    const e = read.entries[r.dataset!]!;
    seen.add(r.dataset!);
    assert.equal(r.promptTokens, e.promptTokens);
    assert.equal(r.outputTokens, e.outputTokens);
  }
  assert.equal(seen.size, 3, 'random order draws every entry of a small dataset');
  const seq = buildPlan(scenario('{output_tokens: 7, dataset: {format: jsonl, file: messages-small.jsonl, order: sequential}}'));
  assert.deepEqual(seq.open.slice(0, 6).map((r) => r.dataset), [0, 1, 2, 3, 0, 1]);
  assert.ok(seq.open.every((r) => r.outputTokens === 7));
  const other = buildPlan(parseScenario(
    `name: ds\nseed: 6\ntarget: {url: "http://127.0.0.1:9/v1", model: m}\nworkload: {dataset: {format: sharegpt, file: sharegpt-small.json}}\nload: {stages: [{duration: 2s, rate: 20}]}\n`,
    path.join(dir, 'scenario.yaml'), { env: {} },
  ));
  assert.notDeepEqual(other.open.map((r) => r.dataset), a.open.map((r) => r.dataset));
  let x = 0;
  const pick = datasetPicker(5, 'sequential', () => x++, 1, 2);
  assert.deepEqual([pick(), pick(), pick()], [1, 3, 0]);
});

test('the body carries the entry\'s messages as they are; model, max_tokens and stream options are the harness\'s', () => {
  const t: RequestTemplate = { url: 'http://x/v1/chat/completions', headers: {}, endpoint: 'chat', stream: true, extraBody: { top_k: 3 }, ignoreEos: true, continuousUsageStats: false, timeouts: { connectMs: 1, ttftMs: 1, totalMs: 1 }, promptShape: { tokensPerWord: 1, overheadTokens: 0 }, seed: 1 };
  const messages = [{ role: 'system', content: 's' }, { role: 'user', content: `q ${CANARY}` }];
  const body = JSON.parse(buildDatasetBody(t, { id: 0, key: 'o0', stage: 0, phase: 'measure', intendedMs: 0, promptTokens: 5, outputTokens: 9, model: 'm', tenant: undefined, user: undefined, dataset: 0 }, messages));
  assert.deepEqual(body, { top_k: 3, model: 'm', messages, max_tokens: 9, ignore_eos: true, min_tokens: 9, stream: true, stream_options: { include_usage: true } });
});
