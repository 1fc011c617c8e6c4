/**
 * The stack file, validated, defaulted and frozen: one description of the reference serving
 * stack (models, workers, gateway, tenants, prices) that drives the local simulated stack
 * (`harness stack up`), the embedded stack of `harness run`, deployment files and sweeps.
 * Units are in the names: Ms milliseconds, Per1M per million tokens. Money is in the stack's
 * `currency` (default USD).
 */
import type { SimEngineOptions } from '../worker-sim/sim-engine.ts';

export type RoutingPolicy = 'round_robin' | 'least_outstanding' | 'kv_aware' | 'prefix_affinity';

export interface ModelConfig {
  /** Name clients send in `model`. */
  name: string;
  aliases: readonly string[];
  /** The name sent to its workers in `model` (vLLM's --served-model-name); default the model's name. */
  servedModelName: string;
  /** Worker names serving this model. */
  workers: readonly string[];
  /** Models to fall back to, in order, when this one cannot serve (OOM, engine death, context length). */
  fallback: readonly string[];
  /** Context length (prompt + output tokens) the gateway enforces for this model. */
  contextLength: number;
  /** Prices per million tokens, in the stack's currency. */
  priceInputPer1M: number;
  priceOutputPer1M: number;
}

export interface SimWorkerConfig {
  name: string;
  kind: 'sim';
  /** Options of the simulated worker (GPU, model, quantization, batching, time scale, faults). */
  sim: SimEngineOptions;
  /** Fixed port, or 0 (any free port) by default. */
  port: number;
  /** Requests the gateway keeps in flight on this worker at most (its "room"). */
  maxInFlight: number;
}

export interface UrlWorkerConfig {
  name: string;
  kind: 'url';
  /** Base URL of a real vLLM (or OpenAI-compatible) server, /v1 included. */
  url: string;
  /** Its /metrics (for kv_aware routing); default the URL's origin + /metrics. */
  metricsUrl: string;
  maxInFlight: number;
}

export type WorkerConfig = SimWorkerConfig | UrlWorkerConfig;

export interface GatewayConfig {
  host: string;
  port: number;
  routing: RoutingPolicy;
  queue: {
    /** Requests waiting per model at most; past it, 429 with retry-after. */
    maxDepth: number;
    /** Longest wait in the queue; past it, 503 (or 504 once the client's own deadline is gone). */
    timeoutMs: number;
  };
  timeouts: { connectMs: number; firstByteMs: number; totalMs: number };
  retries: { max: number; backoffMs: number };
  health: { intervalMs: number; failuresToEject: number; successesToReadmit: number };
  /** prefix_affinity: tokens of the prompt's start that are hashed; bounded-load factor. */
  prefixAffinity: { prefixTokens: number; loadFactor: number };
  /** Largest request body, bytes (413 past it). */
  bodyLimitBytes: number;
  usage: { dbPath: string; retentionDays: number };
  tls: { certPath: string; keyPath: string } | undefined;
}

export interface TenantConfig {
  name: string;
  /** sha256 (hex) of each API key; keys themselves are never stored. */
  keyHashes: readonly string[];
  /** Models (names or aliases) the tenant may use; '*' = all. */
  allowedModels: readonly string[] | '*';
  /** Priority classes: 0 is served first. Requests may ask for a class, capped at maxPriority. */
  defaultPriority: number;
  /** The most urgent (lowest) class the tenant may ask for. */
  maxPriority: number;
  /** Weight in the fair share between tenants of one priority class. */
  weight: number;
  rpm: number | undefined;
  tpm: number | undefined;
  maxConcurrent: number | undefined;
  budgetPerDay: number | undefined;
  budgetPerMonth: number | undefined;
  /** Share of a budget (0..1) at which the alert metric fires. */
  alertThreshold: number;
}

export interface StackConfig {
  name: string;
  file: string;
  currency: string;
  models: readonly ModelConfig[];
  workers: readonly WorkerConfig[];
  gateway: GatewayConfig;
  tenants: readonly TenantConfig[];
}
