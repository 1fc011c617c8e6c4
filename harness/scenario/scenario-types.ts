/**
 * The validated, defaulted, frozen Scenario: what `loadScenario()` returns and every later stage
 * (plan, engine, report, gates) reads. Units are in the names: `Ms` milliseconds, `Rps` requests
 * per second. Durations in YAML (`30s`, `500ms`, `2m`) are parsed once, at load time.
 */

import type { TraceConfig } from '../workload/traces/trace-config.ts';

/** A token-length distribution. Every sample is rounded to an integer and clamped to [min, max]. */
export type LengthDist =
  | { dist: 'fixed'; value: number; min: number; max: number }
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'normal'; mean: number; stddev: number; min: number; max: number }
  /** `mean`+`p90` in YAML are converted to mu/sigma at load time (see docs/scenarios.md). */
  | { dist: 'lognormal'; mu: number; sigma: number; min: number; max: number }
  /**
   * Values read from a file (one integer per line, or CSV/JSON array; see docs); sampled
   * uniformly with replacement (or by `weights`).
   */
  | { dist: 'empirical'; values: readonly number[]; weights?: readonly number[]; file: string; min: number; max: number };

export type Endpoint = 'chat' | 'completions';
export type Arrival = 'constant' | 'poisson' | 'gamma';

export interface TargetConfig {
  /** Base URL of the OpenAI-compatible API, including `/v1`. Undefined: the embedded stack. */
  url: string | undefined;
  model: string;
  apiKey: string | undefined;
  endpoint: Endpoint;
  /** Stream responses (SSE). Default true. Non-streaming: TTFT = E2E, no ITL. */
  stream: boolean;
  /** Extra HTTP headers sent with every request. */
  headers: Readonly<Record<string, string>>;
  /** Extra request-body fields passed through as they are (vLLM's `ignore_eos`, `top_k`, ...). */
  body: Readonly<Record<string, unknown>>;
  /**
   * Pin the output length with `ignore_eos` + `min_tokens` besides `max_tokens`.
   * 'auto': only when the target looks like vLLM (it serves /tokenize).
   */
  ignoreEos: boolean | 'auto';
  /** Ask for `stream_options.continuous_usage_stats` (tokens per chunk). 'auto' as above. */
  continuousUsageStats: boolean | 'auto';
  /** How prompts of the planned length are made: server /tokenize, or the shipped tokenizer. */
  tokenizer: 'auto' | 'server' | 'builtin';
  timeouts: { connectMs: number; ttftMs: number; totalMs: number };
}

export interface WorkloadConfig {
  promptTokens: LengthDist;
  outputTokens: LengthDist;
  /**
   * `workload.trace`: replay a trace file (docs/scenarios.md, "Replaying a trace"); `loaded`
   * holds the requests read at load time. With a trace, promptTokens/outputTokens are the
   * empirical distributions of the replayed requests' lengths.
   */
  trace?: TraceConfig;
  /** `shared_prefix`: group system prompts at the start of a share of the prompts; absent: none. */
  sharedPrefix?: SharedPrefixConfig;
  /** `conversation`: closed-loop users hold multi-turn conversations; absent: single requests. */
  conversation?: ConversationConfig;
  /**
   * `workload.dataset` (docs/scenarios.md, "Prompt datasets"): real prompts from a file. With a
   * dataset, promptTokens (and outputTokens with from_data) are the empirical distributions of
   * the entries' lengths.
   */
  dataset?: DatasetConfig;
}

/**
 * `workload.dataset`: a ShareGPT JSON or JSONL-of-messages file whose prompts are sent as they
 * are. `loaded` holds the lengths read at load time (never the texts: client threads read them
 * from `file` themselves, and no text reaches the Scenario, reports or logs).
 */
