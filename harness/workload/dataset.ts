/**
 * Prompt datasets (docs/scenarios.md, "Prompt datasets"): reading a ShareGPT-format JSON file or
 * a JSONL file of OpenAI chat messages into entries whose messages are sent as they are.
 *
 * - ShareGPT: a JSON array of `{id?, conversations: [{from, value}]}`. The first human turn is
 *   the prompt, with the last system turn before it (if any) as a system message; the first gpt
 *   turn after it is the answer, whose Llama-3 token count is the output length with
 *   `output_tokens: from_data`.
 * - JSONL: one `{messages: [{role, content}], max_tokens?}` per line; the last message must be
 *   the user's.
 *
 * Unusable entries (no human turn, empty text, no answer / max_tokens where the output length
 * comes from the data, a last message that is not the user's) are skipped and counted.
 * Malformed JSON and wrong types are issues: FG_DATASET_BAD_ENTRY at the file's line (JSONL) or
 * the entry index (JSON). Issues never quote dataset text: prompts stay in memory only.
 */
import { readFileSync } from 'node:fs';
import llama3Tokenizer from 'llama3-tokenizer-js';
import type { ConfigIssue } from '../errors.ts';

export type DatasetFormat = 'sharegpt' | 'jsonl';

export interface DatasetMessage {
  role: string;
  content: string;
}

export interface DatasetEntry {
  messages: DatasetMessage[];
  /** Llama-3 token count of the messages' contents (0 when read without tokenizing). */
  promptTokens: number;
  /** From the data (the answer's tokens, or max_tokens); undefined when the data has none. */
  outputTokens: number | undefined;
}

export interface DatasetRead {
  entries: DatasetEntry[];
  /** Entries left out as unusable. */
  skipped: number;
  /** Malformed JSON or wrong types (at most MAX_ISSUES); none: the entries are complete. */
  issues: ConfigIssue[];
}

export interface DatasetReadOptions {
  format: DatasetFormat;
  /** Whether the output length must come from the data (entries without one are skipped). */
  outputFromData: boolean;
  /** Count tokens (load time); client threads only need the messages. Default true. */
  tokenize?: boolean;
}

const MAX_ISSUES = 20;

/** Llama-3 tokens of a text (no BOS/EOS). */
export function countTokens(text: string): number {
  return llama3Tokenizer.encode(text, { bos: false, eos: false }).length;
}

/** Read and check a dataset file. @throws the fs error when the file cannot be read. */
export function readDataset(file: string, opts: DatasetReadOptions): DatasetRead {
  const text = readFileSync(file, 'utf8');
  const out: DatasetRead = { entries: [], skipped: 0, issues: [] };
  const tokenize = opts.tokenize ?? true;
  const bad = (line: number, path: string, message: string, allowed: string) => {
    if (out.issues.length < MAX_ISSUES) out.issues.push({ code: 'FG_DATASET_BAD_ENTRY', file, line, col: line > 0 ? 1 : 0, path, message, allowed });
  };
  const add = (messages: DatasetMessage[] | undefined, outputTokens: number | undefined | null) => {
    if (!messages || (opts.outputFromData && (outputTokens === undefined || outputTokens === null || outputTokens < 1))) {
      out.skipped++;
      return;
    }
    const promptTokens = tokenize ? messages.reduce((sum, m) => sum + countTokens(m.content), 0) : 0;
    out.entries.push({ messages, promptTokens, outputTokens: outputTokens ?? undefined });
  };
  if (opts.format === 'jsonl') {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.trim();
      if (raw === '') continue;
      const line = i + 1;
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch {
        bad(line, `line ${line}`, `line ${line} is not valid JSON`, 'one JSON object per line: {"messages": [{"role": "user", "content": "..."}], "max_tokens"?: 128}');
        continue;
      }
      const e = jsonlEntry(obj, (m) => bad(line, `line ${line}`, `line ${line}: ${m}`, '{"messages": [{"role": string, "content": string}, ...], "max_tokens"?: a positive integer}'));
      if (e === null) continue;
      add(e.messages, e.maxTokens);
    }
    return out;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec((err as Error).message);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : 0;
    bad(line, '', 'the file is not valid JSON', 'a JSON array of ShareGPT entries {"conversations": [{"from": "human", "value": "..."}, ...]}');
    return out;
  }
  if (!Array.isArray(doc)) {
    bad(0, '', 'a ShareGPT dataset must be a JSON array of entries', 'a JSON array of {"conversations": [{"from", "value"}, ...]}');
    return out;
  }
  doc.forEach((item, i) => {
    const e = shareGptEntry(item, tokenize, (m) => bad(0, `[${i}]`, `entry ${i}: ${m}`, '{"id"?, "conversations": [{"from": "human" | "gpt" | "system", "value": string}, ...]}'));
    if (e === null) return;
    add(e.messages, e.outputTokens);
  });
  return out;
}

