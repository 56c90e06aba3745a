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
// Memory: a key's state is dropped once it has been idle for `idleMs` (default 10 min) and its
// buckets are full again, i.e. once it is indistinguishable from a fresh key. A record() for a
// dropped key (a response arriving more than idleMs after check) is ignored.
import { z } from 'zod';

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
});
export type RateLimiterOptions = z.infer<typeof OptionsSchema>;

const LimitsSchema = z.object({
  requests_per_minute: z.number().int().positive().nullable(),
  tokens_per_minute: z.number().int().positive().nullable(),
});

const MINUTE_MS = 60_000;

class Bucket {
  constructor(readonly capacity: number, private level: number, private at: number) {}

  /** Level at `now`, after refilling since the last update (not above capacity). */
  levelAt(now: number): number {
    return Math.min(this.capacity, this.level + ((now - this.at) * this.capacity) / MINUTE_MS);
  }
  take(amount: number, now: number): void {
    this.level = Math.min(this.capacity, this.levelAt(now) - amount);
    this.at = now;
  }
  /** Milliseconds until the level reaches `amount` (0 if it already has). */
  msUntil(amount: number, now: number): number {
    const missing = amount - this.levelAt(now);
    return missing <= 0 ? 0 : (missing * MINUTE_MS) / this.capacity;
  }
  isFull(now: number): boolean {
    return this.levelAt(now) >= this.capacity;
  }
  /** Same level, another capacity: a key whose limit changed keeps what it has spent. */
  resized(capacity: number, now: number): Bucket {
    return new Bucket(capacity, Math.min(capacity, this.levelAt(now)), now);
  }
}

type KeyState = { requests: Bucket | null; tokens: Bucket | null; lastSeen: number };

/** OpenAI's reset format: "17ms", "6s", "8.64s", "1m0s". */
export function formatResetDuration(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole <= 0) return '0s';
  if (whole < 1000) return `${whole}ms`;
  const minutes = Math.floor(whole / MINUTE_MS);
  const seconds = Number(((whole - minutes * MINUTE_MS) / 1000).toFixed(3));
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

function bucketFor(old: Bucket | null, limit: number | null, now: number): Bucket | null {
  if (limit === null) return null;
  if (old === null) return new Bucket(limit, limit, now);
  return old.capacity === limit ? old : old.resized(limit, now);
}

function describe(headers: Record<string, string>, kind: 'requests' | 'tokens', b: Bucket | null, now: number): void {
  if (b === null) return; // unlimited: no headers, as OpenAI does for limits that do not apply
  headers[`x-ratelimit-limit-${kind}`] = String(b.capacity);
  headers[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, Math.floor(b.levelAt(now))));
  headers[`x-ratelimit-reset-${kind}`] = formatResetDuration(b.msUntil(b.capacity, now));
}

export class RateLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly now: () => number;
  private readonly idleMs: number;
  private readonly sweepIntervalMs: number;
  private lastSweep: number;

  constructor(opts: RateLimiterOptions = {}) {
    const o = OptionsSchema.parse(opts);
    this.now = o.now ?? (() => Date.now());
    this.idleMs = o.idleMs ?? 10 * MINUTE_MS;
    this.sweepIntervalMs = o.sweepIntervalMs ?? MINUTE_MS;
    this.lastSweep = this.now();
  }

  /** Admits (and charges 1 request + `promptTokens`) or refuses a request of `keyId`. */
  check(keyId: string, limits: RateLimits, promptTokens: number): RateLimitDecision {
    LimitsSchema.parse(limits);
    if (!Number.isFinite(promptTokens) || promptTokens < 0) throw new RangeError(`promptTokens must be a finite number ≥ 0, got ${promptTokens}`);
    const now = this.now();
    this.maybeSweep(now);
    if (limits.requests_per_minute === null && limits.tokens_per_minute === null) {
      return { allowed: true, headers: {}, release: () => {} };
    }
    const old = this.keys.get(keyId);
    const state: KeyState = {
      requests: bucketFor(old?.requests ?? null, limits.requests_per_minute, now),
      tokens: bucketFor(old?.tokens ?? null, limits.tokens_per_minute, now),
      lastSeen: now,
    };
    this.keys.set(keyId, state);

    const exceedsLimit = state.tokens !== null && promptTokens > state.tokens.capacity;
    const requestWait = state.requests?.msUntil(1, now) ?? 0;
    const tokenWait = exceedsLimit ? MINUTE_MS : (state.tokens?.msUntil(promptTokens, now) ?? 0);
    if (requestWait > 0 || tokenWait > 0 || exceedsLimit) {
      const headers: Record<string, string> = {};
      describe(headers, 'requests', state.requests, now);
      describe(headers, 'tokens', state.tokens, now);
      const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(requestWait, tokenWait) / 1000));
      headers['retry-after'] = String(retryAfterSeconds);
      const reason = exceedsLimit || tokenWait > requestWait ? 'tokens' : 'requests';
      return { allowed: false, reason, retryAfterSeconds, headers, exceedsLimit };
    }

    state.requests?.take(1, now);
    state.tokens?.take(promptTokens, now);
    const headers: Record<string, string> = {};
    describe(headers, 'requests', state.requests, now);
    describe(headers, 'tokens', state.tokens, now);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const t = this.now();
      state.requests?.take(-1, t);
      state.tokens?.take(-promptTokens, t);
    };
    return { allowed: true, headers, release };
  }

  /** Charges `tokens` more to `keyId` (negative refunds), e.g. the completion once it is known. */
  record(keyId: string, tokens: number): void {
    if (!Number.isFinite(tokens)) throw new RangeError(`tokens must be finite, got ${tokens}`);
    const state = this.keys.get(keyId);
    if (state?.tokens) {
      const now = this.now();
      state.tokens.take(tokens, now);
      state.lastSeen = now;
    }
  }

  /** Keys currently tracked (for tests and metrics). */
  get trackedKeys(): number {
    return this.keys.size;
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = now;
    for (const [id, s] of this.keys) {
      if (now - s.lastSeen >= this.idleMs && (s.requests?.isFull(now) ?? true) && (s.tokens?.isFull(now) ?? true)) this.keys.delete(id);
    }
  }
}
