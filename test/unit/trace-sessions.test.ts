/**
 * `workload.trace.sessions: conversation` (docs/scenarios.md, "Sessions as conversations"): the
 * settings are accepted or refused at the right line, the plan turns each session's rows into one
 * conversation (turn 1 in `open`, later rows in time order on it, turns numbered, rows without a
 * session one-turn conversations), shards keep a session whole and their union is the plan, and
 * the k6 export lists what it cannot do.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan, type PlannedRequest } from '../../harness/workload/plan.ts';
import { planFingerprint, shardPlan } from '../../harness/shard/shard-plan.ts';
import { exportK6 } from '../../harness/export/k6-script.ts';
import { issueKey, issuesOf } from '../fixtures/config-issues.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-trace-sessions-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Session a: 3 rows, b: 2 rows, c: 1 row, and one row without a session (times in ms).
const ROWS = [
  { t: 0, in: 40, out: 8, sid: 'a' },
  { t: 20, in: 30, out: 10, sid: 'b' },
  { t: 50, in: 30, out: 5 },
  { t: 60, in: 25, out: 4, sid: 'c' },
  { t: 100, in: 200, out: 8, sid: 'a' },
  { t: 150, in: 400, out: 6, sid: 'a' },
  { t: 300, in: 90, out: 5, sid: 'b' },
];
fs.writeFileSync(path.join(tmp, 'sessions.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
fs.writeFileSync(path.join(tmp, 'nosessions.jsonl'), ROWS.map(({ sid: _sid, ...r }) => JSON.stringify(r)).join('\n') + '\n');

const FIELDS = '{time: t, time_unit: ms, input_tokens: in, output_tokens: out, session: sid}';
const load = (yaml: string) => parseScenario(yaml, path.join(tmp, 'scenario.yaml'), { env: {} });
const scenario = (trace: string, target = '{model: m}') => `name: sess\ntarget: ${target}\nworkload:\n  trace:\n${trace}`;

test('sessions: conversation is accepted with a session field; history defaults to included', () => {
  const s = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n`));
  assert.equal(s.workload.trace!.sessions, 'conversation');
  assert.equal(s.workload.trace!.history, 'included');
  const x = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n    history: excluded\n`));
  assert.equal(x.workload.trace!.history, 'excluded');
  // Default: independent requests, as before.
  const d = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n`));
  assert.equal(d.workload.trace!.sessions, undefined);
  assert.ok(buildPlan(d).open.every((r) => r.conversation === undefined && r.traceTurns === undefined));
  assert.equal(buildPlan(d).open.length, ROWS.length);
});

test('what does not fit is refused at the field\'s line', () => {
  const noField = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: {time: t, input_tokens: in, output_tokens: out}\n    sessions: conversation\n`)));
  assert.deepEqual(noField.map(issueKey), ['FG_SCENARIO_CONFLICT 8:15 workload.trace.sessions']);
  assert.match(noField[0]!.message, /no fields\.session/);

  const bad = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversations\n    history: included\n`)));
  assert.deepEqual(bad.map(issueKey), ['FG_SCENARIO_BAD_VALUE 8:15 workload.trace.sessions', 'FG_SCENARIO_CONFLICT 9:5 workload.trace.history']);

  const historyAlone = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    history: excluded\n`)));
  assert.deepEqual(historyAlone.map(issueKey), ['FG_SCENARIO_CONFLICT 8:5 workload.trace.history']);

  const completions = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n`, '{model: m, endpoint: completions}')));
  assert.deepEqual(completions.map(issueKey), ['FG_SCENARIO_CONFLICT 8:15 workload.trace.sessions']);
  assert.match(completions[0]!.message, /endpoint: chat/);

  const scaled = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    rate_scale: 2\n    sessions: conversation\n`)));
  assert.deepEqual(scaled.map(issueKey), ['FG_SCENARIO_CONFLICT 8:17 workload.trace.rate_scale']);

  const untimed = issuesOf(() => load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: {input_tokens: in, output_tokens: out, session: sid}\n    sessions: conversation\nload: {stages: [{duration: 1s, users: 1}]}\n`)));
  assert.deepEqual(untimed.map(issueKey), ['FG_SCENARIO_CONFLICT 8:15 workload.trace.sessions']);

  const mooncake = issuesOf(() => load(scenario(`    format: mooncake\n    file: sessions.jsonl\n    sessions: conversation\n`)));
  assert.deepEqual(mooncake.map(issueKey), ['FG_SCENARIO_CONFLICT 7:15 workload.trace.sessions']);

  // The field is mapped but no row has a session id: found when the trace is read, reported at sessions.
  const none = issuesOf(() => load(scenario(`    format: jsonl\n    file: nosessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n`)));
  assert.deepEqual(none.map(issueKey), ['FG_SCENARIO_CONFLICT 8:15 workload.trace.sessions']);
  assert.match(none[0]!.message, /no row of the trace .* has a session id/);
});

test('the plan: each session one conversation, turns in time order, numbered; a row without a session is a one-turn conversation', () => {
  const s = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n`));
  const plan = buildPlan(s);
  // Rows by time: a0 b0 - c0 a1 a2 b1 -> ids 0..6; open holds the first turns.
  assert.deepEqual(plan.open.map((r) => [r.id, r.session ?? null, r.intendedMs]), [[0, 'a', 0], [1, 'b', 20], [2, null, 50], [3, 'c', 60]]);
  const turns = (f: PlannedRequest) => [f, ...(f.traceTurns?.later ?? [])];
  const a = turns(plan.open[0]!);
  assert.deepEqual(a.map((r) => [r.id, r.intendedMs, r.promptTokens, r.outputTokens]), [[0, 0, 40, 8], [4, 100, 200, 8], [5, 150, 400, 6]]);
  assert.deepEqual(a.map((r) => r.conversation), [1, 2, 3].map((turn) => ({ id: 1, turn, turns: 3 })));
  assert.equal(plan.open[0]!.traceTurns!.historyIncluded, true);
  const b = turns(plan.open[1]!);
  assert.deepEqual(b.map((r) => [r.id, r.intendedMs, r.conversation!.id, r.conversation!.turn, r.conversation!.turns]), [[1, 20, 2, 1, 2], [6, 300, 2, 2, 2]]);
  assert.deepEqual(plan.open[2]!.conversation, { id: 3, turn: 1, turns: 1 });
  assert.equal(plan.open[2]!.traceTurns, undefined);
  assert.deepEqual(plan.open[3]!.conversation, { id: 4, turn: 1, turns: 1 });
  // Every row is planned once, and counted in targetsPerSecond.
  assert.deepEqual(plan.open.flatMap(turns).map((r) => r.id).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(plan.targetsPerSecond[0], ROWS.length);

  // history: excluded is carried to the executor on turn 1.
  const x = buildPlan(load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n    history: excluded\n`)));
  assert.equal(x.open[0]!.traceTurns!.historyIncluded, false);
  assert.notEqual(planFingerprint(x), planFingerprint(plan), 'the fingerprint sees the history rule');

  // Shards: a session stays on one shard, and the union of the shares is the plan.
  for (const count of [2, 3]) {
    const shares = Array.from({ length: count }, (_, index) => shardPlan(plan, { index, count }));
    const union = shares.flatMap((sh) => sh.open).sort((p, q) => p.id - q.id);
    assert.deepEqual(union, plan.open);
    const perShard = shares.map((sh) => sh.open.flatMap(turns).length);
    assert.equal(perShard.reduce((m, n) => m + n, 0), ROWS.length);
    shares.forEach((sh, i) => assert.equal(sh.targetsPerSecond[0], perShard[i]));
  }
});

test('k6 export lists sessions: conversation as unsupported', () => {
  const s = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n    sessions: conversation\n`));
  assert.ok(exportK6(s).unsupported.some((u) => u.startsWith('workload.trace.sessions: conversation')));
  const d = load(scenario(`    format: jsonl\n    file: sessions.jsonl\n    fields: ${FIELDS}\n`));
  assert.ok(!exportK6(d).unsupported.some((u) => u.includes('sessions')));
});
