// Billing and administration over HTTP (issue 10) against a real gateway and node: a key reads
// its own usage in the shape of OpenAI's usage API; an admin key reads everyone's, exports the
// ledger as JSON lines or CSV, and creates, lists and revokes keys; other keys get a 403.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costOf, loadPrices } from '../src/gateway/pricing.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let admin: string;
let alice: string;
const PRICES = { 'sirocco-test': { input: 1, cached_input: 0.5, output: 2 } }; // $ per million tokens
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sirocco-prices-'));
  writeFileSync(join(dir, 'prices.json'), JSON.stringify(PRICES));
  stack = await startStack({ gatewayArgs: ['--prices', join(dir, 'prices.json')] });
  [admin, alice] = await Promise.all([stack.createKey('ops', { admin: true }), stack.createKey('alice')]);
}, 120_000);
afterAll(async () => stack?.stop());

const get = (path: string, key: string) => fetch(`${stack.gateway.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
const send = (method: string, path: string, key: string, body?: object) =>
  fetch(`${stack.gateway.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });

type Page = { object: string; data: { object: string; start_time: number; end_time: number; results: { input_tokens: number; output_tokens: number; num_model_requests: number; model: string | null; api_key_id: string | null }[] }[] };

describe('usage over HTTP', () => {
  it("a key sees its own usage by day and model; an admin sees every key's", async () => {
    const start = Math.floor(Date.now() / 1000) - 60;
    const asAlice = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: alice, maxRetries: 0 });
    const asAdmin = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: admin, maxRetries: 0 });
    const answers = [
      await asAlice.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 }),
      await asAlice.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 4 }),
    ];
    await asAdmin.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });

    const own = (await (await get(`/v1/usage?start_time=${start}&group_by=model`, alice)).json()) as Page;
    expect(own.object).toBe('page');
    const results = own.data.flatMap((b) => b.results);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      model: stack.modelId,
      api_key_id: null,
      num_model_requests: 2,
      input_tokens: answers.reduce((n, a) => n + a.usage!.prompt_tokens, 0),
      output_tokens: answers.reduce((n, a) => n + a.usage!.completion_tokens, 0),
    });
    const bucket = own.data.find((b) => b.results.length > 0)!;
    expect(bucket.end_time - bucket.start_time).toBe(86_400);

    const all = (await (await get(`/v1/usage?start_time=${start}&group_by=api_key_id&bucket_width=1h`, admin)).json()) as Page;
    const byKey = all.data.flatMap((b) => b.results);
    expect(byKey.map((r) => r.num_model_requests).sort()).toEqual([1, 2]);
    expect(new Set(byKey.map((r) => r.api_key_id)).size).toBe(2);
  });

  it('exports the ledger to admins as JSON lines or CSV, each record with its cost', async () => {
    const jsonl = await (await get('/v1/admin/usage?format=jsonl', admin)).text();
    type Exported = { request_id: string; status: string; model: string; prompt_tokens: number; cached_tokens: number; completion_tokens: number; cost: number | null };
    const records = jsonl.trim().split('\n').map((l) => JSON.parse(l) as Exported);
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const r of records) {
      const expected = ((r.prompt_tokens - r.cached_tokens) * 1 + r.cached_tokens * 0.5 + r.completion_tokens * 2) / 1e6;
      expect(r.cost).toBeCloseTo(expected, 10);
    }
    const csv = await (await get('/v1/admin/usage?format=csv', admin)).text();
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('request_id,key_id,model,endpoint,status,prompt_tokens,cached_tokens,completion_tokens,n,node,started_at,finished_at,error,cost,batch_id');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(records.map((r) => r.request_id));
  });
});

describe('keys over HTTP', () => {
  it('an admin creates, lists and revokes keys; the new key works at once and stops on revocation', async () => {
    const created = await send('POST', '/v1/admin/keys', admin, { name: 'bob', requests_per_minute: 10 });
    expect(created.status).toBe(201);
    const bob = (await created.json()) as { id: string; key: string; limits: { requests_per_minute: number }; admin: boolean };
    expect(bob).toMatchObject({ limits: { requests_per_minute: 10 }, admin: false });
    expect((await get('/v1/models', bob.key)).status).toBe(200);
    const listed = (await (await get('/v1/admin/keys', admin)).json()) as { data: { id: string; name: string }[] };
    expect(listed.data.map((k) => k.name)).toEqual(expect.arrayContaining(['ops', 'alice', 'bob']));
    expect(JSON.stringify(listed)).not.toContain(bob.key);
    expect((await send('DELETE', `/v1/admin/keys/${bob.id}`, admin)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // the file store's readers recheck within a second
    expect((await get('/v1/models', bob.key)).status).toBe(401);
    expect((await send('DELETE', '/v1/admin/keys/key_000000000000', admin)).status).toBe(404);
  });

  it('refuses admin routes and /metrics to other keys with a 403, and bad bodies with a 400', async () => {
    for (const [method, path] of [['GET', '/v1/admin/keys'], ['POST', '/v1/admin/keys'], ['GET', '/v1/admin/usage'], ['GET', '/metrics']] as const) {
      const res = await send(method, path, alice, method === 'POST' ? { name: 'x' } : undefined);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('admin_key_required');
    }
    const bad = await send('POST', '/v1/admin/keys', admin, { name: '', requests_per_minute: -1 });
    expect(bad.status).toBe(400);
    expect((await get('/v1/usage', alice)).status).toBe(400); // start_time is required, as in OpenAI's API
  });
});

describe('prices', () => {
  it('price by model or "*", cached prompt tokens at their own price, null without one; a bad file is refused by path', () => {
    const prices = { a: { input: 2, output: 4 }, '*': { input: 1, cached_input: 0.1, output: 1 } };
    expect(costOf(prices, 'a', { prompt_tokens: 1000, cached_tokens: 500, completion_tokens: 100 })).toBeCloseTo((1000 * 2 + 100 * 4) / 1e6, 12);
    expect(costOf(prices, 'b', { prompt_tokens: 1000, cached_tokens: 500, completion_tokens: 100 })).toBeCloseTo((500 + 50 + 100) / 1e6, 12);
    expect(costOf({ a: { input: 1, output: 1 } }, 'b', { prompt_tokens: 1, cached_tokens: 0, completion_tokens: 1 })).toBeNull();
    const dir = mkdtempSync(join(tmpdir(), 'sirocco-prices-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ m: { input: -1, output: 1 } }));
    expect(() => loadPrices(join(dir, 'bad.json'))).toThrow(/bad\.json: m\.input: /);
  });
});
