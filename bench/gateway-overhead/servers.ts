/**
 * Child-process roles of bench/gateway-overhead, so that the worker, the gateway and the load
 * generator each have their own event loop (as nginx has its own process):
 *
 *   node --import tsx bench/gateway-overhead/servers.ts worker <timeScale>
 *   node --import tsx bench/gateway-overhead/servers.ts gateway <workerUrl> <keyHash>
 *   node --import tsx bench/gateway-overhead/servers.ts relay <workerUrl>
 *
 * `relay` is the floor for any Node.js gateway: node:http in, undici out, the body piped through
 * both ways, no auth, queue, routing, metrics or ledger.
 *
 * Each prints one JSON line `{"url": ...}` on stdout once listening, and exits on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { startSimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { startGateway } from '../../reference-stack/gateway/gateway-server.ts';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';

export const MODEL = 'llama-3.1-8b';

/** One model, one (already running) worker, one tenant; least_outstanding; generous queue, no limits. */
export function benchStackYaml(workerUrl: string, keyHash: string): string {
  return `
name: gateway-overhead
models:
  - name: ${MODEL}
    workers: [w1]
workers:
  - name: w1
    url: ${workerUrl}
    max_in_flight: 4096
gateway:
  routing: least_outstanding
  queue: {max_depth: 100000, timeout: 60s}
tenants:
  - name: bench
    api_key_hashes: ['${keyHash}']
    allowed_models: '*'
`;
}

async function main(): Promise<void> {
  const [role, a, b] = process.argv.slice(2);
  let close: () => Promise<void>;
  let url: string;
  if (role === 'worker') {
    const w = await startSimWorker({ gpu: 'h100-sxm', model: MODEL, timeScale: Number(a ?? 20), port: 0, servedModelName: MODEL });
    url = w.url;
    close = () => w.close();
  } else if (role === 'gateway') {
    if (a === undefined || b === undefined) throw new Error('usage: servers.ts gateway <workerUrl> <keyHash>');
    const stack = parseStack(benchStackYaml(a, b), 'gateway-overhead.yaml');
    const g = await startGateway({ stack, workerUrls: { w1: a }, port: 0, host: '127.0.0.1', usageDbPath: ':memory:' });
    url = `${g.url}`;
    close = () => g.close();
  } else if (role === 'relay') {
    if (a === undefined) throw new Error('usage: servers.ts relay <workerUrl>');
    const origin = new URL(a).origin;
    const agent = new Agent();
    const server = http.createServer((req, res) => {
      request(`${origin}${req.url ?? '/'}`, { method: (req.method ?? 'GET') as 'GET', dispatcher: agent, headers: { 'content-type': String(req.headers['content-type'] ?? 'application/json') }, body: req.method === 'GET' ? null : req })
        .then((up) => {
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
          up.body.pipe(res);
        })
        .catch(() => res.writeHead(502).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    close = () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
  } else {
    throw new Error(`unknown role ${role}`);
  }
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  const stop = (): void => {
    void close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  await main();
}
