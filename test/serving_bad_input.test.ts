// Bad input gets a 4xx with the OpenAI error object naming the param, never a 5xx, and never
// reaches a node (the node's generate counter does not move).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let key: string;
let revoked: string;
beforeAll(async () => {
  stack = await startStack();
  key = await stack.createKey('bad-input');
  revoked = await stack.createKey('to-revoke');
  const { execFileSync } = await import('node:child_process');
  const list = JSON.parse(execFileSync(process.execPath, ['bin/sirocco.js', 'keys', 'list', '--json', '--data', stack.dataDir]).toString()) as {
    id: string;
    name: string;
  }[];
  const id = list.find((k) => k.name === 'to-revoke')!.id;
  execFileSync(process.execPath, ['bin/sirocco.js', 'keys', 'revoke', id, '--data', stack.dataDir]);
}, 120_000);
afterAll(async () => stack?.stop());

type Case = { name: string; path?: string; method?: string; body?: unknown; raw?: string; auth?: string | null; headers?: Record<string, string>; status: number; param?: string | null; message?: RegExp };

const chat = (extra: object) => ({ model: 'sirocco-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

const cases: Case[] = [
  { name: 'body is not JSON', raw: '{"model": ', status: 400, message: /parse the JSON body/ },
  { name: 'model missing', body: { messages: [{ role: 'user', content: 'hi' }] }, status: 400, param: 'model' },
  { name: 'messages missing', body: { model: 'sirocco-test' }, status: 400, param: 'messages' },
  { name: 'messages empty', body: chat({ messages: [] }), status: 400, param: 'messages' },
  { name: 'unknown role', body: chat({ messages: [{ role: 'wizard', content: 'hi' }] }), status: 400, param: 'messages[0].role' },
  { name: 'content not text', body: chat({ messages: [{ role: 'user', content: 42 }] }), status: 400, param: 'messages[0].content', message: /expected string or array, received number/ },
  { name: 'temperature too high', body: chat({ temperature: 3 }), status: 400, param: 'temperature' },
  { name: 'temperature not a number', body: chat({ temperature: 'hot' }), status: 400, param: 'temperature' },
  { name: 'top_p zero', body: chat({ top_p: 0 }), status: 400, param: 'top_p' },
  { name: 'top_p above one', body: chat({ top_p: 1.5 }), status: 400, param: 'top_p' },
  { name: 'n above 8', body: chat({ n: 9 }), status: 400, param: 'n' },
  { name: 'n zero', body: chat({ n: 0 }), status: 400, param: 'n' },
  { name: 'max_tokens zero', body: chat({ max_tokens: 0 }), status: 400, param: 'max_tokens' },
  { name: 'max_tokens negative', body: chat({ max_tokens: -5 }), status: 400, param: 'max_tokens' },
  { name: 'max_tokens fractional', body: chat({ max_tokens: 1.5 }), status: 400, param: 'max_tokens' },
  { name: 'max_completion_tokens zero', body: chat({ max_completion_tokens: 0 }), status: 400, param: 'max_completion_tokens' },
  { name: 'five stop sequences', body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), status: 400, param: 'stop', message: /<=4 items/ },
  { name: 'stop neither string nor array', body: chat({ stop: 5 }), status: 400, param: 'stop', message: /expected string or array, received number/ },
  { name: 'empty stop sequence', body: chat({ stop: '' }), status: 400, param: 'stop' },
  { name: 'seed not an integer', body: chat({ seed: 'x' }), status: 400, param: 'seed' },
  { name: 'logprobs not boolean', body: chat({ logprobs: 'yes' }), status: 400, param: 'logprobs' },
  { name: 'top_logprobs above 20', body: chat({ logprobs: true, top_logprobs: 21 }), status: 400, param: 'top_logprobs' },
  { name: 'top_logprobs without logprobs', body: chat({ top_logprobs: 2 }), status: 400, param: 'top_logprobs' },
  // Unknown fields are ignored by default (serving_params.test.ts); a wrong known one still is not.
  { name: 'unknown field beside a wrong known one', body: chat({ frobnicate: true, temperature: 'hot' }), status: 400, param: 'temperature' },
  { name: 'presence_penalty above 2', body: chat({ presence_penalty: 2.5 }), status: 400, param: 'presence_penalty', message: /between -2 and 2/ },
  { name: 'frequency_penalty not a number', body: chat({ frequency_penalty: 'lots' }), status: 400, param: 'frequency_penalty' },
  { name: 'repetition_penalty zero', body: chat({ repetition_penalty: 0 }), status: 400, param: 'repetition_penalty', message: /greater than 0/ },
  { name: 'min_p above one', body: chat({ min_p: 1.5 }), status: 400, param: 'min_p' },
  { name: 'logit_bias above 100', body: chat({ logit_bias: { '15': 150 } }), status: 400, param: 'logit_bias.15', message: /between -100 and 100/ },
  { name: 'logit_bias key not a token id', body: chat({ logit_bias: { hello: 1 } }), status: 400, param: 'logit_bias.hello', message: /token ids/ },
  { name: 'logit_bias token outside the vocabulary', body: chat({ logit_bias: { '99999': 1 } }), status: 400, param: 'logit_bias', message: /99999 .*outside the vocabulary/ },
  { name: 'stop_token_ids outside the vocabulary', body: chat({ stop_token_ids: [99999] }), status: 400, param: 'stop_token_ids' },
  { name: 'min_tokens above max_tokens', body: chat({ min_tokens: 10 }), status: 400, param: 'min_tokens', message: /min_tokens \(10\) must not exceed max_tokens \(4\)/ },
  { name: 'ignore_eos not boolean', body: chat({ ignore_eos: 1 }), status: 400, param: 'ignore_eos' },
  { name: 'seed and random_seed disagree', body: chat({ seed: 1, random_seed: 2 }), status: 400, param: 'random_seed' },
  { name: 'safe_prompt not boolean', body: chat({ safe_prompt: 'yes' }), status: 400, param: 'safe_prompt' },
  { name: 'tool without a function', body: chat({ tools: [{ type: 'function' }] }), status: 400, param: 'tools[0].function' },
  { name: 'stream not boolean', body: chat({ stream: 'yes' }), status: 400, param: 'stream' },
  { name: 'stream_options.include_usage not boolean', body: chat({ stream: true, stream_options: { include_usage: 'yes' } }), status: 400, param: 'stream_options.include_usage' },
  { name: 'roles do not alternate', body: chat({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }), status: 400, param: 'messages' },
  { name: 'prompt + max_tokens beyond the context', body: chat({ max_tokens: 5000 }), status: 400, param: 'max_tokens', message: /maximum context length is 4096 tokens.*\(\d+ in the prompt, 5000 for the completion\)/ },
  { name: 'unknown model', body: chat({ model: 'gpt-17' }), status: 404, param: 'model' },
  { name: 'chat prompt far past the context: refused before tokenizing', body: chat({ messages: [{ role: 'user', content: 'wind '.repeat(20_000) }] }), status: 400, param: 'messages', message: /more than \d+ tokens \(100000 characters\)/ },
  { name: 'completion prompt far past the context: refused before tokenizing', path: '/v1/completions', body: { model: 'sirocco-test', prompt: 'wind '.repeat(20_000) }, status: 400, param: 'prompt', message: /more than \d+ tokens/ },
  { name: 'x-session-id too long', body: chat({}), headers: { 'x-session-id': 's'.repeat(1000) }, status: 400, param: 'x-session-id' },
  { name: 'x-session-id with spaces', body: chat({}), headers: { 'x-session-id': 'a b' }, status: 400, param: 'x-session-id' },
  { name: 'completions: prompt missing', path: '/v1/completions', body: { model: 'sirocco-test' }, status: 400, param: 'prompt' },
  { name: 'completions: token outside vocabulary', path: '/v1/completions', body: { model: 'sirocco-test', prompt: [1, 99999] }, status: 400, param: 'prompt' },
  { name: 'completions: echo', path: '/v1/completions', body: { model: 'sirocco-test', prompt: 'a', echo: true }, status: 400, param: 'echo' },
  { name: 'completions: logprobs above 5', path: '/v1/completions', body: { model: 'sirocco-test', prompt: 'a', logprobs: 6 }, status: 400, param: 'logprobs' },
  { name: 'completions: several prompts', path: '/v1/completions', body: { model: 'sirocco-test', prompt: ['a', 'b'] }, status: 400, param: 'prompt' },
  { name: 'body over 2 MB', body: chat({ messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024 + 10) }] }), status: 413 },
  { name: 'unknown route', path: '/v1/embeddings', body: { model: 'sirocco-test', input: 'a' }, status: 404 },
];

