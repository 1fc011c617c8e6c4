/**
 * Aggregator: folds RequestRecords, as they complete, into StatsBlocks for the whole run, each
 * stage, each tenant and each model, and into the per-second TimeSeries. Records of the warmup
 * and cooldown phases are counted as excluded and kept out of every block (they still show in
 * the time series, which is a view of everything the client did).
 */
import { StatsBlock } from './stats-block.ts';
import { TimeSeries } from './time-series.ts';
import { ConversationStats } from './conversation-stats.ts';
import type { Phase, RequestRecord } from './request-record.ts';
import type { SloConfig } from '../scenario/scenario-types.ts';

export class Aggregator {
  readonly run = new StatsBlock();
  readonly stages: StatsBlock[];
  readonly byModel = new Map<string, StatsBlock>();
  readonly byTenant = new Map<string, StatsBlock>();
  readonly series: TimeSeries;
  readonly excluded = { warmup: 0, cooldown: 0 };
  /** Conversation figures (`workload.conversation`); made at the first record of a conversation. */
  conversations: ConversationStats | undefined;
  /** Every record seen, measured or not (for the live progress line). */
  seen = 0;
  seenOk = 0;
  seenFailed = 0;

  constructor(
    stageCount: number,
    private readonly slo: SloConfig,
    targetsPerSecond: ReadonlyArray<number | null> = [],
  ) {
    this.stages = Array.from({ length: stageCount }, () => new StatsBlock());
    this.series = new TimeSeries(targetsPerSecond);
  }

  add(r: RequestRecord): void {
    this.seen++;
    if (r.ok) this.seenOk++;
    else this.seenFailed++;
    this.series.add(r);
    if (r.conversation !== undefined) (this.conversations ??= new ConversationStats()).add(r);
    if (r.phase !== 'measure') {
      this.excluded[r.phase]++;
      return;
    }
    for (const b of this.blocksOf(r.stage, r.model, r.tenant)) b.add(r, this.slo);
  }

  addDrop(stage: number, phase: Phase, intendedMs: number, model: string, tenant: string | undefined): void {
    this.series.addDrop(intendedMs);
    if (phase !== 'measure') {
      this.excluded[phase]++;
      return;
    }
    for (const b of this.blocksOf(stage, model, tenant)) b.addDrop();
  }

  private blocksOf(stage: number, model: string, tenant: string | undefined): StatsBlock[] {
    const out = [this.run, this.stages[stage] ?? this.newStage(stage), getOrNew(this.byModel, model)];
    if (tenant !== undefined) out.push(getOrNew(this.byTenant, tenant));
    return out;
  }

  private newStage(i: number): StatsBlock {
    while (this.stages.length <= i) this.stages.push(new StatsBlock());
    return this.stages[i]!;
  }
}

function getOrNew(m: Map<string, StatsBlock>, k: string): StatsBlock {
  let b = m.get(k);
  if (!b) {
    b = new StatsBlock();
    m.set(k, b);
  }
  return b;
}
