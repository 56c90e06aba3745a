// The Batch API on two gateway replicas sharing one real PostgreSQL (jobs, file records, the
// lines of a running job) and one real S3-compatible server (the files' bytes), each replica
// with its own data directory: what one replica is given the other serves, and a replica
// killed with SIGKILL mid-job leaves the job to the other, which finishes it with every line
// once, in order, and each line billed once.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import OpenAI, { toFile } from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { TempModels } from './helpers/models.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { startLocalS3, type LocalS3 } from './helpers/s3rver.ts';
import { startSirocco, waitForModel, type Server } from './helpers/servers.ts';

const run = promisify(execFile);
const MODEL = 'sirocco-test';
const BUCKET = 'sirocco-files';

let postgres: TestPostgres;
let s3: LocalS3;
let models: TempModels;
let node: Server;
let replicas: Server[];
let db: pg.Pool;
let key: string;
let gatewayEnv: Record<string, string>;
let started = 0;

const startReplica = () =>
  startSirocco(
    ['gateway', '--nodes', node.url, '--port', '0', '--data', join(models.root, `gateway-${started++}`), '--health-interval-ms', '200',
      '--reconcile-after-ms', '2000', '--batch-concurrency', '4', '--files', `s3://${BUCKET}/uploads`],
    gatewayEnv,
  );

beforeAll(async () => {
  [postgres, s3] = await Promise.all([startPostgres(), startLocalS3([BUCKET])]);
  s3.useEnv(); // for this file's own S3 client
  gatewayEnv = { SIROCCO_DATABASE_URL: postgres.url, ...s3.env };
  models = new TempModels();
  const dir = await models.make({ preset: 'sirocco-default', seed: 1, layers: 2 });
  node = await startSirocco(['node', '--model', dir, '--port', '0', '--model-id', MODEL]);
  replicas = await Promise.all([startReplica(), startReplica()]);
  for (const r of replicas) await waitForModel(r, MODEL);
  db = new pg.Pool({ connectionString: postgres.url });
  key = (await run(process.execPath, ['bin/sirocco.js', 'keys', 'create', '--name', 'batches'], { env: { ...process.env, SIROCCO_DATABASE_URL: postgres.url } })).stdout.trim();
}, 120_000);
afterAll(async () => {
  await db?.end();
  await Promise.all([...(replicas ?? []), node].filter(Boolean).map((s) => s.stop()));
  await Promise.all([postgres?.stop(), s3?.close()]);
  models?.cleanup();
});

const client = (gateway: Server) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
type Line = { id: string; custom_id: string | null; response: { status_code: number; body: any } | null };
const parseLines = (text: string): Line[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);

