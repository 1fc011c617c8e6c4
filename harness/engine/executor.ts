/**
 * Executor: sends requests and turns each outcome into a RequestRecord, on one thread (the main
 * thread, or one of the client threads in client-thread.ts). Open-loop requests fire on
 * absolute deadlines of the run clock (never a chain of relative sleeps: each wake-up re-reads
 * the clock, and every due request is sent, so lateness never accumulates). The timer wakes
 * about 1 ms early and the last stretch is polled with setImmediate, because Node's timers are
 * only millisecond-grained. Closed-loop users send their next request when the last one ends,
 * after their think time. With `workload.conversation`, an open-loop request is turn 1 of a new
 * conversation, whose later turns this executor sends as a closed-loop user would (when the
 * previous turn ended, after the think time), whatever the arrival schedule; a trace session
 * (`trace.sessions: conversation`) likewise, its later rows each at the later of its trace time and
 * the previous turn's end (runTraceSession). The executor never
 * prints and never throws for a failed request.
 *
 * Tracing (docs/metrics.md, "Tracing"): when the OTEL_* environment configures an OTLP endpoint
 * (read once, when the executor is made), each request gets a client span started as it is sent,
 * whose traceparent goes out with it, ended when its record is complete; close() flushes them.
 * Off, the only cost is one undefined check per request.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { sendRequest } from '../client/send-request.ts';
import { createDispatcher } from '../client/dispatcher.ts';
import { harnessTracer, RequestSpans } from '../client/request-trace.ts';
import type { Span } from '../telemetry/otel.ts';
import { buildBody, buildDatasetBody, buildTurnBody, headersFor, type RequestTemplate } from './request-template.ts';
import { datasetPicker, readDataset, type DatasetEntry } from '../workload/dataset.ts';
import { Rng } from '../workload/rng.ts';
import { closedUserRng, phaseOf, sharedPrefixDraw, stageAt, type ClosedStagePlan, type PlannedRequest } from '../workload/plan.ts';
import { createLengthSampler } from '../workload/length-sampler.ts';
import type { Phase, RequestRecord } from '../metrics/request-record.ts';
import type { LoadConfig, WorkloadConfig } from '../scenario/scenario-types.ts';

/** Open-loop bodies are built ahead of time for the requests due within this many ms of the next one. */
const PREBUILD_MS = 250;

export interface ExecutorInit {
  template: RequestTemplate;
  /** This executor's share of load.max_in_flight (undefined: no cap). */
  maxInFlight: number | undefined;
  onMaxInFlight: 'wait' | 'drop';
  workload: WorkloadConfig;
  load: Pick<LoadConfig, 'warmupMs' | 'cooldownMs'>;
  totalMs: number;
  model: string;
  /**
   * A cheap GET (the target's /models) made before the run starts, so the first real requests
   * do not pay for cold code paths and a first connection.
   */
  warmupUrl: string | undefined;
  /**
   * `mix:` streams by index (ClosedStagePlan.streams): the model and tenant label of a
   * closed-loop user's requests (its key and priority are the template's `mix`). Absent: no mix.
   */
  mix?: ReadonlyArray<{ model: string; tenant: string }>;
  /** The run stages' start times (plan.stageStartsMs): a mix stream's closed-loop request, or a later turn of an open-loop conversation, is recorded in the stage its time falls in. */
  stageStartsMs?: readonly number[];
  /**
   * Closed-loop conversation ids start above this (open-loop conversations have ids 1 .. the
   * plan's open-loop requests); absent: 0.
   */
  conversationBase?: number;
  /** Closed-loop request ids (and later turns of open-loop conversations): idBase + threadIndex + k * threadCount (unique across threads). */
  idBase: number;
  threadIndex: number;
  threadCount: number;
}

export interface DropEvent {
  stage: number;
  phase: Phase;
  intendedMs: number;
  model: string;
  tenant: string | undefined;
}

