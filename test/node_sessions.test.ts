// Warm sessions in-process: prefix reuse, tenant isolation, LRU eviction by count and by
// K/V budget, and the runner reusing a released session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { SessionStore } from '../src/node/session_store.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
let engine: Engine;
beforeAll(async () => {
  engine = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 3, window: null }));
});
afterAll(async () => {
  await engine.close();
  models.cleanup();
});

describe('session store', () => {
  it('reuses the shared prefix of a warm session, leaving one token to prefill', async () => {
    const store = new SessionStore(engine, { maxWarmSessions: 8, kvBudgetBlocks: 1000 });
    const first = prompt(30, 1, 512);
    const lease = store.acquire('tenant-a', 's1', first);
    expect(lease.reused).toBe(0);
    await engine.step([{ sequence: lease.seq, tokens: first }]);
    store.release(lease, first);

    const extended = [...first, ...prompt(5, 2, 512)];
    const again = store.acquire('tenant-a', 's1', extended);
    expect(again.seq).toBe(lease.seq);
    expect(again.reused).toBe(30);
    store.release(again, first);

    const same = store.acquire('tenant-a', 's1', first);
    expect(same.reused).toBe(29); // the last prompt token is recomputed for its logits
    expect(engine.sequenceLength(same.seq)).toBe(29);
    store.release(same, first.slice(0, 29));

    const diverged = store.acquire('tenant-a', 's1', [...first.slice(0, 10), ...prompt(8, 3, 512)]);
    expect(diverged.reused).toBe(10);
    expect(engine.sequenceLength(diverged.seq)).toBe(10);
    store.release(diverged, first.slice(0, 10));
    store.clear();
  });

  it('never shares between tenants', () => {
    const store = new SessionStore(engine, { maxWarmSessions: 8, kvBudgetBlocks: 1000 });
    const p = prompt(20, 4, 512);
    const a = store.acquire('tenant-a', 'same-id', p);
    store.release(a, p.slice(0, 19));
    const b = store.acquire('tenant-b', 'same-id', p);
    expect(b.reused).toBe(0);
    expect(b.seq).not.toBe(a.seq);
    store.release(b, []);
    store.clear();
  });

  it('evicts the least recently used idle sessions beyond the count limit', () => {
    const store = new SessionStore(engine, { maxWarmSessions: 2, kvBudgetBlocks: 1000 });
    const seqs = new Map<string, number>();
    for (const id of ['x', 'y', 'z']) {
      const lease = store.acquire('t', id, [1, 2, 3]);
      seqs.set(id, lease.seq);
      store.release(lease, []);
    }
    expect(store.size).toBe(2);
    expect(engine.sequenceLength(seqs.get('x')!)).toBe(-1); // evicted: its sequence was freed
    expect(engine.sequenceLength(seqs.get('z')!)).toBe(0); // still warm
    expect(store.acquire('t', 'z', [1, 2, 3]).seq).toBe(seqs.get('z'));
    store.clear();
  });

  it('evicts idle sessions while the K/V pool is over its budget', async () => {
    const before = engine.info().kvBlocksInUse;
    const store = new SessionStore(engine, { maxWarmSessions: 100, kvBudgetBlocks: before + 4 });
    for (let i = 0; i < 4; i++) {
      const p = prompt(40, 10 + i, 512); // 3 blocks of 16 slots each
      const lease = store.acquire('t', `big-${i}`, p);
      await engine.step([{ sequence: lease.seq, tokens: p }]);
      store.release(lease, p);
    }
    expect(engine.info().kvBlocksInUse).toBeLessThanOrEqual(before + 4);
    expect(store.size).toBeLessThan(4);
    store.clear();
    expect(engine.info().kvBlocksInUse).toBe(before);
  });
});
