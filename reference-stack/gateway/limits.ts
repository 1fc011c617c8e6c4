/**
 * Per-tenant limits of the gateway: requests per minute (RPM), tokens per minute (TPM),
 * concurrent requests, and spend budgets per UTC day and UTC calendar month.
 *
 * What must stay true: no limit can be overshot by requests in flight. A request is admitted
 * with a reservation of its worst case (tokens = prompt + max_tokens, cost = prompt x input
 * price + max_tokens x output price), which counts against TPM and the budgets at once; when the
 * request ends, `settle` replaces the reservation by the real usage (or `release` drops it on
 * failure). A burst of streams therefore cannot exceed a limit even though their real usage is
 * only known at their end.
 *
 * Windows are sliding logs (exact, not approximated by buckets): a request counts against RPM for
 * 60 s from its admission; its tokens count against TPM for 60 s from its admission (the
 * reservation, later replaced by the real count), and for as long as it is in flight even past
 * 60 s. Refused requests are not counted. Spend is attributed to the UTC day and month of the
 * request's admission (the same `tsMs` the usage ledger records, so a restart can restore it
 * with {@link TenantLimiter.restoreSpend}); reservations in flight count against today and this
 * month. Time is always passed in (`nowMs`, epoch milliseconds): there is no hidden clock.
 */
import type { ModelConfig, TenantConfig } from '../stack/stack-types.ts';

/** Length of the RPM and TPM sliding windows. */
export const LIMIT_WINDOW_MS = 60_000;
const DAY_MS = 86_400_000;
/** Money comparisons tolerate this much float rounding (currency units). */
const MONEY_EPSILON = 1e-9;

export type LimitCode = 'rate_limited' | 'tokens_limited' | 'concurrency_limited' | 'budget_exceeded';

/** The limits of one tenant, as in the stack file (undefined = no limit). */
export type TenantLimits = Pick<TenantConfig, 'name' | 'rpm' | 'tpm' | 'maxConcurrent' | 'budgetPerDay' | 'budgetPerMonth' | 'alertThreshold'>;

export type ModelPrices = Pick<ModelConfig, 'priceInputPer1M' | 'priceOutputPer1M'>;

/**
 * Cost of a request in the stack's currency:
 * promptTokens x priceInputPer1M / 1e6 + completionTokens x priceOutputPer1M / 1e6.
 * With completionTokens = max_tokens it is the worst case reserved at admission.
 */
export function cost(prices: ModelPrices, promptTokens: number, completionTokens: number): number {
  return (promptTokens * prices.priceInputPer1M + completionTokens * prices.priceOutputPer1M) / 1e6;
}

/** Start of the UTC day holding `ms`. */
export function utcDayStartMs(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Start of the UTC calendar month holding `ms`. */
export function utcMonthStartMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the UTC calendar month after the one holding `ms`. */
export function utcNextMonthStartMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export interface AdmitRequest {
  /** Worst-case tokens: prompt tokens + max_tokens. */
  reserveTokens: number;
  /** Worst-case cost: `cost(prices, promptTokens, maxTokens)`. 0 when the model has no price. */
  reserveCost: number;
  nowMs: number;
}

/** A refusal: the gateway answers 429 with `code`, `retry-after` from `retryAfterMs`. */
export interface LimitRefusal {
  ok: false;
  code: LimitCode;
  /** When a retry may succeed, ms from now (>= 1). A guess when only requests in flight block it. */
  retryAfterMs: number;
  /** True when the request can never pass this limit (it alone exceeds it); retrying is useless. */
  permanent: boolean;
  /** The limit that refused, in its own unit (requests, tokens, concurrent requests, currency). */
  limit: number;
  message: string;
}

export interface LimitAdmission {
  ok: true;
  reservation: Reservation;
}

export type AdmitResult = LimitAdmission | LimitRefusal;

/** A request admitted and not yet settled or released. Opaque to callers but for its fields. */
export class Reservation {
  /** @internal Tokens this request counts against TPM now: the reservation, then the real count. */
  tokens: number;
  /** @internal True until settled or released. */
  inFlight = true;
  /** @internal True while its TPM entry is inside the window log. */
  inLog = true;

  constructor(
    readonly tenant: string,
    readonly admittedAtMs: number,
    readonly reservedTokens: number,
    readonly reservedCost: number,
  ) {
    this.tokens = reservedTokens;
  }
}

export interface BudgetState {
  /** Settled spend of requests admitted in the current UTC day / month. */
  spentDay: number;
  spentMonth: number;
  /** Worst-case cost of the requests in flight. */
  reservedCost: number;
  limitDay: number | null;
  limitMonth: number | null;
  /** spentDay >= alertThreshold x limitDay (false without a limit). */
  alertDay: boolean;
  alertMonth: boolean;
  /** alertDay || alertMonth: drives the gateway's budget alert metric. */
  alert: boolean;
}

export interface WindowState {
  /** Requests admitted in the last 60 s. */
  requests: number;
  /** Tokens counted against TPM now (settled, reserved, and in flight past the window). */
  tokens: number;
  inFlight: number;
  /** Tokens reserved by requests in flight (part of `tokens`). */
  reservedTokens: number;
}

export interface LimiterOptions {
  /**
   * retry-after when only requests in flight block admission (concurrency, or TPM/budget held by
   * reservations): their end cannot be known. Default 1000 ms.
   */
  inFlightRetryAfterMs?: number;
}

/** FIFO of items in admission order, with O(1) amortised removal from the front. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  /** i-th item from the front. */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }
  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** The limits and live counters of one tenant. */
