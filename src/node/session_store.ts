// Warm K/V caches kept between requests, keyed by tenant and session key (DESIGN.md §1).
// A request whose prompt shares a prefix with a warm session's cached tokens reuses that
// prefix and prefills only the rest. Tenants never share: the key includes the tenant.
// Idle sessions are evicted least recently used first when the K/V budget runs low.
import type { Engine } from '../engine/engine.ts';

type WarmSession = { key: string; seq: number; tokens: number[] };

export type Lease = {
  seq: number;
  key: string | null; // null: not kept warm after the request
  reused: number; // prompt tokens already in the cache
};

export type SessionStoreOptions = {
  maxWarmSessions: number;
  kvBudgetBlocks: number; // evict idle sessions while the pool holds more than this
};

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class SessionStore {
  private readonly warm = new Map<string, WarmSession>(); // insertion order = LRU order

  constructor(
    private readonly engine: Engine,
    private readonly options: SessionStoreOptions,
  ) {}

  get size(): number {
    return this.warm.size;
  }

  // A sequence for `prompt`: the session's warm one if it exists (truncated to the shared
  // prefix), else a new one. At least one prompt token is always left to prefill, because
  // its logits are what the first generated token is sampled from.
  acquire(tenant: string, sessionKey: string | null, prompt: number[]): Lease {
    const key = sessionKey === null ? null : `${tenant}\u0000${sessionKey}`;
    const session = key === null ? undefined : this.warm.get(key);
    if (!session) return { seq: this.engine.createSequence(), key, reused: 0 };
    this.warm.delete(session.key); // leased: not evictable, and a concurrent request starts cold
    let reused = Math.min(commonPrefix(session.tokens, prompt), prompt.length - 1);
    if (!this.engine.truncateSequence(session.seq, reused)) {
      this.engine.resetSequence(session.seq);
      reused = 0;
    }
    return { seq: session.seq, key, reused };
  }

  // Ends a lease: keeps the cache warm under its key (replacing an older one), or frees it.
  release(lease: Lease, cachedTokens: number[]): void {
    if (lease.key === null || this.options.maxWarmSessions === 0) {
      this.engine.freeSequence(lease.seq);
      return;
    }
    const previous = this.warm.get(lease.key);
    if (previous) {
      this.warm.delete(lease.key);
      this.engine.freeSequence(previous.seq);
    }
    this.warm.set(lease.key, { key: lease.key, seq: lease.seq, tokens: cachedTokens });
    this.evict();
  }

  // Frees idle sessions, least recently used first, until both limits hold. Returns how many.
  evict(force = false): number {
    let evicted = 0;
    for (const session of this.warm.values()) {
      const overCount = this.warm.size > this.options.maxWarmSessions;
      const overBudget = this.engine.info().kvBlocksInUse > this.options.kvBudgetBlocks;
      if (!force && !overCount && !overBudget) break;
      this.warm.delete(session.key);
      this.engine.freeSequence(session.seq);
      evicted++;
      if (force) break;
    }
    return evicted;
  }

  clear(): void {
    for (const session of this.warm.values()) this.engine.freeSequence(session.seq);
    this.warm.clear();
  }
}
