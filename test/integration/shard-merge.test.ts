/**
 * Distributed load end to end (docs/distributed.md): one scenario against one simulated stack on
 * loopback, run unsplit, then as 4 shards (concurrently, in this process, with a common start),
 * merged with mergeRuns. The merged counts equal the unsplit run's; the merged percentiles equal
 * those of the union of the shards' requests.jsonl within the histogram's precision; the merged
 * folder is a complete run folder; bad merges get their FG_MERGE_* codes and write nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario, type RunOutcome } from '../../harness/run/run-scenario.ts';
import { mergeRuns } from '../../harness/shard/merge-runs.ts';
import { readRequestLines, type RequestLine } from '../../harness/report/run-data.ts';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { FloodgateError } from '../../harness/errors.ts';
import type { Summary } from '../../harness/metrics/summary.ts';
import type { MergedShardInfo, ShardRunInfo } from '../../harness/shard/shard-types.ts';

const STACK_FILE = fileURLToPath(new URL('../fixtures/stacks/two-small-kv.yaml', import.meta.url));

const N = 4;
let stack: RunningStack;
let tmp = '';
let unsplit: RunOutcome;
let shards: RunOutcome[] = [];
let shardDirs: string[] = [];

function scenario(name: string, seed = 7) {
  return parseScenario(
    `name: ${name}
seed: ${seed}
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro}
workload: {prompt_tokens: {dist: uniform, min: 20, max: 300}, output_tokens: {dist: uniform, min: 4, max: 24}}
load: {arrival: poisson, stages: [{name: a, duration: 1s, rate: 20}, {name: b, duration: 1s, rate: 30}]}
thresholds: ["error_rate < 1%", "ttft.p50 < 1us"]
`,
    path.join(tmp, `${name}.yaml`),
  );
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-shard-'));
  stack = await startStack(loadStack(STACK_FILE), { port: 0, usageDbPath: ':memory:', timeScale: 4 });
  unsplit = await runScenario(scenario('sharded'), { outDir: path.join(tmp, 'unsplit'), threads: 0, allowSaturated: true });
  // The 4 shards at once, against the same stack, with a common start a moment ahead.
  const startAtMs = Date.now() + 3000;
  shardDirs = Array.from({ length: N }, (_, i) => path.join(tmp, `run`, `shard-${i}`));
  shards = await Promise.all(
    shardDirs.map((dir, i) => runScenario(scenario('sharded'), { outDir: dir, threads: 0, allowSaturated: true, shard: { index: i, count: N }, startAtMs })),
  );
});

after(async () => {
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function lines(dir: string): RequestLine[] {
  return readRequestLines(path.join(dir, 'requests.jsonl'));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FloodgateError ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

/** Nearest-rank percentile (as HDR computes it: the value at rank ceil(p/100 * n)). */
function exactPercentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

test('each shard sends its share, records its shard block, and a failed threshold does not fail it', () => {
  const plan = unsplit.summary.requests.total;
  assert.ok(plan > 20, `the plan has requests (${plan})`);
  assert.equal(unsplit.exitCode, 1, 'the unsplit run fails the impossible threshold');
  let sum = 0;
  shards.forEach((s, i) => {
    const info = s.summary.shard as ShardRunInfo;
    assert.equal(info.index, i);
    assert.equal(info.count, N);
    assert.equal(info.thresholds_enforced, false);
    assert.equal(info.planned_requests.plan, plan);
    assert.equal(info.plan_hash, (shards[0]!.summary.shard as ShardRunInfo).plan_hash);
    assert.equal(s.summary.started_at, info.start_at, 'the run clock starts at the common start');
    // Thresholds reported (the impossible one fails), but the shard exits 0.
    assert.equal(s.summary.thresholds.find((t) => t.expr === 'ttft.p50 < 1us')?.pass, false);
    assert.equal(s.exitCode, 0, s.reasons.join('; '));
    assert.ok(lines(shardDirs[i]!).every((r) => r.id % N === i), `shard ${i} sent only requests k with k mod ${N} = ${i}`);
    sum += s.summary.requests.total;
  });
  assert.equal(sum, plan);
});