export interface DatasetConfig {
  format: 'sharegpt' | 'jsonl';
  /** The file as the harness opens it (relative paths resolved against the scenario's folder). */
  file: string;
  /** Which entry each request gets: in file order (wrapping), or a seeded uniform draw. */
  order: 'sequential' | 'random';
  /** from_data: the answer's Llama-3 tokens (ShareGPT) or max_tokens (JSONL); dist: workload.output_tokens. */
  outputTokens: 'from_data' | 'dist';
  loaded: {
    /** Usable entries (indices 0..count-1 in file order, skipped entries left out). */
    count: number;
    /** Entries left out as unusable. */
    skipped: number;
    /** Llama-3 token count of each entry's message contents. */
    promptTokens: readonly number[];
    /** The data's output length of each entry (1 where it has none and output_tokens is dist). */
    outputTokens: readonly number[];
  };
}

/**
 * `workload.conversation` (docs/scenarios.md, "Conversations"): each closed-loop user holds one
 * conversation after another, and each open-loop arrival starts a new one, of `turns` turns
 * (drawn per conversation, 1..1000); each turn adds
 * a user message of `prompt_tokens` to the history and the request carries the whole history.
 */
export interface ConversationConfig {
  turns: LengthDist;
  /** Between a turn's answer and the next turn of the same conversation, uniform in [min, max]. */
  thinkTimeMs: { min: number; max: number };
}

/**
 * `workload.shared_prefix` (docs/scenarios.md, "Shared prefixes"): a `share` of the requests
 * (seeded draw) starts with one of `groups` prefixes of `tokens` tokens (group drawn uniformly);
 * the same group, the same text, so a server's prefix cache can skip it.
 */
export interface SharedPrefixConfig {
  groups: number;
  tokens: number;
  /** 0..1. */
  share: number;
}

interface StageBase {
  /** Index in `load.stages`. */
  index: number;
  /** `name` from YAML, or `stage-<index>`. */
  name: string;
  durationMs: number;
  /** Linear ramp from the previous stage's level to this one over the first `rampMs`. */
  rampMs: number;
}
/** Open loop: requests are sent at `rateRps` whatever the server does. */
export interface OpenStage extends StageBase {
  kind: 'open';
  rateRps: number;
}
/** Closed loop: `users` concurrent users, each sends its next request when its last one ends. */
export interface ClosedStage extends StageBase {
  kind: 'closed';
  users: number;
  /** Think time between a user's requests, uniform in [min, max] (equal for a fixed value). */
  thinkTimeMs: { min: number; max: number };
}
export type Stage = OpenStage | ClosedStage;

export interface LoadConfig {
  arrival: Arrival;
  /**
   * Gamma arrivals: shape factor k as in `vllm bench serve --burstiness` (1 = Poisson, < 1
   * burstier, > 1 smoother); the coefficient of variation of the gaps is 1/sqrt(k).
   */
  burstiness: number;
  stages: readonly Stage[];
  /** Cap on requests in flight; undefined = no cap. */
  maxInFlight: number | undefined;
  /** What an open-loop arrival does when the cap is reached: wait for a slot, or be dropped. */
  onMaxInFlight: 'wait' | 'drop';
  /** Requests whose intended send time falls in the first `warmupMs` are not measured. */
  warmupMs: number;
  /** ... or in the last `cooldownMs` of the stages. */
  cooldownMs: number;
  /** After the last stage ends (or on Ctrl-C), how long in-flight requests may finish. */
  drainMs: number;
}

/** Service-level objectives per request; goodput counts requests meeting all that are set. */
export interface SloConfig {
  ttftMs?: number;
  tpotMs?: number;
  itlMs?: number; // the request's mean ITL
  e2eMs?: number;
}

export interface ClientConfig {
  /** Client threads sending requests; 'auto' picks from the expected concurrency and cores. */
  threads: number | 'auto';
  /** Schedule lag p99 above which the run is marked saturated (exit 3). Default 10 ms. */
  saturationLagP99Ms: number;
}

/**
 * `stack:` of a scenario without `target.url`: the stack file the embedded stack runs, checked at
 * load time (it is a valid stack file, and it gives the harness a key to run with).
 */
export interface ScenarioStack {
  /** The stack file as the harness opens it: the scenario's folder joined with a relative path. */
  file: string;
  /** The stack's `name`. */
  name: string;
  /**
   * Tenant whose development key the run uses; undefined: `pro` when it holds one, else another
   * tenant holding one (or no development key, when the scenario sets target.api_key).
   */
  tenant: string | undefined;
}

