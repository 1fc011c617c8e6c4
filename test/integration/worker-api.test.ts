/**
 * The simulated worker's OpenAI-compatible API, spoken to by the official `openai` npm client
 * (and by fetch where the wire itself is under test): chat and completions, streaming and not,
 * usage accounting, vLLM's error shapes and statuses, /v1/models, /tokenize, x-request-id,
 * health, unknown routes, engine failures before and after the first token, and a client abort
 * freeing the engine's request. Real servers on 127.0.0.1, port 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createSimEngine, type SimEngine } from '../../reference-stack/worker-sim/sim-engine.ts';
import { startWorkerServer, WORKER_VERSION, type WorkerServer } from '../../reference-stack/worker-sim/worker-server.ts';

const OPTIONS = { gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 50 } as const;

let engine: SimEngine;
let server: WorkerServer;
let client: OpenAI;
/** Same engine, a server with a 1 KiB body limit. */
let smallServer: WorkerServer;

const messages = [
  { role: 'system' as const, content: 'You are a terse assistant.' },
  { role: 'user' as const, content: 'Name three rivers of Europe, please.' },
];

before(async () => {
  engine = createSimEngine({ ...OPTIONS });
  server = await startWorkerServer({ engine, port: 0 });
  smallServer = await startWorkerServer({ engine, maxBodyBytes: 1024 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

after(async () => {
  engine.close();
  await server.close();
  await smallServer.close();
});

/** A gauge's value (summed over its label sets) from the worker's /metrics text. */
async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      seen = true;
    }
  }
  assert.ok(seen, `${name} in /metrics`);
  return sum;
}

/** Polls a gauge until it equals `want`, at most `tries` scrapes (no sleeps: each scrape is a round trip). */
async function waitGauge(url: string, name: string, want: number, tries = 2000): Promise<number> {
  let v = NaN;
  for (let i = 0; i < tries; i++) {
    v = await gauge(url, name);
    if (v === want) return v;
  }
  return v;
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Expects `p` to reject with an openai APIError; returns it. */
async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    return err;
  }
  assert.fail('expected an APIError');
}