const routes = [
  { method: 'GET', path: '/v1/models' },
  { method: 'POST', path: '/v1/chat/completions', body: chat({}) },
  { method: 'POST', path: '/v1/completions', body: { model: 'sirocco-test', prompt: 'a', max_tokens: 2 } },
  { method: 'GET', path: '/metrics' },
];
const authCases: Case[] = routes.flatMap((r) => [
  { name: `${r.path} without a key`, path: r.path, method: r.method, body: r.body, auth: null, status: 401 },
  { name: `${r.path} with a wrong key`, path: r.path, method: r.method, body: r.body, auth: 'sk-not-a-real-key', status: 401 },
  { name: `${r.path} with a revoked key`, path: r.path, method: r.method, body: r.body, auth: 'REVOKED', status: 401 },
]);

async function send(c: Case): Promise<Response> {
  const auth = c.auth === undefined ? key : c.auth === 'REVOKED' ? revoked : c.auth;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...c.headers };
  if (auth) headers.authorization = `Bearer ${auth}`;
  const method = c.method ?? 'POST';
  return fetch(`${stack.gateway.url}${c.path ?? '/v1/chat/completions'}`, {
    method,
    headers,
    body: method === 'GET' ? undefined : (c.raw ?? JSON.stringify(c.body)),
  });
}

