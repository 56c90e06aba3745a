// What clients other than a bare OpenAI call send: fields the gateway does not know (ignored
// and logged by name once per key; a 400 with --strict-params), Mistral's random_seed and
// safe_prompt, and model cards on /v1/models and /v1/models/{id} that OpenAI's and Mistral's
// SDKs can type.
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISTRAL_SAFE_PROMPT } from '../src/gateway/request_plan.ts';
import { startSirocco, type Server } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const STRICT_KEY = 'sk-strict-gateway-test-key-0123456789';

let stack: Stack;
let client: OpenAI;
let other: OpenAI;
let strict: Server;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('params'), maxRetries: 0 });
  other = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('params-other'), maxRetries: 0 });
  strict = await startSirocco(
    ['gateway', '--nodes', stack.nodes[0]!.url, '--port', '0', '--data', join(stack.models.root, 'strict'), '--health-interval-ms', '200', '--strict-params'],
    { SIROCCO_API_KEY: STRICT_KEY },
  );
  for (let i = 0; i < 100 && !((await (await fetch(`${strict.url}/health`)).json()) as { models: string[] }).models.length; i++)
    await new Promise((r) => setTimeout(r, 100));
}, 120_000);
afterAll(async () => {
  await strict?.stop();
  await stack?.stop();
});

const messages = [{ role: 'user' as const, content: 'Where does the mistral blow?' }];

type Answer = {
  choices: { message: { content: string } }[];
  usage: { prompt_tokens: number };
  error: { message: string; type: string; param: string | null; code: string | null };
};

