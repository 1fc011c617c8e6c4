/**
 * A scenario's `workload.shared_prefix` block: system prompts shared by groups of requests
 * (docs/scenarios.md, "Shared prefixes").
 *
 *     workload:
 *       prompt_tokens: {dist: uniform, min: 600, max: 1200}
 *       output_tokens: 128
 *       shared_prefix: {groups: 4, tokens: 512, share: 0.8}
 *
 * `tokens` is required; `groups` defaults to 1 and `share` to 1 (every request).
 */
import type { LengthDist, SharedPrefixConfig } from './scenario-types.ts';
import type { MapView } from './yaml-node-reader.ts';

export const SHARED_PREFIX_KEYS = ['groups', 'tokens', 'share'] as const;

/** Upper bounds that keep a plan's prefix table and a prompt reasonable. */
const MAX_GROUPS = 100_000;
const MAX_TOKENS = 10_000_000;

/**
 * Read `shared_prefix` from the workload map; undefined when absent or invalid (issues recorded,
 * with positions). `promptTokens` (when valid) lets it refuse a prefix no prompt can hold with a
 * token of its own.
 */
export function readSharedPrefix(workload: MapView, promptTokens: LengthDist | undefined): SharedPrefixConfig | undefined {
  const m = workload.map('shared_prefix');
  if (!m) return undefined;
  const r = m.r;
  const before = r.issues.length;
  m.checkKeys(SHARED_PREFIX_KEYS);
  const groups = m.num('groups', { integer: true, min: 1, max: MAX_GROUPS }) ?? 1;
  const tokens = m.num('tokens', { integer: true, min: 1, max: MAX_TOKENS }, true);
  const share = m.num('share', { min: 0, max: 1 }) ?? 1;
  const longest = promptTokens && longestPrompt(promptTokens);
  if (tokens !== undefined && longest !== undefined && tokens >= longest) {
    r.report('FG_SCENARIO_CONFLICT', m.get('tokens'), m.pathOf('tokens'), `shared_prefix.tokens (${tokens}) is not below the longest prompt (${longest} tokens): no prompt would have a token of its own`, {
      value: tokens,
      allowed: `an integer from 1 to ${longest - 1} (below the longest prompt_tokens)`,
    });
  }
  if (r.issues.length > before || tokens === undefined) return undefined;
  return { groups, tokens, share };
}

/** The longest prompt a length distribution can give (clamped to its max). */
function longestPrompt(d: LengthDist): number {
  switch (d.dist) {
    case 'fixed':
      return Math.min(Math.max(Math.round(d.value), d.min), d.max);
    case 'empirical': {
      let top = -Infinity;
      for (const v of d.values) if (v > top) top = v;
      return top === -Infinity ? d.max : Math.min(Math.max(Math.round(top), d.min), d.max);
    }
    default:
      return d.max;
  }
}
