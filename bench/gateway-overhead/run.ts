/**
 * bench/gateway-overhead: latency the reference gateway adds in front of a worker, compared with
 * calling the worker directly and with nginx (the Debian package) as a plain reverse proxy, all in
 * the same run against the same simulated worker:
 *
 *  1. non-streaming, fixed rates (autocannon overallRate; default 200 and 1000 req/s): p50/p99
 *     per path and the added p50/p99 (path minus direct), and gateway-added / nginx-added;
 *  2. streaming TTFT through each path with the harness (runScenario, constant arrival);
 *  3. stream relay capacity: SSE chunks/s relayed per core of the proxy's own CPU.
 *
 * Backend: one simulated worker (H100, Llama-3.1-8B) in its own process; non-streaming requests
 * ask for max_tokens 1 with ignore_eos, so its own latency is about one engine step (time scale
 * 20 by default). The gateway runs in its own process too; nginx runs with one worker process.
 * Goal: added p99 <= 2 ms at 1,000 req/s, and no more than 1.5x nginx's added latency.
 *
 *   npm run bench -- gateway-overhead [--rates 200,1000] [--seconds 10] [--time-scale 20]
 *                                     [--stream-seconds 6] [--no-stream]
 *
 * Needs nginx on PATH (or /usr/sbin/nginx) and the autocannon devDependency; without nginx the
 * nginx column is skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { MODEL } from './servers.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const API_KEY = 'fg-bench-overhead';
const KEY_HASH = `sha256:${createHash('sha256').update(API_KEY).digest('hex')}`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Path {
  name: 'direct' | 'nginx' | 'node-relay' | 'gateway';
  /** Base URL including /v1. */
  base: string;
  /** Pid whose CPU is the proxy's (nginx: the master; its worker is a child). */
  pid?: number;
}

async function spawnRole(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'servers.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    rl.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited (${code}) before listening`)));
  });
  return { child, url };
}

function findNginx(): string | undefined {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startNginx(bin: string, workerBase: string): Promise<{ child: ChildProcess; base: string; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-bench-nginx-'));
  const port = await freePort();
  const upstream = new URL(workerBase);
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream worker { server ${upstream.host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://worker;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn(bin, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}/v1`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}); see ${dir}/error.log`);
    try {
      await fetch(`${base}/models`);
      return { child, base, dir };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('nginx did not start listening');
}

/** CPU seconds (user + system) of a pid and its direct children (nginx's worker), from /proc. */
function cpuSeconds(pid: number): number {
  const tick = 100;
  const one = (p: number): number => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return 0;
    }
  };
  let kids: number[] = [];
  try {
    kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // not Linux
  }
  return one(pid) + kids.reduce((s, k) => s + one(k), 0);
}

const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 1, ignore_eos: true });

interface FixedRate {
  path: string;
  rate: number;
  p50: number;
  p99: number;
  mean: number;
  sent: number;
  bad: number;
  /** CPU time of the path's own process per request sent, µs (direct: the worker's). */
  cpuUsPerReq: number | null;
}

