// The Batch API (/v1/files, /v1/batches) with the official openai SDK against a real gateway and
// node: upload, create, poll, download — the greedy texts `sirocco batch` gives for the same
// file; failed lines in the error file; usage billed to the key, marked with the job; each key
// sees its own; a cancel stops a job; batch lines yield to interactive requests; a gateway
// killed mid-job resumes it, billing each line once.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSirocco } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const run = promisify(execFile);
let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('batch-api') });
});
afterAll(() => stack?.stop());

type Line = { id: string; custom_id: string | null; response: { status_code: number; body: any } | null; error: unknown };
const parseLines = (text: string): Line[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);

function inputFile(n: number, maxTokens: number): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `q${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'sirocco-test', messages: [{ role: 'user', content: `Question ${i % 7}?` }], max_tokens: maxTokens, temperature: 0 } }),
  );
  lines.push(JSON.stringify({ custom_id: 'wrong-model', method: 'POST', url: '/v1/chat/completions', body: { model: 'nope', messages: [{ role: 'user', content: 'Hi' }] } }));
  return lines.join('\n') + '\n';
}

async function waitFor(id: string, c = client, done = ['completed', 'failed', 'cancelled', 'expired']) {
  for (let i = 0; i < 600; i++) {
    const b = await c.batches.retrieve(id);
    if (done.includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`batch ${id} did not finish`);
}

describe('the Batch API', () => {
  it('runs an uploaded file: the output file holds what sirocco batch writes, failures the error file', async () => {
    const text = inputFile(20, 8);
    const file = await client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl', bytes: Buffer.byteLength(text) });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'test' } });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', input_file_id: file.id, metadata: { run: 'test' } });

    const done = await waitFor(created.id);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 21, completed: 20, failed: 1 } });
    const output = parseLines(await (await client.files.content(done.output_file_id!)).text());
    const errors = parseLines(await (await client.files.content(done.error_file_id!)).text());
    expect(output.map((l) => l.custom_id)).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`));
    expect(errors).toEqual([expect.objectContaining({ custom_id: 'wrong-model', response: expect.objectContaining({ status_code: 404 }) })]);

    // The same file through `sirocco batch`: the same greedy texts, line for line.
    const dir = stack.models.root;
    writeFileSync(join(dir, 'api-in.jsonl'), text);
    await run(process.execPath, ['bin/sirocco.js', 'batch', '--model', stack.modelDir, '--model-id', 'sirocco-test', join(dir, 'api-in.jsonl'), join(dir, 'api-out.jsonl')]);
    const cli = parseLines(readFileSync(join(dir, 'api-out.jsonl'), 'utf8'));
    const content = (l: Line) => l.response!.body.choices[0].message.content;
    expect(output.map(content)).toEqual(cli.slice(0, 20).map(content));
    expect(output.map((l) => l.id)).toEqual(cli.slice(0, 20).map((l) => l.id));

    // Billed to the key like any request, each record marked with the job.
    const usage = readFileSync(join(stack.dataDir, 'usage.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string; status: string; batch_id: string | null; completion_tokens: number });
    const lines = usage.filter((r) => r.batch_id === created.id);
    expect(lines.filter((r) => r.status === 'ok').map((r) => r.request_id).sort()).toEqual(output.map((l) => l.response!.body.id).sort());
    expect(lines.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(lines.reduce((s, r) => s + r.completion_tokens, 0)).toBe(output.reduce((s, l) => s + l.response!.body.usage.completion_tokens, 0));
  });

  it('shows each key its own files and batches only', async () => {
    const other = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('batch-other') });
    const file = await client.files.create({ file: await toFile(Buffer.from(inputFile(1, 2)), 'mine.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await expect(other.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    expect((await other.files.list()).data).toEqual([]);
    expect((await client.batches.list()).data.map((b) => b.id)).toContain(batch.id);
    await waitFor(batch.id);
  });

  it('refuses an upload past 200 MB by its declared size, before reading it', async () => {
    const key = await stack.createKey('big-upload');
    const { port } = new URL(stack.gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/files', method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(300 * 2 ** 20) } }, (res) => {
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write('--x\r\n'); // and nothing more: the answer must not wait for the rest
    });
    expect(status).toBe(413);
  });

  it('refuses a batch of the wrong endpoint or window, naming the field', async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(inputFile(1, 2)), 'x.jsonl'), purpose: 'batch' });
    await expect(client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'endpoint' });
    await expect(client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '1h' as '24h' })).rejects.toMatchObject({ status: 400, param: 'completion_window' });
  });

  it('cancels a running batch: it stops, and what ran is in its output file', async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(inputFile(80, 24)), 'long.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(batch.id, client, ['in_progress']);
    const cancelling = await client.batches.cancel(batch.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const done = await waitFor(batch.id);
    expect(done.status).toBe('cancelled');
    expect(done.request_counts!.completed).toBeLessThan(80);
    if (done.output_file_id) expect(parseLines(await (await client.files.content(done.output_file_id)).text())).toHaveLength(done.request_counts!.completed);
  });
});