describe('chat completions', () => {
  it('non-streaming: a chat.completion with usage', async () => {
    const body = { model: engine.modelName, messages, max_tokens: 7, ignore_eos: true };
    const r = await client.chat.completions.create(body);
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(r.model, engine.modelName);
    assert.equal(r.choices.length, 1);
    const c = r.choices[0]!;
    assert.equal(c.message.role, 'assistant');
    assert.equal(c.finish_reason, 'length');
    assert.ok(c.message.content && c.message.content.length > 0);
    assert.equal(r.usage?.completion_tokens, 7);
    assert.equal(r.usage?.total_tokens, r.usage!.prompt_tokens + 7);
    // The completion is exactly 7 tokens by the worker's own tokenizer (whatever /tokenize adds to any prompt aside).
    const count = async (prompt: string) => ((await (await postJson(`${server.url}/tokenize`, { prompt })).json()) as { count: number }).count;
    assert.equal((await count(c.message.content)) - (await count('')), 7);
  });

  it('streaming with include_usage: role chunk, one chunk per token, finish on the last, usage = content chunks', async () => {
    const body = { model: engine.modelName, messages, max_tokens: 12, ignore_eos: true, stream: true as const, stream_options: { include_usage: true } };
    const stream = await client.chat.completions.create(body);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const first = chunks[0]!;
    assert.deepEqual(first.choices[0]!.delta, { role: 'assistant', content: '' });
    const content = chunks.filter((c) => c.choices.length > 0 && (c.choices[0]!.delta.content ?? '') !== '');
    assert.equal(content.length, 12);
    assert.equal(content.at(-1)!.choices[0]!.finish_reason, 'length');
    assert.ok(content.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.completion_tokens, content.length);
    assert.ok(chunks.every((c) => c.id === first.id && c.object === 'chat.completion.chunk' && c.model === engine.modelName && c.created === first.created));
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === undefined), 'no usage before the final chunk without continuous_usage_stats');
  });

  it('continuous_usage_stats: every chunk carries cumulative usage', async () => {
    const body = {
      model: engine.modelName,
      messages,
      max_tokens: 6,
      ignore_eos: true,
      stream: true as const,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    };
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create(body)) chunks.push(c);
    assert.equal(chunks.length, 1 + 6 + 1);
    const prompt = chunks[0]!.usage!.prompt_tokens;
    assert.ok(prompt > 0);
    chunks.slice(0, 7).forEach((c, i) => {
      assert.deepEqual(c.usage, { prompt_tokens: prompt, total_tokens: prompt + i, completion_tokens: i });
    });
    assert.deepEqual(chunks[7]!.usage, { prompt_tokens: prompt, total_tokens: prompt + 6, completion_tokens: 6 });
  });

  it('/tokenize counts the same prompt tokens as usage.prompt_tokens', async () => {
    const r = await client.chat.completions.create({ model: engine.modelName, messages, max_tokens: 1 });
    const res = await postJson(`${server.url}/tokenize`, { model: engine.modelName, messages });
    assert.equal(res.status, 200);
    const tok = (await res.json()) as { count: number; max_model_len: number; tokens: number[]; token_strs: null };
    assert.equal(tok.count, r.usage?.prompt_tokens);
    assert.equal(tok.tokens.length, tok.count);
    assert.equal(tok.max_model_len, engine.maxModelLen);
    assert.equal(tok.token_strs, null);
    const noGen = (await (await postJson(`${server.url}/tokenize`, { messages, add_generation_prompt: false })).json()) as { count: number };
    assert.ok(noGen.count < tok.count, 'the generation prompt adds tokens');
  });

  it('detokenize renders token ids back to text', async () => {
    const tok = (await (await postJson(`${server.url}/tokenize`, { prompt: 'rivers of Europe' })).json()) as { tokens: number[] };
    const res = await postJson(`${server.url}/detokenize`, { tokens: tok.tokens });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { prompt: 'rivers of Europe' });
  });
});

