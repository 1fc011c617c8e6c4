/**
 * The embedded stack: what `harness run` targets when a scenario has no `target.url`. A child
 * process runs the reference stack (`harness stack up`: the scenario's `stack:` file, else the
 * default stack; simulated vLLM workers behind the gateway), so the harness and the stack do not
 * share an event loop; the harness waits until it is ready, runs with one of its development
 * keys (the scenario's `stack.tenant`'s, else `pro`'s, else the first), and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { RunError } from '../errors.ts';
import { DEFAULT_STACK_FILE } from '../../reference-stack/stack/start-stack.ts';

export interface EmbeddedStackOptions {
  /** Stack file; default the shipped default stack. */
  stackFile?: string;
  /** Tenant whose development key to use; default `pro` when it has one, else the first. */
  tenant?: string;
  /** Pick no development key (the run sends a key of its own). */
  ownKey?: boolean;
  /** How long to wait for the stack to be up. */
  startTimeoutMs?: number;
}

export interface EmbeddedStack {
  /** The gateway's base URL, /v1 included. */
  url: string;
  /** The development key the run uses (see EmbeddedStackOptions.tenant); undefined with ownKey. */
  apiKey: string | undefined;
  /** The tenant of `apiKey`. */
  tenant: string | undefined;
  /** Every development key the stack printed, with its tenant (a `mix:` stream's tenant picks one). */
  devKeys: ReadonlyArray<{ tenant: string; key: string }>;
  /** The stack's name, and the stack file it was started from (as given, or the default's path). */
  stackName: string;
  stackFile: string;
  /** One line saying what runs (for the report and the terminal). */
  description: string;
  stop(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../../bin/harness.js', import.meta.url));

/** Niceness of the embedded stack's process (higher = lower priority). */
const EMBEDDED_NICE = 10;

export async function startEmbeddedStack(o: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const stackFile = o.stackFile ?? DEFAULT_STACK_FILE;
  const args = [BIN, 'stack', 'up', stackFile, '--port', '0', '--usage-db', ':memory:'];
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
      const url = /gateway (https?:\/\/\S+\/v1)/.exec(out)?.[1];
      const keys = [...out.matchAll(/dev key for tenant (\S+): (\S+)/g)].map((m) => ({ tenant: m[1]!, key: m[2]! }));
      if (url === undefined) return reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack printed no gateway URL: ${out.trim()}`));
      let key: { tenant: string; key: string } | undefined;
      if (o.tenant !== undefined) {
        key = keys.find((k) => k.tenant === o.tenant);
        if (key === undefined) {
          const have = keys.length ? keys.map((k) => k.tenant).join(', ') : 'none';
          return reject(new RunError('FG_EMBEDDED_STACK_FAILED', `the embedded stack has no development key for tenant "${o.tenant}" (tenants with one: ${have})`));
        }
      } else if (!o.ownKey) {
        key = keys.find((k) => k.tenant === 'pro') ?? keys[0];
      }
      const workers = (out.match(/^ {2}worker /gm) ?? []).length;
      const stackName = /stack "([^"]+)"/.exec(out)?.[1] ?? '?';
      resolve({
        url,
        apiKey: key?.key,
        tenant: key?.tenant,
        devKeys: keys,
        stackName,
        stackFile,
        description: `reference stack "${stackName}": gateway + ${workers} simulated vLLM workers${key ? `, tenant ${key.tenant}` : ''} (stack file ${path.relative(process.cwd(), path.resolve(stackFile)) || stackFile})`,
      });
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
