/**
 * sendRequest's timings against a scripted server that records the true emission time of every
 * write: structure exactly (ITL entries per token, tokenSource, TPOT formula), values within
 * 60 ms of the truth (a loaded CI machine) and never before it (the client cannot see a chunk before it was written).
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Dispatcher } from 'undici';
import { createDispatcher } from '../../harness/client/dispatcher.ts';
import { sendRequest, type ClientOutcome, type SendOptions } from '../../harness/client/send-request.ts';
import {
  contentWrites,
  msSince,
  startScriptedServer,
  type Emission,
  type ScriptedServer,
  type StreamScript,
} from '../fixtures/servers/scripted-sse-server.ts';

/** Accuracy bound: client time - true emission time, in ms. */
// Generous for a loaded 2-core CI machine, where another test process may hold a core for tens
// of ms; typical errors are under 2 ms (see the client-accuracy benchmark).
const SLACK_MS = 60;
/** Causality: the client's time may precede the truth by at most this (clock read order). */
const CAUSALITY_MS = 1;

const ONE_TOKEN: StreamScript = { kind: 'stream', ttftMs: 150, gapMs: 20, chunks: 12 };
const THREE_TOKENS: StreamScript = { kind: 'stream', ttftMs: 150, gapMs: 20, chunks: 8, tokensPerChunk: 3, continuousUsage: true };
const COMPLETIONS: StreamScript = { kind: 'stream', ttftMs: 150, gapMs: 20, chunks: 10, continuousUsage: true };

let server: ScriptedServer;
let dispatcher: Dispatcher;
const epochNs = process.hrtime.bigint();

before(async () => {
  server = await startScriptedServer({
    scripts: { 'one-token': ONE_TOKEN, 'three-tokens': THREE_TOKENS, completions: COMPLETIONS },
  });
  dispatcher = createDispatcher({ connectTimeoutMs: 2_000 });
});

after(async () => {
  await dispatcher.close();
  await server.close();
});

function send(model: string, stream: boolean, endpoint: 'chat' | 'completions' = 'chat', script?: StreamScript): Promise<ClientOutcome> {
  const path = endpoint === 'chat' ? '/chat/completions' : '/completions';
  const body =
    endpoint === 'chat'
      ? { model, stream, messages: [{ role: 'user', content: 'hi' }], max_tokens: 64 }
      : { model, stream, prompt: 'hi', max_tokens: 64 };
  const opts: SendOptions = {
    dispatcher,
    url: `${server.url}${path}`,
    headers: { 'content-type': 'application/json', ...(script ? { 'x-fixture-script': JSON.stringify(script) } : {}) },
    body: JSON.stringify(body),
    stream,
    endpoint,
    timeouts: { connectMs: 2_000, ttftMs: 5_000, totalMs: 10_000 },
    epochNs,
  };
  return sendRequest(opts);
}

function emissionOf(o: ClientOutcome): Emission {
  assert.ok(o.requestId, 'response carries x-request-id');
  const e = server.emissions.get(o.requestId);
  assert.ok(e, `server recorded ${o.requestId}`);
  return e;
}

/** Client time minus true time must lie in [-CAUSALITY_MS, SLACK_MS]. */
function assertNear(clientMs: number, truthMs: number, what: string): void {
  const d = clientMs - truthMs;
  assert.ok(d >= -CAUSALITY_MS, `${what}: client ${clientMs.toFixed(3)} ms is ${(-d).toFixed(3)} ms before the truth`);
  assert.ok(d <= SLACK_MS, `${what}: client ${clientMs.toFixed(3)} ms is ${d.toFixed(3)} ms after the truth`);
}

/**
 * Rebuilds the arrival time (run clock) of every content chunk from TTFT and the chunk gaps,
 * and checks each against the true write time of that chunk.
 */
function assertChunkTimes(o: ClientOutcome, e: Emission): void {
  const writes = contentWrites(e);
  assert.equal(o.chunks, writes.length);
  assert.equal(o.chunkGapsMs.length, writes.length - 1);
  let t = o.sentMs + o.ttftMs!;
  assertNear(t, msSince(epochNs, writes[0]!.ns), 'chunk 0');
  for (let i = 1; i < writes.length; i++) {
    t += o.chunkGapsMs[i - 1]!;
    assertNear(t, msSince(epochNs, writes[i]!.ns), `chunk ${i}`);
  }
  assertNear(o.sentMs + o.e2eMs!, msSince(epochNs, writes.at(-1)!.ns), 'e2e');
  // The request was sent before the server received it.
  assert.ok(o.sentMs <= msSince(epochNs, e.receivedNs) + CAUSALITY_MS);
}