test('merge: counts equal the unsplit run, percentiles equal the union of the shards within HDR precision', () => {
  const out = path.join(tmp, 'run', 'merged');
  const m = mergeRuns(shardDirs, { outDir: out });
  const s = m.summary;
  const u = unsplit.summary;
  assert.equal(m.exitCode, 1, 'the impossible threshold fails on the merged run');
  assert.deepEqual(s.thresholds.map((t) => [t.expr, t.pass]), [['error_rate < 1%', true], ['ttft.p50 < 1us', false]]);
  // Counts: deterministic from the plan.
  assert.deepEqual(s.requests, u.requests);
  assert.deepEqual(s.stages.map((st) => [st.name, st.requests.total, st.requests.ok]), u.stages.map((st) => [st.name, st.requests.total, st.requests.ok]));
  assert.equal(s.tokens.output, u.tokens.output);
  assert.deepEqual(Object.keys(s.by_model), Object.keys(u.by_model));
  assert.equal(s.by_model['tiny']!.requests.total, u.by_model['tiny']!.requests.total);
  assert.equal(s.latency_ms.ttft.count, u.latency_ms.ttft.count);
  assert.equal(s.latency_ms.itl.count, u.latency_ms.itl.count, 'one ITL per output token after the first, as planned');
  // requests.jsonl: the same requests, ids and intended times as the unsplit run's.
  const merged = lines(out) as Array<RequestLine & { shard: number }>;
  const plain = lines(unsplit.runDir);
  const key = (r: RequestLine) => `${r.id}@${r.intended_ms}/${r.planned_prompt_tokens}/${r.planned_output_tokens}/${r.stage}`;
  assert.deepEqual(merged.map(key).sort(), plain.map(key).sort());
  for (let k = 1; k < merged.length; k++) assert.ok(merged[k - 1]!.intended_ms! <= merged[k]!.intended_ms!, 'sorted by intended send time');
  assert.ok(merged.every((r) => r.shard === r.id % N));
  // Percentiles: the merged histograms vs the exact percentiles of the union of the shards' lines.
  const measured = merged.filter((r) => r.ok && r.phase === 'measure');
  for (const [metric, field] of [['ttft', 'ttft_ms'], ['e2e', 'e2e_ms']] as const) {
    const values = measured.map((r) => r[field]!).sort((a, b) => a - b);
    const st = s.latency_ms[metric];
    assert.equal(st.count, values.length);
    for (const p of [50, 90, 95, 99] as const) {
      const exact = exactPercentile(values, p);
      const got = st[`p${p}`]!;
      // 3 significant digits (<= 0.1%), plus the microsecond rounding of requests.jsonl.
      assert.ok(Math.abs(got - exact) <= exact * 0.001 + 0.002, `${metric}.p${p}: merged ${got}, exact ${exact}`);
    }
    assert.ok(Math.abs(st.max! - values[values.length - 1]!) <= 0.001);
    assert.ok(Math.abs(st.mean! - values.reduce((a, b) => a + b, 0) / values.length) <= 0.001);
  }
  // ITL: requests.jsonl holds each request's mean and max gap, not every gap.
  const itlMax = Math.max(...measured.map((r) => r.itl_max_ms ?? 0));
  assert.ok(Math.abs(s.latency_ms.itl.max! - itlMax) <= 0.001, `itl.max ${s.latency_ms.itl.max} vs ${itlMax}`);
  assert.equal(s.latency_ms.itl.count, shards.reduce((a, sh) => a + sh.summary.latency_ms.itl.count, 0));
  // Throughput over the common window.
  const window = Math.max(...shards.map((sh) => sh.summary.window_s));
  assert.ok(Math.abs(s.window_s - window) < 1e-9);
  assert.ok(Math.abs(s.throughput.requests_per_s! - s.requests.ok / window) < 1e-9);
  // The time series: counts add up to the run's.
  const series = JSON.parse(fs.readFileSync(path.join(out, 'timeseries.json'), 'utf8')) as Array<{ sent: number; ok: number; target: number | null }>;
  assert.equal(series.reduce((a, p) => a + p.sent, 0), u.requests.total);
  assert.equal(series.reduce((a, p) => a + (p.target ?? 0), 0), u.requests.total);
  // The merged folder: a complete run folder with its reports; the shard block says what merged.
  for (const f of ['summary.json', 'requests.jsonl', 'timeseries.json', 'report.html', 'summary.md', 'junit.xml']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const info = s.shard as MergedShardInfo;
  assert.equal(info.merged_from, N);
  assert.deepEqual(info.indices, [0, 1, 2, 3]);
  assert.equal(info.partial, false);
  assert.ok(info.shards.every((e) => e.offset_ms === 0), 'a common start: one clock');
  assert.equal(s.complete, true);
  const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
  assert.deepEqual(onDisk.requests, s.requests);
  assert.match(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'), /ttft\.p50 &lt; 1us|ttft\.p50 < 1us/);
  // Merging again into the same folder (an earlier merge's) is fine.
  assert.equal(mergeRuns(shardDirs, { outDir: out }).summary.requests.total, u.requests.total);
});

test('merge refuses: a missing shard, a duplicated index, a shard of another plan, a plain run; nothing written', async () => {
  const out = path.join(tmp, 'bad-merge');
  assert.equal(codeOf(() => mergeRuns(shardDirs.slice(0, 3), { outDir: out })), 'FG_MERGE_MISSING_SHARD');
  assert.equal(codeOf(() => mergeRuns([...shardDirs, shardDirs[2]!], { outDir: out })), 'FG_MERGE_DUPLICATE_SHARD');
  assert.equal(codeOf(() => mergeRuns([...shardDirs.slice(0, 3), unsplit.runDir], { outDir: out })), 'FG_MERGE_NOT_A_SHARD');
  assert.equal(codeOf(() => mergeRuns([], { outDir: out })), 'FG_MERGE_NO_INPUT');
  assert.equal(codeOf(() => mergeRuns(shardDirs, { outDir: shardDirs[0]! })), 'FG_MERGE_OUT_DIR');
  // A shard of the same scenario with another seed: another plan.
  const other = await runScenario(scenario('sharded', 8), { outDir: path.join(tmp, 'other-3'), threads: 0, allowSaturated: true, shard: { index: 3, count: N } });
  assert.equal(other.exitCode, 0, other.reasons.join('; '));
  const mismatch = codeOf(() => mergeRuns([...shardDirs.slice(0, 3), other.runDir], { outDir: out }));
  assert.equal(mismatch, 'FG_MERGE_MISMATCH');
  try {
    mergeRuns([...shardDirs.slice(0, 3), other.runDir], { outDir: out });
  } catch (e) {
    assert.match((e as Error).message, /scenario\.seed is 8, but 7/);
  }
  assert.equal(fs.existsSync(out), false, 'nothing written');
  // --allow-partial: merged, marked partial and incomplete.
  const partial = mergeRuns(shardDirs.slice(0, 3), { outDir: out, allowPartial: true });
  const info = partial.summary.shard as MergedShardInfo;
  assert.deepEqual(info.missing, [3]);
  assert.equal(partial.summary.complete, false);
  assert.equal(partial.summary.requests.total, shards.slice(0, 3).reduce((a, s) => a + s.summary.requests.total, 0));
});

test('closed loop with conversations: users split u mod N, whole conversations per shard, counts merged', async () => {
  const sc = parseScenario(
    `name: closed-shards
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro}
workload: {prompt_tokens: 40, output_tokens: 4, conversation: {turns: 2}}
load: {stages: [{duration: 1s, users: 5}]}
`,
    path.join(tmp, 'closed-shards.yaml'),
  );
  const startAtMs = Date.now() + 2500;
  const dirs = [0, 1].map((i) => path.join(tmp, 'closed', `shard-${i}`));
  // One shard on the main thread, one on a client thread: users keep their indices on both.
  const outs = await Promise.all(dirs.map((dir, i) => runScenario(sc, { outDir: dir, threads: i, allowSaturated: true, shard: { index: i, count: 2 }, startAtMs })));
  outs.forEach((o, i) => {
    assert.equal(o.exitCode, 0, o.reasons.join('; '));
    const users = new Set(lines(dirs[i]!).map((r) => r.user));
    assert.deepEqual([...users].sort(), i === 0 ? [0, 2, 4] : [1, 3]);
  });
  const m = mergeRuns(dirs, { outDir: path.join(tmp, 'closed', 'merged') });
  assert.equal(m.summary.requests.total, outs[0]!.summary.requests.total + outs[1]!.summary.requests.total);
  const c = m.summary.conversations!;
  assert.equal(c.started, outs[0]!.summary.conversations!.started + outs[1]!.summary.conversations!.started);
  assert.equal(c.completed, outs[0]!.summary.conversations!.completed + outs[1]!.summary.conversations!.completed);
  assert.equal(c.ttft_ms_by_turn['1']!.count, outs[0]!.summary.conversations!.ttft_ms_by_turn['1']!.count + outs[1]!.summary.conversations!.ttft_ms_by_turn['1']!.count);
});
