/**
 * A trace's sessions replayed as conversations end to end (docs/scenarios.md, "Sessions as
 * conversations"): a JSONL trace with session ids (generic field mapping), runScenario against an
 * in-process simulated vLLM worker on two client threads. Each session's turns go in order, each
 * at the later of its trace time and the previous turn's end, carrying the history (the worker's
 * real answers), so the prompt the worker counts follows the rule for the new text:
 *
 *   history: included   P(k) = row input                       (new text = row input - P(k-1) - A(k-1))
 *                        P(k) = P(k-1) + A(k-1) + overhead + 1  (clamped: the row's input <= the history)
 *   history: excluded   P(k) = P(k-1) + A(k-1) + row input
 *
 * (A: the answer's tokens; overhead as in multi-turn-conversation.test.ts, where 2 x framing =
 * overhead on this worker.) summary.json's conversations block matches the records.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { buildPlan, type PlannedRequest } from '../../harness/workload/plan.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-trace-sess-'));
let w: SimWorker | undefined;
after(async () => {
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Times in ms. Session b's second row (input 5) is shorter than its history: clamped when included.
const ROWS = [
  { t: 0, in: 40, out: 8, sid: 'a' },
  { t: 20, in: 30, out: 10, sid: 'b' },
  { t: 30, in: 5, out: 4, sid: 'b' },
  { t: 50, in: 30, out: 5 },
  { t: 60, in: 25, out: 4, sid: 'c' },
  { t: 100, in: 200, out: 8, sid: 'a' },
  { t: 150, in: 400, out: 6, sid: 'a' },
  { t: 400, in: 500, out: 5, sid: 'b' },
];
fs.writeFileSync(path.join(tmp, 'sessions.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');

async function replay(history: 'included' | 'excluded') {
  w ??= await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, enablePrefixCaching: true });
  const sc = parseScenario(
    `name: trace-sessions\nseed: 5\ntarget: {url: "${w.url}", model: ${w.engine.modelName}}\n` +
      `workload:\n  trace:\n    format: jsonl\n    file: sessions.jsonl\n    fields: {time: t, time_unit: ms, input_tokens: in, output_tokens: out, session: sid}\n    sessions: conversation\n    history: ${history}\n` +
      `load: {drain: 20s}\n`,
    path.join(tmp, `${history}.yaml`),
    { env: {} },
  );
  const plan = buildPlan(sc);
  const records: RequestRecord[] = [];
  const out = await runScenario(sc, { threads: 2, allowSaturated: true, outDir: path.join(tmp, `run-${history}`), onRecord: (r) => records.push(r) });
  assert.equal(out.summary.requests.failed, 0, out.reasons.join('; '));
  assert.equal(records.length, ROWS.length, 'every row is sent once');
  // The planned turns of each conversation (row times and lengths), by conversation id.
  const planned = new Map<number, PlannedRequest[]>();
  for (const f of plan.open) planned.set(f.conversation!.id, [f, ...(f.traceTurns?.later ?? [])]);
  const byConv = new Map<number, RequestRecord[]>();
  for (const r of records) {
    assert.ok(r.conversation !== undefined && r.turn !== undefined, 'every request is a turn of a conversation');
    byConv.set(r.conversation, [...(byConv.get(r.conversation) ?? []), r]);
  }
  assert.deepEqual([...byConv.keys()].sort(), [...planned.keys()].sort(), 'one conversation per session (and per row without one)');
  for (const turns of byConv.values()) turns.sort((a, b) => a.turn! - b.turn!);
  return { out, plan, planned, byConv, records, overhead: out.summary.prompts.overhead_tokens as number };
}

test('history included: each turn after its trace time and the previous answer, the prompt the row\'s input length', async () => {
  const { out, planned, byConv, overhead } = await replay('included');
  let clampedSeen = 0;
  let later = 0;
  for (const [id, turns] of byConv) {
    const rows = planned.get(id)!;
    assert.deepEqual(turns.map((r) => r.turn), rows.map((_, k) => k + 1), `conversation ${id}: turns 1..n in order`);
    for (let k = 0; k < turns.length; k++) {
      const r = turns[k]!;
      const row = rows[k]!;
      assert.equal(r.conversationTurns, rows.length);
      assert.equal(r.outputTokens, row.outputTokens, 'max output = the row\'s output length');
      assert.ok(r.sentMs >= row.intendedMs, `conversation ${id} turn ${k + 1}: not before its trace time`);
      if (k === 0) {
        assert.equal(r.intendedMs, row.intendedMs);
        assert.equal(r.promptTokens, row.promptTokens);
        continue;
      }
      const prev = turns[k - 1]!;
      later++;
      assert.ok(r.sentMs >= prev.endMs, 'not before the previous turn\'s end');
      assert.equal(r.intendedMs, Math.max(row.intendedMs, prev.endMs), 'due at the later of its trace time and the previous end');
      const historyTokens = prev.promptTokens! + prev.outputTokens;
      if (row.promptTokens > historyTokens) {
        assert.equal(r.newTextClamped, undefined);
        assert.equal(r.plannedPromptTokens, row.promptTokens - historyTokens, 'new text = row input - history');
        assert.equal(r.promptTokens, row.promptTokens, `conversation ${id} turn ${k + 1}: the server counts the row's input length`);
      } else {
        clampedSeen++;
        assert.equal(r.newTextClamped, true);
        assert.equal(r.plannedPromptTokens, 1);
        assert.equal(r.promptTokens, historyTokens + overhead + 1, 'clamped: the history plus one word');
      }
    }
  }
  assert.equal(later, 4);
  assert.equal(clampedSeen, 1, 'session b\'s second row is shorter than its history');

  const c = out.summary.conversations!;
  assert.ok(c, 'summary has conversations');
  assert.equal(c.started, byConv.size);
  assert.equal(c.completed, byConv.size);
  assert.equal(c.failed, 0);
  assert.equal(c.cut, 0);
  assert.deepEqual(c.turns, { mean: ROWS.length / byConv.size, max: 3 });
  assert.equal(c.new_text_clamped, 1);
  assert.deepEqual(Object.fromEntries(Object.entries(c.ttft_ms_by_turn).map(([t, v]) => [t, v.count])), { '1': 4, '2': 2, '3': 2 });
  const md = fs.readFileSync(path.join(tmp, 'run-included', 'summary.md'), 'utf8');
  assert.match(md, /1 trace turn\(s\) had an input length not above the history's tokens/);
});

test('history excluded: a row\'s input length is the new text, added to the history', async () => {
  const { out, planned, byConv, overhead } = await replay('excluded');
  let checked = 0;
  for (const [id, turns] of byConv) {
    const rows = planned.get(id)!;
    assert.equal(turns.length, rows.length);
    for (let k = 1; k < turns.length; k++) {
      const r = turns[k]!;
      const prev = turns[k - 1]!;
      assert.equal(r.plannedPromptTokens, rows[k]!.promptTokens);
      assert.equal(r.newTextClamped, undefined);
      assert.ok(r.sentMs >= prev.endMs && r.sentMs >= rows[k]!.intendedMs);
      // The new message's planned tokens include the template overhead, as a turn's do (2 x framing = overhead).
      const words = Math.max(1, rows[k]!.promptTokens - overhead);
      assert.equal(r.promptTokens, prev.promptTokens! + prev.outputTokens + overhead + words, `conversation ${id} turn ${k + 1}`);
      checked++;
    }
  }
  assert.equal(checked, 4);
  assert.equal(out.summary.conversations!.new_text_clamped, 0);
  assert.equal(out.summary.conversations!.completed, byConv.size);
});