describe('completions', () => {
  it('non-streaming: a text_completion with usage', async () => {
    const r = await client.completions.create({ model: engine.modelName, prompt: 'Once upon a time', max_tokens: 5, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-[0-9a-f]{32}$/);
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.ok(r.choices[0]!.text.length > 0);
    assert.equal(r.usage?.completion_tokens, 5);
    const tok = (await (await postJson(`${server.url}/tokenize`, { prompt: 'Once upon a time' })).json()) as { count: number };
    assert.equal(r.usage?.prompt_tokens, tok.count);
  });

  it('streaming: one text chunk per token, then the usage chunk', async () => {
    const body = { model: engine.modelName, prompt: 'Once upon a time', max_tokens: 9, ignore_eos: true, stream: true as const, stream_options: { include_usage: true } };
    const chunks: OpenAI.Completion[] = [];
    for await (const c of await client.completions.create(body)) chunks.push(c);
    const text = chunks.filter((c) => c.choices.length > 0);
    assert.equal(text.length, 9);
    assert.ok(text.every((c) => c.object === 'text_completion' && c.choices[0]!.text.length > 0));
    assert.equal(text.at(-1)!.choices[0]!.finish_reason, 'length');
    assert.equal(chunks.at(-1)!.usage?.completion_tokens, 9);
  });

  it('max_tokens absent defaults to 16 (vLLM CompletionRequest)', async () => {
    const r = await client.completions.create({ model: engine.modelName, prompt: 'a b c', ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(r.usage?.completion_tokens, 16);
  });
});

describe('wire format', () => {
  it('SSE events, content type, x-request-id, [DONE]', async () => {
    const res = await postJson(`${server.url}/v1/chat/completions`, { model: engine.modelName, messages, max_tokens: 3, ignore_eos: true, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n');
    assert.equal(events.pop(), '', 'every event ends with a blank line');
    assert.ok(events.every((e) => e.startsWith('data: ') && !e.includes('\n')));
    assert.equal(events.at(-1), 'data: [DONE]');
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { id: string });
    assert.equal(parsed.length, 1 + 3);
    assert.equal(res.headers.get('x-request-id'), parsed[0]!.id);
  });

  it('x-request-id is echoed and names the response', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: engine.modelName, messages, max_tokens: 2 }, { headers: { 'X-Request-Id': 'trace-123' } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), 'trace-123');
    assert.equal(data.id, 'chatcmpl-trace-123');
    // The same id twice at once is still two requests for the engine.
    const dup = { model: engine.modelName, messages, max_tokens: 3, ignore_eos: true };
    const [a, b] = await Promise.all([1, 2].map(() => client.chat.completions.create(dup, { headers: { 'X-Request-Id': 'dup' } })));
    assert.equal(a?.usage?.completion_tokens, 3);
    assert.equal(b?.usage?.completion_tokens, 3);
  });

  it('an alias of the model is accepted; the response names the served model', async () => {
    const alias = engine.modelAliases[0];
    assert.ok(alias !== undefined);
    const r = await client.chat.completions.create({ model: alias, messages, max_tokens: 1 });
    assert.equal(r.model, engine.modelName);
  });
});

describe('errors', () => {
  it('prompt + max_tokens over the context: 400 BadRequestError in vLLM shape', async () => {
    const err = await apiError(client.chat.completions.create({ model: engine.modelName, messages, max_tokens: engine.maxModelLen }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    assert.equal(err.type, 'BadRequestError');
    const e = err.error as { message: string; type: string; param: unknown; code: number };
    assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(e.code, 400);
    assert.equal(e.param, null);
    assert.match(e.message, new RegExp(`^This model's maximum context length is ${engine.maxModelLen} tokens\\. However, you requested \\d+ tokens \\(\\d+ in the messages, ${engine.maxModelLen} in the completion\\)\\. Please reduce the length of the messages or completion\\.$`));
  });

  it('unknown model: 404 NotFoundError', async () => {
    const err = await apiError(client.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 1 }));
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal((err.error as { message: string }).message, 'The model `no-such-model` does not exist.');
    assert.equal(err.type, 'NotFoundError');
  });

  it('priority under fcfs: 400', async () => {
    assert.equal(engine.schedulingPolicy, 'fcfs');
    const body = { model: engine.modelName, messages, max_tokens: 1, priority: 5 };
    const err = await apiError(client.chat.completions.create(body));
    assert.equal(err.status, 400);
    assert.equal((err.error as { message: string }).message, 'Got priority 5 but Priority scheduling is not enabled.');
  });

  it('n > 1, batched prompts, stream_options without stream, bad JSON, wrong content type: 400', async () => {
    const base = { model: engine.modelName, messages, max_tokens: 1 };
    assert.equal((await apiError(client.chat.completions.create({ ...base, n: 2 }))).status, 400);
    assert.equal((await apiError(client.chat.completions.create({ ...base, stream_options: { include_usage: true } }))).status, 400);
    assert.equal((await apiError(client.completions.create({ model: engine.modelName, prompt: ['a', 'b'], max_tokens: 1 }))).status, 400);
    const bad = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'BadRequestError');
    const form = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(base) });
    assert.equal(form.status, 400);
    assert.match(((await form.json()) as { error: { message: string } }).error.message, /Only 'application\/json' is allowed/);
  });

  it('a body over the limit: 413', async () => {
    const res = await postJson(`${smallServer.url}/v1/completions`, { model: engine.modelName, prompt: 'x '.repeat(2000) });
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { code: number } };
    assert.equal(body.error.code, 413);
  });

  it('unknown route: 404 {"detail":"Not Found"}; wrong method: 405', async () => {
    const res = await fetch(`${server.url}/v1/nope`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { detail: 'Not Found' });
    const m = await fetch(`${server.url}/v1/chat/completions`);
    assert.equal(m.status, 405);
    assert.deepEqual(await m.json(), { detail: 'Method Not Allowed' });
  });
});

