/**
 * Synthetic prompts (harness/workload/prompt-factory.ts) and request bodies
 * (harness/engine/request-template.ts): deterministic, distinct, exact in words and Llama-3
 * tokens; OpenAI-shape bodies with the output length pinned and usage asked for.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { promptText, wordsFor } from '../../harness/workload/prompt-factory.ts';
import { PROMPT_FIRST_WORDS, PROMPT_WORDS } from '../../harness/workload/prompt-words.ts';
import { buildBody, endpointUrl, type RequestTemplate } from '../../harness/engine/request-template.ts';
import type { PlannedRequest } from '../../harness/workload/plan.ts';

const tokens = (text: string): number => llama3Tokenizer.encode(text, { bos: false, eos: false }).length;
const words = (text: string): string[] => text.split(' ');

describe('promptText', () => {
  test('deterministic per (seed, key)', () => {
    assert.equal(promptText(42, 'o17', 300), promptText(42, 'o17', 300));
    assert.equal(promptText(-5, 'calibration-a', 64), promptText(-5, 'calibration-a', 64));
  });

  test('word count is exact, single spaces, words from PROMPT_WORDS', () => {
    const vocab = new Set(PROMPT_WORDS);
    for (const n of [1, 2, 7, 64, 1000, 4096]) {
      const text = promptText(1, `o${n}`, n);
      const ws = words(text);
      assert.equal(ws.length, n);
      for (const w of ws) assert.ok(vocab.has(w), `"${w}" is not a prompt word`);
      assert.doesNotMatch(text, /^\s|\s$|\s\s/);
    }
  });

  test('zero words is the empty string', () => {
    assert.equal(promptText(1, 'o0', 0), '');
  });

  test('different keys differ within their first 16 words (no shared prefix)', () => {
    const prefixes = new Set<string>();
    for (let i = 0; i < 500; i++) prefixes.add(words(promptText(9, `o${i}`, 16)).join(' '));
    assert.equal(prefixes.size, 500);
    // And not only somewhere in the 16: the very first words already spread out.
    const firstWords = new Set<string>();
    for (let i = 0; i < 500; i++) firstWords.add(promptText(9, `o${i}`, 1));
    assert.ok(firstWords.size > 300, `only ${firstWords.size} distinct first words in 500 prompts`);
  });

  test('different seeds give different prompts for the same key', () => {
    assert.notEqual(words(promptText(1, 'o5', 16)).join(' '), words(promptText(2, 'o5', 16)).join(' '));
  });

  test('a longer prompt of the same (seed, key) starts with the shorter one', () => {
    const short = promptText(3, 'o8', 20);
    assert.ok(promptText(3, 'o8', 200).startsWith(short + ' '));
  });
});

describe('wordsFor', () => {
  test('tokens = overhead + tokensPerWord * words, rounded', () => {
    assert.equal(wordsFor(100, { overheadTokens: 0, tokensPerWord: 1 }), 100);
    assert.equal(wordsFor(100, { overheadTokens: 10, tokensPerWord: 1 }), 90);
    assert.equal(wordsFor(100, { overheadTokens: 10, tokensPerWord: 1.25 }), 72);
    assert.equal(wordsFor(1000, { overheadTokens: 0, tokensPerWord: 2 }), 500);
    assert.equal(wordsFor(101, { overheadTokens: 0, tokensPerWord: 2 }), 51);
  });

  test('at least one word', () => {
    assert.equal(wordsFor(5, { overheadTokens: 10, tokensPerWord: 1 }), 1);
    assert.equal(wordsFor(0, { overheadTokens: 0, tokensPerWord: 1 }), 1);
    assert.equal(wordsFor(10, { overheadTokens: 10, tokensPerWord: 1 }), 1);
  });
});

describe('prompts and the shipped Llama-3 tokenizer', () => {
  test('every prompt word is one token after a space', () => {
    for (const w of PROMPT_WORDS) assert.equal(tokens(` ${w}`), 1, `" ${w}"`);
  });

  test('every word after the first adds exactly one token', () => {
    for (let seed = 0; seed < 20; seed++) {
      for (const n of [2, 16, 64, 300, 1000]) {
        const text = promptText(seed, `o${n}`, n);
        const first = words(text)[0]!;
        assert.equal(tokens(text) - tokens(first), n - 1, `seed ${seed}, ${n} words`);
      }
    }
  });

  test('every first word is one token without a space before it', () => {
    for (const w of PROMPT_FIRST_WORDS) assert.equal(tokens(w), 1, `"${w}"`);
  });

  test('a prompt of N words is N tokens, whatever its first word (200 keys)', () => {
    for (let k = 0; k < 200; k++) {
      for (const n of [1, 3, 17]) assert.equal(tokens(promptText(k, `k${k}`, n)), n, `k${k}, ${n} words`);
    }
  });

  test('a prompt of N words is N tokens (seed 1, keys o0..o7)', () => {
    for (let k = 0; k < 8; k++) {
      for (const n of [1, 8, 64, 512, 2048]) {
        assert.equal(tokens(promptText(1, `o${k}`, n)), n, `o${k}, ${n} words`);
      }
    }
  });
});

function template(o: Partial<RequestTemplate> = {}): RequestTemplate {
  return {
    url: 'http://127.0.0.1:1/v1/chat/completions',
    headers: {},
    endpoint: 'chat',
    stream: true,
    extraBody: {},
    ignoreEos: false,
    continuousUsageStats: false,
    timeouts: { connectMs: 1000, ttftMs: 1000, totalMs: 1000 },
    promptShape: { overheadTokens: 0, tokensPerWord: 1 },
    seed: 7,
    ...o,
  };
}

function planned(o: Partial<PlannedRequest> = {}): PlannedRequest {
  return {
    id: 3,
    key: 'o3',
    stage: 0,
    phase: 'measure',
    intendedMs: 0,
    promptTokens: 50,
    outputTokens: 120,
    model: 'llama-3.1-8b',
    tenant: undefined,
    user: undefined,
    ...o,
  };
}

function body(t: RequestTemplate, p: PlannedRequest): Record<string, unknown> {
  return JSON.parse(buildBody(t, p)) as Record<string, unknown>;
}

describe('buildBody', () => {
  test('chat: model, one user message of the planned length, max_tokens, stream with usage', () => {
    const b = body(template(), planned());
    assert.deepEqual(Object.keys(b).sort(), ['max_tokens', 'messages', 'model', 'stream', 'stream_options']);
    assert.equal(b.model, 'llama-3.1-8b');
    assert.equal(b.max_tokens, 120);
    assert.equal(b.stream, true);
    assert.deepEqual(b.stream_options, { include_usage: true });
    const messages = b.messages as Array<{ role: string; content: string }>;
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.role, 'user');
    assert.equal(messages[0]!.content, promptText(7, 'o3', 50));
    assert.equal(words(messages[0]!.content).length, 50);
  });

  test('completions: prompt instead of messages', () => {
    const b = body(template({ endpoint: 'completions' }), planned());
    assert.equal(b.prompt, promptText(7, 'o3', 50));
    assert.equal('messages' in b, false);
    assert.equal(b.max_tokens, 120);
    assert.equal(b.model, 'llama-3.1-8b');
  });

  test('the prompt length follows the prompt shape', () => {
    const b = body(template({ endpoint: 'completions', promptShape: { overheadTokens: 8, tokensPerWord: 1 } }), planned({ promptTokens: 100 }));
    assert.equal(words(b.prompt as string).length, 92);
  });

  test('the prompt text comes from the template seed and the request key', () => {
    const a = body(template({ endpoint: 'completions' }), planned({ key: 'o1' }));
    const b = body(template({ endpoint: 'completions' }), planned({ key: 'o2' }));
    const c = body(template({ endpoint: 'completions', seed: 8 }), planned({ key: 'o1' }));
    assert.notEqual(a.prompt, b.prompt);
    assert.notEqual(a.prompt, c.prompt);
  });

  test('ignore_eos and min_tokens only when template.ignoreEos', () => {
    const on = body(template({ ignoreEos: true }), planned({ outputTokens: 77 }));
    assert.equal(on.ignore_eos, true);
    assert.equal(on.min_tokens, 77);
    assert.equal(on.max_tokens, 77);
    const off = body(template({ ignoreEos: false }), planned({ outputTokens: 77 }));
    assert.equal('ignore_eos' in off, false);
    assert.equal('min_tokens' in off, false);
  });

  test('continuous_usage_stats is asked for when enabled', () => {
    const b = body(template({ continuousUsageStats: true }), planned());
    assert.deepEqual(b.stream_options, { include_usage: true, continuous_usage_stats: true });
  });

  test('no stream_options when stream is false', () => {
    for (const continuousUsageStats of [false, true]) {
      const b = body(template({ stream: false, continuousUsageStats }), planned());
      assert.equal(b.stream, false);
      assert.equal('stream_options' in b, false);
    }
  });

  test('extraBody fields are passed through as they are', () => {
    const extraBody = { top_k: 20, temperature: 0.7, stop: ['</s>', '\n\n'], logit_bias: { '50256': -100 }, nested: { a: [1, { b: null }] } };
    const b = body(template({ extraBody }), planned());
    for (const [k, v] of Object.entries(extraBody)) assert.deepEqual(b[k], v, k);
    assert.equal(b.model, 'llama-3.1-8b');
    assert.equal(b.max_tokens, 120);
  });

  test('the fields the harness sets win over extraBody', () => {
    const b = body(
      template({ extraBody: { model: 'other', max_tokens: 1, stream: false, messages: [], stream_options: { include_usage: false } } }),
      planned(),
    );
    assert.equal(b.model, 'llama-3.1-8b');
    assert.equal(b.max_tokens, 120);
    assert.equal(b.stream, true);
    assert.deepEqual(b.stream_options, { include_usage: true });
    assert.equal((b.messages as unknown[]).length, 1);
  });
});

describe('endpointUrl', () => {
  test('chat and completions paths, with or without a trailing slash', () => {
    assert.equal(endpointUrl('http://h:8000/v1', 'chat'), 'http://h:8000/v1/chat/completions');
    assert.equal(endpointUrl('http://h:8000/v1/', 'completions'), 'http://h:8000/v1/completions');
  });
});
