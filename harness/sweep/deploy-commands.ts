/**
 * Sweeps against a real deployment: the user's `apply` command makes the deployment match a cell
 * (restart vLLM with new flags, `kubectl apply`, `docker compose up -d` with a rendered file...),
 * `ready` is run until it exits 0 (e.g. `curl -fsS http://gpu-box:8000/health`), then the
 * measurement is sent to the deployment's target; `teardown`, when given, runs after the cell.
 *
 * The commands run with `sh -c` in the sweep file's folder, with the cell in their environment:
 *   FLOODGATE_SWEEP_NAME, FLOODGATE_SWEEP_DIR      the sweep and its report folder
 *   FLOODGATE_CELL_ID, FLOODGATE_CELL_INDEX        the cell's id and 0-based index
 *   FLOODGATE_CELL_STACK                    the cell's stack file (the sweep's stack with the cell's values)
 *   FLOODGATE_CELL_VALUES                   the cell's values as JSON {"<stack path>": value}
 *   FLOODGATE_CELL_VLLM_ARGS                JSON {"<worker>": ["--max-num-seqs", "64", ...]}: the vLLM
 *                                    arguments of each simulated worker of the cell's stack
 *   FLOODGATE_CELL_VLLM_ARGS_<WORKER>       the same for one worker, shell-quoted on one line
 *                                    (worker name upper-cased, non-alphanumerics as "_")
 * Their output goes to cells/<id>/deploy.log, never to the terminal (it may be long).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RunError } from '../errors.ts';
import type { SweepCell, SweepDeploy } from './sweep-file.ts';
import { vllmArgs } from '../../reference-stack/deploy/render/vllm-args.ts';

export interface DeployDriverOptions {
  sweepName: string;
  sweepDir: string;
  onProgress?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export class DeployDriver {
  /** The cell the deployment is in now (applied and ready), or null. */
  private current: { id: string; index: number; stackFile: string; env: Record<string, string> } | null = null;

  constructor(
    private readonly d: SweepDeploy,
    private readonly o: DeployDriverOptions,
  ) {}

  /** Make the deployment match `cell` (unless it already does and `per` is "cell"), then measure. */
  async measure<T>(cell: SweepCell, index: number, stackFile: string, run: () => Promise<T>): Promise<T> {
    if (this.current?.id !== cell.id || this.d.per === 'measurement') {
      await this.endCell();
      await this.apply(cell, index, stackFile);
    }
    try {
      return await run();
    } finally {
      if (this.d.per === 'measurement') await this.endCell();
    }
  }

  /** Run `teardown` for the cell the deployment is in, if any. */
  async endCell(): Promise<void> {
    const cur = this.current;
    this.current = null;
    if (!cur || this.d.teardown === null) return;
    this.o.onProgress?.(`teardown ${cur.id}`);
    const r = await this.run(this.d.teardown, cur, this.d.commandTimeoutMs);
    if (r.code !== 0) throw new RunError('FG_SWEEP_TEARDOWN_FAILED', `deploy.teardown for cell ${cur.id} ${r.why}; its output is in ${this.logFile(cur.id)}`);
  }

  private async apply(cell: SweepCell, index: number, stackFile: string): Promise<void> {
    const env = cellEnv(cell, index, stackFile, this.o);
    const cur = { id: cell.id, index, stackFile, env };
    this.o.onProgress?.(`apply ${cell.id}`);
    const r = await this.run(this.d.apply, cur, this.d.commandTimeoutMs);
    if (r.code !== 0) throw new RunError('FG_SWEEP_APPLY_FAILED', `deploy.apply for cell ${cell.id} ${r.why}; its output is in ${this.logFile(cell.id)}`);
    if (this.d.ready !== null) {
      const deadline = Date.now() + this.d.readyTimeoutMs;
      let tries = 0;
      for (;;) {
        tries++;
        const left = deadline - Date.now();
        const rr = await this.run(this.d.ready, cur, Math.max(1000, Math.min(left, this.d.commandTimeoutMs)));
        if (rr.code === 0) break;
        if (this.o.signal?.aborted) throw new RunError('FG_SWEEP_NOT_READY', `interrupted while waiting for cell ${cell.id} to be ready`);
        if (Date.now() + this.d.readyIntervalMs > deadline) {
          throw new RunError('FG_SWEEP_NOT_READY', `deploy.ready for cell ${cell.id} did not succeed within ${this.d.readyTimeoutMs / 1000} s (${tries} tries; last ${rr.why}); its output is in ${this.logFile(cell.id)}`);
        }
        await pause(this.d.readyIntervalMs, this.o.signal);
      }
      this.o.onProgress?.(`ready ${cell.id} (${tries} ${tries === 1 ? 'try' : 'tries'})`);
    }
    this.current = cur;
  }

  private logFile(id: string): string {
    return path.join(this.o.sweepDir, 'cells', id, 'deploy.log');
  }

  /** Run one command; its output appended to the cell's deploy.log. */
  private run(command: string, cur: { id: string; env: Record<string, string> }, timeoutMs: number): Promise<{ code: number | null; why: string }> {
    const log = this.logFile(cur.id);
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.appendFileSync(log, `\n$ ${command}    # ${new Date().toISOString()}\n`);
    const fd = fs.openSync(log, 'a');
    return new Promise((resolve) => {
      const child = spawn('sh', ['-c', command], { cwd: this.d.cwd, env: { ...process.env, ...cur.env }, stdio: ['ignore', fd, fd], detached: true });
      let timedOut = false;
      const kill = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => ((timedOut = true), kill()), timeoutMs);
      const onAbort = (): void => kill();
      this.o.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (code: number | null, why: string): void => {
        clearTimeout(timer);
        this.o.signal?.removeEventListener('abort', onAbort);
        fs.closeSync(fd);
        resolve({ code, why });
      };
      child.on('error', (e) => done(null, `could not be started (${e.message})`));
      child.on('exit', (code, sig) => done(timedOut ? null : code, timedOut ? `ran past ${timeoutMs / 1000} s and was stopped` : code !== null ? `exited with status ${code}` : `was killed by ${sig}`));
    });
  }
}

/** The environment a cell's commands get (see the file comment). */
export function cellEnv(cell: SweepCell, index: number, stackFile: string, o: { sweepName: string; sweepDir: string }): Record<string, string> {
  const env: Record<string, string> = {
    FLOODGATE_SWEEP_NAME: o.sweepName,
    FLOODGATE_SWEEP_DIR: path.resolve(o.sweepDir),
    FLOODGATE_CELL_ID: cell.id,
    FLOODGATE_CELL_INDEX: String(index),
    FLOODGATE_CELL_STACK: path.resolve(stackFile),
    FLOODGATE_CELL_VALUES: JSON.stringify(cell.values),
  };
  const all: Record<string, string[]> = {};
  for (const w of cell.stack.workers) {
    if (w.kind !== 'sim') continue;
    const model = cell.stack.models.find((m) => m.workers.includes(w.name));
    if (!model) continue;
    const args = vllmArgs(w, model);
    all[w.name] = args;
    env[`FLOODGATE_CELL_VLLM_ARGS_${w.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = args.map(shellQuote).join(' ');
  }
  env['FLOODGATE_CELL_VLLM_ARGS'] = JSON.stringify(all);
  return env;
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Wait between ready polls (a real polling interval, cut short by Ctrl-C). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