export interface ExecutorReport {
  records: RequestRecord[];
  drops: DropEvent[];
  inFlight: number;
  /** Highest in-flight count since the previous report. */
  peakInFlight: number;
  /**
   * Share of the time since the epoch this thread's event loop was busy (0..1). Near 1, the
   * thread cannot react to a chunk or a deadline on time: its measurements lose precision.
   */
  eventLoopUtilization: number;
  idle: boolean;
}

const FLUSH_MS = 100;

export class Executor {
  private readonly dispatcher: Dispatcher;
  private readonly queue: PlannedRequest[] = [];
  private head = 0;
  private readonly waiting: PlannedRequest[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly controllers = new Set<AbortController>();
  private inFlight = 0;
  private peak = 0;
  private activeUsers = 0;
  private closedSeq = 0;
  /** Closed-loop conversations started by this executor (ids: conversationBase + threadIndex + 1 + k * threadCount). */
  private conversationSeq = 0;
  private stopped = false;
  private finished = false;
  private records: RequestRecord[] = [];
  private drops: DropEvent[] = [];
  private idleWaiters: Array<() => void> = [];
  private readonly prebuilt = new Map<number, string>();
  /** Pending closed-loop waits, woken at once by stop(). */
  private readonly sleepers = new Set<() => void>();
  /** Run epoch, process.hrtime.bigint() (one clock for every thread of the process). */
  private epochNs = 0n;
  private elu0: EventLoopUtilization | undefined;
  /** Request spans; undefined when tracing is off. */
  private readonly spans: RequestSpans | undefined;
  /**
   * `workload.dataset`: the entries' messages, read once by this thread from the file (in memory
   * only, never written); undefined without a dataset.
   */
  private readonly dataset: DatasetEntry[] | undefined;

  constructor(
    private readonly init: ExecutorInit,
    private readonly emit: (report: ExecutorReport) => void,
  ) {
    const tracer = harnessTracer(init.template.trace);
    this.spans = tracer === undefined ? undefined : new RequestSpans(tracer, init.template);
    this.dispatcher = createDispatcher({ connectTimeoutMs: init.template.timeouts.connectMs });
    const ds = init.workload.dataset;
    if (ds) {
      const read = readDataset(ds.file, { format: ds.format, outputFromData: ds.outputTokens === 'from_data', tokenize: false });
      if (read.issues.length > 0 || read.entries.length !== ds.loaded.count) {
        throw new Error(`dataset file "${ds.file}" changed since the scenario was loaded (${read.entries.length} usable entries, ${ds.loaded.count} at load time)`);
      }
      this.dataset = read.entries;
    }
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
  }

  /** Warm the HTTP client and its code paths (errors are ignored: the probe already passed). */
  async warmup(): Promise<void> {
    if (!this.init.warmupUrl) return;
    try {
      const res = await this.dispatcher.request({ origin: new URL(this.init.warmupUrl).origin, path: new URL(this.init.warmupUrl).pathname, method: 'GET', headers: this.init.template.headers });
      await res.body.dump();
    } catch {
      // nothing to warm
    }
    // Serialise one body so the prompt and JSON code is compiled before the first deadline.
    buildBody(this.init.template, { id: -1, key: 'warmup', stage: 0, phase: 'warmup', intendedMs: 0, promptTokens: 64, outputTokens: 1, model: this.init.model, tenant: undefined, user: undefined });
  }

  /** Set t = 0 of the run clock; called once, before anything is scheduled. */
  setEpoch(epochNs: bigint): void {
    this.epochNs = epochNs;
    this.elu0 = performance.eventLoopUtilization();
    this.spans?.setClockOffset(this.now());
  }

  /** Milliseconds on the run clock. */
  now(): number {
    return Number(process.hrtime.bigint() - this.epochNs) / 1e6;
  }

  /** Queue open-loop requests (sorted by intendedMs, later than anything queued before). */
  scheduleOpen(batch: readonly PlannedRequest[]): void {
    if (this.stopped) return;
    for (const p of batch) this.queue.push(p);
    if (this.timer === undefined && this.immediate === undefined) this.tick();
  }

  /** Run closed-loop users of one stage (user indices of this executor). */
  startClosed(stage: ClosedStagePlan, users: readonly number[]): void {
    for (const u of users) void this.runUser(stage, u);
  }

  /** Nothing more will be scheduled: idle once the queue is empty and nothing is in flight. */
  finish(): void {
    this.finished = true;
    this.checkIdle();
  }

  /** Stop sending (Ctrl-C, abort_on_fail): queued and waiting requests are never sent. */
  stop(): void {
    this.stopped = true;
    this.finished = true;
    this.queue.length = 0;
    this.head = 0;
    this.waiting.length = 0;
    this.clearTimers();
    for (const wake of this.sleepers) wake();
    this.checkIdle();
  }

  /** Abort every request in flight (each ends as an `aborted` record). */
  abortInFlight(): void {
    for (const c of this.controllers) c.abort();
  }

  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.clearTimers();
    clearInterval(this.flushTimer);
    this.flush();
    await this.dispatcher.close().catch(() => this.dispatcher.destroy());
    // Every record is complete, so every span has ended: send them before the thread goes.
    await this.spans?.shutdown();
  }

