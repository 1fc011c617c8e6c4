/**
 * A scenario's `workload.conversation` block: multi-turn conversations held by closed-loop users,
 * or started by open-loop arrivals (docs/scenarios.md, "Conversations").
 *
 *     workload:
 *       prompt_tokens: {dist: uniform, min: 100, max: 300}   # each turn's new user message
 *       output_tokens: 128                                   # each turn's answer
 *       conversation: {turns: {dist: uniform, min: 2, max: 8}, think_time: {min: 1s, max: 3s}}
 *
 * `turns` (a length distribution, integers >= 1) is required; `think_time` (a duration, or
 * {min, max}: between a turn's answer and the next turn) defaults to 0. Each turn's request
 * carries the whole history (user, assistant, ..., user); the assistant messages are the
 * server's own answers. Only with the chat endpoint and no trace: those conflicts are checked by
 * checkConversation once target and load are read.
 */
import type { ConversationConfig, TargetConfig } from './scenario-types.ts';
import { LENGTH_DIST_SHAPE, readLengthDist } from './length-distribution.ts';
import type { Node } from 'yaml';
import type { MapView } from './yaml-node-reader.ts';

export const CONVERSATION_KEYS = ['turns', 'think_time'] as const;

/** Turns of one conversation are clamped to this many (a bound on a request's history). */
export const MAX_TURNS = 1000;

/**
 * Read `conversation` from the workload map; undefined when absent or invalid (issues recorded,
 * with positions). `readThinkTime` is the stage think-time reader (a duration or {min, max}).
 */
export function readConversation(
  workload: MapView,
  baseDir: string,
  readThinkTime: (node: Node, path: string) => { min: number; max: number } | undefined,
): ConversationConfig | undefined {
  const m = workload.map('conversation');
  if (!m) return undefined;
  const r = m.r;
  const before = r.issues.length;
  m.checkKeys(CONVERSATION_KEYS);
  const turnsNode = m.need('turns', `${LENGTH_DIST_SHAPE}: the number of turns of a conversation`);
  const turns = turnsNode && readLengthDist(r, turnsNode, m.pathOf('turns'), baseDir);
  if (turns && turns.dist === 'fixed' && turns.value > MAX_TURNS) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('turns'), m.pathOf('turns'), `a conversation of ${turns.value} turns is more than ${MAX_TURNS}`, {
      value: turns.value,
      allowed: `an integer from 1 to ${MAX_TURNS}`,
    });
  }
  const thinkNode = m.get('think_time');
  const thinkTimeMs = thinkNode === undefined ? { min: 0, max: 0 } : readThinkTime(thinkNode, m.pathOf('think_time'));
  if (r.issues.length > before || !turns || !thinkTimeMs) return undefined;
  return { turns: { ...turns, max: Math.min(turns.max, MAX_TURNS) }, thinkTimeMs };
}

/**
 * The conflicts of a valid `conversation` with the rest of the scenario: a trace, the completions
 * endpoint. Reported at the `conversation` key. Any stages go: closed-loop users hold one
 * conversation after another; each open-loop arrival (of load.stages, or of a `mix:` stream's own
 * load) starts a new conversation, with its stream's key and model.
 */
export function checkConversation(workload: MapView, target: TargetConfig | undefined, traced: boolean): void {
  if (!workload.has('conversation')) return;
  const r = workload.r;
  const at = workload.keyNode('conversation');
  const path = workload.pathOf('conversation');
  if (traced) {
    r.report('FG_SCENARIO_CONFLICT', at, path, 'conversation does not apply with trace: a trace gives every request of its own', {
      allowed: 'trace or conversation, not both',
    });
    return;
  }
  if (target && target.endpoint !== 'chat') {
    r.report('FG_SCENARIO_CONFLICT', at, path, `conversation needs target.endpoint: chat (the history is a list of messages); endpoint is ${target.endpoint}`, {
      allowed: 'set target.endpoint: chat, or remove conversation',
    });
  }
}
