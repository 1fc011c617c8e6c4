/**
 * The shape every trace reader produces (Mooncake JSONL, Azure LLM inference CSV, BurstGPT CSV,
 * any CSV/JSONL with a field mapping) and the plan consumes: one request per row kept, in
 * arrival order, lengths in tokens, times in ms from the start of the replay. Readers apply the
 * replay options (time window, speed, rate scaling, loop, model mapping, failed rows) before
 * handing the rows over, so the plan sees exactly what will be sent.
 */

export interface TraceRequest {
  /** Arrival on the replay clock (ms from the replay's start); null when the trace has no times. */
  tMs: number | null;
  /** Prompt tokens. */
  inputTokens: number;
  /** Output tokens asked for (max_tokens, with ignore_eos where the target allows). */
  outputTokens: number;
  /**
   * Mooncake: ids of the prompt's blocks of `blockTokens` tokens, in order. Requests sharing a
   * leading run of ids share exactly that many blocks of prompt tokens.
   */
  hashIds?: readonly number[];
  /** The target's model for this row (after the scenario's model mapping), when the trace says. */
  model?: string;
  /** Tenant name, when the trace (or its mapping) says. */
  tenant?: string;
  /** Conversation/session id, when the trace says. */
  session?: string;
  /** 1-based line of the row in its file (the header is line 1 for CSV). */
  line: number;
}

export interface TraceReadReport {
  /** File read (as resolved). */
  file: string;
  format: string;
  /** Data rows in the file (excluding a header). */
  rowsRead: number;
  /** Requests handed to the plan (after window, thinning/duplication, loop, dropped rows). */
  requests: number;
  /** Rows left out, by reason (e.g. outside the window, failed row dropped, thinned). */
  skipped: Record<string, number>;
  /** Rows kept but suspicious (e.g. Mooncake hash ids that do not match the input length), each with its line. */
  warnings: Array<{ line: number; message: string }>;
  /** Replay span after the options, ms (null without times). */
  spanMs: number | null;
  /** True when the file was not in time order and its rows were sorted (stably) by time. Added later: optional. */
  reordered?: boolean;
  /** What the options did, in sentences (failed rows kept, duplicates added, loop passes, ...). Added later: optional. */
  notes?: string[];
}

export interface TraceReadResult {
  requests: TraceRequest[];
  report: TraceReadReport;
  /** Tokens per Mooncake block (512 unless the scenario says otherwise); undefined for other formats. */
  blockTokens?: number;
}
