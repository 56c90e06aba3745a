// /tokenize and /detokenize (vLLM's routes) and CORS for configured origins, against a real
// gateway and node: token counts equal what a chat completion bills as prompt tokens.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { WEATHER_TOOLS } from './helpers/weather_tools.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let key: string;
beforeAll(async () => {
  stack = await startStack({ gatewayArgs: ['--cors-origins', 'https://app.example'] });
  key = await stack.createKey('tokenize');
}, 120_000);
afterAll(async () => stack?.stop());

const post = (path: string, body: object, auth = true) =>
  fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });

describe('/tokenize and /detokenize', () => {
  it('a prompt tokenizes as the model tokenizer does, and detokenizes back', async () => {
    const tokenizer = await Tokenizer.load(stack.modelDir);
    const res = await post('/tokenize', { model: stack.modelId, prompt: 'Hello world!' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { count: number; tokens: number[]; max_model_len: number };
    expect(body.tokens).toEqual(tokenizer.encode('Hello world!', { addSpecialTokens: true }));
    expect(body.tokens[0]).toBe(1); // <s>
    expect(body.count).toBe(body.tokens.length);
    expect(body.max_model_len).toBeGreaterThan(0);
    const back = await post('/detokenize', { model: stack.modelId, tokens: body.tokens });
    expect(((await back.json()) as { prompt: string }).prompt).toBe('Hello world!');
  });

  it('messages count exactly the prompt tokens a chat completion bills', async () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Name a colour.' },
    ];
    const counted = (await (await post('/tokenize', { model: stack.modelId, messages })).json()) as { count: number };
    const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: key, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 2 });
    expect(counted.count).toBe(res.usage!.prompt_tokens);
    // With tools, as rendered and billed ([AVAILABLE_TOOLS] …, and [TOOL_CALLS] when forced).
    for (const tool_choice of ['auto', 'required'] as const) {
      const withTools = (await (await post('/tokenize', { model: stack.modelId, messages, tools: WEATHER_TOOLS, tool_choice })).json()) as { count: number };
      const called = await client.chat.completions.create({ model: stack.modelId, messages, tools: WEATHER_TOOLS, tool_choice, max_tokens: 1 });
      expect(withTools.count).toBe(called.usage!.prompt_tokens);
      expect(withTools.count).toBeGreaterThan(counted.count + 50);
    }
  });

  it('refuses what it cannot do with an OpenAI error naming the parameter', async () => {
    const error = async (res: Response) => `${res.status} ${((await res.json()) as { error: { param: string | null } }).error.param}`;
    expect(await error(await post('/tokenize', { model: stack.modelId, prompt: 'x' }, false))).toBe('401 null');
    expect(await error(await post('/tokenize', { model: stack.modelId }))).toBe('400 prompt');
    expect(await error(await post('/tokenize', { model: 'nope', prompt: 'x' }))).toBe('404 model');
    expect(await error(await post('/detokenize', { model: stack.modelId, tokens: [1, 10_000_000] }))).toBe('400 tokens');
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it('a configured origin gets the CORS headers, without a key for the preflight', async () => {
    const res = await preflight('https://app.example');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });

  it('another origin gets none', async () => {
    const res = await preflight('https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
