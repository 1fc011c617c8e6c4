/**
 * Model catalogue of the simulated worker: the transformer shapes a stack file can name (by id or
 * by Hugging Face name), the split of a model's parameters into embedding, shared and expert
 * parts that the performance model and the KV-cache sizing need, and the validation of a
 * user-defined model (`customModel`), which lists every problem at once instead of throwing.
 *
 * Shapes are each model's config.json as tabulated in CALIBRATION.md ("Models"); Llama-2-7B's is
 * its config.json (meta-llama/Llama-2-7b-hf). Parameter counts are the model cards' figures, and
 * a unit test checks each against the count derived from the shape (`paramsFromShape`).
 */
import { nearest } from '../../harness/util/did-you-mean.ts';
import type { ModelSpec } from './sim-types.ts';
import { show, stringField } from './spec-fields.ts';
import { deepFreeze } from '../../harness/util/deep-freeze.ts';

const CAL = 'CALIBRATION.md Models table';

/** The catalogue, by id. */
export const MODELS: Readonly<Record<string, Readonly<ModelSpec>>> = deepFreeze({
  'llama-3.1-8b': {
    id: 'llama-3.1-8b',
    hfName: 'meta-llama/Llama-3.1-8B-Instruct',
    layers: 32,
    hidden: 4096,
    qHeads: 32,
    kvHeads: 8,
    headDim: 128,
    ffn: 14336,
    vocab: 128256,
    paramsB: 8.03,
    activeParamsB: 8.03,
    tiedEmbeddings: false,
    maxContext: 131072,
    source: `${CAL}; meta-llama/Llama-3.1-8B-Instruct config.json (max_position_embeddings 131072, tie_word_embeddings false)`,
  },
  'llama-3.1-70b': {
    id: 'llama-3.1-70b',
    hfName: 'meta-llama/Llama-3.1-70B-Instruct',
    layers: 80,
    hidden: 8192,
    qHeads: 64,
    kvHeads: 8,
    headDim: 128,
    ffn: 28672,
    vocab: 128256,
    paramsB: 70.6,
    activeParamsB: 70.6,
    tiedEmbeddings: false,
    maxContext: 131072,
    source: `${CAL}; meta-llama/Llama-3.1-70B-Instruct config.json (max_position_embeddings 131072, tie_word_embeddings false)`,
  },
  'qwen2.5-7b': {
    id: 'qwen2.5-7b',
    hfName: 'Qwen/Qwen2.5-7B-Instruct',
    layers: 28,
    hidden: 3584,
    qHeads: 28,
    kvHeads: 4,
    headDim: 128,
    ffn: 18944,
    vocab: 152064,
    paramsB: 7.62,
    activeParamsB: 7.62,
    tiedEmbeddings: false,
    maxContext: 32768,
    source: `${CAL}; Qwen/Qwen2.5-7B-Instruct config.json (max_position_embeddings 32768 without YaRN, tie_word_embeddings false)`,
  },
  'qwen2.5-72b': {
    id: 'qwen2.5-72b',
    hfName: 'Qwen/Qwen2.5-72B-Instruct',
    layers: 80,
    hidden: 8192,
    qHeads: 64,
    kvHeads: 8,
    headDim: 128,
    ffn: 29568,
    vocab: 152064,
    paramsB: 72.7,
    activeParamsB: 72.7,
    tiedEmbeddings: false,
    maxContext: 32768,
    source: `${CAL}; Qwen/Qwen2.5-72B-Instruct config.json (max_position_embeddings 32768 without YaRN, tie_word_embeddings false)`,
  },
  'mistral-7b': {
    id: 'mistral-7b',
    hfName: 'mistralai/Mistral-7B-Instruct-v0.3',
    layers: 32,
    hidden: 4096,
    qHeads: 32,
    kvHeads: 8,
    headDim: 128,
    ffn: 14336,
    vocab: 32768,
    paramsB: 7.25,
    activeParamsB: 7.25,
    tiedEmbeddings: false,
    maxContext: 32768,
    source: `${CAL}; mistralai/Mistral-7B-Instruct-v0.3 config.json (max_position_embeddings 32768, tie_word_embeddings false)`,
  },
  'mixtral-8x7b': {
    id: 'mixtral-8x7b',
    hfName: 'mistralai/Mixtral-8x7B-Instruct-v0.1',
    layers: 32,
    hidden: 4096,
    qHeads: 32,
    kvHeads: 8,
    headDim: 128,
    ffn: 14336,
    vocab: 32000,
    paramsB: 46.7,
    activeParamsB: 12.9,
    experts: { count: 8, topK: 2 },
    tiedEmbeddings: false,
    maxContext: 32768,
    source: `${CAL}; mistralai/Mixtral-8x7B-Instruct-v0.1 config.json (8 local experts, 2 per token, max_position_embeddings 32768)`,
  },
  'llama-2-7b': {
    id: 'llama-2-7b',
    hfName: 'meta-llama/Llama-2-7b-hf',
    layers: 32,
    hidden: 4096,
    qHeads: 32,
    kvHeads: 32,
    headDim: 128,
    ffn: 11008,
    vocab: 32000,
    paramsB: 6.74,
    activeParamsB: 6.74,
    tiedEmbeddings: false,
    maxContext: 4096,
    source: 'meta-llama/Llama-2-7b-hf config.json (32 layers, hidden 4096, 32 heads, no GQA, FFN 11008, vocab 32000, 4096 positions); 6.74B parameters (model card)',
  },
});

