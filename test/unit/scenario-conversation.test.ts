/**
 * `workload.conversation` (harness/scenario/scenario-conversation.ts): read with defaults, coded
 * issues at their positions, open-loop and mixed stages accepted, conflicts with the completions endpoint and
 * traces; a turn's body carries the history (harness/engine/request-template.ts); the
 * conversation figures (harness/metrics/conversation-stats.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { ConfigError, type ConfigIssue } from '../../harness/errors.ts';
import { buildBody, buildTurnBody, type RequestTemplate } from '../../harness/engine/request-template.ts';
import type { PlannedRequest } from '../../harness/workload/plan.ts';
import { ConversationStats } from '../../harness/metrics/conversation-stats.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

function scenario(conversation: string, load = '{stages: [{duration: 10s, users: 4}]}', target = '{model: m}') {
  return parseScenario(
    `name: conv\nseed: 5\ntarget: ${target}\nworkload:\n  prompt_tokens: 100\n  output_tokens: 8\n${conversation}load: ${load}\n`,
    'conv.yaml',
    { env: {} },
  );
}

function issues(conversation: string, load?: string, target?: string): string[] {
  try {
    scenario(conversation, load, target);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i: ConfigIssue) => `${i.code} ${i.line}:${i.col} ${i.path}`).sort();
    throw e;
  }
  return [];
}

describe('conversation: validation', () => {
  test('a valid block is read; think_time defaults to 0; a fixed value or a map', () => {
    assert.deepEqual(scenario('  conversation: {turns: 3, think_time: 2s}\n').workload.conversation, {
      turns: { dist: 'fixed', value: 3, min: 1, max: 1000 },
      thinkTimeMs: { min: 2000, max: 2000 },
    });
    assert.deepEqual(scenario('  conversation: {turns: {dist: uniform, min: 2, max: 8}, think_time: {min: 1s, max: 3s}}\n').workload.conversation, {
      turns: { dist: 'uniform', min: 2, max: 8 },
      thinkTimeMs: { min: 1000, max: 3000 },
    });
    assert.deepEqual(scenario('  conversation: {turns: 2}\n').workload.conversation?.thinkTimeMs, { min: 0, max: 0 });
    assert.equal(scenario('').workload.conversation, undefined);
  });

  test('bad values are coded issues at their positions', () => {
    assert.deepEqual(issues('  conversation: {think_time: 1s}\n'), ['FG_SCENARIO_MISSING_FIELD 7:17 workload.conversation.turns']);
    assert.deepEqual(issues('  conversation: {turns: 0}\n'), ['FG_SCENARIO_BAD_VALUE 7:25 workload.conversation.turns']);
    assert.deepEqual(issues('  conversation: {turns: 1001}\n'), ['FG_SCENARIO_BAD_VALUE 7:25 workload.conversation.turns']);
    assert.deepEqual(issues('  conversation: {turns: 3, think: 1s}\n'), ['FG_SCENARIO_UNKNOWN_KEY 7:28 workload.conversation.think']);
    assert.deepEqual(issues('  conversation: {turns: 3, think_time: soon}\n'), ['FG_SCENARIO_BAD_DURATION 7:40 workload.conversation.think_time']);
    assert.deepEqual(issues('  conversation: {turns: 3, think_time: {min: 2s, max: 1s}}\n'), ['FG_SCENARIO_BAD_VALUE 7:55 workload.conversation.think_time.max']);
    assert.deepEqual(issues('  conversation: {turns: {dist: uniform, min: 3}}\n'), ['FG_SCENARIO_MISSING_FIELD 7:25 workload.conversation.turns.max']);
    assert.deepEqual(issues('  conversation: 3\n'), ['FG_SCENARIO_TYPE 7:17 workload.conversation']);
  });

  test('open-loop and mixed stages are accepted; the completions endpoint is still a conflict', () => {
    // Open loop: each arrival starts a new conversation; open and closed stages may share a scenario.
    assert.deepEqual(issues('  conversation: {turns: 3}\n', '{arrival: poisson, stages: [{duration: 10s, rate: 5, ramp: 2s}]}'), []);
    assert.deepEqual(issues('  conversation: {turns: 3}\n', '{stages: [{duration: 10s, users: 2}, {duration: 10s, rate: 5}]}'), []);
    assert.equal(scenario('  conversation: {turns: 3}\n', '{arrival: gamma, burstiness: 0.5, stages: [{duration: 10s, rate: 5}]}').workload.conversation?.turns.dist, 'fixed');
    // Still refused: completions endpoint (also with open-loop stages), at the conversation key.
    assert.deepEqual(issues('  conversation: {turns: 3}\n', undefined, '{model: m, endpoint: completions}'), ['FG_SCENARIO_CONFLICT 7:3 workload.conversation']);
    assert.deepEqual(issues('  conversation: {turns: 3}\n', '{stages: [{duration: 10s, rate: 5}]}', '{model: m, endpoint: completions}'), ['FG_SCENARIO_CONFLICT 7:3 workload.conversation']);
    // think_time belongs to the conversation, not to an open-loop stage.
    assert.deepEqual(issues('  conversation: {turns: 3, think_time: 1s}\n', '{stages: [{duration: 10s, rate: 5, think_time: 1s}]}'), ['FG_SCENARIO_CONFLICT 8:42 load.stages[0].think_time']);
    assert.deepEqual(issues('  conversation: {turns: 3}\n', undefined, '{model: m, endpoint: chat}'), []);
  });
});

const template: RequestTemplate = {
  url: 'http://127.0.0.1:1/v1/chat/completions',
  headers: {},
  endpoint: 'chat',
  stream: true,
  extraBody: {},
  ignoreEos: true,
  continuousUsageStats: false,
  timeouts: { connectMs: 1000, ttftMs: 1000, totalMs: 1000 },
  promptShape: { overheadTokens: 10, tokensPerWord: 1 },
  seed: 3,
};

function planned(key: string, promptTokens: number): PlannedRequest {
  return { id: 1, key, stage: 0, phase: 'measure', intendedMs: 0, promptTokens, outputTokens: 7, model: 'm', tenant: undefined, user: 0 };
}

test('a turn body carries the history (user, assistant, ..., user) and its new message is the single-prompt text', () => {
  const first = buildTurnBody(template, planned('k1', 30), []);
  const single = JSON.parse(buildBody(template, planned('k1', 30))) as { messages: unknown };
  assert.deepEqual((JSON.parse(first.body) as { messages: unknown }).messages, single.messages);
  assert.equal(first.message.split(' ').length, 20);
  const second = buildTurnBody(template, planned('k2', 15), [first.message, ' the answer']);
  const b = JSON.parse(second.body) as { messages: Array<{ role: string; content: string }>; max_tokens: number; ignore_eos: boolean };
  assert.deepEqual(b.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.deepEqual(b.messages.map((m) => m.content), [first.message, ' the answer', second.message]);
  assert.equal(second.message.split(' ').length, 5);
  assert.equal(b.max_tokens, 7);
  assert.equal(b.ignore_eos, true);
});

function rec(conversation: number, turn: number, turns: number, extra: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: 0, stage: 0, phase: 'measure', model: 'm', tenant: undefined, user: 0, intendedMs: 0, sentMs: turn * 100, scheduleLagMs: 0, capWaitMs: 0,
    endMs: turn * 100 + 50, headersMs: 1, ttftMs: turn * 10, e2eMs: 50, itlMs: [], chunkGapsMs: [], tpotMs: undefined, queueMs: undefined,
    plannedPromptTokens: 20, promptTokens: 20 * turn, plannedOutputTokens: 5, outputTokens: 5, tokenSource: 'usage', chunks: 5, ok: true,
    status: 200, error: undefined, retryAfterMs: undefined, requestId: undefined, servedBy: undefined, servedModel: undefined,
    conversation, turn, conversationTurns: turns, ...extra,
  };
}

test('conversation figures: completed, failed, cut; turns, durations, last prompts, TTFT by turn', () => {
  const s = new ConversationStats();
  for (let t = 1; t <= 3; t++) s.add(rec(1, t, 3));
  for (let t = 1; t <= 2; t++) s.add(rec(2, t, 2));
  s.add(rec(3, 1, 4));
  s.add(rec(3, 2, 4, { ok: false, error: { code: 'http_500', message: '' } }));
  s.add(rec(4, 1, 3)); // cut
  s.add(rec(5, 1, 2, { phase: 'warmup' })); // not counted
  s.add(rec(5, 2, 2));
  for (let t = 1; t <= 12; t++) s.add(rec(6, t, 12));
  const c = s.summarize();
  assert.equal(c.started, 5);
  assert.equal(c.completed, 3);
  assert.equal(c.failed, 1);
  assert.equal(c.cut, 1);
  assert.equal(c.completed_fraction, 3 / 4, 'completed of the ended ones (the cut one left out)');
  assert.deepEqual(c.turns, { mean: (3 + 2 + 12) / 3, max: 12 });
  assert.deepEqual(c.last_prompt_tokens, { mean: (60 + 40 + 240) / 3, max: 240 });
  assert.ok(Math.abs(c.duration_s.mean! - (250 + 150 + 1150) / 3 / 1000) < 1e-9);
  assert.deepEqual(Object.keys(c.ttft_ms_by_turn), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10+']);
  assert.equal(c.ttft_ms_by_turn['1']!.count, 5); // warmup turn 1 of conversation 5 left out
  assert.equal(c.ttft_ms_by_turn['10+']!.count, 3);
  assert.ok(Math.abs(c.ttft_ms_by_turn['3']!.p50! - 30) < 0.1);
});
