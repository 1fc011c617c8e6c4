/**
 * The simulated worker's wire format (openai-format.ts): streaming chunks parse as JSON with
 * vLLM's exact shapes, non-streaming bodies carry every field vLLM dumps, request parsing applies
 * vLLM's defaults and refuses what vLLM (or the simulator) refuses with status, type and param.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMPLETIONS_DEFAULT_MAX_TOKENS,
  OpenAIError,
  SSE_DONE,
  StreamChunkFormatter,
  chatCompletionResponse,
  detailBody,
  errorBody,
  errorTypeForStatus,
  modelNotFoundError,
  modelsList,
  parseChatRequest,
  parseCompletionRequest,
  parseDetokenizeRequest,
  parseTokenizeRequest,
  priorityNotEnabledError,
  resolveMaxTokens,
  sseErrorEvent,
  textCompletionResponse,
  tokenizeResponse,
} from '../../reference-stack/worker-sim/openai-format.ts';

/** The JSON of one `data: {...}\n\n` event. */
function event(s: string): Record<string, unknown> {
  assert.ok(s.startsWith('data: '), s);
  assert.ok(s.endsWith('\n\n'), s);
  const body = s.slice(6, -2);
  assert.ok(!body.includes('\n'), 'one line per event');
  return JSON.parse(body) as Record<string, unknown>;
}

/** Runs fn, expects an OpenAIError, returns it. */
function refused(fn: () => unknown): OpenAIError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OpenAIError, String(err));
    return err;
  }
  assert.fail('expected an OpenAIError');
}

const chatCtx = { endpoint: 'chat' as const, id: 'chatcmpl-abc', created: 1700000000, model: 'org/Model "q"', continuousUsage: false };
const cmplCtx = { endpoint: 'completion' as const, id: 'cmpl-abc', created: 1700000000, model: 'm', continuousUsage: false };

