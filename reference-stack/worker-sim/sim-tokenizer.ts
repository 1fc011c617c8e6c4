/**
 * The simulated worker's tokenizer: fast, deterministic, and the single authority on token
 * counts in the worker, so `/tokenize`, `usage` and the scheduler always agree.
 *
 * Rule: text is split on whitespace; a word of up to 10 characters is one token, a longer word
 * one token per 10 characters (close to real BPE vocabularies for English prose, where common
 * words are one token). Each token's id is a hash of its text (with a leading-space marker when
 * a space preceded it) into the model's vocabulary, so equal text gives equal ids and prefix
 * caching sees shared prefixes. Chat prompts get a Llama-3-style template: a BOS token, 4
 * framing tokens plus the role's tokens per message, and 4 more for the generation prompt.
 */
import { fnv1a32 } from '../../harness/util/fnv1a.ts';

const MAX_CHARS_PER_TOKEN = 10;
/** Ids below this are reserved for special tokens (BOS, headers, end of turn). */
const SPECIAL = 16;
export const BOS_ID = 1;
const HEADER_START = 2;
const HEADER_END = 3;
const EOT = 4;
const NEWLINES = 5;

function hashId(s: string, vocab: number): number {
  return SPECIAL + (fnv1a32(s) % (vocab - SPECIAL));
}

export class SimTokenizer {
  /** Text of every id seen (for detokenize), bounded. */
  private readonly texts = new Map<number, string>();

  constructor(private readonly vocab: number) {}

  /** Token ids of plain text (no BOS). */
  encode(text: string, out: number[] = []): number[] {
    const re = /(\s*)(\S+)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const space = m[1]!.length > 0 || m.index > 0 ? ' ' : '';
      const word = m[2]!;
      for (let i = 0; i < word.length; i += MAX_CHARS_PER_TOKEN) {
        const piece = (i === 0 ? space : '') + word.slice(i, i + MAX_CHARS_PER_TOKEN);
        const id = hashId(piece, this.vocab);
        if (this.texts.size < 200_000) this.texts.set(id, piece);
        out.push(id);
      }
    }
    return out;
  }

  /** Number of tokens of plain text (no BOS), without building the id array. */
  count(text: string): number {
    let n = 0;
    const re = /\S+/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) n += Math.ceil(m[0].length / MAX_CHARS_PER_TOKEN);
    return n;
  }

  /** A prompt for the completions endpoint: BOS + text. */
  encodePrompt(text: string): number[] {
    return this.encode(text, [BOS_ID]);
  }

  /** A chat conversation with the template applied. */
  encodeChat(messages: ReadonlyArray<{ role: string; content: string }>, addGenerationPrompt: boolean): number[] {
    const out = [BOS_ID];
    for (const m of messages) {
      out.push(HEADER_START);
      this.encode(m.role, out);
      out.push(HEADER_END, NEWLINES);
      this.encode(m.content, out);
      out.push(EOT);
    }
    if (addGenerationPrompt) out.push(HEADER_START, hashId('assistant', this.vocab), HEADER_END, NEWLINES);
    return out;
  }

  decode(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) if (id >= SPECIAL) s += this.texts.get(id) ?? '';
    return s;
  }

  /** Remember a generated token's text (so detokenize can render it). */
  remember(id: number, text: string): void {
    if (this.texts.size < 200_000) this.texts.set(id, text);
  }

  idOf(piece: string): number {
    return hashId(piece, this.vocab);
  }
}
