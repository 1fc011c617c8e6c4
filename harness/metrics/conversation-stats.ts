/**
 * Conversation figures (docs/metrics.md, "Conversations"): folded from the RequestRecords of a
 * `workload.conversation` scenario as they complete, into summary.json's `conversations` block.
 * A conversation is counted when its first turn was measured (not warmup or cooldown); it is
 * completed when its last planned turn succeeded, failed when a turn failed (the user then starts
 * a new one), and cut when the run ended before its last turn. Only per-conversation figures are
 * held while a conversation is open; nothing of the text.
 */
import { LatencyHistogram } from './latency-histogram.ts';
import type { RequestRecord } from './request-record.ts';

/** TTFT is kept per turn for turns 1 .. TURN_BUCKETS - 1; later turns share the last bucket. */
export const TURN_BUCKETS = 10;

export interface ConversationSummary {
  /** Conversations whose first turn was measured. */
  started: number;
  /** ... whose every planned turn succeeded. */
  completed: number;
  /** ... ended by a failed turn. */
  failed: number;
  /** ... still going when sending stopped (stage end, Ctrl-C). */
  cut: number;
  /** completed / (completed + failed): the share of the ended conversations that completed (cut ones left out); null when none ended. */
  completed_fraction: number | null;
  /** Turns of the completed conversations. */
  turns: { mean: number | null; max: number | null };
  /** Completed conversations: first turn sent -> last turn's end, seconds. */
  duration_s: { mean: number | null; p95: number | null };
  /** Completed conversations: the last turn's prompt tokens (server usage; else the planned new message). */
  last_prompt_tokens: { mean: number | null; max: number | null };
  /** TTFT of measured successful turns by turn number: "1" .. "9", then "10+" (turns 10 and later). */
  ttft_ms_by_turn: Record<string, { count: number; p50: number | null; p95: number | null }>;
  /**
   * Trace sessions as conversations (`trace.sessions: conversation`) only: turns sent (any phase)
   * whose row's input length did not exceed the history's tokens, so their new text was clamped
   * to 1 token (a warning when above 0).
   */
  new_text_clamped?: number;
}

interface Open {
  firstSentMs: number;
  measured: boolean;
}

export class ConversationStats {
  private readonly open = new Map<number, Open>();
  private started = 0;
  private completed = 0;
  private failed = 0;
  private turnsSum = 0;
  private turnsMax = 0;
  private durationSumMs = 0;
  private readonly duration = new LatencyHistogram();
  private lastPromptSum = 0;
  private lastPromptMax = 0;
  private readonly ttft: LatencyHistogram[] = Array.from({ length: TURN_BUCKETS }, () => new LatencyHistogram());

  /** Turns whose new text was clamped (RequestRecord.newTextClamped). */
  newTextClamped = 0;

  /** A record of a conversation turn (r.conversation and r.turn set). */
  add(r: RequestRecord): void {
    if (r.newTextClamped) this.newTextClamped++;
    const id = r.conversation!;
    const turn = r.turn ?? 1;
    let c = this.open.get(id);
    if (c === undefined) {
      c = { firstSentMs: r.sentMs, measured: r.phase === 'measure' };
      this.open.set(id, c);
      if (c.measured) this.started++;
    }
    if (r.ok && r.phase === 'measure' && r.ttftMs !== undefined) this.ttft[Math.min(turn, TURN_BUCKETS) - 1]!.record(r.ttftMs);
    const last = turn >= (r.conversationTurns ?? turn);
    if (r.ok && !last) return;
    this.open.delete(id);
    if (!c.measured) return;
    if (!r.ok) {
      this.failed++;
      return;
    }
    this.completed++;
    this.turnsSum += turn;
    if (turn > this.turnsMax) this.turnsMax = turn;
    const ms = r.endMs - c.firstSentMs;
    this.durationSumMs += ms;
    this.duration.record(ms);
    const prompt = r.promptTokens ?? r.plannedPromptTokens;
    this.lastPromptSum += prompt;
    if (prompt > this.lastPromptMax) this.lastPromptMax = prompt;
  }

  summarize(): ConversationSummary {
    let cut = 0;
    for (const c of this.open.values()) if (c.measured) cut++;
    const n = this.completed;
    const byTurn: ConversationSummary['ttft_ms_by_turn'] = {};
    this.ttft.forEach((h, i) => {
      const s = h.stats();
      if (s.count === 0) return;
      byTurn[i === TURN_BUCKETS - 1 ? `${TURN_BUCKETS}+` : String(i + 1)] = { count: s.count, p50: s.p50, p95: s.p95 };
    });
    const p95 = this.duration.percentile(95);
    return {
      started: this.started,
      completed: n,
      failed: this.failed,
      cut,
      completed_fraction: n + this.failed ? n / (n + this.failed) : null,
      turns: { mean: n ? this.turnsSum / n : null, max: n ? this.turnsMax : null },
      duration_s: { mean: n ? this.durationSumMs / n / 1000 : null, p95: p95 === null ? null : p95 / 1000 },
      last_prompt_tokens: { mean: n ? this.lastPromptSum / n : null, max: n ? this.lastPromptMax : null },
      ttft_ms_by_turn: byTurn,
    };
  }
}