  private isIdle(): boolean {
    return this.finished && this.head >= this.queue.length && this.waiting.length === 0 && this.inFlight === 0 && this.activeUsers === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    this.flush();
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    let now = this.now();
    while (this.head < this.queue.length && this.queue[this.head]!.intendedMs <= now) {
      this.arrive(this.queue[this.head++]!);
      now = this.now();
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      const wait = next.intendedMs - this.now();
      if (wait > 2) {
        this.timer = setTimeout(this.tick, Math.floor(wait - 1));
        // Spare time: serialise the bodies of the requests due in the next PREBUILD_MS now (a
        // trace's burst of simultaneous arrivals with long prompts, say), so that none is paid
        // for at send time; stop short of the next due time.
        for (let i = this.head; i < this.queue.length; i++) {
          const q = this.queue[i]!;
          if (q.intendedMs - next.intendedMs > PREBUILD_MS || next.intendedMs - this.now() < 2) break;
          if (q.conversation === undefined && !this.prebuilt.has(q.id)) this.prebuilt.set(q.id, this.bodyOf(q));
        }
      } else {
        this.immediate = setImmediate(this.tick);
      }
    } else {
      this.checkIdle();
    }
  };

  /** An open-loop request's time has come: send it, or wait for / be refused a slot. */
  private arrive(p: PlannedRequest): void {
    const cap = this.init.maxInFlight;
    if (cap !== undefined && this.inFlight >= cap) {
      if (this.init.onMaxInFlight === 'drop') {
        this.prebuilt.delete(p.id);
        this.drops.push({ stage: p.stage, phase: p.phase, intendedMs: p.intendedMs, model: p.model, tenant: p.tenant });
      } else {
        this.waiting.push(p);
      }
      return;
    }
    this.start(p, p.intendedMs);
  }

  /** Send an open-loop request now: a single request, or turn 1 of a new conversation. */
  private start(p: PlannedRequest, dueMs: number): void {
    if (p.conversation !== undefined) void this.runOpenConversation(p, dueMs);
    else void this.send(p, dueMs);
  }

  /** A slot freed: the longest-waiting request goes now. */
  private releaseSlot(): void {
    if (this.stopped) return;
    const cap = this.init.maxInFlight;
    while (this.waiting.length > 0 && (cap === undefined || this.inFlight < cap)) {
      const p = this.waiting.shift()!;
      const now = this.now();
      this.start(p, now);
    }
  }

  /** The body of a request: its dataset entry's messages as they are, else a generated prompt. */
  private bodyOf(p: PlannedRequest): string {
    const entry = p.dataset !== undefined ? this.dataset?.[p.dataset] : undefined;
    return entry ? buildDatasetBody(this.init.template, p, entry.messages) : buildBody(this.init.template, p);
  }

