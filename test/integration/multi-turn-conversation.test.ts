/**
 * Multi-turn conversations end to end (docs/scenarios.md, "Conversations"): runScenario against
 * an in-process simulated vLLM worker (prefix caching on, sped up), two closed-loop users holding
 * 3-turn conversations. Each turn's request carries the history, whose assistant messages are the
 * worker's own answers, so the prompt the worker counts grows by exactly the previous turn's
 * prompt and answer:
 *
 *   P(1) = planned prompt tokens
 *   P(k) = P(k-1) + A(k-1) + F + F + W(k)
 *
 * with A the answer's tokens (usage), W(k) = planned - overhead the new user message's words (one
 * token each), F the chat template's framing tokens per message (header start, role, header end,
 * newlines, end of turn: 5 with the simulated worker's tokenizer, derived below), and overhead =
 * BOS + F + the generation prompt. The history is a shared prefix of the next turn: the worker's
 * prefix cache hits. No prompt or answer text reaches requests.jsonl or summary.json.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { SimTokenizer } from '../../reference-stack/worker-sim/sim-tokenizer.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { composePrompt, wordsFor } from '../../harness/workload/prompt-factory.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-conv-'));
let w: SimWorker | undefined;
after(async () => {
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function prefixHits(worker: SimWorker): Promise<number> {
  let sum = 0;
  for (const line of (await worker.engine.metricsText()).split('\n')) {
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === 'vllm:prefix_cache_hits_total') sum += Number(m[3]);
  }
  return sum;
}

test('multi-turn prompts grow by the previous turn\'s prompt and answer', async () => {
  w = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, enablePrefixCaching: true });
  const PROMPT = 40;
  const OUTPUT = 12;
  const SEED = 9;
  const sc = parseScenario(
    `name: conv\nseed: ${SEED}\ntarget: {url: "${w.url}", model: ${w.engine.modelName}}\n` +
      `workload: {prompt_tokens: ${PROMPT}, output_tokens: ${OUTPUT}, conversation: {turns: 3, think_time: 20ms}}\n` +
      `load: {drain: 20s, stages: [{duration: 2s, users: 2}]}\n`,
    path.join(tmp, 'conv.yaml'),
    { env: {} },
  );
  const records: RequestRecord[] = [];
  const outDir = path.join(tmp, 'run');
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir, onRecord: (r) => records.push(r) });
  assert.equal(out.summary.requests.failed, 0, out.reasons.join('; '));

  // The template's tokens, from the worker's tokenizer: framing per message, and the whole overhead.
  const tok = new SimTokenizer(128_256);
  const framing = tok.encodeChat([{ role: 'user', content: 'x' }], false).length - 1 /* BOS */ - 1 /* content */;
  const genPrompt = tok.encodeChat([{ role: 'user', content: 'x' }], true).length - tok.encodeChat([{ role: 'user', content: 'x' }], false).length;
  assert.equal(framing, 5);
  assert.equal(tok.encodeChat([{ role: 'assistant', content: 'x' }], false).length - 2, framing, 'assistant messages are framed alike');
  const overhead = 1 + framing + genPrompt;
  assert.equal(out.summary.prompts.overhead_tokens, overhead);
  const words = PROMPT - overhead;

  const byConv = new Map<number, RequestRecord[]>();
  for (const r of records) {
    assert.ok(r.conversation !== undefined && r.turn !== undefined, 'every request is a turn of a conversation');
    assert.equal(r.conversationTurns, 3);
    const list = byConv.get(r.conversation) ?? [];
    list.push(r);
    byConv.set(r.conversation, list);
  }
  let complete = 0;
  let checked = 0;
  for (const [id, turns] of byConv) {
    turns.sort((a, b) => a.turn! - b.turn!);
    assert.deepEqual(turns.map((r) => r.turn), [1, 2, 3].slice(0, turns.length), `conversation ${id}: turns 1..n`);
    assert.equal(new Set(turns.map((r) => r.user)).size, 1, 'one user holds a conversation');
    if (turns.length === 3) complete++;
    for (let k = 0; k < turns.length; k++) {
      const r = turns[k]!;
      assert.equal(r.plannedPromptTokens, PROMPT);
      assert.equal(r.outputTokens, OUTPUT);
      if (k === 0) {
        assert.equal(r.promptTokens, PROMPT);
        continue;
      }
      const prev = turns[k - 1]!;
      assert.ok(r.sentMs >= prev.endMs + 19, 'think time between turns');
      assert.equal(r.promptTokens, prev.promptTokens! + prev.outputTokens + framing + framing + words, `conversation ${id} turn ${r.turn}`);
      assert.equal(r.promptTokens, prev.promptTokens! + prev.outputTokens + PROMPT, 'here 2 x framing = overhead: + the planned prompt');
      checked++;
    }
  }
  assert.ok(complete >= 4, `${complete} complete conversations`);
  assert.ok(checked >= 8, `${checked} turns checked`);
  assert.ok((await prefixHits(w)) > 0, 'the history is a cached prefix');

  // summary.json's conversations block.
  const c = out.summary.conversations!;
  assert.ok(c, 'summary has conversations');
  assert.equal(c.completed, complete);
  assert.equal(c.failed, 0);
  assert.equal(c.started, byConv.size);
  assert.equal(c.cut, byConv.size - complete);
  assert.deepEqual(c.turns, { mean: 3, max: 3 });
  assert.equal(c.last_prompt_tokens.max, 3 * PROMPT + 2 * OUTPUT);
  assert.deepEqual(Object.keys(c.ttft_ms_by_turn), ['1', '2', '3']);
  assert.equal(c.ttft_ms_by_turn['1']!.count, byConv.size);
  // summary.md says it too, with TTFT by turn.
  const md = fs.readFileSync(path.join(outDir, 'summary.md'), 'utf8');
  assert.match(md, new RegExp(`\\*\\*Conversations\\*\\*: ${c.completed} completed of ${c.started}`));
  assert.match(md, /\| 3 \| \d+ \|/);

  // No text: requests.jsonl holds ids, numbers and codes; neither file holds a prompt's or an answer's words.
  const lines = fs.readFileSync(path.join(outDir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, records.length);
  const stringFields = new Set(['phase', 'model', 'token_source', 'request_id', 'served_by', 'served_model']);
  for (const l of lines) {
    assert.equal(typeof l.conversation, 'number');
    assert.ok([1, 2, 3].includes(l.turn as number));
    for (const [k, v] of Object.entries(l)) if (typeof v === 'string') assert.ok(stringFields.has(k), `requests.jsonl field ${k} is a string`);
  }
  const summaryText = fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8');
  const prompt = composePrompt(SEED, 'c0-0-0', wordsFor(PROMPT, { overheadTokens: overhead, tokensPerWord: 1 }), undefined, { overheadTokens: overhead, tokensPerWord: 1 });
  for (const file of ['requests.jsonl', 'summary.json']) {
    const text = fs.readFileSync(path.join(outDir, file), 'utf8');
    assert.ok(!text.includes(prompt.slice(0, 40)), `${file} holds no prompt text`);
  }
  // Answers are words of the worker's generator (" the of and ..."): no run of three in summary.json.
  assert.doesNotMatch(summaryText, /\b(the|of|and|to|in|is|that|for|it|as|with|was|on|be|by|at) (the|of|and|to|in|is|that|for|it|as|with|was|on|be|by|at) (the|of|and|to|in|is|that|for|it|as|with|was|on|be|by|at)\b/);
});
