/**
 * Open-loop conversations end to end (docs/scenarios.md, "Conversations"): runScenario against an
 * in-process simulated vLLM worker (sped up), a Poisson stage whose every arrival starts a new
 * 3-turn conversation, then a closed-loop stage whose users hold conversations too, on two client
 * threads. The conversations started are the planned arrivals, turn 1 at its arrival time; each
 * later turn goes when the previous one ended plus the think time, carrying the history, so the
 * prompt the worker counts grows as in multi-turn-conversation.test.ts:
 *
 *   P(k) = P(k-1) + A(k-1) + 2F + W(k)   (= P(k-1) + A(k-1) + planned prompt on this worker)
 *
 * No turn starts after the stages; summary.json's conversations block matches the records.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-open-conv-'));
let w: SimWorker | undefined;
after(async () => {
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('open-loop arrivals start new conversations whose later turns follow the answers', async () => {
  w = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, enablePrefixCaching: true });
  const PROMPT = 40;
  const OUTPUT = 12;
  const THINK = 20;
  const sc = parseScenario(
    `name: open-conv\nseed: 21\ntarget: {url: "${w.url}", model: ${w.engine.modelName}}\n` +
      `workload: {prompt_tokens: ${PROMPT}, output_tokens: ${OUTPUT}, conversation: {turns: 3, think_time: ${THINK}ms}}\n` +
      `load: {arrival: poisson, drain: 20s, stages: [{duration: 1500ms, rate: 12}, {duration: 1s, users: 2}]}\n`,
    path.join(tmp, 'open-conv.yaml'),
    { env: {} },
  );
  const plan = buildPlan(sc);
  assert.ok(plan.open.length >= 5, `${plan.open.length} planned arrivals`);
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 2, allowSaturated: true, outDir: path.join(tmp, 'run'), onRecord: (r) => records.push(r) });
  assert.equal(out.summary.requests.failed, 0, out.reasons.join('; '));

  const byConv = new Map<number, RequestRecord[]>();
  for (const r of records) {
    assert.ok(r.conversation !== undefined && r.turn !== undefined, 'every request is a turn of a conversation');
    const list = byConv.get(r.conversation) ?? [];
    list.push(r);
    byConv.set(r.conversation, list);
  }
  // Open-loop conversations (no user) are exactly the planned arrivals: conversation id = arrival id + 1.
  const open = [...byConv.entries()].filter(([, t]) => t[0]!.user === undefined);
  const closed = [...byConv.entries()].filter(([, t]) => t[0]!.user !== undefined);
  assert.equal(open.length, plan.open.length, 'one conversation per planned arrival');
  assert.ok(closed.length > 0, 'the closed-loop stage holds conversations too');
  const maxOpenId = Math.max(...open.map(([id]) => id));
  assert.ok(closed.every(([id]) => id > maxOpenId), 'closed-loop conversation ids do not meet the open-loop ones');

  const planned = new Map(plan.open.map((p) => [p.id, p]));
  let complete = 0;
  let checked = 0;
  for (const [id, turns] of open) {
    turns.sort((a, b) => a.turn! - b.turn!);
    assert.deepEqual(turns.map((r) => r.turn), [1, 2, 3].slice(0, turns.length), `conversation ${id}: turns 1..n`);
    const first = turns[0]!;
    const arrival = planned.get(first.id)!;
    assert.ok(arrival, `conversation ${id}: turn 1 is a planned arrival`);
    assert.equal(id, arrival.id + 1);
    assert.equal(first.intendedMs, arrival.intendedMs, 'turn 1 is due at its arrival');
    assert.equal(first.promptTokens, PROMPT);
    if (turns.length === 3) complete++;
    for (let k = 1; k < turns.length; k++) {
      const r = turns[k]!;
      const prev = turns[k - 1]!;
      assert.equal(r.conversationTurns, 3);
      assert.equal(r.intendedMs, prev.endMs + THINK, 'due when the previous turn ended plus the think time');
      assert.ok(r.intendedMs < plan.totalMs, 'no new turn after the stages');
      assert.equal(r.stage, r.intendedMs >= plan.stageStartsMs[1]! ? 1 : 0, 'recorded in the stage its time falls in');
      assert.equal(r.plannedPromptTokens, PROMPT);
      assert.equal(r.promptTokens, prev.promptTokens! + prev.outputTokens + PROMPT, `conversation ${id} turn ${r.turn}: the history grows by the last prompt and answer`);
      checked++;
    }
    // A conversation that stopped short did so because its next turn would start after the stages.
    if (turns.length < 3) assert.ok(turns[turns.length - 1]!.endMs + THINK >= plan.totalMs, `conversation ${id} cut only at the end`);
  }
  assert.ok(complete >= 3, `${complete} complete open-loop conversations`);
  assert.ok(checked >= 6, `${checked} later turns checked`);

  // summary.json's conversations block counts both kinds, from the records.
  const c = out.summary.conversations!;
  assert.ok(c, 'summary has conversations');
  const completeAll = [...byConv.values()].filter((t) => t.length === 3 && t.every((r) => r.ok)).length;
  assert.equal(c.started, byConv.size);
  assert.equal(c.completed, completeAll);
  assert.equal(c.failed, 0);
  assert.equal(c.cut, byConv.size - completeAll);
  assert.equal(c.ttft_ms_by_turn['1']!.count, byConv.size);
  assert.equal(c.ttft_ms_by_turn['2']!.count, records.filter((r) => r.turn === 2).length);
  assert.equal(out.summary.requests.total, records.length);
});