describe('bad input', () => {
  it(`${cases.length + authCases.length} bad requests: 4xx with the OpenAI error object, none reaching a node`, async () => {
    const before = await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generate_requests_total');
    for (const c of [...cases, ...authCases]) {
      const res = await send(c);
      const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
      expect(res.status, c.name).toBe(c.status);
      expect(Object.keys(body.error).sort(), c.name).toEqual(['code', 'message', 'param', 'type']);
      expect(body.error.message.length, c.name).toBeGreaterThan(5);
      if (c.param !== undefined) expect(body.error.param, c.name).toBe(c.param);
      if (c.message) expect(body.error.message, c.name).toMatch(c.message);
    }
    expect(await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generate_requests_total')).toBe(before);
  });

  it('a chunked body over 2 MB gets 413 too', async () => {
    const big = JSON.stringify(chat({ messages: [{ role: 'user', content: 'y'.repeat(3 * 1024 * 1024) }] }));
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 65536) ctrl.enqueue(bytes.subarray(i, i + 65536));
        ctrl.close();
      },
    });
    const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
  });

  it('a key over its requests-per-minute limit gets 429 with Retry-After and x-ratelimit headers', async () => {
    const limited = await stack.createKey('limited', { rpm: 2 });
    const ask = () => send({ name: 'limited', body: chat({ max_tokens: 1 }), status: 200, auth: limited });
    expect((await ask()).status).toBe(200);
    const second = await ask();
    expect(second.status).toBe(200);
    expect(second.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const before = await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generate_requests_total');
    const third = await ask();
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await third.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect(await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_generate_requests_total')).toBe(before);
  });

  it('leaves one rejected record (nothing billed) per refused completion request with a key, and counts every refusal', async () => {
    // The cases above with a valid key on a completion route, and the 429 just before; refusals
    // before the route (413, unknown route, 401) leave no record: anonymous calls must not grow the ledger.
    const completionRoute = (c: Case) => ['/v1/chat/completions', '/v1/completions'].includes(c.path ?? '/v1/chat/completions');
    const recorded = cases.filter((c) => completionRoute(c) && c.status !== 413);
    const { execFileSync } = await import('node:child_process');
    const usage = JSON.parse(execFileSync(process.execPath, ['bin/sirocco.js', 'usage', '--json', '--data', stack.dataDir]).toString()) as {
      totals: { requests: number; by_status: Record<string, number>; total_tokens: number };
    };
    expect(usage.totals.by_status.rejected).toBe(recorded.length + 1);
    const lines = (await readFile(join(stack.dataDir, 'usage.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { status: string; error: string; prompt_tokens: number; completion_tokens: number });
    const rejected = lines.filter((l) => l.status === 'rejected');
    expect(rejected.every((l) => l.prompt_tokens === 0 && l.completion_tokens === 0)).toBe(true);
    expect(rejected.find((l) => l.error.startsWith('429 rate_limit_exceeded'))).toBeDefined();
    expect(lines.find((l) => l.error.startsWith('404 model_not_found'))).toBeDefined();
    expect(lines.find((l) => l.error.startsWith('400 context_length_exceeded'))).toBeDefined();
    // The metric counts every refusal, 401s included, by reason.
    const admin = await stack.createKey('metrics-reader', { admin: true });
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    const unauthorized = metrics.split('\n').filter((l) => l.startsWith('sirocco_rejected_requests_total{') && l.includes('reason="invalid_api_key"'));
    expect(unauthorized.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)).toBe(authCases.length);
  });

  it('node routes refuse requests without the shared secret', async () => {
    for (const path of ['/internal/v1/live', '/internal/v1/ready', '/internal/v1/model', '/internal/v1/metrics']) {
      const res = await fetch(`${stack.nodes[0]!.url}${path}`);
      expect(res.status, path).toBe(401);
      const wrong = await fetch(`${stack.nodes[0]!.url}${path}`, { headers: { 'x-sirocco-node-secret': 'wrong-secret-0123456789' } });
      expect(wrong.status, path).toBe(401);
    }
    const gen = await fetch(`${stack.nodes[0]!.url}/internal/v1/generate`, { method: 'POST', body: '{}' });
    expect(gen.status).toBe(401);
  });
});
