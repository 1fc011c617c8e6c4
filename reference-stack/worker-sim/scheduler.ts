/**
 * The simulated worker's continuous-batching scheduler: decides, step by step, which requests
 * compute how many tokens, admits waiting requests, preempts running ones when the KV cache is
 * full, and turns each step's results into tokens and finished requests.
 *
 * Owns: the waiting and running queues, each request's mutable state (status, computed tokens,
 * outputs, preemptions), the per-step token budget, and the StepWork handed to the performance
 * model. Block bookkeeping is the KvCacheManager's; step times are the performance model's.
 *
 * Mirrors vLLM V1's Scheduler.schedule() / update_from_output() (vllm/v1/core/sched/scheduler.py):
 * - One budget of maxNumBatchedTokens per step. RUNNING requests first, in list order, each
 *   asking for all the tokens it still has to compute (the rest of its prompt, or 1 when
 *   decoding), capped by long_prefill_token_threshold and by the budget left (chunked prefill).
 * - When the KV cache cannot hold a running request's new tokens, preempt by recompute:
 *   fcfs takes the last request of the running list, priority the one with the largest
 *   (priority, arrival); a victim already scheduled this step is unscheduled and its tokens
 *   refunded. The victim's blocks are freed, its numComputedTokens reset to 0 (its outputs are
 *   kept; it recomputes prompt + outputs), and it goes to the front of the waiting queue. A
 *   request that must preempt itself is not scheduled, and the running pass stops. (vLLM would
 *   then run a step with nothing in it and schedule again; here a pass that only preempted is
 *   repeated at once, so a plan with no entries always means nothing is runnable.)
 * - WAITING requests only when nothing was preempted this step, in queue order, while fewer than
 *   maxNumSeqs run and budget remains: prefix-cache lookup, then the rest, capped by the
 *   threshold and the budget. Without chunked prefill a request that does not fit the budget
 *   left whole is skipped for this step (later, smaller ones may go), as vLLM V1 does; the first
 *   one whose blocks cannot be allocated ends the pass.
 * - A request whose tokens are all computed after a step samples one token (the last prompt
 *   chunk gives the first output token); it stops with 'length' at max_tokens or max_model_len
 *   (checked first, as vLLM's check_stop does), else 'stop' at its sampled EOS point.
 *
 * Where this differs from vLLM, on purpose (each because vLLM enforces it elsewhere):
 * - add() refuses requests that could never run (see AddRejectCode): vLLM checks these at start-up
 *   (max_num_batched_tokens >= max_model_len without chunked prefill; KV cache >= max_model_len)
 *   or in its API server (prompt >= max_model_len).
 * - Without chunked prefill, a resumed request whose prompt + outputs exceed maxNumBatchedTokens
 *   (impossible in vLLM, given its start-up check) is chunked rather than left waiting forever.
 *
 * Times are passed in (ms); nothing here reads a clock.
 */
import type { CacheHit, KvCacheManager } from './kv-cache-manager.ts';
import type { StepWork } from './sim-types.ts';

/** A request inside the simulated engine. The fields below `maxModelLen` belong to the scheduler. */
export interface SimRequest {
  id: string;
  arrivalMs: number;
  /** Lower value = served first (vLLM's priority scheduling); ignored under fcfs. */
  priority: number;
  promptTokenIds: readonly number[];
  /** Output cap (max_tokens). */
  maxTokens: number;
  /** Outputs at which generation stops on its own (EOS), sampled by the caller; = maxTokens with ignore_eos. */
  targetOutputTokens: number;
  /** Prompt + output never exceed it. */
  maxModelLen: number;
  // Mutable state, owned by the scheduler (add() initialises it).
  status: 'waiting' | 'running' | 'preempted' | 'finished';
  /** Tokens in KV (prompt first, then outputs). */
  numComputedTokens: number;
  outputTokenIds: number[];
  numPreemptions: number;
  /** When the request was first scheduled (queue time = firstScheduledMs - arrivalMs). */
  firstScheduledMs?: number;
  finishReason?: 'stop' | 'length' | 'abort';
}

export interface SchedulerConfig {
  /** Most requests running at once (max_num_seqs). */
  maxNumSeqs: number;
  /** Token budget of one step (max_num_batched_tokens). */
  maxNumBatchedTokens: number;
  /** When false, a waiting request's prompt is scheduled only whole (enable_chunked_prefill). */
  enableChunkedPrefill: boolean;
  /** Order of the waiting queue and choice of preemption victim (scheduling_policy). */
  policy: 'fcfs' | 'priority';
  /** Most tokens one request may prefill in a step; 0 or absent = no cap (long_prefill_token_threshold). */
  longPrefillTokenThreshold?: number;
}

