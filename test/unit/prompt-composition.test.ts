/**
 * Prompt composition (harness/workload/prompt-factory.ts composePrompt, and buildBody in
 * harness/engine/request-template.ts): shared segments are the same text for every request of a
 * run, requests sharing Mooncake hash ids share exactly those blocks token for token under the
 * simulated worker's tokenizer (and one token per word under Llama-3), and the whole prompt has
 * the planned length under the run's calibration.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { composePrompt, promptText, segmentText, segmentWords, sharedWordsIn, wordsFor, type PromptShape, type PromptSpec } from '../../harness/workload/prompt-factory.ts';
import { buildBody, type RequestTemplate } from '../../harness/engine/request-template.ts';
import { planFromTrace } from '../../harness/workload/trace-plan.ts';
import type { PlannedRequest } from '../../harness/workload/plan.ts';
import type { TraceReadResult, TraceRequest } from '../../harness/workload/traces/trace-types.ts';
import { SimTokenizer } from '../../reference-stack/worker-sim/sim-tokenizer.ts';

/** The simulated worker's chat template overhead: BOS + 4 framing tokens + role, EOT, 4 for the generation prompt. */
const SIM_CHAT: PromptShape = { overheadTokens: 10, tokensPerWord: 1 };
const LLAMA_VOCAB = 128_256;

function template(shape: PromptShape, endpoint: 'chat' | 'completions' = 'chat', seed = 11): RequestTemplate {
  return {
    url: 'http://127.0.0.1:1/v1/chat/completions',
    headers: {},
    endpoint,
    stream: true,
    extraBody: {},
    ignoreEos: true,
    continuousUsageStats: true,
    timeouts: { connectMs: 1000, ttftMs: 1000, totalMs: 1000 },
    promptShape: shape,
    seed,
  };
}

function trace(rows: Array<Partial<TraceRequest> & { inputTokens: number }>, blockTokens = 512): TraceReadResult {
  const requests: TraceRequest[] = rows.map((r, i) => ({ tMs: i * 10, outputTokens: 8, line: i + 1, ...r }));
  return {
    requests,
    report: { file: 'mem', format: 'mooncake', rowsRead: rows.length, requests: rows.length, skipped: {}, warnings: [], spanMs: (rows.length - 1) * 10 },
    blockTokens,
  };
}

const LOAD = { stages: [], warmupMs: 0, cooldownMs: 0 };

function contentOf(body: string): string {
  const b = JSON.parse(body) as { messages?: Array<{ content: string }>; prompt?: string };
  return b.messages ? b.messages[0]!.content : b.prompt!;
}

