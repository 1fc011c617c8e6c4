/**
 * The embedded stack: what `harness run` targets when a scenario has no `target.url`. A child
 * process runs the reference stack's simulated vLLM worker (`harness stack worker`), so the
 * harness and the stack do not share an event loop; the harness waits until it is ready, runs,
 * and stops it. The default is one simulated H100 SXM serving Llama-3.1-8B in FP8, under the
 * scenario's model name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { RunError } from '../errors.ts';

export interface EmbeddedStackOptions {
  /** Model name to serve (the scenario's target.model). */
  servedModelName: string;
  gpu?: string;
  model?: string;
  quantization?: string;
  /** Extra `harness stack worker` flags. */
  extraArgs?: string[];
  /** How long to wait for the worker to answer /health. */
  startTimeoutMs?: number;
}

export interface EmbeddedStack {
  /** Base URL of the OpenAI API, /v1 included. */
  url: string;
  /** One line saying what runs (for the report and the terminal). */
  description: string;
  stop(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../../bin/harness.js', import.meta.url));

/** Niceness of the embedded stack's process (higher = lower priority). */
const EMBEDDED_NICE = 10;

export const DEFAULT_EMBEDDED = { gpu: 'h100-sxm', model: 'llama-3.1-8b', quantization: 'fp8' } as const;

export async function startEmbeddedStack(o: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const args = [
    BIN,
    'stack',
    'worker',
    '--port',
    '0',
    '--gpu',
    o.gpu ?? DEFAULT_EMBEDDED.gpu,
    '--model',
    o.model ?? DEFAULT_EMBEDDED.model,
    '--quantization',
    o.quantization ?? DEFAULT_EMBEDDED.quantization,
    '--served-model-name',
    o.servedModelName,
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The stack runs at a lower CPU priority than the harness: on a small machine the two share
  // cores, and the measuring side must keep its schedule. The simulated GPU keeps its own
  // timeline from step deadlines, so a late step makes it lag a little, never drift.
  try {
    if (child.pid !== undefined) os.setPriority(child.pid, EMBEDDED_NICE);
  } catch {
    // not permitted here: run at the same priority
  }
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timeoutMs = o.startTimeoutMs ?? 30_000;
  const started = await new Promise<{ url: string; description: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack did not start within ${timeoutMs / 1000}s`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, description: out.split('\n')[0]!.trim() });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack exited (code ${code}) before it was ready: ${err.trim() || out.trim()}`));
    });
  }).catch(async (e: unknown) => {
    await stopChild(child);
    throw e;
  });
  return { ...started, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGINT');
  });
}