/** Why add() refused a request. The request is left untouched and never enters the queues. */
export type AddRejectCode =
  /** The id is already waiting or running. */
  | 'duplicate_id'
  /** No prompt tokens. */
  | 'prompt_empty'
  /** prompt length >= maxModelLen: no room for one output token (vLLM answers 400). */
  | 'prompt_too_long'
  /** Chunked prefill off and prompt > maxNumBatchedTokens: it could never be scheduled whole. */
  | 'prompt_exceeds_batch_tokens'
  /** The request at its longest would need more KV blocks than the cache has. */
  | 'exceeds_kv_capacity'
  /** maxTokens, targetOutputTokens or maxModelLen is not an integer >= 1. */
  | 'invalid_lengths';

/** add()'s answer: accepted, or refused with a code and a message quoting the numbers. */
export type AddResult = { ok: true } | { ok: false; code: AddRejectCode; message: string };

/** One request's share of a step. */
export interface ScheduledEntry {
  request: SimRequest;
  /** Tokens computed for it this step. */
  numNewTokens: number;
  /** Tokens already in KV before this step (prefix-cache hits included). */
  contextBefore: number;
  /** False only for a one-token step on the last output token (a decode). */
  isPrefill: boolean;
  /** Tokens found in the prefix cache when this step admitted it (0 for running requests). */
  cachedTokens: number;
}

/** What one step does: the schedule() answer, to be given back to commit(). */
export interface StepPlan {
  nowMs: number;
  /** Scheduled requests: running ones in running order, then newly admitted ones. */
  entries: ScheduledEntry[];
  /** Requests preempted (by recompute) while building this step. */
  preempted: SimRequest[];
  /** The step for the performance model. */
  work: StepWork;
  numScheduledTokens: number;
  numPrefillTokens: number;
  numDecodeTokens: number;
}

/** A token produced by a step. */
export interface TokenOut {
  req: SimRequest;
  tokenId: number;
  /** 0-based index among the request's outputs. */
  index: number;
  /** Set when this token is the request's last. */
  finishReason: 'stop' | 'length' | undefined;
}

/** commit()'s answer. */
export interface StepEvents {
  nowMs: number;
  tokens: TokenOut[];
  /** Requests that finished this step (their blocks are already freed). */
  finished: Array<{ req: SimRequest; reason: 'stop' | 'length' }>;
}

/** Gauges and counters for the worker's /metrics. */
export interface SchedulerStats {
  /** vllm:num_requests_running */
  numRunning: number;
  /** vllm:num_requests_waiting (waiting + preempted) */
  numWaiting: number;
  /** vllm:kv_cache_usage_perc (0..1) */
  kvUsage: number;
  /** vllm:num_preemptions_total */
  preemptionsTotal: number;
  /** vllm:prefix_cache_queries_total (tokens) */
  prefixQueriesTokens: number;
  /** vllm:prefix_cache_hits_total (tokens) */
  prefixHitsTokens: number;
}

