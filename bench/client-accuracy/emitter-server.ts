/**
 * Benchmark emitter: a separate process that streams OpenAI-style SSE chunks on a precise
 * schedule (absolute deadlines from the request's arrival) and records the true time of every
 * write with process.hrtime.bigint(), which on Linux reads CLOCK_MONOTONIC, the same clock as
 * the harness process, so emission and receipt times compare directly.
 *
 *   node --import tsx bench/client-accuracy/emitter-server.ts CHUNKS GAP_MS
 * prints `listening <port>` on stdout. GET /truth returns {cpuMs, streams: {id: [ns, ...]}}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const chunks = Number(process.argv[2] ?? 100);
const gapMs = Number(process.argv[3] ?? 50);
const truth = new Map<string, string[]>();
let seq = 0;
const cpu0 = process.cpuUsage();

function chunk(id: string, i: number): string {
  return `data: ${JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created: 0,
    model: 'bench',
    choices: [{ index: 0, delta: { content: ' tok' }, logprobs: null, finish_reason: null }],
    usage: { prompt_tokens: 50, completion_tokens: i + 1, total_tokens: 51 + i },
  })}\n\n`;
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 10_000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/truth') {
    const u = process.cpuUsage(cpu0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, streams: Object.fromEntries(truth) }));
    truth.clear();
    return;
  }
  if (req.method === 'GET' && req.url?.endsWith('/models')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'bench', object: 'model' }] }));
    return;
  }
  if (req.url === '/tokenize') {
    res.writeHead(404).end();
    return;
  }
  req.resume();
  req.on('end', () => {
    const id = `b${++seq}`;
    const t0 = process.hrtime.bigint();
    const times: string[] = [];
    truth.set(id, times);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': id });
    res.write(`data: ${JSON.stringify({ id, choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`);
    let i = 0;
    const step = () => {
      if (res.destroyed) return;
      // Build the bytes first: the recorded time must be that of the write itself, with no
      // allocation (and so no GC pause) between the two.
      const bytes = chunk(id, i);
      const ns = process.hrtime.bigint();
      res.write(bytes);
      times.push(ns.toString());
      i++;
      if (i === chunks) {
        res.end(`data: ${JSON.stringify({ id, choices: [], usage: { prompt_tokens: 50, completion_tokens: chunks, total_tokens: 50 + chunks } })}\n\ndata: [DONE]\n\n`);
        return;
      }
      // Absolute deadline for chunk i: t0 + (i + 1) * gap, so lateness never accumulates.
      const due = t0 + BigInt(Math.round((i + 1) * gapMs * 1e6));
      const wait = Number(due - process.hrtime.bigint()) / 1e6;
      setTimeout(step, Math.max(0, wait));
    };
    setTimeout(step, gapMs);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
