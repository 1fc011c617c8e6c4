/**
 * Distributed load (docs/distributed.md): N copies of the harness, each `--shard I/N`, build the
 * same Plan from the scenario's seed and keep a deterministic, disjoint share of it, so that the
 * union of the N shares is exactly the unsplit plan (same requests, ids, intended times, lengths):
 *
 * - open-loop arrivals (constant, poisson, gamma, mix streams, timed trace rows): request k of
 *   the plan (its id) goes to shard k mod N; a trace row with a session goes to shard
 *   fnv1a(session) mod N, so a session's rows stay together (with `trace.sessions: conversation`
 *   its later rows travel on its turn 1); with `workload.conversation`,
 *   arrival k is turn 1 of a new conversation, whose later turns are made (and sent) by the
 *   shard that sent turn 1, so a conversation stays on shard k mod N;
 * - closed-loop users (and their multi-turn conversations, and the trace rows dealt to them):
 *   user u of each closed stage (a `mix:` stream's own closed stages included) goes to shard
 *   u mod N, with the mix stream it was given. The stage plan is kept whole (its users'
 *   start times, the rows dealt by user index); `users` names the ones this shard runs.
 *
 * Also: the `--shard` and `--start-at` arguments, and the plan's fingerprint (shards of one plan
 * share it; `harness merge` checks it).
 */
import { UsageError } from '../errors.ts';
import { fnv1a32 } from '../util/fnv1a.ts';
import { parseDuration } from '../util/duration.ts';
import type { Plan, PlannedRequest } from '../workload/plan.ts';

export interface ShardSpec {
  /** 0-based, below count. */
  index: number;
  /** Shards in all, >= 1. */
  count: number;
}

/** Most shards a run can be split into. */
export const MAX_SHARDS = 10_000;