describe('StreamChunkFormatter (chat)', () => {
  it('role chunk, token chunks and the finishing chunk have vLLM shapes', () => {
    const f = new StreamChunkFormatter(chatCtx);
    assert.deepEqual(event(f.roleChunk(12)), {
      id: 'chatcmpl-abc',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'org/Model "q"',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    assert.deepEqual(event(f.tokenChunk(' hello "x"\n', undefined, 12, 1)), {
      id: 'chatcmpl-abc',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'org/Model "q"',
      choices: [{ index: 0, delta: { content: ' hello "x"\n' }, logprobs: null, finish_reason: null }],
    });
    const last = event(f.tokenChunk(' end', 'length', 12, 2));
    assert.deepEqual(last['choices'], [{ index: 0, delta: { content: ' end' }, logprobs: null, finish_reason: 'length', stop_reason: null }]);
    assert.equal('usage' in last, false, 'no usage key without continuous usage (exclude_unset)');
  });

  it('continuous usage: every chunk carries cumulative usage in pydantic key order', () => {
    const f = new StreamChunkFormatter({ ...chatCtx, continuousUsage: true });
    const role = f.roleChunk(7);
    assert.deepEqual(event(role)['usage'], { prompt_tokens: 7, total_tokens: 7, completion_tokens: 0 });
    assert.ok(role.includes('"usage":{"prompt_tokens":7,"total_tokens":7,"completion_tokens":0}'));
    assert.deepEqual(event(f.tokenChunk(' a', undefined, 7, 1))['usage'], { prompt_tokens: 7, total_tokens: 8, completion_tokens: 1 });
    assert.deepEqual(event(f.tokenChunk(' b', 'stop', 7, 2))['usage'], { prompt_tokens: 7, total_tokens: 9, completion_tokens: 2 });
  });

  it('the include_usage chunk has empty choices and no prompt_tokens_details', () => {
    const f = new StreamChunkFormatter(chatCtx);
    assert.deepEqual(event(f.usageChunk(7, 3)), {
      id: 'chatcmpl-abc',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'org/Model "q"',
      choices: [],
      usage: { prompt_tokens: 7, total_tokens: 10, completion_tokens: 3 },
    });
  });

  it('a custom role goes into the role chunk', () => {
    const f = new StreamChunkFormatter(chatCtx);
    assert.deepEqual((event(f.roleChunk(1, 'user'))['choices'] as Array<{ delta: unknown }>)[0]!.delta, { role: 'user', content: '' });
  });
});

describe('StreamChunkFormatter (completions)', () => {
  it('text chunks carry stop_reason and usage null on every chunk; no role chunk', () => {
    const f = new StreamChunkFormatter(cmplCtx);
    assert.equal(f.roleChunk(5), '');
    assert.deepEqual(event(f.tokenChunk(' a', undefined, 5, 1)), {
      id: 'cmpl-abc',
      object: 'text_completion',
      created: 1700000000,
      model: 'm',
      choices: [{ index: 0, text: ' a', logprobs: null, finish_reason: null, stop_reason: null }],
      usage: null,
    });
    assert.deepEqual((event(f.tokenChunk(' b', 'stop', 5, 2))['choices'] as unknown[])[0], {
      index: 0,
      text: ' b',
      logprobs: null,
      finish_reason: 'stop',
      stop_reason: null,
    });
  });

  it('continuous usage includes prompt_tokens_details null; the final usage chunk does not', () => {
    const f = new StreamChunkFormatter({ ...cmplCtx, continuousUsage: true });
    assert.deepEqual(event(f.tokenChunk(' a', undefined, 5, 1))['usage'], { prompt_tokens: 5, total_tokens: 6, completion_tokens: 1, prompt_tokens_details: null });
    assert.deepEqual(event(f.usageChunk(5, 4)), {
      id: 'cmpl-abc',
      object: 'text_completion',
      created: 1700000000,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 5, total_tokens: 9, completion_tokens: 4 },
    });
  });

  it('SSE_DONE is the vLLM terminator', () => {
    assert.equal(SSE_DONE, 'data: [DONE]\n\n');
  });
});

describe('non-streaming bodies', () => {
  const out = { id: 'chatcmpl-1', created: 5, model: 'm', text: ' a b', finishReason: 'length' as const, promptTokens: 3, completionTokens: 2 };

  it('chat.completion', () => {
    assert.deepEqual(chatCompletionResponse(out), {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 5,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: ' a b', refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
          logprobs: null,
          finish_reason: 'length',
          stop_reason: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2, prompt_tokens_details: null },
      prompt_logprobs: null,
      kv_transfer_params: null,
    });
  });

  it('text_completion', () => {
    assert.deepEqual(textCompletionResponse({ ...out, id: 'cmpl-1', finishReason: 'stop' }), {
      id: 'cmpl-1',
      object: 'text_completion',
      created: 5,
      model: 'm',
      choices: [{ index: 0, text: ' a b', logprobs: null, finish_reason: 'stop', stop_reason: null, prompt_logprobs: null }],
      service_tier: null,
      system_fingerprint: null,
      usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2, prompt_tokens_details: null },
      kv_transfer_params: null,
    });
  });

  it('models list: one card per served name, root the model', () => {
    const body = modelsList(['m', 'alias'], 'm', 4096, 9, (i) => `modelperm-${i}`) as { object: string; data: Array<Record<string, unknown>> };
    assert.equal(body.object, 'list');
    assert.deepEqual(
      body.data.map((d) => [d['id'], d['object'], d['owned_by'], d['root'], d['parent'], d['max_model_len'], d['created']]),
      [
        ['m', 'model', 'vllm', 'm', null, 4096, 9],
        ['alias', 'model', 'vllm', 'm', null, 4096, 9],
      ],
    );
    const perm = (body.data[1]!['permission'] as Array<Record<string, unknown>>)[0]!;
    assert.equal(perm['id'], 'modelperm-1');
    assert.equal(perm['object'], 'model_permission');
    assert.equal(perm['allow_sampling'], true);
    assert.equal(perm['organization'], '*');
  });

  it('tokenize response', () => {
    assert.deepEqual(tokenizeResponse([1, 2, 3], 100, null), { count: 3, max_model_len: 100, tokens: [1, 2, 3], token_strs: null });
  });
});

