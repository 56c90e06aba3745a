// Where per-key rate-limit state lives: two token buckets per key (requests, tokens), refilled
// continuously at capacity/60 per second up to capacity. RateLimiter (../rate_limit.ts) decides;
// a LimitCounters keeps the levels and changes them atomically, in this process
// (MemoryLimitCounters) or shared by every gateway replica (PostgresLimitCounters).
export const MINUTE_MS = 60_000;

/** Bucket capacities of a key; null = no such limit (no bucket). */
export type Capacities = { requests: number | null; tokens: number | null };
export type Amounts = { requests: number; tokens: number };
/** Levels after the operation (unchanged when refused); null where there is no bucket. */
export type Levels = { requests: number | null; tokens: number | null };

export interface LimitCounters {
  /**
   * Refills the key's buckets to `now`, then takes `amounts` from them if every bucket holds
   * its amount — or in any case when `force` (charges and refunds may go into debt). Atomic
   * with respect to every other call on the same key, in every process sharing the store.
   */
  take(keyId: string, caps: Capacities, amounts: Amounts, force: boolean, now: number): Promise<{ taken: boolean; levels: Levels }>;
}

/** The level of a bucket last at `level` (time `at`) refilled to `now`. */
export const refilled = (capacity: number, level: number, at: number, now: number) => Math.min(capacity, level + (Math.max(0, now - at) * capacity) / MINUTE_MS);

type Bucket = { level: number; at: number; capacity: number };
type KeyState = { requests: Bucket | null; tokens: Bucket | null; lastSeen: number };

export class MemoryLimitCounters implements LimitCounters {
  private readonly keys = new Map<string, KeyState>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  /** A key idle for `idleMs` with full buckets is dropped (indistinguishable from a new one). */
  constructor(private readonly options: { idleMs: number; sweepIntervalMs: number }) {}

  async take(keyId: string, caps: Capacities, amounts: Amounts, force: boolean, now: number) {
    this.sweep(now);
    const state = this.keys.get(keyId) ?? { requests: null, tokens: null, lastSeen: now };
    const level = (kind: 'requests' | 'tokens') => {
      const cap = caps[kind];
      if (cap === null) return null;
      const b = state[kind];
      return b === null ? cap : refilled(cap, b.level, b.at, now);
    };
    const levels: Levels = { requests: level('requests'), tokens: level('tokens') };
    const taken = force || ((levels.requests ?? Infinity) >= amounts.requests && (levels.tokens ?? Infinity) >= amounts.tokens);
    if (taken) {
      for (const kind of ['requests', 'tokens'] as const) {
        const l = levels[kind];
        if (l === null) continue;
        levels[kind] = Math.min(caps[kind]!, l - amounts[kind]);
        state[kind] = { level: levels[kind]!, at: now, capacity: caps[kind]! };
      }
    }
    state.lastSeen = now;
    this.keys.set(keyId, state);
    return { taken, levels };
  }

  /** Keys currently tracked (for tests). */
  get trackedKeys(): number {
    return this.keys.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.options.sweepIntervalMs) return;
    this.lastSweep = now;
    for (const [id, s] of this.keys) {
      const full = (b: Bucket | null) => b === null || refilled(b.capacity, b.level, b.at, now) >= b.capacity;
      if (now - s.lastSeen >= this.options.idleMs && full(s.requests) && full(s.tokens)) this.keys.delete(id);
    }
  }
}
