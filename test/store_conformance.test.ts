// One conformance suite for the gateway's store (API keys, usage ledger, rate-limit counters,
// the Batch API's files and jobs),
// run on both implementations: the embedded one (files in a data dir, counters in memory) and
// PostgreSQL (a real server started for this file). Two instances on the same state stand for
// two processes; the last block holds only for a store several replicas write at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileBlobs } from '../src/gateway/batches/file_blobs.ts';
import { reconcileAdmissions } from '../src/gateway/ledger/admission_journal.ts';
import type { UsageRecord } from '../src/gateway/ledger/usage_record.ts';
import { openStore, type GatewayStore } from '../src/gateway/store/gateway_store.ts';
import { MemoryLimitCounters, type LimitCounters } from '../src/gateway/store/limit_counters.ts';
import { freshDatabase, startPostgres, type TestPostgres } from './helpers/postgres.ts';

let postgres: TestPostgres;
const tmp = mkdtempSync(join(tmpdir(), 'sirocco-store-'));
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

type Kind = { name: string; location: (suite: string) => Promise<{ dataDir: string; databaseUrl: string | null }> };
const kinds: Kind[] = [
  { name: 'embedded', location: async (suite) => ({ dataDir: join(tmp, suite), databaseUrl: null }) },
  { name: 'postgres', location: async (suite) => ({ dataDir: join(tmp, `unused-${suite}`), databaseUrl: await freshDatabase(postgres.url, suite) }) },
];

let sequence = 0;
const record = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  request_id: `req_${++sequence}`,
  key_id: 'key_aaaaaaaaaaaa',
  model: 'm',
  endpoint: 'chat.completions',
  status: 'ok',
  prompt_tokens: 10,
  cached_tokens: 2,
  completion_tokens: 5,
  n: 1,
  node: 'http://127.0.0.1:1',
  started_at: new Date(Date.UTC(2026, 11, 1, 0, 0, sequence)).toISOString(),
  finished_at: new Date(Date.UTC(2026, 11, 1, 0, 1, sequence)).toISOString(),
  error: null,
  cost: null,
  batch_id: null,
  ...over,
});

const countersOf = (store: GatewayStore): LimitCounters => store.counters ?? new MemoryLimitCounters({ idleMs: 600_000, sweepIntervalMs: 60_000 });

