/**
 * Per-tenant limits: RPM with an exact retry-after, TPM counting reservations at once (a burst of
 * streams cannot overshoot), settlement freeing unused tokens, concurrency, budgets reserved at
 * their worst case, UTC day and month rollover, the alert threshold, and distinct codes.
 * The clock is a number passed in.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cost,
  createTenantLimiters,
  LIMIT_WINDOW_MS,
  TenantLimiter,
  utcDayStartMs,
  utcMonthStartMs,
  utcNextMonthStartMs,
  type AdmitResult,
  type LimitAdmission,
  type LimitRefusal,
  type TenantLimits,
} from '../../reference-stack/gateway/limits.ts';

const T0 = Date.UTC(2025, 2, 14, 12, 0, 0); // 2025-03-14 12:00 UTC

function limits(over: Partial<TenantLimits> = {}): TenantLimits {
  return {
    name: 'acme',
    rpm: undefined,
    tpm: undefined,
    maxConcurrent: undefined,
    budgetPerDay: undefined,
    budgetPerMonth: undefined,
    alertThreshold: 0.8,
    ...over,
  };
}

function ok(r: AdmitResult): LimitAdmission {
  assert.equal(r.ok, true, r.ok ? '' : `refused: ${r.code} ${r.message}`);
  return r as LimitAdmission;
}

function refused(r: AdmitResult): LimitRefusal {
  assert.equal(r.ok, false, 'expected a refusal');
  return r as LimitRefusal;
}

describe('cost', () => {
  it('prices prompt and completion tokens per million', () => {
    const prices = { priceInputPer1M: 0.5, priceOutputPer1M: 1.5 };
    assert.equal(cost(prices, 1_000_000, 0), 0.5);
    assert.equal(cost(prices, 0, 2_000_000), 3);
    assert.ok(Math.abs(cost(prices, 1000, 500) - 0.00125) < 1e-15);
  });
});

describe('UTC calendar helpers', () => {
  it('find day and month boundaries', () => {
    assert.equal(utcDayStartMs(T0), Date.UTC(2025, 2, 14));
    assert.equal(utcMonthStartMs(T0), Date.UTC(2025, 2, 1));
    assert.equal(utcNextMonthStartMs(Date.UTC(2025, 11, 31, 23, 59)), Date.UTC(2026, 0, 1));
  });
});

describe('RPM', () => {
  it('refuses past the limit with the exact time until the oldest request leaves the window', () => {
    const l = new TenantLimiter(limits({ rpm: 3 }));
    ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + 10_000 }));
    ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + 20_000 }));
    const r = refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + 30_000 }));
    assert.equal(r.code, 'rate_limited');
    assert.equal(r.retryAfterMs, 30_000);
    assert.equal(r.permanent, false);
    assert.equal(r.limit, 3);
    // A refusal is not counted: just before the first one leaves, still refused; at the edge, admitted.
    refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + LIMIT_WINDOW_MS - 1 }));
    ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + LIMIT_WINDOW_MS }));
    const again = refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 + LIMIT_WINDOW_MS }));
    assert.equal(again.retryAfterMs, 10_000);
  });

  it('counts released (failed) requests: they were made', () => {
    const l = new TenantLimiter(limits({ rpm: 1 }));
    const a = ok(l.admit({ reserveTokens: 10, reserveCost: 0, nowMs: T0 }));
    l.release(a.reservation);
    assert.equal(refused(l.admit({ reserveTokens: 10, reserveCost: 0, nowMs: T0 + 1 })).code, 'rate_limited');
  });
});

describe('TPM', () => {
  it('counts reservations at admission: 10 concurrent streams of 1,000 tokens under 5,000 TPM admit exactly 5', () => {
    const l = new TenantLimiter(limits({ tpm: 5000 }));
    const results = Array.from({ length: 10 }, (_, i) => l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 + i }));
    const admitted = results.filter((r) => r.ok);
    assert.equal(admitted.length, 5);
    const refusals = results.filter((r): r is LimitRefusal => !r.ok);
    assert.equal(refusals.length, 5);
    for (const r of refusals) {
      assert.equal(r.code, 'tokens_limited');
      assert.equal(r.permanent, false);
      assert.ok(r.retryAfterMs >= 1);
    }
    assert.deepEqual(l.windowState(T0 + 10), { requests: 5, tokens: 5000, inFlight: 5, reservedTokens: 5000 });
  });

  it('settling with fewer tokens frees the unused part at once', () => {
    const l = new TenantLimiter(limits({ tpm: 5000 }));
    const held = Array.from({ length: 5 }, (_, i) => ok(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 + i })));
    refused(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 + 10 }));
    assert.equal(l.settle(held[0]!.reservation, 300, 0), 700);
    assert.equal(l.settle(held[1]!.reservation, 400, 0), 600);
    // 300 + 400 + 3 x 1000 = 3700 counted: 1000 more fits, 1400 does not.
    assert.equal(refused(l.admit({ reserveTokens: 1400, reserveCost: 0, nowMs: T0 + 20 })).code, 'tokens_limited');
    ok(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 + 20 }));
    // Settling twice is a no-op.
    assert.equal(l.settle(held[0]!.reservation, 0, 0), 0);
    assert.equal(l.windowState(T0 + 20).tokens, 4700);
  });

  it('gives retry-after from settled usage leaving the window; in-flight reservations keep counting past it', () => {
    const l = new TenantLimiter(limits({ tpm: 2000 }), { inFlightRetryAfterMs: 1500 });
    const a = ok(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 }));
    const b = ok(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: T0 + 5000 }));
    l.settle(a.reservation, 800, 0);
    // 1800 counted; 500 needs 300 freed: a's 800 leaves at T0 + 60 s.
    const r = refused(l.admit({ reserveTokens: 500, reserveCost: 0, nowMs: T0 + 10_000 }));
    assert.equal(r.retryAfterMs, 50_000);
    // b is still in flight 70 s later: its reservation still counts, only a's usage left.
    const late = T0 + 70_000;
    assert.deepEqual(l.windowState(late), { requests: 0, tokens: 1000, inFlight: 1, reservedTokens: 1000 });
    const blockedByFlight = refused(l.admit({ reserveTokens: 1500, reserveCost: 0, nowMs: late }));
    assert.equal(blockedByFlight.retryAfterMs, 1500);
    ok(l.admit({ reserveTokens: 1000, reserveCost: 0, nowMs: late }));
    // b ends: its usage belongs to a window that has passed.
    assert.equal(l.settle(b.reservation, 900, 0), 100);
    assert.equal(l.windowState(late).tokens, 1000);
  });

  it('refuses a request larger than the limit as permanent', () => {
    const l = new TenantLimiter(limits({ tpm: 1000 }));
    const r = refused(l.admit({ reserveTokens: 1001, reserveCost: 0, nowMs: T0 }));
    assert.equal(r.code, 'tokens_limited');
    assert.equal(r.permanent, true);
    assert.match(r.message, /max_tokens/);
  });
});

describe('concurrency', () => {
  it('counts requests in flight and frees the slot on settle or release', () => {
    const l = new TenantLimiter(limits({ maxConcurrent: 2 }), { inFlightRetryAfterMs: 250 });
    const a = ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    const b = ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    const r = refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    assert.equal(r.code, 'concurrency_limited');
    assert.equal(r.retryAfterMs, 250);
    l.settle(a.reservation, 1, 0);
    const c = ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    l.release(b.reservation);
    l.release(b.reservation); // idempotent
    ok(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    assert.equal(l.windowState(T0).inFlight, 2);
    l.release(c.reservation);
    assert.equal(l.windowState(T0).inFlight, 1);
  });
});

describe('budgets', () => {
  const prices = { priceInputPer1M: 1, priceOutputPer1M: 3 };

  it('reserves the worst case so requests in flight cannot overshoot the day budget', () => {
    // Worst case per request: 1000 prompt + 1000 max_tokens = 0.001 + 0.003 = 0.004.
    const worst = cost(prices, 1000, 1000);
    const l = new TenantLimiter(limits({ budgetPerDay: 0.01 }), { inFlightRetryAfterMs: 1000 });
    const a = ok(l.admit({ reserveTokens: 2000, reserveCost: worst, nowMs: T0 }));
    const b = ok(l.admit({ reserveTokens: 2000, reserveCost: worst, nowMs: T0 }));
    // 0.008 reserved: a third worst case (0.012) would overshoot if all used max_tokens.
    const r = refused(l.admit({ reserveTokens: 2000, reserveCost: worst, nowMs: T0 }));
    assert.equal(r.code, 'budget_exceeded');
    assert.equal(r.retryAfterMs, 1000, 'room held by requests in flight may come back when they settle');
    // They used less: real spend 2 x 0.002, room for one more worst case.
    l.settle(a.reservation, 1500, cost(prices, 1000, 333));
    l.settle(b.reservation, 1500, cost(prices, 1000, 333));
    const c = ok(l.admit({ reserveTokens: 2000, reserveCost: worst, nowMs: T0 + 1 }));
    l.settle(c.reservation, 2000, worst);
    const state = l.budgetState(T0 + 2);
    assert.ok(Math.abs(state.spentDay - (2 * cost(prices, 1000, 333) + worst)) < 1e-12);
    assert.ok(state.spentDay <= 0.01);
    assert.equal(state.reservedCost, 0);
    // Settled spend now leaves no room for a worst case: retry at UTC midnight.
    const until = refused(l.admit({ reserveTokens: 2000, reserveCost: worst, nowMs: T0 + 2 }));
    assert.equal(until.code, 'budget_exceeded');
    assert.equal(until.retryAfterMs, Date.UTC(2025, 2, 15) - (T0 + 2));
  });

  it('resets the day budget at UTC midnight and the month budget at the first of the month', () => {
    const l = new TenantLimiter(limits({ budgetPerDay: 1, budgetPerMonth: 1.5 }));
    const lastMinute = Date.UTC(2025, 2, 31, 23, 59, 0);
    const a = ok(l.admit({ reserveTokens: 1, reserveCost: 1, nowMs: Date.UTC(2025, 2, 30, 10) }));
    l.settle(a.reservation, 1, 1);
    // 30 March spent its full day budget; 31 March is a new day, but the month has only 0.5 left.
    const b = ok(l.admit({ reserveTokens: 1, reserveCost: 0.5, nowMs: lastMinute }));
    l.settle(b.reservation, 1, 0.5);
    const monthRefusal = refused(l.admit({ reserveTokens: 1, reserveCost: 0.1, nowMs: lastMinute }));
    assert.equal(monthRefusal.code, 'budget_exceeded');
    assert.equal(monthRefusal.retryAfterMs, 60_000, 'the month ends at midnight UTC on the 31st');
    assert.deepEqual(
      pick(l.budgetState(lastMinute)),
      { spentDay: 0.5, spentMonth: 1.5, limitDay: 1, limitMonth: 1.5 },
    );
    // One millisecond before midnight: still March. At midnight: April, nothing spent.
    refused(l.admit({ reserveTokens: 1, reserveCost: 0.1, nowMs: Date.UTC(2025, 3, 1) - 1 }));
    const april = Date.UTC(2025, 3, 1);
    assert.deepEqual(pick(l.budgetState(april)), { spentDay: 0, spentMonth: 0, limitDay: 1, limitMonth: 1.5 });
    ok(l.admit({ reserveTokens: 1, reserveCost: 1, nowMs: april }));
  });

  it('attributes spend to the admission day, even for a request settling after midnight', () => {
    const l = new TenantLimiter(limits({ budgetPerDay: 10 }));
    const a = ok(l.admit({ reserveTokens: 1, reserveCost: 2, nowMs: Date.UTC(2025, 2, 14, 23, 59, 59) }));
    const afterMidnight = Date.UTC(2025, 2, 15, 0, 0, 5);
    // In flight across midnight: its reservation holds room today too.
    assert.equal(l.budgetState(afterMidnight).reservedCost, 2);
    l.settle(a.reservation, 1, 1.5);
    assert.equal(l.budgetState(afterMidnight).spentDay, 0);
    assert.equal(l.budgetState(afterMidnight).spentMonth, 1.5);
  });

  it('raises the alert at the threshold share of a budget', () => {
    const l = new TenantLimiter(limits({ budgetPerDay: 10, budgetPerMonth: 100, alertThreshold: 0.8 }));
    const spend = (c: number, nowMs: number): void => {
      const a = ok(l.admit({ reserveTokens: 1, reserveCost: c, nowMs }));
      l.settle(a.reservation, 1, c);
    };
    spend(7.9, T0);
    assert.equal(l.budgetState(T0).alert, false);
    spend(0.1, T0);
    const s = l.budgetState(T0);
    assert.equal(s.alertDay, true);
    assert.equal(s.alertMonth, false);
    assert.equal(s.alert, true);
    // Next day: the day alert clears; the month is at 8 of 100.
    assert.equal(l.budgetState(T0 + 86_400_000).alert, false);
  });

  it('refuses a request whose worst case alone exceeds the budget as permanent', () => {
    const l = new TenantLimiter(limits({ budgetPerMonth: 1 }));
    const r = refused(l.admit({ reserveTokens: 1, reserveCost: 1.01, nowMs: T0 }));
    assert.equal(r.code, 'budget_exceeded');
    assert.equal(r.permanent, true);
  });

  it('restores spend from the ledger after a restart', () => {
    const l = new TenantLimiter(limits({ budgetPerDay: 5, budgetPerMonth: 20 }));
    l.restoreSpend(T0, { day: 4, month: 19 });
    assert.deepEqual(pick(l.budgetState(T0)), { spentDay: 4, spentMonth: 19, limitDay: 5, limitMonth: 20 });
    assert.equal(refused(l.admit({ reserveTokens: 1, reserveCost: 1.5, nowMs: T0 })).code, 'budget_exceeded');
    ok(l.admit({ reserveTokens: 1, reserveCost: 1, nowMs: T0 }));
  });
});

describe('codes', () => {
  it('are distinct per limit, checked in the order concurrency, rate, tokens, budget', () => {
    const l = new TenantLimiter(limits({ maxConcurrent: 3, rpm: 2, tpm: 100, budgetPerDay: 1 }));
    const a = ok(l.admit({ reserveTokens: 60, reserveCost: 0.6, nowMs: T0 }));
    assert.equal(refused(l.admit({ reserveTokens: 50, reserveCost: 0, nowMs: T0 })).code, 'tokens_limited');
    assert.equal(refused(l.admit({ reserveTokens: 10, reserveCost: 0.5, nowMs: T0 })).code, 'budget_exceeded');
    ok(l.admit({ reserveTokens: 10, reserveCost: 0.1, nowMs: T0 }));
    assert.equal(refused(l.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 })).code, 'rate_limited');
    const c = new TenantLimiter(limits({ maxConcurrent: 1, rpm: 1 }));
    ok(c.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    assert.equal(refused(c.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 })).code, 'concurrency_limited');
    l.release(a.reservation);
  });

  it('one limiter per tenant: tenants do not share counters', () => {
    const map = createTenantLimiters([limits({ name: 'a', rpm: 1 }), limits({ name: 'b', rpm: 1 })]);
    ok(map.get('a')!.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    ok(map.get('b')!.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    refused(map.get('a')!.admit({ reserveTokens: 1, reserveCost: 0, nowMs: T0 }));
    assert.equal(map.get('c'), undefined);
  });
});

function pick(s: { spentDay: number; spentMonth: number; limitDay: number | null; limitMonth: number | null }) {
  return { spentDay: s.spentDay, spentMonth: s.spentMonth, limitDay: s.limitDay, limitMonth: s.limitMonth };
}
