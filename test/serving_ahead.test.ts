// Decoding with the engine running each next step ahead (StepOptions.ahead), end to end: the
// node asks for it while the engine can draw every running request's next token (greedy or
// sampled, no logit rule or grammar), and nothing a client sees changes — the tokens and
// logprobs are those of the same requests decoded without it. The node's engine runs on every
// core, as by default: it runs steps ahead all the same (Engine.runsAhead).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('ahead'), maxRetries: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

const metric = (name: string) => stack.nodeMetric(stack.nodes[0]!, `sirocco_node_engine_${name}_total`);
const prompts = ['The wind over the sea', 'Count slowly from one', 'Three rivers and a lake', 'Once upon a time'];

type Extras = { top_k?: number; logit_bias?: Record<string, number>; ignore_eos?: boolean; return_tokens_as_token_ids?: boolean };
type Run = { ids: string[]; logprobs: number[] };

// A completion of `maxTokens` tokens (EOS ignored), its tokens by id and their logprobs.
async function complete(prompt: string, fields: Partial<OpenAI.CompletionCreateParamsNonStreaming> & Extras, maxTokens: number): Promise<Run> {
  const body = { model: stack.modelId, prompt, max_tokens: maxTokens, logprobs: 1, ignore_eos: true, return_tokens_as_token_ids: true, ...fields };
  const lp = (await client.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming)).choices[0]!.logprobs!;
  return { ids: lp.tokens!, logprobs: lp.token_logprobs! };
}

// A logit rule that changes no logit: the node runs no step ahead for the request.
const noAhead = { logit_bias: { '5': 0 } };
const sampling = [{ temperature: 0 }, { temperature: 0.9, seed: 7 }, { temperature: 1.2, top_p: 0.8, seed: 8 }, { temperature: 0.7, top_k: 20, seed: 9 }];

describe('steps run ahead', () => {
  it('concurrent greedy and seeded sampled requests get the tokens and logprobs they get without, most steps taken from the one run ahead', async () => {
    const before = { ahead: await metric('steps_ahead'), draws: await metric('draws_taken') };
    const want: Run[] = [];
    for (const [i, p] of prompts.entries()) want.push(await complete(p, { ...sampling[i], ...noAhead }, 20));
    expect({ ahead: await metric('steps_ahead'), draws: await metric('draws_taken') }).toEqual(before);

    const mid = { ahead: await metric('steps_ahead'), steps: await metric('steps'), draws: await metric('draws_taken') };
    const got = await Promise.all(prompts.map((p, i) => complete(p, sampling[i]!, 20)));
    expect(got).toEqual(want);
    // The three sampled requests' tokens, most of them as the engine drew them for its steps
    // ahead (the node did not draw them again).
    expect((await metric('draws_taken')) - mid.draws).toBeGreaterThanOrEqual((3 * 20) / 2);
    // Steps whose logits the engine had already computed: most of the batch's steps (not those
    // that admit a request, nor the first decode step after each prompt).
    const steps = (await metric('steps')) - mid.steps;
    expect((await metric('steps_ahead')) - mid.ahead).toBeGreaterThanOrEqual(steps / 2);
  });

  it('requests that end while another decodes leave it unchanged, and their sessions warm', async () => {
    const lengths = [3, 20, 9, 14];
    const want = await Promise.all(prompts.map((p, i) => complete(p, { temperature: 0, ...noAhead }, lengths[i]!)));
    // A long request decodes throughout (its first token streamed before the four are sent,
    // and stopped once they are done), so each of the four ends while another sequence goes on,
    // however far apart they reach the node.
    const anchor = await client.completions.create({ model: stack.modelId, prompt: prompts[3]!, max_tokens: 3000, temperature: 0, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
    await anchor[Symbol.asyncIterator]().next();
    const before = await metric('positions_taken_back');
    const got = await Promise.all(prompts.map((p, i) => complete(p, { temperature: 0 }, lengths[i]!)));
    // The step that gave each its last token had the next one run ahead unless a request waited
    // to join just then: two of the four at least had that position taken back.
    const takenBack = (await metric('positions_taken_back')) - before;
    anchor.controller.abort();
    expect(got).toEqual(want);
    expect(takenBack).toBeGreaterThanOrEqual(2);
    // The node drops the stopped anchor before the request below, which must run alone.
    for (let i = 0; i < 200 && (await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_running_requests')) > 0; i++) await new Promise((r) => setTimeout(r, 25));

    // A request alone, ending by its length: no step runs after its last token, so none is
    // taken back (nor waited for by the next request).
    const alone = { ahead: await metric('steps_ahead'), back: await metric('positions_taken_back') };
    await complete(prompts[1]!, { temperature: 0 }, 3);
    expect({ ahead: (await metric('steps_ahead')) - alone.ahead, back: (await metric('positions_taken_back')) - alone.back }).toEqual({ ahead: 2, back: 0 });

    // A session's second turn, warm after a greedy first turn, matches a cold run.
    const session = { headers: { 'x-session-id': 'ahead-1' } };
    const first = await client.completions.create({ model: stack.modelId, prompt: prompts[0]!, max_tokens: 12, temperature: 0 }, session);
    const next = `${prompts[0]}${first.choices[0]!.text} and then`;
    const warm = await client.completions.create({ model: stack.modelId, prompt: next, max_tokens: 12, temperature: 0 }, session);
    const cold = await client.completions.create({ model: stack.modelId, prompt: next, max_tokens: 12, temperature: 0 });
    expect(warm.usage!.prompt_tokens_details?.cached_tokens ?? 0).toBeGreaterThan(0);
    expect(warm.choices[0]!.text).toBe(cold.choices[0]!.text);
  });
});