function chatTokens(tok: SimTokenizer, body: string): number[] {
  return tok.encodeChat([{ role: 'user', content: contentOf(body) }], true);
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('segments', () => {
  test('same (seed, key): same text, whichever request carries it; fewer words are its start', () => {
    assert.equal(segmentText(3, 'h17', 512), segmentText(3, 'h17', 512));
    assert.ok(segmentText(3, 'h17', 512).startsWith(segmentText(3, 'h17', 100) + ' '));
    assert.notEqual(segmentText(3, 'h17', 32), segmentText(3, 'h18', 32));
    assert.notEqual(segmentText(3, 'h17', 32), segmentText(4, 'h17', 32));
    // Segment keys and request keys are separate streams.
    assert.notEqual(segmentText(3, 'o1', 32), promptText(3, 'o1', 32));
    const spec: PromptSpec = { shared: [{ key: 'p0', tokens: 64 }] };
    const a = composePrompt(5, 'o1', 200, spec, SIM_CHAT);
    const b = composePrompt(5, 'o2', 300, spec, SIM_CHAT);
    const sa = a.split(' ');
    const sb = b.split(' ');
    assert.deepEqual(sa.slice(0, 64), sb.slice(0, 64));
    assert.equal(sa.slice(0, 64).join(' '), segmentText(5, 'p0', 64));
    assert.notDeepEqual(sa.slice(64, 80), sb.slice(64, 80), 'the own parts differ');
  });

  test('without a spec the prompt is exactly the request own text', () => {
    assert.equal(composePrompt(9, 'o5', 77, undefined, SIM_CHAT), promptText(9, 'o5', 77));
    assert.equal(composePrompt(9, 'o5', 77, { shared: [] }, SIM_CHAT), promptText(9, 'o5', 77));
  });

  test('segments fill in order and are cut to the planned words; minOwnWords keeps room', () => {
    const spec: PromptSpec = { shared: [{ key: 'a', tokens: 10 }, { key: 'b', tokens: 10 }] };
    assert.equal(composePrompt(1, 'o', 15, spec, SIM_CHAT), `${segmentText(1, 'a', 10)} ${segmentText(1, 'b', 5)}`);
    assert.equal(composePrompt(1, 'o', 25, spec, SIM_CHAT), `${segmentText(1, 'a', 10)} ${segmentText(1, 'b', 10)} ${promptText(1, 'o', 5)}`);
    const own = { ...spec, minOwnWords: 1 };
    assert.equal(composePrompt(1, 'o', 15, own, SIM_CHAT), `${segmentText(1, 'a', 10)} ${segmentText(1, 'b', 4)} ${promptText(1, 'o', 1)}`);
    assert.equal(composePrompt(1, 'o', 1, own, SIM_CHAT), promptText(1, 'o', 1));
    assert.equal(sharedWordsIn(15, own, SIM_CHAT), 14);
    assert.equal(sharedWordsIn(25, spec, SIM_CHAT), 20);
  });

  test('segment words: exact at one token per word, approximate otherwise', () => {
    assert.equal(segmentWords(512, { overheadTokens: 7, tokensPerWord: 1 }), 512);
    assert.equal(segmentWords(512, { overheadTokens: 0, tokensPerWord: 1.25 }), 410);
    assert.equal(segmentWords(1, { overheadTokens: 0, tokensPerWord: 3 }), 1);
    assert.equal(segmentWords(0, { overheadTokens: 0, tokensPerWord: 1 }), 0);
  });
});

describe('prompts from Mooncake hash ids', () => {
  const rows = trace([
    { inputTokens: 1800, hashIds: [101, 102, 103, 104] },
    { inputTokens: 1700, hashIds: [101, 102, 203, 204] },
    { inputTokens: 700, hashIds: [101, 302] },
    { inputTokens: 1800, hashIds: [401, 102, 103, 104] },
  ]);
  const plan = planFromTrace(rows, { model: 'm', load: LOAD });
  const t = template(SIM_CHAT);
  const bodies = plan.map((p) => buildBody(t, p));
  const tok = new SimTokenizer(LLAMA_VOCAB);
  const ids = bodies.map((b) => chatTokens(tok, b));

  test('[a,b,c,...] and [a,b,d,...] share exactly 2 blocks of 512 tokens, token for token (after the 5 template tokens)', () => {
    assert.equal(commonPrefix(ids[0]!, ids[1]!), 5 + 2 * 512);
    assert.equal(commonPrefix(ids[0]!, ids[2]!), 5 + 512);
    assert.equal(commonPrefix(ids[1]!, ids[2]!), 5 + 512);
    // A different first block: nothing shared past the template, even with the same later ids.
    assert.equal(commonPrefix(ids[0]!, ids[3]!), 5);
  });

  test('each prompt is the planned length under the worker tokenizer (calibration: overhead 10, 1 token per word)', () => {
    plan.forEach((p, i) => assert.equal(ids[i]!.length, p.promptTokens, `request ${i}`));
    assert.deepEqual(plan.map((p) => p.promptTokens), [1800, 1700, 700, 1800]);
  });

  test('block i is the text of key h<id>; the last block is cut to what the input length leaves', () => {
    const words = contentOf(bodies[2]!).split(' ');
    assert.equal(words.length, 700 - 10);
    assert.equal(words.slice(0, 512).join(' '), segmentText(11, 'h101', 512));
    assert.equal(words.slice(512).join(' '), segmentText(11, 'h302', 700 - 10 - 512));
    // 1800 - 10 = 1790 words: 3 full blocks and 254 words of the 4th.
    const w0 = contentOf(bodies[0]!).split(' ');
    assert.equal(w0.slice(1536).join(' '), segmentText(11, 'h104', 254));
  });

  test('a prompt longer than its blocks ends with its own text', () => {
    const p = planFromTrace(trace([{ inputTokens: 600, hashIds: [7] }], 256), { model: 'm', load: LOAD })[0]!;
    const words = contentOf(buildBody(t, p)).split(' ');
    assert.equal(words.length, 590);
    assert.equal(words.slice(0, 256).join(' '), segmentText(11, 'h7', 256));
    assert.equal(words.slice(256).join(' '), promptText(11, p.key, 590 - 256));
  });

  test('Llama-3: a block of N words is N tokens, and the shared blocks are the same tokens', () => {
    const enc = (s: string) => llama3Tokenizer.encode(s, { bos: false, eos: false });
    const a = enc(contentOf(bodies[0]!));
    const b = enc(contentOf(bodies[1]!));
    assert.equal(a.length, 1790);
    assert.equal(b.length, 1690);
    assert.equal(commonPrefix(a, b), 1024);
  });

  test('completions endpoint: the prompt starts with the shared blocks too', () => {
    const shape: PromptShape = { overheadTokens: 1, tokensPerWord: 1 };
    const c = template(shape, 'completions');
    const [x, y] = [buildBody(c, plan[0]!), buildBody(c, plan[1]!)].map((b) => tok.encodePrompt(contentOf(b)));
    assert.equal(commonPrefix(x!, y!), 1 + 1024);
    assert.equal(x!.length, 1800);
  });

  test('tokensPerWord != 1: blocks are round(blockTokens / tokensPerWord) words, the prompt is wordsFor(prompt tokens)', () => {
    const shape: PromptShape = { overheadTokens: 10, tokensPerWord: 1.25 };
    const words = contentOf(buildBody(template(shape), plan[0]!)).split(' ');
    assert.equal(words.length, wordsFor(1800, shape));
    assert.equal(words.slice(0, 410).join(' '), segmentText(11, 'h101', 410));
    assert.equal(words.slice(410, 820).join(' '), segmentText(11, 'h102', 410));
  });

  test('the body carries no key or id of the blocks, only the text', () => {
    const p: PlannedRequest = plan[0]!;
    assert.ok(p.prompt && p.prompt.shared.length === 4);
    assert.doesNotMatch(bodies[0]!, /h101|"shared"/);
  });
});
