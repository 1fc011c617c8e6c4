/**
 * A worker killed mid-run: no client-visible failure for requests not yet started.
 *
 * Two simulated workers run as separate child processes (`harness stack worker`), so that one can
 * be SIGKILLed: a real process death, its sockets closed by the kernel, nothing said first. The
 * gateway runs in this process in front of them (round_robin, retries on, health checks every
 * 200 ms). A closed loop of streaming chat requests keeps CONCURRENCY requests in flight; after
 * KILL_AFTER completions, at the first completion at which a request is streaming from the victim
 * (headers and a first event received from w0, stream not finished), the victim is SIGKILLed
 * (decided by counting events, never by a timer). The loop goes on to TOTAL requests.
 *
 * Every request records its send time, the worker that served it (x-served-by), and its outcome,
 * classified from what the client saw: a complete stream (a finish_reason and [DONE], no error
 * event), a clear failure (an SSE error event followed by [DONE], or an OpenAI-shaped JSON error),
 * or an unclear one (a stream cut short, a socket error, or a hang: no end within HANG_MS).
 *
 * Asserted:
 * - every request sent after the child's 'exit' event succeeded with a complete stream, served by
 *   the surviving worker;
 * - requests in flight at the kill either succeeded or failed clearly, none hung;
 * - the gateway's /metrics eventually shows the victim unhealthy;
 * - the retries counter equals the per-request retries of the access log: right after the exit
 *   event a burst is sent, and round_robin usually hands the not-yet-ejected victim a turn, whose
 *   refused connection is retried on the survivor (every retried request ends 200 there).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'fg-kill-test-key-3c9e';
const MODEL = 'kt';
const hashOf = (key: string): string => `sha256:${createHash('sha256').update(key).digest('hex')}`;

const CONCURRENCY = 6;
const TOTAL = 110;
const KILL_AFTER = 30;
/** Burst sent the moment the victim's exit is seen (besides the closed loop). */
const BURST = 4;
const MAX_TOKENS = 40;
/** A request with no end after this long counts as hung (a bound on the test, not a sync point). */
const HANG_MS = 15_000;

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

const children: Child[] = [];
let gateway: Gateway | undefined;

/** `harness stack worker` as a child process; resolves with the URL it prints. */
async function spawnWorker(seed: number): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [path.join(root, 'bin/harness.js'), 'stack', 'worker', '--port', '0', '--gpu', 'h100-sxm', '--model', 'llama-3.1-8b', '--served-model-name', MODEL, '--time-scale', '10', '--seed', String(seed)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code, sig) => reject(new Error(`worker exited (${code ?? sig}) before listening: ${out}${err}`)));
  });
  const c = { proc, url, exited };
  children.push(c);
  return c;
}

type Outcome = 'ok' | 'sse_error' | 'json_error' | 'cut_short' | 'socket_error' | 'hang';

interface Rec {
  i: number;
  sentAt: number;
  endAt?: number;
  status?: number;
  servedBy?: string;
  requestId?: string;
  /** Headers and at least one data event received, stream not finished yet. */
  streaming: boolean;
  outcome?: Outcome;
  detail?: string;
}

/** An OpenAI-shaped error object: {error: {message, type, code}} with strings. */
function isOpenAIError(x: unknown): boolean {
  const e = (x as { error?: { message?: unknown; type?: unknown; code?: unknown } } | null)?.error;
  return e !== undefined && typeof e.message === 'string' && typeof e.type === 'string' && typeof e.code === 'string';
}

