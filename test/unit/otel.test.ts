/**
 * Tracing module (harness/telemetry/otel.ts) without a network: W3C traceparent parsing and
 * formatting, ids, span parenting and sampling, the OTLP/JSON encoding of spans, and the
 * configuration read from OTEL_* environment variables.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createMemoryExporter,
  createTracer,
  encodeAttributeValue,
  encodeExportRequest,
  extractTraceContext,
  formatTraceparent,
  injectTraceContext,
  isValidSpanId,
  isValidTraceId,
  msToUnixNanos,
  newSpanId,
  newTraceId,
  normalizeTracestate,
  parseTraceparent,
  readOtelEnv,
  tracerFromEnv,
  SPAN_ATTRIBUTE_COUNT_LIMIT,
  type OtlpKeyValue,
  type Tracer,
} from '../../harness/telemetry/otel.ts';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const VALID = `00-${TID}-${SID}-01`;

function memTracer(extra: Partial<Parameters<typeof createTracer>[0]> = {}): { tracer: Tracer; mem: ReturnType<typeof createMemoryExporter> } {
  const mem = createMemoryExporter();
  return { tracer: createTracer({ serviceName: 'svc', exporter: mem, ...extra }), mem };
}

function attr(list: OtlpKeyValue[], key: string): unknown {
  return list.find((kv) => kv.key === key)?.value;
}

describe('traceparent', () => {
  it('parses a valid version-00 header', () => {
    assert.deepEqual(parseTraceparent(VALID), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseTraceparent(`00-${TID}-${SID}-00`), { traceId: TID, spanId: SID, sampled: false });
    // unknown flag bits are ignored, bit 0 is sampled
    assert.equal(parseTraceparent(`00-${TID}-${SID}-03`)?.sampled, true);
    assert.equal(parseTraceparent(`00-${TID}-${SID}-02`)?.sampled, false);
    assert.deepEqual(parseTraceparent([VALID]), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseTraceparent(` ${VALID} `), { traceId: TID, spanId: SID, sampled: true });
  });

  it('rejects invalid headers', () => {
    const bad = [
      undefined,
      '',
      'garbage',
      `00-${TID}-${SID}-1`, // short flags
      `00-${TID}-${SID}-01-extra`, // version 00 must be exactly 55 characters
      `00-${TID}-${SID}-0g`,
      `00-${'0'.repeat(32)}-${SID}-01`, // all-zero trace id
      `00-${TID}-${'0'.repeat(16)}-01`, // all-zero span id
      `00-${TID.toUpperCase()}-${SID}-01`, // uppercase
      `00-${TID}-${SID.toUpperCase()}-01`,
      `00-${TID}-${SID}-0A`,
      `0A-${TID}-${SID}-01`,
      `00-${TID.slice(1)}-${SID}0-01`, // wrong field lengths, same total
      `00-${TID}0-${SID.slice(1)}-01`,
      `00_${TID}_${SID}_01`,
      `ff-${TID}-${SID}-01`, // forbidden version
      `0-${TID}-${SID}-01`,
      `cc-${TID}-${SID}-01x`, // future version: 56th character must be '-'
      `cc-${TID}-${SID}`, // future version: at least the 4 fields
      [VALID, VALID], // repeated header
      [],
    ];
    for (const h of bad) assert.equal(parseTraceparent(h), undefined, `should reject ${JSON.stringify(h)}`);
  });

  it('accepts future versions per the spec', () => {
    assert.deepEqual(parseTraceparent(`cc-${TID}-${SID}-01`), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseTraceparent(`01-${TID}-${SID}-00-what-the-future-holds`), { traceId: TID, spanId: SID, sampled: false });
  });

  it('formats and round-trips', () => {
    assert.equal(formatTraceparent({ traceId: TID, spanId: SID, sampled: true }), VALID);
    assert.equal(formatTraceparent({ traceId: TID, spanId: SID, sampled: false }), `00-${TID}-${SID}-00`);
    for (const sampled of [true, false]) {
      const ctx = { traceId: newTraceId(), spanId: newSpanId(), sampled };
      assert.deepEqual(parseTraceparent(formatTraceparent(ctx)), ctx);
    }
  });

  it('tracestate is validated for passthrough', () => {
    assert.equal(normalizeTracestate('congo=t61rcWkgMzE, rojo=00f067aa0ba902b7'), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    assert.equal(normalizeTracestate(['a=1', 'tenant@vendor=x']), 'a=1,tenant@vendor=x');
    assert.equal(normalizeTracestate(' , a=1,,'), 'a=1');
    assert.equal(normalizeTracestate(undefined), undefined);
    assert.equal(normalizeTracestate(''), undefined);
    assert.equal(normalizeTracestate('A=1'), undefined); // uppercase key
    assert.equal(normalizeTracestate('a=1,a=2'), undefined); // duplicate key
    assert.equal(normalizeTracestate('a'), undefined);
    assert.equal(normalizeTracestate('a=x=y'), undefined);
    assert.equal(normalizeTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
  });

  it('extract and inject through header objects', () => {
    const ctx = extractTraceContext({ traceparent: VALID, tracestate: 'a=1' });
    assert.deepEqual(ctx, { traceId: TID, spanId: SID, sampled: true, traceState: 'a=1' });
    assert.equal(extractTraceContext({ tracestate: 'a=1' }), undefined);
    assert.equal(extractTraceContext({ traceparent: 'nope' }), undefined);
    const { tracer } = memTracer();
    const span = tracer.startSpan('out', { parent: ctx });
    const h = injectTraceContext(span, { 'content-type': 'application/json' });
    assert.deepEqual(h, { 'content-type': 'application/json', traceparent: `00-${TID}-${span.spanId}-01`, tracestate: 'a=1' });
  });
});

describe('ids', () => {
  it('are lowercase hex of the right length, non-zero and distinct', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const t = newTraceId();
      const s = newSpanId();
      assert.match(t, /^[0-9a-f]{32}$/);
      assert.match(s, /^[0-9a-f]{16}$/);
      assert.ok(isValidTraceId(t) && isValidSpanId(s));
      traces.add(t);
      spans.add(s);
    }
    assert.equal(traces.size, 5000);
    assert.equal(spans.size, 5000);
    assert.equal(isValidTraceId('0'.repeat(32)), false);
    assert.equal(isValidSpanId('0'.repeat(16)), false);
  });
});

describe('spans', () => {
  it('a child of a parsed traceparent keeps the trace id and has the header span as parent', () => {
    const { tracer, mem } = memTracer();
    const parent = parseTraceparent(VALID)!;
    const span = tracer.startSpan('handle', { parent, kind: 'server' });
    assert.equal(span.traceId, TID);
    assert.equal(span.parentSpanId, SID);
    assert.notEqual(span.spanId, SID);
    assert.ok(isValidSpanId(span.spanId));
    assert.equal(span.traceparent(), `00-${TID}-${span.spanId}-01`);
    span.end();
    const enc = encodeExportRequest(mem.spans).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(enc.traceId, TID);
    assert.equal(enc.parentSpanId, SID);
    assert.equal(enc.spanId, span.spanId);
    assert.equal(enc.kind, 2);
  });

  it('a child of a local span, and a root span', () => {
    const { tracer } = memTracer();
    const root = tracer.startSpan('root');
    assert.equal(root.parentSpanId, undefined);
    assert.ok(isValidTraceId(root.traceId));
    assert.equal(root.sampled, true);
    const child = tracer.startSpan('child', { parent: root, kind: 'client' });
    assert.equal(child.traceId, root.traceId);
    assert.equal(child.parentSpanId, root.spanId);
    const other = tracer.startSpan('root2');
    assert.notEqual(other.traceId, root.traceId);
  });

  it('unsampled parent: not exported, ids still propagate', () => {
    const { tracer, mem } = memTracer();
    const span = tracer.startSpan('handle', { parent: parseTraceparent(`00-${TID}-${SID}-00`)!, attributes: { a: 1 } });
    assert.equal(span.sampled, false);
    assert.equal(span.isRecording, false);
    assert.equal(span.traceId, TID);
    assert.equal(span.parentSpanId, SID);
    assert.equal(span.traceparent(), `00-${TID}-${span.spanId}-00`);
    span.setAttribute('x', 1).addEvent('e').setStatus('error', 'no');
    const child = tracer.startSpan('child', { parent: span });
    assert.equal(child.sampled, false);
    child.end();
    span.end();
    assert.equal(mem.spans.length, 0);
    assert.deepEqual(Object.keys(span.attributes), []);
  });

  it('rootSampleRatio 0 samples no root span', () => {
    const { tracer, mem } = memTracer({ rootSampleRatio: 0 });
    const s = tracer.startSpan('r');
    assert.equal(s.sampled, false);
    s.end();
    assert.equal(mem.spans.length, 0);
    assert.throws(() => createTracer({ serviceName: 's', exporter: mem, rootSampleRatio: 2 }), TypeError);
  });

  it('end is idempotent; mutations after end are ignored', () => {
    const { tracer, mem } = memTracer();
    const s = tracer.startSpan('x');
    s.end();
    const end = s.endTimeMs;
    s.end();
    s.setAttribute('late', 1);
    assert.equal(mem.spans.length, 1);
    assert.equal(s.endTimeMs, end);
    assert.equal('late' in s.attributes, false);
  });

  it('status: ok is final, the message is kept for error only', () => {
    const { tracer } = memTracer();
    const a = tracer.startSpan('a').setStatus('error', 'boom');
    assert.deepEqual(a.status, { code: 'error', message: 'boom' });
    a.setStatus('ok', 'ignored');
    assert.deepEqual(a.status, { code: 'ok' });
    a.setStatus('error', 'later');
    assert.deepEqual(a.status, { code: 'ok' });
  });

  it('recordException adds an exception event', () => {
    const { tracer } = memTracer();
    const s = tracer.startSpan('a');
    s.recordException(new TypeError('bad thing'));
    s.recordException('plain');
    assert.equal(s.events[0]!.name, 'exception');
    assert.equal(s.events[0]!.attributes['exception.type'], 'TypeError');
    assert.equal(s.events[0]!.attributes['exception.message'], 'bad thing');
    assert.equal(typeof s.events[0]!.attributes['exception.stacktrace'], 'string');
    assert.equal(s.events[1]!.attributes['exception.message'], 'plain');
    assert.equal(s.status.code, 'unset');
  });

  it('attribute count limit drops and counts', () => {
    const { tracer, mem } = memTracer();
    const s = tracer.startSpan('a');
    for (let i = 0; i < SPAN_ATTRIBUTE_COUNT_LIMIT + 5; i++) s.setAttribute(`k${i}`, i);
    s.setAttribute('k0', 'updated'); // existing key still updatable
    s.end();
    assert.equal(Object.keys(s.attributes).length, SPAN_ATTRIBUTE_COUNT_LIMIT);
    assert.equal(s.attributes['k0'], 'updated');
    assert.equal(encodeExportRequest(mem.spans).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.droppedAttributesCount, 5);
  });
});

describe('OTLP/JSON encoding', () => {
  it('encodes attribute values by type', () => {
    assert.deepEqual(encodeAttributeValue('s'), { stringValue: 's' });
    assert.deepEqual(encodeAttributeValue(42), { intValue: '42' });
    assert.deepEqual(encodeAttributeValue(-7), { intValue: '-7' });
    assert.deepEqual(encodeAttributeValue(12345678901234567890n), { intValue: '12345678901234567890' });
    assert.deepEqual(encodeAttributeValue(1.5), { doubleValue: 1.5 });
    assert.deepEqual(encodeAttributeValue(2 ** 60), { doubleValue: 2 ** 60 });
    assert.deepEqual(encodeAttributeValue(Number.NaN), { doubleValue: 'NaN' });
    assert.deepEqual(encodeAttributeValue(-Infinity), { doubleValue: '-Infinity' });
    assert.deepEqual(encodeAttributeValue(true), { boolValue: true });
    assert.deepEqual(encodeAttributeValue(false), { boolValue: false });
    assert.deepEqual(encodeAttributeValue(['a', 1, 2.5, false]), {
      arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, { doubleValue: 2.5 }, { boolValue: false }] },
    });
    assert.deepEqual(encodeAttributeValue([]), { arrayValue: { values: [] } });
  });

  it('encodes a span: resource, scope, kind, attributes, events, status, nanosecond strings', () => {
    const { tracer, mem } = memTracer({ serviceVersion: '1.2.3', resourceAttributes: { 'deployment.environment': 'test', 'service.name': 'loses' } });
    const arr = ['x', 'y'];
    const s = tracer.startSpan('request', { kind: 'client', attributes: { 'http.request.method': 'POST', skipped: undefined } });
    s.setAttributes({ 'gen_ai.usage.input_tokens': 128, ratio: 0.25, stream: true, tags: arr, nothing: null });
    arr.push('mutated'); // attribute values are copied
    s.addEvent('first_token', { 'gen_ai.token.index': 0 });
    s.setStatus('error', 'upstream 503');
    s.end();
    const req = encodeExportRequest(mem.spans);
    assert.equal(req.resourceSpans.length, 1);
    const rs = req.resourceSpans[0]!;
    assert.deepEqual(attr(rs.resource.attributes, 'service.name'), { stringValue: 'svc' });
    assert.deepEqual(attr(rs.resource.attributes, 'service.version'), { stringValue: '1.2.3' });
    assert.deepEqual(attr(rs.resource.attributes, 'deployment.environment'), { stringValue: 'test' });
    assert.deepEqual(attr(rs.resource.attributes, 'telemetry.sdk.language'), { stringValue: 'nodejs' });
    assert.deepEqual(rs.scopeSpans[0]!.scope, { name: 'floodgate', version: '1.2.3' });
    const sp = rs.scopeSpans[0]!.spans[0]!;
    assert.equal(sp.name, 'request');
    assert.equal(sp.kind, 3);
    assert.equal(sp.parentSpanId, undefined);
    assert.deepEqual(attr(sp.attributes, 'http.request.method'), { stringValue: 'POST' });
    assert.deepEqual(attr(sp.attributes, 'gen_ai.usage.input_tokens'), { intValue: '128' });
    assert.deepEqual(attr(sp.attributes, 'ratio'), { doubleValue: 0.25 });
    assert.deepEqual(attr(sp.attributes, 'stream'), { boolValue: true });
    assert.deepEqual(attr(sp.attributes, 'tags'), { arrayValue: { values: [{ stringValue: 'x' }, { stringValue: 'y' }] } });
    assert.equal(attr(sp.attributes, 'skipped'), undefined);
    assert.equal(attr(sp.attributes, 'nothing'), undefined);
    assert.deepEqual(sp.status, { code: 2, message: 'upstream 503' });
    assert.equal(sp.events.length, 1);
    assert.equal(sp.events[0]!.name, 'first_token');
    assert.deepEqual(sp.events[0]!.attributes, [{ key: 'gen_ai.token.index', value: { intValue: '0' } }]);
    for (const t of [sp.startTimeUnixNano, sp.endTimeUnixNano, sp.events[0]!.timeUnixNano]) {
      assert.equal(typeof t, 'string');
      assert.match(t, /^\d{19}$/); // unix nanos in this century
    }
    assert.ok(BigInt(sp.endTimeUnixNano) >= BigInt(sp.startTimeUnixNano));
    assert.ok(BigInt(sp.events[0]!.timeUnixNano) >= BigInt(sp.startTimeUnixNano));
    // JSON-serialisable as is: no bigint, no undefined-valued keys
    assert.deepEqual(JSON.parse(JSON.stringify(req)), req);
  });

  it('explicit times: ms to nanos, end before start clamps to start, ok/unset status codes', () => {
    const { tracer, mem } = memTracer();
    const a = tracer.startSpan('a', { startTimeMs: 1_700_000_000_000.25 }).setStatus('ok');
    a.end(1_700_000_000_001.5);
    const b = tracer.startSpan('b', { startTimeMs: 1_700_000_000_010 });
    b.end(1_700_000_000_005);
    const spans = encodeExportRequest(mem.spans).resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.equal(spans[0]!.startTimeUnixNano, '1700000000000250000');
    assert.equal(spans[0]!.endTimeUnixNano, '1700000000001500000');
    assert.deepEqual(spans[0]!.status, { code: 1 });
    assert.equal(spans[1]!.endTimeUnixNano, spans[1]!.startTimeUnixNano);
    assert.deepEqual(spans[1]!.status, { code: 0 });
    assert.equal(msToUnixNanos(0.5), '500000');
    assert.equal(msToUnixNanos(1.9999999), '2000000');
    assert.equal(msToUnixNanos(-1), '0');
  });

  it('kinds map to the OTLP enum', () => {
    const { tracer, mem } = memTracer();
    for (const kind of ['internal', 'server', 'client', 'producer', 'consumer'] as const) tracer.startSpan(kind, { kind }).end();
    tracer.startSpan('default').end();
    const kinds = encodeExportRequest(mem.spans).resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => [s.name, s.kind]);
    assert.deepEqual(kinds, [['internal', 1], ['server', 2], ['client', 3], ['producer', 4], ['consumer', 5], ['default', 1]]);
  });

  it('groups spans of different tracers by resource', () => {
    const mem = createMemoryExporter();
    const t1 = createTracer({ serviceName: 'one', exporter: mem });
    const t2 = createTracer({ serviceName: 'two', exporter: mem });
    t1.startSpan('a').end();
    t2.startSpan('b').end();
    t1.startSpan('c').end();
    const rs = encodeExportRequest(mem.spans).resourceSpans;
    assert.equal(rs.length, 2);
    assert.deepEqual(rs.map((r) => [attr(r.resource.attributes, 'service.name'), r.scopeSpans[0]!.spans.map((s) => s.name)]), [
      [{ stringValue: 'one' }, ['a', 'c']],
      [{ stringValue: 'two' }, ['b']],
    ]);
  });
});

describe('configuration from the environment', () => {
  it('no endpoint, OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none: tracing off', () => {
    assert.equal(tracerFromEnv({ serviceName: 's', env: {} }), undefined);
    assert.equal(tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' } }), undefined);
    assert.equal(tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' } }), undefined);
    assert.equal(tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' } }), undefined);
    assert.equal(tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' } }), undefined);
    // disabled wins over an unsupported protocol
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), undefined);
    assert.notEqual(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }), undefined);
  });

  it('endpoint rules', () => {
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })?.url, 'http://c:4318/v1/traces');
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })?.url, 'http://c:4318/v1/traces');
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c/otlp' })?.url, 'https://c/otlp/v1/traces');
    // the signal-specific endpoint is used as is, and wins
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1234/custom' })?.url, 'http://t:1234/custom');
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1234/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })?.url, 'http://t:1234/custom');
    assert.throws(() => readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }), (e: Error) => e instanceof TypeError && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(e.message));
    assert.throws(() => readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x/y' }), /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.*ftp/);
  });

  it('headers: comma-separated key=value, values URL-decoded, traces-specific wins per key', () => {
    const cfg = readOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc%3D%3D , x-tenant=one,,x-eq=a=b',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=two',
    });
    assert.deepEqual(cfg?.headers, { authorization: 'Bearer abc==', 'x-tenant': 'two', 'x-eq': 'a=b' });
    assert.throws(
      () => readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }),
      (e: Error) => e instanceof TypeError && /OTEL_EXPORTER_OTLP_HEADERS/.test(e.message),
    );
    assert.throws(() => readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'bad name=1' }), /OTEL_EXPORTER_OTLP_TRACES_HEADERS/);
  });

  it('protocols other than http/json are rejected with the variable and value named', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
      for (const value of ['grpc', 'http/protobuf']) {
        assert.throws(
          () => tracerFromEnv({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', [name]: value } }),
          (e: Error) => e instanceof TypeError && e.message.includes(name) && e.message.includes(value) && e.message.includes('http/json'),
        );
      }
    }
    assert.notEqual(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), undefined);
    // the traces-specific variable overrides the general one
    assert.notEqual(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }), undefined);
    assert.throws(() => readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/);
  });

  it('service name and resource attributes', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=stag%20ing,service.name=from-attrs' };
    const t1 = tracerFromEnv({ serviceName: 'code', resourceAttributes: { team: 'perf', 'deployment.environment': 'code' }, env })!;
    assert.equal(t1.serviceName, 'from-attrs');
    assert.equal(t1.resource.attributes['deployment.environment'], 'stag ing');
    assert.equal(t1.resource.attributes['team'], 'perf');
    const t2 = tracerFromEnv({ serviceName: 'code', env: { ...env, OTEL_SERVICE_NAME: 'from-env' } })!;
    assert.equal(t2.serviceName, 'from-env');
    assert.equal(t2.resource.attributes['service.name'], 'from-env');
    const t3 = tracerFromEnv({ serviceName: 'code', serviceVersion: '9', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } })!;
    assert.equal(t3.serviceName, 'code');
    assert.equal(t3.resource.attributes['service.version'], '9');
    assert.throws(() => readOtelEnv({ ...env, OTEL_RESOURCE_ATTRIBUTES: 'nokey' }), /OTEL_RESOURCE_ATTRIBUTES/);
    await Promise.all([t1.shutdown(), t2.shutdown(), t3.shutdown()]);
  });

  it('batching and timeout variables', () => {
    const cfg = readOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
    })!;
    assert.deepEqual([cfg.timeoutMs, cfg.scheduledDelayMs, cfg.maxQueueSize, cfg.maxExportBatchSize], [3000, 200, 100, 10]);
    assert.throws(() => readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_BSP_MAX_QUEUE_SIZE: '-1' }), /OTEL_BSP_MAX_QUEUE_SIZE/);
  });

  it('call sites can hold undefined', () => {
    const tracer = tracerFromEnv({ serviceName: 's', env: {} });
    const span = tracer?.startSpan('x');
    span?.setAttribute('a', 1);
    span?.end();
    assert.equal(span, undefined);
  });
});