/**
 * Other names a request or a stack file may use for a catalogue model: Hugging Face repository
 * names (base and instruct), lower-cased on lookup. The `hfName` of each entry is matched too.
 */
export const MODEL_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  'meta-llama/llama-3.1-8b': 'llama-3.1-8b',
  'meta-llama/meta-llama-3.1-8b': 'llama-3.1-8b',
  'meta-llama/meta-llama-3.1-8b-instruct': 'llama-3.1-8b',
  'meta-llama/llama-3.1-70b': 'llama-3.1-70b',
  'meta-llama/meta-llama-3.1-70b': 'llama-3.1-70b',
  'meta-llama/meta-llama-3.1-70b-instruct': 'llama-3.1-70b',
  'qwen/qwen2.5-7b': 'qwen2.5-7b',
  'qwen/qwen2.5-72b': 'qwen2.5-72b',
  'mistralai/mistral-7b-v0.3': 'mistral-7b',
  'mistralai/mixtral-8x7b-v0.1': 'mixtral-8x7b',
  'meta-llama/llama-2-7b-chat-hf': 'llama-2-7b',
  'meta-llama/llama-2-7b': 'llama-2-7b',
});

/** The catalogue model with this id, Hugging Face name or alias (case-insensitive), or undefined. */
export function getModel(idOrAlias: string): ModelSpec | undefined {
  const key = idOrAlias.toLowerCase();
  const direct = MODELS[key];
  if (direct) return direct;
  const aliased = MODEL_ALIASES[key];
  if (aliased) return MODELS[aliased];
  return Object.values(MODELS).find((m) => m.hfName.toLowerCase() === key);
}

/**
 * A model's parameters split the way the performance model reads them, in parameters (not
 * billions):
 *   inputEmbedding = vocab x hidden (only the rows of the step's tokens are read)
 *   lmHead         = vocab x hidden (read in full by every step that computes logits; the same
 *                    tensor as inputEmbedding when tiedEmbeddings)
 *   embeddingStored = inputEmbedding + (tied ? 0 : lmHead)
 *   body           = paramsB x 1e9 - embeddingStored (attention, MLP or experts, norms)
 *   perExpert      = (paramsB - activeParamsB) x 1e9 / (experts - topK), one expert over all layers
 *                    (total = shared + E x e and active = shared + k x e; 0 for a dense model)
 *   shared         = body - experts x perExpert (attention, norms, router)
 *   activeBody     = shared + topK x perExpert (= body for a dense model): linear-layer
 *                    parameters each token multiplies by
 */