describe('other endpoints', () => {
  it('models.list: the served model with max_model_len', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.equal(ids[0], engine.modelName);
    assert.deepEqual(ids.slice(1), [...engine.modelAliases]);
    const m = page.data[0] as OpenAI.Model & { root: string; parent: null; max_model_len: number; permission: unknown[] };
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'vllm');
    assert.equal(m.root, engine.modelName);
    assert.equal(m.parent, null);
    assert.equal(m.max_model_len, engine.maxModelLen);
    assert.equal(m.permission.length, 1);
  });

  it('/health and /ping 200 with an empty body; /version; /metrics in Prometheus text', async () => {
    for (const p of ['/health', '/ping']) {
      const r = await fetch(`${server.url}${p}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), '');
    }
    assert.deepEqual(await (await fetch(`${server.url}/version`)).json(), { version: WORKER_VERSION });
    assert.match(WORKER_VERSION, /^floodgate-sim \d+\.\d+\.\d+/);
    const metrics = await fetch(`${server.url}/metrics`);
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await metrics.text(), /^vllm:num_requests_running\{/m);
  });
});

describe('client abort', () => {
  it('leaving a stream mid-way frees the request in the engine', async () => {
    const body = { model: engine.modelName, messages, ignore_eos: true, max_tokens: engine.maxModelLen - 200, stream: true as const };
    const stream = await client.chat.completions.create(body);
    let content = 0;
    let runningDuring = NaN;
    for await (const c of stream) {
      if ((c.choices[0]?.delta.content ?? '') !== '') content++;
      if (content === 3) {
        runningDuring = await gauge(server.url, 'vllm:num_requests_running');
        break; // the client closes the connection
      }
    }
    assert.equal(content, 3);
    assert.equal(runningDuring, 1, 'the request was running when the client left');
    assert.equal(await waitGauge(server.url, 'vllm:num_requests_running', 0), 0);
    assert.equal(engine.inFlight, 0);
  });
});

describe('engine failures', () => {
  it('before the first token: the HTTP status and type of the engine failure', async () => {
    const failing = createSimEngine({ ...OPTIONS, faults: { errors: { status: 503, rate: 1, message: 'overloaded' } } });
    const s = await startWorkerServer({ engine: failing });
    try {
      const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const err = await apiError(c.chat.completions.create({ model: failing.modelName, messages, max_tokens: 2, stream: true }));
      assert.equal(err.status, 503);
      assert.deepEqual(err.error, { message: 'overloaded', type: 'ServiceUnavailableError', param: null, code: 503 });
    } finally {
      failing.close();
      await s.close();
    }
  });

  it('after the first token: an error event, then [DONE]; /health turns 503', async () => {
    // The engine dies when its second request arrives: the first one is then mid-stream.
    const dying = createSimEngine({ ...OPTIONS, faults: { death: { afterRequests: 2 } } });
    const s = await startWorkerServer({ engine: dying });
    try {
      const res = await postJson(`${s.url}/v1/chat/completions`, { model: dying.modelName, messages, max_tokens: 5000, ignore_eos: true, stream: true });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = '';
      while (!text.includes('"content":" ')) {
        const { value, done } = await reader.read();
        assert.equal(done, false);
        text += dec.decode(value, { stream: true });
      }
      const second = await postJson(`${s.url}/v1/chat/completions`, { model: dying.modelName, messages, max_tokens: 2 });
      assert.equal(second.status, 503);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
      const events = text.split('\n\n').filter((e) => e !== '');
      assert.equal(events.at(-1), 'data: [DONE]');
      const err = JSON.parse(events.at(-2)!.slice(6)) as { error: { type: string; code: number; param: null; message: string } };
      assert.equal(err.error.code, 500);
      assert.equal(err.error.type, 'EngineDeadError');
      assert.equal((await fetch(`${s.url}/health`)).status, 503);
    } finally {
      dying.close();
      await s.close();
    }
  });
});