const USER = new Set(['human', 'user']);
const ASSISTANT = new Set(['gpt', 'assistant', 'chatgpt', 'bing', 'bard']);

/** null: a type error (reported); messages undefined: unusable (skipped). */
function shareGptEntry(item: unknown, tokenize: boolean, bad: (m: string) => void): { messages: DatasetMessage[] | undefined; outputTokens: number | undefined } | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return bad('expected an object'), null;
  const conv = (item as Record<string, unknown>).conversations;
  if (!Array.isArray(conv)) return bad('"conversations" must be a list of turns'), null;
  for (let k = 0; k < conv.length; k++) {
    const t = conv[k] as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || typeof t.from !== 'string' || typeof t.value !== 'string') {
      return bad(`conversations[${k}] must be {"from": string, "value": string}`), null;
    }
  }
  const turns = conv as Array<{ from: string; value: string }>;
  const h = turns.findIndex((t) => USER.has(t.from));
  if (h < 0 || turns[h]!.value.trim() === '') return { messages: undefined, outputTokens: undefined };
  const messages: DatasetMessage[] = [];
  for (let k = h - 1; k >= 0; k--) {
    if (turns[k]!.from === 'system') {
      if (turns[k]!.value.trim() !== '') messages.push({ role: 'system', content: turns[k]!.value });
      break;
    }
  }
  messages.push({ role: 'user', content: turns[h]!.value });
  const answer = turns.slice(h + 1).find((t) => ASSISTANT.has(t.from));
  const outputTokens = answer && answer.value.trim() !== '' ? (tokenize ? countTokens(answer.value) : 1) : undefined;
  return { messages, outputTokens };
}

function jsonlEntry(obj: unknown, bad: (m: string) => void): { messages: DatasetMessage[] | undefined; maxTokens: number | undefined } | null {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return bad('expected a JSON object'), null;
  const o = obj as Record<string, unknown>;
  if (!Array.isArray(o.messages)) return bad('"messages" must be a list of {role, content}'), null;
  const messages: DatasetMessage[] = [];
  for (let k = 0; k < o.messages.length; k++) {
    const m = o.messages[k] as Record<string, unknown> | null;
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      return bad(`messages[${k}] must be {"role": string, "content": string}`), null;
    }
    messages.push({ role: m.role, content: m.content });
  }
  let maxTokens: number | undefined;
  if (o.max_tokens !== undefined) {
    if (typeof o.max_tokens !== 'number' || !Number.isInteger(o.max_tokens) || o.max_tokens < 1) return bad('"max_tokens" must be a positive integer'), null;
    maxTokens = o.max_tokens;
  }
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || last.content.trim() === '') return { messages: undefined, maxTokens };
  return { messages, maxTokens };
}

/**
 * The seeded choice of entries: `sequential` walks the entries in order (wrapping), `random`
 * draws uniformly with replacement from `next` (a seeded stream). Returns the next index.
 */
export function datasetPicker(count: number, order: 'sequential' | 'random', next: () => number, start = 0, step = 1): () => number {
  let k = 0;
  return order === 'sequential' ? () => (start + step * k++) % count : () => Math.min(count - 1, Math.floor(next() * count));
}
