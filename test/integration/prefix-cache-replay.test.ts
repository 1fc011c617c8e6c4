/**
 * Prefix caching end to end: runScenario against an in-process simulated vLLM worker (prefix
 * caching on, sped up). A Mooncake trace whose requests share leading hash ids
 * (test/fixtures/traces/prefix-cache-mooncake.jsonl, read by the scenario loader) gives the worker exactly the prefix-cache hits the trace implies; a synthetic `shared_prefix` scenario
 * gives hits, the same scenario without it none. The replay sends at the trace's times; a trace
 * without times is dealt to closed-loop users, or sent all at once.
 *
 * Expected hits, exactly: the worker counts hits in tokens of whole 16-token KV blocks, from the
 * first token of the templated prompt (kv-cache-manager.ts: a request's hit is the longest run of
 * cached full blocks, capped at its token count - 1). A chat prompt starts with 5 template tokens
 * (BOS, header start, role, header end, newlines), then the content. Two requests sharing k
 * leading 512-token blocks share 5 + 512k tokens; floor((5 + 512k) / 16) * 16 = 512k. Each
 * request is sent after the ones before it have finished, so it hits the longest shared prefix
 * of any earlier request.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import type { Scenario } from '../../harness/scenario/scenario-types.ts';
import type { TraceRequest } from '../../harness/workload/traces/trace-types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-prefix-'));
const workers: SimWorker[] = [];
after(async () => {
  await Promise.all(workers.map((w) => w.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function worker(): Promise<SimWorker> {
  const w = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, enablePrefixCaching: true });
  workers.push(w);
  return w;
}

async function prefixCounters(w: SimWorker): Promise<{ queries: number; hits: number }> {
  const text = await w.engine.metricsText();
  const read = (name: string): number => {
    let sum = 0;
    let seen = false;
    for (const line of text.split('\n')) {
      const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (m && m[1] === name) {
        sum += Number(m[3]);
        seen = true;
      }
    }
    assert.ok(seen, `${name} is exposed`);
    return sum;
  };
  return { queries: read('vllm:prefix_cache_queries_total'), hits: read('vllm:prefix_cache_hits_total') };
}

function scenarioFor(w: SimWorker, name: string, workload: string, load: string): Scenario {
  return parseScenario(`name: ${name}\nseed: 21\ntarget: {url: "${w.url}", model: ${w.engine.modelName}}\nworkload: ${workload}\n${load ? `load: ${load}\n` : ''}`, path.join(tmp, `${name}.yaml`), { env: {} });
}

/** Tokens of content shared by two requests, from their blocks (words = tokens here) and content lengths. */
function sharedContent(a: TraceRequest, b: TraceRequest, overhead: number, blockTokens: number): number {
  const wordsA = a.inputTokens - overhead;
  const wordsB = b.inputTokens - overhead;
  let shared = 0;
  const ids = Math.min(a.hashIds!.length, b.hashIds!.length);
  for (let i = 0; i < ids && a.hashIds![i] === b.hashIds![i]; i++) {
    const inA = Math.min(blockTokens, wordsA - i * blockTokens);
    const inB = Math.min(blockTokens, wordsB - i * blockTokens);
    if (inA <= 0 || inB <= 0) break;
    shared += Math.min(inA, inB);
    if (inA !== inB) break; // a cut block: the shorter is the start of the longer, then they part
  }
  return shared;
}

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/traces');

test('Mooncake replay: the worker hits exactly the shared hash-id blocks; sends at the trace times (after speed); lengths as planned', async () => {
  const w = await worker();
  const BLOCK = 512;
  const file = path.join(FIXTURES, 'prefix-cache-mooncake.jsonl');
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { timestamp: number; input_length: number; output_length: number; hash_ids: number[] });
  const sc = scenarioFor(w, 'replay', `{trace: {format: mooncake, file: ${JSON.stringify(file)}, speed: 2}}`, '');
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'replay'), onRecord: (r) => records.push(r) });
  assert.equal(out.summary.requests.ok, rows.length, out.reasons.join('; '));
  assert.equal(out.summary.prompts.overhead_tokens, 10);
  assert.equal(out.summary.prompts.tokens_per_word, 1);

  // What the trace implies: each request shares its longest leading run of hash ids with an
  // earlier request; counting only ids before either request's last one (a last block is cut to
  // the input length), those are full 512-token blocks. `modelled` is the general rule (cut
  // blocks, 16-token KV blocks, the 5 template tokens); on this trace the two agree.
  const asRow = (r: (typeof rows)[number]): TraceRequest => ({ tMs: r.timestamp, inputTokens: r.input_length, outputTokens: r.output_length, hashIds: r.hash_ids, line: 0 });
  let implied = 0;
  let modelled = 0;
  rows.forEach((r, i) => {
    let best = 0;
    let k = 0;
    for (let j = 0; j < i; j++) {
      best = Math.max(best, sharedContent(asRow(r), asRow(rows[j]!), 10, BLOCK));
      let n = 0;
      while (n < Math.min(r.hash_ids.length, rows[j]!.hash_ids.length) - 1 && r.hash_ids[n] === rows[j]!.hash_ids[n]) n++;
      k = Math.max(k, n);
    }
    modelled += Math.floor(Math.min(5 + best, r.input_length - 1) / 16) * 16;
    implied += k * BLOCK;
  });
  assert.equal(implied, (2 + 1 + 0 + 2 + 0) * BLOCK);
  assert.equal(modelled, implied);
  const c = await prefixCounters(w);
  assert.equal(c.hits, implied, `prefix-cache hits ${c.hits}, the trace implies ${implied}`);
  // Queries are the prompts' tokens at admission: the planned lengths, exactly.
  assert.equal(c.queries, rows.reduce((s, r) => s + r.input_length, 0));

  // Send times: intended = the trace's time / speed; sent - intended is the schedule lag.
  records.sort((a, b) => a.id - b.id);
  assert.deepEqual(records.map((r) => r.intendedMs), rows.map((r) => r.timestamp / 2));
  for (const r of records) {
    assert.equal(r.scheduleLagMs, Math.max(0, r.sentMs - r.intendedMs));
    assert.equal(r.plannedPromptTokens, rows[r.id]!.input_length);
    assert.equal(r.promptTokens, rows[r.id]!.input_length, 'the server counted the planned prompt');
    assert.equal(r.plannedOutputTokens, rows[r.id]!.output_length);
  }
});

