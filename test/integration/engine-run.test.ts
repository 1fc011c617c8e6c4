/**
 * The harness end to end, in process: scenario -> plan -> engine -> records -> summary, against
 * the scripted OpenAI-style server on loopback. Checks counts, error codes, closed-loop and
 * max_in_flight limits, interruption and the drain deadline.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { AWKWARD_SCRIPTS, AWKWARD, startScriptedServer, type ScriptedServer } from '../fixtures/servers/scripted-sse-server.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-engine-'));
const servers: ScriptedServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function server(opts: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const s = await startScriptedServer({ models: ['m'], ...opts });
  servers.push(s);
  return s;
}

function scenario(url: string, body: string, name = 'engine-test') {
  return parseScenario(`name: ${name}\ntarget: {url: "${url}", model: m}\n${body}`, path.join(tmp, `${name}.yaml`));
}

/** Highest number of requests whose [sent, end] intervals overlap. */
function maxOverlap(records: RequestRecord[]): number {
  const ev: Array<[number, number]> = [];
  for (const r of records) ev.push([r.sentMs, 1], [r.endMs, -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of ev) max = Math.max(max, (cur += d));
  return max;
}

test('open-loop run: every planned request is sent once, measured, and written without content', async () => {
  const s = await server({ tokenizeOverhead: 1, defaultScript: { kind: 'stream', ttftMs: 5, gapMs: 2, chunks: 8, tokensPerChunk: 2, continuousUsage: true, headers: { 'x-queue-ms': '1.5' } } });
  const sc = scenario(s.url, `workload: {prompt_tokens: {dist: uniform, min: 20, max: 60}, output_tokens: 16}
load: {arrival: constant, stages: [{duration: 1s, rate: 40}]}
slo: {ttft: 10s}
thresholds: ["error_rate < 1%", "ttft.p95 < 10s"]`);
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'open'), onRecord: (r) => records.push(r) });
  assert.equal(out.exitCode, 0, out.reasons.join('; '));
  assert.equal(records.length, 40);
  assert.equal(s.requestCount(), 40);
  assert.deepEqual(new Set(records.map((r) => r.id)).size, 40);
  const sum = out.summary;
  assert.equal(sum.requests.total, 40);
  assert.equal(sum.requests.ok, 40);
  assert.equal(sum.prompts.source, 'server');
  assert.equal(sum.prompts.exact, true);
  assert.equal(sum.prompts.overhead_tokens, 1);
  // 8 chunks of 2 tokens: 14 ITL values per request (the first chunk's 2nd token is in TTFT).
  assert.equal(sum.latency_ms.itl.count, 40 * 14);
  assert.equal(sum.latency_ms.inter_chunk.count, 40 * 7);
  assert.equal(sum.latency_ms.queue.p50, 1.5);
  assert.equal(sum.tokens.output, 40 * 16);
  assert.equal(sum.goodput.fraction, 1);
  assert.deepEqual(sum.thresholds.map((t) => t.pass), [true, true]);
  for (const key of ['schema_version', 'scenario', 'target', 'started_at', 'duration_s', 'requests', 'errors', 'throughput', 'goodput', 'latency_ms', 'client', 'server', 'stages', 'by_tenant', 'by_model', 'thresholds']) {
    assert.ok(key in sum, `summary.json has ${key}`);
  }
  // The planned prompt lengths are what the server counted (one token per word + overhead).
  const files = fs.readdirSync(path.join(tmp, 'open')).sort();
  assert.deepEqual(files, ['junit.xml', 'report.html', 'requests.jsonl', 'summary.json', 'summary.md', 'timeseries.json']);
  const lines = fs.readFileSync(path.join(tmp, 'open', 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 40);
  for (const l of lines) {
    for (const k of Object.keys(l)) assert.ok(!/prompt$|messages|content|text/.test(k), `no content field (${k})`);
    assert.ok(String(JSON.stringify(l)).length < 1000, 'a line holds timings and counts only');
  }
});

test('every awkward server gives its error code and count, and the run goes on', async () => {
  const kinds = [AWKWARD.reset, AWKWARD.truncated, AWKWARD.rateLimited, AWKWARD.serverError, AWKWARD.invalidJson, AWKWARD.errorObject, AWKWARD.silent];
  const ok = { kind: 'stream' as const, ttftMs: 2, gapMs: 1, chunks: 4 };
  const s = await server({ cycle: [ok, ...kinds.map((k) => AWKWARD_SCRIPTS[k]!)] });
  const sc = parseScenario(`name: awkward
target: {url: "${s.url}", model: m, timeouts: {ttft: 400ms, total: 5s}}
workload: {prompt_tokens: 10, output_tokens: 4}
load: {arrival: constant, max_in_flight: 1, stages: [{duration: 1s, rate: 24}]}`, path.join(tmp, 'awkward.yaml'));
  const out = await runScenario(sc, { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'awkward') });
  const sum = out.summary;
  assert.equal(sum.requests.total, 24);
  assert.equal(sum.requests.ok, 3);
  assert.equal(sum.requests.failed, 21);
  assert.deepEqual(
    Object.fromEntries(Object.entries(sum.errors).sort()),
    { connection_reset: 3, http_429: 3, http_500: 3, invalid_response: 3, mid_stream_error: 3, stream_truncated: 3, timeout_ttft: 3 },
  );
  assert.equal(sum.http_status['429'], 3);
  assert.equal(sum.error_rate, 21 / 24);
});