  /**
   * Send one request. `dueMs` is when it could first go (its intended time, or when a capped
   * slot freed): schedule lag is measured from it.
   */
  private async send(p: PlannedRequest, dueMs: number, turn?: { body: string; onText: (piece: string) => void; clamped?: boolean }): Promise<RequestRecord> {
    const body = turn?.body ?? this.prebuilt.get(p.id) ?? this.bodyOf(p);
    this.prebuilt.delete(p.id);
    const ctl = new AbortController();
    this.controllers.add(ctl);
    this.inFlight++;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
    const t = this.init.template;
    let headers = headersFor(t, p);
    let span: Span | undefined;
    if (this.spans !== undefined) {
      span = this.spans.start(p, this.now());
      headers = { ...headers, traceparent: span.traceparent() };
    }
    const out = await sendRequest({
      dispatcher: this.dispatcher,
      url: t.url,
      headers,
      body,
      stream: t.stream,
      endpoint: t.endpoint,
      timeouts: t.timeouts,
      epochNs: this.epochNs,
      signal: ctl.signal,
      ...(turn ? { onText: turn.onText } : {}),
    });
    const endMs = this.now();
    this.controllers.delete(ctl);
    this.inFlight--;
    const capWaitMs = Math.max(0, dueMs - p.intendedMs);
    const record: RequestRecord = {
      id: p.id,
      stage: p.stage,
      phase: p.phase,
      model: p.model,
      tenant: p.tenant,
      user: p.user,
      intendedMs: p.intendedMs,
      scheduleLagMs: Math.max(0, out.sentMs - Math.max(p.intendedMs, dueMs)),
      capWaitMs,
      endMs,
      plannedPromptTokens: p.promptTokens,
      plannedOutputTokens: p.outputTokens,
      ...out,
    };
    if (p.conversation !== undefined) {
      record.conversation = p.conversation.id;
      record.turn = p.conversation.turn;
      record.conversationTurns = p.conversation.turns;
      if (turn?.clamped) record.newTextClamped = true;
    }
    if (span !== undefined) {
      record.traceId = span.traceId;
      this.spans!.end(span, record);
    }
    this.records.push(record);
    if (this.records.length >= 512) this.flush();
    this.releaseSlot();
    this.checkIdle();
    return record;
  }

