/**
 * Synthetic prompts of a planned token length. A prompt is a sequence of words from
 * PROMPT_WORDS drawn from a stream seeded by (scenario seed, request id), so the same plan
 * sends the same prompts and no two requests share a prefix by accident (which would let a
 * prefix cache skip their prefill). How many words make N tokens is measured once per run
 * (prompt-calibration.ts):  tokens = overheadTokens + tokensPerWord * words.
 * Prompt text lives only in memory, for the time it takes to send it.
 *
 * Shared text (docs/scenarios.md, "Shared prefixes" and "Prompts from trace blocks"): a request
 * may carry a PromptSpec, shared segments that go first in its prompt. A segment's text depends
 * on (seed, segment key) only, so every request carrying the key sends the same words, token for
 * token, and a server's prefix cache matches them; the rest of the prompt is the request's own.
 */
import { PROMPT_FIRST_WORDS, PROMPT_WORDS } from './prompt-words.ts';
import { Rng } from './rng.ts';

export interface PromptShape {
  /** Tokens the server adds around the content (BOS, chat template). */
  overheadTokens: number;
  /** Tokens per word of PROMPT_WORDS for the target's tokenizer (1 for Llama-3). */
  tokensPerWord: number;
}

/** Words needed for a prompt of `tokens` tokens (at least one). */
export function wordsFor(tokens: number, shape: PromptShape): number {
  return Math.max(1, Math.round((tokens - shape.overheadTokens) / shape.tokensPerWord));
}

/** Deterministic prompt text of `words` words for the request labelled `key` in a run seeded with `seed`. */
export function promptText(seed: number, key: string, words: number): string {
  return wordsFrom(new Rng(seed).fork(`prompt-${key}`), words);
}

function wordsFrom(rng: Rng, words: number): string {
  const n = PROMPT_WORDS.length;
  if (words <= 0) return '';
  const parts = new Array<string>(words);
  // The first word has no space before it: it comes from the words that stay one token so.
  parts[0] = PROMPT_FIRST_WORDS[Math.floor(rng.next() * PROMPT_FIRST_WORDS.length)]!;
  for (let i = 1; i < words; i++) parts[i] = PROMPT_WORDS[Math.floor(rng.next() * n)]!;
  return parts.join(' ');
}

/**
 * A shared piece of a prompt: the text of `key`, `tokens` long. The same key gives the same text
 * for every request of a run (seeded by the run's seed and the key only), so requests that carry
 * it share those tokens and a server's prefix cache can skip them.
 */
export interface PromptSegment {
  key: string;
  tokens: number;
}

/**
 * How a request's prompt is composed, when it is more than its own text: `shared` segments
 * first, in order, then the request's own text (seeded by the request's key) for the rest of the
 * planned length. Segments are cut, in order, to fit the planned length (a cut segment is the
 * start of the full one: same key, same words, fewer of them).
 */
export interface PromptSpec {
  shared: readonly PromptSegment[];
  /**
   * Words of the request's own text kept at the end, at least (segments are cut to leave room).
   * Default 0: a prompt may be nothing but its segments.
   */
  minOwnWords?: number;
}

/**
 * Words that make a segment of `tokens` tokens: exactly `tokens` when the calibration says one
 * token per word (Llama-3, the simulated worker), else round(tokens / tokensPerWord), at least
 * one (an approximation: the words of other vocabularies do not all split alike). The template
 * overhead belongs to the whole prompt, never to a segment.
 */
export function segmentWords(tokens: number, shape: PromptShape): number {
  if (tokens <= 0) return 0;
  if (shape.tokensPerWord === 1) return Math.round(tokens);
  return Math.max(1, Math.round(tokens / shape.tokensPerWord));
}

/**
 * Deterministic text of the shared segment `key` in a run seeded with `seed`: `words` words,
 * the first one from PROMPT_FIRST_WORDS (one token with or without a space before it, so the
 * segment is the same tokens at the start of a prompt and after another segment). Seeded by
 * (seed, key) only, from a stream of its own (segment keys never collide with request keys).
 * Fewer words of the same key are the start of more words of it.
 */
export function segmentText(seed: number, key: string, words: number): string {
  return wordsFrom(new Rng(seed).fork(`segment-${key}`), words);
}

/**
 * The prompt of the request labelled `key`: `words` words in all, made of the spec's shared
 * segments (cut in order to fit) and then the request's own text (promptText). Without a spec,
 * exactly promptText(seed, key, words). Words are joined by single spaces, so with one token per
 * word a segment of N words is N tokens wherever it stands.
 */
export function composePrompt(seed: number, key: string, words: number, spec: PromptSpec | undefined, shape: PromptShape): string {
  if (spec === undefined || spec.shared.length === 0) return promptText(seed, key, words);
  const room = Math.max(0, words - Math.max(0, spec.minOwnWords ?? 0));
  const parts: string[] = [];
  let used = 0;
  for (const s of spec.shared) {
    if (used >= room) break;
    const w = Math.min(segmentWords(s.tokens, shape), room - used);
    if (w <= 0) continue;
    parts.push(segmentText(seed, s.key, w));
    used += w;
  }
  if (words > used) parts.push(promptText(seed, key, words - used));
  return parts.join(' ');
}

/** Words of the shared segments that composePrompt puts in a prompt of `words` words. */
export function sharedWordsIn(words: number, spec: PromptSpec | undefined, shape: PromptShape): number {
  if (spec === undefined) return 0;
  const room = Math.max(0, words - Math.max(0, spec.minOwnWords ?? 0));
  let used = 0;
  for (const s of spec.shared) used += Math.min(segmentWords(s.tokens, shape), Math.max(0, room - used));
  return used;
}