/** `I/N` (0 <= I < N, 1 <= N): FG_SHARD_BAD_SPEC otherwise. */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const allowed = `I/N with whole numbers, 0 <= I < N, 1 <= N <= ${MAX_SHARDS} (e.g. 0/4 ... 3/4; I is 0-based, as JOB_COMPLETION_INDEX)`;
  if (!m) throw new UsageError('FG_SHARD_BAD_SPEC', `--shard: "${text}" is not ${allowed}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new UsageError('FG_SHARD_BAD_SPEC', `--shard ${text}: N = ${count} is out of range; expected ${allowed}`);
  if (index >= count) throw new UsageError('FG_SHARD_BAD_SPEC', `--shard ${text}: index ${index} is not below the count ${count} (indices are 0-based: 0 .. ${count - 1}); expected ${allowed}`);
  return { index, count };
}

/** Check a ShardSpec given programmatically (RunOptions.shard). */
export function checkShard(s: ShardSpec): void {
  if (!Number.isSafeInteger(s.count) || s.count < 1 || s.count > MAX_SHARDS || !Number.isSafeInteger(s.index) || s.index < 0 || s.index >= s.count) {
    throw new UsageError('FG_SHARD_BAD_SPEC', `shard ${s.index}/${s.count}: expected whole numbers with 0 <= index < count, 1 <= count <= ${MAX_SHARDS}`);
  }
}

export const START_AT_ALLOWED = 'an ISO-8601 time with a zone (2026-03-01T12:00:00Z, 2026-03-01T13:00:00+01:00) or now+DURATION (now+30s, now+2m)';

/**
 * `--start-at`: an ISO-8601 date-time with its zone (Z or +hh:mm; a time without a zone is
 * refused: whose local time?) or `now+DURATION`, as Unix ms. FG_SHARD_BAD_START_AT otherwise.
 */
export function parseStartAt(text: string, nowMs: number = Date.now()): number {
  const s = text.trim();
  const rel = /^now\s*\+\s*(.+)$/i.exec(s);
  if (rel) {
    const d = parseDuration(rel[1]!.trim());
    if (d === undefined) throw new UsageError('FG_SHARD_BAD_START_AT', `--start-at: "${text}": "${rel[1]}" is not a duration (500ms, 30s, 2m); expected ${START_AT_ALLOWED}`);
    return nowMs + d;
  }
  if (s.toLowerCase() === 'now') return nowMs;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
  if (!iso.test(s)) {
    const why = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s) ? ' (no zone: add Z for UTC)' : '';
    throw new UsageError('FG_SHARD_BAD_START_AT', `--start-at: "${text}" is not a time${why}; expected ${START_AT_ALLOWED}`);
  }
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) throw new UsageError('FG_SHARD_BAD_START_AT', `--start-at: "${text}" is not a valid date; expected ${START_AT_ALLOWED}`);
  return ms;
}

/**
 * How far in the past a start time may be and still run (ms): the warmup, at least 1 s. A shard
 * that starts late catches up (its first requests go out at once, late, with their send lag
 * recorded); later than this and the shard refuses to start (FG_SHARD_START_PAST).
 */
export function startLateToleranceMs(warmupMs: number): number {
  return Math.max(1000, warmupMs);
}

/** The shard (of `count`) that open-loop request `r` belongs to. */
export function shardOfOpen(r: PlannedRequest, count: number): number {
  if (r.session !== undefined) return fnv1a32(r.session) % count;
  return r.id % count;
}

/** The shard (of `count`) that closed-loop user `u` (of any closed stage) belongs to. */
export function shardOfUser(u: number, count: number): number {
  return u % count;
}

/**
 * The share of `plan` that shard `shard` sends: its open-loop requests (ids, times, lengths as
 * planned), every closed stage with `users` set to its users, and targetsPerSecond counted over
 * its own requests. count 1 gives the plan back.
 */
export function shardPlan(plan: Plan, shard: ShardSpec): Plan {
  checkShard(shard);
  if (shard.count === 1) return plan;
  const open = plan.open.filter((r) => shardOfOpen(r, shard.count) === shard.index);
  const closed = plan.closed.map((c) => {
    const all = c.users ?? c.userStartsMs.map((_, u) => u);
    return { ...c, users: all.filter((u) => shardOfUser(u, shard.count) === shard.index) };
  });
  const targetsPerSecond: Array<number | null> = plan.targetsPerSecond.map((t) => (t === null ? null : 0));
  for (const f of open) {
    // A trace session's later turns go with its turn 1 (they are planned requests of the shard).
    for (const r of [f, ...(f.traceTurns?.later ?? [])]) {
      const sec = Math.floor(r.intendedMs / 1000);
      targetsPerSecond[sec] = (targetsPerSecond[sec] ?? 0) + 1;
    }
  }
  return { ...plan, open, closed, targetsPerSecond };
}

/**
 * A fingerprint of the unsplit plan (16 hex digits): its seed and length, every open-loop
 * request (id, time, stage, phase, lengths, model, tenant, prompt composition, dataset entry,
 * mix stream, session, an open-loop conversation's planned turns) and every closed stage (window, label, user starts, think time, users'
 * mix streams, dealt rows).
 * Shards of one scenario and seed share it; `harness merge` refuses shards whose plans differ.
 */
export function planFingerprint(plan: Plan): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  const feed = (s: string) => {
    a = Math.imul(a ^ fnv1a32(s), 0x01000193) >>> 0;
    b = Math.imul((b + fnv1a32(`#${s}`)) >>> 0, 0x85ebca6b) >>> 0;
  };
  feed(`seed=${plan.seed};total=${plan.totalMs};stages=${plan.stageStartsMs.join(',')}`);
  for (const r of plan.open) feed(requestKey(r));
  for (const c of plan.closed) {
    feed(`closed ${c.stage} ${c.label ?? ''} ${c.startMs} ${c.endMs} ${c.thinkTimeMs.min}-${c.thinkTimeMs.max} ${c.userStartsMs.join(',')} ${c.streams?.join(',') ?? ''}`);
    for (const r of c.rows ?? []) feed(requestKey(r));
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

function requestKey(r: PlannedRequest): string {
  const prompt = r.prompt ? r.prompt.shared.map((s) => `${s.key}:${s.tokens}`).join('+') : '';
  const key = [r.id, r.key, r.stage, r.phase, r.intendedMs, r.promptTokens, r.outputTokens, r.model, r.tenant ?? '', r.user ?? '', prompt, r.dataset ?? '', r.mix ?? '', r.session ?? ''].join('|');
  // An open-loop conversation's planned turns (absent otherwise: fingerprints of other plans are unchanged).
  const conv = r.conversation ? `${key}|conv=${r.conversation.id}:${r.conversation.turns}` : key;
  // A trace session's later turns (sessions: conversation).
  return r.traceTurns ? `${conv}|history=${r.traceTurns.historyIncluded}|${r.traceTurns.later.map(requestKey).join('/')}` : conv;
}
