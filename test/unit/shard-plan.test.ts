/**
 * Distributed load, plan level (harness/shard/shard-plan.ts): for several workloads the N shards'
 * plans are disjoint and their union is exactly the unsplit plan (ids, intended times, lengths,
 * closed-loop users), for N = 1..5; the --shard and --start-at arguments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan, type Plan, type PlannedRequest } from '../../harness/workload/plan.ts';
import { parseShard, parseStartAt, planFingerprint, shardPlan, startLateToleranceMs } from '../../harness/shard/shard-plan.ts';
import { FloodgateError } from '../../harness/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE = join(ROOT, 'test/fixtures/scenarios/inline.yaml');
const load = (yaml: string) => parseScenario(yaml, FILE, { env: {} });

const WORKLOADS: Record<string, string> = {
  constant: `name: c
target: {model: m}
seed: 11
workload: {prompt_tokens: {dist: uniform, min: 10, max: 900}, output_tokens: {dist: lognormal, mean: 120, p90: 200, max: 2000}}
load: {arrival: constant, warmup: 1s, cooldown: 1s, stages: [{duration: 3s, rate: 7}, {duration: 2s, rate: 23}]}
`,
  poisson: `name: p
target: {model: m}
seed: 5
workload: {prompt_tokens: {dist: normal, mean: 400, stddev: 100}, output_tokens: 64, shared_prefix: {groups: 3, tokens: 50, share: 0.5}}
load: {arrival: poisson, stages: [{duration: 4s, rate: 30}, {duration: 4s, rate: 10, ramp: 2s}]}
`,
  closed: `name: cl
target: {model: m}
workload: {prompt_tokens: 100, output_tokens: 20}
load: {stages: [{duration: 2s, rate: 5}, {duration: 3s, users: 7, think_time: 100ms}, {duration: 2s, users: 3}]}
`,
  conversation: `name: conv
target: {model: m}
workload: {prompt_tokens: 100, output_tokens: 20, conversation: {turns: {dist: uniform, min: 2, max: 4}}}
load: {stages: [{duration: 3s, users: 9}]}
`,
  openConversation: `name: open-conv
target: {model: m}
seed: 4
workload: {prompt_tokens: 100, output_tokens: 20, shared_prefix: {groups: 2, tokens: 30, share: 0.5}, conversation: {turns: {dist: uniform, min: 1, max: 5}, think_time: {min: 10ms, max: 50ms}}}
load: {arrival: poisson, warmup: 1s, stages: [{duration: 3s, rate: 9, ramp: 1s}, {duration: 2s, users: 4}, {duration: 2s, rate: 5}]}
`,
  mix: `name: mix
target: {model: m}
workload: {prompt_tokens: 100, output_tokens: 20}
load: {arrival: poisson, stages: [{duration: 10s, rate: 6}]}
mix:
  - {name: a, weight: 3}
  - {name: b, tenant: other, weight: 1, model: m-b}
  - {name: c, load: {stages: [{duration: 10s, rate: 5}]}}
`,
  mixClosed: `name: mix-closed
target: {model: m}
seed: 9
workload: {prompt_tokens: 100, output_tokens: 20}
mix:
  - {name: chat, tenant: pro, load: {stages: [{duration: 4s, users: 7, think_time: 50ms}, {duration: 2s, users: 3, ramp: 1s}]}}
  - {name: spike, tenant: free, load: {stages: [{duration: 2s, rate: 5}, {duration: 2s, rate: 20}]}}
`,
  mixWeightedClosed: `name: mix-weighted-closed
target: {model: m}
workload: {prompt_tokens: 100, output_tokens: 20, conversation: {turns: {dist: uniform, min: 2, max: 4}}}
load: {stages: [{duration: 3s, users: 11}, {duration: 2s, users: 5}]}
mix:
  - {name: a, weight: 3}
  - {name: b, tenant: other, weight: 1, model: m-b}
  - {name: c, load: {stages: [{duration: 4s, users: 6}]}}
`,
  trace: `name: burst
target: {model: llama-3.1-8b}
seed: 3
workload:
  trace:
    format: burstgpt
    file: ../../../traces/burstgpt_1_200.csv
    models: {ChatGPT: llama-3.1-8b, GPT-4: llama-3.1-70b}
    speed: 100
`,
};

function byId(a: PlannedRequest, b: PlannedRequest): number {
  return a.id - b.id;
}

/** The shards of `plan` are disjoint and their union is `plan`, exactly. */
function assertUnion(plan: Plan, n: number, what: string): void {
  const shards = Array.from({ length: n }, (_, i) => shardPlan(plan, { index: i, count: n }));
  // Open loop: every request on exactly one shard, unchanged (id, key, time, lengths, model, ...).
  const ids = new Set<number>();
  for (const s of shards) {
    for (const r of s.open) {
      assert.ok(!ids.has(r.id), `${what} N=${n}: request ${r.id} on two shards`);
      ids.add(r.id);
    }
    // Each shard's own requests stay in time order (the engine dispatches them in order).
    for (let k = 1; k < s.open.length; k++) assert.ok(s.open[k - 1]!.intendedMs <= s.open[k]!.intendedMs);
  }
  const union = shards.flatMap((s) => s.open).sort(byId);
  assert.deepEqual(union, [...plan.open].sort(byId), `${what} N=${n}: union of open-loop requests`);
  // Closed loop: each stage whole on every shard; its users split, each once.
  assert.ok(shards.every((s) => s.closed.length === plan.closed.length));
  plan.closed.forEach((c, j) => {
    const users = shards.flatMap((s) => [...(s.closed[j]!.users ?? c.userStartsMs.map((_, u) => u))]).sort((a, b) => a - b);
    assert.deepEqual(users, c.userStartsMs.map((_, u) => u), `${what} N=${n}: users of closed stage ${c.stage}`);
    for (const s of shards) {
      const { users: _u, ...rest } = s.closed[j]!;
      assert.deepEqual(rest, c, `${what} N=${n}: closed stage ${c.stage} otherwise unchanged`);
    }
  });
  // Per-second targets add up; everything else of the plan is the same.
  plan.targetsPerSecond.forEach((t, sec) => {
    const parts = shards.map((s) => s.targetsPerSecond[sec]);
    if (t === null) assert.ok(parts.every((p) => p === null));
    else assert.equal(parts.reduce<number>((a, p) => a + (p ?? 0), 0), t, `${what} N=${n}: target of second ${sec}`);
  });
  for (const s of shards) {
    assert.equal(s.totalMs, plan.totalMs);
    assert.deepEqual(s.stageStartsMs, plan.stageStartsMs);
    assert.equal(s.seed, plan.seed);
  }
}