test('a trace without times: closed loop deals the rows to the users in order; all at once sends every row at 0', async () => {
  const w = await worker();
  const file = path.join(FIXTURES, 'prefix-cache-untimed.jsonl');
  const inputs = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { input: number }).input);
  const trace = (mode: string) => `{trace: {format: jsonl, file: ${JSON.stringify(file)}, fields: {input_tokens: input, output_tokens: output, session: session}, no_timestamps: ${mode}}}`;

  const closed: RequestRecord[] = [];
  const c = await runScenario(scenarioFor(w, 'closed-trace', trace('closed_loop'), '{drain: 20s, stages: [{duration: 20s, users: 3}]}'), {
    threads: 0, allowSaturated: true, outDir: path.join(tmp, 'closed-trace'), onRecord: (r) => closed.push(r),
  });
  assert.equal(c.summary.requests.ok, inputs.length, c.reasons.join('; '));
  for (let u = 0; u < 3; u++) {
    const mine = closed.filter((r) => r.user === u).sort((a, b) => a.sentMs - b.sentMs);
    assert.deepEqual(mine.map((r) => r.plannedPromptTokens), inputs.filter((_, i) => i % 3 === u), `user ${u} sends rows ${u}, ${u + 3}, ...`);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.sentMs >= mine[i - 1]!.endMs, 'a user waits for its last request');
  }
  assert.ok(c.summary.duration_s < 10, `the run ends when the rows run out (${c.summary.duration_s} s)`);

  const all: RequestRecord[] = [];
  const a = await runScenario(scenarioFor(w, 'all-trace', trace('all_at_once'), '{drain: 20s, stages: [{duration: 1s}]}'), {
    threads: 0, allowSaturated: true, outDir: path.join(tmp, 'all-trace'), onRecord: (r) => all.push(r),
  });
  assert.equal(a.summary.requests.ok, inputs.length, a.reasons.join('; '));
  all.sort((x, y) => x.id - y.id);
  assert.deepEqual(all.map((r) => r.intendedMs), inputs.map(() => 0));
  assert.deepEqual(all.map((r) => r.plannedPromptTokens), inputs);
});

test('synthetic shared_prefix: hits for every request after the first of its group; none without shared_prefix', async () => {
  const load = '{arrival: constant, drain: 20s, stages: [{duration: 1s, rate: 16}]}';
  const withPrefix = async () => {
    const w = await worker();
    const sc = scenarioFor(w, 'shared', '{prompt_tokens: 700, output_tokens: 4, shared_prefix: {groups: 3, tokens: 512, share: 0.75}}', load);
    const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'shared') });
    assert.equal(out.summary.requests.ok, 16, out.reasons.join('; '));
    const plan = buildPlan(sc);
    const keys = plan.open.map((p) => p.prompt?.shared[0]?.key).filter((k): k is string => k !== undefined);
    assert.ok(keys.length > 6 && keys.length < 16, `${keys.length} of 16 requests with a prefix`);
    // 5 template tokens + 512 prefix words: 32 full blocks of 16 = 512 tokens, for each repeat of a group.
    return { counters: await prefixCounters(w), expected: 512 * (keys.length - new Set(keys).size) };
  };
  const without = async () => {
    const w = await worker();
    const sc = scenarioFor(w, 'plain', '{prompt_tokens: 700, output_tokens: 4}', load);
    const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'plain') });
    assert.equal(out.summary.requests.ok, 16, out.reasons.join('; '));
    return prefixCounters(w);
  };
  const a = await withPrefix();
  assert.ok(a.expected >= 512 * 4, `expected ${a.expected}`);
  assert.equal(a.counters.hits, a.expected);
  assert.equal(a.counters.queries, 16 * 700);
  const b = await without();
  assert.equal(b.hits, 0);
  assert.equal(b.queries, 16 * 700);
});
