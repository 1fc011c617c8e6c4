/**
 * sendRequest against servers that misbehave: each failure resolves (never rejects) with the
 * right error code, the status and headers that arrived, and the timings gathered before it.
 * The short timeouts in the options are the behaviour under test, not sleeps.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Dispatcher } from 'undici';
import { createDispatcher } from '../../harness/client/dispatcher.ts';
import { sendRequest, type ClientOutcome, type SendOptions } from '../../harness/client/send-request.ts';
import {
  REQUEST_ERROR_CODES,
  errorCodeFor,
  isRequestErrorCode,
} from '../../harness/client/request-error-codes.ts';
import {
  AWKWARD,
  AWKWARD_MESSAGES,
  refusedUrl,
  startScriptedServer,
  type ScriptedServer,
} from '../fixtures/servers/scripted-sse-server.ts';

let server: ScriptedServer;
let dispatcher: Dispatcher;
const epochNs = process.hrtime.bigint();

before(async () => {
  server = await startScriptedServer();
  dispatcher = createDispatcher({ connectTimeoutMs: 2_000 });
});

after(async () => {
  await dispatcher.destroy();
  await server.close();
});

type Overrides = Partial<Omit<SendOptions, 'timeouts'>> & { timeouts?: Partial<SendOptions['timeouts']> };

/** Sends a streaming chat request for `model`; asserts the promise resolves (never rejects). */
async function send(model: string, over: Overrides = {}): Promise<ClientOutcome> {
  const stream = over.stream ?? true;
  const opts: SendOptions = {
    dispatcher,
    url: `${server.url}/chat/completions`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'secret prompt' }] }),
    stream,
    endpoint: 'chat',
    epochNs,
    ...over,
    timeouts: { connectMs: 1_000, ttftMs: 300, totalMs: 3_000, ...over.timeouts },
  };
  const settled = await Promise.allSettled([sendRequest(opts)]);
  const r = settled[0]!;
  assert.equal(r.status, 'fulfilled', 'sendRequest never rejects');
  const o = (r as PromiseFulfilledResult<ClientOutcome>).value;
  // Every failure carries a documented code; prompt text is never kept.
  if (!o.ok) {
    assert.ok(o.error && isRequestErrorCode(o.error.code), `documented code: ${o.error?.code}`);
    assert.ok(!o.error.message.includes('secret prompt'));
    assert.ok(o.error.message.length <= 200);
  }
  return o;
}

function assertCode(o: ClientOutcome, code: string): void {
  assert.equal(o.ok, false);
  assert.equal(o.error?.code, code, `got ${JSON.stringify(o.error)}`);
}