describe('shardPlan: the union of the shards is the unsplit plan', () => {
  for (const [name, yaml] of Object.entries(WORKLOADS)) {
    test(`${name}: N = 1..5, disjoint, union exact`, () => {
      const plan = buildPlan(load(yaml));
      assert.ok(plan.open.length + plan.closed.length > 0, 'the workload plans something');
      // Every shard builds the plan from the seed itself: the same plan each time.
      assert.deepEqual(buildPlan(load(yaml)), plan);
      for (let n = 1; n <= 5; n++) assertUnion(plan, n, name);
    });
  }

  test('open loop: request k goes to shard k mod N (a thinned copy of the whole)', () => {
    const plan = buildPlan(load(WORKLOADS.constant!));
    const s = shardPlan(plan, { index: 2, count: 3 });
    assert.ok(s.open.length > 0);
    assert.ok(s.open.every((r) => r.id % 3 === 2));
    assert.equal(s.open.length, plan.open.filter((r) => r.id % 3 === 2).length);
  });

  test('closed loop: user u of each stage goes to shard u mod N', () => {
    const plan = buildPlan(load(WORKLOADS.closed!));
    const s = shardPlan(plan, { index: 1, count: 2 });
    assert.deepEqual(s.closed.map((c) => c.users), [[1, 3, 5], [1]]);
    assert.deepEqual(s.open.map((r) => r.id), plan.open.filter((r) => r.id % 2 === 1).map((r) => r.id));
  });

  test('open-loop conversations: arrival k is turn 1 of conversation k + 1, planned whole, on shard k mod N', () => {
    const plan = buildPlan(load(WORKLOADS.openConversation!));
    assert.ok(plan.open.length > 20);
    assert.ok(plan.open.every((r) => r.conversation !== undefined && r.conversation.id === r.id + 1 && r.conversation.turn === 1));
    const turns = plan.open.map((r) => r.conversation!.turns);
    assert.ok(turns.every((t) => t >= 1 && t <= 5) && new Set(turns).size > 1, 'turns drawn per conversation');
    assert.equal(plan.closed.length, 1, 'the closed stage is kept');
    const s = shardPlan(plan, { index: 1, count: 3 });
    assert.ok(s.open.every((r) => r.id % 3 === 1 && r.conversation!.id === r.id + 1));
    assert.deepEqual(s.open.map((r) => r.conversation), plan.open.filter((r) => r.id % 3 === 1).map((r) => r.conversation));
    // The planned turns are part of the fingerprint: another draw of them is another plan.
    const other = { ...plan, open: plan.open.map((r, i) => (i === 0 ? { ...r, conversation: { ...r.conversation!, turns: r.conversation!.turns + 1 } } : r)) };
    assert.notEqual(planFingerprint(other), planFingerprint(plan));
  });

  test("closed-loop mix streams: user u of each stream's stage goes to shard u mod N, with its stream", () => {
    const plan = buildPlan(load(WORKLOADS.mixClosed!));
    const s = shardPlan(plan, { index: 1, count: 3 });
    assert.deepEqual(s.closed.map((c) => [c.label, c.users, c.streams]), [
      ['mix-chat-0', [1, 4], [0, 0, 0, 0, 0, 0, 0]],
      ['mix-chat-1', [1], [0, 0, 0]],
    ]);
    const w = buildPlan(load(WORKLOADS.mixWeightedClosed!));
    const w0 = shardPlan(w, { index: 0, count: 2 });
    // the weighted deal is the unsplit plan's: a user's stream does not depend on the shard
    w0.closed.forEach((c, j) => assert.deepEqual(c.streams, w.closed[j]!.streams));
    assert.deepEqual(w0.closed[0]!.users, [0, 2, 4, 6, 8, 10]);
  });

  test('trace rows with a session stay together on one shard', () => {
    const plan = buildPlan(load(WORKLOADS.trace!));
    // Give the rows sessions (a conversation trace): 13 sessions over the rows.
    const withSessions: Plan = { ...plan, open: plan.open.map((r) => ({ ...r, session: `s${(r.id * 7) % 13}` })) };
    for (let n = 2; n <= 5; n++) {
      assertUnion(withSessions, n, 'trace with sessions');
      const home = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        for (const r of shardPlan(withSessions, { index: i, count: n }).open) {
          const was = home.get(r.session!);
          assert.ok(was === undefined || was === i, `session ${r.session} on shards ${was} and ${i}`);
          home.set(r.session!, i);
        }
      }
      assert.equal(home.size, 13);
    }
  });

  test('N = 1 is the plan itself', () => {
    const plan = buildPlan(load(WORKLOADS.poisson!));
    assert.equal(shardPlan(plan, { index: 0, count: 1 }), plan);
  });
});