describe('errors', () => {
  it('error bodies and events have the {"error": {message, type, param, code}} shape', () => {
    const e = new OpenAIError(400, 'nope', { param: 'n' });
    assert.deepEqual(JSON.parse(errorBody(e.info())), { error: { message: 'nope', type: 'BadRequestError', param: 'n', code: 400 } });
    assert.deepEqual(event(sseErrorEvent({ message: 'x', type: 'InternalServerError', param: null, code: 500 })), {
      error: { message: 'x', type: 'InternalServerError', param: null, code: 500 },
    });
  });

  it('types follow the status', () => {
    assert.equal(errorTypeForStatus(404), 'NotFoundError');
    assert.equal(errorTypeForStatus(503), 'ServiceUnavailableError');
    assert.equal(errorTypeForStatus(599), 'InternalServerError');
    assert.equal(errorTypeForStatus(418), 'BadRequestError');
  });

  it('vLLM messages for model, priority, and FastAPI bodies for routes', () => {
    const nf = modelNotFoundError('x');
    assert.equal(nf.status, 404);
    assert.equal(nf.type, 'NotFoundError');
    assert.equal(nf.message, 'The model `x` does not exist.');
    assert.equal(priorityNotEnabledError(3).message, 'Got priority 3 but Priority scheduling is not enabled.');
    assert.deepEqual(JSON.parse(detailBody(404)), { detail: 'Not Found' });
    assert.deepEqual(JSON.parse(detailBody(405)), { detail: 'Method Not Allowed' });
  });
});

