/**
 * A server's error message that quotes the request (a prompt, say) is never kept: the record's
 * error message is withheld, while ordinary messages are kept as they are.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createDispatcher } from '../../harness/client/dispatcher.ts';
import { quotesRequest, sendRequest, WITHHELD } from '../../harness/client/send-request.ts';

const PROMPT = 'the quick brown fox jumps over the lazy dog while the canary sings in the mine';

describe('server error messages that quote the request', () => {
  let server: http.Server;
  let url = '';
  let dispatcher: Dispatcher;

  before(async () => {
    // Echoes the body back in its error message when asked to, like a server reporting a bad field.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const echo = req.url?.includes('echo');
        const message = echo ? `could not process ${body.slice(0, 180)}` : 'the model is overloaded, try again later please';
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'BadRequestError' } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dispatcher = createDispatcher({ connectTimeoutMs: 2_000 });
  });

  after(async () => {
    await dispatcher.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const send = (path: string) =>
    sendRequest({
      dispatcher,
      url: `${url}${path}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: PROMPT }] }),
      stream: true,
      endpoint: 'chat',
      epochNs: process.hrtime.bigint(),
      timeouts: { connectMs: 1_000, ttftMs: 2_000, totalMs: 3_000 },
    });

  it('withholds a message that repeats the request body', async () => {
    const o = await send('/v1/echo/chat/completions');
    assert.equal(o.ok, false);
    assert.equal(o.error?.code, 'http_400');
    assert.equal(o.error?.message, WITHHELD);
  });

  it('keeps a message that does not', async () => {
    const o = await send('/v1/chat/completions');
    assert.equal(o.error?.code, 'http_400');
    assert.equal(o.error?.message, 'the model is overloaded, try again later please');
  });

  it('finds quotes of 48 characters or more anywhere in the message; short or unrelated text is no quote', () => {
    const body = JSON.stringify({ messages: [{ content: PROMPT }] });
    for (let start = 0; start + 48 <= PROMPT.length; start += 7) assert.equal(quotesRequest(`error near "${PROMPT.slice(start, start + 48)}" here`, body), true, `quote at ${start}`);
    assert.equal(quotesRequest('brown fox', body), false);
    assert.equal(quotesRequest('This model\'s maximum context length is 8192 tokens, you asked for 9000', body), false);
  });
});
