/**
 * SseDecoder: the same byte stream, however it is split into chunks, yields the same events.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SseDecoder } from '../../harness/client/sse-decoder.ts';

interface Ev {
  data: string;
  event: string | undefined;
  id: string | undefined;
}

function decode(chunks: Buffer[], flush = false): Ev[] {
  const out: Ev[] = [];
  const d = new SseDecoder((data, event, id) => out.push({ data, event, id }));
  for (const c of chunks) d.push(c);
  d.end(flush);
  return out;
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return parts;
}

/** Asserts that whole, byte by byte, and every 2-way and 3-way split give `expected`. */
function assertAllSplits(text: string, expected: Ev[]): void {
  const buf = Buffer.from(text, 'utf8');
  assert.deepEqual(decode([buf]), expected, 'whole');
  assert.deepEqual(decode(splitEvery(buf, 1)), expected, 'byte by byte');
  assert.deepEqual(decode(splitEvery(buf, 7)), expected, '7-byte chunks');
  for (let i = 0; i <= buf.length; i++) {
    assert.deepEqual(decode([buf.subarray(0, i), buf.subarray(i)]), expected, `split at ${i}`);
  }
  for (let i = 1; i < buf.length; i += 3) {
    for (let j = i; j < buf.length; j += 5) {
      const parts = [buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)];
      assert.deepEqual(decode(parts), expected, `split at ${i},${j}`);
    }
  }
}

const ev = (data: string, event?: string, id?: string): Ev => ({ data, event, id });

describe('SseDecoder', () => {
  it('decodes an OpenAI stream identically however it is split (LF, multi-byte UTF-8)', () => {
    const stream =
      'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' +
      'data: {"choices":[{"index":0,"delta":{"content":"héllo € 😀"}}]}\n\n' +
      ': keep-alive comment\n\n' +
      'data: {"choices":[],"usage":{"completion_tokens":2}}\n\n' +
      'data: [DONE]\n\n';
    assertAllSplits(stream, [
      ev('{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'),
      ev('{"choices":[{"index":0,"delta":{"content":"héllo € 😀"}}]}'),
      ev('{"choices":[],"usage":{"completion_tokens":2}}'),
      ev('[DONE]'),
    ]);
  });

  it('handles CRLF line endings, including a CRLF split between chunks', () => {
    const stream = 'event: delta\r\ndata: ä1\r\n\r\ndata: 2\r\ndata: 3\r\n\r\n';
    assertAllSplits(stream, [ev('ä1', 'delta'), ev('2\n3')]);
    // The split right between CR and LF must not produce an extra blank line (= extra dispatch).
    const buf = Buffer.from('data: a\r\ndata: b\r\n\r\n');
    const cr = buf.indexOf('\r');
    assert.deepEqual(decode([buf.subarray(0, cr + 1), buf.subarray(cr + 1)]), [ev('a\nb')]);
  });

  it('handles bare CR line endings', () => {
    assertAllSplits('data: x\rdata: y\r\revent: end\rdata: z\r\r', [ev('x\ny'), ev('z', 'end')]);
  });

  it('handles mixed line endings in one stream', () => {
    assertAllSplits('data: a\n\rdata: b\r\n\ndata: c\r\r\n', [ev('a'), ev('b'), ev('c')]);
  });

  it('joins multi-line data with \\n and keeps event names and ids', () => {
    const stream = 'id: 7\nevent: error\ndata: line one\ndata:line two\ndata\n\ndata: next\n\n';
    assertAllSplits(stream, [ev('line one\nline two\n', 'error', '7'), ev('next', undefined, '7')]);
  });

  it('ignores comments, unknown fields and retry; blank-only or data-less events are not dispatched', () => {
    const stream = ':comment\n: another\nretry: 1000\nfoo: bar\n\nevent: lonely\n\n\n\ndata: ok\n\n';
    assertAllSplits(stream, [ev('ok')]);
  });

  it('strips one leading space only, and an empty data field gives an empty event', () => {
    assertAllSplits('data:  two spaces\n\ndata:\n\ndata: \n\n', [ev(' two spaces'), ev(''), ev('')]);
  });

  it('drops a UTF-8 BOM at the start of the stream', () => {
    assertAllSplits('\uFEFFdata: x\n\n', [ev('x')]);
  });

  it('discards an unterminated event at the end unless asked to flush it', () => {
    const buf = Buffer.from('data: 1\n\ndata: [DONE]\n');
    assert.deepEqual(decode([buf]), [ev('1')]);
    assert.deepEqual(decode([buf], true), [ev('1'), ev('[DONE]')]);
    // An unterminated last LINE is never dispatched: it may be a truncated write.
    assert.deepEqual(decode([Buffer.from('data: 1\n\ndata: {"trunc')], true), [ev('1')]);
  });

  it('dispatches events synchronously inside push()', () => {
    const seen: string[] = [];
    const d = new SseDecoder((data) => seen.push(data));
    d.push(Buffer.from('data: a\n'));
    assert.deepEqual(seen, []);
    d.push(Buffer.from('\ndata: b\n\n'));
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('accepts Uint8Array views at an offset', () => {
    const backing = Buffer.from('XXdata: v\n\nYY');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, backing.length - 4);
    assert.deepEqual(decode([Buffer.from(view)]), [ev('v')]);
    const out: string[] = [];
    const d = new SseDecoder((data) => out.push(data));
    d.push(view);
    assert.deepEqual(out, ['v']);
  });
});
