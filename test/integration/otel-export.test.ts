/**
 * OTLP/HTTP JSON export against a real loopback receiver: what goes on the wire (path, headers,
 * ExportTraceServiceRequest body), batching by size and by delay, a full queue, and failures
 * (500, timeout, nothing listening) that are counted and never thrown. Synchronisation is on
 * forceFlush / shutdown and on the receiver's request events, never on sleeps.
 */

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createOtlpHttpExporter,
  createTracer,
  parseTraceparent,
  tracerFromEnv,
  type ExportTraceServiceRequest,
  type OtlpHttpExporterOptions,
  type OtlpKeyValue,
  type Tracer,
} from '../../harness/telemetry/otel.ts';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: ExportTraceServiceRequest;
}

/** An OTLP receiver that records every request; it can answer with an error or hold its answers. */
class Receiver {
  readonly server: http.Server;
  requests: Received[] = [];
  status = 200;
  hold = false;
  private held: http.ServerResponse[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportTraceServiceRequest });
        if (this.hold) this.held.push(res);
        else this.answer(res);
        this.waiters = this.waiters.filter((w) => {
          if (this.requests.length < w.n) return true;
          w.resolve();
          return false;
        });
      });
    });
  }

  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  /** Resolves once n requests in all have arrived. */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  release(): void {
    this.hold = false;
    for (const res of this.held.splice(0)) this.answer(res);
  }

  reset(): void {
    this.release();
    this.requests = [];
    this.status = 200;
  }

  private answer(res: http.ServerResponse): void {
    if (res.destroyed) return;
    res.writeHead(this.status, { 'content-type': 'application/json' });
    res.end(this.status === 200 ? '{}' : '{"code":13,"message":"boom"}');
  }

  spans(): ExportTraceServiceRequest['resourceSpans'][number]['scopeSpans'][number]['spans'] {
    return this.requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  }
}

function attr(list: OtlpKeyValue[], key: string): unknown {
  return list.find((kv) => kv.key === key)?.value;
}

const rx = new Receiver();
const open: Tracer[] = [];

function tracer(opts: Partial<OtlpHttpExporterOptions> = {}, serviceName = 'itest'): Tracer {
  const t = createTracer({ serviceName, serviceVersion: '0.0.1', exporter: createOtlpHttpExporter({ endpoint: rx.base, scheduledDelayMs: 60_000, ...opts }) });
  open.push(t);
  return t;
}

before(() => rx.listen());
beforeEach(() => rx.reset());
after(async () => {
  rx.release();
  await Promise.all(open.map((t) => t.shutdown()));
  rx.server.closeAllConnections();
  await new Promise((resolve) => rx.server.close(resolve));
});

