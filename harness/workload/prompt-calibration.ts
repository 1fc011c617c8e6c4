/**
 * How many prompt words make N tokens on this target. Prefers the server's own tokenizer: vLLM
 * (and the simulated worker) serve POST /tokenize, which counts exactly what the engine will
 * see, chat template and BOS included. Two prompts (64 and 512 words) give the overhead and the
 * tokens per word; the prompts are then exact when tokens per word is 1. Without /tokenize the
 * shipped Llama-3 tokenizer counts the content alone (template tokens unknown), and the summary
 * says so.
 */
import { request, type Dispatcher } from 'undici';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { promptText, type PromptShape } from './prompt-factory.ts';
import type { TargetConfig } from '../scenario/scenario-types.ts';
import { RunError } from '../errors.ts';

export interface PromptCalibration extends PromptShape {
  /** 'server' (/tokenize) or 'builtin' (llama3-tokenizer-js). */
  source: 'server' | 'builtin';
  /** Human description for the summary. */
  tokenizer: string;
  /** True when the planned lengths are what the server will count. */
  exact: boolean;
  /** The server's context length, when /tokenize reports it (vLLM's max_model_len). */
  maxModelLen: number | undefined;
}

const SMALL = 64;
const LARGE = 512;

/** Origin of a base URL: /tokenize is served at the root, beside /v1. */
export function tokenizeUrl(baseUrl: string): string {
  const u = new URL(baseUrl);
  const path = u.pathname.replace(/\/v1\/?$/, '').replace(/\/$/, '');
  return `${u.origin}${path}/tokenize`;
}

export async function calibratePrompts(
  target: TargetConfig,
  dispatcher: Dispatcher,
  seed: number,
): Promise<PromptCalibration> {
  if (target.tokenizer !== 'builtin' && target.url !== undefined) {
    const server = await serverCalibration(target, dispatcher, seed).catch((e: unknown) => e as Error);
    if (!(server instanceof Error)) return server;
    if (target.tokenizer === 'server') {
      throw new RunError('FG_TOKENIZE_UNAVAILABLE', `target.tokenizer is "server" but ${tokenizeUrl(target.url)} did not answer as vLLM's /tokenize does: ${server.message}`, { cause: server });
    }
  }
  return builtinCalibration(seed);
}

async function countOnServer(target: TargetConfig, dispatcher: Dispatcher, text: string): Promise<{ count: number; maxModelLen?: number }> {
  const body =
    target.endpoint === 'chat'
      ? { model: target.model, messages: [{ role: 'user', content: text }], add_generation_prompt: true }
      : { model: target.model, prompt: text };
  const headers: Record<string, string> = { 'content-type': 'application/json', ...target.headers };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  const res = await request(tokenizeUrl(target.url!), {
    method: 'POST',
    body: JSON.stringify(body),
    headers,
    dispatcher,
    headersTimeout: target.timeouts.ttftMs,
    bodyTimeout: target.timeouts.ttftMs,
  });
  const raw = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  const json = JSON.parse(raw) as { count?: unknown; max_model_len?: unknown };
  if (typeof json.count !== 'number') throw new Error('no "count" in the response');
  return { count: json.count, ...(typeof json.max_model_len === 'number' ? { maxModelLen: json.max_model_len } : {}) };
}

async function serverCalibration(target: TargetConfig, dispatcher: Dispatcher, seed: number): Promise<PromptCalibration> {
  const a = await countOnServer(target, dispatcher, promptText(seed, 'calibration-a', SMALL));
  const b = await countOnServer(target, dispatcher, promptText(seed, 'calibration-b', LARGE));
  const tokensPerWord = (b.count - a.count) / (LARGE - SMALL);
  const overheadTokens = Math.max(0, Math.round(a.count - SMALL * tokensPerWord));
  return {
    source: 'server',
    tokenizer: 'server /tokenize',
    overheadTokens,
    tokensPerWord: tokensPerWord > 0 ? tokensPerWord : 1,
    exact: tokensPerWord === 1,
    maxModelLen: b.maxModelLen ?? a.maxModelLen,
  };
}

function builtinCalibration(seed: number): PromptCalibration {
  const count = (t: string) => llama3Tokenizer.encode(t, { bos: false, eos: false }).length;
  const a = count(promptText(seed, 'calibration-a', SMALL));
  const b = count(promptText(seed, 'calibration-b', LARGE));
  const tokensPerWord = (b - a) / (LARGE - SMALL);
  return {
    source: 'builtin',
    tokenizer: 'builtin Llama-3 tokenizer (content only: chat template and BOS not counted)',
    overheadTokens: Math.max(0, Math.round(a - SMALL * tokensPerWord)),
    tokensPerWord,
    exact: false,
    maxModelLen: undefined,
  };
}