  private async runUser(stage: ClosedStagePlan, user: number): Promise<void> {
    this.activeUsers++;
    try {
      const label = stage.label ?? stage.stage;
      const rng = closedUserRng(this.init.template.seed, label, user);
      // A mix stream's user: its requests carry the stream's model, tenant, key and priority.
      const streamIndex = stage.streams?.[user];
      const stream = streamIndex === undefined ? undefined : this.init.mix?.[streamIndex];
      const starts = this.init.stageStartsMs;
      const promptLen = createLengthSampler(this.init.workload.promptTokens, rng.fork('prompt_tokens'));
      const outputLen = createLengthSampler(this.init.workload.outputTokens, rng.fork('output_tokens'));
      const think = rng.fork('think');
      // Trace replay (closed loop): this user's rows are user, user + U, user + 2U, ...
      const rows = stage.rows;
      const sp = this.init.workload.sharedPrefix;
      const prefix = sp && sharedPrefixDraw(sp, rng.fork('shared_prefix'));
      // Conversations (not with a trace): the one in progress, its history in memory only.
      const conv = rows ? undefined : this.init.workload.conversation;
      const turnsLen = conv && createLengthSampler(conv.turns, rng.fork('turns'));
      let talk: { id: number; turns: number; turn: number; history: string[] } | undefined;
      let due = stage.userStartsMs[user] ?? stage.startMs;
      const users = stage.userStartsMs.length;
      // A prompt dataset: user u of U walks entries u, u + U, ... (sequential) or draws (random).
      const ds = rows ? undefined : this.init.workload.dataset;
      const dsRng = rng.fork('dataset');
      const dsPick = ds && datasetPicker(ds.loaded.count, ds.order, () => dsRng.next(), user, users);
      for (let n = 0; !this.stopped; n++) {
        const row = rows?.[user + n * users];
        if (rows && row === undefined) break;
        await this.sleepUntil(due);
        if (this.stopped || due >= stage.endMs) break;
        const id = this.init.idBase + this.init.threadIndex + this.closedSeq++ * this.init.threadCount;
        const phase = phaseOf(this.init.load as LoadConfig, this.init.totalMs, due);
        let p: PlannedRequest;
        if (row) {
          p = { ...row, id, stage: stage.stage, phase, intendedMs: due, user };
        } else {
          p = {
            id,
            key: `c${label}-${user}-${n}`,
            stage: stage.label !== undefined && starts ? stageAt(starts, starts.length, due) : stage.stage,
            phase,
            intendedMs: due,
            promptTokens: promptLen(),
            outputTokens: outputLen(),
            model: stream?.model ?? this.init.model,
            tenant: stream?.tenant,
            user,
          };
          if (stream) p.mix = streamIndex;
          if (turnsLen && !talk) talk = { id: (this.init.conversationBase ?? 0) + this.init.threadIndex + 1 + this.conversationSeq++ * this.init.threadCount, turns: turnsLen(), turn: 0, history: [] };
          // A conversation's shared prefix (if any) opens its first message only: the history carries it.
          const spec = talk && talk.turn > 0 ? undefined : prefix?.();
          if (spec) p.prompt = spec;
          if (ds && dsPick) {
            const k = dsPick();
            p.dataset = k;
            p.promptTokens = ds.loaded.promptTokens[k]!;
            if (ds.outputTokens === 'from_data') p.outputTokens = ds.loaded.outputTokens[k]!;
          }
        }
        let r: RequestRecord;
        let between = stage.thinkTimeMs;
        if (talk) {
          const c = talk;
          c.turn++;
          p.conversation = { id: c.id, turn: c.turn, turns: c.turns };
          const { body, message } = buildTurnBody(this.init.template, p, c.history);
          let answer = '';
          r = await this.send(p, due, { body, onText: (piece) => (answer += piece) });
          if (r.ok && c.turn < c.turns) {
            c.history.push(message, answer);
            between = conv!.thinkTimeMs;
          } else {
            talk = undefined; // over (or failed: a conversation never goes on without its answer)
          }
        } else {
          r = await this.send(p, due);
        }
        const { min, max } = between;
        due = r.endMs + (max > min ? min + think.next() * (max - min) : min);
      }
    } finally {
      this.activeUsers--;
      this.checkIdle();
    }
  }

  /**
   * An open-loop conversation (docs/scenarios.md, "Conversations"): `first` (turn 1, planned at
   * its arrival) is sent at `dueMs`; each later turn goes when the previous one ended plus the
   * think time, with the history (the server's real answers) in memory only. Later turns are
   * made here, from the conversation's own seeded stream (`open-conversation-<id>`: the same on
   * any shard or thread); they are not capped by max_in_flight (they hold a slot while in
   * flight). A failed turn ends the conversation; one whose next turn would start at or after
   * the end of the stages (or after stop()) is cut.
   */
  private async runOpenConversation(first: PlannedRequest, dueMs: number): Promise<void> {
    if (first.traceTurns !== undefined) return this.runTraceSession(first, dueMs);
    this.activeUsers++;
    try {
      const conv = this.init.workload.conversation;
      const c = first.conversation!;
      const rng = new Rng(this.init.template.seed).fork(`open-conversation-${c.id}`);
      const promptLen = conv && createLengthSampler(this.init.workload.promptTokens, rng.fork('prompt_tokens'));
      const outputLen = conv && createLengthSampler(this.init.workload.outputTokens, rng.fork('output_tokens'));
      const think = rng.fork('think');
      const starts = this.init.stageStartsMs;
      const history: string[] = [];
      let p = first;
      let due = dueMs;
      for (;;) {
        const { body, message } = buildTurnBody(this.init.template, p, history);
        let answer = '';
        const r = await this.send(p, due, { body, onText: (piece) => (answer += piece) });
        const turn = p.conversation!.turn;
        if (!conv || !promptLen || !outputLen || !r.ok || turn >= c.turns) break;
        history.push(message, answer);
        const { min, max } = conv.thinkTimeMs;
        due = r.endMs + (max > min ? min + think.next() * (max - min) : min);
        if (this.stopped || due >= this.init.totalMs) break; // cut: no new turn after the stages
        await this.sleepUntil(due);
        if (this.stopped) break;
        const id = this.init.idBase + this.init.threadIndex + this.closedSeq++ * this.init.threadCount;
        p = {
          id,
          key: `o${first.id}-${turn + 1}`,
          stage: starts ? stageAt(starts, starts.length, due) : first.stage,
          phase: phaseOf(this.init.load as LoadConfig, this.init.totalMs, due),
          intendedMs: due,
          promptTokens: promptLen(),
          outputTokens: outputLen(),
          model: first.model,
          tenant: first.tenant,
          user: undefined,
          conversation: { id: c.id, turn: turn + 1, turns: c.turns },
        };
        if (first.mix !== undefined) p.mix = first.mix;
      }
    } finally {
      this.activeUsers--;
      this.checkIdle();
    }
  }