export interface ParameterBreakdown {
  inputEmbedding: number;
  lmHead: number;
  embeddingStored: number;
  body: number;
  perExpert: number;
  shared: number;
  activeBody: number;
}

/** See ParameterBreakdown. */
export function parameterBreakdown(m: ModelSpec): ParameterBreakdown {
  const inputEmbedding = m.vocab * m.hidden;
  const lmHead = inputEmbedding;
  const embeddingStored = m.tiedEmbeddings ? inputEmbedding : 2 * inputEmbedding;
  const body = m.paramsB * 1e9 - embeddingStored;
  const e = m.experts;
  const perExpert = e && e.count > e.topK ? ((m.paramsB - m.activeParamsB) * 1e9) / (e.count - e.topK) : 0;
  const shared = body - (e ? e.count * perExpert : 0);
  const activeBody = shared + (e ? e.topK * perExpert : 0);
  return { inputEmbedding, lmHead, embeddingStored, body, perExpert, shared, activeBody };
}

/**
 * Parameter counts (billions) implied by a Llama-style shape: gated MLP (gate, up, down), no
 * biases, norms ignored (< 0.01%).
 *   attention per layer = hidden x headDim x (2 qHeads + 2 kvHeads)      (q, o; k, v)
 *   MLP per layer       = 3 x hidden x ffn                               (per expert for MoE)
 *   router per layer    = hidden x experts
 *   total  = layers x (attention + experts x MLP + router) + vocab x hidden x (tied ? 1 : 2)
 *   active = layers x (attention + topK x MLP + router) + the same embeddings
 * Qwen2.5's q/k/v biases (a few hundred thousand parameters) are below the rounding of the
 * catalogue's figures.
 */
export function paramsFromShape(m: Omit<ModelSpec, 'paramsB' | 'activeParamsB' | 'id' | 'hfName' | 'source' | 'maxContext'>): {
  paramsB: number;
  activeParamsB: number;
} {
  const attention = m.hidden * m.headDim * (2 * m.qHeads + 2 * m.kvHeads);
  const mlp = 3 * m.hidden * m.ffn;
  const count = m.experts?.count ?? 1;
  const topK = m.experts?.topK ?? 1;
  const router = m.experts ? m.hidden * count : 0;
  const embeddings = m.vocab * m.hidden * (m.tiedEmbeddings ? 1 : 2);
  const total = m.layers * (attention + count * mlp + router) + embeddings;
  const active = m.layers * (attention + topK * mlp + router) + embeddings;
  return { paramsB: total / 1e9, activeParamsB: active / 1e9 };
}

/** Outcome of `customModel`: a complete spec, or every problem found. */
export type CustomModelResult = { ok: true; model: ModelSpec } | { ok: false; problems: string[] };

const MODEL_FIELDS: readonly (keyof ModelSpec)[] = [
  'id',
  'hfName',
  'layers',
  'hidden',
  'qHeads',
  'kvHeads',
  'headDim',
  'ffn',
  'vocab',
  'paramsB',
  'activeParamsB',
  'experts',
  'tiedEmbeddings',
  'maxContext',
  'source',
];
const INTEGER_FIELDS = ['layers', 'hidden', 'qHeads', 'kvHeads', 'headDim', 'ffn', 'vocab', 'maxContext'] as const;

/**
 * Validates a user-defined model and fills the defaults. Required: id and the shape (layers,
 * hidden, qHeads, kvHeads, headDim, ffn, vocab, maxContext), all positive integers, with qHeads a
 * multiple of kvHeads. Defaults: hfName = id; paramsB and activeParamsB from the shape
 * (`paramsFromShape`); tiedEmbeddings false; source 'user-defined'. `experts` = {count, topK}
 * with 1 <= topK <= count. Never throws: returns every problem found.
 */