test('closed loop: never more requests in flight than users, each user one at a time', async () => {
  const s = await server({ defaultScript: { kind: 'stream', ttftMs: 3, gapMs: 2, chunks: 5 } });
  const sc = scenario(s.url, `workload: {prompt_tokens: 10, output_tokens: 5}
load: {stages: [{duration: 1s, users: 4, think_time: {min: 1ms, max: 5ms}}]}`);
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'closed'), onRecord: (r) => records.push(r) });
  assert.equal(out.summary.requests.failed, 0);
  assert.ok(records.length > 8, `users kept sending (${records.length})`);
  assert.ok(maxOverlap(records) <= 4);
  for (let u = 0; u < 4; u++) {
    const mine = records.filter((r) => r.user === u).sort((a, b) => a.sentMs - b.sentMs);
    assert.ok(mine.length > 0, `user ${u} sent`);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.sentMs >= mine[i - 1]!.endMs, 'a user waits for its last request');
  }
  assert.equal(maxOverlap(records.filter((r) => r.user === 0)), 1);
});

test('max_in_flight: wait keeps every request and the cap; drop drops the excess', async () => {
  const s = await server({ defaultScript: { kind: 'stream', ttftMs: 40, gapMs: 5, chunks: 4 } });
  const body = (policy: string) => `workload: {prompt_tokens: 10, output_tokens: 4}
load: {arrival: constant, max_in_flight: 2, on_max_in_flight: ${policy}, stages: [{duration: 500ms, rate: 40}]}`;
  const waited: RequestRecord[] = [];
  const w = await runScenario(scenario(s.url, body('wait'), 'cap-wait'), { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'wait'), onRecord: (r) => waited.push(r) });
  assert.equal(w.summary.requests.ok, 20);
  assert.equal(w.summary.requests.dropped, 0);
  assert.ok(maxOverlap(waited) <= 2);
  assert.ok(waited.some((r) => r.capWaitMs > 0), 'some requests waited for a slot');
  const dropped: RequestRecord[] = [];
  const d = await runScenario(scenario(s.url, body('drop'), 'cap-drop'), { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'drop'), onRecord: (r) => dropped.push(r) });
  assert.ok(d.summary.requests.dropped > 0);
  assert.equal(d.summary.requests.ok + d.summary.requests.dropped, 20);
  assert.equal(d.summary.requests.total, 20);
  assert.ok(maxOverlap(dropped) <= 2);
});

test('interrupt: sending stops, in-flight requests finish, the summary is marked incomplete', async () => {
  const s = await server({ defaultScript: { kind: 'stream', ttftMs: 5, gapMs: 5, chunks: 10 } });
  const sc = scenario(s.url, `workload: {prompt_tokens: 10, output_tokens: 10}
load: {arrival: constant, stages: [{duration: 60s, rate: 20}]}`, 'interrupt');
  const ctl = new AbortController();
  let seen = 0;
  const out = await runScenario(sc, {
    threads: 0,
    outDir: path.join(tmp, 'interrupt'),
    signal: ctl.signal,
    onRecord: () => {
      if (++seen === 5) ctl.abort();
    },
  });
  assert.equal(out.summary.interrupted, true);
  assert.equal(out.summary.complete, false);
  assert.equal(out.exitCode, 3);
  assert.ok(out.summary.requests.total < 1200);
  assert.equal(out.summary.requests.failed, 0, 'in-flight requests were allowed to finish');
  assert.ok(fs.existsSync(path.join(tmp, 'interrupt', 'summary.json')));
});

test('drain deadline: requests still in flight after the drain period are aborted', async () => {
  const s = await server({ defaultScript: { kind: 'silent' } });
  const sc = scenario(s.url, `workload: {prompt_tokens: 10, output_tokens: 10}
load: {arrival: constant, drain: 100ms, stages: [{duration: 200ms, rate: 10}]}`, 'drain');
  const out = await runScenario(sc, { allowSaturated: true, threads: 0, outDir: path.join(tmp, 'drain') });
  assert.equal(out.summary.requests.failed, 2);
  assert.deepEqual(out.summary.errors, { aborted: 2 });
  assert.equal(out.summary.client.aborted_at_end, 2);
});

test('client threads: a run on worker threads gives the same counts as on the main thread', async () => {
  const s = await server({ defaultScript: { kind: 'stream', ttftMs: 2, gapMs: 1, chunks: 3 } });
  const sc = scenario(s.url, `workload: {prompt_tokens: 10, output_tokens: 3}
load: {arrival: poisson, stages: [{duration: 1s, rate: 30}, {duration: 500ms, users: 2}]}`, 'threads');
  const out = await runScenario(sc, { allowSaturated: true, threads: 2, outDir: path.join(tmp, 'threads') });
  const planned = (await import('../../harness/workload/plan.ts')).buildPlan(sc).open.length;
  assert.equal(out.summary.stages[0]!.requests.ok, planned);
  assert.ok(out.summary.stages[1]!.requests.ok > 0);
  assert.equal(out.summary.requests.failed, 0);
  assert.equal(out.summary.client.threads, 2);
});
