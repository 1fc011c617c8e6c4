/**
 * Two gateway properties over loopback:
 *
 * - TLS: with `gateway.tls` naming a certificate and key (PEM, generated here by openssl), the
 *   gateway serves HTTPS only; a client trusting the certificate gets the usual answer and
 *   headers, a plain-HTTP request to the same port gets no HTTP answer; unreadable files are a
 *   coded stack problem at load.
 * - Retries never block the queue: a request whose retry must avoid the one worker with room
 *   waits apart from the queue, and a request arriving behind it is served by that worker at once
 *   (it completes while the retry is still waiting).
 *
 * - Closing the gateway with a request in flight still writes that request's usage row.
 * - A model's served_model_name is what its workers receive in `model`.
 *
 * Workers here are small scripted upstreams (vLLM-shaped JSON, /health), so that which request
 * fails and which one is held open are decided by the test, not by timing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { loadStack, parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startGateway, type Gateway } from '../../reference-stack/gateway/gateway-server.ts';
import { UsageLedger } from '../../reference-stack/gateway/usage-ledger.ts';
import { startStack } from '../../reference-stack/stack/start-stack.ts';
import { ConfigError } from '../../harness/errors.ts';
import { startScriptedUpstream, type Decision, type ScriptedUpstream } from '../fixtures/servers/scripted-upstream.ts';

const KEY = 'fg-tls-lane-key-3c9a';
const HASH = `sha256:${createHash('sha256').update(KEY).digest('hex')}`;

type Upstream = ScriptedUpstream;
const startUpstream = (name: string, decide: (prompt: string, server: string) => Decision, onReceive: (prompt: string, server: string) => void): Promise<Upstream> =>
  startScriptedUpstream(name, (r, n) => decide(r.prompt, n), (r, n) => onReceive(r.prompt, n));

const tenantYaml = `
tenants:
  - name: t
    api_key_hashes: ['${HASH}']
    allowed_models: '*'
`;

async function chat(base: string, prompt: string, dispatcher?: Agent): Promise<{ status: number; servedBy: string; body: string }> {
  const r = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    ...(dispatcher ? { dispatcher } : {}),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }], max_tokens: 1 }),
  });
  return { status: r.statusCode, servedBy: String(r.headers['x-served-by']), body: await r.body.text() };
}

describe('gateway over TLS', () => {
  let tmp: string;
  let up: Upstream;
  let gw: Gateway;
  let stackFile: string;
  let cert: Buffer;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    cert = fs.readFileSync(path.join(tmp, 'cert.pem'));
    up = await startUpstream('w0', () => ({ status: 200 }), () => {});
    stackFile = path.join(tmp, 'stack.yaml');
    // Relative paths: read from the stack file's folder.
    fs.writeFileSync(
      stackFile,
      `name: tls
models:
  - name: m
    workers: [w0]
workers:
  - name: w0
    url: ${up.url}
gateway:
  tls: {cert: cert.pem, key: key.pem}
${tenantYaml}`,
    );
    const stack = loadStack(stackFile);
    assert.equal(stack.gateway.tls?.certPath, path.join(tmp, 'cert.pem'));
    gw = await startGateway({ stack, workerUrls: { w0: up.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
  });

  after(async () => {
    await gw?.close();
    await up?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves HTTPS to a client that trusts the certificate, with the usual headers', async () => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const agent = new Agent({ connect: { ca: cert } });
    try {
      const r = await chat(gw.url, 'hello over tls', agent);
      assert.equal(r.status, 200);
      assert.equal(r.servedBy, 'w0');
      assert.equal((JSON.parse(r.body) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, 'ok');
    } finally {
      await agent.close();
    }
  });

  it('refuses a client that does not trust the certificate, and plain HTTP gets no HTTP answer', async () => {
    await assert.rejects(chat(gw.url, 'untrusted'), (e: Error & { code?: string; cause?: { code?: string } }) => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(`${e.code ?? ''} ${e.cause?.code ?? ''} ${e.message}`));
    const plain = gw.url.replace(/^https:/, 'http:');
    const status = await chat(plain, 'plain').then(
      (r) => r.status,
      () => 'no answer',
    );
    assert.notEqual(status, 200);
  });

  it('reports unreadable certificate or key files as coded problems at load', () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, fs.readFileSync(stackFile, 'utf8').replace('tls: {cert: cert.pem, key: key.pem}', 'tls: {cert: missing-cert.pem, key: key.pem}'));
    assert.throws(
      () => loadStack(bad),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const issue = e.issues.find((i) => i.path === 'gateway.tls.cert');
        assert.ok(issue, JSON.stringify(e.issues));
        assert.equal(issue.code, 'FG_STACK_BAD_VALUE');
        assert.match(issue.message, /missing-cert\.pem cannot be read/);
        assert.equal(e.issues.some((i) => i.path === 'gateway.tls.key'), false);
        return true;
      },
    );
  });
});

describe('gateway retries wait apart from the queue', () => {
  const ups: Upstream[] = [];
  let gw: Gateway;
  let releaseHeld!: () => void;
  const held = new Promise<void>((r) => (releaseHeld = r));
  const arrivals = new Map<string, (server: string) => void>();
  const arrived = (prompt: string): Promise<string> => new Promise((r) => arrivals.set(prompt, r));
  let failed = false;

  before(async () => {
    // "hold" is answered once the test releases it; "flaky" fails on its first attempt only.
    const decide = (prompt: string): Decision => {
      if (prompt === 'hold') return { status: 200, hold: held };
      if (prompt === 'flaky' && !failed) {
        failed = true;
        return { status: 500 };
      }
      return { status: 200 };
    };
    const onReceive = (prompt: string, server: string): void => arrivals.get(prompt)?.(server);
    ups.push(await startUpstream('w0', decide, onReceive), await startUpstream('w1', decide, onReceive));
    const stack = parseStack(
      `name: lane
models:
  - name: m
    workers: [w0, w1]
workers:
  - name: w0
    url: ${ups[0]!.url}
    max_in_flight: 1
  - name: w1
    url: ${ups[1]!.url}
    max_in_flight: 1
gateway:
  routing: least_outstanding
  retries: {max: 2, backoff: 1ms}
  health: {interval: 60s, failures_to_eject: 5}
${tenantYaml}`,
      'lane.yaml',
    );
    gw = await startGateway({ stack, workerUrls: { w0: ups[0]!.url, w1: ups[1]!.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
  });

  after(async () => {
    releaseHeld();
    await gw?.close();
    for (const u of ups) await u.close();
  });

  it('serves a later request on the free worker while a retry waits for the busy one', { timeout: 30_000 }, async () => {
    // 1. "hold" occupies one worker (X) until released.
    const holdArrived = arrived('hold');
    const hold = chat(gw.url, 'hold');
    const x = await holdArrived;
    // 2. "flaky" goes to the other worker (Y), fails there before the first byte, and its retry
    //    must avoid Y: it waits for X, which is busy.
    const flakyFirst = arrived('flaky');
    const flaky = chat(gw.url, 'flaky');
    const y = await flakyFirst;
    assert.notEqual(x, y);
    const flakyRetry = arrived('flaky');
    let waiting = false;
    for (let i = 0; i < 500 && !waiting; i++) {
      const m = await (await request(`${gw.url}/metrics`)).body.text();
      waiting = /floodgate_gateway_queue_depth\{model="m"\} 1\b/.test(m);
    }
    assert.ok(waiting, 'the retry never showed as waiting');
    // 3. A new request arrives behind the waiting retry: Y has room, so it is served now, while
    //    "hold" is still held (were it queued behind the retry, it would wait for X: a deadlock
    //    here, since X is released only after it completes).
    const later = await chat(gw.url, 'later');
    assert.equal(later.status, 200);
    assert.equal(later.servedBy, y);
    // 4. Release X: the retry runs there and succeeds.
    releaseHeld();
    const [h, f] = await Promise.all([hold, flaky]);
    assert.equal(h.status, 200);
    assert.equal(f.status, 200);
    assert.equal(f.servedBy, x);
    assert.equal(await flakyRetry, x);
    const metrics = await (await request(`${gw.url}/metrics`)).body.text();
    assert.match(metrics, /floodgate_gateway_retries_total\{model="m"\} 1\b/);
    // Non-streaming answers count in the TTFT histogram too (their first byte is the whole answer).
    assert.match(metrics, /floodgate_gateway_ttft_seconds_count\{model="m"\} 3\b/);
  });
});

describe('gateway close with a request in flight', () => {
  it("writes the in-flight request's usage row before closing the ledger", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-close-'));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let arrivedResolve!: () => void;
    const arrivedP = new Promise<void>((r) => (arrivedResolve = r));
    const up = await startUpstream('w0', () => ({ status: 200, hold: held }), () => arrivedResolve());
    try {
      const stack = parseStack(`name: closing\nmodels:\n  - name: m\n    workers: [w0]\nworkers:\n  - name: w0\n    url: ${up.url}\ngateway:\n  health: {interval: 60s}\n${tenantYaml}`, 'closing.yaml');
      const db = path.join(tmp, 'usage.db');
      const gw = await startGateway({ stack, workerUrls: { w0: up.url }, port: 0, host: '127.0.0.1', usageDbPath: db });
      const pending = request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'x-request-id': 'req-in-flight-at-close' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'held' }], max_tokens: 1 }),
      }).then(
        (r) => r.statusCode,
        (e: Error) => e,
      );
      await arrivedP;
      await gw.close();
      // The client sees its connection end (no answer), never a hang.
      assert.ok((await pending) instanceof Error);
      const ledger = UsageLedger.open(db);
      try {
        const u = ledger.usage('t', 0, Date.now() + 60_000);
        assert.equal(u.total.requests, 1);
      } finally {
        ledger.close();
      }
    } finally {
      release();
      await up.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('model served_model_name', () => {
  it('sends the served name upstream while clients use the stack name', async () => {
    const up = await startScriptedUpstream('w0', () => ({ status: 200 }));
    try {
      const stack = parseStack(
        `name: served\nmodels:\n  - name: m\n    served_model_name: org/Model-X-Instruct\n    workers: [w0]\nworkers:\n  - name: w0\n    url: ${up.url}\ngateway:\n  health: {interval: 60s}\n${tenantYaml}`,
        'served.yaml',
      );
      assert.equal(stack.models[0]!.servedModelName, 'org/Model-X-Instruct');
      const gw = await startGateway({ stack, workerUrls: { w0: up.url }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
      try {
        const r = await chat(gw.url, 'hello');
        assert.equal(r.status, 200);
        assert.equal(up.received[0]!.model, 'org/Model-X-Instruct');
      } finally {
        await gw.close();
      }
    } finally {
      await up.close();
    }
  });

  it('refuses, at load, a model whose simulated worker does not serve its served name', () => {
    const yaml = (served: string): string =>
      `name: mismatch\nmodels:\n  - name: foo\n${served}    workers: [w0]\nworkers:\n  - name: w0\n    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: bar}\n${tenantYaml}`;
    assert.throws(
      () => parseStack(yaml(''), 'mismatch.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.issues.length, 1, e.message);
        assert.equal(e.issues[0]!.code, 'FG_STACK_CONFLICT');
        assert.equal(e.issues[0]!.path, 'models[0].name');
        assert.match(e.issues[0]!.message, /sends model "foo" to worker "w0" as "foo", which that worker does not serve \(it serves "bar", "llama-3\.1-8b"/);
        return true;
      },
    );
    assert.equal(parseStack(yaml('    served_model_name: bar\n'), 'ok.yaml').models[0]!.servedModelName, 'bar');
    // Without its own served_model_name, a simulated worker also answers to the names its models send.
    const plain = parseStack(`name: plain\nmodels:\n  - {name: foo, workers: [w0]}\n  - {name: other, workers: [w0]}\nworkers:\n  - name: w0\n    sim: {gpu: h100-sxm, model: llama-3.1-8b}\n${tenantYaml}`, 'plain.yaml');
    const w0 = plain.workers[0]!;
    assert.ok(w0.kind === 'sim');
    assert.deepEqual(w0.sim.extraServedNames, ['foo', 'other']);
    // The worker's catalogue names are served too.
    assert.equal(parseStack(yaml('    served_model_name: llama-3.1-8b\n'), 'ok2.yaml').models[0]!.name, 'foo');
  });
});

describe('a stack model named unlike its simulated worker', () => {
  it('is served: the worker answers to the name the gateway sends', async () => {
    const stack = parseStack(
      `name: named\nmodels:\n  - {name: house-model, workers: [w0]}\nworkers:\n  - name: w0\n    sim: {gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8, time_scale: 50}\ngateway:\n  health: {interval: 60s}\n${tenantYaml}`,
      'named.yaml',
    );
    const running = await startStack(stack, { port: 0, usageDbPath: ':memory:' });
    try {
      const r = await request(`${running.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'house-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
      });
      const body = await r.body.text();
      assert.equal(r.statusCode, 200, body);
      assert.equal(r.headers['x-served-model'], 'house-model');
    } finally {
      await running.close();
    }
  });
});
