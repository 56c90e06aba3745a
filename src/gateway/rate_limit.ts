// Per-key rate limits: requests per minute and tokens per minute.
//
// Algorithm: one token bucket per key and limit, refilled continuously at limit/60 per second
// up to `limit` (a key idle for a minute has its whole minute's budget; a key at a steady
// rate never exceeds limit per minute over any 60 s window plus one burst of `limit`).
// Continuous refill gives smooth Retry-After values, unlike a fixed window that resets
// everyone at the minute boundary.
//
// Charging: check() takes 1 request and the prompt's tokens up front, so concurrent requests
// cannot all spend the same budget; record() charges what the response used afterwards
// (completion tokens, or a correction of the prompt estimate, negative to refund). Tokens
// may go into debt: a long completion delays the key's next requests rather than being free.
// release() gives back the admission of a request that never reached a node.
//
// State: the bucket levels live in a LimitCounters (store/limit_counters.ts): this process's
// memory by default (a key idle for `idleMs`, default 10 min, with full buckets is dropped), or
// the shared database, so that several gateway replicas enforce one limit per key.
import { z } from 'zod';
import { MemoryLimitCounters, MINUTE_MS, type Capacities, type LimitCounters, type Levels } from './store/limit_counters.ts';

export type RateLimits = { requests_per_minute: number | null; tokens_per_minute: number | null };

export type RateLimitDecision =
  | { allowed: true; headers: Record<string, string>; release: () => void }
  | {
      allowed: false;
      reason: 'requests' | 'tokens';
      retryAfterSeconds: number;
      headers: Record<string, string>;
      /** The prompt alone is over tokens_per_minute: waiting cannot help (answer 429 "request too large"). */
      exceedsLimit: boolean;
    };

const OptionsSchema = z.strictObject({
  now: z.custom<() => number>((v) => typeof v === 'function', 'now must be a function returning milliseconds').optional(),
  idleMs: z.number().int().positive().optional(),
  sweepIntervalMs: z.number().int().positive().optional(),
  counters: z.custom<LimitCounters>((v) => typeof v === 'object' && v !== null && 'take' in v, 'counters must be a LimitCounters').optional(),
});
export type RateLimiterOptions = z.infer<typeof OptionsSchema>;

const LimitsSchema = z.object({
  requests_per_minute: z.number().int().positive().nullable(),
  tokens_per_minute: z.number().int().positive().nullable(),
});

/** OpenAI's reset format: "17ms", "6s", "8.64s", "1m0s". */
export function formatResetDuration(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole <= 0) return '0s';
  if (whole < 1000) return `${whole}ms`;
  const minutes = Math.floor(whole / MINUTE_MS);
  const seconds = Number(((whole - minutes * MINUTE_MS) / 1000).toFixed(3));
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

/** Milliseconds until a bucket at `level` holds `amount` (0 if it already does). */
const msUntil = (capacity: number, level: number, amount: number) => (amount <= level ? 0 : ((amount - level) * MINUTE_MS) / capacity);

function headersOf(caps: Capacities, levels: Levels): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const cap = caps[kind];
    const level = levels[kind];
    if (cap === null || level === null) continue; // unlimited: no headers, as OpenAI does for limits that do not apply
    headers[`x-ratelimit-limit-${kind}`] = String(cap);
    headers[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, Math.floor(level)));
    headers[`x-ratelimit-reset-${kind}`] = formatResetDuration(msUntil(cap, level, cap));
  }
  return headers;
}

// Why a request is refused at these levels, and when to retry (whole seconds, at least 1).
function refusal(caps: Capacities, levels: Levels, promptTokens: number, exceedsLimit: boolean): Extract<RateLimitDecision, { allowed: false }> {
  const requestWait = caps.requests === null ? 0 : msUntil(caps.requests, levels.requests!, 1);
  const tokenWait = exceedsLimit ? MINUTE_MS : caps.tokens === null ? 0 : msUntil(caps.tokens, levels.tokens!, promptTokens);
  const headers = headersOf(caps, levels);
  const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(requestWait, tokenWait) / 1000));
  headers['retry-after'] = String(retryAfterSeconds);
  const reason = exceedsLimit || tokenWait > requestWait ? 'tokens' : 'requests';
  return { allowed: false, reason, retryAfterSeconds, headers, exceedsLimit };
}

