// Billing that survives a crash (issue 11): streams in flight when their gateway is killed
// with SIGKILL are still billed exactly once — by the same gateway's next start (embedded
// store), or by another replica once the dead one has been silent --reconcile-after-ms
// (PostgreSQL) — with the completion tokens their node reports having generated, never fewer
// than the client received. Requests that finished keep their one 'ok' record; a second
// reconciliation adds nothing.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUsageFile } from '../src/gateway/ledger/ledger_file.ts';
import type { UsageRecord } from '../src/gateway/ledger/usage_record.ts';
import { TempModels } from './helpers/models.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { startSirocco, type Server } from './helpers/servers.ts';

const MODEL = 'billing-test';
const models = new TempModels();
let node: Server;
const started: Server[] = [];
beforeAll(async () => {
  const dir = await models.make({ preset: 'mistral-tiny', seed: 1 });
  node = await startSirocco(['node', '--model', dir, '--port', '0', '--model-id', MODEL]);
}, 60_000);
afterAll(async () => {
  await Promise.all([node, ...started].map((s) => s?.stop()));
  models.cleanup();
});

async function gateway(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const g = await startSirocco(['gateway', '--nodes', node.url, '--port', '0', '--data', dataDir, '--health-interval-ms', '200', '--reconcile-after-ms', '1000'], env);
  started.push(g);
  for (let i = 0; i < 100; i++) {
    if (((await (await fetch(`${g.url}/health`)).json()) as { models: string[] }).models.includes(MODEL)) return g;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the gateway never saw the node');
}

async function createKey(dataDir: string, env: NodeJS.ProcessEnv = {}, admin = false): Promise<string> {
  const args = ['bin/sirocco.js', 'keys', 'create', '--name', 'crash', '--data', dataDir, ...(admin ? ['--admin'] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, args, { env: { ...process.env, ...env } });
  return stdout.trim();
}

// ignore_eos: a sampled end of text (1 token in 512 here) must not finish a stream before the
// gateway is killed under it, however fast the engine runs.
const body = (stream: boolean, maxTokens: number) =>
  JSON.stringify({ model: MODEL, prompt: 'The wind', max_tokens: maxTokens, stream, temperature: 1, seed: 7, ignore_eos: true });

/** Streams that have each delivered a few tokens when `gw` is killed: their ids and tokens seen. */
async function killMidStream(gw: Server, key: string, streams: number): Promise<{ finished: string[]; killed: Map<string, number> }> {
  const post = (stream: boolean, maxTokens: number) =>
    fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body(stream, maxTokens) });
  const finished: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await post(false, 3);
    expect(res.status).toBe(200);
    finished.push(res.headers.get('x-request-id')!);
    await res.json();
  }
  const killed = new Map<string, number>();
  const reading: Promise<void>[] = [];
  const enough: Promise<void>[] = [];
  for (let i = 0; i < streams; i++) {
    const res = await post(true, 20_000);
    const id = res.headers.get('x-request-id')!;
    killed.set(id, 0);
    let reached = () => {};
    enough.push(new Promise<void>((r) => (reached = r)));
    reading.push(
      (async () => {
        const decoder = new TextDecoder();
        try {
          for await (const chunk of res.body!) {
            const n = (decoder.decode(chunk, { stream: true }).match(/"text":/g) ?? []).length;
            killed.set(id, killed.get(id)! + n);
            if (killed.get(id)! >= 3) reached();
          }
        } catch {
          // the gateway died under it
        }
      })(),
    );
  }
  await Promise.all(enough);
  await gw.stop('SIGKILL');
  await Promise.all(reading);
  return { finished, killed };
}

function expectBilledOnce(records: UsageRecord[], finished: string[], killed: Map<string, number>): void {
  const ids = records.map((r) => r.request_id);
  expect(new Set(ids).size).toBe(ids.length); // no request billed twice
  for (const id of finished) expect(records.filter((r) => r.request_id === id).map((r) => r.status)).toEqual(['ok']);
  for (const [id, delivered] of killed) {
    const mine = records.filter((r) => r.request_id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.status).toBe('interrupted');
    expect(mine[0]!.prompt_tokens).toBeGreaterThan(0);
    expect(mine[0]!.completion_tokens).toBeGreaterThanOrEqual(delivered); // as the node generated
  }
}