describe('planFingerprint', () => {
  test('same scenario and seed: same fingerprint; another seed or rate: another', () => {
    const a = planFingerprint(buildPlan(load(WORKLOADS.constant!)));
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(planFingerprint(buildPlan(load(WORKLOADS.constant!))), a);
    assert.notEqual(planFingerprint(buildPlan(load(WORKLOADS.constant!.replace('seed: 11', 'seed: 12')))), a);
    assert.notEqual(planFingerprint(buildPlan(load(WORKLOADS.constant!.replace('rate: 23', 'rate: 24')))), a);
    assert.notEqual(planFingerprint(buildPlan(load(WORKLOADS.closed!))), planFingerprint(buildPlan(load(WORKLOADS.closed!.replace('users: 7', 'users: 8')))));
    // the users' mix streams count: other weights, another deal of the users, another fingerprint
    const w = WORKLOADS.mixWeightedClosed!;
    assert.notEqual(planFingerprint(buildPlan(load(w))), planFingerprint(buildPlan(load(w.replace('weight: 3', 'weight: 1')))));
  });
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FloodgateError ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

describe('--shard and --start-at', () => {
  test('--shard I/N: 0-based, I < N, N >= 1', () => {
    assert.deepEqual(parseShard('0/1'), { index: 0, count: 1 });
    assert.deepEqual(parseShard('3/4'), { index: 3, count: 4 });
    for (const bad of ['4/4', '5/4', '0/0', '-1/4', '1', 'a/b', '1/4/2', '', '1.5/4']) assert.equal(code(() => parseShard(bad)), 'FG_SHARD_BAD_SPEC', bad);
    try {
      parseShard('5/4');
    } catch (e) {
      assert.match((e as Error).message, /index 5 is not below the count 4.*0 \.\. 3/);
    }
  });

  test('--start-at: ISO-8601 with a zone, or now+DURATION', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    assert.equal(parseStartAt('2026-03-01T12:00:30Z', now), now + 30_000);
    assert.equal(parseStartAt('2026-03-01T13:00:30.250+01:00', now), now + 30_250);
    assert.equal(parseStartAt('now+30s', now), now + 30_000);
    assert.equal(parseStartAt('now+1m30s', now), now + 90_000);
    for (const bad of ['2026-03-01T12:00:00', 'tomorrow', 'now+30', 'now-5s', '2026-13-45T99:00:00Z', '12:00']) assert.equal(code(() => parseStartAt(bad, now)), 'FG_SHARD_BAD_START_AT', bad);
  });

  test('a late start is tolerated up to the warmup (at least 1 s)', () => {
    assert.equal(startLateToleranceMs(0), 1000);
    assert.equal(startLateToleranceMs(10_000), 10_000);
  });
});