describe('sendRequest against awkward servers', () => {
  it('never answers -> timeout_ttft, no status, no headers', async () => {
    const o = await send(AWKWARD.silent);
    assertCode(o, 'timeout_ttft');
    assert.equal(o.status, undefined);
    assert.equal(o.headersMs, undefined);
    assert.equal(o.ttftMs, undefined);
    assert.equal(o.chunks, 0);
  });

  it('role chunk then nothing -> timeout_ttft with status and headers kept', async () => {
    const o = await send(AWKWARD.stallBeforeContent);
    assertCode(o, 'timeout_ttft');
    assert.equal(o.status, 200);
    assert.ok(o.headersMs !== undefined);
    assert.equal(o.ttftMs, undefined);
    assert.equal(o.chunks, 0);
    assert.match(o.requestId ?? '', /^req-/);
  });

  it('resets the connection mid-stream -> connection_reset, chunks so far kept', async () => {
    const o = await send(AWKWARD.reset);
    assertCode(o, 'connection_reset');
    assert.equal(o.status, 200);
    assert.equal(o.chunks, 3);
    assert.ok(o.ttftMs !== undefined && o.e2eMs !== undefined && o.e2eMs >= o.ttftMs);
    assert.equal(o.itlMs.length, 2);
    assert.equal(o.outputTokens, 3);
    assert.equal(o.tokenSource, 'chunks');
  });

  it('ends without [DONE] -> stream_truncated, chunks so far kept', async () => {
    const o = await send(AWKWARD.truncated);
    assertCode(o, 'stream_truncated');
    assert.equal(o.status, 200);
    assert.equal(o.chunks, 3);
    assert.ok(o.ttftMs !== undefined);
  });

  it('429 with retry-after: 2 -> http_429, status, retryAfterMs 2000, OpenAI error message', async () => {
    const o = await send(AWKWARD.rateLimited);
    assertCode(o, 'http_429');
    assert.equal(o.status, 429);
    assert.equal(o.retryAfterMs, 2000);
    assert.equal(o.error?.message, AWKWARD_MESSAGES.rateLimited);
    assert.ok(o.headersMs !== undefined);
    assert.equal(o.ttftMs, undefined);
  });

  it('500 with an OpenAI error body -> http_500 with its message', async () => {
    const o = await send(AWKWARD.serverError);
    assertCode(o, 'http_500');
    assert.equal(o.status, 500);
    assert.equal(o.error?.message, AWKWARD_MESSAGES.serverError);
  });

  it('a non-JSON error body -> its first 200 characters', async () => {
    const body = 'upstream exploded: ' + 'x'.repeat(400);
    const o = await send('m', {
      headers: {
        'content-type': 'application/json',
        'x-fixture-script': JSON.stringify({ kind: 'status', status: 502, headers: { 'content-type': 'text/plain' }, body }),
      },
    });
    assertCode(o, 'http_502');
    assert.equal(o.error?.message, body.slice(0, 200));
  });

  it('retry-after as an HTTP-date', async () => {
    const date = new Date(Date.now() + 60_000).toUTCString();
    const o = await send('m', {
      headers: {
        'content-type': 'application/json',
        'x-fixture-script': JSON.stringify({ kind: 'status', status: 503, headers: { 'retry-after': date }, body: '' }),
      },
    });
    assertCode(o, 'http_503');
    assert.ok(o.retryAfterMs !== undefined && o.retryAfterMs > 55_000 && o.retryAfterMs <= 60_000, String(o.retryAfterMs));
    assert.match(o.error?.message ?? '', /^HTTP 503/);
  });

  it('invalid JSON in a data line -> invalid_response, chunks so far kept', async () => {
    const o = await send(AWKWARD.invalidJson);
    assertCode(o, 'invalid_response');
    assert.equal(o.chunks, 2);
    assert.ok(o.ttftMs !== undefined);
  });

  it('error object mid-stream -> mid_stream_error with its message', async () => {
    const o = await send(AWKWARD.errorObject);
    assertCode(o, 'mid_stream_error');
    assert.equal(o.error?.message, AWKWARD_MESSAGES.errorObject);
    assert.equal(o.chunks, 2);
  });

  it('event: error mid-stream -> mid_stream_error with its message', async () => {
    const o = await send(AWKWARD.errorEvent);
    assertCode(o, 'mid_stream_error');
    assert.equal(o.error?.message, AWKWARD_MESSAGES.errorEvent);
    assert.equal(o.chunks, 2);
  });

  it('streams past the total timeout -> timeout_total, TTFT and chunks kept', async () => {
    const o = await send(AWKWARD.slow, { timeouts: { totalMs: 500 } });
    assertCode(o, 'timeout_total');
    assert.equal(o.status, 200);
    assert.ok(o.ttftMs !== undefined);
    assert.ok(o.chunks >= 1 && o.chunks < 100);
    assert.equal(o.itlMs.length, o.chunks - 1);
  });

  it('a non-SSE 200 to a streaming request -> invalid_response', async () => {
    const o = await send(AWKWARD.notSse);
    assertCode(o, 'invalid_response');
    assert.equal(o.status, 200);
  });

  it('nothing listening -> connection_refused', async () => {
    const o = await send('m', { url: `${await refusedUrl()}/chat/completions` });
    assertCode(o, 'connection_refused');
    assert.equal(o.status, undefined);
  });

  it('no connection within connectMs (pool of 1 busy) -> timeout_connect', async () => {
    const one = createDispatcher({ connectTimeoutMs: 2_000, connections: 1 });
    try {
      const hold = new AbortController();
      const busy = send(AWKWARD.silent, { dispatcher: one, signal: hold.signal, timeouts: { ttftMs: 60_000, totalMs: 60_000 } });
      const o = await send('m', { dispatcher: one, timeouts: { connectMs: 200, ttftMs: 5_000 } });
      assertCode(o, 'timeout_connect');
      assert.equal(o.status, undefined);
      hold.abort();
      assertCode(await busy, 'aborted');
    } finally {
      await one.destroy();
    }
  });

  it('signal aborted mid-stream -> aborted, timings kept', async () => {
    const o = await send(AWKWARD.slow, { signal: AbortSignal.timeout(300), timeouts: { ttftMs: 2_000, totalMs: 10_000 } });
    assertCode(o, 'aborted');
    assert.equal(o.status, 200);
    assert.ok(o.ttftMs !== undefined);
  });

  it('one signal shared by many requests aborts them all, without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const ac = new AbortController();
      const pending = Array.from({ length: 30 }, () =>
        send(AWKWARD.silent, { signal: ac.signal, timeouts: { ttftMs: 60_000, totalMs: 60_000 } }),
      );
      ac.abort();
      for (const o of await Promise.all(pending)) assertCode(o, 'aborted');
      // Warnings are emitted on process.nextTick: let one turn pass before looking.
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(!warnings.includes('MaxListenersExceededWarning'), warnings.join());
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('signal already aborted -> aborted, nothing sent', async () => {
    const before = server.requestCount();
    const o = await send('m', { signal: AbortSignal.abort() });
    assertCode(o, 'aborted');
    assert.equal(server.requestCount(), before);
  });

  it('a bad URL -> client_error', async () => {
    const o = await send('m', { url: 'not a url' });
    assertCode(o, 'client_error');
  });

  it('the dispatcher still works after all of the above', async () => {
    const o = await send('m', { stream: true });
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal(o.chunks, 5);
  });
});

describe('vLLM stream shape', () => {
  it('the role-only first chunk is not content; the usage chunk is not content', async () => {
    // The default script sends vLLM's role chunk at once, then 5 content chunks 2 ms apart.
    const o = await send('m');
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal(o.chunks, 5);
    assert.equal(o.outputTokens, 5);
    const e = server.emissions.get(o.requestId!)!;
    const role = e.writes.find((w) => w.kind === 'role')!;
    const firstContent = e.writes.find((w) => w.kind === 'content')!;
    assert.ok(o.sentMs + o.ttftMs! >= Number(firstContent.ns - epochNs) / 1e6 - 1, 'TTFT is not the role chunk');
    assert.ok(firstContent.ns > role.ns);
  });
});

describe('request error codes', () => {
  it('maps undici / Node errors to codes', () => {
    const withCode = (code: string, name = 'Error'): Error => Object.assign(new Error(code), { code, name });
    assert.equal(errorCodeFor(withCode('ECONNREFUSED')), 'connection_refused');
    assert.equal(errorCodeFor(withCode('UND_ERR_CONNECT_TIMEOUT', 'ConnectTimeoutError')), 'timeout_connect');
    assert.equal(errorCodeFor(withCode('ECONNRESET')), 'connection_reset');
    assert.equal(errorCodeFor(withCode('UND_ERR_SOCKET', 'SocketError')), 'connection_reset');
    assert.equal(errorCodeFor(withCode('UND_ERR_ABORTED')), 'aborted');
    assert.equal(errorCodeFor(new AggregateError([withCode('ECONNREFUSED')])), 'connection_refused');
    assert.equal(errorCodeFor(new Error('x', { cause: withCode('ECONNRESET') })), 'connection_reset');
    assert.equal(errorCodeFor(new Error('weird')), 'client_error');
    assert.equal(errorCodeFor('not an error'), 'client_error');
  });

  it('every code has a one-line meaning; http_<status> is a pattern', () => {
    for (const [code, meaning] of Object.entries(REQUEST_ERROR_CODES)) {
      assert.ok(meaning.length > 10 && !meaning.includes('\n'), code);
    }
    assert.ok(isRequestErrorCode('http_429'));
    assert.ok(isRequestErrorCode('timeout_ttft'));
    assert.ok(!isRequestErrorCode('http_<status>'));
    assert.ok(!isRequestErrorCode('nope'));
  });
});
