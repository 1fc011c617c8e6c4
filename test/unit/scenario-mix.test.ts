/**
 * `mix:` (docs/scenarios.md, "Mixes"): the block's validation (good and bad, with codes and
 * positions), the plan of a mix (per-stream arrivals, shapes, models, tenants; deterministic),
 * and the per-stream headers and body fields of the request template.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { buildBody, headersFor, type RequestTemplate } from '../../harness/engine/request-template.ts';
import { groupLines } from '../../harness/report/console-summary.ts';
import { SCENARIO_ERROR_CODES } from '../../harness/scenario/scenario-error-codes.ts';
import type { Scenario } from '../../harness/scenario/scenario-types.ts';
import { issueKey, issuesOf } from '../fixtures/config-issues.ts';

const FILE = join(tmpdir(), 'floodgate-mix-test.yaml');
const HEAD = `name: mixed
seed: 5
target: {model: m-default, url: http://127.0.0.1:9/v1}
workload: {prompt_tokens: 64, output_tokens: 8}
`;

function parse(body: string, env: Record<string, string> = {}): Scenario {
  return parseScenario(HEAD + body, FILE, { env });
}
function problems(body: string): string[] {
  return issuesOf(() => parse(body)).map(issueKey);
}

const OWN = `load: {arrival: constant}
mix:
  - name: steady
    tenant: pro
    api_key: \${PRO_KEY}
    load: {stages: [{duration: 10s, rate: 4}]}
  - name: spiky
    tenant: free
    model: m-small
    priority: 5
    load:
      stages:
        - {duration: 4s, rate: 2}
        - {duration: 2s, rate: 20}
        - {duration: 2s, rate: 2}
`;

const WEIGHTED = `load:
  arrival: poisson
  stages: [{name: main, duration: 20s, rate: 50}]
mix:
  - {name: a, weight: 3}
  - {name: b, tenant: other, weight: 1, model: m-b}
  - {name: c, load: {stages: [{duration: 10s, rate: 5}]}}
`;

describe('mix: the block', () => {
  test('streams with their own stages: defaults, env keys, one derived stage as long as the longest', () => {
    const s = parse(OWN, { PRO_KEY: 'k-pro' });
    assert.equal(s.mix!.length, 2);
    const [a, b] = s.mix!;
    assert.deepEqual(
      { name: a!.name, tenant: a!.tenant, apiKey: a!.apiKey, model: a!.model, priority: a!.priority, weight: a!.weight, stages: a!.stages!.length },
      { name: 'steady', tenant: 'pro', apiKey: 'k-pro', model: 'm-default', priority: undefined, weight: undefined, stages: 1 },
    );
    assert.equal(b!.model, 'm-small');
    assert.equal(b!.priority, 5);
    assert.equal(b!.stages!.length, 3);
    assert.equal(s.load.stages.length, 1);
    assert.equal(s.load.stages[0]!.name, 'mix');
    assert.equal(s.load.stages[0]!.durationMs, 10_000);
    assert.equal(s.load.arrival, 'constant');
  });

  test('no load block at all when every stream has its own; tenant label defaults to the name', () => {
    const s = parse(`mix:\n  - {name: only, load: {stages: [{duration: 3s, rate: 1}]}}\n`);
    assert.equal(s.mix![0]!.tenant, 'only');
    assert.equal(s.mix![0]!.stackTenant, undefined);
    assert.equal(s.load.stages[0]!.durationMs, 3000);
    assert.equal(s.load.arrival, 'poisson');
  });

  test('weighted streams share load.stages; weight defaults to 1', () => {
    const s = parse(WEIGHTED);
    assert.deepEqual(s.mix!.map((x) => x.weight), [3, 1, undefined]);
    assert.equal(s.load.stages[0]!.name, 'main');
    const d = parse(`load: {stages: [{duration: 5s, rate: 2}]}\nmix: [{name: x}, {name: y}]\n`);
    assert.deepEqual(d.mix!.map((x) => x.weight), [1, 1]);
  });

  test('bad streams: coded problems at their positions', () => {
    const bad = `load: {arrival: constant}
mix:
  - name: a b
    colour: red
    priority: 12
    load: {stages: [{duration: 5s, rate: 1}]}
  - name: dup
    weight: 1
    load: {stages: [{duration: 5s, rate: 1}]}
  - name: dup
    load: {stages: [{duration: 5s, users: 2}]}
  - tenant: x
    load: {stages: [{duration: 5s, rate: 1}]}
`;
    assert.deepEqual(problems(bad), [
      'FG_SCENARIO_UNKNOWN_KEY 8:5 mix[0].colour',
      'FG_SCENARIO_BAD_VALUE 7:11 mix[0].name',
      'FG_SCENARIO_BAD_VALUE 9:15 mix[0].priority',
      'FG_SCENARIO_CONFLICT 13:5 mix[1].load',
      'FG_SCENARIO_BAD_VALUE 14:11 mix[2].name',
      'FG_SCENARIO_MISSING_FIELD 16:5 mix[3].name',
    ]);
  });

  test('conflicts with the load: stages nobody shares, no stages to share, too long', () => {
    assert.deepEqual(problems(`load: {stages: [{duration: 5s, rate: 1}]}\nmix: [{name: a, load: {stages: [{duration: 5s, rate: 1}]}}]\n`), ['FG_SCENARIO_CONFLICT 5:8 load.stages']);
    assert.deepEqual(problems(`load: {arrival: poisson}\nmix: [{name: a, weight: 2}]\n`), ['FG_SCENARIO_MISSING_FIELD 5:7 load.stages']);
    assert.deepEqual(problems(`mix: [{name: a, weight: 2}]\n`), ['FG_SCENARIO_MISSING_FIELD 1:1 load']);
    assert.deepEqual(problems(`load: {stages: [{duration: 5s, rate: 2}]}\nmix: [{name: a}, {name: b, load: {stages: [{duration: 6s, rate: 1}]}}]\n`), ['FG_SCENARIO_CONFLICT 6:18 mix[1].load']);
    assert.deepEqual(problems(`mix: []\n`), ['FG_SCENARIO_BAD_VALUE 5:6 mix']);
    for (const p of problems(`mix: [{name: a, weight: 0}]\nload: {stages: [{duration: 5s, rate: 1}]}\n`)) assert.ok(p.startsWith('FG_SCENARIO_BAD_VALUE'), p);
  });

  test('every code used is a registered scenario code', () => {
    for (const code of ['FG_SCENARIO_CONFLICT', 'FG_SCENARIO_BAD_VALUE', 'FG_SCENARIO_MISSING_FIELD', 'FG_SCENARIO_UNKNOWN_KEY']) assert.ok(SCENARIO_ERROR_CODES[code]);
  });
});

describe('mix: the plan', () => {
  test('own stages: per-stream counts and shapes, models and tenants, time order, one clock', () => {
    const s = parse(OWN, { PRO_KEY: 'k' });
    const plan = buildPlan(s);
    const steady = plan.open.filter((p) => p.mix === 0);
    const spiky = plan.open.filter((p) => p.mix === 1);
    assert.equal(steady.length, 40); // constant 4 rps for 10 s
    assert.equal(spiky.length, 8 + 40 + 4);
    // the spike sits in [4s, 6s)
    assert.equal(spiky.filter((p) => p.intendedMs >= 4000 && p.intendedMs < 6000).length, 40);
    assert.ok(spiky.every((p) => p.intendedMs < 8000));
    assert.ok(steady.every((p) => p.model === 'm-default' && p.tenant === 'pro'));
    assert.ok(spiky.every((p) => p.model === 'm-small' && p.tenant === 'free'));
    for (let i = 1; i < plan.open.length; i++) assert.ok(plan.open[i]!.intendedMs >= plan.open[i - 1]!.intendedMs);
    assert.deepEqual(plan.open.map((p) => p.id), plan.open.map((_, i) => i));
    assert.equal(plan.totalMs, 10_000);
    assert.equal(plan.targetsPerSecond.reduce((a: number, b) => a + (b ?? 0), 0), 92);
    assert.equal(plan.targetsPerSecond[4], 24);
    assert.equal(plan.targetsPerSecond[9], 4);
  });

  test('weighted shares by a seeded draw, own streams alongside; deterministic', () => {
    const s = parse(WEIGHTED);
    const plan = buildPlan(s);
    const n = (i: number) => plan.open.filter((p) => p.mix === i).length;
    const shared = n(0) + n(1);
    assert.ok(shared > 850 && shared < 1150, `shared ${shared}`);
    assert.ok(Math.abs(n(0) / shared - 0.75) < 0.05, `a share ${n(0) / shared}`);
    assert.ok(n(2) > 25 && n(2) < 80, `c ${n(2)}`);
    assert.ok(plan.open.filter((p) => p.mix === 2).every((p) => p.intendedMs < 10_000));
    assert.ok(plan.open.filter((p) => p.mix === 1).every((p) => p.model === 'm-b' && p.tenant === 'other'));
    assert.ok(plan.open.filter((p) => p.mix === 0).every((p) => p.model === 'm-default' && p.tenant === 'a'));
    assert.deepEqual(buildPlan(parse(WEIGHTED)).open, plan.open);
    const other = buildPlan(parseScenario(HEAD.replace('seed: 5', 'seed: 6') + WEIGHTED, FILE, { env: {} }));
    assert.notDeepEqual(other.open.map((p) => p.mix), plan.open.map((p) => p.mix));
  });

  test('without a mix, requests carry no stream', () => {
    const plan = buildPlan(parse(`load: {stages: [{duration: 2s, rate: 3}]}\n`));
    assert.ok(plan.open.every((p) => p.mix === undefined && p.tenant === undefined));
  });
});

describe('mix: requests and the console', () => {
  const template: RequestTemplate = {
    url: 'http://x/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: 'Bearer run' },
    endpoint: 'chat',
    stream: true,
    extraBody: {},
    ignoreEos: false,
    continuousUsageStats: false,
    timeouts: { connectMs: 1, ttftMs: 1, totalMs: 1 },
    promptShape: { overheadTokens: 0, tokensPerWord: 1 },
    seed: 1,
    mix: [{ headers: { 'content-type': 'application/json', authorization: 'Bearer k0' } }, { headers: { authorization: 'Bearer k1' }, body: { priority: 5 } }],
  };
  const base = { id: 0, key: 'o0', stage: 0, phase: 'measure' as const, intendedMs: 0, promptTokens: 8, outputTokens: 2, model: 'm', tenant: 't', user: undefined };

  test('per-stream headers (looked up, not rebuilt) and priority in the body', () => {
    assert.equal(headersFor(template, { ...base, mix: 0 }), template.mix![0]!.headers);
    assert.equal(headersFor(template, { ...base, mix: 1 }).authorization, 'Bearer k1');
    assert.equal(headersFor(template, base), template.headers);
    assert.equal(JSON.parse(buildBody(template, { ...base, mix: 1 })).priority, 5);
    assert.equal(JSON.parse(buildBody(template, { ...base, mix: 0 })).priority, undefined);
  });

  test('the console shows a per-tenant table when there are several tenants', () => {
    const block = (ok: number, p95: number) => ({
      requests: { total: ok, ok, failed: 0, dropped: 0 },
      error_rate: 0,
      throughput: { requests_per_s: ok / 10 },
      latency_ms: { ttft: { p50: p95 / 2, p95 }, e2e: { p95: p95 * 3 } },
    });
    const text = groupLines('tenant', { pro: block(40, 120), free: block(52, 900) } as never).join('\n');
    assert.deepEqual(groupLines('tenant', { pro: block(1, 1) } as never), []);
    assert.match(text, /tenant\s+ok\s+failed\s+errors\s+req\/s\s+TTFT p50\s+TTFT p95/);
    assert.match(text, /pro\s+40\s+0\s+0\.00%\s+4\s+60\.0\s+120/);
    assert.match(text, /free\s+52/);
  });
});

