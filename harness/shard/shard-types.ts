/**
 * summary.json's `shard` block (docs/distributed.md): present in a shard's run folder
 * (`harness run --shard I/N`) and in the folder `harness merge` writes; absent in other runs.
 */
import type { EncodedBlock } from '../metrics/stats-block.ts';

/** A shard's own run: `harness run --shard I/N [--start-at TIME]`. */
export interface ShardRunInfo {
  /** 0-based. */
  index: number;
  count: number;
  /** The common start (t = 0 of every shard's run clock), ISO-8601 UTC; null without --start-at. */
  start_at: string | null;
  /** Fingerprint of the unsplit plan (shard-plan.ts planFingerprint): shards of one plan share it. */
  plan_hash: string;
  /** Open-loop requests of the unsplit plan, and this shard's share of them. */
  planned_requests: { plan: number; shard: number };
  /** Closed-loop users this shard ran, per closed stage (stage index, or a mix stream's `mix-<name>-<j>` -> users). */
  closed_users: Record<string, number>;
  /**
   * Thresholds are evaluated and reported on a shard, but a failed one does not fail the shard
   * (exit 0): `harness merge` evaluates them on the merged run. Always false on a shard.
   */
  thresholds_enforced: false;
  /** Encoded blocks of the stages, tenants and models, so that `harness merge` merges them exactly. */
  histograms: { stages: EncodedBlock[]; by_tenant: Record<string, EncodedBlock>; by_model: Record<string, EncodedBlock> };
}

/** One shard in a merged run. */
export interface MergedShardEntry {
  index: number;
  /** The shard's run folder, as given to `harness merge`. */
  dir: string;
  started_at: string;
  /** Where the shard's t = 0 lies on the merged clock (0 with a common --start-at). */
  offset_ms: number;
  requests: number;
  saturated: boolean;
  complete: boolean;
  send_lag_p99_ms: number | null;
}

/** A run folder written by `harness merge`. */
export interface MergedShardInfo {
  /** Shards merged. */
  merged_from: number;
  /** Shards the plan was split into. */
  count: number;
  indices: number[];
  /** Indices absent from the merge (only with --allow-partial); empty otherwise. */
  missing: number[];
  partial: boolean;
  start_at: string | null;
  plan_hash: string;
  shards: MergedShardEntry[];
}

export type SummaryShard = ShardRunInfo | MergedShardInfo;

export function isShardRun(s: SummaryShard | undefined): s is ShardRunInfo {
  return s !== undefined && typeof (s as ShardRunInfo).index === 'number' && (s as MergedShardInfo).merged_from === undefined;
}
