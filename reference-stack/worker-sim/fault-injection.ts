/**
 * Fault injection for the simulated worker, by configuration: what real GPU workers do on bad
 * days, so that gateways, retries, dashboards and alerts can be tested without breaking a GPU.
 *
 * - oom: CUDA out-of-memory errors, for prompts above a length and/or at a rate per request
 *   (the request fails with HTTP 500 before its first token, as vLLM reports it).
 * - death: the engine dies (after N seconds or N requests): in-flight streams end with an error
 *   event, /health answers 503, new requests get 503; optionally it restarts after N seconds
 *   with an empty KV cache.
 * - slowdown: every step takes `factor` times longer (thermal throttling, a noisy neighbour),
 *   from a time on, for a while or for good.
 * - errors: plain error responses with a status at a rate (e.g. 503 at 5%).
 * Every random choice is seeded, so a run's faults are reproducible.
 */
import { Rng } from '../../harness/workload/rng.ts';
import type { EngineFailure } from './engine-api.ts';

export interface FaultConfig {
  oom?: { abovePromptTokens?: number; rate?: number };
  death?: { afterS?: number; afterRequests?: number; restartAfterS?: number };
  slowdown?: { factor: number; fromS?: number; forS?: number };
  errors?: { status: number; rate: number; message?: string };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
};

export class FaultInjector {
  private readonly rng: Rng;
  private requests = 0;

  constructor(
    private readonly config: FaultConfig,
    seed: number,
  ) {
    this.rng = new Rng(seed).fork('faults');
  }

  /** A failure for this request at admission, if one is due (OOM or an injected error). */
  atAdmission(promptTokens: number): EngineFailure | undefined {
    this.requests++;
    const { oom, errors } = this.config;
    if (oom) {
      const tooLong = oom.abovePromptTokens !== undefined && promptTokens > oom.abovePromptTokens;
      if (tooLong || (oom.rate !== undefined && this.rng.next() < oom.rate)) {
        return {
          status: 500,
          type: 'InternalServerError',
          message: `CUDA out of memory. Tried to allocate ${Math.max(1, Math.round(promptTokens / 512)) * 128}.00 MiB (simulated fault for a ${promptTokens}-token prompt)`,
        };
      }
    }
    if (errors && this.rng.next() < errors.rate) {
      return { status: errors.status, type: ERROR_TYPES[errors.status] ?? 'InternalServerError', message: errors.message ?? `simulated ${errors.status} error` };
    }
    return undefined;
  }

  /** Should the engine die now? (`uptimeS`: seconds since start or last restart.) */
  shouldDie(uptimeS: number): boolean {
    const d = this.config.death;
    if (!d) return false;
    return (d.afterS !== undefined && uptimeS >= d.afterS) || (d.afterRequests !== undefined && this.requests >= d.afterRequests);
  }

  /** Seconds after death before a restart, or undefined for none. */
  get restartAfterS(): number | undefined {
    return this.config.death?.restartAfterS;
  }

  /** Death already happened: do not die again until restarted (then counting starts over). */
  resetAfterRestart(): void {
    this.requests = 0;
  }

  /** Step time multiplier at `uptimeS`. */
  slowdownAt(uptimeS: number): number {
    const s = this.config.slowdown;
    if (!s) return 1;
    const from = s.fromS ?? 0;
    if (uptimeS < from) return 1;
    if (s.forS !== undefined && uptimeS >= from + s.forS) return 1;
    return s.factor;
  }

  get hasDeathTimer(): boolean {
    return this.config.death?.afterS !== undefined;
  }
  get deathAfterS(): number | undefined {
    return this.config.death?.afterS;
  }
}
