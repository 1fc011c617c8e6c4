/**
 * Synthetic prompts of a planned token length. A prompt is a sequence of words from
 * PROMPT_WORDS drawn from a stream seeded by (scenario seed, request id), so the same plan
 * sends the same prompts and no two requests share a prefix by accident (which would let a
 * prefix cache skip their prefill). How many words make N tokens is measured once per run
 * (prompt-calibration.ts):  tokens = overheadTokens + tokensPerWord * words.
 * Prompt text lives only in memory, for the time it takes to send it.
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
  const rng = new Rng(seed).fork(`prompt-${key}`);
  const n = PROMPT_WORDS.length;
  if (words <= 0) return '';
  const parts = new Array<string>(words);
  // The first word has no space before it: it comes from the words that stay one token so.
  parts[0] = PROMPT_FIRST_WORDS[Math.floor(rng.next() * PROMPT_FIRST_WORDS.length)]!;
  for (let i = 1; i < words; i++) parts[i] = PROMPT_WORDS[Math.floor(rng.next() * n)]!;
  return parts.join(' ');
}