function inputFile(n: number, maxTokens: number): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `q${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: `Question ${i % 7}?` }], max_tokens: maxTokens, temperature: 0 } }),
  );
  lines.push(JSON.stringify({ custom_id: 'wrong-model', method: 'POST', url: '/v1/chat/completions', body: { model: 'nope', messages: [{ role: 'user', content: 'Hi' }] } }));
  return lines.join('\n') + '\n';
}

async function waitFor(api: OpenAI, id: string, until: (b: OpenAI.Batch) => boolean) {
  for (let i = 0; i < 1200; i++) {
    const b = await api.batches.retrieve(id);
    if (until(b)) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`batch ${id} did not get there`);
}
const finished = (b: OpenAI.Batch) => ['completed', 'failed', 'cancelled', 'expired'].includes(b.status);

describe('the Batch API on two replicas of one store', () => {
  it('serves from either replica what the other was given; the bytes live in S3', async () => {
    const [a, b] = replicas.map(client) as [OpenAI, OpenAI];
    const text = inputFile(6, 4);
    const file = await a.files.create({ file: await toFile(Buffer.from(text), 'shared.jsonl'), purpose: 'batch' });
    expect(await b.files.retrieve(file.id)).toEqual(file);
    expect(await (await b.files.content(file.id)).text()).toBe(text);
    const objects = await s3ClientFromEnv().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'uploads/' }));
    expect(objects.Contents?.map((o) => o.Key)).toContain(`uploads/${file.id}`);

    const batch = await a.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect((await b.batches.list()).data.map((x) => x.id)).toContain(batch.id);
    const done = await waitFor(b, batch.id, finished);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 7, completed: 6, failed: 1 } });
    const output = parseLines(await (await b.files.content(done.output_file_id!)).text());
    expect(output.map((l) => l.custom_id)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
    expect(parseLines(await (await a.files.content(done.error_file_id!)).text()).map((l) => l.custom_id)).toEqual(['wrong-model']);
  });

  it('finishes a job on the other replica when the one running it is killed: every line once, in order, billed once', async () => {
    const file = await client(replicas[0]!).files.create({ file: await toFile(Buffer.from(inputFile(40, 24)), 'long.jsonl'), purpose: 'batch' });
    const batch = await client(replicas[0]!).batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(client(replicas[1]!), batch.id, (b) => (b.request_counts?.completed ?? 0) >= 5);

    const { rows } = await db.query<{ claimed_by: string }>('SELECT claimed_by FROM sirocco_batches WHERE id = $1', [batch.id]);
    const victim = replicas.findIndex((r) => rows[0]!.claimed_by.includes(`-${r.child.pid}-`));
    expect(victim).toBeGreaterThanOrEqual(0);
    await replicas[victim]!.stop('SIGKILL');
    const survivor = client(replicas[1 - victim]!);
    replicas[victim] = await startReplica(); // for afterAll; it could take the job too
    const before = await survivor.batches.retrieve(batch.id);
    expect(before.status).toBe('in_progress');
    expect(before.request_counts!.completed).toBeLessThan(40);

    const done = await waitFor(survivor, batch.id, finished);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 41, completed: 40, failed: 1 } });
    const output = parseLines(await (await survivor.files.content(done.output_file_id!)).text());
    expect(output.map((l) => l.custom_id)).toEqual(Array.from({ length: 40 }, (_, i) => `q${i}`));
    expect(new Set(output.map((l) => l.response!.body.id)).size).toBe(40);
    for (const l of output.slice(0, 2)) {
      const direct = await survivor.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `Question ${Number(l.custom_id!.slice(1)) % 7}?` }], max_tokens: 24, temperature: 0 });
      expect(l.response!.body.choices[0].message.content).toBe(direct.choices[0]!.message.content);
    }

    // One usage record per line, whether the line ran once or twice (the ledger keeps one a
    // request id; a line's request id is the same each time it runs).
    let billed: { request_id: string }[] = [];
    for (let i = 0; i < 50 && billed.length < 41; i++) {
      billed = (await db.query<{ request_id: string }>('SELECT request_id FROM sirocco_usage WHERE batch_id = $1', [batch.id])).rows;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(billed).toHaveLength(41);
    const ids = new Set(billed.map((r) => r.request_id));
    expect(ids.size).toBe(41);
    for (const l of output) expect(ids).toContain(l.response!.body.id);
    expect((await db.query('SELECT 1 FROM sirocco_batch_lines WHERE batch_id = $1', [batch.id])).rowCount).toBe(0);
  });

  it('expires a job past its completion window: what ran is in the output file, the rest batch_expired in the error file', async () => {
    const api = client(replicas[0]!);
    // Long enough that no machine finishes it between the poll that sees it running and the
    // window's end (a fast one ran 40 such lines in half a second).
    const file = await api.files.create({ file: await toFile(Buffer.from(inputFile(200, 24)), 'late.jsonl'), purpose: 'batch' });
    const batch = await api.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch.expires_at).toBe(batch.created_at + 24 * 3600);
    await waitFor(api, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 2);
    // The window's end, brought forward to now (the store is where replicas read it).
    await db.query(`UPDATE sirocco_batches SET record = jsonb_set(record, '{expires_at}', to_jsonb(extract(epoch from now())::bigint - 1)) WHERE id = $1`, [batch.id]);

    const done = await waitFor(api, batch.id, finished);
    expect(done.status).toBe('expired');
    expect(done.expired_at).toBeGreaterThanOrEqual(done.created_at);
    const { completed, failed, total } = done.request_counts!;
    expect(total).toBe(201);
    expect(completed + failed).toBe(201);
    expect(completed).toBeLessThan(200);
    const output = parseLines(await (await api.files.content(done.output_file_id!)).text());
    const errors = parseLines(await (await api.files.content(done.error_file_id!)).text()) as (Line & { error: { code: string } | null })[];
    expect(output).toHaveLength(completed);
    expect(errors).toHaveLength(failed);
    expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(201);
    // Every line not run is batch_expired: the wrong-model line (the last) too, as it never ran.
    expect(errors.filter((l) => l.error?.code !== 'batch_expired')).toEqual([]);
    expect(errors.map((l) => l.custom_id)).toContain('wrong-model');
  });
});