describe('a batch beside interactive requests', () => {
  let busy: Stack;
  beforeAll(async () => {
    // Two sequences, both a batch's until an interactive request takes one back (the batch
    // line admitted last gives it up, and resumes later); the gateway keeps 8 of its lines at
    // the node (6 queued).
    busy = await startStack({ nodeArgs: ['--max-sequences', '2'], gatewayArgs: ['--batch-concurrency', '8'] });
  });
  afterAll(() => busy?.stop());

  it('serves interactive requests first: one sent mid-batch passes the batch lines queued before it and takes a running one\'s sequence', async () => {
    const api = new OpenAI({ baseURL: `${busy.gateway.url}/v1`, apiKey: await busy.createKey('mixed') });
    const file = await api.files.create({ file: await toFile(Buffer.from(inputFile(40, 48)), 'mixed.jsonl'), purpose: 'batch' });
    const batch = await api.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (let i = 0; i < 600 && ((await api.batches.retrieve(batch.id)).request_counts?.completed ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await busy.nodeMetric(busy.nodes[0]!, 'sirocco_node_running_requests')).toBe(2); // the batch fills the node
    const generated = () => busy.nodeMetric(busy.nodes[0]!, 'sirocco_node_generated_tokens_total');
    for (let k = 0; k < 5; k++) {
      const before = await generated();
      const answer = await api.chat.completions.create({ model: 'sirocco-test', messages: [{ role: 'user', content: `Now ${k}` }], max_tokens: 8, temperature: 0 });
      expect(answer.usage!.completion_tokens).toBe(8);
      const batchTokens = (await generated()) - before - 8;
      expect((await api.batches.retrieve(batch.id)).status).toBe('in_progress');
      // First come, first served, it would wait behind the 6 lines of 48 tokens queued at the
      // node: at least 288 batch tokens first. Served first, the batch's other sequence makes a
      // token per step of its 8, and more while the request and its answer travel between
      // client, gateway and node — 42–72 in some runs of a busy 2-vCPU VM (a bound of 40 failed
      // there 1 run in 5) — so half of 288 still tells the two apart.
      expect(batchTokens, `batch tokens while interactive request ${k} ran`).toBeLessThanOrEqual(144);
    }
    // Most take a running line's sequence. One that arrives in the step a line finishes takes
    // the freed sequence instead (a line of 48 tokens on 2 sequences frees one every ~24 steps),
    // so not every request preempts; 3 of 5 leaves that race a chance of ~0.1%.
    expect(await busy.nodeMetric(busy.nodes[0]!, 'sirocco_node_preemptions_total')).toBeGreaterThanOrEqual(3);
    await api.batches.cancel(batch.id);
    const done = await waitFor(batch.id, api);
    expect(done.status).toBe('cancelled');
    // Lines that gave their sequence back and resumed answer as if never stopped (greedy).
    const output = parseLines(await (await api.files.content(done.output_file_id!)).text());
    expect(output.length).toBeGreaterThan(3);
    const direct = new Map<number, string>();
    for (const l of output) {
      const q = Number(l.custom_id!.slice(1)) % 7;
      if (!direct.has(q)) direct.set(q, (await api.chat.completions.create({ model: 'sirocco-test', messages: [{ role: 'user', content: `Question ${q}?` }], max_tokens: 48, temperature: 0 })).choices[0]!.message.content!);
      expect(l.response!.body.choices[0].message.content, l.custom_id!).toBe(direct.get(q));
    }
  });
});

describe('a gateway killed mid-batch', () => {
  let own: Stack;
  beforeAll(async () => {
    own = await startStack({ gatewayArgs: ['--batch-concurrency', '4'] });
  });
  afterAll(() => own?.stop());

  it('resumes the job when started again: every line once, in order', async () => {
    const key = await own.createKey('resume');
    const api = new OpenAI({ baseURL: `${own.gateway.url}/v1`, apiKey: key });
    const file = await api.files.create({ file: await toFile(Buffer.from(inputFile(40, 24)), 'resume.jsonl'), purpose: 'batch' });
    const batch = await api.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (let i = 0; i < 600 && ((await api.batches.retrieve(batch.id)).request_counts?.completed ?? 0) < 5; i++) await new Promise((r) => setTimeout(r, 50));
    await own.gateway.stop('SIGKILL');

    const gateway = await startSirocco(['gateway', '--nodes', own.nodes[0]!.url, '--port', '0', '--data', own.dataDir, '--health-interval-ms', '200', '--batch-concurrency', '4']);
    try {
      const again = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key });
      const done = await waitFor(batch.id, again);
      expect(done).toMatchObject({ status: 'completed', request_counts: { total: 41, completed: 40, failed: 1 } });
      const output = parseLines(await (await again.files.content(done.output_file_id!)).text());
      expect(output.map((l) => l.custom_id)).toEqual(Array.from({ length: 40 }, (_, i) => `q${i}`));
      expect(new Set(output.map((l) => l.id)).size).toBe(40);
      // Billed once a line, though the lines in flight at the kill ran twice (their request id is the line's).
      const billed = readFileSync(join(own.dataDir, 'usage.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string; batch_id: string | null }).filter((r) => r.batch_id === batch.id);
      expect(billed).toHaveLength(41);
      expect(new Set(billed.map((r) => r.request_id)).size).toBe(41);
      for (const l of output) expect(billed.map((r) => r.request_id)).toContain(l.response!.body.id);
      for (const l of output.slice(0, 3)) {
        const direct = await again.chat.completions.create({ model: 'sirocco-test', messages: [{ role: 'user', content: `Question ${Number(l.custom_id!.slice(1)) % 7}?` }], max_tokens: 24, temperature: 0 });
        expect(l.response!.body.choices[0].message.content).toBe(direct.choices[0]!.message.content);
      }
    } finally {
      await gateway.stop();
    }
  });
});
