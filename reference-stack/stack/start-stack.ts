/**
 * startStack: the reference stack of a stack file, running in this process: every simulated
 * worker (real-vLLM `url` workers are only pointed at) and the gateway in front of them. Used by
 * `harness stack up` and, in a child process, by the embedded stack of `harness run`.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimWorker, type SimWorker } from '../worker-sim/start-worker.ts';
import { startGateway, type Gateway } from '../gateway/gateway-server.ts';
import type { StackConfig } from './stack-types.ts';
import { DEV_KEYS } from './dev-keys.ts';

/** The stack file used when none is given. */
export const DEFAULT_STACK_FILE = fileURLToPath(new URL('../stacks/default.yaml', import.meta.url));

export { DEV_KEYS } from './dev-keys.ts';

export interface RunningStack {
  /** The gateway's base URL, /v1 included. */
  url: string;
  workers: Array<{ name: string; url: string }>;
  /** Development keys this stack accepts, with their tenant. */
  devKeys: Array<{ key: string; tenant: string }>;
  close(): Promise<void>;
}

export interface StartStackOptions {
  /** Gateway port (default: the stack's). */
  port?: number;
  host?: string;
  /** Usage ledger path (default: the stack's; `:memory:` keeps no file). */
  usageDbPath?: string;
  /** Multiply every simulated worker's time_scale (tests). */
  timeScale?: number;
  /** Where the gateway writes its JSON access log (one line per request; never content). */
  log?: NodeJS.WritableStream;
}

export async function startStack(stack: StackConfig, o: StartStackOptions = {}): Promise<RunningStack> {
  const sims: SimWorker[] = [];
  const workerUrls: Record<string, string> = {};
  let gateway: Gateway | undefined;
  try {
    for (const w of stack.workers) {
      if (w.kind === 'url') {
        workerUrls[w.name] = w.url;
        continue;
      }
      const timeScale = (w.sim.timeScale ?? 1) * (o.timeScale ?? 1);
      const sim = await startSimWorker({ ...w.sim, timeScale, port: w.port, host: o.host ?? '127.0.0.1' });
      sims.push(sim);
      workerUrls[w.name] = sim.url;
    }
    gateway = await startGateway({
      stack,
      workerUrls,
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.usageDbPath !== undefined ? { usageDbPath: o.usageDbPath } : {}),
      ...(o.log !== undefined ? { log: o.log } : {}),
    });
  } catch (e) {
    await Promise.all(sims.map((s) => s.close()));
    throw e;
  }
  const hashes = new Map<string, string>();
  for (const t of stack.tenants) for (const h of t.keyHashes) hashes.set(h.replace(/^sha256:/i, '').toLowerCase(), t.name);
  const devKeys = DEV_KEYS.flatMap((key) => {
    const tenant = hashes.get(createHash('sha256').update(key).digest('hex'));
    return tenant === undefined ? [] : [{ key, tenant }];
  });
  const g = gateway;
  return {
    url: `${g.url}/v1`,
    workers: stack.workers.map((w) => ({ name: w.name, url: workerUrls[w.name]! })),
    devKeys,
    async close() {
      await g.close();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}

/** A stack file path as users give it (relative to the working directory). */
export function stackPath(file: string | undefined): string {
  return file === undefined ? DEFAULT_STACK_FILE : path.resolve(file);
}