export function customModel(partial: Record<string, unknown>): CustomModelResult {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    return { ok: false, problems: ['a model must be an object'] };
  }
  const problems: string[] = [];
  for (const key of Object.keys(partial)) {
    if (!(MODEL_FIELDS as readonly string[]).includes(key)) {
      const hint = nearest(key, MODEL_FIELDS);
      problems.push(`unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${MODEL_FIELDS.join(', ')}`);
    }
  }
  const id = stringField(partial, 'id', true, problems);
  const hfName = stringField(partial, 'hfName', false, problems);
  const source = stringField(partial, 'source', false, problems);
  const ints: Partial<Record<(typeof INTEGER_FIELDS)[number], number>> = {};
  for (const k of INTEGER_FIELDS) {
    const v = partial[k];
    if (v === undefined) problems.push(`${k}: required`);
    else if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) problems.push(`${k}: must be a positive integer, got ${show(v)}`);
    else ints[k] = v;
  }
  if (ints.qHeads !== undefined && ints.kvHeads !== undefined && ints.qHeads % ints.kvHeads !== 0) {
    problems.push(`kvHeads: qHeads (${ints.qHeads}) must be a multiple of kvHeads (${ints.kvHeads})`);
  }
  let experts: { count: number; topK: number } | undefined;
  if (partial.experts !== undefined) {
    const e = partial.experts as Record<string, unknown> | null;
    const count = e && typeof e === 'object' ? e.count : undefined;
    const topK = e && typeof e === 'object' ? e.topK : undefined;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 2) problems.push(`experts.count: must be an integer >= 2, got ${show(count)}`);
    else if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > count) {
      problems.push(`experts.topK: must be an integer in [1, experts.count = ${count}], got ${show(topK)}`);
    } else experts = { count, topK };
  }
  let tiedEmbeddings = false;
  if (partial.tiedEmbeddings !== undefined) {
    if (typeof partial.tiedEmbeddings !== 'boolean') problems.push(`tiedEmbeddings: must be true or false, got ${show(partial.tiedEmbeddings)}`);
    else tiedEmbeddings = partial.tiedEmbeddings;
  }
  const paramsB = optionalPositive(partial, 'paramsB', problems);
  const activeParamsB = optionalPositive(partial, 'activeParamsB', problems);
  if (paramsB !== undefined && activeParamsB !== undefined && activeParamsB > paramsB) {
    problems.push(`activeParamsB: ${activeParamsB} is more than paramsB (${paramsB})`);
  }
  if (!experts && paramsB !== undefined && activeParamsB !== undefined && activeParamsB !== paramsB) {
    problems.push(`activeParamsB: a dense model (no experts) has activeParamsB = paramsB, got ${activeParamsB} and ${paramsB}`);
  }
  const { layers, hidden, qHeads, kvHeads, headDim, ffn, vocab, maxContext } = ints;
  if (
    problems.length > 0 ||
    id === undefined ||
    layers === undefined ||
    hidden === undefined ||
    qHeads === undefined ||
    kvHeads === undefined ||
    headDim === undefined ||
    ffn === undefined ||
    vocab === undefined ||
    maxContext === undefined
  ) {
    return { ok: false, problems };
  }
  const shape = { layers, hidden, qHeads, kvHeads, headDim, ffn, vocab, tiedEmbeddings, ...(experts ? { experts } : {}) };
  const derived = paramsFromShape(shape);
  const total = paramsB ?? derived.paramsB;
  // without a stated active count, keep the shape's active share of the stated (or derived) total
  const active = activeParamsB ?? (experts ? total * (derived.activeParamsB / derived.paramsB) : total);
  const embeddings = (vocab * hidden * (tiedEmbeddings ? 1 : 2)) / 1e9;
  if (total <= embeddings) {
    return { ok: false, problems: [`paramsB: ${total} is not more than the embeddings alone (${embeddings.toFixed(3)}B)`] };
  }
  const model: ModelSpec = {
    id,
    hfName: hfName ?? id,
    ...shape,
    paramsB: total,
    activeParamsB: active,
    maxContext,
    source: source ?? 'user-defined',
  };
  return { ok: true, model };
}

function optionalPositive(o: Record<string, unknown>, k: string, problems: string[]): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    problems.push(`${k}: must be a positive number, got ${show(v)}`);
    return undefined;
  }
  return v;
}