async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('after SIGKILL of the gateway mid-stream', () => {
  it('embedded store: the next start bills each interrupted stream once', async () => {
    const dataDir = join(models.root, 'embedded');
    const first = await gateway(dataDir);
    const key = await createKey(dataDir);
    const { finished, killed } = await killMidStream(first, key, 3);
    expect((await readUsageFile(dataDir)).filter((r) => killed.has(r.request_id))).toEqual([]); // nothing yet: the process died
    const second = await gateway(dataDir);
    const records = await eventually(() => readUsageFile(dataDir), (rs) => rs.filter((r) => r.status === 'interrupted').length >= killed.size);
    expectBilledOnce(records, finished, killed);
    await second.stop('SIGKILL');
    await gateway(dataDir); // a start with nothing orphaned adds nothing
    await new Promise((r) => setTimeout(r, 1500));
    expect(await readUsageFile(dataDir)).toEqual(records);
  }, 120_000);

  describe('PostgreSQL store', () => {
    let postgres: TestPostgres;
    let db: pg.Pool;
    beforeAll(async () => {
      postgres = await startPostgres();
      db = new pg.Pool({ connectionString: postgres.url });
    }, 60_000);
    afterAll(async () => {
      await db?.end();
      await postgres?.stop();
    });

    it('another replica bills the dead one’s interrupted streams once', async () => {
      const env = { SIROCCO_DATABASE_URL: postgres.url };
      const unused = join(models.root, 'unused');
      const [victim, survivor] = await Promise.all([gateway(unused, env), gateway(unused, env)]);
      const key = await createKey(unused, env);
      const { finished, killed } = await killMidStream(victim, key, 3);
      const read = async () => (await db.query<UsageRecord>('SELECT request_id, status, prompt_tokens, completion_tokens FROM sirocco_usage')).rows;
      const records = await eventually(read, (rs) => rs.filter((r) => r.status === 'interrupted').length >= killed.size);
      expectBilledOnce(records, finished, killed);
      expect(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM sirocco_admissions')).rows[0]!.n)).toBe(0);
      expect(survivor.child.exitCode).toBeNull();
    }, 120_000);

    it('a ledger that refuses writes: an in-band error to the client, an alert, and the record written once it recovers', async () => {
      const env = { SIROCCO_DATABASE_URL: postgres.url };
      const gw = await gateway(join(models.root, 'unused'), env);
      const key = await createKey(join(models.root, 'unused'), env, true);
      const post = (stream: boolean) =>
        fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body(stream, 3) });
      await db.query('ALTER TABLE sirocco_usage ADD CONSTRAINT storage_is_down CHECK (false) NOT VALID'); // every insert fails
      try {
        const whole = await post(false);
        expect(whole.status).toBe(503);
        expect(((await whole.json()) as { error: { code: string } }).error.code).toBe('billing_unavailable');
        const stream = await post(true);
        const text = await stream.text();
        expect(text).toContain('event: error');
        expect(text).toContain('billing_unavailable');
        expect(text).not.toContain('[DONE]');
        const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
        expect(metrics).toMatch(/sirocco_billing_write_failures_total\{what="record"\} 2/);
        const ids = [whole.headers.get('x-request-id')!, stream.headers.get('x-request-id')!];
        await db.query('ALTER TABLE sirocco_usage DROP CONSTRAINT storage_is_down');
        const read = async () => (await db.query<UsageRecord>('SELECT request_id, status FROM sirocco_usage WHERE request_id = ANY($1)', [ids])).rows;
        const records = await eventually(read, (rs) => rs.length >= 2);
        expect(records.map((r) => r.status).sort()).toEqual(['ok', 'ok']);
        expect(records.map((r) => r.request_id).sort()).toEqual([...ids].sort());
      } finally {
        await db.query('ALTER TABLE sirocco_usage DROP CONSTRAINT IF EXISTS storage_is_down');
      }
    }, 120_000);
  });
});
