// Structured outputs end to end (issue 9): response_format json_object and json_schema through
// the official `openai` client against the random-weight default model. Every token is masked
// by the grammar (src/node/grammar/), so whatever the model's weights, the output parses and
// validates: asserted at several seeds and temperatures, whole and streamed.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY, expectCity } from './helpers/city_schema.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('structured'), maxRetries: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

const messages = [{ role: 'user' as const, content: 'Describe a city as JSON.' }];

const schemaFormat = { type: 'json_schema', json_schema: { name: 'city', schema: CITY, strict: true } } as const;

describe('response_format', () => {
  it.each([
    { seed: 1, temperature: 0 },
    { seed: 2, temperature: 0.8 },
    { seed: 3, temperature: 1.5 },
  ])('json_schema: the output validates (seed $seed, temperature $temperature)', async ({ seed, temperature }) => {
    const res = await client.chat.completions.create({ model: stack.modelId, messages, response_format: schemaFormat, seed, temperature, max_tokens: 400 });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expectCity(res.choices[0]!.message.content!);
  });

  it('json_schema streamed: the deltas join into a valid document', async () => {
    const stream = await client.chat.completions.create({ model: stack.modelId, messages, response_format: schemaFormat, seed: 4, temperature: 1, max_tokens: 400, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('stop');
    expectCity(text);
  });

  it('json_object: the output is one JSON object (or cut by max_tokens)', async () => {
    for (const seed of [5, 6]) {
      const res = await client.chat.completions.create({ model: stack.modelId, messages, response_format: { type: 'json_object' }, seed, temperature: 1, max_tokens: 300 });
      const { content } = res.choices[0]!.message;
      if (res.choices[0]!.finish_reason === 'stop') expect(typeof JSON.parse(content!)).toBe('object');
      else expect(content!.trimStart().startsWith('{')).toBe(true);
    }
  });

  it('a logit_bias cannot push a token the grammar forbids', async () => {
    // +100 on "hello"-like tokens everywhere: the document still validates.
    const bias = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [String(1000 + i), 100]));
    const res = await client.chat.completions.create({ model: stack.modelId, messages, response_format: schemaFormat, seed: 7, max_tokens: 400, logit_bias: bias });
    expectCity(res.choices[0]!.message.content!);
  });

  it('an unsupported keyword or combination is a 400 naming it', async () => {
    const bad = async (body: object) => {
      try {
        await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 5, ...body } as never);
        return 'accepted';
      } catch (err) {
        const e = err as { status: number; error?: { message: string; param: string | null } };
        return `${e.status} ${e.error?.param}: ${e.error?.message}`;
      }
    };
    const withPattern = { ...CITY, properties: { ...CITY.properties, name: { type: 'string', pattern: '^[A-Z]' } } };
    expect(await bad({ response_format: { type: 'json_schema', json_schema: { name: 'c', schema: withPattern } } })).toMatch(
      /^400 response_format\.json_schema\.schema\.properties\.name\.pattern: .*pattern/,
    );
    expect(await bad({ response_format: { type: 'json_xml' } })).toMatch(/^400 response_format/);
    expect(await bad({ response_format: schemaFormat, ignore_eos: true })).toMatch(/^400 ignore_eos: ignore_eos cannot be combined with a JSON response_format/);
    expect(await bad({ response_format: { type: 'text' } })).toBe('accepted');
  });
});