export class RateLimiter {
  private readonly now: () => number;
  private readonly counters: LimitCounters;

  constructor(opts: RateLimiterOptions = {}) {
    const o = OptionsSchema.parse(opts);
    this.now = o.now ?? (() => Date.now());
    this.counters = o.counters ?? new MemoryLimitCounters({ idleMs: o.idleMs ?? 10 * MINUTE_MS, sweepIntervalMs: o.sweepIntervalMs ?? MINUTE_MS });
  }

  /**
   * The cheap refusal that comes before any work on the prompt (tokenizing it, planning it): a
   * key with no request left in its bucket, or whose tokens are spent (in debt from earlier
   * completions), is refused now. Takes nothing: check() decides, atomically, once the prompt
   * is counted. null = not refused.
   */
  async precheck(keyId: string, limits: RateLimits): Promise<Extract<RateLimitDecision, { allowed: false }> | null> {
    LimitsSchema.parse(limits);
    if (limits.requests_per_minute === null && limits.tokens_per_minute === null) return null;
    const caps: Capacities = { requests: limits.requests_per_minute, tokens: limits.tokens_per_minute };
    const { levels } = await this.counters.take(keyId, caps, { requests: 0, tokens: 0 }, false, this.now());
    const spent = (levels.requests !== null && levels.requests < 1) || (levels.tokens !== null && levels.tokens < 1);
    return spent ? refusal(caps, levels, 1, false) : null;
  }

  /** Admits (and charges 1 request + `promptTokens`) or refuses a request of `keyId`. */
  async check(keyId: string, limits: RateLimits, promptTokens: number): Promise<RateLimitDecision> {
    LimitsSchema.parse(limits);
    if (!Number.isFinite(promptTokens) || promptTokens < 0) throw new RangeError(`promptTokens must be a finite number ≥ 0, got ${promptTokens}`);
    if (limits.requests_per_minute === null && limits.tokens_per_minute === null) return { allowed: true, headers: {}, release: () => {} };
    const caps: Capacities = { requests: limits.requests_per_minute, tokens: limits.tokens_per_minute };
    const now = this.now();
    const exceedsLimit = caps.tokens !== null && promptTokens > caps.tokens;
    const amounts = { requests: 1, tokens: caps.tokens === null ? 0 : promptTokens };
    // A prompt over the whole limit is refused; taking nothing just reads the levels.
    const { taken, levels } = await this.counters.take(keyId, caps, exceedsLimit ? { requests: 0, tokens: 0 } : amounts, false, now);
    if (!taken || exceedsLimit) return refusal(caps, levels, promptTokens, exceedsLimit);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void this.counters.take(keyId, caps, { requests: -1, tokens: -amounts.tokens }, true, this.now()).catch(() => undefined);
    };
    return { allowed: true, headers: headersOf(caps, levels), release };
  }

  /** Charges `tokens` more to `keyId` (negative refunds), e.g. the completion once it is known. */
  async record(keyId: string, limits: RateLimits, tokens: number): Promise<void> {
    if (!Number.isFinite(tokens)) throw new RangeError(`tokens must be finite, got ${tokens}`);
    if (limits.tokens_per_minute === null) return;
    await this.counters.take(keyId, { requests: limits.requests_per_minute, tokens: limits.tokens_per_minute }, { requests: 0, tokens }, true, this.now());
  }

  /** Keys whose state this process tracks (memory counters only; for tests). */
  get trackedKeys(): number {
    return this.counters instanceof MemoryLimitCounters ? this.counters.trackedKeys : 0;
  }
}
