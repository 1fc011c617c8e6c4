/**
 * `harness run --shard I/N --start-at TIME` and `harness merge` as a user runs them (child
 * processes): bad --shard and --start-at are refused with exit 2 and a coded message, nothing
 * sent; two shards with a common start merge into one run folder; a bad merge exits 2.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../fixtures/servers/scripted-sse-server.ts';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-shard-cli-'));
let srv: ScriptedServer;

before(async () => {
  srv = await startScriptedServer({ models: ['m'], tokenizeOverhead: 0, defaultScript: { kind: 'stream', ttftMs: 3, gapMs: 1, chunks: 4 } });
});
after(async () => {
  await srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const harness = (args: string[]): Promise<CliResult> => runHarness(args, { cwd: tmp });

const scenarioFile = () => {
  const f = path.join(tmp, 'sharded.yaml');
  fs.writeFileSync(f, `name: sharded
target: {model: m}
workload: {prompt_tokens: 20, output_tokens: 4}
load: {arrival: constant, stages: [{duration: 1s, rate: 10}]}
thresholds: ["error_rate < 1%"]
`);
  return f;
};

test('run --shard 5/4 and --shard 1 are refused: exit 2, a coded message, nothing sent', async () => {
  const f = scenarioFile();
  for (const bad of ['5/4', '1', '4/4']) {
    const r = await harness(['run', f, '--target', srv.url, '--shard', bad, '-q', '--metrics-listen', 'off']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /FG_SHARD_BAD_SPEC/);
    assert.match(r.stderr, new RegExp(`--shard.*${bad.replace('/', '\\/')}`));
  }
  assert.equal(srv.requestCount(), 0);
});

test('run --start-at: not a time, a time without zone, or long past: exit 2, nothing sent', async () => {
  const f = scenarioFile();
  const cases: Array<[string, RegExp]> = [
    ['yesterday', /FG_SHARD_BAD_START_AT.*yesterday/],
    ['2026-03-01T12:00:00', /FG_SHARD_BAD_START_AT.*no zone/],
    ['now+soon', /FG_SHARD_BAD_START_AT/],
    ['2000-01-01T00:00:00Z', /FG_SHARD_START_PAST.*2000-01-01T00:00:00\.000Z/],
  ];
  for (const [value, re] of cases) {
    const r = await harness(['run', f, '--target', srv.url, '--shard', '0/2', '--start-at', value, '-q', '--metrics-listen', 'off', '--out', path.join(tmp, 'never')]);
    assert.equal(r.code, 2, `${value}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(srv.requestCount(), 0);
  assert.equal(fs.existsSync(path.join(tmp, 'never')), false, 'no run folder');
});

test('two shards with a common start, then harness merge: one run folder, exit 0; a missing shard: exit 2', async () => {
  const f = scenarioFile();
  const before = srv.requestCount();
  const dirs = [0, 1].map((i) => path.join(tmp, 'dist', `shard-${i}`));
  const runs = await Promise.all(
    dirs.map((d, i) => harness(['run', f, '--target', srv.url, '--shard', `${i}/2`, '--start-at', 'now+3s', '--out', d, '-q', '--metrics-listen', 'off', '--allow-saturated', '--threads', '0'])),
  );
  runs.forEach((r, i) => {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`shard ${i}/2: waiting for the common start`));
  });
  // Each shard sent its half of the 10 planned requests (plus its own calibration probes).
  assert.ok(srv.requestCount() - before >= 10);
  const totals = dirs.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'summary.json'), 'utf8')).requests.total as number);
  assert.deepEqual(totals, [5, 5]);
  const out = path.join(tmp, 'dist', 'merged');
  const m = await harness(['merge', ...dirs, '--out', out]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /merged 2 shards/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.requests.total, 10);
  assert.equal(summary.shard.merged_from, 2);
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  const missing = await harness(['merge', dirs[0]!, '--out', path.join(tmp, 'dist', 'merged-2')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /FG_MERGE_MISSING_SHARD.*shard 1 of 2 missing/);
});
