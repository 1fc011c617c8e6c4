/**
 * The gateway's OpenTelemetry spans, exported over OTLP/HTTP (JSON) to a loopback receiver, with
 * the exporter configured from the environment as a user would (OTEL_EXPORTER_OTLP_ENDPOINT):
 *
 * - a request carrying a W3C traceparent gets a server span in the caller's trace, with
 *   admission, queue and one client span per upstream attempt as its children;
 * - each worker receives a traceparent naming its attempt span, in the same trace;
 * - a retry (a 500 before the first byte) and a fallback (OOM on the big model) are events on the
 *   server span, and the failed attempt's span has error status;
 * - spans carry ids and counts, never the prompt.
 * Without the environment variable, no tracer is made and the caller's traceparent is passed on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';
import { formatTraceparent, newSpanId, newTraceId } from '../../harness/telemetry/otel.ts';
import { startScriptedUpstream, type ScriptedUpstream } from '../fixtures/servers/scripted-upstream.ts';
import { spanAttr, startOtlpReceiver } from '../fixtures/servers/otlp-receiver.ts';

const KEY = 'fg-tracing-key-77d1';
const HASH = `sha256:${createHash('sha256').update(KEY).digest('hex')}`;
const CANARY = 'CANARY-trace-4f1c-do-not-export';

const startReceiver = startOtlpReceiver;
const attr = spanAttr;

async function chat(gw: Gateway, model: string, traceparent: string): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, traceparent },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: `${CANARY} hello` }], max_tokens: 1 }),
  });
}

describe('gateway tracing over OTLP/HTTP', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const ups: ScriptedUpstream[] = [];
  let gw: Gateway | undefined;
  let failedOnce = false;

  before(async () => {
    receiver = await startReceiver();
    // w0 and w1 serve "small": the first request to reach either fails once with a 500.
    // wbig serves "big" and always runs out of memory, so "big" falls back to "small".
    const small = (): { status: number } => {
      if (!failedOnce) {
        failedOnce = true;
        return { status: 500 };
      }
      return { status: 200 };
    };
    ups.push(
      await startScriptedUpstream('w0', small),
      await startScriptedUpstream('w1', small),
      await startScriptedUpstream('wbig', () => ({ status: 500, message: 'CUDA out of memory. Tried to allocate 2.00 GiB' })),
    );
    const stack = parseStack(
      `name: tracing
models:
  - name: small
    workers: [w0, w1]
  - name: big
    workers: [wbig]
    fallback: [small]
workers:
  - {name: w0, url: '${ups[0]!.url}'}
  - {name: w1, url: '${ups[1]!.url}'}
  - {name: wbig, url: '${ups[2]!.url}'}
gateway:
  retries: {max: 2, backoff: 1ms}
  health: {interval: 60s, failures_to_eject: 10}
tenants:
  - name: t
    api_key_hashes: ['${HASH}']
    allowed_models: '*'
`,
      'tracing.yaml',
    );
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '60000';
    try {
      gw = await startGateway({ stack, workerUrls: { w0: ups[0]!.url, w1: ups[1]!.url, wbig: ups[2]!.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    }
  });

  after(async () => {
    await gw?.close();
    for (const u of ups) await u.close();
    await receiver.close();
  });

  it('joins the caller trace: server span, admission, queue and one client span per attempt; workers get the attempt as parent', async () => {
    const traceId = newTraceId();
    const callerSpan = newSpanId();
    const r1 = await chat(gw!, 'small', formatTraceparent({ traceId, spanId: callerSpan, sampled: true }));
    assert.equal(r1.status, 200);
    await r1.text();
    const traceBig = newTraceId();
    const r2 = await chat(gw!, 'big', formatTraceparent({ traceId: traceBig, spanId: newSpanId(), sampled: true }));
    assert.equal(r2.status, 200);
    assert.equal(r2.headers.get('x-served-model'), 'small');
    await r2.text();
    // close() flushes the gateway's own tracer.
    await gw!.close();

    const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
    const server = inTrace.find((s) => s.name === 'POST /v1/chat/completions');
    assert.ok(server, `no server span among ${inTrace.map((s) => s.name).join(', ')}`);
    assert.equal(server.kind, 2);
    assert.equal(server.parentSpanId, callerSpan);
    assert.equal(attr(server, 'http.response.status_code'), '200');
    assert.equal(attr(server, 'floodgate.tenant'), 't');
    assert.equal(attr(server, 'floodgate.retries'), '1');
    assert.ok(server.events?.some((e) => e.name === 'retry'), 'retry event');
    const children = inTrace.filter((s) => s.parentSpanId === server.spanId);
    assert.ok(children.some((s) => s.name === 'admission'));
    assert.ok(children.some((s) => s.name === 'queue'));
    const attempts = children.filter((s) => s.name === 'upstream');
    assert.equal(attempts.length, 2);
    assert.ok(attempts.every((s) => s.kind === 3));
    const failed = attempts.find((s) => s.status?.code === 2);
    assert.ok(failed, 'the failed attempt has error status');
    assert.equal(attr(failed, 'http.response.status_code'), '500');
    // Each worker request carried a traceparent naming its attempt span, in the caller's trace.
    const sent = [...ups[0]!.received, ...ups[1]!.received].map((r) => String(r.headers.traceparent));
    for (const a of attempts) assert.ok(sent.includes(`00-${traceId}-${a.spanId}-01`), `a worker got the attempt span ${a.spanId}`);

    const bigServer = receiver.spans.find((s) => s.traceId === traceBig && s.name === 'POST /v1/chat/completions');
    assert.ok(bigServer);
    const fb = bigServer.events?.find((e) => e.name === 'fallback');
    assert.ok(fb, 'fallback event');
    assert.equal(attr(fb, 'floodgate.reason'), 'oom');
    assert.equal(attr(bigServer, 'gen_ai.response.model'), 'small');
    // Ids and counts only: the prompt never leaves in a span.
    assert.ok(receiver.bodies.length > 0);
    for (const b of receiver.bodies) assert.equal(b.includes(CANARY), false);
  });
});

describe('gateway without tracing configured', () => {
  it("passes the caller's traceparent to the worker as it is", async () => {
    const up = await startScriptedUpstream('w0', () => ({ status: 200 }));
    const stack = parseStack(
      `name: notrace\nmodels:\n  - name: small\n    workers: [w0]\nworkers:\n  - {name: w0, url: '${up.url}'}\ngateway:\n  health: {interval: 60s}\ntenants:\n  - name: t\n    api_key_hashes: ['${HASH}']\n    allowed_models: '*'\n`,
      'notrace.yaml',
    );
    const gw = await startGateway({ stack, workerUrls: { w0: up.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
    try {
      const tp = formatTraceparent({ traceId: newTraceId(), spanId: newSpanId(), sampled: true });
      const r = await chat(gw, 'small', tp);
      assert.equal(r.status, 200);
      await r.text();
      assert.equal(up.received[0]!.headers.traceparent, tp);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