/** Sends one streaming request and classifies what the client saw. Never rejects. */
async function streamOne(g: Gateway, rec: Rec): Promise<void> {
  const signal = AbortSignal.timeout(HANG_MS);
  try {
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `request number ${rec.i} of the kill test` }], max_tokens: MAX_TOKENS, ignore_eos: true, stream: true }),
      signal,
    });
    rec.status = res.status;
    rec.servedBy = res.headers.get('x-served-by') ?? undefined;
    rec.requestId = res.headers.get('x-request-id') ?? undefined;
    if (res.status !== 200) {
      const text = await res.text();
      let j: unknown;
      try {
        j = JSON.parse(text);
      } catch {
        j = undefined;
      }
      rec.outcome = isOpenAIError(j) ? 'json_error' : 'cut_short';
      rec.detail = text.slice(0, 300);
      return;
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    let done = false;
    let finish = false;
    let error: unknown;
    let errorBeforeDone = false;
    let afterDone = false;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      pending += decoder.decode(r.value, { stream: true });
      for (let k = pending.indexOf('\n\n'); k >= 0; k = pending.indexOf('\n\n')) {
        const ev = pending.slice(0, k).trim();
        pending = pending.slice(k + 2);
        if (!ev.startsWith('data:')) continue;
        const data = ev.slice(5).trim();
        if (done) afterDone = true;
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        rec.streaming = true;
        const j = JSON.parse(data) as { choices?: { finish_reason?: string | null }[]; error?: unknown };
        if (j.error !== undefined) {
          error = j;
          errorBeforeDone = !done;
        }
        if (j.choices?.some((c) => typeof c.finish_reason === 'string')) finish = true;
      }
    }
    rec.streaming = false;
    if (error !== undefined) {
      rec.outcome = isOpenAIError(error) && errorBeforeDone && done && !afterDone ? 'sse_error' : 'cut_short';
      rec.detail = JSON.stringify(error).slice(0, 300);
    } else if (done && finish && !afterDone) {
      rec.outcome = 'ok';
    } else {
      rec.outcome = 'cut_short';
      rec.detail = `done=${done} finish=${finish}`;
    }
  } catch (err) {
    rec.streaming = false;
    rec.outcome = signal.aborted ? 'hang' : 'socket_error';
    rec.detail = String((err as Error).cause ?? err);
  } finally {
    rec.endAt = performance.now();
  }
}

async function metricsText(g: Gateway): Promise<string> {
  return (await fetch(`${g.url}/metrics`)).text();
}

before(async () => {
  await Promise.all([spawnWorker(1), spawnWorker(2)]);
});

after(async () => {
  await gateway?.close();
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await c.exited;
  }
});

