/**
 * Closed-loop stages (`users`) in a `mix:` (docs/scenarios.md, "Mixes"): what the loader accepts
 * and still refuses (codes and positions), and the plan: a stream's own closed stages (users per
 * stream, on the run's clock), the users of load.stages' closed stages dealt to the weighted
 * streams by a seeded draw (deterministic, in proportion, kept across stages), conversations.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { autoThreads } from '../../harness/engine/engine.ts';
import type { Scenario } from '../../harness/scenario/scenario-types.ts';
import { issueKey, issuesOf } from '../fixtures/config-issues.ts';

const FILE = join(tmpdir(), 'floodgate-mix-closed-test.yaml');
const HEAD = `name: mixed-closed
seed: 5
target: {model: m-default, url: http://127.0.0.1:9/v1}
workload: {prompt_tokens: 64, output_tokens: 8}
`;

function parse(body: string, head = HEAD): Scenario {
  return parseScenario(head + body, FILE, { env: {} });
}
function problems(body: string, head = HEAD): string[] {
  return issuesOf(() => parse(body, head)).map(issueKey);
}

const OWN = `mix:
  - name: chat
    tenant: pro
    model: m-chat
    priority: 1
    load: {stages: [{duration: 10s, users: 20, think_time: {min: 100ms, max: 300ms}}]}
  - name: spike
    tenant: free
    load: {stages: [{duration: 3s, rate: 2}, {duration: 2s, rate: 30}, {duration: 3s, users: 4, ramp: 2s}]}
`;

const WEIGHTED = `load:
  stages:
    - {name: warm, duration: 2s, rate: 5}
    - {name: users, duration: 4s, users: 1000, think_time: 50ms}
    - {name: fewer, duration: 4s, users: 600}
mix:
  - {name: a, weight: 3}
  - {name: b, tenant: other, weight: 1, model: m-b}
  - {name: c, load: {stages: [{duration: 5s, rate: 1}, {duration: 3s, users: 2}]}}
`;

describe('mix with closed-loop stages: validation', () => {
  test('a stream of closed-loop users beside an open-loop stream is accepted', () => {
    const s = parse(OWN);
    const [chat, spike] = s.mix!;
    assert.deepEqual(chat!.stages!.map((st) => st.kind), ['closed']);
    const st = chat!.stages![0]!;
    assert.ok(st.kind === 'closed' && st.users === 20 && st.thinkTimeMs.min === 100 && st.thinkTimeMs.max === 300);
    assert.deepEqual(spike!.stages!.map((x) => x.kind), ['open', 'open', 'closed']);
    assert.equal(spike!.stages![2]!.rampMs, 2000);
    // one derived run stage, as long as the longest stream; its rate counts the open-loop requests only
    assert.equal(s.load.stages.length, 1);
    assert.equal(s.load.stages[0]!.durationMs, 10_000);
    assert.ok(s.load.stages[0]!.kind === 'open' && Math.abs(s.load.stages[0]!.rateRps - (2 * 3 + 30 * 2) / 10) < 1e-9);
  });

  test('closed-loop scenario stages with weighted streams are accepted', () => {
    const s = parse(WEIGHTED);
    assert.deepEqual(s.load.stages.map((st) => st.kind), ['open', 'closed', 'closed']);
    assert.deepEqual(s.mix!.map((m) => m.weight), [3, 1, undefined]);
  });

  test('a bad closed stage in a stream is reported at its line; a stream longer than the shared stages still is', () => {
    const bad = `mix:
  - name: chat
    load: {stages: [{duration: 5s, users: -2}]}
  - name: other
    load: {stages: [{duration: 5s, users: 2, rate: 3}]}
`;
    const got = problems(bad);
    assert.ok(got.length >= 2, got.join('; '));
    assert.ok(got.some((p) => / 7:\d+ mix\[0\]\.load\.stages\[0\]/.test(p)), got.join('; '));
    assert.ok(got.some((p) => / 9:\d+ mix\[1\]\.load\.stages\[0\]/.test(p)), got.join('; '));
    assert.deepEqual(problems(`load: {stages: [{duration: 5s, users: 2}]}\nmix: [{name: a}, {name: b, load: {stages: [{duration: 6s, users: 1}]}}]\n`), ['FG_SCENARIO_CONFLICT 6:18 mix[1].load']);
  });

  test('conversations: accepted with closed-loop and open-loop streams (each open-loop arrival starts one, as its stream)', () => {
    const conv = HEAD.replace('output_tokens: 8}', 'output_tokens: 8, conversation: {turns: 3}}');
    const ok = parse(`mix:\n  - {name: pro, load: {stages: [{duration: 5s, users: 3}]}}\n  - {name: free, load: {stages: [{duration: 4s, users: 2}]}}\n`, conv);
    assert.ok(ok.workload.conversation);
    assert.ok(parse(OWN, conv).workload.conversation);
    // A stream's open-loop arrivals are first turns of conversations, with the stream's model, tenant and key.
    const plan = buildPlan(parse(OWN, conv));
    assert.ok(plan.open.length > 0);
    for (const r of plan.open) {
      assert.deepEqual(r.conversation, { id: r.id + 1, turn: 1, turns: 3 });
      assert.equal(r.mix, 1);
    }
    // weighted streams over closed stages, with a stream of its own that is closed too: fine
    parse(`load: {stages: [{duration: 5s, users: 4}]}\nmix: [{name: a}, {name: b, load: {stages: [{duration: 5s, users: 1}]}}]\n`, conv);
    // an open stage of load.stages shared by weighted streams: fine as well
    assert.ok(buildPlan(parse(`load: {stages: [{duration: 5s, rate: 4}]}\nmix: [{name: a}, {name: b, load: {stages: [{duration: 5s, users: 1}]}}]\n`, conv)).open.every((r) => r.conversation?.turn === 1));
  });
});

describe('mix with closed-loop stages: the plan', () => {
  test("a stream's own closed stages: its users on the run's clock, every user sends as the stream", () => {
    const plan = buildPlan(parse(OWN));
    assert.equal(plan.closed.length, 2);
    const [chat, spike] = plan.closed;
    assert.deepEqual(
      { stage: chat!.stage, label: chat!.label, startMs: chat!.startMs, endMs: chat!.endMs, users: chat!.userStartsMs.length, think: chat!.thinkTimeMs },
      { stage: 0, label: 'mix-chat-0', startMs: 0, endMs: 10_000, users: 20, think: { min: 100, max: 300 } },
    );
    assert.deepEqual(chat!.streams, new Array(20).fill(0));
    assert.equal(spike!.label, 'mix-spike-2');
    assert.equal(spike!.startMs, 5000);
    assert.equal(spike!.endMs, 8000);
    assert.deepEqual(spike!.userStartsMs, [5000, 5500, 6000, 6500]); // ramped over 2 s
    assert.deepEqual(spike!.streams, [1, 1, 1, 1]);
    // the open-loop requests are the open stages' only, of the open stream
    assert.ok(plan.open.every((p) => p.mix === 1 && p.tenant === 'free' && p.intendedMs < 5000));
    // seconds with open-loop targets keep them (closed-loop users of a stream come on top)
    assert.ok(plan.targetsPerSecond.every((t) => t !== null));
  });

  test('weighted streams: closed-stage users drawn in proportion to the weights, deterministic from the seed, kept across stages', () => {
    const s = parse(WEIGHTED);
    const plan = buildPlan(s);
    const shared = plan.closed.filter((c) => c.label === undefined);
    assert.deepEqual(shared.map((c) => [c.stage, c.userStartsMs.length, c.streams!.length]), [[1, 1000, 1000], [2, 600, 600]]);
    const [big, small] = shared;
    assert.ok(big!.streams!.every((x) => x === 0 || x === 1), 'only the weighted streams get users');
    const a = big!.streams!.filter((x) => x === 0).length;
    assert.ok(Math.abs(a / 1000 - 0.75) < 0.05, `stream a has ${a} of 1000 users`);
    // user u keeps its stream in every stage
    assert.deepEqual(small!.streams, big!.streams!.slice(0, 600));
    // the stream with its own load keeps its own closed stage
    const own = plan.closed.find((c) => c.label === 'mix-c-1')!;
    assert.deepEqual([own.stage, own.startMs, own.endMs, own.streams], [1, 5000, 8000, [2, 2]]);
    // deterministic: same seed, same deal; another seed, another one
    assert.deepEqual(buildPlan(parse(WEIGHTED)).closed, plan.closed);
    const other = buildPlan(parse(WEIGHTED, HEAD.replace('seed: 5', 'seed: 6')));
    assert.notDeepEqual(other.closed[0]!.streams, big!.streams);
    // the open-loop requests of the shared open stage are dealt as before (the users' draw is a stream of its own)
    assert.ok(plan.open.filter((p) => p.stage === 0).every((p) => p.mix === 0 || p.mix === 1 || p.mix === 2));
  });

  test('client.threads auto counts the closed-loop users of the streams', () => {
    const many = parse(`client: {threads: auto}\nmix:\n  - {name: chat, load: {stages: [{duration: 10s, users: 5000}]}}\n  - {name: spike, load: {stages: [{duration: 10s, rate: 1}]}}\n`);
    const few = parse(`client: {threads: auto}\nmix:\n  - {name: chat, load: {stages: [{duration: 10s, users: 1}]}}\n  - {name: spike, load: {stages: [{duration: 10s, rate: 1}]}}\n`);
    // 5000 users x ~30 chunks/s over 12 000 chunks/s per thread: 13 threads (within the cores)
    assert.equal(autoThreads(many), Math.min(13, availableParallelism()));
    assert.equal(autoThreads(few), 1);
  });
});