  /**
   * A trace session replayed as a conversation (`workload.trace.sessions: conversation`;
   * docs/scenarios.md, "Sessions as conversations"): `first` (turn 1) goes at `dueMs`; each later
   * row (planned on `first.traceTurns`) at the later of its own time and the previous turn's end,
   * with the history (the server's real answers, in memory only). With the history included in a
   * row's input length, the new text is that length minus the history's tokens (the previous
   * turn's prompt as the server counted it, else as planned, plus its answer's tokens), at least
   * 1 (the turn's record is then flagged `newTextClamped`). A failed turn ends the conversation;
   * later turns are not cut at the end of the stages (they are planned rows: the drain bounds
   * them), only by stop().
   */
  private async runTraceSession(first: PlannedRequest, dueMs: number): Promise<void> {
    this.activeUsers++;
    try {
      const tt = first.traceTurns!;
      const starts = this.init.stageStartsMs;
      const history: string[] = [];
      let historyTokens = 0;
      let p = first;
      let due = dueMs;
      let clamped = false;
      for (;;) {
        const { body, message } = buildTurnBody(this.init.template, p, history);
        let answer = '';
        const r = await this.send(p, due, { body, onText: (piece) => (answer += piece), clamped });
        const turn = p.conversation!.turn;
        const next = tt.later[turn - 1];
        if (!r.ok || next === undefined) break;
        history.push(message, answer);
        historyTokens = (r.promptTokens ?? historyTokens + p.promptTokens) + r.outputTokens;
        due = Math.max(next.intendedMs, r.endMs);
        if (this.stopped) break;
        await this.sleepUntil(due);
        if (this.stopped) break;
        let promptTokens = next.promptTokens;
        clamped = false;
        if (tt.historyIncluded) {
          promptTokens -= historyTokens;
          if (promptTokens < 1) {
            promptTokens = 1;
            clamped = true;
          }
        }
        p = {
          ...next,
          promptTokens,
          intendedMs: due,
          stage: starts ? stageAt(starts, starts.length, due) : next.stage,
          phase: phaseOf(this.init.load as LoadConfig, this.init.totalMs, due),
        };
      }
    } finally {
      this.activeUsers--;
      this.checkIdle();
    }
  }

  /** Resolve at `tMs` on the run clock (timer ~1 ms early, then polled), or at once if stopped. */
  private sleepUntil(tMs: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const step = () => {
        timer = undefined;
        const wait = tMs - this.now();
        if (this.stopped || wait <= 0) done();
        else if (wait > 2) timer = setTimeout(step, Math.floor(wait - 1));
        else setImmediate(step);
      };
      this.sleepers.add(done);
      step();
    });
  }

  private flush(): void {
    const report: ExecutorReport = {
      records: this.records,
      drops: this.drops,
      inFlight: this.inFlight,
      peakInFlight: this.peak,
      idle: this.isIdle(),
      eventLoopUtilization: this.elu0 ? performance.eventLoopUtilization(this.elu0).utilization : 0,
    };
    this.records = [];
    this.drops = [];
    this.peak = this.inFlight;
    this.emit(report);
  }
}