export class TenantLimiter {
  readonly limits: Readonly<TenantLimits>;
  private readonly inFlightRetryAfterMs: number;
  /** Admission times of the requests in the RPM window. */
  private readonly rpmLog = new Fifo<number>();
  /** Reservations in admission order whose admission is inside the TPM window. */
  private readonly tpmLog = new Fifo<Reservation>();
  /** Sum of `tokens` over tpmLog. */
  private logTokens = 0;
  /** Sum of `tokens` over reservations in flight that left the window (still counted). */
  private staleInFlightTokens = 0;
  private readonly active = new Set<Reservation>();
  private reservedTokensTotal = 0;
  private reservedCostTotal = 0;
  /** Settled spend per UTC day start (ms), kept for the current and previous month. */
  private readonly spendByDay = new Map<number, number>();

  constructor(limits: TenantLimits, options: LimiterOptions = {}) {
    this.limits = Object.freeze({ ...limits });
    this.inFlightRetryAfterMs = options.inFlightRetryAfterMs ?? 1000;
  }

  /**
   * Checks concurrency, RPM, TPM and budgets, in that order, and either reserves the request's
   * worst case against all of them or refuses with the first limit that does not fit. A refusal
   * changes nothing.
   */
  admit(req: AdmitRequest): AdmitResult {
    const { reserveTokens, reserveCost, nowMs } = req;
    this.expire(nowMs);
    const l = this.limits;
    const name = l.name;

    if (l.maxConcurrent !== undefined && this.active.size >= l.maxConcurrent) {
      return refuse('concurrency_limited', this.inFlightRetryAfterMs, l.maxConcurrent <= 0, l.maxConcurrent,
        `tenant '${name}' has ${this.active.size} requests in flight, its limit is ${l.maxConcurrent}`);
    }

    if (l.rpm !== undefined && this.rpmLog.size >= l.rpm) {
      // The request fits once the (size - rpm + 1)-th oldest admission leaves the window.
      const releasing = this.rpmLog.at(this.rpmLog.size - l.rpm);
      const retry = releasing === undefined ? LIMIT_WINDOW_MS : releasing + LIMIT_WINDOW_MS - nowMs;
      return refuse('rate_limited', retry, l.rpm <= 0, l.rpm,
        `tenant '${name}' made ${this.rpmLog.size} requests in the last 60 s, its limit is ${l.rpm} per minute`);
    }

    if (l.tpm !== undefined) {
      const used = this.logTokens + this.staleInFlightTokens;
      if (reserveTokens > l.tpm) {
        return refuse('tokens_limited', LIMIT_WINDOW_MS, true, l.tpm,
          `request needs up to ${reserveTokens} tokens (prompt + max_tokens), more than tenant '${name}''s limit of ${l.tpm} per minute; lower max_tokens`);
      }
      if (used + reserveTokens > l.tpm) {
        return refuse('tokens_limited', this.tpmRetryAfter(used + reserveTokens - l.tpm, nowMs), false, l.tpm,
          `tenant '${name}' has ${used} tokens counted in the last 60 s (${this.reservedTokensTotal} reserved in flight); ` +
            `this request needs up to ${reserveTokens}, the limit is ${l.tpm} per minute`);
      }
    }

    const budget = this.budgetRefusal(reserveCost, nowMs);
    if (budget) return budget;

    const r = new Reservation(name, nowMs, reserveTokens, reserveCost);
    this.rpmLog.push(nowMs);
    this.tpmLog.push(r);
    this.logTokens += reserveTokens;
    this.active.add(r);
    this.reservedTokensTotal += reserveTokens;
    this.reservedCostTotal += reserveCost;
    return { ok: true, reservation: r };
  }