async function post(base: string, key: string, body: object, path = '/v1/chat/completions') {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: stack.modelId, max_tokens: 8, temperature: 0, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

// Fields the AI SDK, OpenAI's newer clients and Mistral's send that Sirocco does not implement.
const unknownFields = { verbosity: 'low', prompt_cache_key: 'SECRET-cache-key-value', service_tier: 'auto' };

describe('unknown fields', () => {
  it('are ignored: 200 and the same output as without them', async () => {
    const plain = await post(stack.gateway.url, client.apiKey, { messages });
    const extra = await post(stack.gateway.url, client.apiKey, { messages, ...unknownFields });
    expect(extra.status).toBe(200);
    expect(extra.body.choices[0]!.message.content).toBe(plain.body.choices[0]!.message.content);
    // Nested unknown fields too, and on /v1/completions (where safe_prompt is not a field).
    const nested = await post(stack.gateway.url, client.apiKey, { messages, stream_options: { include_usage: true, include_obfuscation: false } });
    expect(nested.status).toBe(200);
    const completion = await post(stack.gateway.url, client.apiKey, { prompt: 'The wind', safe_prompt: true }, '/v1/completions');
    expect(completion.status).toBe(200);
    // Inside a member of a union (content: string | parts[]).
    const part = { type: 'text', text: 'Where does the mistral blow?', cache_control: { type: 'ephemeral' } };
    const parts = await post(stack.gateway.url, client.apiKey, { messages: [{ role: 'user', content: [part] }] });
    expect(parts.status).toBe(200);
    expect(parts.body.choices[0]!.message.content).toBe(plain.body.choices[0]!.message.content);
  });

  it('are logged by name, once per API key, never with their value', async () => {
    for (const c of [client, client, other])
      expect((await post(stack.gateway.url, c.apiKey, { messages, verbosity: 'SECRET-verbosity-value' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // stderr lines arrive asynchronously
    const ignored = stack.gateway.stderr.map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l.msg === 'ignored unknown request field');
    const verbosity = ignored.filter((l) => l.field === 'verbosity');
    expect(verbosity).toHaveLength(2); // one per key
    expect(new Set(verbosity.map((l) => l.key_id)).size).toBe(2);
    expect(ignored.map((l) => l.field)).toEqual(expect.arrayContaining(['prompt_cache_key', 'service_tier', 'stream_options.include_obfuscation', 'safe_prompt', 'messages[].content[].cache_control']));
    expect(stack.gateway.stderr.join('\n')).not.toMatch(/SECRET-/);
  });

  it('wrong types of known fields are still refused', async () => {
    const r = await post(stack.gateway.url, client.apiKey, { messages, verbosity: 'low', temperature: 'warm' });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('temperature');
  });

  it('--strict-params refuses them with a 400 naming the field', async () => {
    const ok = await post(strict.url, STRICT_KEY, { messages });
    expect(ok.status).toBe(200);
    const top = await post(strict.url, STRICT_KEY, { messages, verbosity: 'low' });
    expect(top.status).toBe(400);
    expect(top.body.error).toMatchObject({ type: 'invalid_request_error', param: 'verbosity', message: 'Unrecognized request argument supplied: verbosity' });
    const nested = await post(strict.url, STRICT_KEY, { messages, stream_options: { include_obfuscation: false } });
    expect(nested.status).toBe(400);
    expect(nested.body.error.param).toBe('stream_options.include_obfuscation');
  });
});

describe('Mistral fields', () => {
  it('random_seed is seed', async () => {
    const ask = (seed: object) => post(stack.gateway.url, client.apiKey, { messages, temperature: 1, max_tokens: 16, ...seed });
    const [a, b, c] = [await ask({ seed: 11 }), await ask({ random_seed: 11 }), await ask({ random_seed: 12 })];
    expect(b.body.choices[0]!.message.content).toBe(a.body.choices[0]!.message.content);
    expect(c.body.choices[0]!.message.content).not.toBe(a.body.choices[0]!.message.content);
  });

  it('safe_prompt puts Mistral\'s guardrail first in the system prompt', async () => {
    const safe = await post(stack.gateway.url, client.apiKey, { messages, safe_prompt: true });
    const explicit = await post(stack.gateway.url, client.apiKey, { messages: [{ role: 'system', content: MISTRAL_SAFE_PROMPT }, ...messages] });
    const plain = await post(stack.gateway.url, client.apiKey, { messages });
    expect(safe.body.usage.prompt_tokens).toBe(explicit.body.usage.prompt_tokens);
    expect(safe.body.usage.prompt_tokens).toBeGreaterThan(plain.body.usage.prompt_tokens + 30);
    expect(safe.body.choices[0]!.message.content).toBe(explicit.body.choices[0]!.message.content);
    const withSystem = await post(stack.gateway.url, client.apiKey, { messages: [{ role: 'system', content: 'Be brief.' }, ...messages], safe_prompt: true });
    const merged = await post(stack.gateway.url, client.apiKey, { messages: [{ role: 'system', content: `${MISTRAL_SAFE_PROMPT}\n\nBe brief.` }, ...messages] });
    expect(withSystem.body.usage.prompt_tokens).toBe(merged.body.usage.prompt_tokens);
    expect(withSystem.body.choices[0]!.message.content).toBe(merged.body.choices[0]!.message.content);
  });
});

describe('models', () => {
  // What @mistralai/mistralai's BaseModelCard requires to parse a model.
  const expectMistralCard = (m: Record<string, unknown>) =>
    expect(m).toMatchObject({
      id: 'sirocco-test',
      object: 'model',
      owned_by: 'sirocco',
      type: 'base',
      max_context_length: 4096,
      capabilities: { completion_chat: true, completion_fim: false, function_calling: true, fine_tuning: false, vision: false },
    });

  it('/v1/models lists model cards', async () => {
    const list = await client.models.list();
    expect(list.data).toHaveLength(1);
    expectMistralCard(list.data[0] as unknown as Record<string, unknown>);
  });

  it('/v1/models/{id} answers the card, or a 404 OpenAI error for an unknown id', async () => {
    expectMistralCard((await client.models.retrieve('sirocco-test')) as unknown as Record<string, unknown>);
    const err = await client.models.retrieve('mistral-huge').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    const slashed = await fetch(`${stack.gateway.url}/v1/models/org/name`, { headers: { authorization: `Bearer ${client.apiKey}` } });
    expect(slashed.status).toBe(404);
    expect(((await slashed.json()) as { error: { message: string } }).error.message).toMatch(/'org\/name' does not exist/);
  });
});