describe('sendRequest timing (scripted server, TTFT 150 ms, 20 ms between chunks)', () => {
  it('1-token chunks: TTFT, ITL, E2E match the emission times; usage gives outputTokens', async () => {
    const o = await send('one-token', true);
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal(o.status, 200);
    const e = emissionOf(o);
    const writes = contentWrites(e);

    // The role-only first chunk (vLLM shape, sent at once) is not content: TTFT waits for content.
    const role = e.writes.find((w) => w.kind === 'role');
    assert.ok(role, 'server sent a role chunk');
    assertNear(o.sentMs + o.ttftMs!, msSince(epochNs, writes[0]!.ns), 'ttft');
    assert.ok(o.ttftMs! >= 150 - CAUSALITY_MS, `ttft ${o.ttftMs} >= scripted 150`);

    // Structure: final usage chunk (no continuous usage) -> tokenSource usage, 1 token per chunk.
    assert.equal(o.tokenSource, 'usage');
    assert.equal(o.outputTokens, 12);
    assert.equal(o.promptTokens, 10);
    assert.equal(o.chunks, 12);
    assert.equal(o.itlMs.length, o.outputTokens - 1);
    assert.deepEqual(o.itlMs, o.chunkGapsMs);
    assertChunkTimes(o, e);
    for (const [i, gap] of o.chunkGapsMs.entries()) {
      const truth = msSince(epochNs, writes[i + 1]!.ns) - msSince(epochNs, writes[i]!.ns);
      assert.ok(Math.abs(gap - truth) <= SLACK_MS, `gap ${i}: ${gap} vs ${truth}`);
    }
    assert.equal(o.tpotMs, (o.e2eMs! - o.ttftMs!) / (o.outputTokens - 1));
    assert.ok(o.headersMs !== undefined && o.headersMs <= o.ttftMs!);
    assertNear(o.sentMs + o.headersMs, msSince(epochNs, e.writes.find((w) => w.kind === 'headers')!.ns), 'headers');
    assert.equal(o.error, undefined);
  });

  it('3-token chunks with continuous usage: 3 equal ITL entries per chunk, first chunk in TTFT', async () => {
    const o = await send('three-tokens', true);
    assert.equal(o.ok, true, JSON.stringify(o.error));
    const e = emissionOf(o);
    const firstChunkTokens = contentWrites(e)[0]!.tokens;
    assert.equal(firstChunkTokens, 3);
    assert.equal(o.tokenSource, 'usage');
    assert.equal(o.outputTokens, 24);
    assert.equal(o.chunks, 8);
    assert.equal(o.itlMs.length, o.outputTokens - firstChunkTokens);
    assert.equal(o.chunkGapsMs.length, 7);
    for (const [i, gap] of o.chunkGapsMs.entries()) {
      const entries = o.itlMs.slice(i * 3, i * 3 + 3);
      assert.deepEqual(entries, [gap / 3, gap / 3, gap / 3], `chunk ${i + 1} -> 3 entries of gap/3`);
    }
    assertChunkTimes(o, e);
    assert.equal(o.tpotMs, (o.e2eMs! - o.ttftMs!) / (o.outputTokens - 1));
    // Sum of ITL = E2E - TTFT (floating point aside).
    const sum = o.itlMs.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - (o.e2eMs! - o.ttftMs!)) < 1e-6);
  });

  it('completions endpoint (choices[0].text) with continuous usage', async () => {
    const o = await send('completions', true, 'completions');
    assert.equal(o.ok, true, JSON.stringify(o.error));
    const e = emissionOf(o);
    assert.equal(o.chunks, 10);
    assert.equal(o.outputTokens, 10);
    assert.equal(o.tokenSource, 'usage');
    assert.equal(o.itlMs.length, 9);
    assertChunkTimes(o, e);
  });

  it('non-streaming: TTFT = E2E = body complete, no ITL, usage counts', async () => {
    const o = await send('three-tokens', false);
    assert.equal(o.ok, true, JSON.stringify(o.error));
    const e = emissionOf(o);
    const body = e.writes.find((w) => w.kind === 'body')!;
    assert.equal(o.ttftMs, o.e2eMs);
    assertNear(o.sentMs + o.e2eMs!, msSince(epochNs, body.ns), 'body complete');
    assert.ok(o.e2eMs! >= 150 + 7 * 20 - CAUSALITY_MS);
    assert.deepEqual(o.itlMs, []);
    assert.deepEqual(o.chunkGapsMs, []);
    assert.equal(o.outputTokens, 24);
    assert.equal(o.tokenSource, 'usage');
    assert.equal(o.promptTokens, 10);
    assert.equal(o.chunks, 1);
    assert.equal(o.tpotMs, 0); // (e2e - ttft) / 23 with e2e = ttft
  });

  it('keeps x-queue-ms, x-request-id, x-served-by, x-served-model', async () => {
    const script: StreamScript = {
      kind: 'stream',
      ttftMs: 1,
      gapMs: 1,
      chunks: 2,
      headers: { 'x-queue-ms': '12.5', 'x-served-by': 'worker-3', 'x-served-model': 'fallback-model' },
    };
    const o = await send('m', true, 'chat', script);
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal(o.queueMs, 12.5);
    assert.match(o.requestId ?? '', /^req-\d+$/);
    assert.equal(o.servedBy, 'worker-3');
    assert.equal(o.servedModel, 'fallback-model');
    assert.equal(o.retryAfterMs, undefined);
  });

  it('without any usage, tokens come from chunks', async () => {
    const script: StreamScript = { kind: 'stream', ttftMs: 1, gapMs: 1, chunks: 4, finalUsage: false };
    const o = await send('m', true, 'chat', script);
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal(o.tokenSource, 'chunks');
    assert.equal(o.outputTokens, 4);
    assert.equal(o.promptTokens, undefined);
    assert.equal(o.itlMs.length, 3);
  });

  it('many concurrent streams on one dispatcher stay within the bounds', async () => {
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => send('one-token', true)));
    for (const o of outcomes) {
      assert.equal(o.ok, true, JSON.stringify(o.error));
      assertChunkTimes(o, emissionOf(o));
    }
  });
});