describe('gateway with a worker killed mid-run', () => {
  it('keeps every request sent after the kill whole, fails in-flight ones clearly, ejects the dead worker', async () => {
    const [victim, survivor] = children as [Child, Child];
    const stack = parseStack(
      `name: worker-kill
models:
  - name: ${MODEL}
    workers: [w0, w1]
workers:
  - name: w0
    url: ${victim.url}
  - name: w1
    url: ${survivor.url}
gateway:
  routing: round_robin
  retries: {max: 2, backoff: 10ms}
  health: {interval: 200ms, failures_to_eject: 3, successes_to_readmit: 2}
  timeouts: {connect: 2s, first_byte: 10s, total: 30s}
  queue: {max_depth: 1000, timeout: 30s}
tenants:
  - name: loader
    api_key_hashes: ['${hashOf(KEY)}']
`,
      'worker-kill.yaml',
    );
    const logLines: string[] = [];
    const log = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        cb();
      },
    });
    const g = await startGateway({ stack, workerUrls: { w0: victim.url, w1: survivor.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:', log });
    gateway = g;

    const recs: Rec[] = [];
    let completed = 0;
    let killSentAt: number | undefined;
    let exitAt: number | undefined;
    let killDelivered = false;
    /** Requests in flight at the SIGKILL (sent, not ended). */
    let inFlightAtKill: Rec[] = [];
    const all: Promise<void>[] = [];
    let allSent!: () => void;
    const sentAll = new Promise<void>((r) => (allSent = r));

    const launch = (): void => {
      if (recs.length >= TOTAL) {
        allSent();
        return;
      }
      const rec: Rec = { i: recs.length, sentAt: performance.now(), streaming: false };
      recs.push(rec);
      all.push(
        streamOne(g, rec).then(() => {
          completed++;
          if (killSentAt === undefined && completed >= KILL_AFTER && recs.some((r) => r.streaming && r.servedBy === 'w0')) {
            inFlightAtKill = recs.filter((r) => r.endAt === undefined);
            killSentAt = performance.now();
            victim.proc.once('exit', () => {
              exitAt = performance.now();
              // Right after the exit: a burst, so that the victim (not yet ejected) gets its turn.
              for (let b = 0; b < BURST; b++) {
                const br: Rec = { i: 10_000 + b, sentAt: performance.now(), streaming: false };
                recs.push(br);
                all.push(streamOne(g, br));
              }
            });
            killDelivered = victim.proc.kill('SIGKILL');
          }
          launch();
        }),
      );
    };
    for (let k = 0; k < CONCURRENCY; k++) launch();
    await sentAll;
    // `all` grows while requests end; wait until every request ever started has ended.
    for (;;) {
      const len = all.length;
      await Promise.all(all);
      if (all.length === len) break;
    }
    await victim.exited;

    assert.ok(killSentAt !== undefined, 'the victim was killed while streaming (the kill condition was reached)');
    assert.ok(killDelivered, 'SIGKILL delivered');
    assert.ok(exitAt !== undefined, "the victim's exit was observed");
    assert.equal(victim.proc.signalCode, 'SIGKILL');

    const summary = (rs: Rec[]): string => rs.map((r) => `#${r.i}:${r.servedBy ?? '-'}:${r.status ?? '-'}:${r.outcome}${r.detail ? `(${r.detail})` : ''}`).join(' ');
    // Before the kill both workers served (the kill took a worker that was in use).
    const before = recs.filter((r) => r.endAt! <= killSentAt!);
    assert.ok(before.length >= KILL_AFTER - 1, `${before.length} requests ended before the kill`);
    assert.ok(before.every((r) => r.outcome === 'ok'), `before the kill: ${summary(before.filter((r) => r.outcome !== 'ok'))}`);
    assert.ok(before.some((r) => r.servedBy === 'w0') && before.some((r) => r.servedBy === 'w1'), 'both workers served before the kill');

    // Requests sent after the exit was observed: all complete, all on the survivor.
    const afterExit = recs.filter((r) => r.sentAt > exitAt!);
    assert.ok(afterExit.length >= (TOTAL - KILL_AFTER) / 2, `${afterExit.length} requests sent after the exit`);
    const badAfter = afterExit.filter((r) => r.outcome !== 'ok' || r.status !== 200);
    assert.equal(badAfter.length, 0, `requests sent after the kill that failed: ${summary(badAfter)}`);
    const notSurvivor = afterExit.filter((r) => r.servedBy !== 'w1');
    assert.equal(notSurvivor.length, 0, `requests sent after the kill not served by w1: ${summary(notSurvivor)}`);

    // Requests in flight at the kill, and those sent between the SIGKILL and its exit event: success or a clear error, never a hang.
    const around = [...inFlightAtKill, ...recs.filter((r) => r.sentAt >= killSentAt! && r.sentAt <= exitAt!)];
    assert.ok(inFlightAtKill.some((r) => r.servedBy === 'w0'), 'a request was streaming from the victim at the kill');
    const unclear = around.filter((r) => !(r.outcome === 'ok' || r.outcome === 'sse_error' || r.outcome === 'json_error'));
    assert.equal(unclear.length, 0, `in-flight requests that failed without a clear error (or hung): ${summary(unclear)}`);
    // A failure is only ever one that was streaming from (or sent to) the victim.
    const failed = recs.filter((r) => r.outcome !== 'ok');
    assert.ok(
      failed.every((r) => inFlightAtKill.includes(r) && r.servedBy === 'w0'),
      `failures outside the requests in flight on w0 at the kill: ${summary(failed)}`,
    );
    for (const r of failed) if (r.outcome === 'sse_error') assert.match(r.detail!, /upstream_stream_error/);

    // The gateway ejects the victim: poll /metrics (each poll a real round trip), bounded.
    let text = '';
    for (let attempt = 0; ; attempt++) {
      text = await metricsText(g);
      if (/floodgate_gateway_worker_healthy\{worker="w0"\} 0\b/.test(text)) break;
      assert.ok(attempt < 5000, `w0 never shown unhealthy:\n${text.split('\n').filter((l) => l.includes('worker_healthy')).join('\n')}`);
    }
    assert.match(text, /floodgate_gateway_worker_healthy\{worker="w1"\} 1\b/);

    // Retries: the counter equals the access log's per-request retries (how many there are depends
    // on how soon the health checks eject the dead worker).
    const lines = logLines.map((l) => JSON.parse(l) as { request_id: string; status: number; served_by: string | null; retries: number; error_code: string | null });
    assert.equal(lines.length, recs.length, 'one access-log line per request');
    const m = new RegExp(`floodgate_gateway_retries_total\\{model="${MODEL}"\\} (\\d+)`).exec(text);
    const retriesMetric = m === null ? 0 : Number(m[1]);
    const retriesLogged = lines.reduce((s, l) => s + l.retries, 0);
    assert.equal(retriesMetric, retriesLogged, 'retries_total equals the sum of the access log retries');
    if (process.env.FG_KILL_DEBUG) {
      console.log(`kill after ${before.length} ended; in flight ${summary(inFlightAtKill)}; around ${summary(around)}; after exit ${afterExit.length}; retries ${retriesMetric}`);
    }
    for (const l of lines.filter((x) => x.retries > 0)) {
      assert.equal(l.status, 200, `retried request ${l.request_id} succeeded`);
      assert.equal(l.served_by, 'w1', `retried request ${l.request_id} ended on the survivor`);
    }
  });
});
