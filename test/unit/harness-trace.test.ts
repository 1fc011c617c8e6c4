/**
 * The harness's request spans (harness/client/request-trace.ts), against an in-memory exporter:
 * GenAI span names, the attributes a request's span starts and ends with, run-clock to epoch
 * times, error status without the server's message, unsampled spans, and when a tracer is made.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HARNESS_SERVICE_NAME,
  RequestSpans,
  harnessTracer,
  operationName,
  requestSpanName,
  requestTraceConfig,
  serverAttributes,
} from '../../harness/client/request-trace.ts';
import { createMemoryExporter, createTracer, encodeExportRequest, nowMs, parseTraceparent, type Tracer } from '../../harness/telemetry/otel.ts';
import type { PlannedRequest } from '../../harness/workload/plan.ts';
import { record, failedRecord } from '../fixtures/records.ts';

function planned(o: Partial<PlannedRequest> = {}): PlannedRequest {
  return { id: 7, key: 'k7', stage: 1, phase: 'measure', intendedMs: 100, promptTokens: 64, outputTokens: 32, model: 'llama-3.1-8b', tenant: undefined, user: undefined, ...o };
}

function memTracer(rootSampleRatio = 1): { tracer: Tracer; exporter: ReturnType<typeof createMemoryExporter> } {
  const exporter = createMemoryExporter();
  return { tracer: createTracer({ serviceName: HARNESS_SERVICE_NAME, exporter, rootSampleRatio }), exporter };
}

describe('span names and attributes helpers', () => {
  it('names spans after the GenAI convention: {operation} {model}', () => {
    assert.equal(operationName('chat'), 'chat');
    assert.equal(operationName('completions'), 'text_completion');
    assert.equal(requestSpanName('chat', 'llama-3.1-8b'), 'chat llama-3.1-8b');
    assert.equal(requestSpanName('completions', 'm'), 'text_completion m');
  });

  it('reads server.address and server.port from the endpoint URL', () => {
    assert.deepEqual(serverAttributes('http://127.0.0.1:8080/v1/chat/completions'), { 'server.address': '127.0.0.1', 'server.port': 8080 });
    assert.deepEqual(serverAttributes('https://api.example.com/v1/completions'), { 'server.address': 'api.example.com', 'server.port': 443 });
    assert.deepEqual(serverAttributes('http://gw/v1/completions'), { 'server.address': 'gw', 'server.port': 80 });
    assert.deepEqual(serverAttributes('http://[::1]:9000/v1'), { 'server.address': '::1', 'server.port': 9000 });
    assert.deepEqual(serverAttributes('not a url'), {});
  });

  it('takes the scenario and stage names for the template', () => {
    const sc = { name: 'spike', load: { stages: [{ name: 'base' }, { name: 'burst' }] } };
    assert.deepEqual(requestTraceConfig(sc), { scenario: 'spike', stages: ['base', 'burst'] });
    assert.deepEqual(requestTraceConfig(sc, false), { enabled: false, scenario: 'spike', stages: ['base', 'burst'] });
  });
});

describe('harnessTracer', () => {
  it('is off without an OTLP endpoint, or when disabled', () => {
    assert.equal(harnessTracer(undefined, {}), undefined);
    assert.equal(harnessTracer(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(harnessTracer(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }), undefined);
    assert.equal(harnessTracer({ enabled: false }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), undefined);
  });

  it('is on with an endpoint: service floodgate-harness unless OTEL_SERVICE_NAME says otherwise', async () => {
    const t = harnessTracer(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
    assert.ok(t);
    assert.equal(t.serviceName, 'floodgate-harness');
    assert.equal(typeof t.resource.attributes['service.version'], 'string');
    await t.shutdown();
    const named = harnessTracer({ enabled: true }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SERVICE_NAME: 'loadgen' });
    assert.equal(named?.serviceName, 'loadgen');
    await named?.shutdown();
  });

  it('refuses a configuration it cannot honour', () => {
    assert.throws(() => harnessTracer(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), TypeError);
  });
});

describe('RequestSpans', () => {
  it('starts a root client span with the request attributes and a traceparent to send', () => {
    const { tracer, exporter } = memTracer();
    const spans = new RequestSpans(tracer, { url: 'http://127.0.0.1:8080/v1/chat/completions', endpoint: 'chat', trace: { scenario: 'smoke', stages: ['warm', 'steady'] } });
    const span = spans.start(planned({ tenant: 'pro', user: 3 }), 250);
    assert.equal(span.name, 'chat llama-3.1-8b');
    assert.equal(span.kind, 'client');
    assert.equal(span.parentSpanId, undefined);
    const tp = parseTraceparent(span.traceparent());
    assert.deepEqual(tp, { traceId: span.traceId, spanId: span.spanId, sampled: true });
    assert.deepEqual({ ...span.attributes }, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'llama-3.1-8b',
      'gen_ai.request.max_tokens': 32,
      'server.address': '127.0.0.1',
      'server.port': 8080,
      'http.request.method': 'POST',
      'floodgate.scenario': 'smoke',
      'floodgate.stage': 'steady',
      'floodgate.stage.index': 1,
      'floodgate.phase': 'measure',
      'floodgate.tenant': 'pro',
      'floodgate.user': 3,
      'floodgate.request_index': 7,
      'floodgate.prompt_tokens.planned': 64,
    });
    assert.equal(exporter.spans.length, 0, 'not exported before it ends');
  });

  it('ends with the outcome: status, TTFT, server usage, a first_token event, at the record times', () => {
    const { tracer, exporter } = memTracer();
    const spans = new RequestSpans(tracer, { url: 'http://gw:80/v1/chat/completions', endpoint: 'chat' });
    const runNow = 1000;
    spans.setClockOffset(runNow);
    const before = nowMs();
    const span = spans.start(planned(), 1000);
    assert.ok(Math.abs(span.startTimeMs - before) < 50, 'run-clock 1000 is about now in epoch ms');
    const r = record({ sentMs: 1000, ttftMs: 40, e2eMs: 200, endMs: 1201, status: 200, promptTokens: 70, outputTokens: 32, tokenSource: 'usage', servedModel: 'llama-3.1-8b', requestId: 'req_1', servedBy: 'w0' });
    spans.end(span, r);
    assert.equal(exporter.spans.length, 1);
    const s = exporter.spans[0]!;
    assert.ok(Math.abs(s.endTimeMs! - s.startTimeMs - 201) < 1e-6, 'duration = endMs - send time');
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['floodgate.ttft_ms'], 40);
    assert.equal(s.attributes['gen_ai.usage.input_tokens'], 70);
    assert.equal(s.attributes['gen_ai.usage.output_tokens'], 32);
    assert.equal(s.attributes['gen_ai.response.model'], 'llama-3.1-8b');
    assert.equal(s.attributes['floodgate.request_id'], 'req_1');
    assert.equal(s.attributes['floodgate.scenario'], undefined, 'no scenario name unless the template gives one');
    assert.equal(s.attributes['floodgate.stage'], 'stage-1');
    assert.equal(s.attributes['floodgate.error_code'], undefined);
    assert.equal(s.status.code, 'unset');
    const ev = s.events.find((e) => e.name === 'first_token');
    assert.ok(ev);
    assert.ok(Math.abs(ev.timeMs - s.startTimeMs - 40) < 1e-6, 'first_token at send + TTFT');
  });

  it('counts chunk-derived tokens apart from server usage', () => {
    const { tracer, exporter } = memTracer();
    const spans = new RequestSpans(tracer, { url: 'http://gw/v1/completions', endpoint: 'completions' });
    spans.end(spans.start(planned(), 0), record({ sentMs: 0, endMs: 10, tokenSource: 'chunks', outputTokens: 5, promptTokens: undefined }));
    const s = exporter.spans[0]!;
    assert.equal(s.name, 'text_completion llama-3.1-8b');
    assert.equal(s.attributes['gen_ai.usage.output_tokens'], undefined);
    assert.equal(s.attributes['gen_ai.usage.input_tokens'], undefined);
    assert.equal(s.attributes['floodgate.output_tokens'], 5);
    assert.equal(s.attributes['floodgate.token_source'], 'chunks');
  });

  it('marks a failed request with its error code, never the server message', () => {
    const { tracer, exporter } = memTracer();
    const spans = new RequestSpans(tracer, { url: 'http://gw/v1/chat/completions', endpoint: 'chat' });
    const secret = 'prompt text quoted by the server';
    spans.end(spans.start(planned(), 0), failedRecord('http_400', 400, { sentMs: 0, endMs: 5, ttftMs: undefined, error: { code: 'http_400', message: secret } }));
    const s = exporter.spans[0]!;
    assert.equal(s.status.code, 'error');
    assert.equal(s.status.message, 'http_400');
    assert.equal(s.attributes['floodgate.error_code'], 'http_400');
    assert.equal(s.attributes['error.type'], 'http_400');
    assert.equal(s.attributes['http.response.status_code'], 400);
    assert.equal(s.events.some((e) => e.name === 'first_token'), false);
    assert.equal(JSON.stringify(encodeExportRequest([s])).includes(secret), false);
  });

  it('still propagates ids when the root is not sampled, and exports nothing', async () => {
    const { tracer, exporter } = memTracer(0);
    const spans = new RequestSpans(tracer, { url: 'http://gw/v1/chat/completions', endpoint: 'chat' });
    const span = spans.start(planned(), 0);
    assert.match(span.traceparent(), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    spans.end(span, record({ sentMs: 0, endMs: 3 }));
    assert.equal(exporter.spans.length, 0);
    await spans.shutdown();
  });

  it('shutdown waits for the exporter, but no longer than its limit', async () => {
    let resolved = false;
    const hanging = createTracer({
      serviceName: 'x',
      exporter: { export() {}, forceFlush: () => Promise.resolve(), shutdown: () => new Promise<void>(() => {}), stats: () => ({ exported: 0, dropped: 0, failedExports: 0 }) },
    });
    const spans = new RequestSpans(hanging, { url: 'http://gw/v1', endpoint: 'chat' });
    const t0 = Date.now();
    await spans.shutdown(30).then(() => (resolved = true));
    assert.ok(resolved);
    assert.ok(Date.now() - t0 < 1000);
  });
});