describe('OTLP/HTTP JSON export', () => {
  it('POSTs /v1/traces with JSON, env headers, and the ExportTraceServiceRequest structure', async () => {
    const t = tracerFromEnv({
      serviceName: 'code-name',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.base,
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,x-tenant=perf',
        OTEL_SERVICE_NAME: 'floodgate-harness',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci',
      },
    });
    assert.ok(t);
    open.push(t);
    const incoming = parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')!;
    const server = t.startSpan('POST /v1/chat/completions', { parent: incoming, kind: 'server', attributes: { 'http.request.method': 'POST' } });
    const client = t.startSpan('upstream', { parent: server, kind: 'client' });
    client.setAttributes({ 'gen_ai.usage.output_tokens': 64, 'ttft.ms': 12.5, streamed: true, 'worker.ids': ['w1', 'w2'] });
    client.addEvent('first_token');
    client.end();
    server.setStatus('error', 'upstream failed');
    server.end();
    await t.forceFlush();

    assert.equal(rx.requests.length, 1);
    const r = rx.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v1/traces');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['authorization'], 'Bearer s3cret');
    assert.equal(r.headers['x-tenant'], 'perf');

    assert.equal(r.body.resourceSpans.length, 1);
    const rs = r.body.resourceSpans[0]!;
    assert.deepEqual(attr(rs.resource.attributes, 'service.name'), { stringValue: 'floodgate-harness' });
    assert.deepEqual(attr(rs.resource.attributes, 'deployment.environment'), { stringValue: 'ci' });
    assert.equal(rs.scopeSpans.length, 1);
    assert.equal(rs.scopeSpans[0]!.scope.name, 'floodgate');
    const [c, s] = rs.scopeSpans[0]!.spans; // in end order
    assert.ok(c && s);
    assert.equal(s.name, 'POST /v1/chat/completions');
    assert.equal(s.kind, 2);
    assert.equal(s.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(s.parentSpanId, 'b7ad6b7169203331');
    assert.equal(s.spanId, server.spanId);
    assert.deepEqual(s.status, { code: 2, message: 'upstream failed' });
    assert.deepEqual(attr(s.attributes, 'http.request.method'), { stringValue: 'POST' });
    assert.equal(c.kind, 3);
    assert.equal(c.traceId, s.traceId);
    assert.equal(c.parentSpanId, s.spanId);
    assert.deepEqual(attr(c.attributes, 'gen_ai.usage.output_tokens'), { intValue: '64' });
    assert.deepEqual(attr(c.attributes, 'ttft.ms'), { doubleValue: 12.5 });
    assert.deepEqual(attr(c.attributes, 'streamed'), { boolValue: true });
    assert.deepEqual(attr(c.attributes, 'worker.ids'), { arrayValue: { values: [{ stringValue: 'w1' }, { stringValue: 'w2' }] } });
    assert.equal(c.events[0]!.name, 'first_token');
    for (const sp of [c, s]) {
      assert.match(sp.startTimeUnixNano, /^\d+$/);
      assert.ok(BigInt(sp.endTimeUnixNano) >= BigInt(sp.startTimeUnixNano));
    }
    assert.deepEqual(t.stats(), { exported: 2, dropped: 0, failedExports: 0 });
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is', async () => {
    const t = tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.base}/custom/path`, OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-k=v' } })!;
    open.push(t);
    t.startSpan('one').end();
    await t.forceFlush();
    assert.equal(rx.requests[0]!.url, '/custom/path');
    assert.equal(rx.requests[0]!.headers['x-k'], 'v');
  });

  it('a full batch is sent at once, one request in flight at a time', async () => {
    const t = tracer({ maxExportBatchSize: 3 });
    for (let i = 0; i < 7; i++) t.startSpan(`s${i}`).end();
    await rx.waitForRequests(2); // two full batches, no flush asked for
    await t.forceFlush(); // the remainder
    assert.deepEqual(rx.requests.map((r) => r.body.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name)), [
      ['s0', 's1', 's2'],
      ['s3', 's4', 's5'],
      ['s6'],
    ]);
    assert.deepEqual(t.stats(), { exported: 7, dropped: 0, failedExports: 0 });
  });

  it('queued spans go out after scheduledDelayMs without a flush', async () => {
    const t = tracer({ scheduledDelayMs: 10 });
    t.startSpan('late').end();
    await rx.waitForRequests(1);
    assert.deepEqual(rx.spans().map((s) => s.name), ['late']);
  });

  it('a full queue drops spans and counts them', async () => {
    const t = tracer({ maxQueueSize: 2, maxExportBatchSize: 2 });
    rx.hold = true;
    t.startSpan('a').end();
    t.startSpan('b').end(); // batch full: sent, answer held
    await rx.waitForRequests(1);
    t.startSpan('c').end();
    t.startSpan('d').end(); // queue full again
    t.startSpan('e').end(); // dropped
    assert.equal(t.stats().dropped, 1);
    rx.release();
    await t.forceFlush();
    assert.deepEqual(rx.spans().map((s) => s.name), ['a', 'b', 'c', 'd']);
    assert.deepEqual(t.stats(), { exported: 4, dropped: 1, failedExports: 0 });
  });

  it('a 500 from the receiver is counted, never thrown', async () => {
    rx.status = 500;
    const t = tracer();
    t.startSpan('x').end();
    t.startSpan('y').end();
    await t.forceFlush();
    assert.equal(rx.requests.length, 1);
    assert.deepEqual(t.stats(), { exported: 0, dropped: 0, failedExports: 1 });
    rx.status = 200; // the exporter keeps working afterwards
    t.startSpan('z').end();
    await t.forceFlush();
    assert.deepEqual(t.stats(), { exported: 1, dropped: 0, failedExports: 1 });
  });

  it('an unanswered request times out and is counted', async () => {
    rx.hold = true;
    const t = tracer({ timeoutMs: 50 });
    t.startSpan('x').end();
    await t.forceFlush();
    assert.deepEqual(t.stats(), { exported: 0, dropped: 0, failedExports: 1 });
  });

  it('nothing listening: no throw, the failure is counted', async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    const t = createTracer({ serviceName: 's', exporter: createOtlpHttpExporter({ endpoint: `http://127.0.0.1:${port}` }) });
    t.startSpan('x').end();
    await t.forceFlush();
    assert.deepEqual(t.stats(), { exported: 0, dropped: 0, failedExports: 1 });
    await t.shutdown();
  });

  it('shutdown flushes what is queued, then drops', async () => {
    const t = tracer();
    t.startSpan('a').end();
    t.startSpan('b').end();
    assert.equal(rx.requests.length, 0);
    await t.shutdown();
    assert.deepEqual(rx.spans().map((s) => s.name), ['a', 'b']);
    await t.shutdown(); // idempotent
    t.startSpan('after').end();
    await t.forceFlush();
    assert.equal(rx.requests.length, 1);
    assert.deepEqual(t.stats(), { exported: 2, dropped: 1, failedExports: 0 });
  });

  it('unsampled traces are not exported but propagate', async () => {
    const t = tracer();
    const s = t.startSpan('x', { parent: parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')! });
    assert.match(s.traceparent(), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    s.end();
    await t.forceFlush();
    assert.equal(rx.requests.length, 0);
    assert.deepEqual(t.stats(), { exported: 0, dropped: 0, failedExports: 0 });
  });
});
