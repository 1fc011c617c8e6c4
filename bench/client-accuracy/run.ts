/**
 * bench/client-accuracy: how exactly does the harness measure, and when does it stop keeping up?
 *
 * For each level of concurrent streams (default 100, 500, 1000, 2000) a fresh emitter process
 * streams 20 chunks/s per stream (100 chunks, 50 ms apart) and records when it wrote each
 * chunk. The harness drives it open loop at N / 5 s requests/s, so N streams are in flight once
 * the first 5 s (warmup, not counted) are over. Printed per level: the error of every
 * client-measured inter-chunk gap against the true emission gap (p50, p99 of |error|), the
 * schedule lag (p50, p99), achieved vs target rate, and CPU of the harness and the emitter.
 *
 *   npm run bench -- client-accuracy [--levels 100,500] [--threads N] [--seconds 20]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { LatencyHistogram } from '../../harness/metrics/latency-histogram.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { runFloor } from './floor-client.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHUNKS = 100;
const GAP_MS = 50;
const STREAM_S = (CHUNKS * GAP_MS) / 1000;
const NICE = Number(process.env.EMITTER_NICE ?? 0);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function startEmitter(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn('nice', ['-n', String(NICE), process.execPath, '--import', 'tsx', path.join(here, 'emitter-server.ts'), String(CHUNKS), String(GAP_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (c) => reject(new Error(`emitter exited ${c}`)));
  });
  // Never leave an emitter behind, whatever happens to this run.
  process.once('exit', () => proc.kill('SIGTERM'));
  return { url: `http://127.0.0.1:${port}`, proc };
}

export interface LevelResult {
  client: string;
  streams: number;
  threads: number;
  itlErrP50: number | null;
  itlErrP99: number | null;
  lagP50: number | null;
  lagP99: number | null;
  targetRps: number;
  achievedRps: number;
  harnessCpuPct: number;
  emitterCpuPct: number;
  ok: number;
  failed: number;
  saturated: boolean;
  comparedGaps: number;
}

export async function runLevel(streams: number, seconds: number, threads: number | undefined): Promise<LevelResult> {
  const { url, proc } = await startEmitter();
  const rate = streams / STREAM_S;
  const sc = parseScenario(
    `name: client-accuracy-${streams}
target: {url: "${url}/v1", model: bench, tokenizer: builtin, timeouts: {ttft: 30s, total: 60s}}
workload: {prompt_tokens: 50, output_tokens: ${CHUNKS}}
load: {arrival: constant, warmup: ${STREAM_S}s, drain: 30s, stages: [{duration: ${seconds}s, rate: ${rate}}]}
`,
    path.join(here, 'inline.yaml'),
  );
  const records: RequestRecord[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await runScenario(sc, {
    outDir: path.join(os.tmpdir(), `fg-bench-accuracy-${streams}-${process.pid}`),
    allowSaturated: true,
    ...(threads !== undefined ? { threads } : {}),
    onRecord: (r) => {
      if (r.phase === 'measure') records.push(r);
    },
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const truth = (await (await fetch(`${url}/truth`)).json()) as { cpuMs: number; streams: Record<string, string[]> };
  proc.kill('SIGTERM');

  // |measured gap - true gap| for every chunk after the first of every measured stream.
  const err = new LatencyHistogram();
  const dump: string[] = [];
  for (const r of records) {
    const t = r.requestId ? truth.streams[r.requestId] : undefined;
    if (!t || !r.ok) continue;
    for (let i = 1; i < t.length && i - 1 < r.chunkGapsMs.length; i++) {
      const trueGap = Number(BigInt(t[i]!) - BigInt(t[i - 1]!)) / 1e6;
      err.record(Math.abs(r.chunkGapsMs[i - 1]! - trueGap));
      if (process.env.ACCURACY_DUMP) dump.push(`${t[i]} ${(r.chunkGapsMs[i - 1]! - trueGap).toFixed(3)}`);
    }
  }
  if (process.env.ACCURACY_DUMP) (await import('node:fs')).writeFileSync(process.env.ACCURACY_DUMP, dump.join('\n'));
  const s = out.summary;
  const measuredS = seconds - STREAM_S;
  return {
    client: 'harness',
    streams,
    threads: s.client.threads,
    itlErrP50: err.percentile(50),
    itlErrP99: err.percentile(99),
    lagP50: s.client.send_lag_ms.p50,
    lagP99: s.client.send_lag_ms.p99,
    targetRps: rate,
    achievedRps: (s.requests.ok + s.requests.failed) / measuredS,
    harnessCpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    emitterCpuPct: (truth.cpuMs / wall) * 100,
    ok: s.requests.ok,
    failed: s.requests.failed,
    saturated: s.client.saturated,
    comparedGaps: err.count,
  };
}

/** The same level measured by the minimal client (floor-client.ts). */
export async function runFloorLevel(streams: number, seconds: number): Promise<LevelResult> {
  const { url, proc } = await startEmitter();
  const rate = streams / STREAM_S;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await runFloor(url, rate, seconds);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const truth = (await (await fetch(`${url}/truth`)).json()) as { cpuMs: number; streams: Record<string, string[]> };
  proc.kill('SIGTERM');
  const err = new LatencyHistogram();
  const lag = new LatencyHistogram();
  const warmupNs = BigInt(STREAM_S * 1e9);
  const first = res.streams.reduce((m, s) => (s.times[0] !== undefined && s.times[0] < m ? s.times[0] : m), BigInt(Number.MAX_SAFE_INTEGER) * 1000n);
  res.lagMs.slice(Math.floor(rate * STREAM_S)).forEach((v) => lag.record(v));
  for (const s of res.streams) {
    const t = truth.streams[s.id];
    // Reads after the role chunk's: the role chunk is written with the headers.
    const rt = s.times.slice(1);
    if (!t || s.times[0] === undefined || s.times[0] - first < warmupNs) continue;
    for (let i = 1; i < t.length && i < rt.length; i++) {
      const trueGap = Number(BigInt(t[i]!) - BigInt(t[i - 1]!)) / 1e6;
      err.record(Math.abs(Number(rt[i]! - rt[i - 1]!) / 1e6 - trueGap));
    }
  }
  return {
    client: 'floor',
    streams,
    threads: 1,
    itlErrP50: err.percentile(50),
    itlErrP99: err.percentile(99),
    lagP50: lag.percentile(50),
    lagP99: lag.percentile(99),
    targetRps: rate,
    achievedRps: res.streams.length / seconds,
    harnessCpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    emitterCpuPct: (truth.cpuMs / wall) * 100,
    ok: res.streams.length,
    failed: 0,
    saturated: false,
    comparedGaps: err.count,
  };
}