describe('request parsing', () => {
  it('chat defaults', () => {
    const r = parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0.7, some_unknown_field: 1 });
    assert.deepEqual(r, {
      endpoint: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
      addGenerationPrompt: true,
      model: 'm',
      stream: false,
      includeUsage: false,
      continuousUsage: false,
      maxTokens: null,
      minTokens: 0,
      ignoreEos: false,
      priority: 0,
      seed: undefined,
    });
  });

  it('chat: max_completion_tokens wins, content parts join with newlines, null content is empty', () => {
    const r = parseChatRequest({
      messages: [
        { role: 'system', content: null },
        { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      ],
      max_tokens: 10,
      max_completion_tokens: 20,
      min_tokens: 2,
      ignore_eos: true,
      priority: -1,
      seed: 42,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    assert.deepEqual(r.messages, [
      { role: 'system', content: '' },
      { role: 'user', content: 'a\nb' },
    ]);
    assert.equal(r.model, undefined);
    assert.equal(r.maxTokens, 20);
    assert.equal(r.minTokens, 2);
    assert.equal(r.ignoreEos, true);
    assert.equal(r.priority, -1);
    assert.equal(r.seed, 42);
    assert.equal(r.includeUsage, true);
    assert.equal(r.continuousUsage, true);
  });

  it('continuous_usage_stats needs include_usage (as vLLM)', () => {
    const r = parseChatRequest({ messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { continuous_usage_stats: true } });
    assert.equal(r.includeUsage, false);
    assert.equal(r.continuousUsage, false);
  });

  it('chat refusals carry status 400 and the param', () => {
    const cases: Array<[unknown, string, string | null]> = [
      [[1], 'must be a JSON object', null],
      [{}, 'messages: Field required', 'messages'],
      [{ messages: [] }, 'at least 1 item', 'messages'],
      [{ messages: [{ content: 'x' }] }, 'role', 'messages'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'text-only', 'messages'],
      [{ messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n must be 1', 'n'],
      [{ messages: [{ role: 'user', content: 'x' }], max_tokens: 'ten' }, 'valid integer', 'max_tokens'],
      [{ messages: [{ role: 'user', content: 'x' }], min_tokens: -1 }, 'min_tokens must be greater than or equal to 0, got -1.', 'min_tokens'],
      [{ messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } }, 'Stream options can only be defined when `stream=True`.', 'stream_options'],
      [{ messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'valid boolean', 'stream'],
      [{ messages: [{ role: 'user', content: 'x' }], model: 3 }, 'valid string', 'model'],
    ];
    for (const [body, text, param] of cases) {
      const e = refused(() => parseChatRequest(body));
      assert.equal(e.status, 400);
      assert.equal(e.type, 'BadRequestError');
      assert.ok(e.message.includes(text), `${e.message} should include ${text}`);
      assert.equal(e.param, param);
    }
  });

  it('completions: max_tokens absent = 16, null = fill the context; prompt forms', () => {
    assert.equal(parseCompletionRequest({ prompt: 'x' }).maxTokens, COMPLETIONS_DEFAULT_MAX_TOKENS);
    assert.equal(parseCompletionRequest({ prompt: 'x', max_tokens: null }).maxTokens, null);
    assert.equal(parseCompletionRequest({ prompt: 'x', max_tokens: 5 }).maxTokens, 5);
    assert.equal(parseCompletionRequest({ prompt: ['one'] }).prompt, 'one');
    assert.deepEqual(parseCompletionRequest({ prompt: [1, 2, 3] }).prompt, [1, 2, 3]);
    assert.deepEqual(parseCompletionRequest({ prompt: [[4, 5]] }).prompt, [4, 5]);
  });

  it('completions refuse batches and malformed prompts', () => {
    assert.ok(refused(() => parseCompletionRequest({ prompt: ['a', 'b'] })).message.includes('Batched prompts are not supported'));
    assert.ok(refused(() => parseCompletionRequest({ prompt: [[1], [2]] })).message.includes('got 2 prompts'));
    assert.equal(refused(() => parseCompletionRequest({})).param, 'prompt');
    assert.equal(refused(() => parseCompletionRequest({ prompt: [1.5] })).param, 'prompt');
    assert.equal(refused(() => parseCompletionRequest({ prompt: {} })).status, 400);
  });

  it('tokenize and detokenize bodies', () => {
    assert.deepEqual(parseTokenizeRequest({ prompt: 'a b' }), { kind: 'prompt', model: undefined, prompt: 'a b', returnTokenStrs: false });
    assert.deepEqual(parseTokenizeRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], add_generation_prompt: false }), {
      kind: 'chat',
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      addGenerationPrompt: false,
      returnTokenStrs: false,
    });
    assert.equal(refused(() => parseTokenizeRequest({})).status, 400);
    assert.deepEqual(parseDetokenizeRequest({ tokens: [1, 2] }), { model: undefined, tokens: [1, 2] });
    assert.equal(refused(() => parseDetokenizeRequest({ tokens: ['a'] })).param, 'tokens');
  });
});

describe('resolveMaxTokens', () => {
  it('fills the context when none was asked', () => {
    assert.equal(resolveMaxTokens(100, null, 0, 1000), 900);
    assert.equal(resolveMaxTokens(100, 50, 0, 1000), 50);
    assert.equal(resolveMaxTokens(100, 900, 0, 1000), 900);
  });

  it("vLLM's context-length messages", () => {
    assert.equal(
      refused(() => resolveMaxTokens(100, 901, 0, 1000)).message,
      "This model's maximum context length is 1000 tokens. However, you requested 1001 tokens (100 in the messages, 901 in the completion). Please reduce the length of the messages or completion.",
    );
    assert.equal(
      refused(() => resolveMaxTokens(1000, null, 0, 1000)).message,
      "This model's maximum context length is 1000 tokens. However, you requested 1000 tokens in the messages, Please reduce the length of the messages.",
    );
  });

  it('max_tokens and min_tokens bounds', () => {
    assert.equal(refused(() => resolveMaxTokens(10, 0, 0, 1000)).message, 'max_tokens must be at least 1, got 0.');
    assert.equal(refused(() => resolveMaxTokens(10, 5, 6, 1000)).message, 'min_tokens must be less than or equal to max_tokens=5, got 6.');
    assert.equal(resolveMaxTokens(10, 5, 5, 1000), 5);
  });
});