const opened: GatewayStore[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

/** Two stores on the same state: a second process (a second replica) beside the first. */
async function openTwo(kind: Kind, suite: string) {
  const where = await kind.location(suite);
  const a = await openStore(where);
  const b = await openStore(where);
  opened.push(a, b);
  return [a, b] as const;
}

describe.each(kinds)('$name store', (kind) => {
  const open = (suite: string) => openTwo(kind, suite);

  it('keys: create, verify, list, revoke', async () => {
    const [store] = await open(`${kind.name}_keys`);
    const { record: r, key } = await store.keys.create('alice', { requests_per_minute: 5 });
    expect(key).toMatch(/^sk-/);
    expect(r).toMatchObject({ name: 'alice', revoked_at: null, limits: { requests_per_minute: 5, tokens_per_minute: null } });
    expect(r.hmac).not.toContain(key.slice(3));
    expect(await store.keys.verify(key)).toEqual(r);
    expect(await store.keys.verify(`${key.slice(0, -1)}x`)).toBeNull();
    expect(await store.keys.verify('not a key')).toBeNull();
    expect(r.admin).toBe(false);
    const other = await store.keys.create('bob', {}, { admin: true });
    expect((await store.keys.verify(other.key))?.admin).toBe(true);
    expect((await store.keys.list()).map((k) => [k.name, k.admin])).toEqual([['alice', false], ['bob', true]]);
    expect(await store.keys.revoke(r.id)).toBe(true);
    expect(await store.keys.revoke(r.id)).toBe(true);
    expect(await store.keys.revoke('key_000000000000')).toBe(false);
    expect(await store.keys.verify(key)).toBeNull();
    expect(await store.keys.verify(other.key)).not.toBeNull();
    const listed = await store.keys.list();
    expect(listed[0]!.revoked_at).not.toBeNull();
    expect(listed[1]!.revoked_at).toBeNull();
    expect(await store.keys.get(r.id)).toEqual(listed[0]);
    expect(await store.keys.get('key_000000000000')).toBeNull();
    await expect(store.keys.create('')).rejects.toThrow();
  });

  it('keys: another process sees a new key at once and a revocation within a second', async () => {
    const [a, b] = await open(`${kind.name}_keys_shared`);
    const { key, record: r } = await a.keys.create('carol');
    expect((await b.keys.verify(key))?.id).toBe(r.id);
    await b.keys.revoke(r.id);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await a.keys.verify(key)).toBeNull();
  });

  it("batches: files and jobs seen by every process, a key's own only; changes to a job never lost; a job's lines written once, in order", async () => {
    const [a, b] = await open(`${kind.name}_batches`);
    const blobs = openFileBlobs(join(tmp, `${kind.name}_blobs`));
    const [x, y] = await Promise.all([a, b].map((s) => s.openBatches({ blobs, staleMs: 1000 })));
    const file = await x!.files.create('key_a', 'in.jsonl', 'batch', 'hello');
    expect(await y!.files.get('key_a', file.id)).toEqual(file);
    expect(await y!.files.get('key_b', file.id)).toBeNull();
    expect(new TextDecoder().decode(await y!.files.content(file.id))).toBe('hello');
    const job = await x!.jobs.create('key_a', { endpoint: '/v1/chat/completions', input_file_id: file.id, metadata: null });
    expect((await y!.jobs.list('key_a')).map((j) => j.id)).toEqual([job.id]);
    expect(await y!.jobs.list('key_b')).toEqual([]);

    // Changes at once (from both processes where replicas share the store; one gateway a data dir otherwise).
    const writers = kind.name === 'postgres' ? [x!, y!] : [x!];
    await Promise.all(Array.from({ length: 20 }, (_, i) => writers[i % writers.length]!.jobs.update(job.id, (r) => void r.request_counts.completed++)));
    expect((await y!.jobs.read(job.id))!.request_counts.completed).toBe(20);

    const line = (n: number) => ({ id: `batch_req_${n}`, custom_id: `c${n}`, response: null, error: { code: 'x', message: `line ${n}` } });
    await x!.jobs.lines.append(job.id, [line(1), line(2)]);
    await x!.jobs.lines.append(job.id, [line(2), line(3)]);
    expect((await x!.jobs.lines.read(job.id)).map((l) => l.custom_id)).toEqual(['c1', 'c2', 'c3']);
    await x!.jobs.lines.drop(job.id);
    expect(await x!.jobs.lines.read(job.id)).toEqual([]);
    expect(await x!.files.delete('key_b', file.id)).toBe(false);
    expect(await x!.files.delete('key_a', file.id)).toBe(true);
    expect(await y!.files.get('key_a', file.id)).toBeNull();
  });

  it('ledger: one record per request id, in append order, filtered by key, batch job and time', async () => {
    const [store] = await open(`${kind.name}_ledger`);
    const first = record({ cost: 0.00012345 });
    const second = record({ key_id: 'key_bbbbbbbbbbbb', status: 'rejected', node: null, error: 'rate limit', n: 0, completion_tokens: 0, batch_id: 'batch_000000000000000000000001' });
    expect(await store.ledger.append(first)).toBe('written');
    expect(await store.ledger.append(second)).toBe('written');
    expect(await store.ledger.append({ ...first, completion_tokens: 99 })).toBe('duplicate');
    expect(await store.ledger.read()).toEqual([first, second]);
    expect(await store.ledger.read({ keyId: 'key_bbbbbbbbbbbb' })).toEqual([second]);
    expect(await store.ledger.read({ batchId: 'batch_000000000000000000000001' })).toEqual([second]);
    expect(await store.ledger.read({ since: new Date(second.started_at) })).toEqual([second]);
    await expect(store.ledger.append(record({ cached_tokens: 11 }))).rejects.toThrow();
    expect(await store.ledger.read()).toHaveLength(2);
  });

  it('admissions: what a dead process left open is billed once by the next one; what it closed, never twice', async () => {
    const where = await kind.location(`${kind.name}_admissions`);
    const dead = await openStore(where);
    const journal = await dead.openAdmissions({ owner: 'gw-dead', staleMs: 1000 });
    const [done, cut, lost] = [record(), record({ n: 2 }), record()].map((r) => ({ ...r, status: 'interrupted' as const, completion_tokens: 0 }));
    for (const r of [done, cut, lost]) await journal.open(r!);
    await dead.ledger.append({ ...done!, status: 'ok', completion_tokens: 4 }); // its final record landed…
    await dead.close(); // …then the process stopped (for PostgreSQL: it no longer heartbeats)
    const next = await openStore(where);
    opened.push(next);
    const live = await next.openAdmissions({ owner: 'gw-live', staleMs: 1000 });
    const mine = { ...record(), status: 'interrupted' as const };
    await live.open(mine);
    await new Promise((r) => setTimeout(r, 1100)); // past staleMs
    const asked: Array<[string, number]> = [];
    const generated = async (o: UsageRecord) => (asked.push([o.request_id, o.n]), 7);
    expect(await reconcileAdmissions(live, next.ledger, generated, (r) => ({ ...r, cost: 0.5 }))).toEqual({ billed: 2, alreadyFinal: 1 });
    expect(asked.sort()).toEqual([[cut!.request_id, 2], [done!.request_id, 1], [lost!.request_id, 1]].sort());
    const billed = await next.ledger.read();
    expect(billed.filter((r) => r.request_id === done!.request_id).map((r) => r.status)).toEqual(['ok']);
    for (const r of [cut!, lost!]) expect(billed.filter((b) => b.request_id === r.request_id)).toMatchObject([{ status: 'interrupted', completion_tokens: 7, cost: 0.5 }]);
    expect(billed.some((r) => r.request_id === mine.request_id)).toBe(false); // a live process's admission is not an orphan
    expect(await reconcileAdmissions(live, next.ledger, generated, (r) => r)).toEqual({ billed: 0, alreadyFinal: 0 });
  });

  it('counters: take refills over time, refuses what is missing, and forced charges go into debt', async () => {
    const [store] = await open(`${kind.name}_counters`);
    const counters = countersOf(store);
    const caps = { requests: 2, tokens: 60 };
    const t0 = 1_000_000;
    expect(await counters.take('k', caps, { requests: 1, tokens: 50 }, false, t0)).toEqual({ taken: true, levels: { requests: 1, tokens: 10 } });
    expect(await counters.take('k', caps, { requests: 1, tokens: 20 }, false, t0)).toEqual({ taken: false, levels: { requests: 1, tokens: 10 } });
    expect(await counters.take('k', caps, { requests: 0, tokens: 100 }, true, t0)).toEqual({ taken: true, levels: { requests: 1, tokens: -90 } });
    // One minute refills a whole capacity: -90 + 60 is still in debt, so nothing is admitted.
    expect(await counters.take('k', caps, { requests: 1, tokens: 0 }, false, t0 + 60_000)).toEqual({ taken: false, levels: { requests: 2, tokens: -30 } });
    expect(await counters.take('k', { requests: 2, tokens: null }, { requests: 2, tokens: 0 }, false, t0 + 60_000)).toEqual({ taken: true, levels: { requests: 0, tokens: null } });
    expect((await counters.take('other', caps, { requests: 1, tokens: 0 }, false, t0)).levels.requests).toBe(1);
  });
});

describe('postgres store shared by two replicas', () => {
  const open = (suite: string) => openTwo(kinds[1]!, suite);

  it('ledger: two processes appending the same ids record each once', async () => {
    const [a, b] = await open('postgres_ledger_shared');
    const records = Array.from({ length: 60 }, () => record());
    const outcomes = await Promise.all([...records.map((r) => a.ledger.append(r)), ...records.map((r) => b.ledger.append(r))]);
    expect(outcomes.filter((o) => o === 'written')).toHaveLength(60);
    const read = await b.ledger.read();
    expect(read.map((r) => r.request_id).sort()).toEqual(records.map((r) => r.request_id).sort());
  });

  it('counters: two processes taking at once never take more than the capacity', async () => {
    const [a, b] = await open('postgres_counters_shared');
    const caps = { requests: 50, tokens: null };
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 80 }, (_, i) => (i % 2 ? a : b).counters!.take('shared', caps, { requests: 1, tokens: 0 }, false, now)));
    expect(results.filter((r) => r.taken)).toHaveLength(50);
  });
});