const f = (v: number | null, d = 2) => (v === null ? '-' : v.toFixed(d));

export async function main(): Promise<void> {
  const levels = (arg('levels') ?? '100,500,1000,2000').split(',').map(Number);
  const seconds = Number(arg('seconds') ?? 20);
  const threadsArg = arg('threads');
  const threads = threadsArg === undefined ? undefined : Number(threadsArg);
  console.log(`client-accuracy: ${CHUNKS} chunks per stream, ${GAP_MS} ms apart (20 chunks/s), ${seconds}s per level, first ${STREAM_S}s not counted`);
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  const withFloor = !process.argv.includes('--no-floor');
  const rows: LevelResult[] = [];
  const row = (r: LevelResult) =>
    `| ${r.streams} | ${r.client} | ${r.threads} | ${f(r.itlErrP50)} | ${f(r.itlErrP99)} | ${f(r.lagP50)} | ${f(r.lagP99)} | ${f(r.targetRps, 1)} / ${f(r.achievedRps, 1)} | ${f(r.harnessCpuPct, 0)}% | ${f(r.emitterCpuPct, 0)}% | ${r.ok}/${r.failed} | ${r.client === 'floor' ? '-' : r.saturated ? 'yes' : 'no'} |`;
  for (const n of levels) {
    const r = await runLevel(n, seconds, threads);
    rows.push(r);
    console.log(row(r));
    if (withFloor) {
      const fl = await runFloorLevel(n, seconds);
      rows.push(fl);
      console.log(row(fl));
    }
  }
  console.log('\n| streams | client | client threads | ITL error p50 (ms) | ITL error p99 (ms) | send lag p50 (ms) | send lag p99 (ms) | target / achieved req/s | client CPU | emitter CPU | ok/failed | saturated |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(row(r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