/** A /metrics endpoint the harness samples during the run. */
export interface ObserveEndpoint {
  name: string;
  url: string;
}

/** `observe.prometheus`: ask a Prometheus server (query_range) instead of scraping. */
export interface ObservePrometheus {
  /** Base URL of the Prometheus server, e.g. http://127.0.0.1:9090. */
  url: string;
  /** query_range step; undefined: observe.interval. */
  stepMs: number | undefined;
  /** Window of rate()/increase() (`$rate_window`); undefined: 4 x max(step, scrape interval). */
  rateWindowMs: number | undefined;
  /** PromQL by name: overrides a default query or adds one (docs/metrics.md). */
  queries: Readonly<Record<string, string>>;
}

/** `observe:`: sampling the target's metrics during the run (docs/scenarios.md). */
export interface ObserveConfig {
  /** Sample at all (default true). */
  enabled: boolean;
  /** Between samples (default 1 s). */
  intervalMs: number;
  /** Per-scrape timeout; undefined: the interval, at most 5 s. */
  timeoutMs: number | undefined;
  /** /metrics endpoints; undefined: discovered from the target (docs/scenarios.md). */
  endpoints: readonly ObserveEndpoint[] | undefined;
  prometheus: ObservePrometheus | undefined;
  /**
   * Where the harness serves its own /metrics during the run. undefined: the default
   * (`harness run`: 127.0.0.1:9464; programmatic runScenario: not served); false: not served.
   */
  metricsListen: { host: string; port: number } | false | undefined;
}

/** A threshold with `abort_on_fail: true` (k6's abortOnFail / delayAbortEval). */
export interface ThresholdAbort {
  /** Index in `thresholds`. */
  index: number;
  /** The expression, as in `thresholds`. */
  expr: string;
  /** `delay_abort_eval`: not evaluated before this long after the run's start (ms). Default 0. */
  delayMs: number;
}

export interface Scenario {
  name: string;
  /** Path the scenario was loaded from, as given; '<inline>' for code-built scenarios. */
  file: string;
  description: string | undefined;
  /** Seed of every random choice in the plan: same seed, same plan. */
  seed: number;
  target: TargetConfig;
  /** The stack the embedded stack runs; absent: the default stack (or target.url is set). */
  stack?: ScenarioStack;
  workload: WorkloadConfig;
  load: LoadConfig;
  slo: SloConfig;
  /** Threshold expressions as written, e.g. `ttft.p95 < 800ms` (parsed and checked at load). */
  thresholds: readonly string[];
  /**
   * The thresholds written with `abort_on_fail: true`: evaluated during the run, and the run is
   * stopped (like Ctrl-C) when one fails. Absent or empty: none.
   */
  abortOnFail?: readonly ThresholdAbort[];
  client: ClientConfig;
  /** The scenario's `observe:` block; absent when the file has none (the defaults apply). */
  observe?: ObserveConfig;
  /** `mix:` (docs/scenarios.md, "Mixes"): several traffic streams in one run; absent: one. */
  mix?: readonly MixStream[];
}

/**
 * One stream of a `mix:`: its requests carry its model, tenant label, API key and priority.
 * Either `stages` (its own load shape, open loop (rate) and/or closed loop (users), on the run's
 * clock) or `weight` (a share of the scenario's load.stages: open-loop requests and closed-loop
 * users are assigned by a seeded draw) is set, never both.
 */
export interface MixStream {
  /** Index in `mix`. */
  index: number;
  name: string;
  /** The label of its requests in reports (by_tenant): `tenant`, else the stream's name. */
  tenant: string;
  /** `tenant` as written: on the embedded stack, whose development key it sends (without api_key). */
  stackTenant: string | undefined;
  /** Its own API key (sent as `authorization: Bearer`); undefined: the run's key. */
  apiKey: string | undefined;
  /** `model`, else target.model. */
  model: string;
  /** Sent as the request body's `priority` (0 first ... 9 last on the reference gateway). */
  priority: number | undefined;
  weight: number | undefined;
  stages: readonly Stage[] | undefined;
}
