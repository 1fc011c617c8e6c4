/**
 * `workload.shared_prefix` (harness/scenario/scenario-prefix.ts, harness/workload/plan.ts):
 * validated with coded issues at their positions; a seeded `share` of the requests gets one of
 * `groups` prefixes; deterministic; the other streams of the plan are unchanged by it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { buildPlan, sharedPrefixDraw, sharedPrefixKey } from '../../harness/workload/plan.ts';
import { Rng } from '../../harness/workload/rng.ts';
import { ConfigError, type ConfigIssue } from '../../harness/errors.ts';
import { buildBody, type RequestTemplate } from '../../harness/engine/request-template.ts';
import { segmentText } from '../../harness/workload/prompt-factory.ts';

function scenario(workloadExtra: string, rate = 200, seed = 5) {
  return parseScenario(
    `name: sp\nseed: ${seed}\ntarget: {model: m}\nworkload:\n  prompt_tokens: {dist: uniform, min: 100, max: 900}\n  output_tokens: 8\n${workloadExtra}load: {arrival: poisson, stages: [{duration: 10s, rate: ${rate}}]}\n`,
    'sp.yaml',
    { env: {} },
  );
}

function issues(yaml: string): string[] {
  try {
    scenario(yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i: ConfigIssue) => `${i.code} ${i.line}:${i.col} ${i.path}`).sort();
    throw e;
  }
  return [];
}

describe('shared_prefix: validation', () => {
  test('a valid block is read, with defaults groups 1 and share 1', () => {
    assert.deepEqual(scenario('  shared_prefix: {groups: 4, tokens: 64, share: 0.25}\n').workload.sharedPrefix, { groups: 4, tokens: 64, share: 0.25 });
    assert.deepEqual(scenario('  shared_prefix: {tokens: 64}\n').workload.sharedPrefix, { groups: 1, tokens: 64, share: 1 });
    assert.equal(scenario('').workload.sharedPrefix, undefined);
  });

  test('bad values are coded issues at their positions', () => {
    assert.deepEqual(issues('  shared_prefix: {groups: 0, tokens: 64, share: 1.5}\n'), [
      'FG_SCENARIO_BAD_VALUE 7:27 workload.shared_prefix.groups',
      'FG_SCENARIO_BAD_VALUE 7:49 workload.shared_prefix.share',
    ]);
    assert.deepEqual(issues('  shared_prefix: {groups: 2, share: 0.5}\n'), ['FG_SCENARIO_MISSING_FIELD 7:18 workload.shared_prefix.tokens']);
    assert.deepEqual(issues('  shared_prefix: {tokens: 1.5, group: 2}\n'), [
      'FG_SCENARIO_BAD_VALUE 7:27 workload.shared_prefix.tokens',
      'FG_SCENARIO_UNKNOWN_KEY 7:32 workload.shared_prefix.group',
    ]);
    assert.deepEqual(issues('  shared_prefix: 512\n'), ['FG_SCENARIO_TYPE 7:18 workload.shared_prefix']);
    assert.deepEqual(issues('  shared_prefix: {tokens: "many"}\n'), ['FG_SCENARIO_TYPE 7:27 workload.shared_prefix.tokens']);
  });

  test('a prefix no prompt can hold with a token of its own is a conflict', () => {
    assert.deepEqual(issues('  shared_prefix: {tokens: 900}\n'), ['FG_SCENARIO_CONFLICT 7:27 workload.shared_prefix.tokens']);
    assert.deepEqual(issues('  shared_prefix: {tokens: 899}\n'), []);
  });
});

describe('shared_prefix: the plan', () => {
  test('share and groups are honoured within tolerance', () => {
    const plan = buildPlan(scenario('  shared_prefix: {groups: 4, tokens: 64, share: 0.3}\n'));
    const n = plan.open.length;
    assert.ok(n > 1500, `${n} requests`);
    const withPrefix = plan.open.filter((p) => p.prompt !== undefined);
    const share = withPrefix.length / n;
    // Binomial sd at n ~ 2000, p = 0.3: ~0.01.
    assert.ok(Math.abs(share - 0.3) < 0.04, `share ${share}`);
    const byGroup = new Map<string, number>();
    for (const p of withPrefix) {
      assert.equal(p.prompt!.shared.length, 1);
      assert.equal(p.prompt!.shared[0]!.tokens, 64);
      assert.equal(p.prompt!.minOwnWords, 1);
      const k = p.prompt!.shared[0]!.key;
      byGroup.set(k, (byGroup.get(k) ?? 0) + 1);
    }
    assert.deepEqual([...byGroup.keys()].sort(), ['p0', 'p1', 'p2', 'p3']);
    for (const [k, c] of byGroup) assert.ok(Math.abs(c / withPrefix.length - 0.25) < 0.06, `group ${k}: ${c} of ${withPrefix.length}`);
  });

  test('share 0 and share 1', () => {
    assert.ok(buildPlan(scenario('  shared_prefix: {groups: 3, tokens: 64, share: 0}\n')).open.every((p) => p.prompt === undefined));
    assert.ok(buildPlan(scenario('  shared_prefix: {groups: 3, tokens: 64, share: 1}\n')).open.every((p) => p.prompt !== undefined));
  });

  test('deterministic, and the rest of the plan is what it is without shared_prefix', () => {
    const a = buildPlan(scenario('  shared_prefix: {groups: 4, tokens: 64, share: 0.5}\n'));
    const b = buildPlan(scenario('  shared_prefix: {groups: 4, tokens: 64, share: 0.5}\n'));
    assert.deepEqual(a, b);
    const plain = buildPlan(scenario(''));
    assert.equal(a.open.length, plain.open.length);
    a.open.forEach((p, i) => {
      const q = plain.open[i]!;
      assert.deepEqual({ ...p, prompt: undefined }, { ...q, prompt: undefined });
    });
    const other = buildPlan(scenario('  shared_prefix: {groups: 4, tokens: 64, share: 0.5}\n', 200, 6));
    assert.notDeepEqual(a.open.slice(0, 50).map((p) => p.prompt?.shared[0]?.key), other.open.slice(0, 50).map((p) => p.prompt?.shared[0]?.key));
  });

  test('sharedPrefixDraw: a stream of its own, same draws for the same seed', () => {
    const cfg = { groups: 5, tokens: 10, share: 0.5 };
    const draw = (seed: number) => {
      const d = sharedPrefixDraw(cfg, new Rng(seed).fork('shared_prefix'));
      return Array.from({ length: 200 }, () => d()?.shared[0]!.key ?? '-');
    };
    assert.deepEqual(draw(1), draw(1));
    assert.notDeepEqual(draw(1), draw(2));
    assert.equal(sharedPrefixKey(3), 'p3');
  });

  test('bodies: the same group starts with the same text; a short prompt gets the prefix cut, never raised', () => {
    const sc = scenario('  shared_prefix: {groups: 2, tokens: 300, share: 1}\n');
    const plan = buildPlan(sc);
    const t: RequestTemplate = {
      url: 'http://x/v1/chat/completions', headers: {}, endpoint: 'chat', stream: false, extraBody: {}, ignoreEos: false,
      continuousUsageStats: false, timeouts: { connectMs: 1, ttftMs: 1, totalMs: 1 }, promptShape: { overheadTokens: 10, tokensPerWord: 1 }, seed: sc.seed,
    };
    let long = 0;
    let short = 0;
    for (const p of plan.open.slice(0, 300)) {
      const words = (JSON.parse(buildBody(t, p)) as { messages: Array<{ content: string }> }).messages[0]!.content.split(' ');
      assert.equal(words.length, p.promptTokens - 10, 'the planned length');
      const key = p.prompt!.shared[0]!.key;
      const prefixWords = Math.min(300, words.length - 1);
      assert.equal(words.slice(0, prefixWords).join(' '), segmentText(sc.seed, key, prefixWords));
      if (words.length > 300) long++;
      else short++;
    }
    assert.ok(long > 0 && short > 0, `${long} long, ${short} short prompts`);
  });
});
