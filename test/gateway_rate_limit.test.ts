// RateLimiter (on this process's memory counters) with an injected clock: token buckets refilled continuously, OpenAI-style
// headers, Retry-After, token debt from record(), release(), and dropping idle keys.
import { describe, expect, it } from 'vitest';
import { formatResetDuration, RateLimiter, type RateLimitDecision } from '../src/gateway/rate_limit.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const rpm = (n: number) => ({ requests_per_minute: n, tokens_per_minute: null });
const tpm = (n: number) => ({ requests_per_minute: null, tokens_per_minute: n });

function refused(d: RateLimitDecision) {
  if (d.allowed) throw new Error('expected a refusal');
  return d;
}

describe('RateLimiter', () => {
  it('allows everything, with no headers, when both limits are null', async () => {
    const limiter = new RateLimiter({ now: clock().now });
    for (let i = 0; i < 1000; i++) {
      const d = await limiter.check('key_a', { requests_per_minute: null, tokens_per_minute: null }, 1e6);
      expect(d).toMatchObject({ allowed: true, headers: {} });
    }
    expect(limiter.trackedKeys).toBe(0);
  });

  it('admits a burst of rpm requests, then refuses with Retry-After until one refills', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    for (let i = 0; i < 6; i++) expect((await limiter.check('key_a', rpm(6), 0)).allowed).toBe(true);
    const no = refused(await limiter.check('key_a', rpm(6), 0));
    expect(no.reason).toBe('requests');
    expect(no.exceedsLimit).toBe(false);
    expect(no.retryAfterSeconds).toBe(10); // 6/min = one every 10 s
    expect(no.headers).toEqual({
      'x-ratelimit-limit-requests': '6',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
      'retry-after': '10',
    });
    c.advance(9_000);
    expect(refused(await limiter.check('key_a', rpm(6), 0)).retryAfterSeconds).toBe(1);
    c.advance(1_000);
    expect((await limiter.check('key_a', rpm(6), 0)).allowed).toBe(true);
    expect((await limiter.check('key_b', rpm(6), 0)).allowed).toBe(true); // keys are independent
  });

  it('sends OpenAI-style headers on admission', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    const d = await limiter.check('key_a', { requests_per_minute: 60, tokens_per_minute: 1000 }, 100);
    expect(d.allowed).toBe(true);
    expect(d.headers).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '900',
      'x-ratelimit-reset-tokens': '6s',
    });
    // Only the limits that apply: a null limit has no headers.
    expect(Object.keys((await limiter.check('key_b', tpm(10), 1)).headers).sort()).toEqual([
      'x-ratelimit-limit-tokens',
      'x-ratelimit-remaining-tokens',
      'x-ratelimit-reset-tokens',
    ]);
  });

  it('charges prompt tokens at check and completion tokens at record, refusing on tokens', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    expect((await limiter.check('key_a', tpm(600), 300)).allowed).toBe(true);
    await limiter.record('key_a', tpm(600), 200); // the completion
    const no = refused(await limiter.check('key_a', tpm(600), 200));
    expect(no.reason).toBe('tokens');
    expect(no.headers['x-ratelimit-remaining-tokens']).toBe('100');
    expect(no.retryAfterSeconds).toBe(10); // 100 missing at 10 tokens/s
    c.advance(10_000);
    expect((await limiter.check('key_a', tpm(600), 200)).allowed).toBe(true);
  });

  it('lets a long completion put the key in debt, which delays its next request', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    expect((await limiter.check('key_a', tpm(60), 10)).allowed).toBe(true);
    await limiter.record('key_a', tpm(60), 110); // 120 spent of 60: 60 in debt
    const no = refused(await limiter.check('key_a', tpm(60), 0));
    expect(no.headers['x-ratelimit-remaining-tokens']).toBe('0');
    expect(no.retryAfterSeconds).toBe(60);
    c.advance(60_000);
    expect((await limiter.check('key_a', tpm(60), 0)).allowed).toBe(true);
  });

  it('prechecks without taking: refuses a key out of requests or in token debt, before its prompt is counted', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    expect(await limiter.precheck('key_a', rpm(1))).toBeNull();
    expect(await limiter.precheck('key_a', rpm(1))).toBeNull(); // a precheck takes nothing
    expect((await limiter.check('key_a', rpm(1), 0)).allowed).toBe(true);
    expect(await limiter.precheck('key_a', rpm(1))).toMatchObject({ allowed: false, reason: 'requests', retryAfterSeconds: 60, headers: { 'retry-after': '60' } });
    expect((await limiter.check('key_b', tpm(60), 10)).allowed).toBe(true);
    expect(await limiter.precheck('key_b', tpm(60))).toBeNull(); // 50 tokens left
    await limiter.record('key_b', tpm(60), 80); // 30 in debt
    expect(await limiter.precheck('key_b', tpm(60))).toMatchObject({ allowed: false, reason: 'tokens', retryAfterSeconds: 31 });
    c.advance(31_000);
    expect(await limiter.precheck('key_b', tpm(60))).toBeNull();
    expect(await limiter.precheck('key_c', { requests_per_minute: null, tokens_per_minute: null })).toBeNull();
  });

  it('refuses a prompt larger than the whole per-minute budget as exceeding the limit', async () => {
    const limiter = new RateLimiter({ now: clock().now });
    const no = refused(await limiter.check('key_a', tpm(100), 101));
    expect(no).toMatchObject({ reason: 'tokens', exceedsLimit: true, retryAfterSeconds: 60 });
    expect((await limiter.check('key_a', tpm(100), 100)).allowed).toBe(true);
  });

  it('refunds a released admission once', async () => {
    const limiter = new RateLimiter({ now: clock().now });
    const d = await limiter.check('key_a', { requests_per_minute: 1, tokens_per_minute: 100 }, 80);
    if (!d.allowed) throw new Error('expected admission');
    expect(refused(await limiter.check('key_a', { requests_per_minute: 1, tokens_per_minute: 100 }, 0)).reason).toBe('requests');
    d.release();
    d.release(); // idempotent: never above the limit
    const again = await limiter.check('key_a', { requests_per_minute: 1, tokens_per_minute: 100 }, 0);
    expect(again.headers['x-ratelimit-remaining-tokens']).toBe('100');
  });

  it('reports the longer wait when both limits refuse', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    const limits = { requests_per_minute: 60, tokens_per_minute: 60 };
    expect((await limiter.check('key_a', limits, 60)).allowed).toBe(true);
    const no = refused(await limiter.check('key_a', limits, 30)); // tokens: 30 s; requests: fine
    expect(no).toMatchObject({ reason: 'tokens', retryAfterSeconds: 30 });
  });

  it('follows a changed limit, keeping what the key has spent', async () => {
    const limiter = new RateLimiter({ now: clock().now });
    for (let i = 0; i < 5; i++) await limiter.check('key_a', rpm(10), 0);
    expect((await limiter.check('key_a', rpm(3), 0)).allowed).toBe(true); // 3 left under the new limit, 1 taken
    expect((await limiter.check('key_a', rpm(3), 0)).headers['x-ratelimit-remaining-requests']).toBe('1');
  });

  it('drops keys that have been idle and are full again, keeps the others', async () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now, idleMs: 120_000, sweepIntervalMs: 10_000 });
    for (let i = 0; i < 100; i++) await limiter.check(`key_${i}`, rpm(5), 0);
    await limiter.check('key_debt', tpm(10), 10);
    await limiter.record('key_debt', tpm(10), 10_000); // 1000 minutes of debt: must not be forgotten
    expect(limiter.trackedKeys).toBe(101);
    c.advance(130_000);
    await limiter.check('key_new', rpm(5), 0);
    expect(limiter.trackedKeys).toBe(2);
    expect(refused(await limiter.check('key_debt', tpm(10), 0)).reason).toBe('tokens');
  });

  it('validates its options and inputs', async () => {
    expect(() => new RateLimiter({ idleMs: 0 })).toThrow();
    expect(() => new RateLimiter({ now: 5 as unknown as () => number })).toThrow();
    const limiter = new RateLimiter();
    await expect(limiter.check('key_a', rpm(0), 0)).rejects.toThrow();
    await expect(limiter.check('key_a', rpm(5), -1)).rejects.toThrow();
    await expect(limiter.check('key_a', rpm(5), Number.NaN)).rejects.toThrow();
    await expect(limiter.record('key_a', tpm(5), Number.POSITIVE_INFINITY)).rejects.toThrow();
  });
});

describe('formatResetDuration', () => {
  it('writes durations as OpenAI does', async () => {
    expect(formatResetDuration(0)).toBe('0s');
    expect(formatResetDuration(16.2)).toBe('17ms');
    expect(formatResetDuration(6000)).toBe('6s');
    expect(formatResetDuration(8640)).toBe('8.64s');
    expect(formatResetDuration(60_000)).toBe('1m0s');
    expect(formatResetDuration(90_500)).toBe('1m30.5s');
  });
});
