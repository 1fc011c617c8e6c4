/**
 * The simulated worker's paged KV cache: a pool of `numBlocks` blocks of `blockSize` token slots,
 * a block table per request, and automatic prefix caching.
 *
 * Owns: which block holds which request's tokens, block reference counts, the LRU free queue,
 * the hash -> block map of the prefix cache, and the prefix-cache counters. It knows nothing of
 * scheduling policy (scheduler.ts decides who gets blocks and who is preempted).
 *
 * Mirrors vLLM V1 (vllm/v1/core/kv_cache_manager.py, block_pool.py, kv_cache_utils.py):
 * - allocate_slots: grow a request's table to cover the tokens it will have computed after this
 *   step; all-or-nothing (returns false and changes nothing when the free blocks do not suffice).
 *   Cache-hit blocks that sit in the free queue count against the free blocks, as in vLLM.
 * - Prefix caching: every FULL block gets a hash chained from its parent block's hash and its
 *   token ids (hash_block_tokens). A new request's lookup (get_computed_blocks) takes the longest
 *   run of cached full blocks of its tokens, capped at num_tokens - 1 so that at least the last
 *   token is computed (its logits are needed). Blocks are hashed when allocated for the tokens
 *   they will hold after the step (cache_full_blocks), prompt and decoded tokens alike.
 * - Freed blocks keep their hash and are appended to the tail of the free queue in REVERSE table
 *   order (a request's tail blocks are evicted before its head blocks); allocation pops from the
 *   head and evicts (un-hashes) a cached block it takes; a hit on a free block takes it back out
 *   of the queue (touch). The queue is a doubly linked list so removal is O(1).
 * - usage() is vLLM's kv_cache_usage_perc: blocks held by requests (ref count > 0) / numBlocks;
 *   cached-but-free blocks count as free.
 *
 * Differences from vLLM, on purpose: no reserved null block (all numBlocks are usable); the
 * block hash is a 96-bit murmur3-style hash rather than sha256/pickle; prefix-cache counters are
 * incremented once per admission (see {@link KvCacheManager.allocate}) rather than per lookup.
 */
import { fmix32, rotl } from '../../harness/workload/rng.ts';

/** What the KV cache needs to know of a request (SimRequest satisfies it). */
export interface KvRequest {
  readonly id: string;
  readonly promptTokenIds: readonly number[];
  readonly outputTokenIds: readonly number[];
  /** Tokens already in KV (vLLM's num_computed_tokens), not counting a pending cache hit. */
  readonly numComputedTokens: number;
}

export interface KvCacheConfig {
  /** Blocks in the pool (vLLM's num_gpu_blocks). */
  numBlocks: number;
  /** Token slots per block; vLLM's default is 16. */
  blockSize?: number;
  /** vLLM's enable_prefix_caching (on by default in V1). */
  enablePrefixCaching: boolean;
}

/** Result of a prefix-cache lookup: blocks to share and the tokens they hold (block-aligned). */
export interface CacheHit {
  readonly blockIds: readonly number[];
  readonly numTokens: number;
}

/** Cumulative prefix-cache counters, in tokens (vLLM's prefix_cache_queries / prefix_cache_hits). */
export interface PrefixCacheStats {
  /** Tokens of the requests looked up at admission (prompt, plus outputs for a resumed request). */
  queriesTokens: number;
  /** Of those, tokens found in the cache. */
  hitsTokens: number;
  /** Admissions that consulted the cache. */
  requests: number;
}

