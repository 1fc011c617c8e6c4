/**
 * The harness's request spans end to end, exported over OTLP/HTTP (JSON) to an in-process
 * receiver on loopback, with tracing configured from the environment as a user would
 * (OTEL_EXPORTER_OTLP_ENDPOINT):
 *
 * - a run against an in-process reference stack (gateway + one simulated worker) whose gateway
 *   exports to the same receiver gives one trace per request: the harness's client span (the
 *   root), the gateway's server span as its child, and an `upstream` attempt span under that;
 *   every harness span is exported by the time runScenario returns (client threads flush as
 *   they close), and the records carry their trace ids;
 * - a single executor sends the traceparent of its span, or, with tracing off (no endpoint, or
 *   `trace.enabled: false`), no traceparent, no span and no trace id;
 * - no exported body holds any prompt text.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { buildPlan, type PlannedRequest } from '../../harness/workload/plan.ts';
import { promptText } from '../../harness/workload/prompt-factory.ts';
import { Executor, type ExecutorInit } from '../../harness/engine/executor.ts';
import { endpointUrl, type RequestTemplate } from '../../harness/engine/request-template.ts';
import { requestTraceConfig } from '../../harness/client/request-trace.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { spanAttr, startOtlpReceiver, type OtlpReceiver } from '../fixtures/servers/otlp-receiver.ts';

type Receiver = OtlpReceiver;
const startReceiver = startOtlpReceiver;
const attr = spanAttr;

/** Sets OTEL_* variables for the duration of fn (client threads and the gateway read them at start). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const STACK_YAML = `
name: harness-tracing
models:
  - name: tiny
    workers: [w0]
    context_length: 4096
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: tiny, quantization: fp8, max_model_len: 4096, seed: 0}
gateway:
  port: 0
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
`;
const REQUESTS = 6;

describe('harness -> gateway -> upstream: one trace per request', () => {
  let receiver: Receiver;
  let stack: RunningStack | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-harness-tracing-'));

  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await stack?.close();
    await receiver.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('links the client span, the gateway server span and the upstream attempt, with the request attributes', async () => {
    // A long batch delay: spans only leave on the flush at close, which is what is under test.
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000' };
    stack = await withEnv(env, () => startStack(parseStack(STACK_YAML, 'harness-tracing.yaml'), { port: 0, host: '127.0.0.1', usageDbPath: ':memory:', timeScale: 50 }));
    const scenario = parseScenario(
      `name: tracing-e2e
seed: 11
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro, stream: true}
workload: {prompt_tokens: 48, output_tokens: 8}
load: {arrival: constant, stages: [{duration: 1s, rate: ${REQUESTS}}]}
client: {threads: 2}
`,
      path.join(tmp, 'tracing-e2e.yaml'),
    );
    const gatewayPort = new URL(stack.url).port;
    const records: RequestRecord[] = [];
    const out = await withEnv(env, () => runScenario(scenario, { outDir: path.join(tmp, 'run'), allowSaturated: true, onRecord: (r) => records.push(r) }));
    assert.equal(out.exitCode, 0, out.reasons.join('; '));
    assert.equal(records.length, REQUESTS);
    assert.ok(records.every((r) => r.ok), records.map((r) => r.error?.code).join(','));

    // Every harness span is out by the time runScenario returns: the client threads flushed.
    const harness = receiver.spans.filter((s) => s.service === 'floodgate-harness');
    assert.equal(harness.length, REQUESTS, `harness spans: ${harness.map((s) => s.name).join(', ')}`);
    // The gateway's tracer is flushed when the stack closes.
    await stack.close();
    stack = undefined;

    // requests.jsonl carries each request's trace id, to join the report with the traces.
    const lines = fs.readFileSync(path.join(tmp, 'run', 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: number; trace_id: string | null });
    assert.deepEqual(new Set(lines.map((l) => l.trace_id)), new Set(records.map((r) => r.traceId)));
    const traceIds = new Set(records.map((r) => r.traceId));
    assert.equal(traceIds.size, REQUESTS, 'one trace per request');
    for (const r of records) {
      assert.match(r.traceId ?? '', /^[0-9a-f]{32}$/);
      const inTrace = receiver.spans.filter((s) => s.traceId === r.traceId);
      const clients = inTrace.filter((s) => s.service === 'floodgate-harness');
      assert.equal(clients.length, 1, 'exactly one harness span in the trace');
      const client = clients[0]!;
      assert.equal(client.parentSpanId, undefined, 'the harness span is the root');
      assert.equal(client.kind, 3, 'kind client');
      assert.equal(client.name, 'chat tiny');
      assert.equal(attr(client, 'gen_ai.operation.name'), 'chat');
      assert.equal(attr(client, 'gen_ai.request.model'), 'tiny');
      assert.equal(attr(client, 'gen_ai.request.max_tokens'), '8');
      assert.equal(attr(client, 'floodgate.request_index'), String(r.id));
      assert.equal(attr(client, 'floodgate.stage'), 'stage-0');
      assert.equal(attr(client, 'floodgate.stage.index'), '0');
      assert.equal(attr(client, 'floodgate.scenario'), 'tracing-e2e');
      assert.equal(attr(client, 'server.address'), '127.0.0.1');
      assert.equal(attr(client, 'server.port'), gatewayPort);
      assert.equal(attr(client, 'http.response.status_code'), '200');
      assert.equal(Number(attr(client, 'floodgate.ttft_ms')), r.ttftMs);
      assert.equal(attr(client, 'gen_ai.usage.input_tokens'), String(r.promptTokens));
      assert.equal(attr(client, 'gen_ai.usage.output_tokens'), String(r.outputTokens));
      assert.equal(attr(client, 'floodgate.error_code'), undefined);
      assert.ok(client.events?.some((e) => e.name === 'first_token'), 'first_token event');
      assert.ok(BigInt(client.endTimeUnixNano) > BigInt(client.startTimeUnixNano));

      const server = inTrace.find((s) => s.service === 'floodgate-gateway' && s.kind === 2);
      assert.ok(server, `no gateway server span among ${inTrace.map((s) => `${s.service}:${s.name}`).join(', ')}`);
      assert.equal(server.name, 'POST /v1/chat/completions');
      assert.equal(server.parentSpanId, client.spanId, 'the gateway span is a child of the harness span');
      assert.equal(attr(server, 'floodgate.request_id'), r.requestId);
      // One clock in this process: the gateway's span starts once the harness's has (1 ms slack).
      // (Its end may come after the client's: the client is done at [DONE], the gateway later.)
      const ms = (ns: string) => Number(BigInt(ns) / 1000n) / 1000;
      assert.ok(ms(server.startTimeUnixNano) >= ms(client.startTimeUnixNano) - 1, 'server span starts after the client span');
      assert.ok(ms(server.startTimeUnixNano) <= ms(client.endTimeUnixNano), 'server span starts before the client span ends');
      const upstream = inTrace.filter((s) => s.name === 'upstream');
      assert.equal(upstream.length, 1, 'one upstream attempt');
      assert.equal(upstream[0]!.parentSpanId, server.spanId, 'the attempt is a child of the gateway span');
      // Nothing in the trace hangs off an unknown parent.
      const ids = new Set(inTrace.map((s) => s.spanId));
      for (const s of inTrace) if (s !== client) assert.ok(ids.has(s.parentSpanId ?? ''), `${s.name} has a parent in the trace`);
    }

    // No prompt text leaves in a span: the start of every planned prompt is absent from every body.
    const plan = buildPlan(scenario);
    assert.equal(plan.open.length, REQUESTS);
    assert.ok(receiver.bodies.length > 0);
    const all = receiver.bodies.join('\n');
    for (const p of plan.open) {
      const head = promptText(scenario.seed, p.key, 4);
      assert.equal(all.includes(head), false, `prompt text "${head}" exported`);
    }
  });
});

describe('the executor and the traceparent header', () => {
  let receiver: Receiver;
  let upstream: http.Server;
  let upstreamUrl = '';
  const seen: (string | undefined)[] = [];

  before(async () => {
    receiver = await startReceiver();
    upstream = http.createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': `req_${seen.length}` });
        res.write('data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n');
        res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
        res.write('data: {"choices":[{"delta":{"content":"b"}}]}\n\n');
        res.write('data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2}}\n\n');
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
    await receiver.close();
  });

  function template(trace?: RequestTemplate['trace']): RequestTemplate {
    return {
      url: endpointUrl(upstreamUrl, 'chat'),
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      endpoint: 'chat',
      stream: true,
      extraBody: {},
      ignoreEos: false,
      continuousUsageStats: false,
      timeouts: { connectMs: 5000, ttftMs: 5000, totalMs: 10000 },
      promptShape: { overheadTokens: 0, tokensPerWord: 1 },
      seed: 3,
      ...(trace !== undefined ? { trace } : {}),
    };
  }

  async function run(t: RequestTemplate, n: number): Promise<RequestRecord[]> {
    const init: ExecutorInit = {
      template: t,
      maxInFlight: undefined,
      onMaxInFlight: 'wait',
      workload: { promptTokens: { dist: 'fixed', value: 8, min: 1, max: 8 }, outputTokens: { dist: 'fixed', value: 2, min: 1, max: 2 } },
      load: { warmupMs: 0, cooldownMs: 0 },
      totalMs: 1000,
      model: 'm',
      warmupUrl: undefined,
      idBase: 0,
      threadIndex: 0,
      threadCount: 1,
    };
    const records: RequestRecord[] = [];
    const ex = new Executor(init, (rep) => records.push(...rep.records));
    ex.setEpoch(process.hrtime.bigint());
    const batch: PlannedRequest[] = Array.from({ length: n }, (_, i) => ({
      id: i, key: `r${i}`, stage: 0, phase: 'measure', intendedMs: i * 5, promptTokens: 8, outputTokens: 2, model: 'm', tenant: 'acme', user: undefined,
    }));
    ex.scheduleOpen(batch);
    ex.finish();
    await ex.whenIdle();
    await ex.close();
    return records;
  }

  it('sends the traceparent of the request span, which is exported when the executor closes', async () => {
    seen.length = 0;
    const t = template(requestTraceConfig({ name: 'unit-scenario', load: { stages: [{ name: 'only' }] } }));
    const records = await withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000' }, () => run(t, 3));
    assert.equal(records.length, 3);
    assert.equal(seen.length, 3);
    const spans = receiver.spans.filter((s) => s.service === 'floodgate-harness');
    assert.equal(spans.length, 3, 'flushed by close()');
    for (const r of records) {
      assert.ok(r.ok);
      const s = spans.find((x) => x.traceId === r.traceId);
      assert.ok(s, 'the record names its trace');
      assert.ok(seen.includes(`00-${s.traceId}-${s.spanId}-01`), 'the header names the span');
      assert.equal(attr(s, 'floodgate.scenario'), 'unit-scenario');
      assert.equal(attr(s, 'floodgate.stage'), 'only');
      assert.equal(attr(s, 'floodgate.tenant'), 'acme');
      assert.equal(attr(s, 'floodgate.request_id'), r.requestId);
      assert.equal(attr(s, 'gen_ai.usage.input_tokens'), '12');
      assert.equal(attr(s, 'gen_ai.usage.output_tokens'), '2');
    }
  });

  it('sends no traceparent and records no trace id when tracing is off', async () => {
    const saved = [process.env.OTEL_EXPORTER_OTLP_ENDPOINT, process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT] as const;
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    seen.length = 0;
    const before = receiver.bodies.length;
    let off: RequestRecord[];
    try {
      off = await run(template(), 2);
    } finally {
      if (saved[0] !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved[0];
      if (saved[1] !== undefined) process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved[1];
    }
    // An endpoint in the environment, but the template turns tracing off.
    const disabled = await withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, () => run(template({ enabled: false, scenario: 'x' }), 2));
    assert.equal(seen.length, 4);
    assert.ok(seen.every((h) => h === undefined));
    for (const r of [...off, ...disabled]) {
      assert.ok(r.ok);
      assert.equal('traceId' in r, false);
    }
    assert.equal(receiver.bodies.length, before, 'nothing exported');
  });
});