async function fixedRate(p: Path, rate: number, seconds: number): Promise<FixedRate> {
  const cpu0 = p.pid === undefined ? undefined : cpuSeconds(p.pid);
  const r = await autocannon({
    url: `${p.base}/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: BODY,
    connections: Math.max(8, Math.ceil(rate / 25)),
    overallRate: rate,
    duration: seconds,
    timeout: 10,
  });
  const cpu = cpu0 === undefined ? null : cpuSeconds(p.pid!) - cpu0;
  const sent = r.requests.total;
  return { path: p.name, rate, p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.average, sent, bad: r.errors + r.timeouts + r.non2xx, cpuUsPerReq: cpu === null || sent === 0 ? null : (cpu * 1e6) / sent };
}

async function ttft(p: Path, rate: number, seconds: number, outRoot: string): Promise<{ p50: number | null; p99: number | null; ok: number; failed: number }> {
  const yaml = `
name: overhead-ttft-${p.name}
seed: 1
target:
  url: ${p.base}
  model: ${MODEL}
  api_key: ${API_KEY}
  stream: true
workload:
  prompt_tokens: 64
  output_tokens: 16
load:
  arrival: constant
  warmup: 1s
  stages:
    - {duration: ${seconds}s, rate: ${rate}}
`;
  const scenario = parseScenario(yaml, `overhead-ttft-${p.name}.yaml`, { env: {} });
  const out = await runScenario(scenario, { threads: 0, allowSaturated: true, outDir: path.join(outRoot, p.name) });
  const t = out.summary.latency_ms.ttft;
  return { p50: t.p50, p99: t.p99, ok: out.summary.requests.ok, failed: out.summary.requests.failed };
}

/** Holds `streams` long streams open for `seconds` and counts the SSE events received. */
async function relay(p: Path, streams: number, seconds: number): Promise<{ chunksPerS: number; cpuCores: number; perCore: number }> {
  const url = new URL(`${p.base}/chat/completions`);
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 100000, ignore_eos: true, stream: true });
  const agent = new http.Agent({ keepAlive: true, maxSockets: streams });
  let counting = false;
  let chunks = 0;
  const reqs: http.ClientRequest[] = [];
  for (let i = 0; i < streams; i++) {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        if (!counting) return;
        let i = s.indexOf('data:');
        while (i >= 0) {
          chunks++;
          i = s.indexOf('data:', i + 5);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    req.end(body);
    reqs.push(req);
  }
  await new Promise((r) => setTimeout(r, 1000)); // let every stream reach decode
  counting = true;
  const c0 = p.pid !== undefined ? cpuSeconds(p.pid) : NaN;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const wall = (performance.now() - t0) / 1000;
  const cpu = p.pid !== undefined ? cpuSeconds(p.pid) - c0 : NaN;
  for (const r of reqs) r.destroy();
  agent.destroy();
  await new Promise((r) => setTimeout(r, 500)); // let the worker notice the aborts
  const chunksPerS = chunks / wall;
  const cpuCores = cpu / wall;
  return { chunksPerS, cpuCores, perCore: chunksPerS / cpuCores };
}

const f = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

export async function main(): Promise<void> {
  const rates = (arg('rates') ?? '200,1000').split(',').map(Number);
  const seconds = Number(arg('seconds') ?? 10);
  const timeScale = Number(arg('time-scale') ?? 20);
  const streamSeconds = Number(arg('stream-seconds') ?? 6);
  const doStream = !process.argv.includes('--no-stream');
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} vCPU ${cpus[0]?.model ?? '?'}, ${os.platform()} ${os.release()}, node ${process.version}`);

  const children: ChildProcess[] = [];
  let nginxDir: string | undefined;
  const outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-bench-overhead-'));
  try {
    const worker = await spawnRole(['worker', String(timeScale)]);
    children.push(worker.child);
    const gw = await spawnRole(['gateway', worker.url, KEY_HASH]);
    children.push(gw.child);
    const paths: Path[] = [{ name: 'direct', base: worker.url, pid: worker.child.pid! }];
    const bin = findNginx();
    if (bin !== undefined) {
      const ng = await startNginx(bin, worker.url);
      children.push(ng.child);
      nginxDir = ng.dir;
      paths.push({ name: 'nginx', base: ng.base, pid: ng.child.pid! });
      const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
      console.log(`nginx: ${(v.stderr || v.stdout).trim()} (1 worker process, keepalive upstream)`);
    } else {
      console.log('nginx: not found, its column is skipped (apt-get install -y nginx)');
    }
    const relayRole = await spawnRole(['relay', worker.url]);
    children.push(relayRole.child);
    paths.push({ name: 'node-relay', base: relayRole.url, pid: relayRole.child.pid! });
    paths.push({ name: 'gateway', base: `${gw.url}/v1`, pid: gw.child.pid! });
    console.log(`worker: sim h100-sxm llama-3.1-8b, time scale ${timeScale}; non-streaming max_tokens 1 + ignore_eos`);

    // Warm every path (connections, JIT) at a low rate.
    for (const p of paths) {
      const w = await fixedRate(p, 200, 1);
      if (w.bad > 0 || w.sent === 0) console.log(`warning: warmup through ${p.name}: ${w.bad} bad of ${w.sent}`);
    }

    const results: FixedRate[] = [];
    for (const rate of rates) {
      for (const p of paths) {
        const r = await fixedRate(p, rate, seconds);
        results.push(r);
        console.log(`  ${p.name} @ ${rate} req/s: mean ${f(r.mean)} ms, p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms, ${r.sent} sent, ${r.bad} bad, CPU ${f(r.cpuUsPerReq, 0)} µs/request`);
      }
    }

    console.log('\n### Non-streaming (autocannon, fixed rate, ms)\n');
    console.log('autocannon records latency in whole milliseconds: p50/p99 are quantised to 1 ms; the mean is not.\n');
    console.log('CPU/request: CPU time of that path\'s own process (nginx: master + worker) per request, µs, at /proc tick resolution (10 ms over the run).\n');
    console.log('| rate (req/s) | path | sent | bad | mean | p50 | p99 | added mean | added p50 | added p99 | added p99 / nginx added p99 | CPU/request (µs) |');
    console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const rate of rates) {
      const d = results.find((r) => r.rate === rate && r.path === 'direct')!;
      const n = results.find((r) => r.rate === rate && r.path === 'nginx');
      for (const r of results.filter((x) => x.rate === rate)) {
        const a50 = r.path === 'direct' ? null : r.p50 - d.p50;
        const a99 = r.path === 'direct' ? null : r.p99 - d.p99;
        // The ratio is only meaningful when nginx adds something measurable (> 0 at 1 ms resolution).
        const ratio = r.path === 'gateway' && n !== undefined && n.p99 - d.p99 > 0 ? a99! / (n.p99 - d.p99) : null;
        const am = r.path === 'direct' ? null : r.mean - d.mean;
        console.log(`| ${rate} | ${r.path} | ${r.sent} | ${r.bad} | ${f(r.mean)} | ${f(r.p50)} | ${f(r.p99)} | ${f(am)} | ${f(a50)} | ${f(a99)} | ${r.path !== 'gateway' ? '' : f(ratio)} | ${f(r.cpuUsPerReq, 0)} |`);
      }
    }
    const g1000 = results.find((r) => r.rate === 1000 && r.path === 'gateway');
    const d1000 = results.find((r) => r.rate === 1000 && r.path === 'direct');
    const n1000 = results.find((r) => r.rate === 1000 && r.path === 'nginx');
    if (g1000 && d1000) {
      const added = g1000.p99 - d1000.p99;
      console.log(`\ngoal added p99 <= 2 ms at 1000 req/s: ${f(added)} ms -> ${added <= 2 ? 'met' : 'NOT met'}`);
      if (n1000) {
        const na = n1000.p99 - d1000.p99;
        console.log(`goal <= 1.5x nginx added p99: gateway ${f(added)} ms vs nginx ${f(na)} ms -> ${added <= 1.5 * Math.max(na, 0) ? 'met' : 'NOT met'} (ratio ${f(added / na)})`);
      }
    }

    if (doStream) {
      console.log('\n### Streaming TTFT (harness, constant 20 req/s, 64 prompt / 16 output tokens, ms)\n');
      console.log('| path | ok | failed | TTFT p50 | TTFT p99 | added p50 | added p99 |');
      console.log('|---|---:|---:|---:|---:|---:|---:|');
      let base: { p50: number | null; p99: number | null } | undefined;
      for (const p of paths) {
        const t = await ttft(p, 20, streamSeconds, outRoot);
        if (p.name === 'direct') base = t;
        const add = (x: number | null, y: number | null | undefined): number | null => (p.name === 'direct' || x === null || y === null || y === undefined ? null : x - y);
        console.log(`| ${p.name} | ${t.ok} | ${t.failed} | ${f(t.p50)} | ${f(t.p99)} | ${f(add(t.p50, base?.p50))} | ${f(add(t.p99, base?.p99))} |`);
      }

      console.log('\n### Stream relay capacity (64 long streams, 4 s; chunks = SSE events received)\n');
      console.log('| path | chunks/s | CPU of that process (cores) | chunks/s per core |');
      console.log('|---|---:|---:|---:|');
      for (const p of paths) {
        const r = await relay(p, 64, 4);
        const who = p.name === 'direct' ? ' (the worker itself)' : '';
        console.log(`| ${p.name}${who} | ${f(r.chunksPerS, 0)} | ${f(r.cpuCores)} | ${f(r.perCore, 0)} |`);
      }
    }
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.kill('SIGTERM');
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            c.kill('SIGKILL');
            r();
          }, 3000);
          c.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    fs.rmSync(outRoot, { recursive: true, force: true });
    if (nginxDir) fs.rmSync(nginxDir, { recursive: true, force: true });
  }
}
