// Two gateway replicas on one real PostgreSQL (issue 10): a key created with the CLI works on
// both at once, a revocation reaches both within a second, a per-key limit holds across both,
// the ledger is shared (one record per request, whichever replica served it), and killing a
// replica with SIGKILL mid-load loses no record of a finished request and duplicates none.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempModels } from './helpers/models.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { startSirocco, waitForModel, type Server } from './helpers/servers.ts';

const run = promisify(execFile);

let postgres: TestPostgres;
let models: TempModels;
let node: Server;
let replicas: Server[];
let db: pg.Pool;
const MODEL = 'sirocco-test';

const startReplica = () =>
  startSirocco(['gateway', '--nodes', node.url, '--port', '0', '--data', join(models.root, 'unused'), '--health-interval-ms', '200'], { SIROCCO_DATABASE_URL: postgres.url });

beforeAll(async () => {
  postgres = await startPostgres();
  models = new TempModels();
  const dir = await models.make({ preset: 'mistral-tiny', seed: 1 });
  node = await startSirocco(['node', '--model', dir, '--port', '0', '--model-id', MODEL]);
  replicas = await Promise.all([startReplica(), startReplica()]);
  db = new pg.Pool({ connectionString: postgres.url });
  for (const r of replicas) await waitForModel(r, MODEL);
}, 120_000);
afterAll(async () => {
  await db?.end();
  await Promise.all([...(replicas ?? []), node].filter(Boolean).map((s) => s.stop()));
  await postgres?.stop();
  models?.cleanup();
});

/** `sirocco keys …` against the database (no data dir involved). */
async function keys(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/sirocco.js', 'keys', ...args], { env: { ...process.env, SIROCCO_DATABASE_URL: postgres.url } });
  return stdout.trim();
}

const complete = (gateway: Server, key: string) =>
  fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'wind', max_tokens: 2 }),
  });

const ledgerCount = async (keyId: string) =>
  Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM sirocco_usage WHERE key_id = $1 AND status = 'ok'", [keyId])).rows[0]!.n);

describe('two gateway replicas on one PostgreSQL', () => {
  it('a key created with the CLI works on both at once; a revocation reaches both within a second', async () => {
    const key = await keys('create', '--name', 'shared');
    expect((await Promise.all(replicas.map((r) => complete(r, key)))).map((res) => res.status)).toEqual([200, 200]);
    const id = JSON.parse(await keys('list', '--json')).find((k: { name: string }) => k.name === 'shared').id as string;
    await keys('revoke', id);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await Promise.all(replicas.map((r) => complete(r, key)))).map((res) => res.status)).toEqual([401, 401]);
  });

  it('holds a per-key limit across both replicas (within 5%) and bills each request once', async () => {
    const rpm = 40;
    const key = await keys('create', '--name', 'limited', '--rpm', String(rpm));
    const id = JSON.parse(await keys('list', '--json')).find((k: { name: string }) => k.name === 'limited').id as string;
    const started = Date.now();
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => complete(replicas[i % 2]!, key)));
      for (const a of answers) {
        statuses.push(a.status);
        await a.arrayBuffer();
      }
    }
    const allowed = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // The bucket starts full and refills at rpm/60 per second while the test runs.
    const budget = rpm + ((Date.now() - started) / 60_000) * rpm;
    expect(allowed).toBeLessThanOrEqual(Math.floor(budget * 1.05));
    expect(allowed).toBeGreaterThanOrEqual(Math.floor(rpm * 0.95));
    expect(await ledgerCount(id)).toBe(allowed);
  });

  it('loses no record and duplicates none when a replica is killed mid-load', async () => {
    const key = await keys('create', '--name', 'killed');
    const id = JSON.parse(await keys('list', '--json')).find((k: { name: string }) => k.name === 'killed').id as string;
    const victim = replicas[0]!;
    const finished: string[] = [];
    const load = Array.from({ length: 30 }, async (_, i) => {
      const replica = replicas[i % 2]!;
      try {
        const res = await complete(replica, key);
        if (res.status === 200) {
          await res.json();
          finished.push(res.headers.get('x-request-id')!);
        }
      } catch {
        // the killed replica's connections break: those requests never finished
      }
    });
    await new Promise((r) => setTimeout(r, 150));
    victim.child.kill('SIGKILL');
    await Promise.all(load);
    const { rows } = await db.query<{ request_id: string }>('SELECT request_id FROM sirocco_usage WHERE key_id = $1', [id]);
    const recorded = rows.map((r) => r.request_id);
    expect(new Set(recorded).size).toBe(recorded.length);
    for (const requestId of finished) expect(recorded).toContain(requestId);
    expect(finished.length).toBeGreaterThan(0);
    replicas[0] = await startReplica(); // for any later test
    await waitForModel(replicas[0], MODEL);
  });
});
