import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KvCacheManager, KvCacheConfigError, KvCacheStateError, type KvRequest } from '../../reference-stack/worker-sim/kv-cache-manager.ts';
import { Rng } from '../../harness/workload/rng.ts';

interface TestReq extends KvRequest {
  promptTokenIds: number[];
  outputTokenIds: number[];
  numComputedTokens: number;
}

function req(id: string, prompt: number[]): TestReq {
  return { id, promptTokenIds: prompt, outputTokenIds: [], numComputedTokens: 0 };
}

/** Tokens start, start+1, ... (distinct runs give distinct blocks). */
function seq(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** Admit a request as the scheduler does: look up, allocate the rest, mark it computed. */
function admitWhole(kv: KvCacheManager, r: TestReq): number {
  const hit = kv.lookup(r);
  const total = r.promptTokenIds.length + r.outputTokenIds.length;
  assert.equal(kv.allocate(r, total - hit.numTokens, hit), true, `admit ${r.id}`);
  r.numComputedTokens = total;
  return hit.numTokens;
}

describe('KvCacheManager: allocation', () => {
  it('grows a table to cover the tokens computed after the step', () => {
    const kv = new KvCacheManager({ numBlocks: 8, enablePrefixCaching: false });
    const r = req('a', seq(0, 20));
    assert.equal(kv.allocate(r, 20), true);
    assert.equal(kv.blockTable('a').length, 2);
    r.numComputedTokens = 20;
    r.outputTokenIds.push(1);
    assert.equal(kv.allocate(r, 1), true);
    assert.equal(kv.blockTable('a').length, 2); // 21 tokens fit in 2 blocks
    r.numComputedTokens = 32;
    assert.equal(kv.allocate(r, 1), true);
    assert.equal(kv.blockTable('a').length, 3); // the 33rd token needs a third
    assert.equal(kv.numUsedBlocks, 3);
    assert.equal(kv.numFreeBlocks, 5);
    kv.checkInvariants();
  });

  it('fails without allocating anything when the free blocks do not suffice', () => {
    const kv = new KvCacheManager({ numBlocks: 4, enablePrefixCaching: true });
    assert.equal(kv.allocate(req('a', seq(0, 48)), 48), true);
    const b = req('b', seq(100, 32));
    assert.equal(kv.allocate(b, 32), false);
    assert.deepEqual(kv.blockTable('b'), []);
    assert.equal(kv.numFreeBlocks, 1);
    assert.equal(kv.allocate(b, 16), true);
    assert.equal(kv.numFreeBlocks, 0);
    kv.checkInvariants();
  });

  it('usage() counts blocks held by requests; cached free blocks count as free', () => {
    const kv = new KvCacheManager({ numBlocks: 10, enablePrefixCaching: true });
    const a = req('a', seq(0, 40));
    admitWhole(kv, a);
    assert.equal(kv.usage(), 0.3);
    kv.release(a);
    assert.equal(kv.usage(), 0);
    assert.equal(kv.numCachedBlocks, 2); // the two full blocks stay cached while free
    kv.checkInvariants();
  });

  it('frees a table to the free-queue tail in reverse order (tail blocks are evicted first)', () => {
    const kv = new KvCacheManager({ numBlocks: 5, enablePrefixCaching: true });
    const a = req('a', seq(0, 40));
    admitWhole(kv, a);
    const table = [...kv.blockTable('a')];
    assert.deepEqual(table, [0, 1, 2]);
    kv.release(a);
    assert.deepEqual(kv.freeQueue(), [3, 4, 2, 1, 0]);
    kv.checkInvariants();
  });

  it('rejects a bad configuration with every problem listed', () => {
    assert.throws(
      () => new KvCacheManager({ numBlocks: 0, blockSize: 2.5, enablePrefixCaching: true }),
      (e: unknown) => e instanceof KvCacheConfigError && e.code === 'FG_SIM_KV_CONFIG' && e.problems.length === 2,
    );
  });
});

describe('KvCacheManager: prefix caching', () => {
  it('a request sharing a 64-token prefix reuses 4 blocks and the counters say 64', () => {
    const kv = new KvCacheManager({ numBlocks: 32, enablePrefixCaching: true });
    const prefix = seq(1000, 64);
    const a = req('a', [...prefix, ...seq(1, 10)]);
    assert.equal(admitWhole(kv, a), 0);
    const b = req('b', [...prefix, ...seq(500, 20)]);
    assert.equal(kv.computedTokensFromCache(b), 64);
    const hit = kv.lookup(b);
    assert.deepEqual(hit.blockIds, kv.blockTable('a').slice(0, 4));
    const freeBefore = kv.numFreeBlocks;
    assert.equal(kv.allocate(b, 84 - 64, hit), true);
    assert.equal(freeBefore - kv.numFreeBlocks, 2); // 84 tokens = 6 blocks, 4 shared
    assert.deepEqual(kv.blockTable('b').slice(0, 4), kv.blockTable('a').slice(0, 4));
    assert.deepEqual(kv.stats, { queriesTokens: 74 + 84, hitsTokens: 64, requests: 2 });
    kv.checkInvariants();
    // Shared blocks survive one holder's release.
    kv.release(a);
    kv.checkInvariants();
    assert.equal(kv.numUsedBlocks, 6);
  });

  it('never hits the whole prompt: at least the last token is computed', () => {
    const kv = new KvCacheManager({ numBlocks: 32, enablePrefixCaching: true });
    const p64 = seq(0, 64);
    admitWhole(kv, req('a', p64));
    // Block-aligned prompt: the last block cannot be a hit (63 tokens at most -> 3 blocks).
    assert.equal(kv.computedTokensFromCache(req('b', p64)), 48);
    const p70 = seq(0, 70);
    admitWhole(kv, req('c', p70));
    assert.equal(kv.computedTokensFromCache(req('d', p70)), 64);
    assert.equal(kv.computedTokensFromCache(req('e', seq(0, 1))), 0);
  });

  it('a hit block no one holds leaves the free queue and counts against free blocks', () => {
    const kv = new KvCacheManager({ numBlocks: 4, enablePrefixCaching: true });
    const a = req('a', seq(0, 40));
    admitWhole(kv, a);
    kv.release(a);
    assert.equal(kv.numFreeBlocks, 4);
    const b = req('b', [...seq(0, 32), 7, 7]);
    const hit = kv.lookup(b);
    assert.equal(hit.numTokens, 32);
    // 34 tokens = 3 blocks: 2 hits that must leave the free queue + 1 new.
    assert.equal(kv.allocate(b, 2, hit), true);
    assert.equal(kv.numFreeBlocks, 1);
    for (const blk of hit.blockIds) assert.equal(kv.freeQueue().includes(blk), false);
    kv.checkInvariants();
  });

  it('counts hit blocks in the free queue when deciding whether an allocation fits', () => {
    const kv = new KvCacheManager({ numBlocks: 3, enablePrefixCaching: true });
    const a = req('a', seq(0, 33));
    admitWhole(kv, a);
    kv.release(a); // 2 cached free blocks + 1 uncached free block
    const b = req('b', [...seq(0, 32), ...seq(900, 40)]);
    const hit = kv.lookup(b);
    assert.equal(hit.numTokens, 32);
    // 72 tokens = 5 blocks: 2 hits + 3 new > 3 free.
    assert.equal(kv.allocate(b, 40, hit), false);
    assert.deepEqual(kv.blockTable('b'), []);
    assert.equal(kv.numFreeBlocks, 3);
    assert.equal(kv.numCachedBlocks, 2);
    kv.checkInvariants();
  });

  it('evicts the least recently freed cached block first', () => {
    for (const firstFreed of ['a', 'b'] as const) {
      const kv = new KvCacheManager({ numBlocks: 4, enablePrefixCaching: true });
      const a = req('a', seq(0, 17));
      const b = req('b', seq(100, 17));
      admitWhole(kv, a);
      admitWhole(kv, b);
      kv.release(firstFreed === 'a' ? a : b);
      kv.release(firstFreed === 'a' ? b : a);
      assert.equal(kv.numCachedBlocks, 2);
      // A new unrelated request takes 3 of the 4 blocks: one cached block must be evicted.
      admitWhole(kv, req('c', seq(5000, 40)));
      const aCached = kv.computedTokensFromCache(req('a2', seq(0, 17))) === 16;
      const bCached = kv.computedTokensFromCache(req('b2', seq(100, 17))) === 16;
      assert.equal(kv.numCachedBlocks, 1 + 2); // the survivor + c's two full blocks
      if (firstFreed === 'a') assert.deepEqual([aCached, bCached], [false, true]);
      else assert.deepEqual([aCached, bCached], [true, false]);
      kv.checkInvariants();
    }
  });

  it('blocks filled by decoding become cacheable once full', () => {
    const kv = new KvCacheManager({ numBlocks: 8, enablePrefixCaching: true });
    const a = req('a', seq(0, 10));
    assert.equal(kv.allocate(a, 10, kv.lookup(a)), true);
    a.numComputedTokens = 10;
    const outs = [901, 902, 903, 904, 905, 906, 907];
    for (const t of outs) {
      a.outputTokenIds.push(t);
      assert.equal(kv.allocate(a, 1), true);
      a.numComputedTokens++;
    }
    // 17 known tokens, 17 computed: block 0 (prompt 10 + 6 outputs) is full and hashed.
    assert.equal(kv.numCachedBlocks, 1);
    const b = req('b', [...seq(0, 10), ...outs.slice(0, 6), 42, 43]);
    assert.equal(kv.computedTokensFromCache(b), 16);
    assert.equal(kv.computedTokensFromCache(req('c', [...seq(0, 10), 1, 2, 3, 4, 5, 6, 7])), 0);
  });

  it('the hash chains from the parent: the same block after a different prefix misses', () => {
    const kv = new KvCacheManager({ numBlocks: 8, enablePrefixCaching: true });
    const block = seq(300, 16);
    admitWhole(kv, req('a', [...seq(0, 16), ...block, 1]));
    assert.equal(kv.computedTokensFromCache(req('b', [...seq(50, 16), ...block, 1])), 0);
    assert.equal(kv.computedTokensFromCache(req('c', [...seq(0, 16), ...block, 1])), 32);
  });

  it('resetPrefixCache() refuses while blocks are in use, then forgets every hash', () => {
    const kv = new KvCacheManager({ numBlocks: 8, enablePrefixCaching: true });
    const a = req('a', seq(0, 40));
    admitWhole(kv, a);
    assert.equal(kv.resetPrefixCache(), false);
    assert.equal(kv.numCachedBlocks, 2);
    kv.release(a);
    assert.equal(kv.resetPrefixCache(), true);
    assert.equal(kv.numCachedBlocks, 0);
    assert.equal(kv.computedTokensFromCache(req('b', seq(0, 40))), 0);
    assert.deepEqual(kv.stats, { queriesTokens: 40, hitsTokens: 0, requests: 1 }); // counters are cumulative
    kv.checkInvariants();
  });

  it('with prefix caching off: no hits, no hashes, no counters', () => {
    const kv = new KvCacheManager({ numBlocks: 8, enablePrefixCaching: false });
    const a = req('a', seq(0, 40));
    admitWhole(kv, a);
    kv.release(a);
    assert.equal(kv.computedTokensFromCache(req('b', seq(0, 40))), 0);
    assert.equal(kv.numCachedBlocks, 0);
    assert.deepEqual(kv.stats, { queriesTokens: 0, hitsTokens: 0, requests: 0 });
  });

  it('refuses a stale cache hit', () => {
    const kv = new KvCacheManager({ numBlocks: 2, enablePrefixCaching: true });
    const a = req('a', seq(0, 17));
    admitWhole(kv, a);
    kv.release(a);
    const b = req('b', seq(0, 17));
    const hit = kv.lookup(b);
    assert.equal(hit.numTokens, 16);
    admitWhole(kv, req('c', seq(700, 32))); // takes both blocks, evicting a's cached block
    kv.release({ id: 'c' });
    assert.throws(() => kv.allocate(b, 1, hit), (e: unknown) => e instanceof KvCacheStateError && e.code === 'FG_SIM_KV_STATE');
  });
});

describe('KvCacheManager: invariants', () => {
  it('checkInvariants() detects a corrupted ref count', () => {
    const kv = new KvCacheManager({ numBlocks: 4, enablePrefixCaching: true });
    admitWhole(kv, req('a', seq(0, 20)));
    kv.checkInvariants();
    (kv as unknown as { refCount: Int32Array }).refCount[0] = 2;
    assert.throws(() => kv.checkInvariants(), (e: unknown) => e instanceof KvCacheStateError && /ref count 2/.test(e.message));
  });

  it('hold under thousands of random allocations, frees and shared prefixes', () => {
    const rng = new Rng(20240601).fork('kv-random');
    const kv = new KvCacheManager({ numBlocks: 24, enablePrefixCaching: true });
    const prefixes = [seq(0, 48), seq(1000, 32), seq(2000, 80), []];
    const live: TestReq[] = [];
    let nextId = 0;
    let hitsSeen = 0;
    for (let step = 0; step < 5000; step++) {
      const op = rng.next();
      if (op < 0.35 || live.length === 0) {
        const prefix = prefixes[rng.int(0, prefixes.length - 1)]!;
        const suffix = Array.from({ length: rng.int(1, 40) }, () => rng.int(0, 3));
        const r = req(`r${nextId++}`, [...prefix, ...suffix]);
        const hit = kv.lookup(r);
        assert.equal(hit.numTokens % 16, 0);
        assert.ok(hit.numTokens < r.promptTokenIds.length);
        const chunk = rng.int(1, r.promptTokenIds.length - hit.numTokens);
        const usedBefore = kv.numUsedBlocks;
        if (kv.allocate(r, chunk, hit)) {
          r.numComputedTokens = hit.numTokens + chunk;
          live.push(r);
          if (hit.numTokens > 0) hitsSeen++;
        } else {
          assert.equal(kv.numUsedBlocks, usedBefore);
          kv.release(r);
        }
      } else if (op < 0.8) {
        const r = live[rng.int(0, live.length - 1)]!;
        const known = r.promptTokenIds.length + r.outputTokenIds.length;
        if (r.numComputedTokens === known) r.outputTokenIds.push(rng.int(0, 3));
        const todo = r.promptTokenIds.length + r.outputTokenIds.length - r.numComputedTokens;
        const n = rng.int(1, todo);
        if (kv.allocate(r, n)) r.numComputedTokens += n;
      } else {
        const i = rng.int(0, live.length - 1);
        const r = live[i]!;
        live.splice(i, 1);
        if (rng.next() < 0.5) kv.release(r);
        else kv.free(r);
      }
      kv.checkInvariants();
      assert.ok(kv.numUsedBlocks <= kv.numBlocks);
      for (const r of live) assert.ok(kv.blockTable(r.id).length * 16 >= r.numComputedTokens);
    }
    const s = kv.stats;
    assert.ok(hitsSeen > 100, `only ${hitsSeen} admissions hit the cache`);
    assert.ok(s.hitsTokens <= s.queriesTokens && s.hitsTokens > 0);
  });
});