/** Thrown for an invalid scheduler configuration; lists every problem at once. */
export class SchedulerConfigError extends Error {
  readonly code = 'FG_SIM_SCHEDULER_CONFIG';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid scheduler configuration: ${problems.join('; ')}`);
    this.name = 'SchedulerConfigError';
    this.problems = problems;
  }
}

/** Thrown when schedule()/commit() are not called in pairs: a bug in the caller. */
export class SchedulerStateError extends Error {
  readonly code = 'FG_SIM_SCHEDULER_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerStateError';
  }
}

function numTokens(req: SimRequest): number {
  return req.promptTokenIds.length + req.outputTokenIds.length;
}

function isPositiveInt(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 1;
}

/** Continuous-batching scheduler over a KvCacheManager; see the module header. */
export class Scheduler {
  readonly config: Readonly<SchedulerConfig>;
  private readonly kv: KvCacheManager;
  private readonly threshold: number;
  /** fcfs: add order, preempted at the front. priority: sorted by (priority, arrivalMs, add order). */
  private readonly waiting: SimRequest[] = [];
  private readonly running: SimRequest[] = [];
  private readonly byId = new Map<string, SimRequest>();
  private readonly addSeq = new Map<SimRequest, number>();
  private nextSeq = 0;
  private preemptions = 0;
  private pending: StepPlan | undefined;

  /** @throws SchedulerConfigError listing every invalid field. */
  constructor(config: SchedulerConfig, kv: KvCacheManager) {
    const problems: string[] = [];
    if (!isPositiveInt(config.maxNumSeqs)) problems.push(`maxNumSeqs must be an integer >= 1, got ${String(config.maxNumSeqs)}`);
    if (!isPositiveInt(config.maxNumBatchedTokens)) {
      problems.push(`maxNumBatchedTokens must be an integer >= 1, got ${String(config.maxNumBatchedTokens)}`);
    }
    if (typeof config.enableChunkedPrefill !== 'boolean') {
      problems.push(`enableChunkedPrefill must be a boolean, got ${String(config.enableChunkedPrefill)}`);
    }
    if (config.policy !== 'fcfs' && config.policy !== 'priority') {
      problems.push(`policy must be one of fcfs, priority; got ${String(config.policy)}`);
    }
    const t = config.longPrefillTokenThreshold ?? 0;
    if (!Number.isSafeInteger(t) || t < 0) {
      problems.push(`longPrefillTokenThreshold must be an integer >= 0, got ${String(config.longPrefillTokenThreshold)}`);
    }
    if (problems.length > 0) throw new SchedulerConfigError(problems);
    this.config = Object.freeze({ ...config });
    this.kv = kv;
    this.threshold = t;
  }

  /**
   * Queue a request (status 'waiting'; its mutable state is reset). Refused, untouched, when it
   * could never be served: see {@link AddRejectCode}. Without chunked prefill a prompt longer
   * than maxNumBatchedTokens is refused with 'prompt_exceeds_batch_tokens' (vLLM V0 finished
   * such prompts as "ignored"; V1 makes them impossible by requiring max_num_batched_tokens >=
   * max_model_len at start-up).
   */
  add(req: SimRequest): AddResult {
    const p = req.promptTokenIds.length;
    const reject = (code: AddRejectCode, message: string): AddResult => ({ ok: false, code, message });
    if (this.byId.has(req.id)) return reject('duplicate_id', `request id ${req.id} is already queued or running`);
    if (p === 0) return reject('prompt_empty', 'the prompt has no tokens');
    if (isPositiveInt(req.maxModelLen) && p >= req.maxModelLen) {
      return reject('prompt_too_long', `the prompt (${p} tokens) leaves no room for output within the maximum model length of ${req.maxModelLen}`);
    }
    if (!isPositiveInt(req.maxTokens) || !isPositiveInt(req.targetOutputTokens) || !isPositiveInt(req.maxModelLen)) {
      return reject(
        'invalid_lengths',
        `maxTokens (${req.maxTokens}), targetOutputTokens (${req.targetOutputTokens}) and maxModelLen (${req.maxModelLen}) must be integers >= 1`,
      );
    }
    if (!this.config.enableChunkedPrefill && p > this.config.maxNumBatchedTokens) {
      return reject(
        'prompt_exceeds_batch_tokens',
        `the prompt (${p} tokens) exceeds max_num_batched_tokens (${this.config.maxNumBatchedTokens}) and chunked prefill is disabled`,
      );
    }
    // At its longest the request holds prompt + outputs - 1 tokens in KV (the last sampled token is never computed).
    const longest = Math.min(p + req.maxTokens, req.maxModelLen) - 1;
    const blocks = Math.ceil(longest / this.kv.blockSize);
    if (blocks > this.kv.numBlocks) {
      return reject(
        'exceeds_kv_capacity',
        `the request may need ${longest} tokens of KV cache (${blocks} blocks) but the cache has ${this.kv.numBlocks} blocks`,
      );
    }
    req.status = 'waiting';
    req.numComputedTokens = 0;
    req.outputTokenIds = [];
    req.numPreemptions = 0;
    delete req.firstScheduledMs;
    delete req.finishReason;
    this.byId.set(req.id, req);
    this.addSeq.set(req, this.nextSeq++);
    if (this.config.policy === 'priority') this.insertByPriority(req);
    else this.waiting.push(req);
    return { ok: true };
  }

  /**
   * Drop a waiting or running request (client gone): its blocks are freed at once, status
   * 'finished', finishReason 'abort'. An entry for it in a plan not yet committed is skipped.
   * @returns false when no such request is queued or running.
   */
  abort(id: string): boolean {
    const req = this.byId.get(id);
    if (req === undefined) return false;
    const w = this.waiting.indexOf(req);
    if (w >= 0) this.waiting.splice(w, 1);
    const r = this.running.indexOf(req);
    if (r >= 0) this.running.splice(r, 1);
    this.kv.release(req);
    this.forget(req);
    req.status = 'finished';
    req.finishReason = 'abort';
    return true;
  }

  /**
   * Build the next step (see the module header). Mutates queues, statuses, KV blocks and
   * firstScheduledMs; numComputedTokens and outputs change only in commit().
   *
   * A pass that only preempts (the first running request had to preempt itself) schedules
   * nothing; vLLM would run that empty step and schedule again. Here the pass is repeated at
   * once (each such pass shrinks the running list, so this ends), and the plan lists every
   * request preempted on the way. So a plan with no entries means there is nothing runnable:
   * no request is waiting or running. Such a plan needs no commit().
   * @throws SchedulerStateError when the previous plan (with entries) has not been committed.
   */
  schedule(nowMs: number): StepPlan {
    if (this.pending !== undefined) throw new SchedulerStateError('schedule() called before the previous plan was committed');
    const preempted: SimRequest[] = [];
    let entries: ScheduledEntry[];
    for (;;) {
      const before = preempted.length;
      entries = this.schedulePass(nowMs, preempted);
      if (entries.length > 0 || preempted.length === before) break;
    }
    const prefill: Array<{ newTokens: number; contextBefore: number }> = [];
    const decode: Array<{ context: number }> = [];
    let prefillTokens = 0;
    let decodeTokens = 0;
    for (const e of entries) {
      if (e.isPrefill) {
        prefill.push({ newTokens: e.numNewTokens, contextBefore: e.contextBefore });
        prefillTokens += e.numNewTokens;
      } else {
        decode.push({ context: e.contextBefore });
        decodeTokens += e.numNewTokens;
      }
    }
    const plan: StepPlan = {
      nowMs,
      entries,
      preempted,
      work: { prefill, decode },
      numScheduledTokens: prefillTokens + decodeTokens,
      numPrefillTokens: prefillTokens,
      numDecodeTokens: decodeTokens,
    };
    if (entries.length > 0) this.pending = plan;
    return plan;
  }

  /** One scheduling pass: running requests (preempting as needed), then waiting ones if none was preempted. */
  private schedulePass(nowMs: number, preempted: SimRequest[]): ScheduledEntry[] {
    let budget = this.config.maxNumBatchedTokens;
    const entries: ScheduledEntry[] = [];
    const scheduled = new Map<SimRequest, ScheduledEntry>();
    let preemptedNow = false;

    let i = 0;
    while (i < this.running.length && budget > 0) {
      const req = this.running[i]!;
      let n = numTokens(req) - req.numComputedTokens;
      if (this.threshold > 0 && n > this.threshold) n = this.threshold;
      n = Math.min(n, budget);
      if (n <= 0) {
        i++;
        continue;
      }
      let canSchedule = true;
      while (!this.kv.allocate(req, n)) {
        const victim = this.pickVictim();
        const at = this.running.indexOf(victim);
        this.running.splice(at, 1);
        if (at < i) i--;
        const done = scheduled.get(victim);
        if (done !== undefined) {
          // Priority policy may pick a request scheduled earlier this step: unschedule it.
          scheduled.delete(victim);
          entries.splice(entries.indexOf(done), 1);
          budget += done.numNewTokens;
        }
        this.preempt(victim);
        preempted.push(victim);
        preemptedNow = true;
        if (victim === req) {
          canSchedule = false;
          break;
        }
      }
      if (!canSchedule) break;
      const entry = this.entryFor(req, n, 0);
      entries.push(entry);
      scheduled.set(req, entry);
      budget -= n;
      i++;
    }

    if (preemptedNow) return entries;
    let w = 0;
    while (w < this.waiting.length && budget > 0 && this.running.length < this.config.maxNumSeqs) {
      const req = this.waiting[w]!;
      const hit: CacheHit = this.kv.lookup(req);
      let n = numTokens(req) - hit.numTokens;
      if (this.threshold > 0 && n > this.threshold) n = this.threshold;
      // Without chunked prefill a request goes whole or waits; one that can never fit the
      // budget (a resumed request whose prompt + outputs outgrew it) is chunked instead.
      if (!this.config.enableChunkedPrefill && n > budget && n <= this.config.maxNumBatchedTokens) {
        w++;
        continue;
      }
      n = Math.min(n, budget);
      if (!this.kv.allocate(req, n, hit)) break;
      this.waiting.splice(w, 1);
      this.running.push(req);
      req.status = 'running';
      req.numComputedTokens = hit.numTokens;
      if (req.firstScheduledMs === undefined) req.firstScheduledMs = nowMs;
      entries.push(this.entryFor(req, n, hit.numTokens));
      budget -= n;
    }
    return entries;
  }

  /**
   * Apply a step's results: each entry's tokens become computed; a request with all its tokens
   * computed samples one token (`nextTokenId(req)`, called before the token is appended, so
   * `req.outputTokenIds.length` is its index) and may finish, freeing its blocks. Entries of
   * requests aborted since schedule() are skipped.
   * Committing a plan with no entries does nothing.
   * @throws SchedulerStateError when `plan` has entries and is not the plan of the last schedule().
   */
  commit(plan: StepPlan, nextTokenId: (req: SimRequest) => number, nowMs: number): StepEvents {
    const events: StepEvents = { nowMs, tokens: [], finished: [] };
    if (plan.entries.length === 0) return events;
    if (plan !== this.pending) throw new SchedulerStateError('commit() needs the plan of the last schedule(), once');
    this.pending = undefined;
    let anyFinished = false;
    for (const e of plan.entries) {
      const req = e.request;
      if (req.status !== 'running') continue;
      req.numComputedTokens += e.numNewTokens;
      if (req.numComputedTokens < numTokens(req)) continue;
      const tokenId = nextTokenId(req);
      const index = req.outputTokenIds.length;
      req.outputTokenIds.push(tokenId);
      const reason = this.stopReason(req);
      events.tokens.push({ req, tokenId, index, finishReason: reason });
      if (reason !== undefined) {
        req.status = 'finished';
        req.finishReason = reason;
        this.kv.release(req);
        this.forget(req);
        events.finished.push({ req, reason });
        anyFinished = true;
      }
    }
    if (anyFinished) {
      const still = this.running.filter((r) => r.status === 'running');
      this.running.length = 0;
      this.running.push(...still);
    }
    return events;
  }

  /** Gauges and counters for /metrics. */
  stats(): SchedulerStats {
    const kv = this.kv.stats;
    return {
      numRunning: this.running.length,
      numWaiting: this.waiting.length,
      kvUsage: this.kv.usage(),
      preemptionsTotal: this.preemptions,
      prefixQueriesTokens: kv.queriesTokens,
      prefixHitsTokens: kv.hitsTokens,
    };
  }

  /** Running requests in running order (a copy). */
  runningRequests(): SimRequest[] {
    return [...this.running];
  }

  /** Waiting requests (waiting + preempted) in queue order (a copy). */
  waitingRequests(): SimRequest[] {
    return [...this.waiting];
  }

  /** True while any request is waiting or running. */
  hasUnfinished(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  /**
   * vLLM's check_stop order: length (max_tokens, or max_model_len reached by prompt + outputs)
   * before EOS, so an ignore_eos request (target = maxTokens) ends with 'length'.
   */
  private stopReason(req: SimRequest): 'stop' | 'length' | undefined {
    const outs = req.outputTokenIds.length;
    if (outs >= req.maxTokens || numTokens(req) >= req.maxModelLen) return 'length';
    if (outs >= req.targetOutputTokens) return 'stop';
    return undefined;
  }

  /** Call with req.numComputedTokens already set to what is in KV before the step. */
  private entryFor(req: SimRequest, n: number, cachedTokens: number): ScheduledEntry {
    const contextBefore = req.numComputedTokens;
    const isDecode = n === 1 && contextBefore + 1 === numTokens(req) && contextBefore >= req.promptTokenIds.length;
    return { request: req, numNewTokens: n, contextBefore, isPrefill: !isDecode, cachedTokens };
  }

  /** fcfs: the last of the running list; priority: the largest (priority, arrivalMs, add order). */
  private pickVictim(): SimRequest {
    if (this.config.policy === 'fcfs') return this.running[this.running.length - 1]!;
    let victim = this.running[0]!;
    for (const r of this.running) if (this.compare(r, victim) > 0) victim = r;
    return victim;
  }

  private preempt(req: SimRequest): void {
    this.kv.free(req);
    req.status = 'preempted';
    req.numComputedTokens = 0;
    req.numPreemptions++;
    this.preemptions++;
    if (this.config.policy === 'priority') this.insertByPriority(req);
    else this.waiting.unshift(req);
  }

  private compare(a: SimRequest, b: SimRequest): number {
    return a.priority - b.priority || a.arrivalMs - b.arrivalMs || this.addSeq.get(a)! - this.addSeq.get(b)!;
  }

  private insertByPriority(req: SimRequest): void {
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(this.waiting[mid]!, req) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.waiting.splice(lo, 0, req);
  }

  private forget(req: SimRequest): void {
    this.byId.delete(req.id);
    this.addSeq.delete(req);
  }
}