  /**
   * Replaces a reservation by the real usage: `actualTokens` (prompt + completion) count against
   * TPM from the admission time, `actualCost` is added to the spend of the admission's day and
   * month. Returns the reserved tokens left unused (0 if the request used more than reserved).
   * Settling or releasing twice is a no-op returning 0, so a `finally { release }` is safe.
   */
  settle(reservation: Reservation, actualTokens: number, actualCost: number): number {
    if (!this.finish(reservation, actualTokens)) return 0;
    if (actualCost > 0) {
      const day = utcDayStartMs(reservation.admittedAtMs);
      this.spendByDay.set(day, (this.spendByDay.get(day) ?? 0) + actualCost);
    }
    return Math.max(0, reservation.reservedTokens - actualTokens);
  }

  /**
   * Drops a reservation of a request that failed without usage: its tokens, cost and concurrency
   * slot are freed. The request still counts against RPM (it was made).
   */
  release(reservation: Reservation): void {
    this.finish(reservation, 0);
  }

  /** Spend and alerts of the current UTC day and month at `nowMs`. */
  budgetState(nowMs: number): BudgetState {
    const { spentDay, spentMonth } = this.spent(nowMs);
    const l = this.limits;
    const alertDay = l.budgetPerDay !== undefined && spentDay + MONEY_EPSILON >= l.alertThreshold * l.budgetPerDay;
    const alertMonth = l.budgetPerMonth !== undefined && spentMonth + MONEY_EPSILON >= l.alertThreshold * l.budgetPerMonth;
    return {
      spentDay,
      spentMonth,
      reservedCost: this.reservedCostTotal,
      limitDay: l.budgetPerDay ?? null,
      limitMonth: l.budgetPerMonth ?? null,
      alertDay,
      alertMonth,
      alert: alertDay || alertMonth,
    };
  }

  /** Live window counters at `nowMs` (for metrics). */
  windowState(nowMs: number): WindowState {
    this.expire(nowMs);
    return {
      requests: this.rpmLog.size,
      tokens: this.logTokens + this.staleInFlightTokens,
      inFlight: this.active.size,
      reservedTokens: this.reservedTokensTotal,
    };
  }

  /**
   * Restores settled spend after a restart, from the usage ledger: `day` = spend of requests
   * admitted since the start of the UTC day of `nowMs`, `month` = since the start of its month
   * (day included). Adds to what is already counted.
   */
  restoreSpend(nowMs: number, spent: { day: number; month: number }): void {
    const dayStart = utcDayStartMs(nowMs);
    const monthStart = utcMonthStartMs(nowMs);
    if (spent.day > 0) this.spendByDay.set(dayStart, (this.spendByDay.get(dayStart) ?? 0) + spent.day);
    const earlier = spent.month - spent.day;
    if (earlier > 0 && monthStart < dayStart) {
      this.spendByDay.set(monthStart, (this.spendByDay.get(monthStart) ?? 0) + earlier);
    }
  }

  private finish(r: Reservation, actualTokens: number): boolean {
    if (!r.inFlight || !this.active.has(r)) return false;
    r.inFlight = false;
    this.active.delete(r);
    this.reservedTokensTotal -= r.reservedTokens;
    this.reservedCostTotal -= r.reservedCost;
    if (this.active.size === 0) {
      // Keep float sums from drifting away from zero.
      this.reservedTokensTotal = 0;
      this.reservedCostTotal = 0;
    }
    if (r.inLog) {
      this.logTokens += actualTokens - r.tokens;
      r.tokens = actualTokens;
    } else {
      // Admitted more than a window ago: its real usage falls outside the window already.
      this.staleInFlightTokens -= r.tokens;
      r.tokens = 0;
    }
    return true;
  }