/** Thrown for an invalid KV cache configuration; lists every problem at once. */
export class KvCacheConfigError extends Error {
  readonly code = 'FG_SIM_KV_CONFIG';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid KV cache configuration: ${problems.join('; ')}`);
    this.name = 'KvCacheConfigError';
    this.problems = problems;
  }
}

/** Thrown when the cache is misused (stale cache hit) or an invariant does not hold: a bug. */
export class KvCacheStateError extends Error {
  readonly code = 'FG_SIM_KV_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'KvCacheStateError';
  }
}

/** An empty cache hit (no prefix caching, or nothing cached). */
export const NO_CACHE_HIT: CacheHit = Object.freeze({ blockIds: Object.freeze([]) as readonly number[], numTokens: 0 });

const NONE = -1;

/** Per-request state: its block table and the memo of its full blocks' hashes. */
interface RequestKv {
  blocks: number[];
  /** How many leading blocks of `blocks` are already hashed (vLLM's num_cached_block). */
  numCachedBlocks: number;
  /** Hashes of the request's full blocks, computed lazily; kept across preemption. */
  hashes: string[];
  /** Three 32-bit lanes per hash in `hashes`, to chain the next block's hash. */
  lanes: number[];
}


/** One 32-bit lane: murmur3 over the block's token ids, seeded by the parent's lane. */
function hashLane(seed: number, from: number, to: number, get: (i: number) => number): number {
  let h = seed | 0;
  for (let i = from; i < to; i++) {
    let k = Math.imul(get(i) | 0, 0xcc9e2d51);
    k = rotl(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= to - from;
  return fmix32(h);
}

/** Lanes of the (virtual) parent of a request's first block (vLLM's NONE_HASH; fixed here). */
const ROOT_LANES: readonly [number, number, number] = [0x243f6a88, 0x85a308d3, 0x13198a2e];

/** Paged KV cache with prefix caching; see the module header. */
export class KvCacheManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;

  private readonly refCount: Int32Array;
  /** Hash of each block, or undefined when the block holds no cached content. */
  private readonly blockHash: Array<string | undefined>;
  /** Free queue (LRU at the head): intrusive doubly linked list over block ids. */
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly inFreeQueue: Uint8Array;
  private head = NONE;
  private tail = NONE;
  private freeCount = 0;
  /** hash -> blocks holding that content (several when a block was recomputed), insertion order. */
  private readonly cached = new Map<string, Set<number>>();
  private hashedCount = 0;
  private readonly requests = new Map<string, RequestKv>();
  private readonly counters: PrefixCacheStats = { queriesTokens: 0, hitsTokens: 0, requests: 0 };

  /** @throws KvCacheConfigError listing every invalid field. */
  constructor(config: KvCacheConfig) {
    const blockSize = config.blockSize ?? 16;
    const problems: string[] = [];
    if (!Number.isSafeInteger(config.numBlocks) || config.numBlocks < 1) {
      problems.push(`numBlocks must be an integer >= 1, got ${String(config.numBlocks)}`);
    }
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
      problems.push(`blockSize must be an integer >= 1, got ${String(blockSize)}`);
    }
    if (typeof config.enablePrefixCaching !== 'boolean') {
      problems.push(`enablePrefixCaching must be a boolean, got ${String(config.enablePrefixCaching)}`);
    }
    if (problems.length > 0) throw new KvCacheConfigError(problems);
    this.numBlocks = config.numBlocks;
    this.blockSize = blockSize;
    this.enablePrefixCaching = config.enablePrefixCaching;
    this.refCount = new Int32Array(this.numBlocks);
    this.blockHash = new Array<string | undefined>(this.numBlocks).fill(undefined);
    this.prev = new Int32Array(this.numBlocks).fill(NONE);
    this.next = new Int32Array(this.numBlocks).fill(NONE);
    this.inFreeQueue = new Uint8Array(this.numBlocks);
    for (let b = 0; b < this.numBlocks; b++) this.pushTail(b);
  }

  /** Blocks in the free queue (ref count 0), cached or not. */
  get numFreeBlocks(): number {
    return this.freeCount;
  }

  /** Blocks held by at least one request. */
  get numUsedBlocks(): number {
    return this.numBlocks - this.freeCount;
  }

  /** Blocks whose content is in the prefix cache (hashed), whether in use or free. */
  get numCachedBlocks(): number {
    return this.hashedCount;
  }

  /** Cumulative prefix-cache counters (a copy). */
  get stats(): PrefixCacheStats {
    return { ...this.counters };
  }

  /**
   * Fraction of blocks held by requests, 0..1 (vLLM's kv_cache_usage_perc):
   * numUsedBlocks / numBlocks. Free blocks that still hold cached content count as free.
   */
  usage(): number {
    return this.numUsedBlocks / this.numBlocks;
  }

  /** The request's block table (empty when it holds no blocks). */
  blockTable(requestId: string): readonly number[] {
    return this.requests.get(requestId)?.blocks ?? [];
  }

  /** Block ids in free-queue order, head (evicted first) to tail. For tests and debugging. */
  freeQueue(): number[] {
    const out: number[] = [];
    for (let b = this.head; b !== NONE; b = this.next[b]!) out.push(b);
    return out;
  }

  /**
   * Longest run of cached full blocks at the start of the request's tokens (prompt, then outputs),
   * capped so that at least the last token is left to compute (vLLM: max_cache_hit_length =
   * num_tokens - 1). For a request that holds no blocks. Does not change the cache or the
   * counters; it remembers the request's block hashes (by id) until release().
   */
  lookup(req: KvRequest): CacheHit {
    if (!this.enablePrefixCaching) return NO_CACHE_HIT;
    const numTokens = req.promptTokenIds.length + req.outputTokenIds.length;
    const maxBlocks = Math.floor(Math.max(0, numTokens - 1) / this.blockSize);
    if (maxBlocks === 0) return NO_CACHE_HIT;
    const state = this.stateOf(req);
    this.ensureHashes(req, state, maxBlocks);
    const blockIds: number[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      const holders = this.cached.get(state.hashes[i]!);
      if (holders === undefined) break;
      const first = holders.values().next();
      if (first.done === true) break;
      blockIds.push(first.value);
    }
    return { blockIds, numTokens: blockIds.length * this.blockSize };
  }

  /** Tokens of the request's prefix that the cache already holds (block-aligned); see lookup(). */
  computedTokensFromCache(req: KvRequest): number {
    return this.lookup(req).numTokens;
  }

  /**
   * Grow the request's block table to cover `req.numComputedTokens + hit.numTokens +
   * numNewTokens` tokens (vLLM's allocate_slots). `hit` (from lookup(), taken just before, for a
   * request holding no blocks) makes the request share those blocks; passing it marks an
   * admission and counts the request's tokens as prefix-cache queries and the hit as hits.
   * Full blocks among the covered tokens are hashed into the prefix cache.
   *
   * @returns false, changing nothing, when the free queue cannot supply the blocks (including
   *   hit blocks that would have to leave the free queue).
   * @throws KvCacheStateError for a hit on a request that already holds blocks, or a stale hit.
   */
  allocate(req: KvRequest, numNewTokens: number, hit?: CacheHit): boolean {
    const state = this.stateOf(req);
    const hitBlocks = hit?.blockIds ?? [];
    if (hitBlocks.length > 0) {
      if (state.blocks.length > 0) {
        throw new KvCacheStateError(`request ${req.id}: a cache hit is only for a request holding no blocks`);
      }
      this.ensureHashes(req, state, hitBlocks.length);
      for (let i = 0; i < hitBlocks.length; i++) {
        const b = hitBlocks[i]!;
        if (this.blockHash[b] === undefined || this.blockHash[b] !== state.hashes[i]) {
          throw new KvCacheStateError(`request ${req.id}: stale cache hit on block ${b} (position ${i})`);
        }
      }
    }
    const hitTokens = hitBlocks.length * this.blockSize;
    const tokensAfterStep = req.numComputedTokens + hitTokens + numNewTokens;
    const blocksNeeded = Math.ceil(tokensAfterStep / this.blockSize);
    const newBlocks = Math.max(0, blocksNeeded - state.blocks.length - hitBlocks.length);
    let evictableHits = 0;
    for (const b of hitBlocks) if (this.refCount[b] === 0) evictableHits++;
    if (newBlocks + evictableHits > this.freeCount) return false;

    // Touch the hit blocks first so that taking new blocks cannot evict them.
    for (const b of hitBlocks) {
      if (this.refCount[b] === 0) this.unlink(b);
      this.refCount[b]!++;
      state.blocks.push(b);
    }
    if (hitBlocks.length > 0) state.numCachedBlocks = hitBlocks.length;
    for (let i = 0; i < newBlocks; i++) {
      const b = this.popHead();
      if (this.blockHash[b] !== undefined) this.uncache(b);
      this.refCount[b] = 1;
      state.blocks.push(b);
    }
    if (hit !== undefined && this.enablePrefixCaching) {
      this.counters.requests++;
      this.counters.queriesTokens += req.promptTokenIds.length + req.outputTokenIds.length;
      this.counters.hitsTokens += hitTokens;
    }
    if (this.enablePrefixCaching) {
      const known = req.promptTokenIds.length + req.outputTokenIds.length;
      const numFull = Math.floor(Math.min(tokensAfterStep, known) / this.blockSize);
      if (numFull > state.numCachedBlocks) {
        this.ensureHashes(req, state, numFull);
        for (let i = state.numCachedBlocks; i < numFull; i++) this.cache(state.blocks[i]!, state.hashes[i]!);
        state.numCachedBlocks = numFull;
      }
    }
    return true;
  }

  /**
   * Free the request's blocks (preemption or end): ref counts drop, and blocks no one holds go to
   * the tail of the free queue in reverse table order, keeping their hash. The request's hash
   * memo is kept (a preempted request looks itself up again); release() drops it.
   */
  free(req: Pick<KvRequest, 'id'>): void {
    const state = this.requests.get(req.id);
    if (state === undefined) return;
    for (let i = state.blocks.length - 1; i >= 0; i--) {
      const b = state.blocks[i]!;
      this.refCount[b]!--;
      if (this.refCount[b] === 0) this.pushTail(b);
    }
    state.blocks = [];
    state.numCachedBlocks = 0;
  }

  /** Free the request's blocks and forget it (finished or aborted). */
  release(req: Pick<KvRequest, 'id'>): void {
    this.free(req);
    this.requests.delete(req.id);
  }

  /**
   * Drop every cached hash (vLLM's reset_prefix_cache). Only when no block is in use.
   * @returns false, changing nothing, when some request still holds blocks. Counters are kept
   *   (they are cumulative, like the Prometheus counters they feed).
   */
  resetPrefixCache(): boolean {
    if (this.freeCount !== this.numBlocks) return false;
    this.cached.clear();
    this.blockHash.fill(undefined);
    this.hashedCount = 0;
    for (const state of this.requests.values()) state.numCachedBlocks = 0;
    return true;
  }

  /**
   * Check the invariants; throws KvCacheStateError listing every violation:
   * used + free = numBlocks; the free queue is a well-formed list of exactly the blocks with ref
   * count 0; each ref count equals the number of tables holding the block; no table holds a
   * block twice; the hash map and the blocks' hashes agree.
   */
  checkInvariants(): void {
    const problems: string[] = [];
    const holders = new Int32Array(this.numBlocks);
    for (const [id, state] of this.requests) {
      const seen = new Set<number>();
      for (const b of state.blocks) {
        if (seen.has(b)) problems.push(`request ${id} holds block ${b} twice`);
        seen.add(b);
        holders[b]!++;
      }
      if (state.numCachedBlocks > state.blocks.length) problems.push(`request ${id} has more cached than held blocks`);
    }
    let walked = 0;
    let prev = NONE;
    for (let b = this.head; b !== NONE; b = this.next[b]!) {
      if (this.prev[b] !== prev) problems.push(`free queue: block ${b} has a wrong back link`);
      if (this.inFreeQueue[b] !== 1) problems.push(`free queue: block ${b} is listed but not marked free`);
      prev = b;
      if (++walked > this.numBlocks) {
        problems.push('free queue: cycle');
        break;
      }
    }
    if (prev !== this.tail) problems.push('free queue: tail does not end the list');
    if (walked !== this.freeCount) problems.push(`free queue: ${walked} blocks listed, count says ${this.freeCount}`);
    let used = 0;
    let hashed = 0;
    for (let b = 0; b < this.numBlocks; b++) {
      const ref = this.refCount[b]!;
      if (ref !== holders[b]) problems.push(`block ${b}: ref count ${ref}, held by ${holders[b]} tables`);
      if (ref > 0) used++;
      if (ref > 0 && this.inFreeQueue[b] === 1) problems.push(`block ${b} is free-listed and referenced`);
      if (ref === 0 && this.inFreeQueue[b] !== 1) problems.push(`block ${b} is unreferenced but not free-listed`);
      const h = this.blockHash[b];
      if (h !== undefined) {
        hashed++;
        if (this.cached.get(h)?.has(b) !== true) problems.push(`block ${b}: hash not in the cache map`);
      }
    }
    if (used + this.freeCount !== this.numBlocks) problems.push(`used ${used} + free ${this.freeCount} != ${this.numBlocks}`);
    let mapped = 0;
    for (const [h, set] of this.cached) {
      if (set.size === 0) problems.push(`hash ${h} maps to no block`);
      for (const b of set) {
        mapped++;
        if (this.blockHash[b] !== h) problems.push(`cache map: block ${b} listed under a hash it does not have`);
      }
    }
    if (mapped !== hashed || hashed !== this.hashedCount) {
      problems.push(`hashed blocks: ${hashed} by block, ${mapped} by map, count says ${this.hashedCount}`);
    }
    if (problems.length > 0) throw new KvCacheStateError(`KV cache invariants violated: ${problems.join('; ')}`);
  }

  private stateOf(req: KvRequest): RequestKv {
    let state = this.requests.get(req.id);
    if (state === undefined) {
      state = { blocks: [], numCachedBlocks: 0, hashes: [], lanes: [] };
      this.requests.set(req.id, state);
    }
    return state;
  }

  /** Extend the request's hash memo to its first `numBlocks` full blocks (all tokens known). */
  private ensureHashes(req: KvRequest, state: RequestKv, numBlocks: number): void {
    const prompt = req.promptTokenIds;
    const outputs = req.outputTokenIds;
    const get = (i: number): number => (i < prompt.length ? prompt[i]! : outputs[i - prompt.length]!);
    const bs = this.blockSize;
    for (let i = state.hashes.length; i < numBlocks; i++) {
      const p0 = i === 0 ? ROOT_LANES[0] : state.lanes[3 * i - 3]!;
      const p1 = i === 0 ? ROOT_LANES[1] : state.lanes[3 * i - 2]!;
      const p2 = i === 0 ? ROOT_LANES[2] : state.lanes[3 * i - 1]!;
      const from = i * bs;
      const a = hashLane(fmix32(p0 ^ 0x9e3779b9), from, from + bs, get);
      const b = hashLane(fmix32(p1 ^ 0x7f4a7c15), from, from + bs, get);
      const c = hashLane(fmix32(p2 ^ 0x6a09e667), from, from + bs, get);
      state.lanes.push(a, b, c);
      state.hashes.push(`${a.toString(16)}.${b.toString(16)}.${c.toString(16)}`);
    }
  }

  private cache(b: number, hash: string): void {
    if (this.blockHash[b] !== undefined) return; // a shared hit block: already cached
    this.blockHash[b] = hash;
    let set = this.cached.get(hash);
    if (set === undefined) {
      set = new Set<number>();
      this.cached.set(hash, set);
    }
    set.add(b);
    this.hashedCount++;
  }

  private uncache(b: number): void {
    const h = this.blockHash[b];
    if (h === undefined) return;
    const set = this.cached.get(h);
    set?.delete(b);
    if (set !== undefined && set.size === 0) this.cached.delete(h);
    this.blockHash[b] = undefined;
    this.hashedCount--;
  }

  private pushTail(b: number): void {
    this.prev[b] = this.tail;
    this.next[b] = NONE;
    if (this.tail === NONE) this.head = b;
    else this.next[this.tail] = b;
    this.tail = b;
    this.inFreeQueue[b] = 1;
    this.freeCount++;
  }

  private popHead(): number {
    const b = this.head;
    if (b === NONE) throw new KvCacheStateError('free queue is empty');
    this.unlink(b);
    return b;
  }

  private unlink(b: number): void {
    const p = this.prev[b]!;
    const n = this.next[b]!;
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
    this.prev[b] = NONE;
    this.next[b] = NONE;
    this.inFreeQueue[b] = 0;
    this.freeCount--;
  }
}
