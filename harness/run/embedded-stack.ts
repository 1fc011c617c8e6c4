/**
 * The embedded stack: what `harness run` targets when a scenario has no `target.url`. A child
 * process runs the reference stack (`harness stack up`: the default stack's simulated vLLM
 * workers behind the gateway), so the harness and the stack do not share an event loop; the
 * harness waits until it is ready, runs with one of its development keys, and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { RunError } from '../errors.ts';

export interface EmbeddedStackOptions {
  /** Stack file; default the shipped default stack. */
  stackFile?: string;
  /** How long to wait for the stack to be up. */
  startTimeoutMs?: number;
}

export interface EmbeddedStack {
  /** The gateway's base URL, /v1 included. */
  url: string;
  /** A development key of the stack (the `pro` tenant's when there is one). */
  apiKey: string | undefined;
  /** One line saying what runs (for the report and the terminal). */
  description: string;
  stop(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../../bin/harness.js', import.meta.url));

/** Niceness of the embedded stack's process (higher = lower priority). */
const EMBEDDED_NICE = 10;

export async function startEmbeddedStack(o: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const args = [BIN, 'stack', 'up', ...(o.stackFile ? [o.stackFile] : []), '--port', '0', '--usage-db', ':memory:'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The stack runs at a lower CPU priority than the harness: on a small machine the two share
  // cores, and the measuring side must keep its schedule. Simulated GPUs keep their timeline
  // from step deadlines, so a late step makes them lag a little, never drift.
  try {
    if (child.pid !== undefined) os.setPriority(child.pid, EMBEDDED_NICE);
  } catch {
    // not permitted here: run at the same priority
  }
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timeoutMs = o.startTimeoutMs ?? 60_000;
  const started = await new Promise<Omit<EmbeddedStack, 'stop'>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack did not start within ${timeoutMs / 1000}s`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Ctrl-C to stop')) return;
      clearTimeout(timer);
      const url = /gateway (http:\/\/\S+\/v1)/.exec(out)?.[1];
      const keys = [...out.matchAll(/dev key for tenant (\S+): (\S+)/g)].map((m) => ({ tenant: m[1]!, key: m[2]! }));
      if (url === undefined) return reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack printed no gateway URL: ${out.trim()}`));
      const key = keys.find((k) => k.tenant === 'pro') ?? keys[0];
      const workers = (out.match(/^ {2}worker /gm) ?? []).length;
      resolve({ url, apiKey: key?.key, description: `reference stack "${/stack "([^"]+)"/.exec(out)?.[1] ?? '?'}": gateway + ${workers} simulated vLLM workers${key ? `, tenant ${key.tenant}` : ''}` });
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