  /** Moves entries past the window out of the RPM and TPM logs; prunes old spend days. */
  private expire(nowMs: number): void {
    const cutoff = nowMs - LIMIT_WINDOW_MS;
    while (this.rpmLog.size > 0 && (this.rpmLog.at(0) ?? Infinity) <= cutoff) this.rpmLog.shift();
    for (let r = this.tpmLog.at(0); r !== undefined && r.admittedAtMs <= cutoff; r = this.tpmLog.at(0)) {
      this.tpmLog.shift();
      r.inLog = false;
      this.logTokens -= r.tokens;
      if (r.inFlight) this.staleInFlightTokens += r.tokens;
    }
    if (this.tpmLog.size === 0) this.logTokens = 0;
    const keepFrom = utcMonthStartMs(utcMonthStartMs(nowMs) - 1);
    for (const day of this.spendByDay.keys()) if (day < keepFrom) this.spendByDay.delete(day);
  }

  /** Time until settled entries leaving the window free `need` tokens (in-flight ones cannot). */
  private tpmRetryAfter(need: number, nowMs: number): number {
    let freed = 0;
    for (let i = 0; i < this.tpmLog.size; i++) {
      const r = this.tpmLog.at(i);
      if (r === undefined) break;
      if (r.inFlight) continue;
      freed += r.tokens;
      if (freed >= need) return r.admittedAtMs + LIMIT_WINDOW_MS - nowMs;
    }
    return this.inFlightRetryAfterMs;
  }

  private spent(nowMs: number): { spentDay: number; spentMonth: number } {
    const dayStart = utcDayStartMs(nowMs);
    const monthStart = utcMonthStartMs(nowMs);
    const monthEnd = utcNextMonthStartMs(nowMs);
    let spentMonth = 0;
    for (const [day, c] of this.spendByDay) if (day >= monthStart && day < monthEnd) spentMonth += c;
    return { spentDay: this.spendByDay.get(dayStart) ?? 0, spentMonth };
  }

  private budgetRefusal(reserveCost: number, nowMs: number): LimitRefusal | undefined {
    const l = this.limits;
    if (l.budgetPerDay === undefined && l.budgetPerMonth === undefined) return undefined;
    const { spentDay, spentMonth } = this.spent(nowMs);
    const reserved = this.reservedCostTotal;
    const periods = [
      { label: 'day', limit: l.budgetPerDay, spent: spentDay, endMs: utcDayStartMs(nowMs) + DAY_MS },
      { label: 'month', limit: l.budgetPerMonth, spent: spentMonth, endMs: utcNextMonthStartMs(nowMs) },
    ];
    for (const p of periods) {
      if (p.limit === undefined) continue;
      if (p.spent + reserved + reserveCost <= p.limit + MONEY_EPSILON) continue;
      const permanent = reserveCost > p.limit + MONEY_EPSILON;
      const untilReset = p.endMs - nowMs;
      // Spend settled so far already leaves no room: wait for the period to end. Otherwise the
      // reservations in flight hold the room, and may free part of it when they settle.
      const settledBlocks = p.spent + reserveCost > p.limit + MONEY_EPSILON;
      const retry = settledBlocks ? untilReset : Math.min(untilReset, this.inFlightRetryAfterMs);
      return refuse('budget_exceeded', retry, permanent, p.limit,
        `tenant '${l.name}' spent ${round(p.spent)} this ${p.label} (UTC) with ${round(reserved)} reserved in flight; ` +
          `this request may cost up to ${round(reserveCost)}, the ${p.label} budget is ${p.limit}`);
    }
    return undefined;
  }
}

/** One limiter per tenant of the stack file, by tenant name. */
export function createTenantLimiters(tenants: readonly TenantLimits[], options: LimiterOptions = {}): ReadonlyMap<string, TenantLimiter> {
  return new Map(tenants.map((t) => [t.name, new TenantLimiter(t, options)]));
}

function refuse(code: LimitCode, retryAfterMs: number, permanent: boolean, limit: number, message: string): LimitRefusal {
  return { ok: false, code, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)), permanent, limit, message };
}

function round(x: number): string {
  return String(Math.round(x * 1e6) / 1e6);
}
